"""Request bodies for the swarm: generated transactions re-stamped as live traffic."""

from __future__ import annotations

import itertools
import os
import random
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cli.traffic import request_bodies
from features.dataset import read_transactions

DATA = Path(os.environ.get("LOCUST_DATA", "data/locust_traffic.parquet"))
API_KEY = os.environ.get("FRAUD_API_KEY", "")
HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
RUN = uuid.uuid4().hex[:6]

_rows: list[dict[str, Any]] | None = None
_lock = threading.Lock()
_counter = itertools.count()


def rows() -> list[dict[str, Any]]:
    global _rows
    with _lock:
        if _rows is None:
            _rows = list(request_bodies(read_transactions(DATA)))
    return _rows


def poisson_wait(per_second: float) -> Callable[[object], float]:
    """Exponential gaps: each user is a Poisson source, as independent shoppers are.
    (Constant pacing lines the users up into once-a-second waves.)"""
    return lambda _user: random.expovariate(per_second)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def next_body(**overrides: Any) -> dict[str, Any]:
    """The next generated transaction with a fresh id and the current time."""
    n = next(_counter)
    data = rows()
    body = dict(data[n % len(data)])
    body["transaction_id"] = f"lt_{RUN}_{n}"
    body["timestamp"] = now()
    body.update(overrides)
    return body
