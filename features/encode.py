"""Turn a history file's rows into a TransactionBatch, refusing rows that break the contract."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.batch import CHANNEL_CODES, TransactionBatch
from features.dataset import DatasetError
from features.definitions import DAY_MS, ENTITY_FIELDS
from features.mcc import CASH_LIKE, DEFAULT_RISK, MCC_RISK
from features.schema import LABEL_COLUMN, LABEL_REPORTED_COLUMN, SCOPE_COLUMN

RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
TX_ID = r"^[A-Za-z0-9_.:-]{1,64}$"


@dataclass(slots=True)
class History:
    """A deduplicated history in event-time order, ready for replay."""

    frame: pd.DataFrame
    tx: TransactionBatch
    label_known_at: np.ndarray | None  # int64 ms per row when the row's fraud label became known
    duplicates_dropped: int


def shown(value: object) -> str:
    """A cell as a person reads it: -3.0, 'usd', or empty (never np.float64(-3.0))."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and value != value):
        return "empty"
    return repr(value) if isinstance(value, str) else str(value)


def _bad(frame: pd.DataFrame, mask: pd.Series | np.ndarray, column: str, reason: str) -> None:
    """Rows are numbered from 1 in file order, the header not counted: row 1 is a CSV's
    second line and a Parquet file's first row."""
    mask = np.asarray(mask, dtype=bool)
    if mask.any():
        first = int(np.flatnonzero(mask)[0])
        value = frame[column].iloc[first] if column in frame else None
        raise DatasetError(
            f"column {column!r}: {int(mask.sum())} row(s) {reason}; the first is row {first + 1} "
            f"(counted from 1, the header not counted): "
            f"transaction_id={shown(frame['transaction_id'].iloc[first])}, value={shown(value)}"
        )


def parse_timestamps(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """RFC 3339 strings -> (UTC epoch ms, UTC offset in minutes). The offsets are read
    from the last six characters by Arrow's string kernels (a million rows in tens of
    milliseconds; "Z" and anything unsigned is offset 0)."""
    utc = pd.to_datetime(values, utc=True, format="ISO8601")
    ms = utc.to_numpy(dtype="datetime64[ns]").astype(np.int64) // 1_000_000
    tail = pc.utf8_slice_codeunits(pa.array(values, type=pa.string()), -6)
    sign = pc.utf8_slice_codeunits(tail, 0, 1)
    signed = pc.is_in(sign, pa.array(["+", "-"]))

    def digits(start: int, stop: int) -> pa.Array:
        text = pc.if_else(signed, pc.utf8_slice_codeunits(tail, start, stop), "0")
        return pc.cast(text, pa.int64())

    minutes = pc.add(pc.multiply(digits(1, 3), 60), digits(4, 6))
    offset = pc.if_else(pc.equal(sign, "-"), pc.negate(minutes), minutes)
    return ms, np.asarray(offset.to_numpy(zero_copy_only=False), dtype=np.int64)


def _lookup(values: pd.Series, table: Mapping[str, float], default: float) -> np.ndarray:
    """table[value] (default where absent) for each value: looked up once per distinct value."""
    codes, uniques = pd.factorize(values)
    found = np.array([table.get(u, default) for u in uniques] + [default], dtype=np.float64)
    return found[codes]


def validate(frame: pd.DataFrame) -> None:
    """Check every row against the data contract; raise DatasetError naming the column."""
    for column in ("transaction_id", "timestamp", "card_id", "merchant_id", "currency", "channel"):
        _bad(frame, frame[column].isna(), column, "are empty")
    _bad(
        frame,
        ~frame["transaction_id"].str.match(TX_ID),
        "transaction_id",
        "are not 1-64 of [A-Za-z0-9_.:-]",
    )
    _bad(
        frame,
        ~frame["timestamp"].str.match(RFC3339),
        "timestamp",
        "are not RFC 3339 with an offset",
    )
    amount = pd.to_numeric(frame["amount"], errors="coerce").to_numpy(dtype=np.float64)
    _bad(
        frame,
        ~np.isfinite(amount) | (amount <= 0) | (amount > 1_000_000),
        "amount",
        "are not in (0, 1e6]",
    )
    _bad(frame, ~frame["currency"].str.match(r"^[A-Z]{3}$"), "currency", "are not ISO 4217 codes")
    _bad(
        frame,
        ~frame["channel"].isin(list(CHANNEL_CODES)),
        "channel",
        f"are not one of {list(CHANNEL_CODES)}",
    )
    _bad(
        frame,
        ~frame["merchant_category"].astype(str).str.match(r"^\d{4}$"),
        "merchant_category",
        "are not 4-digit MCCs",
    )
    if "latitude" in frame and "longitude" in frame:
        lat = pd.to_numeric(frame["latitude"], errors="coerce")
        lon = pd.to_numeric(frame["longitude"], errors="coerce")
        _bad(frame, lat.isna() != lon.isna(), "latitude", "have only one of latitude/longitude")
        _bad(frame, lat.abs() > 90, "latitude", "are outside [-90, 90]")
        _bad(frame, lon.abs() > 180, "longitude", "are outside [-180, 180]")
    if LABEL_COLUMN in frame:
        _bad(frame, ~frame[LABEL_COLUMN].isin([0, 1]), LABEL_COLUMN, "are not 0 or 1")


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return (
        frame[name]
        if name in frame
        else pd.Series([None] * len(frame), index=frame.index, dtype=object)
    )


def encode(
    frame: pd.DataFrame, times: tuple[np.ndarray, np.ndarray] | None = None
) -> TransactionBatch:
    """Columns of a validated frame as a TransactionBatch with codes shared across the frame;
    `times`: the frame's parse_timestamps, where the caller has them already."""
    ts, offset = times if times is not None else parse_timestamps(frame["timestamp"])
    codes = {
        entity: pd.factorize(_column(frame, field), use_na_sentinel=True)[0].astype(np.int64)
        for entity, field in ENTITY_FIELDS.items()
    }
    codes["country"] = pd.factorize(_column(frame, "merchant_country"), use_na_sentinel=True)[
        0
    ].astype(np.int64)
    mcc = frame["merchant_category"].astype(str)
    lat = pd.to_numeric(_column(frame, "latitude"), errors="coerce").to_numpy(dtype=np.float64)
    lon = pd.to_numeric(_column(frame, "longitude"), errors="coerce").to_numpy(dtype=np.float64)
    return TransactionBatch(
        ts=ts,
        offset_minutes=offset,
        amount=frame["amount"].to_numpy(dtype=np.float64),
        channel=_lookup(frame["channel"], CHANNEL_CODES, -1).astype(np.int64),
        mcc_risk=_lookup(mcc, MCC_RISK, DEFAULT_RISK),
        mcc_cash_like=_lookup(mcc, dict.fromkeys(CASH_LIKE, 1.0), 0.0),
        codes=codes,
        latitude=lat,
        longitude=lon,
    )


def prepare_history(frame: pd.DataFrame, label_delay_days: float) -> History:
    """Validate, drop repeated transactions (first wins), sort by event time, encode. A
    transaction is its id, within its scope where the file has a `scope` column."""
    validate(frame)
    before = len(frame)
    identity = [c for c in (SCOPE_COLUMN, "transaction_id") if c in frame]
    frame = frame.drop_duplicates(identity, keep="first")
    ts, offset = parse_timestamps(frame["timestamp"])
    order = np.argsort(ts, kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    tx = encode(frame, (ts[order], offset[order]))
    known_at = None
    if LABEL_COLUMN in frame:
        known_at = tx.ts + int(label_delay_days * DAY_MS)
        if LABEL_REPORTED_COLUMN in frame:
            reported = frame[LABEL_REPORTED_COLUMN]
            has = reported.notna().to_numpy()
            if has.any():
                ms, _ = parse_timestamps(reported[has])
                known_at[has] = ms
        # A label is never known before its own transaction happened.
        known_at = np.maximum(known_at, tx.ts)
    return History(
        frame=frame, tx=tx, label_known_at=known_at, duplicates_dropped=before - len(frame)
    )
