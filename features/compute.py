"""The one definition of every feature: pure functions of a transaction batch and
its entities' windows. The offline replay and the online Redis path both call
these, so training and serving cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from features.batch import PAD_TS, EntityWindow, TransactionBatch
from features.definitions import (
    DISTINCT_OF,
    DISTINCT_WINDOWS,
    ENTITIES,
    FEATURE_NAMES,
    FIRST_USE_OF,
    HISTORY_MS,
    LABEL_HORIZONS,
    LABELLED_ENTITIES,
    MINUTE_MS,
    PLURAL,
    PROFILE_DAYS,
    PROFILE_SUMS,
    PROFILED_ENTITIES,
    SMALL_AMOUNT,
    WINDOWS,
)

EARTH_RADIUS_KM = 6371.0088
Columns = dict[str, np.ndarray]


def request_features(tx: TransactionBatch) -> Columns:
    """Features that need nothing but the request itself (also the degraded mode's input)."""
    amount = tx.amount
    local_min = tx.ts // MINUTE_MS + tx.offset_minutes
    hour = (local_min // 60) % 24
    day_of_week = (local_min // 1440 + 3) % 7  # 1970-01-01 was a Thursday
    cents = np.round(amount * 100.0) % 100
    return {
        "amount": amount,
        "amount_log": np.log1p(amount),
        "amount_is_round": (np.round(amount * 100.0) % 1000 == 0).astype(np.float64),
        "amount_is_small": (amount < SMALL_AMOUNT).astype(np.float64),
        "amount_cents": cents.astype(np.float64),
        "hour_of_day": hour.astype(np.float64),
        "day_of_week": day_of_week.astype(np.float64),
        "is_weekend": (day_of_week >= 5).astype(np.float64),
        "is_night": (hour < 6).astype(np.float64),
        "channel_pos": (tx.channel == 0).astype(np.float64),
        "channel_ecommerce": (tx.channel == 1).astype(np.float64),
        "channel_atm": (tx.channel == 2).astype(np.float64),
        "mcc_risk": tx.mcc_risk.astype(np.float64),
        "mcc_is_cash_like": tx.mcc_cash_like.astype(np.float64),
        "has_device": (tx.code("device") >= 0).astype(np.float64),
        "has_ip": (tx.code("ip") >= 0).astype(np.float64),
        "has_location": (~np.isnan(tx.latitude) & ~np.isnan(tx.longitude)).astype(np.float64),
        "has_account": (tx.code("account") >= 0).astype(np.float64),
    }


def _suffix_sums(values: np.ndarray) -> np.ndarray:
    """S[:, j] = sum of values[:, j:], with a zero column K appended. Added one at a time
    from the latest event back (cumsum is sequential), the order the native kernel adds in,
    so both round alike."""
    n, k = values.shape
    out = np.zeros((n, k + 1))
    out[:, :k] = np.cumsum(values[:, ::-1], axis=1)[:, ::-1]
    return out


def _last_occurrences(codes: np.ndarray) -> np.ndarray:
    """True where a row's value does not appear again later in that row (and is not -1)."""
    rows = np.arange(len(codes))[:, None]  # plain fancy indexing: *_along_axis cost more here
    order = np.argsort(codes, axis=1, kind="stable")
    ranked = codes[rows, order]
    last_ranked = np.ones(ranked.shape, dtype=bool)
    last_ranked[:, :-1] = ranked[:, :-1] != ranked[:, 1:]
    last = np.empty_like(last_ranked)
    last[rows, order] = last_ranked
    return last & (codes >= 0)


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


SPANS = np.array(list(WINDOWS.values()), dtype=np.int64)
_W = {w: j for j, w in enumerate(WINDOWS)}
DISTINCT_COLUMNS = [_W[w] for w in DISTINCT_WINDOWS]


# Windows up to this width are computed together, stacked (see entities_features).
STACK_WIDTH = 64
# Up to this many rows (online batches) the feature matrix is built in one call; the
# replay's large batches fill it column by column, without a transposed copy.
SMALL_MATRIX_ROWS = 1024


def entity_features(entity: str, win: EntityWindow, tx: TransactionBatch) -> Columns:
    """Velocity, distinct-count, recency and first-use features of one entity."""
    return entities_features({entity: win}, tx)


def entities_features(windows: Mapping[str, EntityWindow], tx: TransactionBatch) -> Columns:
    """entity_features of several entities of the same transactions.

    All windows of an entity are computed together by broadcasting, and the
    entities whose windows are narrow (up to STACK_WIDTH events) are stacked and
    computed together too: each numpy call costs microseconds of overhead, which
    dominates the online path's small batches. Stacking pads windows on the left,
    which changes no result (padding lies before every window's start).
    Rows without an entity (no device, say) get missing values, not zeros."""
    narrow = [e for e, w in windows.items() if w.width <= STACK_WIDTH]
    groups = [narrow] * bool(narrow) + [[e] for e, w in windows.items() if w.width > STACK_WIDTH]
    out: Columns = {}
    for group in groups:
        out |= _group_features(group, windows, tx)
    return out


def _stacked(arrays: list[np.ndarray], width: int, fill: float) -> np.ndarray:
    """Rows of several (N, K_i) arrays, left-padded to `width`, one under another."""
    if len(arrays) == 1 and arrays[0].shape[1] == width:
        return arrays[0]
    n = len(arrays[0])
    out = np.full((n * len(arrays), width), fill, dtype=arrays[0].dtype)
    for i, a in enumerate(arrays):
        out[i * n : (i + 1) * n, width - a.shape[1] :] = a
    return out


def _attribute_rows(
    triples: list[tuple[int, str, str]], windows: Mapping[str, EntityWindow], n: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """For (entity's place in the group, entity, attribute) triples: the stacked rows each
    block of n codes belongs to, and the attribute codes stacked the same way."""
    at = np.concatenate([np.arange(i * n, (i + 1) * n) for i, _, _ in triples])
    return at, _stacked([windows[e].attributes[a] for _, e, a in triples], k, -1)


def _group_features(
    group: list[str], windows: Mapping[str, EntityWindow], tx: TransactionBatch
) -> Columns:
    n, g = len(tx), len(group)
    k = max(windows[e].width for e in group)
    ts = _stacked([windows[e].ts for e in group], k, int(PAD_TS))
    amount = _stacked([windows[e].amount for e in group], k, 0.0)
    tx_ts, tx_amount = np.concatenate([tx.ts] * g), np.concatenate([tx.amount] * g)
    absent = np.concatenate([tx.code(e) < 0 for e in group])
    rows = np.arange(n * g)[:, None]
    valid = ts != PAD_TS
    # starts[i, j]: first column of row i inside window j (padding sorts first).
    starts = (ts[:, None, :] < (tx_ts[:, None] - SPANS)[:, :, None]).sum(axis=2)
    counts = (k - starts).astype(np.float64)
    totals = _suffix_sums(amount)[rows, starts]
    empty = counts == 0
    gone = empty | absent[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(gone, np.nan, totals / counts)
    running_max = np.maximum.accumulate(np.where(valid, amount, -np.inf)[:, ::-1], axis=1)[:, ::-1]
    peaks = np.where(gone, np.nan, running_max[rows, np.minimum(starts, k - 1)])
    counts[absent] = np.nan
    totals[absent] = np.nan
    small = _suffix_sums(((amount < SMALL_AMOUNT) & valid).astype(np.float64))[
        rows, starts[:, [_W["1h"], _W["24h"]]]
    ]
    small[absent] = np.nan
    since_last = np.where(~empty[:, _W["7d"]], (tx_ts - ts[:, -1]) / 1000.0, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        to_mean = tx_amount / means[:, _W["7d"]]
    in_history = ts >= (tx_ts - HISTORY_MS)[:, None]

    out: Columns = {}
    for i, entity in enumerate(group):
        r = slice(i * n, (i + 1) * n)
        for j, w in enumerate(WINDOWS):
            out[f"{entity}_count_{w}"] = counts[r, j]
            out[f"{entity}_amount_sum_{w}"] = totals[r, j]
            out[f"{entity}_amount_mean_{w}"] = means[r, j]
            out[f"{entity}_amount_max_{w}"] = peaks[r, j]
        out[f"{entity}_seconds_since_last"] = since_last[r]
        out[f"{entity}_amount_to_mean_7d"] = to_mean[r]
        out[f"{entity}_small_amount_count_1h"] = small[r, 0]

    # Distinct values of each attribute (all of the group's in one pass).
    pairs = [(i, e, a) for i, e in enumerate(group) for a in DISTINCT_OF[e]]
    if pairs:
        at, codes = _attribute_rows(pairs, windows, n, k)
        last = _suffix_sums(_last_occurrences(codes).astype(np.float64))
        distinct = last[np.arange(len(at))[:, None], starts[at][:, DISTINCT_COLUMNS]]
        distinct[absent[at]] = np.nan
        for p, (_, e, a) in enumerate(pairs):
            for j, w in enumerate(DISTINCT_WINDOWS):
                out[f"{e}_distinct_{PLURAL[a]}_{w}"] = distinct[p * n : (p + 1) * n, j]

    # First use of an attribute value with this entity within the history.
    firsts = [(i, e, a) for i, e in enumerate(group) for a in FIRST_USE_OF.get(e, ())]
    if firsts:
        at, codes = _attribute_rows(firsts, windows, n, k)
        mine = np.concatenate([tx.code(a) for _, _, a in firsts])
        seen = ((codes == mine[:, None]) & in_history[at]).any(axis=1)
        first = np.where((mine < 0) | absent[at], np.nan, (~seen).astype(np.float64))
        for p, (_, e, a) in enumerate(firsts):
            out[f"{e}_{a}_first_use"] = first[p * n : (p + 1) * n]

    if "card" in group:
        r = slice(group.index("card") * n, (group.index("card") + 1) * n)
        extra = _card_features(windows["card"], tx, out, small[r, 1])
        out.update({name: np.where(absent[r], np.nan, values) for name, values in extra.items()})
    return out


def _card_features(
    win: EntityWindow, tx: TransactionBatch, base: Columns, small_24h: np.ndarray
) -> Columns:
    """Behavioural and geographic features that only the card's history supports."""
    if win.latitude is None or win.longitude is None:
        raise ValueError("the card window must carry locations")
    n, k = win.ts.shape
    rows = np.arange(n)
    valid = win.ts >= (tx.ts - HISTORY_MS)[:, None]
    count = base["card_count_7d"]
    amount = np.where(valid, win.amount, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = base["card_amount_mean_7d"]
        var = np.maximum(_suffix_sums(amount * amount)[:, 0] / count - mean * mean, 0.0)
    std = np.where(count > 0, np.sqrt(var), np.nan)
    out: Columns = {
        "card_amount_std_7d": std,
        "card_amount_zscore_7d": (tx.amount - mean) / np.maximum(std, 1.0),
        "card_small_amount_count_24h": small_24h,
        "card_merchant_count_7d": (
            (win.attributes["merchant"] == tx.code("merchant")[:, None]) & valid
        )
        .sum(axis=1)
        .astype(np.float64),
    }
    lat, lon = win.latitude, win.longitude
    located = valid & ~np.isnan(lat) & ~np.isnan(lon)
    last = np.where(located, np.arange(k), -1).max(axis=1)
    has_last = last >= 0
    idx = np.maximum(last, 0)
    distance = np.where(
        has_last, haversine_km(lat[rows, idx], lon[rows, idx], tx.latitude, tx.longitude), np.nan
    )
    elapsed_s = np.where(has_last, (tx.ts - win.ts[rows, idx]) / 1000.0, np.nan)
    n_located = located.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        c_lat = _suffix_sums(np.where(located, lat, 0.0))[:, 0] / n_located
        c_lon = _suffix_sums(np.where(located, lon, 0.0))[:, 0] / n_located
    country = win.attributes["country"]
    known = (country >= 0) & valid
    last_c = np.where(known, np.arange(k), -1).max(axis=1)
    last_country = country[rows, np.maximum(last_c, 0)]
    mine = tx.code("country")
    out |= {
        "card_distance_from_last_km": distance,
        "card_speed_from_last_kmh": distance / (np.maximum(elapsed_s, 60.0) / 3600.0),
        "card_seconds_since_last_located": elapsed_s,
        "card_distance_from_centroid_km": haversine_km(c_lat, c_lon, tx.latitude, tx.longitude),
        "card_located_count_7d": n_located,
        "card_country_changed": np.where(
            (last_c >= 0) & (mine >= 0), (last_country != mine).astype(np.float64), np.nan
        ),
    }
    return out


def amount_cents(amount: np.ndarray) -> np.ndarray:
    """Amounts in whole cents, as the profiles add them (exact integers in any order)."""
    return np.round(amount * 100.0).astype(np.int64)


def amount_squares(amount: np.ndarray) -> np.ndarray:
    """Squared amounts rounded to whole currency units, as the profiles add them."""
    return np.round(amount * amount).astype(np.int64)


# Columns of a profile read (PROFILE_SUMS), by name.
PROFILE_COLUMN = {name: j for j, name in enumerate(PROFILE_SUMS)}


def profiles_features(sums: Mapping[str, np.ndarray], tx: TransactionBatch) -> Columns:
    """Long-horizon profiles of several entities from their per-day totals (sums: entity ->
    (N, len(PROFILE_SUMS)), the totals over the complete days before each transaction's
    day), stacked in one pass: each numpy call costs microseconds of overhead, which
    dominates the online path's small batches."""
    entities = list(sums)
    n = len(tx)
    absent = np.concatenate([tx.code(e) < 0 for e in entities])
    totals = np.concatenate([sums[e] for e in entities]).astype(np.float64)
    totals[absent] = np.nan
    count = totals[:, PROFILE_COLUMN["count_prev30d"]]
    amount = np.concatenate([tx.amount] * len(entities))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, totals[:, PROFILE_COLUMN["cents"]] / 100.0 / count, np.nan)
        var = np.maximum(totals[:, PROFILE_COLUMN["squares"]] / count - mean * mean, 0.0)
        std = np.where(count > 0, np.sqrt(var), np.nan)
        to_mean = amount / mean
    out: Columns = {}
    for i, entity in enumerate(entities):
        r = slice(i * n, (i + 1) * n)
        for h in PROFILE_DAYS:
            out[f"{entity}_count_{h}"] = totals[r, PROFILE_COLUMN[f"count_{h}"]]
        out[f"{entity}_amount_mean_prev30d"] = mean[r]
        out[f"{entity}_amount_std_prev30d"] = std[r]
        out[f"{entity}_amount_to_mean_prev30d"] = to_mean[r]
    return out


HORIZON_SPANS = np.array(list(LABEL_HORIZONS.values()), dtype=np.int64)
RATE_COLUMNS = [PROFILE_COLUMN[f"count_prev{h}"] for h in LABEL_HORIZONS]


def label_features(
    entity: str, known_at: np.ndarray, tx: TransactionBatch, sums: np.ndarray
) -> Columns:
    """Confirmed-fraud labels known before the transaction (known_at: (N, K) int64, PAD_TS
    padding), counted over each horizon and per transaction of the entity's profile."""
    return labels_features({entity: known_at}, tx, {entity: sums})


def labels_features(
    known_at: Mapping[str, np.ndarray], tx: TransactionBatch, sums: Mapping[str, np.ndarray]
) -> Columns:
    """label_features of several entities, stacked (left-padded) and computed in one pass."""
    entities = list(known_at)
    n = len(tx)
    width = max(known_at[e].shape[1] for e in entities)
    times = _stacked([known_at[e] for e in entities], width, int(PAD_TS))
    ts = np.concatenate([tx.ts] * len(entities))
    present = np.concatenate([tx.code(e) >= 0 for e in entities])
    before = (times >= ts[:, None]).sum(axis=1)
    since = (times[:, None, :] >= (ts[:, None] - HORIZON_SPANS)[:, :, None]).sum(axis=2)
    count = np.where(present[:, None], (since - before[:, None]).astype(np.float64), np.nan)
    seen = np.concatenate([sums[e][:, RATE_COLUMNS] for e in entities]).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(seen > 0, count / seen, np.nan)
    out: Columns = {}
    for i, entity in enumerate(entities):
        r = slice(i * n, (i + 1) * n)
        for j, h in enumerate(LABEL_HORIZONS):
            out[f"{entity}_known_fraud_{h}"] = count[r, j]
            out[f"{entity}_known_fraud_rate_{h}"] = rate[r, j]
    return out


def feature_matrix(columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Stack named columns in catalogue order as float32, the models' input."""
    if n <= SMALL_MATRIX_ROWS:  # one numpy call instead of one per column
        return np.array([columns[name] for name in FEATURE_NAMES], dtype=np.float32).T.copy()
    out = np.empty((n, len(FEATURE_NAMES)), dtype=np.float32)
    for j, name in enumerate(FEATURE_NAMES):
        out[:, j] = columns[name]
    return out


def compute_all(
    tx: TransactionBatch,
    windows: Mapping[str, EntityWindow],
    labels: Mapping[str, np.ndarray],
    profiles: Mapping[str, np.ndarray],
) -> Columns:
    """Every feature for a batch, given every entity's window, label window and profile sums."""
    columns = request_features(tx)
    columns |= entities_features({e: windows[e] for e in ENTITIES}, tx)
    columns |= profiles_features({e: profiles[e] for e in PROFILED_ENTITIES}, tx)
    columns |= labels_features({e: labels[e] for e in LABELLED_ENTITIES}, tx, profiles)
    return columns
