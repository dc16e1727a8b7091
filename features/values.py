"""How entity values are spelled wherever they meet: the request schema validates them with
these rules (app/schemas/fields.py), the window keys and the lists store them, and rules
compare with them (pure: no pydantic, so the core can use them)."""

from __future__ import annotations

import ipaddress
import unicodedata

# Printable text: no C0 or C1 control character, NUL and DEL included.
PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]+$"
IDENTIFIER_MAX = 128


def normalised_text(value: str) -> str:
    """The one spelling of a text that systems encode in several ways: format characters
    (Unicode category Cf: zero-width spaces and joiners, bidirectional marks, soft hyphens,
    byte order marks...) removed, then NFKC (accents composed; compatibility forms such as
    fullwidth letters, ligatures and superscripts as their plain characters). Removed
    first, so a format character cannot keep an accent from composing. NFKC never yields
    a format or control character, so the result is its own normal form. ASCII is
    already in it (the common case: no work)."""
    if value.isascii():
        return value
    kept = "".join(c for c in value if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", kept)


def normalised_identifier(value: str) -> str:
    """An entity's identifier (card, account, merchant, device) in its one spelling
    (normalised_text), so a list entry, a rule's literal, a window key and a history
    look-up meet whatever spelling a request used. ValueError unless it still holds
    1-IDENTIFIER_MAX characters (only format characters; an expansion such as U+FDFA)."""
    text = normalised_text(value)
    if not 1 <= len(text) <= IDENTIFIER_MAX:
        raise ValueError(
            f"must hold 1-{IDENTIFIER_MAX} characters once normalised (format characters "
            "removed, then NFKC)"
        )
    return text


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
