"""Allow / block / review lists, the pure part: what a list value is, and its Redis format,
written down once (pinned to the exact bytes by tests/unit/controls/test_lists.py).

Redis (prefix from settings):

    {prefix}:{list}         hash: what the window script looks up, field -> entries
                          "id action expires_ms" back to back, space-separated
                          (expires_ms 0: never). Fields: "{entity}:{value}" for an exact
                          value (an IP address as the request path normalises it), and
                          "net:{family}:{hex}/{length}" for an IP range: family 4 or 6,
                          hex the address's first ceil(length / 4) hexadecimal digits,
                          masked to `length` bits (10.1.128.0/17 -> "net:4:0a018/17").
    {prefix}:{list}:lengths hash: "{family}/{length}" -> how many range entries use it;
                          the script checks one masked network per length in use.
    {prefix}:{list}:sum     the checksum of the entries Redis was given: the sum, modulo
                          2^48, of each not-deleted entry's `entry_hash` (expired ones
                          included: the clean-up removes them without changing it).

PostgreSQL holds the record (persistence/lists.py); the same checksum over its not-deleted
rows tells each API process when Redis missed a change (app/list_sync.py).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import blake2b

# The request's own rules: a listed value matches exactly what the request path stores.
from features.values import IDENTIFIER_MAX, PRINTABLE, normalised_identifier, normalised_ip

CHECKSUM_MODULUS = 2**48  # exact as a Lua number (a double): sums stay below 2^53
_PRINTABLE = re.compile(PRINTABLE)
IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def list_key(prefix: str) -> str:
    return f"{prefix}:{{list}}"


def lengths_key(prefix: str) -> str:
    return f"{prefix}:{{list}}:lengths"


def checksum_key(prefix: str) -> str:
    return f"{prefix}:{{list}}:sum"


class BadListValue(ValueError):
    """A value that cannot be listed for its entity (the message says why)."""


class RangeTooWide(BadListValue):
    """An IP range wider than the settings allow (check_range_width)."""


@dataclass(frozen=True, slots=True)
class ListValue:
    """A value as it is stored and matched: `text` for people and PostgreSQL, `field` for
    the Redis hash, and for an IP range the "{family}/{length}" it adds to the lengths."""

    text: str
    field: str
    length_tag: str = ""


def list_value(entity: str, value: str) -> ListValue:
    """The one spelling of `value` for `entity`: card, account, device and merchant values
    normalised as the request's fields are (features.values.normalised_identifier: they
    match the request's field exactly once both are); an IP address normalised as the
    request path does (features.values.normalised_ip); an IP range in CIDR notation
    (IPv4 or IPv6, no host bits set; a full-length one is its address; an IPv4-mapped
    IPv6 range is its IPv4 range, since requests' mapped addresses are read as IPv4)."""
    if len(value) > IDENTIFIER_MAX or _PRINTABLE.fullmatch(value) is None:
        raise BadListValue(f"must be 1-{IDENTIFIER_MAX} printable characters")
    if entity != "ip":
        try:
            text = normalised_identifier(value)
        except ValueError as exc:
            raise BadListValue(str(exc)) from None
        return ListValue(text, exact_field(entity, text))
    if "/" not in value:
        try:
            address = normalised_ip(value)
        except ValueError as exc:
            raise BadListValue(f"not an IP address or CIDR range: {exc}") from None
        return ListValue(address, exact_field("ip", address))
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise BadListValue(f"not a CIDR range: {exc}") from None
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(IPV4_MAPPED):
        mapped = network.network_address.ipv4_mapped
        assert mapped is not None
        network = ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    if network.prefixlen == network.max_prefixlen:
        address = network.network_address.compressed
        return ListValue(address, exact_field("ip", address))
    family = network.version
    masked = masked_hex(network.network_address.packed.hex(), network.prefixlen)
    return ListValue(
        network.compressed,
        f"net:{family}:{masked}/{network.prefixlen}",
        f"{family}/{network.prefixlen}",
    )


def check_range_width(listed: ListValue, min_ipv4_prefix: int, min_ipv6_prefix: int) -> None:
    """RangeTooWide for an IP range wider than its family's minimum prefix length (the
    settings FRAUD_LIST_MIN_IPV4_PREFIX / FRAUD_LIST_MIN_IPV6_PREFIX): 0.0.0.0/0 or ::/0
    would decide for every client of a family. Checked when an entry is added; an entry
    listed before a bound was raised still applies."""
    if not listed.length_tag:
        return
    family, length = (int(part) for part in listed.length_tag.split("/"))
    least, setting = (
        (min_ipv4_prefix, "FRAUD_LIST_MIN_IPV4_PREFIX")
        if family == 4
        else (min_ipv6_prefix, "FRAUD_LIST_MIN_IPV6_PREFIX")
    )
    if length < least:
        raise RangeTooWide(
            f"the IPv{family} range {listed.text} is wider than /{least} ({setting}): "
            "list narrower ranges"
        )


def exact_field(entity: str, value: str) -> str:
    """The field of an exact value (a request's, or a listed one)."""
    return f"{entity}:{value}"


def masked_hex(hex_address: str, length: int) -> str:
    """The first ceil(length / 4) hex digits of an address, the last masked to the bits
    left: what the window script computes for each length in use (the same arithmetic)."""
    whole, bits = divmod(length, 4)
    head = hex_address[:whole]
    if bits:
        nibble = int(hex_address[whole], 16)
        head += format(nibble - nibble % 2 ** (4 - bits), "x")
    return head


def address_hex(ip: str | None) -> str:
    """A request's (normalised) IP address as the script reads it for range look-ups: its
    bytes in hex, 8 digits for IPv4, 32 for IPv6; "" without one."""
    return ipaddress.ip_address(ip).packed.hex() if ip else ""


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def expires_ms(expires_at: datetime | None) -> int:
    """Epoch milliseconds (0: never), in integers: the same for every reader of the row."""
    return 0 if expires_at is None else (expires_at - EPOCH) // timedelta(milliseconds=1)


def redis_entry(entry_id: int, action: str, expires: int) -> str:
    """One entry as a field's value holds it (entries are joined by a space)."""
    return f"{entry_id} {action} {expires}"


def parse_entries(value: bytes | str) -> list[tuple[int, str, int]]:
    """A field's entries as (id, action, expires_ms)."""
    tokens = (value.decode() if isinstance(value, bytes) else value).split()
    return [(int(tokens[i]), tokens[i + 1], int(tokens[i + 2])) for i in range(0, len(tokens), 3)]


def entry_hash(entry_id: int, field: str, action: str, expires: int) -> int:
    """An entry's share of the checksum: 48 bits of BLAKE2b of what Redis holds of it."""
    text = f"{entry_id} {field} {action} {expires}".encode()
    return int.from_bytes(blake2b(text, digest_size=6).digest(), "big")


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One list entry as PostgreSQL records it (value in its one spelling, list_value)."""

    id: int
    entity: str  # vocabulary.ENTITIES
    value: str
    action: str  # vocabulary.LIST_ACTIONS
    reason: str
    expires_at: datetime | None
    created_at: datetime
    created_by: str | None  # the API key's id (app.auth.key_id)
    deleted_at: datetime | None = None
    deleted_by: str | None = None

    @property
    def listed(self) -> ListValue:
        return list_value(self.entity, self.value)

    @property
    def expires(self) -> int:
        return expires_ms(self.expires_at)

    @property
    def checksum(self) -> int:
        return entry_hash(self.id, self.listed.field, self.action, self.expires)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "entity": self.entity,
            "value": self.value,
            "action": self.action,
            "reason": self.reason,
            "expires_at": self.expires_at,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "deleted_at": self.deleted_at,
            "deleted_by": self.deleted_by,
        }
