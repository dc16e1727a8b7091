"""Repeated JSON keys: the cheap count that lets ordinary bodies skip the second parse,
and the second parse that names the repeat."""

from __future__ import annotations

import orjson
import pytest
from fastapi.exceptions import RequestValidationError

from app.bodies import _KEY_END, refuse_repeated_keys
from app.schemas.score import EXAMPLE


@pytest.mark.parametrize("option", [0, orjson.OPT_INDENT_2])
def test_an_ordinary_body_counts_one_key_end_per_field(option: int) -> None:
    # Equal counts: parse_body does no second parse for it.
    assert len(_KEY_END.findall(orjson.dumps(EXAMPLE, option=option))) == len(EXAMPLE)


def test_key_ends_are_counted_across_white_space() -> None:
    assert len(_KEY_END.findall(b'{"a" :1, "b"\n\t:2, "c":"x:y"}')) == 3


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"a":1,"a":1}', "a"),
        (b'{"a":1,"b":{"c":1,"c":2}}', "c"),
        (b'[{"x":1},{"y":1,"y":2}]', "y"),
    ],
)
def test_a_repeated_key_at_any_depth_is_named(body: bytes, key: str) -> None:
    with pytest.raises(RequestValidationError) as caught:
        refuse_repeated_keys(body)
    assert caught.value.errors() == [
        {"loc": ("body", key), "msg": "the key appears more than once", "type": "duplicate_key"}
    ]


@pytest.mark.parametrize("body", [b'{"a":1,"b":{"a":2}}', b'{"a":"\\":"}', b'[{"a":1},{"a":2}]'])
def test_the_same_key_in_different_objects_is_not_a_repeat(body: bytes) -> None:
    refuse_repeated_keys(body)
