"""The demo's labelled past: decisions the engine made on the weeks between the model's
training history and the live traffic, with the chargebacks reported since, so that
`fraud report` has mature weeks to show (cli/demo_data.py cuts the world into its parts).

Honest figures need the decisions to be the engine's own, on transactions the model never
saw: the past comes after the training history (the split is by time), and every one of
its transactions is scored through POST /v1/score, as the live traffic is. The chargebacks
come from the generator's ground truth as a payment company gets them: each fraud's
`label_reported_at`, posted to POST /v1/feedback (source `chargeback`) dated then, and only
those reported by now. A fraud reported later is, as of now, an approved transaction
nobody disputed yet, as it would be.

The past is walked in event-time order, CHUNK of event time at a time: the chargebacks
reported within the chunk first, then its transactions, in waves in which no two share a
card, account, device, IP or merchant (each after every earlier one it shares an entity
with), sent at once. Each transaction thus reads the windows a stream in event-time order
would leave (a window reads [t - history, t), a label window [t - span, t): what is written
ahead of a transaction but dated after it is not read by it), about 2,100 a second in the
demo on the 2-core machine, instead of one at a time (the API's CPU, about 0.34 ms a
transaction, bounds it near there; the busiest merchant's 900 transactions a week make at
least as many waves, about 8 ms each). The history's own frauds reported after its end (the backfill
wrote those known by then) join the label windows directly as the backfill writes them: no
decision of theirs is stored to post them against.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import orjson
import pandas as pd

from app.lifespan import redis_client, window_store
from app.settings import Settings
from cli.backfill import BATCH
from cli.traffic import request_bodies
from features.dataset import read_transactions
from features.encode import History, parse_timestamps, prepare_history
from features.schema import LABEL_COLUMN
from features.store import Label
from features.window_format import label_member
from persistence.history import LABELLED_ENTITY_FIELDS

CHUNK = timedelta(hours=1)  # of event time, walked in order
SOURCE = "chargeback"
STORED_WAIT_S = 30.0  # longest wait for a decision to be stored before its label is posted
ANSWER_TIMEOUT_S = 30.0  # longest wait for one answer of the API


class PastError(RuntimeError):
    """The past could not be scored or labelled through the API."""


class KeepAlive:
    """POSTs to the API on keep-alive HTTP/1.1 connections of asyncio's own. With httpx the
    walk was bound by the client: 300 answers a second on the 2-core machine, against
    about 3,000 with these (a week of the demo's world, 24,000 transactions, in 7 s)."""

    def __init__(self, base: str, key: str, connections: int = 32) -> None:
        url = urlsplit(base)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.head = f"Host: {url.netloc}\r\nAuthorization: Bearer {key}\r\n"
        self.head += "Content-Type: application/json\r\n"
        self.connections = connections
        self._free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self._opened = 0

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """(status, body) of one POST."""
        if self._free.empty() and self._opened < self.connections:
            self._opened += 1
            try:
                self._free.put_nowait(await asyncio.open_connection(self.host, self.port))
            except OSError as exc:
                self._opened -= 1
                raise PastError(f"cannot reach the API: {exc}") from exc
        reader, writer = await self._free.get()
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                writer.write(
                    f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if length is None:
                    raise PastError(f"an answer without Content-Length: {head[:200]!r}")
                answer = await reader.readexactly(int(length.group(1)))
        except (OSError, TimeoutError, PastError, asyncio.IncompleteReadError) as exc:
            self._opened -= 1
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()
            if isinstance(exc, PastError):
                raise
            raise PastError(f"no answer from the API to POST {path}: {exc!r}") from exc
        self._free.put_nowait((reader, writer))
        return int(head[9:12]), answer

    async def close(self) -> None:
        while not self._free.empty():
            _, writer = self._free.get_nowait()
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()


@dataclass(frozen=True, slots=True)
class PastSummary:
    since: datetime  # the past's first Monday
    until: datetime  # the traffic's start (excluded)
    scored: int  # decisions answered
    frauds: int  # among them
    chargebacks: int  # posted to /v1/feedback, dated when reported
    tiers: Counter[str]
    seconds: float

    @property
    def not_yet(self) -> int:
        """Frauds not reported by now: approved ones look legitimate until they are."""
        return self.frauds - self.chargebacks


def entities(row: pd.Series) -> list[tuple[str, str]]:
    """The row's (entity, value) pairs: what its windows are keyed by."""
    return [(e, str(row[f])) for e, f in LABELLED_ENTITY_FIELDS.items() if _present(row.get(f))]


def entity_keys(frame: pd.DataFrame) -> list[list[tuple[str, str]]]:
    """`entities` of every row, column by column (a row at a time costs seconds)."""
    columns = [
        (e, frame[f].tolist() if f in frame.columns else [None] * len(frame))
        for e, f in LABELLED_ENTITY_FIELDS.items()
    ]
    return [
        [(e, str(values[i])) for e, values in columns if _present(values[i])]
        for i in range(len(frame))
    ]


def waves(keys: Sequence[Sequence[tuple[str, str]]]) -> list[int]:
    """For rows in event-time order, each one's wave (0, 1, ...): one after the last wave
    of any earlier row it shares an entity with. Rows of one wave share none, so they can be
    scored at once in any order and each still reads every earlier row of its entities."""
    last: dict[tuple[str, str], int] = {}
    out = []
    for row in keys:
        wave = 1 + max((last[k] for k in row if k in last), default=-1)
        for k in row:
            last[k] = wave
        out.append(wave)
    return out


@dataclass(slots=True)
class Chunk:
    """One CHUNK of event time: its chargebacks, then its transactions."""

    labels: list[Label] = field(default_factory=list)  # the history's, written directly
    posted: list[int] = field(default_factory=list)  # the past's rows whose chargeback comes
    scored: list[int] = field(default_factory=list)  # the past's rows


def plan(
    past: History, earlier: Sequence[tuple[int, Label]], now_ms: int, chunk_ms: int
) -> list[Chunk]:
    """The chunks of the past in event-time order, the last one holding what comes after
    it (chargebacks reported between the traffic's start and now). A chargeback goes in
    the chunk it is reported in, and after its transaction's: a fraud reported within the
    hour is posted in the next chunk (no transaction of that hour reads it: a label
    window reads the previous hour at least). `earlier`: the history's frauds reported
    after its last transaction, (known at, label)."""
    ts = past.tx.ts
    if not len(ts):
        return []
    last = int(ts[-1])
    index = ts // chunk_ms  # whole hours of UTC
    after = int(index[-1]) + 1
    chunks: dict[int, Chunk] = {}

    def at(moment: int) -> int:
        return moment // chunk_ms if moment <= last else after

    for i, c in enumerate(index.tolist()):
        chunks.setdefault(c, Chunk()).scored.append(i)
    if past.label_known_at is not None:
        fraud = past.frame[LABEL_COLUMN].fillna(0).astype(bool).to_numpy()
        for i in np.flatnonzero(fraud).tolist():
            known = int(past.label_known_at[i])
            if known <= now_ms:
                c = max(at(known), int(index[i]) + 1)
                chunks.setdefault(c, Chunk()).posted.append(i)
    for known, label in earlier:
        if known <= now_ms:
            chunks.setdefault(at(known), Chunk()).labels.append(label)
    return [chunks[c] for c in sorted(chunks)]


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and value != ""


def earlier_chargebacks(
    history: pd.DataFrame, scope: str, label_delay_days: float
) -> list[tuple[int, Label]]:
    """The history's frauds reported after its last transaction (the backfill wrote those
    known by then): (known at, label)."""
    if LABEL_COLUMN not in history.columns or history.empty:
        return []
    last = int(parse_timestamps(history["timestamp"])[0].max())
    frauds = history[history[LABEL_COLUMN].fillna(0).astype(bool)]
    if frauds.empty:
        return []
    prepared = prepare_history(frauds, label_delay_days)
    assert prepared.label_known_at is not None
    out = []
    for i, known in enumerate(prepared.label_known_at.tolist()):
        if known > last:
            row = prepared.frame.iloc[i]
            member = label_member(scope, str(row["transaction_id"]))
            out.append((int(known), (dict(entities(row)), member, int(known), True)))
    return out


async def score_past(
    settings: Settings,
    history_path: Path,
    past_path: Path,
    base: str,
    key: str,
    scope: str,
    since: datetime,
    until: datetime,
    now: datetime | None = None,
    chunk: timedelta = CHUNK,
) -> PastSummary:
    """Score the past through the API at `base` in `scope` (the key's), and post the
    chargebacks reported by `now` (default: the wall clock); the history's late ones go
    into the store `settings` name (the API's: same Redis, prefix and event-time mode)."""
    started = time.perf_counter()
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    past = prepare_history(read_transactions(past_path), settings.label_delay_days)
    earlier = earlier_chargebacks(read_transactions(history_path), scope, settings.label_delay_days)
    chunks = plan(past, earlier, now_ms, int(chunk / timedelta(milliseconds=1)))
    frame = past.frame
    bodies = list(request_bodies(frame))
    keys = entity_keys(frame)
    known_at = past.label_known_at
    tiers: Counter[str] = Counter()
    posted = 0
    client = redis_client(settings)
    api = KeepAlive(base, key)
    try:
        store = window_store(client, settings)
        for part in chunks:
            for start in range(0, len(part.labels), BATCH):
                await store.record_labels(part.labels[start : start + BATCH])
            for i in part.posted:
                assert known_at is not None
                await _post_chargeback(
                    api, str(frame["transaction_id"].iloc[i]), scope, int(known_at[i])
                )
            posted += len(part.posted)
            rows = part.scored
            await _score(api, [bodies[i] for i in rows], [keys[i] for i in rows], tiers)
    finally:
        await api.close()
        await client.aclose()
    frauds = int(frame[LABEL_COLUMN].fillna(0).astype(bool).sum()) if LABEL_COLUMN in frame else 0
    return PastSummary(
        since=since,
        until=until,
        scored=sum(tiers.values()),
        frauds=frauds,
        chargebacks=posted,
        tiers=tiers,
        seconds=time.perf_counter() - started,
    )


async def _score(
    api: KeepAlive,
    bodies: list[dict[str, Any]],
    keys: list[list[tuple[str, str]]],
    tiers: Counter[str],
) -> None:
    """The rows (event-time order) through POST /v1/score, wave by wave."""
    if not bodies:
        return
    wave_of = waves(keys)
    for wave in range(max(wave_of) + 1):
        group = [b for b, w in zip(bodies, wave_of, strict=True) if w == wave]
        answers = await asyncio.gather(*(_score_one(api, b) for b in group))
        for answer in answers:
            tiers[answer["risk_tier"]] += 1


async def _score_one(api: KeepAlive, body: dict[str, Any]) -> dict[str, Any]:
    status, text = await api.post("/v1/score", orjson.dumps(body))
    if status != 200:
        raise PastError(
            f"scoring {body.get('transaction_id')!r} got {status}: "
            f"{text[:300].decode(errors='replace')}"
        )
    answer: dict[str, Any] = orjson.loads(text)
    return answer


async def _post_chargeback(api: KeepAlive, transaction_id: str, scope: str, known_ms: int) -> None:
    """The transaction's chargeback through POST /v1/feedback, dated when it was reported;
    a decision not stored yet (503: the consumer is behind) is waited for."""
    reported = datetime.fromtimestamp(known_ms / 1000, UTC)
    body = orjson.dumps(
        {
            "transaction_id": transaction_id,
            "scope": scope,
            "label": "fraud",
            "source": SOURCE,
            "reported_at": reported.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
    )
    deadline = time.monotonic() + STORED_WAIT_S
    while True:
        status, text = await api.post("/v1/feedback", body)
        if status in (200, 201):
            return
        if status != 503 or time.monotonic() > deadline:
            raise PastError(
                f"the chargeback of {transaction_id!r} got {status}: "
                f"{text[:300].decode(errors='replace')}"
            )
        await asyncio.sleep(0.2)
