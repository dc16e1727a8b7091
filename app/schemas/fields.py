"""The constrained string, time and integer types of every request body, query and path
parameter: what may end up in Redis keys, PostgreSQL rows, logs and alerts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, StringConstraints

from features.values import IDENTIFIER_MAX, PRINTABLE, normalised_identifier, normalised_ip
from persistence.history import SCOPE, TRANSACTION_ID

# PRINTABLE is compiled by pydantic-core. normalised_ip gives an address its one spelling
# (the window keys' and the lists'), normalised_identifier an identifier its.
# An IPv6 address with an embedded IPv4 one, written out in full, is 45 characters.
IP_ADDRESS_MAX = 45
CURSOR_MAX = 256

# An identifier is stored, keyed and looked up in its one spelling (normalised_identifier:
# format characters removed, NFKC), checked as sent first so the work is bounded.
Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=IDENTIFIER_MAX, pattern=PRINTABLE),
    AfterValidator(normalised_identifier),
]
TransactionId = Annotated[str, StringConstraints(pattern=TRANSACTION_ID.pattern)]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
# The scope of a transaction id: the id of the API key that scored it ('' for decisions
# stored before scopes).
TransactionScope = Annotated[str, StringConstraints(pattern=SCOPE.pattern)]
SCOPE_DESCRIPTION = (
    "The scope of the transaction id: the id of the API key that scored it (the first 16 "
    "hex digits of its SHA-256 digest; '' for decisions stored before scopes). A "
    "transaction id is unique only within its scope."
)
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=CURSOR_MAX, pattern=PRINTABLE)]


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
