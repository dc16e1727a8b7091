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
labels known by the end of the history (`is_fraud` with `label_reported_at`, else at the
transaction's time) join their entities' label windows as feedback would put them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from app.schemas.score import ScoreRequest
from cli.traffic import request_bodies
from features.dataset import DatasetError, read_transactions
from features.schema import LABEL_COLUMN, LABEL_REPORTED_COLUMN, SCOPE_COLUMN
from features.store import Label, WindowStore
from features.window_format import Event, label_member
from persistence.history import ENTITY_FIELDS

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


def _utc(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)


MOMENT = "backfill_moment_utc"  # the sorting column added to the frame


def in_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in event-time order; equal times keep the file's order (as the replay reads them)."""
    moments = pd.to_datetime(frame["timestamp"].map(_utc), utc=True)
    return frame.assign(**{MOMENT: moments}).sort_values(MOMENT, kind="stable")


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
    frame: pd.DataFrame, scopes: Sequence[str], since: datetime, until: datetime
) -> list[Label]:
    """The file's fraud labels that became known in [since, until] (`label_reported_at`,
    else the transaction's time), as the feedback path applies them."""
    if LABEL_COLUMN not in frame.columns:
        return []
    labels: list[Label] = []
    reported = frame[LABEL_REPORTED_COLUMN] if LABEL_REPORTED_COLUMN in frame.columns else None
    for i, (fraud, moment) in enumerate(zip(frame[LABEL_COLUMN], frame[MOMENT], strict=True)):
        if not fraud or pd.isna(fraud):
            continue
        known = reported.iloc[i] if reported is not None else None
        known_at = _utc(known) if isinstance(known, str) and known else moment.to_pydatetime()
        if not since <= known_at <= until:
            continue
        row = frame.iloc[i]
        entities = {e: str(row[f]) for e, f in ENTITY_FIELDS.items() if _present(row.get(f))}
        member = label_member(scopes[i], str(row["transaction_id"]))
        labels.append((entities, member, int(known_at.timestamp() * 1000), True))
    return labels


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and value != ""


async def backfill(
    store: WindowStore, data: Path, scope: str = "", batch: int = BATCH
) -> BackfillSummary:
    """Write `data`'s last HORIZON of transactions, and its fraud labels known by its last
    transaction, into the online state."""
    started = time.perf_counter()
    frame = read_transactions(data)
    if frame.empty:
        raise DatasetError(f"{data}: no transactions")
    frame = in_order(frame)
    scopes = scopes_of(frame, scope)
    until = frame[MOMENT].iloc[-1].to_pydatetime()
    since = until - HORIZON
    recent = (frame[MOMENT] >= since).to_numpy()
    recorded = already = 0
    pending: list[Event] = []

    async def flush() -> None:
        nonlocal recorded, already
        for read in await store.read_and_record(pending):
            fresh = not (read.conflict or read.answer_pending or read.stored_response)
            recorded += fresh
            already += not fresh
        pending.clear()

    recent_scopes = [s for s, keep in zip(scopes, recent, strict=True) if keep]
    # Every row is validated before the first write: a bad file writes nothing.
    todo = list(events(frame[recent], recent_scopes))
    labels = fraud_labels(frame, scopes, since, until)
    for event in todo:
        pending.append(event)
        if len(pending) >= batch:
            await flush()
    if pending:
        await flush()
    for start in range(0, len(labels), batch):
        await store.record_labels(labels[start : start + batch])
    return BackfillSummary(
        rows=len(frame),
        skipped_old=int(len(frame) - recent.sum()),
        recorded=recorded,
        already=already,
        labels=len(labels),
        seconds=time.perf_counter() - started,
    )
