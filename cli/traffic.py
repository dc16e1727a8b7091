"""`fraud replay`: send a file's transactions to /v1/score at a steady rate."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd

from features.dataset import read_transactions
from features.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

FIELDS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


def request_bodies(frame: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """Rows as API request bodies: missing values are left out, numbers stay numbers."""
    columns = [c for c in FIELDS if c in frame.columns]
    for row in frame[columns].itertuples(index=False, name=None):
        body: dict[str, Any] = {}
        for name, value in zip(columns, row, strict=True):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            body[name] = float(value) if isinstance(value, np.floating) else value
        yield body


@dataclass(slots=True)
class ReplayReport:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    tiers: Counter[str] = field(default_factory=Counter)
    degraded: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def summary(self, seconds: float) -> dict[str, Any]:
        lat = sorted(self.latencies_ms) or [0.0]
        return {
            "sent": self.sent,
            "seconds": round(seconds, 2),
            "rate": round(self.sent / seconds, 1) if seconds else 0.0,
            "statuses": dict(self.statuses),
            "tiers": dict(self.tiers),
            "degraded": self.degraded,
            "client_latency_ms": {
                "p50": lat[len(lat) // 2],
                "p99": lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0],
            },
            "errors": dict(self.errors),
        }


async def replay(
    data: Path,
    url: str,
    rate: float,
    api_key: str,
    limit: int | None = None,
    concurrency: int = 64,
    report: ReplayReport | None = None,
    stop: asyncio.Event | None = None,
    timeout_s: float | None = 10.0,
) -> dict[str, Any]:
    """Send the file's rows (the first `limit`) at `rate`; stops early, after the requests
    already sent are answered, once `stop` is set. `report` fills as answers come. A
    request not answered within `timeout_s` counts as an error (None: wait for every
    answer, as a test that checks answers rather than latency does)."""
    frame = read_transactions(data)
    if limit is not None:
        frame = frame.head(limit)
    report = report if report is not None else ReplayReport()
    gate = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    endpoint = url.rstrip("/") + "/v1/score"
    started = time.perf_counter()
    async with httpx.AsyncClient(
        timeout=timeout_s, limits=httpx.Limits(max_connections=concurrency)
    ) as client:

        async def send(body: dict[str, Any]) -> None:
            async with gate:
                t0 = time.perf_counter()
                try:
                    response = await client.post(
                        endpoint, content=orjson.dumps(body), headers=headers
                    )
                except httpx.HTTPError as exc:
                    report.errors[type(exc).__name__] += 1
                    return
                report.latencies_ms.append((time.perf_counter() - t0) * 1000)
                report.statuses[response.status_code] += 1
                if response.status_code == 200:
                    answer = response.json()
                    report.tiers[answer["risk_tier"]] += 1
                    report.degraded += bool(answer["degraded"])

        tasks = []
        for i, body in enumerate(request_bodies(frame)):
            due = started + i / rate
            delay = due - time.perf_counter()
            if stop is not None:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(delay, 0))
                if stop.is_set():
                    break
            elif delay > 0:
                await asyncio.sleep(delay)
            report.sent += 1
            tasks.append(asyncio.create_task(send(body)))
            if len(tasks) >= 4 * concurrency:
                await asyncio.gather(*tasks)
                tasks.clear()
        await asyncio.gather(*tasks)
    return report.summary(time.perf_counter() - started)
