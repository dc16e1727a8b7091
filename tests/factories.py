"""Small hand-made transaction frames for feature tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def stamp(seconds: float, offset: str = "Z") -> str:
    moment = T0 + timedelta(seconds=seconds)
    if offset == "Z":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    sign = 1 if offset[0] == "+" else -1
    shift = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])) * sign
    return (moment + shift).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + offset


def tx(n: int, seconds: float, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "transaction_id": f"t{n}",
        "timestamp": stamp(seconds, fields.pop("offset", "Z")),
        "amount": 10.0,
        "currency": "USD",
        "card_id": "card_a",
        "account_id": "acct_a",
        "merchant_id": "m_1",
        "merchant_category": "5411",
        "merchant_country": "US",
        "channel": "pos",
        "device_id": None,
        "ip_address": None,
        "latitude": None,
        "longitude": None,
        "is_fraud": 0,
    }
    row.update(fields)
    return row


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    out = pd.DataFrame(list(rows))
    for column in ("latitude", "longitude", "amount"):
        out[column] = pd.to_numeric(out[column])
    return out
