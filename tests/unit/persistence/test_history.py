"""Which stored transaction a look-up by id means: the scopes a caller sees, and the one
it names or the only one that holds the id."""

from __future__ import annotations

import pytest

from app.auth import Caller
from persistence.history import AmbiguousTransaction, Visibility

HELD = ["", "k_a", "k_b"]  # '' holds decisions stored before scopes


def test_a_caller_that_sees_every_scope_must_name_one_when_several_hold_the_id() -> None:
    every = Visibility()
    with pytest.raises(AmbiguousTransaction) as raised:
        every.pick(None, HELD)
    assert raised.value.scopes == ("", "k_a", "k_b")
    assert every.pick("k_b", HELD) == "k_b"
    assert every.pick("", HELD) == ""
    assert every.pick("k_c", HELD) is None
    assert every.pick(None, ["k_b"]) == "k_b"
    assert every.pick(None, []) is None


def test_a_caller_limited_to_its_own_scope_sees_only_that_one() -> None:
    own = Visibility("k_a")
    assert own.pick(None, HELD) == "k_a"
    assert own.pick("k_a", HELD) == "k_a"
    assert own.pick("k_b", HELD) is None
    assert own.pick(None, ["k_b"]) is None


def test_only_a_key_that_scores_without_admin_is_limited_to_its_own_scope() -> None:
    assert Caller("k_gw", frozenset({"score", "read"})).sees == Visibility("k_gw")
    assert Caller("k_gw", frozenset({"score"})).sees == Visibility("k_gw")
    for scopes in ({"read"}, {"review", "read"}, {"score", "read", "review", "admin"}):
        assert Caller("k", frozenset(scopes)).sees == Visibility(None)  # type: ignore[arg-type]


def test_the_ambiguity_names_every_scope() -> None:
    message = str(AmbiguousTransaction("tx_1", ["k_a", "k_b"]))
    assert "'tx_1'" in message
    assert "'k_a', 'k_b'" in message
