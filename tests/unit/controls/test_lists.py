"""The lists' pure part: value spelling, CIDR encoding and the Redis formats, to the byte."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest

from controls.lists import (
    BadListValue,
    ListEntry,
    RangeTooWide,
    address_hex,
    check_range_width,
    checksum_key,
    entry_hash,
    expires_ms,
    lengths_key,
    list_key,
    list_value,
    masked_hex,
    parse_entries,
    redis_entry,
)


def test_keys_and_entry_format() -> None:
    assert (list_key("fe"), lengths_key("fe"), checksum_key("fe")) == (
        "fe:{list}",
        "fe:{list}:lengths",
        "fe:{list}:sum",
    )
    assert redis_entry(17, "block", 0) == "17 block 0"
    assert parse_entries(b"17 block 0 18 allow 1795863600000") == [
        (17, "block", 0),
        (18, "allow", 1795863600000),
    ]


@pytest.mark.parametrize(
    ("entity", "value", "text", "field", "tag"),
    [
        ("card", "card_tok_8f3a", "card_tok_8f3a", "card:card_tok_8f3a", ""),
        ("merchant", "m:1 x", "m:1 x", "merchant:m:1 x", ""),
        ("ip", "203.0.113.7", "203.0.113.7", "ip:203.0.113.7", ""),
        ("ip", "2001:DB8:0:0::1", "2001:db8::1", "ip:2001:db8::1", ""),
        ("ip", "::ffff:203.0.113.7", "203.0.113.7", "ip:203.0.113.7", ""),
        ("ip", "203.0.113.7/32", "203.0.113.7", "ip:203.0.113.7", ""),
        ("ip", "10.0.0.0/8", "10.0.0.0/8", "net:4:0a/8", "4/8"),
        ("ip", "10.1.128.0/17", "10.1.128.0/17", "net:4:0a018/17", "4/17"),
        ("ip", "0.0.0.0/0", "0.0.0.0/0", "net:4:/0", "4/0"),
        ("ip", "2001:DB8::/32", "2001:db8::/32", "net:6:20010db8/32", "6/32"),
        ("ip", "2001:db8:8000::/33", "2001:db8:8000::/33", "net:6:20010db88/33", "6/33"),
        ("ip", "::ffff:10.0.0.0/104", "10.0.0.0/8", "net:4:0a/8", "4/8"),
    ],
)
def test_list_values(entity: str, value: str, text: str, field: str, tag: str) -> None:
    listed = list_value(entity, value)
    assert (listed.text, listed.field, listed.length_tag) == (text, field, tag)


@pytest.mark.parametrize(
    ("entity", "value", "message"),
    [
        ("card", "", "printable"),
        ("card", "a\nb", "printable"),
        ("card", "x" * 129, "printable"),
        ("ip", "10.0.0.300", "not an IP address"),
        ("ip", "fe80::1%eth0", "scope ids"),
        ("ip", "10.0.0.1/8", "host bits"),
        ("ip", "10.0.0.0/33", "CIDR"),
        ("ip", "card_tok/8", "CIDR"),
    ],
)
def test_refused_values(entity: str, value: str, message: str) -> None:
    with pytest.raises(BadListValue, match=message):
        list_value(entity, value)


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        ("0.0.0.0/0", True),
        ("8.0.0.0/7", True),
        ("10.0.0.0/8", False),
        ("::ffff:0:0/96", True),  # every mapped IPv4 address: an IPv4 /0
        ("::ffff:10.0.0.0/104", False),  # an IPv4 /8
        ("::/0", True),
        ("2000::/15", True),
        ("2001::/16", False),
        ("card_x", False),  # not a range: nothing to bound
        ("10.1.2.3", False),
    ],
)
def test_ranges_wider_than_the_minimum_prefix_are_refused(value: str, refused: bool) -> None:
    listed = list_value("ip" if value[0].isdigit() or ":" in value else "card", value)
    if refused:
        with pytest.raises(RangeTooWide, match=r"FRAUD_LIST_MIN_IPV[46]_PREFIX"):
            check_range_width(listed, 8, 16)
    else:
        check_range_width(listed, 8, 16)


def test_masking_agrees_with_ipaddress_for_every_length() -> None:
    """What the script computes from a request's address equals the field of every range
    that holds it, and of no range that does not."""
    for address in ("203.0.113.77", "2001:db8:abcd:1234::9"):
        ip = ipaddress.ip_address(address)
        for length in range(ip.max_prefixlen):
            network = ipaddress.ip_network(f"{address}/{length}", strict=False)
            field = list_value("ip", network.compressed).field
            assert field == f"net:{ip.version}:{masked_hex(address_hex(address), length)}/{length}"
            if length:  # the next range of that length holds the address with its last bit flipped
                flipped = type(ip)(int(ip) ^ (1 << (ip.max_prefixlen - length)))
                assert masked_hex(address_hex(str(flipped)), length) != field[6:].split("/")[0]


def test_address_hex() -> None:
    assert address_hex("10.0.0.1") == "0a000001"
    assert address_hex("2001:db8::1") == "20010db8000000000000000000000001"
    assert address_hex(None) == ""


def test_expiry_and_checksum_share() -> None:
    at = datetime(2026, 12, 2, 9, 0, 0, 999_999, tzinfo=UTC)
    assert expires_ms(at) == 1796202000999
    assert expires_ms(None) == 0
    entry = ListEntry(17, "card", "c1", "block", "r", at, at, "k")
    assert entry.checksum == entry_hash(17, "card:c1", "block", 1796202000999)
    assert entry_hash(17, "card:c1", "block", 0) == 0x01038279746C  # 48 bits of BLAKE2b, pinned
