"""Key scopes from the settings' key lists, and the key id, without servers."""

from __future__ import annotations

from app.auth import digest, key_id
from app.settings import Settings

EVERY = {"score", "read", "review", "admin"}


def test_each_list_grants_its_scope_and_what_it_implies() -> None:
    settings = Settings(
        api_keys=digest("s"),
        read_api_keys=digest("r"),
        review_api_keys=digest("v") + "," + digest("s").upper(),
        admin_api_keys=digest("a"),
    )
    assert settings.key_scopes == {
        digest("s"): {"score", "review", "read"},
        digest("r"): {"read"},
        digest("v"): {"review", "read"},
        digest("a"): EVERY,
    }


def test_outside_production_a_single_key_list_holds_every_scope() -> None:
    for environment in ("development", "test"):
        settings = Settings(environment=environment, api_keys=digest("s"))
        assert settings.key_scopes == {digest("s"): EVERY}


def test_in_production_the_api_keys_only_score() -> None:
    settings = Settings(environment="production", api_keys=digest("s"))
    assert settings.key_scopes == {digest("s"): {"score"}}


def test_once_one_scoped_list_is_set_the_api_keys_only_score() -> None:
    settings = Settings(api_keys=digest("s"), read_api_keys=digest("r"))
    assert settings.key_scopes == {digest("s"): {"score"}, digest("r"): {"read"}}


def test_the_key_id_is_the_digest_prefix_and_not_the_key() -> None:
    assert key_id("fk_x") == digest("fk_x")[:16]
    assert "fk_x" not in key_id("fk_x")
