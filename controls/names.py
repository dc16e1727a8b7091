"""The names a rule condition may use, and the type of each: the request fields, the
feature catalogue, the score, the risk tier and the model components."""

from __future__ import annotations

from features.definitions import FEATURE_NAMES

NUMBER = "number"
STRING = "string"
BOOLEAN = "boolean"
TIER = "tier"  # a string whose order is the tiers' (vocabulary.TIERS)

# Request fields of API contract v1 a rule can read (the transaction id and timestamp are
# not conditions: every transaction has a different one).
NUMBER_FIELDS: tuple[str, ...] = ("amount", "latitude", "longitude")
STRING_FIELDS: tuple[str, ...] = (
    "currency",
    "channel",
    "merchant_category",
    "merchant_country",
    "card_id",
    "account_id",
    "merchant_id",
    "device_id",
    "ip_address",
)
FIELDS: tuple[str, ...] = NUMBER_FIELDS + STRING_FIELDS
MODEL_NAMES: tuple[str, ...] = ("score", "xgboost", "isolation_forest")
RISK_TIER = "risk_tier"

# `amount` is both a field and a feature (the same value): read from the request, in double
# precision, so `amount >= 100.1` holds for 100.1 (the matrix holds float32).
FEATURES: frozenset[str] = frozenset(FEATURE_NAMES) - set(FIELDS)

TYPES: dict[str, str] = (
    dict.fromkeys(FEATURE_NAMES, NUMBER)
    | dict.fromkeys(NUMBER_FIELDS, NUMBER)
    | dict.fromkeys(STRING_FIELDS, STRING)
    | dict.fromkeys(MODEL_NAMES, NUMBER)
    | {RISK_TIER: TIER}
)
