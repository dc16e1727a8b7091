"""How entity values are spelled wherever they meet: the request schema validates them with
these rules (app/schemas/fields.py), the window keys and the lists store them (pure: no
pydantic, so the core can use them)."""

from __future__ import annotations

import ipaddress

# Printable text: no C0 or C1 control character, NUL and DEL included.
PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]+$"
IDENTIFIER_MAX = 128


def normalised_ip(value: str) -> str:
    """The address in one spelling, so one host is one window key: compressed, lower-case
    IPv6; an IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports for
    an IPv4 client) as its IPv4 address. Scope ids (fe80::1%eth0) name an interface of the
    sender's own machine, mean nothing here, and are refused."""
    if "%" in value:
        raise ValueError("IPv6 scope ids (%...) are not accepted")
    address = ipaddress.ip_address(value)  # ValueError: not an IPv4 or IPv6 address
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.compressed
    return address.compressed
