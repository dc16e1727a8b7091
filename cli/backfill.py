"""`fraud backfill`: a history written into the online state (windows, profiles, labels)
directly, before traffic, so that a new deployment (or the demo) does not start with every
card unknown: empty windows make a first transaction look like fraud to a model trained on
cards with a past.

Each transaction goes through the window store's own write (the scoring path's script), in
event-time order and in batches of the store's read-and-record call, where the API would
send it through one request each: the state left is the one a replay of the same rows
through the API leaves (tests/integration/test_backfill.py holds it, feature by feature).
Rows older than the longest horizon before the last one (the 30-day profiles and label
counts) would change nothing that is read and are skipped. A transaction is claimed as
the API claims it (its id in its scope), so running the same backfill again records
nothing twice while the claims live (FRAUD_RESPONSE_TTL_S, 7 days by default). Fraud
labels known by the end of the history (`is_fraud`, known at `label_reported_at`, else
FRAUD_LABEL_DELAY_DAYS after the transaction, as training's replay has it) join their
entities' label windows as feedback would put them.

`backfill_into` is the one way in for the command, the demo and `make perf`: the store
the API built from the same settings would read, so a backfill cannot land under another
prefix, client or event-time mode than the traffic after it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.lifespan import redis_client, window_store
from app.schemas.score import ScoreRequest
from app.settings import Settings
from cli.traffic import request_bodies
from features.dataset import DatasetError, read_transactions, require_columns
from features.encode import History, prepare_history
from features.schema import LABEL_COLUMN, SCOPE_COLUMN
from features.store import Label, WindowStore
from features.window_format import Event, label_member
from persistence.history import LABELLED_ENTITY_FIELDS

# The longest look-back of anything the features read: 30 complete UTC days of profile and
# of known labels, plus the day in progress.
HORIZON = timedelta(days=31)
BATCH = 256  # transactions per read-and-record call


@dataclass(frozen=True, slots=True)
class BackfillSummary:
    rows: int  # in the file
    skipped_old: int  # before the horizon
    recorded: int
    already: int  # recorded by an earlier run (claimed): not counted again
    labels: int  # fraud labels put in the label windows
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "skipped_before_horizon": self.skipped_old,
            "recorded": self.recorded,
            "already_recorded": self.already,
            "fraud_labels": self.labels,
            "seconds": round(self.seconds, 2),
            "rows_per_second": round(self.recorded / self.seconds) if self.seconds else None,
        }


def scopes_of(frame: pd.DataFrame, scope: str) -> list[str]:
    """Each row's scope: the file's `scope` column where it has one, else `scope`."""
    if SCOPE_COLUMN not in frame.columns:
        return [scope] * len(frame)
    return [str(s) if isinstance(s, str) and s else scope for s in frame[SCOPE_COLUMN]]


def events(frame: pd.DataFrame, scopes: Sequence[str]) -> Iterator[Event]:
    """Each row as the store event the API would build from it (validated as a request is)."""
    for i, body in enumerate(request_bodies(frame)):
        try:
            transaction = ScoreRequest.model_validate(body).to_transaction()
        except ValueError as exc:
            raise DatasetError(
                f"transaction {body.get('transaction_id')!r} is not valid: {exc}"
            ) from None
        yield transaction.online(scopes[i]).event


def fraud_labels(
    history: History, scopes: Sequence[str], since_ms: int, until_ms: int
) -> list[Label]:
    """The history's fraud labels that became known in [since, until], known when the
    replay says they were (History.label_known_at: `label_reported_at`, else the
    transaction's time plus the label delay), as the feedback path applies them."""
    known_at = history.label_known_at
    if known_at is None:
        return []
    frame = history.frame
    fraud = frame[LABEL_COLUMN].fillna(0).astype(bool).to_numpy()
    rows = np.flatnonzero(fraud & (known_at >= since_ms) & (known_at <= until_ms))
    labels: list[Label] = []
    for i in rows.tolist():
        row = frame.iloc[i]
        entities = {
            e: str(row[f]) for e, f in LABELLED_ENTITY_FIELDS.items() if _present(row.get(f))
        }
        member = label_member(scopes[i], str(row["transaction_id"]))
        labels.append((entities, member, int(known_at[i]), True))
    return labels


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and value != ""


async def backfill_into(
    settings: Settings, data: Path | pd.DataFrame, scope: str
) -> BackfillSummary:
    """`backfill` into the window store `fraud serve` builds from `settings` (its Redis,
    single node or cluster, key prefix, claims' lifetime and event-time mode), on a client
    of its own, closed at the end."""
    client = redis_client(settings)
    try:
        store = window_store(client, settings)
        return await backfill(store, data, scope, settings.label_delay_days)
    finally:
        await client.aclose()


async def backfill(
    store: WindowStore,
    data: Path | pd.DataFrame,
    scope: str,
    label_delay_days: float,
    batch: int = BATCH,
) -> BackfillSummary:
    """Write `data`'s last HORIZON of transactions, and its fraud labels known by its last
    transaction, into the online state. `data` is a file, or its rows already in memory
    (the frame `read_transactions` would return: `make perf` splits its world in memory).
    The history is read as the replay reads it (features.encode.prepare_history: validated,
    a repeated transaction once, event-time order, labels known `label_delay_days` after
    the transaction unless reported)."""
    started = time.perf_counter()
    if isinstance(data, Path):
        source, frame = str(data), read_transactions(data)
    else:
        source, frame = "the history", require_columns(data, "the history")
    history = prepare_history(frame, label_delay_days)
    if history.frame.empty:
        raise DatasetError(f"{source}: no transactions")
    ts = history.tx.ts
    until = int(ts[-1])
    since = until - int(HORIZON / timedelta(milliseconds=1))
    recent = ts >= since
    scopes = scopes_of(history.frame, scope)
    recent_scopes = [s for s, keep in zip(scopes, recent, strict=True) if keep]
    # Every row is validated before the first write: a bad file writes nothing.
    todo = list(events(history.frame[recent], recent_scopes))
    labels = fraud_labels(history, scopes, since, until)
    recorded = 0
    for start in range(0, len(todo), batch):
        reads = await store.read_and_record(todo[start : start + batch])
        recorded += sum(not (r.conflict or r.answer_pending or r.stored_response) for r in reads)
    for start in range(0, len(labels), batch):
        await store.record_labels(labels[start : start + batch])
    return BackfillSummary(
        rows=len(history.frame) + history.duplicates_dropped,
        skipped_old=int(len(recent) - recent.sum()),
        recorded=recorded,
        already=len(todo) - recorded,
        labels=len(labels),
        seconds=time.perf_counter() - started,
    )
