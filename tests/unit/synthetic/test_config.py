"""Generator configurations: weights merge with the defaults, bad values are refused, presets hold."""

from __future__ import annotations

import re

import pytest

from synthetic.config import (
    DEFAULT_FRAUD_MIX,
    FRAUD_SCENARIOS,
    PRESETS,
    GeneratorConfig,
    from_preset,
    parse_mix,
)


def test_the_handbook_mechanics_are_off_by_default_and_a_partial_mix_keeps_the_rest() -> None:
    assert dict(GeneratorConfig().fraud_mix) == dict(DEFAULT_FRAUD_MIX)
    assert [s for s in FRAUD_SCENARIOS if DEFAULT_FRAUD_MIX[s] == 0] == [
        "compromised_terminal",
        "compromised_card",
    ]
    cfg = GeneratorConfig(fraud_mix={"compromised_card": 2.0}, fraud_scale=0.5)
    assert cfg.weight("compromised_card") == 1.0
    assert cfg.weight("card_testing") == 0.5
    assert cfg.weight("compromised_terminal") == 0.0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"fraud_mix": {"skimming": 1.0}}, "unknown scenario(s) ['skimming']"),
        ({"fraud_mix": {"card_testing": -1.0}}, "fraud_mix['card_testing']"),
        ({"fraud_mix": {"card_testing": float("nan")}}, "fraud_mix['card_testing']"),
        ({"fraud_scale": -0.1}, "fraud_scale"),
        ({"favourite_merchants": 0}, "favourite_merchants"),
        ({"merchants": 23}, "merchants must be >= 24"),
        ({"label_delay_days": -1.0}, "label_delay_days"),
    ],
)
def test_bad_values_are_refused_naming_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        GeneratorConfig(**fields)


def test_parse_mix_reads_scenario_weight_pairs() -> None:
    assert parse_mix([]) == {}
    assert parse_mix(["card_testing=0", " low_signal = 2.5"]) == {
        "card_testing": 0.0,
        "low_signal": 2.5,
    }


@pytest.mark.parametrize("item", ["card_testing", "card_testing=", "card_testing=lots", "x=inf"])
def test_parse_mix_refuses_what_is_not_scenario_equals_a_number(item: str) -> None:
    with pytest.raises(ValueError, match="SCENARIO=WEIGHT"):
        parse_mix([item])


def test_flags_override_a_preset_and_the_mix_merges_with_its_own() -> None:
    cfg = from_preset("terminals", cards=2_000, label_delay_days=1.5, fraud_mix={"low_signal": 0})
    assert (cfg.cards, cfg.days, cfg.seed, cfg.label_delay_days) == (2_000, 60, 7, 1.5)
    assert cfg.fraud_mix["low_signal"] == 0.0
    assert cfg.fraud_mix["compromised_terminal"] == 1.0
    assert from_preset("default") == GeneratorConfig()
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        from_preset("nope")


def test_the_presets_are_the_documented_ones() -> None:
    """synthetic/config.py's docstring and docs/data.md describe these values."""
    assert PRESETS["default"] == GeneratorConfig()
    terminals, mixed = PRESETS["terminals"], PRESETS["mixed"]
    assert (terminals.cards, terminals.merchants, terminals.favourite_merchants) == (
        10_000,
        None,
        12,
    )
    assert terminals.label_delay_days == 7.0
    assert dict(terminals.fraud_mix) == {
        **dict.fromkeys(FRAUD_SCENARIOS[:6], 0.25),
        "compromised_terminal": 1.0,
        "compromised_card": 1.0,
    }
    assert (mixed.cards, mixed.merchants, mixed.favourite_merchants) == (15_000, 4_000, 20)
    assert mixed.label_delay_days == 3.0
    assert dict(mixed.fraud_mix) == {
        "card_testing": 2.0,
        "account_takeover": 1.5,
        "stolen_card": 0.5,
        "compromised_merchant": 1.0,
        "high_amount": 1.0,
        "low_signal": 1.0,
        "compromised_terminal": 0.5,
        "compromised_card": 0.5,
    }
    assert all((p.days, p.seed, p.fraud_scale) == (60, 7, 1.0) for p in PRESETS.values())
