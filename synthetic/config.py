"""What the generator draws: portfolio size, merchant loyalty, fraud mix, label delays, presets.

Every default reproduces the history the generator wrote before it had these
knobs (same seed, same file). The presets below were chosen from domain
knowledge and the public "Reproducible Machine Learning for Credit Card Fraud
Detection - Practical Handbook" (Le Borgne et al.) before any model was trained
on them; never tune them to flatter a model.

Presets (`fraud generate --preset NAME`; explicit flags override them):

- `default`: today's history. 20,000 cards, 60 days, seed 7; 12 favourite
  shops per card; merchants derived from the card count; the six original
  scenarios at weight 1, `compromised_terminal` and `compromised_card` off; no
  `label_reported_at` column.
- `terminals`: a Handbook-like history where fraud comes mostly from
  compromised terminals and compromised cards. 10,000 cards;
  `compromised_terminal` and `compromised_card` at weight 1 (the Handbook's own
  rates), the six original scenarios at 0.25; labels reported 7 days after the
  transaction on average (the usual chargeback-driven delay).
- `mixed`: every mechanic at once in other proportions. 15,000 cards in a
  denser merchant world (4,000 shops) with less loyal cardholders (20
  favourite shops); card testing 2 and account takeover 1.5 (the e-commerce
  attacks that grew fastest), stolen cards 0.5 (chip cards are hard to clone),
  the other original scenarios 1, both Handbook compromises 0.5; labels
  reported after 3 days on average (an issuer with fast alerts and disputes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType

from synthetic.world import CITIES

# Fraud scenarios the mix weighs, in the order the generator draws them.
FRAUD_SCENARIOS: tuple[str, ...] = (
    "card_testing",
    "account_takeover",
    "stolen_card",
    "compromised_merchant",
    "high_amount",
    "low_signal",
    "compromised_terminal",
    "compromised_card",
)
# The Handbook mechanics are off unless a configuration asks for them.
DEFAULT_FRAUD_MIX: Mapping[str, float] = MappingProxyType(
    {
        name: 0.0 if name in ("compromised_terminal", "compromised_card") else 1.0
        for name in FRAUD_SCENARIOS
    }
)


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """One history to generate; the same configuration always gives the same rows."""

    days: int = 60
    cards: int = 20_000
    seed: int = 7
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    # Preferred card-present shops per card; a card has half as many preferred online merchants.
    favourite_merchants: int = 12
    # Card-present shops across all cities (ATMs and online merchants come on top); None: one
    # per 11 cards of a city, at least 15 in every city.
    merchants: int | None = None
    # Weight per fraud scenario, multiplying its rate (0 turns it off); scenarios left out keep
    # their DEFAULT_FRAUD_MIX weight.
    fraud_mix: Mapping[str, float] = field(default_factory=lambda: DEFAULT_FRAUD_MIX)
    # Multiplies every fraud scenario's rate on top of its weight.
    fraud_scale: float = 1.0
    # Mean days from a fraud to its report; set, the file gets a label_reported_at column.
    label_delay_days: float | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.fraud_mix) - set(FRAUD_SCENARIOS))
        if unknown:
            raise ValueError(
                f"fraud_mix: unknown scenario(s) {unknown}; known: {', '.join(FRAUD_SCENARIOS)}"
            )
        for name, weight in self.fraud_mix.items():
            if not (math.isfinite(weight) and weight >= 0):
                raise ValueError(f"fraud_mix[{name!r}] must be a finite number >= 0, not {weight}")
        if not (math.isfinite(self.fraud_scale) and self.fraud_scale >= 0):
            raise ValueError(f"fraud_scale must be a finite number >= 0, not {self.fraud_scale}")
        if self.favourite_merchants < 1:
            raise ValueError(f"favourite_merchants must be >= 1, not {self.favourite_merchants}")
        if self.merchants is not None and self.merchants < len(CITIES):
            raise ValueError(
                f"merchants must be >= {len(CITIES)} (one shop per city), not {self.merchants}"
            )
        delay = self.label_delay_days
        if delay is not None and not (math.isfinite(delay) and delay >= 0):
            raise ValueError(f"label_delay_days must be a finite number >= 0, not {delay}")
        mix = MappingProxyType({**DEFAULT_FRAUD_MIX, **self.fraud_mix})
        object.__setattr__(self, "fraud_mix", mix)

    def weight(self, scenario: str) -> float:
        """How much of a scenario to draw, relative to its base rate."""
        return self.fraud_mix[scenario] * self.fraud_scale


PRESETS: Mapping[str, GeneratorConfig] = MappingProxyType(
    {
        "default": GeneratorConfig(),
        "terminals": GeneratorConfig(
            cards=10_000,
            fraud_mix={
                "card_testing": 0.25,
                "account_takeover": 0.25,
                "stolen_card": 0.25,
                "compromised_merchant": 0.25,
                "high_amount": 0.25,
                "low_signal": 0.25,
                "compromised_terminal": 1.0,
                "compromised_card": 1.0,
            },
            label_delay_days=7.0,
        ),
        "mixed": GeneratorConfig(
            cards=15_000,
            merchants=4_000,
            favourite_merchants=20,
            fraud_mix={
                "card_testing": 2.0,
                "account_takeover": 1.5,
                "stolen_card": 0.5,
                "compromised_merchant": 1.0,
                "high_amount": 1.0,
                "low_signal": 1.0,
                "compromised_terminal": 0.5,
                "compromised_card": 0.5,
            },
            label_delay_days=3.0,
        ),
    }
)


def parse_mix(items: Sequence[str]) -> dict[str, float]:
    """`SCENARIO=WEIGHT` strings (the --mix flag) as weights; GeneratorConfig checks the names."""
    weights: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        try:
            weight = float(text)
        except ValueError:
            weight = math.nan
        if not sep or not math.isfinite(weight):
            raise ValueError(f"--mix {item!r}: expected SCENARIO=WEIGHT with a number as WEIGHT")
        weights[name.strip()] = weight
    return weights


def from_preset(
    preset: str = "default",
    *,
    days: int | None = None,
    cards: int | None = None,
    seed: int | None = None,
    merchants: int | None = None,
    favourite_merchants: int | None = None,
    fraud_mix: Mapping[str, float] | None = None,
    fraud_scale: float | None = None,
    label_delay_days: float | None = None,
) -> GeneratorConfig:
    """A preset with the given fields replaced (None keeps the preset's); fraud_mix is merged."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    base = PRESETS[preset]
    return replace(
        base,
        days=base.days if days is None else days,
        cards=base.cards if cards is None else cards,
        seed=base.seed if seed is None else seed,
        merchants=base.merchants if merchants is None else merchants,
        favourite_merchants=(
            base.favourite_merchants if favourite_merchants is None else favourite_merchants
        ),
        fraud_mix={**base.fraud_mix, **(fraud_mix or {})},
        fraud_scale=base.fraud_scale if fraud_scale is None else fraud_scale,
        label_delay_days=base.label_delay_days if label_delay_days is None else label_delay_days,
    )
