"""The constrained string, time and integer types of every request body, query and path
parameter: what may end up in Redis keys, PostgreSQL rows, logs and alerts."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, StringConstraints

from persistence.history import TRANSACTION_ID

# Printable text: no C0 or C1 control character, NUL and DEL included (compiled by
# pydantic-core: no Python runs per value).
PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]+$"
IDENTIFIER_MAX = 128
# An IPv6 address with an embedded IPv4 one, written out in full, is 45 characters.
IP_ADDRESS_MAX = 45
CURSOR_MAX = 256

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=IDENTIFIER_MAX, pattern=PRINTABLE)
]
TransactionId = Annotated[str, StringConstraints(pattern=TRANSACTION_ID.pattern)]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=CURSOR_MAX, pattern=PRINTABLE)]


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


IpAddress = Annotated[
    str, StringConstraints(max_length=IP_ADDRESS_MAX), AfterValidator(normalised_ip)
]

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


def _rfc3339_text(value: object) -> object:
    # Without this, pydantic also reads Unix times (1795863600, "1795863600") and dates
    # without an offset or seconds.
    if not isinstance(value, str) or _RFC3339.fullmatch(value) is None:
        raise ValueError(
            "must be an RFC 3339 date-time with seconds and an offset, "
            "e.g. 2026-11-28T12:00:00+01:00"
        )
    return value


# Every UTC offset in use is within ±14:00 (Kiribati's +14:00, and its mirror).
MAX_UTC_OFFSET = timedelta(hours=14)


def _utc_representable(value: datetime) -> datetime:
    # 0001-01-01T00:00:00+23:59 and 9999-12-31T23:59:59-23:59 parse, but fall outside the
    # years 1-9999 in UTC: PostgreSQL and every comparison need them there.
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        raise ValueError("the UTC offset must be within -14:00 and +14:00")
    if value.year in (1, 9999):
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range once converted to UTC") from None
    return value


Rfc3339 = Annotated[
    AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_utc_representable)
]


def _decimal_digits(value: object) -> object:
    # pydantic's lax integers also take "1_0", "5.0", " 5" and "５".
    if isinstance(value, str) and not (value.isascii() and value.isdigit() and len(value) <= 9):
        raise ValueError("must be plain decimal digits")
    return value


DecimalInt = Annotated[int, BeforeValidator(_decimal_digits)]
