"""The native feature kernel equals the numpy reference (features/compute.py), column by
column, on generated batches and windows: empty, saturated (MAX_EVENTS, KEEP_EVENTS),
padded (rows of one batch with windows of different widths), with missing locations and
absent entities, equal timestamps, members dated ahead of the transaction and at every
window's edge; and on generated histories for the replay.

Exact (float32 bit for bit) for every column but those that go through a libm function
other than sqrt (log1p, sin, cos, asin): numpy may use its own vectorised versions, which
can round the float64 result's last bit differently; after the float32 cast that is at
most one float32 step, so those compare at 1e-6 relative."""

from __future__ import annotations

import fraud_kernel
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features import kernel, reference
from features.batch import CHANNEL_CODES, TransactionBatch
from features.compute import feature_matrix
from features.definitions import (
    DAY_MS,
    ENTITIES,
    FEATURE_NAMES,
    HOUR_MS,
    LABELLED_ENTITIES,
    MAX_EVENTS,
    MAX_LABELS,
    MINUTE_MS,
    PROFILED_ENTITIES,
    WINDOW_ATTRIBUTES,
)
from features.encode import prepare_history
from features.mcc import CASH_LIKE, MCC_RISK, mcc_risk
from features.online import OnlineTransaction, online_matrix, request_only_matrix
from features.redis_store import KEEP_EVENTS
from features.replay import ReplayStore
from features.window_format import (
    CATEGORICAL,
    LOCATED,
    MEMBER_DTYPES,
    Event,
    WindowRead,
)
from tests import factories

# Columns computed through log1p or the haversine's sines (see the module docstring).
LIBM_COLUMNS = frozenset(
    {
        "amount_log",
        "card_distance_from_last_km",
        "card_speed_from_last_kmh",
        "card_distance_from_centroid_km",
    }
)
T0 = 1_750_000_000_000
# Codes from a small pool, so window attributes meet the transaction's own; one far code.
CODES = (0, 1, 2, 3, (1 << 62) + 5)
# Ages of window members and labels relative to the transaction: each window's edge and
# a millisecond either side, the transaction's own time, and ahead of it.
EDGES = sorted(
    {
        d + e
        for d in (0, MINUTE_MS, 5 * MINUTE_MS, HOUR_MS, DAY_MS, 7 * DAY_MS, 30 * DAY_MS)
        for e in (-1, 0, 1)
    }
    | {-DAY_MS, -5 * MINUTE_MS}
)
AMOUNTS = (0.01, 1.0, 4.99, 5.0, 10.0, 20.0, 99.995, 123.45, 1000.0, 999_999.99)


def compare(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype == np.float32
    assert got.shape == want.shape
    for j, name in enumerate(FEATURE_NAMES):
        if name in LIBM_COLUMNS:
            np.testing.assert_allclose(got[:, j], want[:, j], rtol=1e-6, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(got[:, j], want[:, j], err_msg=name)


def requests(tx: TransactionBatch) -> list[tuple[object, ...]]:
    return [
        kernel.request_tuple(
            int(tx.ts[i]),
            int(tx.offset_minutes[i]),
            float(tx.amount[i]),
            int(tx.channel[i]),
            float(tx.mcc_risk[i]),
            bool(tx.mcc_cash_like[i]),
            [int(tx.code(name)[i]) for name in CATEGORICAL],
            None if np.isnan(tx.latitude[i]) else float(tx.latitude[i]),
            None if np.isnan(tx.longitude[i]) else float(tx.longitude[i]),
        )
        for i in range(len(tx))
    ]


def values(rng: np.random.Generator, pool: tuple[float, ...], n: int) -> np.ndarray:
    """n values, mostly from the pool of interesting ones, some anywhere in its range."""
    picked = rng.choice(np.asarray(pool, dtype=np.float64), n)
    free = rng.uniform(min(pool), max(pool), n)
    return np.where(rng.random(n) < 0.7, picked, free)


def locations(rng: np.random.Generator, n: int, missing: float) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes, some missing, some equal to one another (distance 0)."""
    lat = np.where(rng.random(n) < 0.5, 40.7128, rng.uniform(-90, 90, n))
    lon = np.where(rng.random(n) < 0.5, -74.006, rng.uniform(-180, 180, n))
    lat[rng.random(n) < missing] = np.nan
    lon[rng.random(n) < missing / 3] = np.nan
    return lat, lon


def members(entity: str, t: int, count: int, rng: np.random.Generator) -> bytes:
    """`count` members of an entity's window, latest first, as the store replies."""
    records = np.zeros(count, dtype=MEMBER_DTYPES[entity])
    ages = np.where(
        rng.random(count) < 0.6,
        rng.choice(np.asarray(EDGES), count),
        rng.integers(-DAY_MS, 8 * DAY_MS, count),
    )
    records["code"] = rng.integers(0, 1 << 40, count)
    records["ts"] = np.sort(t - ages)[::-1]
    records["amount"] = values(rng, AMOUNTS, count)
    # Runs of equal amounts: the sum of squares and the deviation at 0.
    records["amount"][rng.random(count) < 0.3] = 7.5
    for a in WINDOW_ATTRIBUTES[entity]:
        records[a] = rng.choice(np.asarray((-1, *CODES)), count)
    if entity == LOCATED:
        records["latitude"], records["longitude"] = locations(rng, count, missing=0.3)
    return records.tobytes()


@st.composite
def batches(draw: st.DrawFn) -> tuple[TransactionBatch, list[WindowRead]]:
    n = draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    widths = st.one_of(
        st.integers(0, 12), st.sampled_from((0, 1, 2, MAX_EVENTS, KEEP_EVENTS, MAX_EVENTS + 1))
    )
    ts = T0 + rng.integers(0, 30 * DAY_MS, n)
    codes = {
        name: np.where(rng.random(n) < 0.2, -1, rng.choice(np.asarray(CODES), n)).astype(np.int64)
        for name in CATEGORICAL
    }
    mcc = rng.choice(np.asarray([*MCC_RISK, "0000"]), n)
    lat, lon = locations(rng, n, missing=0.3)
    tx = TransactionBatch(
        ts=ts.astype(np.int64),
        offset_minutes=rng.choice(np.asarray([-720, -330, 0, 60, 345, 840]), n).astype(np.int64),
        amount=values(rng, AMOUNTS, n),
        channel=rng.choice(np.asarray(list(CHANNEL_CODES.values())), n).astype(np.int64),
        mcc_risk=np.array([mcc_risk(m) for m in mcc], dtype=np.float64),
        mcc_cash_like=np.array([m in CASH_LIKE for m in mcc], dtype=np.float64),
        codes=codes,
        latitude=lat,
        longitude=lon,
    )
    reads = []
    for i in range(n):
        t = int(ts[i])
        present = {e: bool(codes[e][i] >= 0) for e in ENTITIES}
        reads.append(
            WindowRead(
                # The store reads nothing for an absent entity.
                members={
                    e: members(e, t, draw(widths), rng) if present[e] else b"" for e in ENTITIES
                },
                label_scores={
                    e: [
                        float(t - age)
                        for age in rng.choice(
                            np.asarray(EDGES), draw(st.sampled_from((0, 1, 3, MAX_LABELS)))
                        )
                    ]
                    if present[e]
                    else []
                    for e in LABELLED_ENTITIES
                },
                profiles={
                    e: profile(rng, t) if present[e] and rng.random() < 0.8 else None
                    for e in PROFILED_ENTITIES
                },
            )
        )
    return tx, reads


def profile(rng: np.random.Generator, t: int) -> bytes:
    """A profile read: the day, then counts over 1, 7 and 30 days, cents, squares."""
    counts = np.sort(rng.integers(0, 40, 3))
    counts[rng.random(3) < 0.2] = 0
    cents = int(rng.integers(0, 10**9)) if counts[2] else 0
    squares = int(rng.integers(0, 10**12)) if counts[2] else 0
    fields = (t // DAY_MS, *counts.tolist(), cents, squares)
    return b" ".join(str(v).encode() for v in fields)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_the_kernel_computes_what_the_reference_computes_online(
    batch: tuple[TransactionBatch, list[WindowRead]],
) -> None:
    tx, reads = batch
    compare(kernel.online_matrix(requests(tx), reads), reference.batch_matrix(tx, reads))


@settings(max_examples=100, deadline=None)
@given(batches())
def test_the_degraded_matrix_holds_the_request_features_and_nothing_else(
    batch: tuple[TransactionBatch, list[WindowRead]],
) -> None:
    tx, _ = batch
    compare(kernel.request_matrix(requests(tx)), reference.request_matrix(tx))


@st.composite
def histories(
    draw: st.DrawFn,
) -> tuple[TransactionBatch, np.ndarray | None, np.ndarray | None]:
    """A short history: few values per entity (windows meet), times from a small pool (equal
    times), in time order or not; dense codes (the replay's own) or sparse ones."""
    n = draw(st.integers(1, 80))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    times = T0 + rng.choice(np.asarray(EDGES[:-3]) + rng.integers(0, 9 * DAY_MS), n)
    if draw(st.booleans()):
        times = np.sort(times)
    spread = draw(st.sampled_from((1, 1, 5_000)))  # sparse codes take the sort's other path
    codes = {
        name: np.where(rng.random(n) < 0.2, -1, rng.integers(0, 4, n) * spread).astype(np.int64)
        for name in CATEGORICAL
    }
    mcc = rng.choice(np.asarray([*MCC_RISK, "0000"]), n)
    lat, lon = locations(rng, n, missing=0.3)
    tx = TransactionBatch(
        ts=times.astype(np.int64),
        offset_minutes=rng.choice(np.asarray([-330, 0, 60]), n).astype(np.int64),
        amount=values(rng, AMOUNTS, n),
        channel=rng.integers(0, 3, n).astype(np.int64),
        mcc_risk=np.array([mcc_risk(m) for m in mcc], dtype=np.float64),
        mcc_cash_like=np.array([m in CASH_LIKE for m in mcc], dtype=np.float64),
        codes=codes,
        latitude=lat,
        longitude=lon,
    )
    if not draw(st.booleans()):
        return tx, None, None
    fraud = rng.random(n) < 0.4
    delay = rng.choice(np.asarray([0, 1, HOUR_MS, DAY_MS, 7 * DAY_MS]), n)
    return tx, (tx.ts + delay).astype(np.int64), fraud


@settings(max_examples=200, deadline=None)
@given(histories())
def test_the_kernel_replays_what_the_reference_replays(
    history: tuple[TransactionBatch, np.ndarray | None, np.ndarray | None],
) -> None:
    tx, known_at, fraud = history
    store = ReplayStore(tx, known_at, fraud)
    compare(store.matrix(), feature_matrix(store.columns(), len(tx)))


@settings(max_examples=50, deadline=None)
@given(histories(), st.data())
def test_a_range_of_rows_is_those_rows_of_the_whole_replay(
    history: tuple[TransactionBatch, np.ndarray | None, np.ndarray | None], data: st.DataObject
) -> None:
    tx, known_at, fraud = history
    start = data.draw(st.integers(0, len(tx)))
    stop = data.draw(st.integers(start, len(tx)))
    store = ReplayStore(tx, known_at, fraud)
    np.testing.assert_array_equal(store.matrix(rows=slice(start, stop)), store.matrix()[start:stop])


@settings(max_examples=100, deadline=None)
@given(histories(), st.data())
def test_a_range_of_a_history_in_time_order_sees_only_its_past(
    history: tuple[TransactionBatch, np.ndarray | None, np.ndarray | None], data: st.DataObject
) -> None:
    """A range of a history in event-time order is replayed from the history up to its end
    (what makes chunks cheap), unless a later row's label became known earlier: here labels
    may be known up to a day before their own transaction, so later rows can matter."""
    tx, known_at, fraud = history
    order = np.argsort(tx.ts, kind="stable")
    tx = TransactionBatch(
        ts=tx.ts[order],
        offset_minutes=tx.offset_minutes[order],
        amount=tx.amount[order],
        channel=tx.channel[order],
        mcc_risk=tx.mcc_risk[order],
        mcc_cash_like=tx.mcc_cash_like[order],
        codes={k: v[order] for k, v in tx.codes.items()},
        latitude=tx.latitude[order],
        longitude=tx.longitude[order],
    )
    if known_at is not None and fraud is not None:
        early = np.asarray(
            data.draw(
                st.lists(
                    st.sampled_from((0, 1, HOUR_MS, DAY_MS)), min_size=len(tx), max_size=len(tx)
                )
            )
        )
        known_at, fraud = tx.ts - early, fraud[order]
    start = data.draw(st.integers(0, len(tx)))
    stop = data.draw(st.integers(start, len(tx)))
    store = ReplayStore(tx, known_at, fraud)
    np.testing.assert_array_equal(store.matrix(rows=slice(start, stop)), store.matrix()[start:stop])


@settings(max_examples=50, deadline=None)
@given(histories(), st.data())
def test_named_features_are_those_columns_of_the_whole_replay(
    history: tuple[TransactionBatch, np.ndarray | None, np.ndarray | None], data: st.DataObject
) -> None:
    """What a backtest asks for: a few features of a range of rows (no full matrix)."""
    tx, known_at, fraud = history
    names = data.draw(st.lists(st.sampled_from(FEATURE_NAMES), unique=True, max_size=12))
    start = data.draw(st.integers(0, len(tx)))
    store = ReplayStore(tx, known_at, fraud)
    got = store.matrix(rows=slice(start, None), names=names)
    want = store.matrix()[start:, [FEATURE_NAMES.index(n) for n in names]]
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_unknown_or_repeated_features_are_refused() -> None:
    history = prepare_history(factories.frame(factories.tx(1, 0), factories.tx(2, 30)), 7.0)
    store = ReplayStore(history.tx, None, None)
    with pytest.raises(ValueError, match="no such features"):
        store.matrix(names=["card_count_1h", "card_count_2h"])
    with pytest.raises(ValueError, match="asked for twice"):
        store.matrix(names=["card_count_1h", "card_count_1h"])


def test_windows_and_labels_beyond_their_bounds_are_cut_to_the_latest() -> None:
    """A merchant with more events in a week than MAX_EVENTS and more labels in 30 days
    than MAX_LABELS: the replay keeps the latest of each, as the reference and the store."""
    n = MAX_EVENTS + MAX_LABELS + 150
    rng = np.random.default_rng(7)
    ts = T0 + np.sort(rng.integers(0, 5 * DAY_MS, n))
    codes = {name: rng.integers(0, 50, n) for name in CATEGORICAL}
    codes["merchant"] = np.zeros(n, dtype=np.int64)
    tx = TransactionBatch(
        ts=ts,
        offset_minutes=np.zeros(n, dtype=np.int64),
        amount=values(rng, AMOUNTS, n),
        channel=np.zeros(n, dtype=np.int64),
        mcc_risk=np.full(n, 0.3),
        mcc_cash_like=np.zeros(n),
        codes=codes,
        latitude=np.full(n, np.nan),
        longitude=np.full(n, np.nan),
    )
    store = ReplayStore(tx, ts + 1, np.ones(n, dtype=bool))
    got = store.matrix()
    compare(got, feature_matrix(store.columns(), n))
    last = got[-1]
    assert last[FEATURE_NAMES.index("merchant_count_7d")] == MAX_EVENTS
    assert last[FEATURE_NAMES.index("merchant_known_fraud_30d")] == MAX_LABELS


def test_a_kernel_built_for_other_definitions_is_refused() -> None:
    names = list(FEATURE_NAMES)
    with pytest.raises(ValueError, match="not named"):
        fraud_kernel.FeatureKernel(names[:-1], kernel.member_layouts())
    with pytest.raises(ValueError, match="does not compute"):
        fraud_kernel.FeatureKernel([*names, "card_count_2h"], kernel.member_layouts())
    layouts = kernel.member_layouts()
    del layouts["card"]["latitude"]
    with pytest.raises(ValueError, match='card member layout: no field "latitude"'):
        fraud_kernel.FeatureKernel(names, layouts)


def test_malformed_replies_are_refused_naming_the_entity() -> None:
    rng = np.random.default_rng(3)
    request = kernel.request_tuple(T0, 0, 10.0, 0, 0.3, False, [1] * len(CATEGORICAL), None, None)
    read = WindowRead(
        members={e: members(e, T0, 2, rng) for e in ENTITIES},
        label_scores={e: [] for e in LABELLED_ENTITIES},
        profiles={e: None for e in PROFILED_ENTITIES},
    )
    assert kernel.online_matrix([request], [read]).shape == (1, len(FEATURE_NAMES))
    read.members["merchant"] = read.members["merchant"][:-1]
    size = MEMBER_DTYPES["merchant"].itemsize
    with pytest.raises(ValueError, match=f"merchant window members are not {size}-byte records"):
        kernel.online_matrix([request], [read])
    read.members["merchant"] = b""
    read.profiles["ip"] = b"20000 1 2"
    with pytest.raises(ValueError, match="ip profile is not 6 integers"):
        kernel.online_matrix([request], [read])


def test_online_transactions_are_marshalled_as_the_reference_reads_them() -> None:
    """features.online.online_matrix from real requests (codes hashed from their values,
    locations absent or not, every channel) equals the numpy reference's."""
    rng = np.random.default_rng(11)
    txs, reads = [], []
    for i, channel in enumerate(list(CHANNEL_CODES) * 2):
        event = Event(
            transaction_id=f"t{i}",
            ts=T0 + i * MINUTE_MS,
            amount=[12.5, 4.0, 1000.0][i % 3],
            card=f"card_{i % 2}",
            account=None if i % 3 == 0 else "acct_1",
            device=None if i % 2 else f"dev_{i}",
            ip="10.0.0.1",
            merchant=f"m_{i % 4}",
            country=None if i == 4 else "US",
            latitude=None if i % 2 else 40.7,
            longitude=None if i % 2 else -74.0,
        )
        txs.append(OnlineTransaction(event, [0, -300, 60][i % 3], channel, ["5411", "6011"][i % 2]))
        reads.append(
            WindowRead(
                members={
                    e: members(e, event.ts, 3, rng) if event.entity_value(e) else b""
                    for e in ENTITIES
                },
                label_scores={e: [float(event.ts - HOUR_MS)] for e in LABELLED_ENTITIES},
                profiles={e: profile(rng, event.ts) for e in PROFILED_ENTITIES},
            )
        )
    compare(online_matrix(txs, reads), reference.online_matrix(txs, reads))
    compare(request_only_matrix(txs), reference.request_matrix(reference.transaction_batch(txs)))
