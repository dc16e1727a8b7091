"""A hand-built scored batch of four transactions for the condition and rule tests."""

from __future__ import annotations

import numpy as np

from controls.columns import Columns
from features.definitions import FEATURE_NAMES

NAN = np.nan
FEATURES = {
    "card_country_changed": [1, 0, NAN, 1],
    "card_count_1h": [5, 1, NAN, 12],
    "card_amount_mean_prev30d": [100, 50, NAN, 0],
}
FIELDS = [
    {"amount": 2500.0, "currency": "EUR", "channel": "ecommerce", "merchant_category": "6011",
     "merchant_country": "FR", "device_id": "dev_1"},
    {"amount": 10.0, "currency": "EUR", "channel": "pos", "merchant_category": "5411",
     "merchant_country": "DE", "device_id": "dev_2"},
    {"amount": 100.1, "currency": "USD", "channel": "ecommerce", "merchant_category": "7995",
     "merchant_country": None, "device_id": None},
    {"amount": 3000.0, "currency": "GBP", "channel": "atm", "merchant_category": "6011",
     "device_id": "dev_1"},
]  # fmt: skip
TIERS = ["low", "medium", "high", "critical"]


def batch() -> Columns:
    matrix = np.full((len(FIELDS), len(FEATURE_NAMES)), np.nan, dtype=np.float32)
    for name, values in FEATURES.items():
        matrix[:, FEATURE_NAMES.index(name)] = values
    return Columns.for_batch(
        matrix,
        FIELDS,
        score=np.array([0.1, 0.5, 0.8, 0.97]),
        risk_tier=np.array(TIERS, dtype=object),
        xgboost=np.array([0.2, 0.4, 0.9, 0.99]),
        isolation_forest=np.array([0.3, 0.3, 0.6, 0.7]),
    )
