"""Seeded synthetic card transactions with labelled fraud scenarios and legitimate look-alikes.

Everything is drawn with numpy in whole arrays, so a million rows take seconds.
Every base rate below is fixed from domain knowledge, never tuned to make the
model look good; a GeneratorConfig (synthetic/config.py) only weighs them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.schema import LABEL_REPORTED_COLUMN
from synthetic.config import GeneratorConfig
from synthetic.world import (
    ATM_MCC,
    CASH_OUT_MCCS,
    CATEGORIES,
    CITIES,
    FRAUD_CITY_NAMES,
    TESTING_MCCS,
)

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

# Incidents per 1,000 card-days. Together they give a fraud rate around 0.6%.
CARD_TESTING_RATE = 0.12
ACCOUNT_TAKEOVER_RATE = 0.38
STOLEN_CARD_RATE = 0.30
HIGH_AMOUNT_RATE = 0.30
LOW_SIGNAL_RATE = 0.60
COMPROMISED_VICTIM_SHARE = 0.35
# The Handbook's simulator (Le Borgne et al.): each day 2 of its 10,000 terminals are
# compromised for 28 days, and 3 of its 5,000 cards for 14 days, during which a third of
# their transactions are fraud at 5 times the amount.
COMPROMISED_TERMINAL_RATE = 0.2  # per 1,000 terminal-days
TERMINAL_COMPROMISE_DAYS = 28
COMPROMISED_CARD_RATE = 0.6  # per 1,000 card-days
CARD_COMPROMISE_DAYS = 14
COMPROMISED_CARD_SHARE = 1 / 3
COMPROMISED_CARD_FACTOR = 5.0
# Spread of a fraud's report delay around the configured mean (lognormal, sigma 0.5:
# 90% of reports come between 0.4 and 2 times the mean).
REPORT_DELAY_SIGMA = 0.5


@dataclass(slots=True)
class Portfolio:
    """Cards and merchants with their fixed attributes, as parallel arrays."""

    card_city: np.ndarray
    card_lat: np.ndarray
    card_lon: np.ndarray
    card_scale: np.ndarray
    card_rate: np.ndarray
    card_ecom: np.ndarray
    card_peak: np.ndarray
    card_account: np.ndarray
    card_device: np.ndarray
    card_device2: np.ndarray
    card_ip: np.ndarray
    card_local: np.ndarray  # (cards, favourite_merchants) preferred local merchants
    card_online: np.ndarray  # (cards, half as many) preferred online merchants
    m_city: np.ndarray
    m_cat: np.ndarray
    m_lat: np.ndarray
    m_lon: np.ndarray
    m_online: np.ndarray
    m_atm: np.ndarray
    city_pools: list[np.ndarray]  # local (non-ATM) merchants per city
    city_atms: list[np.ndarray]
    online_pool: np.ndarray


class _Ids:
    """Hands out fresh integer ids for devices and IPs created along the way."""

    def __init__(self, start: int) -> None:
        self.next = start

    def take(self, n: int) -> np.ndarray:
        out = np.arange(self.next, self.next + n, dtype=np.int64)
        self.next += n
        return out


def _jitter(rng: np.random.Generator, n: int, km: float) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(0.0, km / 111.0, n), rng.normal(0.0, km / 111.0, n)


def _skewed_index(rng: np.random.Generator, size: int | tuple[int, int], n: int) -> np.ndarray:
    """Index into a list of n items where low indices are much more popular."""
    return np.minimum((n * rng.random(size) ** 2.2).astype(np.int64), n - 1)


def build_portfolio(cfg: GeneratorConfig, rng: np.random.Generator) -> Portfolio:
    city_w = np.array([c.weight for c in CITIES])
    city_lat = np.array([c.latitude for c in CITIES])
    city_lon = np.array([c.longitude for c in CITIES])
    local_w = np.array([c.local_weight for c in CATEGORIES])
    online_w = np.array([c.online_weight for c in CATEGORIES])

    # Merchants: every city has shops and ATMs (fraud destinations too).
    local_counts = _local_counts(cfg, city_w)
    atm_counts = np.maximum(3, (city_w * cfg.cards / 400).astype(int))
    n_online = max(60, cfg.cards // 80)
    m_city_parts, m_cat_parts, m_online_parts, m_atm_parts = [], [], [], []
    for ci, (nl, na) in enumerate(zip(local_counts, atm_counts, strict=True)):
        m_city_parts.append(np.full(nl + na, ci))
        m_cat_parts.append(rng.choice(len(CATEGORIES), nl, p=local_w / local_w.sum()))
        m_cat_parts.append(np.full(na, -1))
        m_online_parts.append(np.zeros(nl + na, bool))
        m_atm_parts.append(np.r_[np.zeros(nl, bool), np.ones(na, bool)])
    online_city = rng.choice(len(CITIES), n_online, p=city_w / city_w.sum())
    m_city = np.concatenate([*m_city_parts, online_city])
    m_cat = np.concatenate(
        [*m_cat_parts, rng.choice(len(CATEGORIES), n_online, p=online_w / online_w.sum())]
    )
    m_online = np.concatenate([*m_online_parts, np.ones(n_online, bool)])
    m_atm = np.concatenate([*m_atm_parts, np.zeros(n_online, bool)])
    dlat, dlon = _jitter(rng, len(m_city), 8.0)
    m_lat, m_lon = city_lat[m_city] + dlat, city_lon[m_city] + dlon
    idx = np.arange(len(m_city))
    city_pools = [idx[(m_city == ci) & ~m_online & ~m_atm] for ci in range(len(CITIES))]
    city_atms = [idx[(m_city == ci) & m_atm] for ci in range(len(CITIES))]
    online_pool = idx[m_online]

    n = cfg.cards
    card_city = rng.choice(len(CITIES), n, p=city_w / city_w.sum())
    dlat, dlon = _jitter(rng, n, 12.0)
    n_local, n_web = cfg.favourite_merchants, max(1, cfg.favourite_merchants // 2)
    card_local = np.empty((n, n_local), np.int64)
    for ci, pool in enumerate(city_pools):
        mine = card_city == ci
        card_local[mine] = pool[_skewed_index(rng, (int(mine.sum()), n_local), len(pool))]
    # Accounts: about one in six holds a second card.
    account = np.arange(n)
    shared = rng.random(n) < 0.17
    account[shared] = np.maximum(account[shared] - 1, 0)
    return Portfolio(
        card_city=card_city,
        card_lat=city_lat[card_city] + dlat,
        card_lon=city_lon[card_city] + dlon,
        card_scale=rng.lognormal(0.0, 0.45, n),
        card_rate=rng.gamma(2.0, 0.42, n),
        card_ecom=rng.beta(2.0, 5.0, n),
        card_peak=rng.uniform(9.0, 20.0, n),
        card_account=account,
        card_device=np.arange(n, dtype=np.int64),
        card_device2=np.where(rng.random(n) < 0.3, np.arange(n, 2 * n), np.arange(n)).astype(
            np.int64
        ),
        card_ip=np.arange(n, dtype=np.int64),
        card_local=card_local,
        card_online=online_pool[_skewed_index(rng, (n, n_web), len(online_pool))],
        m_city=m_city,
        m_cat=m_cat,
        m_lat=m_lat,
        m_lon=m_lon,
        m_online=m_online,
        m_atm=m_atm,
        city_pools=city_pools,
        city_atms=city_atms,
        online_pool=online_pool,
    )


def _local_counts(cfg: GeneratorConfig, city_w: np.ndarray) -> np.ndarray:
    """Card-present shops per city: cfg.merchants split by card share, or one per 11 cards."""
    if cfg.merchants is None:
        return np.maximum(15, (city_w * cfg.cards / 11).astype(int))
    floor = min(15, cfg.merchants // len(city_w))
    share = (cfg.merchants - floor * len(city_w)) * city_w / city_w.sum()
    counts = floor + share.astype(int)
    # The largest remainders take the shops rounding left over, so the total is exact.
    short = cfg.merchants - int(counts.sum())
    counts[np.argsort(-(share - share.astype(int)), kind="stable")[:short]] += 1
    return counts


def _frame(
    card: np.ndarray,
    utc_ms: np.ndarray,
    merchant: np.ndarray,
    channel: np.ndarray,
    amount: np.ndarray,
    device: np.ndarray,
    ip: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    offset_min: np.ndarray,
    fraud: int,
    scenario: str | np.ndarray,
) -> dict[str, np.ndarray]:
    n = len(card)
    return {
        "card": card.astype(np.int64),
        "utc_ms": utc_ms.astype(np.int64),
        "merchant": merchant.astype(np.int64),
        "channel": channel.astype(np.int8),
        "amount": np.round(np.clip(amount, 0.01, 1_000_000.0), 2),
        "device": device.astype(np.int64),
        "ip": ip.astype(np.int64),
        "lat": lat.astype(np.float64),
        "lon": lon.astype(np.float64),
        "offset": offset_min.astype(np.int64),
        "is_fraud": np.full(n, fraud, np.int8),
        "scenario": np.broadcast_to(np.asarray(scenario, dtype=object), (n,)).copy(),
    }


POS, ECOM, ATM = 0, 1, 2
CHANNELS = np.array(["pos", "ecommerce", "atm"], dtype=object)
_MEDIANS = np.array([c.median_amount for c in CATEGORIES])
_OFFSETS = np.array([c.utc_offset_minutes for c in CITIES])


def _normal_spend(
    p: Portfolio, rng: np.random.Generator, card: np.ndarray, utc_ms: np.ndarray, ids: _Ids
) -> dict[str, np.ndarray]:
    """Everyday spending of the given cards at the given times."""
    n = len(card)
    u = rng.random(n)
    channel = np.where(u < 0.03, ATM, np.where(u < 0.03 + p.card_ecom[card] * 0.97, ECOM, POS))
    local = p.card_local[card, _skewed_index(rng, n, p.card_local.shape[1])]
    online = np.where(
        rng.random(n) < 0.9,
        p.card_online[card, _skewed_index(rng, n, p.card_online.shape[1])],
        p.online_pool[rng.integers(0, len(p.online_pool), n)],
    )
    atm = np.empty(n, np.int64)
    for ci, pool in enumerate(p.city_atms):
        mine = p.card_city[card] == ci
        atm[mine] = pool[rng.integers(0, len(pool), int(mine.sum()))]
    merchant = np.where(channel == POS, local, np.where(channel == ECOM, online, atm))
    amount = _MEDIANS[p.m_cat[merchant]] * p.card_scale[card] * rng.lognormal(0.0, 0.65, n)
    atm_amount = rng.choice([20, 40, 60, 80, 100, 200, 300], n) * 1.0
    amount = np.where(channel == ATM, atm_amount, amount)
    ecom = channel == ECOM
    device = np.where(
        ecom, np.where(rng.random(n) < 0.9, p.card_device[card], p.card_device2[card]), -1
    )
    mobile = ids.take(n)
    ip = np.where(ecom, np.where(rng.random(n) < 0.8, p.card_ip[card], mobile), -1)
    dlat, dlon = _jitter(rng, n, 3.0)
    geo_ecom = ecom & (rng.random(n) < 0.5)
    lat = np.where(ecom, np.where(geo_ecom, p.card_lat[card] + dlat, np.nan), p.m_lat[merchant])
    lon = np.where(ecom, np.where(geo_ecom, p.card_lon[card] + dlon, np.nan), p.m_lon[merchant])
    offset = np.where(ecom, _OFFSETS[p.card_city[card]], _OFFSETS[p.m_city[merchant]])
    return _frame(card, utc_ms, merchant, channel, amount, device, ip, lat, lon, offset, 0, "")


def _local_times(p: Portfolio, rng: np.random.Generator, card: np.ndarray, days: int) -> np.ndarray:
    """UTC milliseconds following each card's daily rhythm in its home time zone."""
    n = len(card)
    day = rng.integers(0, days, n)
    hour = np.mod(rng.normal(p.card_peak[card], 3.6), 24.0)
    local_ms = day * DAY_MS + (hour * HOUR_MS).astype(np.int64)
    return local_ms - _OFFSETS[p.card_city[card]] * MINUTE_MS


def _incidents(rng: np.random.Generator, cfg: GeneratorConfig, rate: float) -> int:
    return int(rng.poisson(rate * cfg.cards * cfg.days / 1000.0))


def _merchants_of(p: Portfolio, pool: np.ndarray, mccs: tuple[str, ...]) -> np.ndarray:
    wanted = [i for i, c in enumerate(CATEGORIES) if c.mcc in mccs]
    picked = pool[np.isin(p.m_cat[pool], wanted)]
    return picked if len(picked) else pool


def _in_city(
    p: Portfolio, rng: np.random.Generator, city: np.ndarray, cash_out: bool
) -> np.ndarray:
    out = np.empty(len(city), np.int64)
    for ci in np.unique(city):
        mine = city == ci
        pool = p.city_pools[ci]
        if cash_out:
            pool = _merchants_of(p, pool, CASH_OUT_MCCS)
        out[mine] = pool[rng.integers(0, len(pool), int(mine.sum()))]
    return out


def _far_city(p: Portfolio, rng: np.random.Generator, card: np.ndarray, fraud: bool) -> np.ndarray:
    names = [c.name for c in CITIES]
    choices = (
        np.array([names.index(n) for n in FRAUD_CITY_NAMES]) if fraud else np.arange(len(CITIES))
    )
    city = choices[rng.integers(0, len(choices), len(card))]
    same = city == p.card_city[card]
    city[same] = (city[same] + 7) % len(CITIES)
    return city


def generate(cfg: GeneratorConfig) -> pd.DataFrame:
    """Return the transactions in the data contract's columns, sorted by event time."""
    rng = np.random.default_rng(cfg.seed)
    p = build_portfolio(cfg, rng)
    ids = _Ids(start=10 * cfg.cards)
    span = cfg.days * DAY_MS
    parts: list[dict[str, np.ndarray]] = []

    # Everyday spending.
    per_card = rng.poisson(p.card_rate * cfg.days)
    card = np.repeat(np.arange(cfg.cards), per_card)
    legit = _normal_spend(p, rng, card, _local_times(p, rng, card, cfg.days), ids)

    # Look-alike: trips. Card-present spending moves to another city for days.
    n = cfg.cards
    travels = rng.random(n) < 0.04
    trip_start = rng.integers(0, span, n)
    trip_end = trip_start + rng.integers(2, 10, n) * DAY_MS
    trip_city = _far_city(p, rng, np.arange(n), fraud=False)
    c = legit["card"]
    on_trip = (
        travels[c]
        & (legit["utc_ms"] >= trip_start[c])
        & (legit["utc_ms"] < trip_end[c])
        & (legit["channel"] != ECOM)
    )
    moved = _in_city(p, rng, trip_city[c[on_trip]], cash_out=False)
    legit["merchant"][on_trip] = moved
    legit["channel"][on_trip] = POS
    legit["lat"][on_trip] = p.m_lat[moved]
    legit["lon"][on_trip] = p.m_lon[moved]
    legit["offset"][on_trip] = _OFFSETS[p.m_city[moved]]
    legit["scenario"][on_trip] = "legit_travel"

    # Look-alike: a new phone. E-commerce after the switch uses a new device.
    switches = rng.random(n) < 0.06
    switch_at = rng.integers(0, span, n)
    new_device = ids.take(n)
    after = switches[c] & (legit["utc_ms"] >= switch_at[c]) & (legit["channel"] == ECOM)
    legit["device"][after] = new_device[c[after]]
    legit["scenario"][after] = "legit_new_device"
    parts.append(legit)

    # Look-alike: a one-off big purchase (flights, a laptop, jewellery).
    k = _incidents(rng, cfg, 0.25)
    card = rng.integers(0, n, k)
    big = _normal_spend(p, rng, card, _local_times(p, rng, card, cfg.days), ids)
    big_pool = _merchants_of(p, p.online_pool, ("4511", "5732", "5944", "7011"))
    big["merchant"] = big_pool[rng.integers(0, len(big_pool), k)]
    big["channel"][:] = ECOM
    big["device"] = p.card_device[card]
    big["ip"] = p.card_ip[card]
    big["amount"] = np.round(p.card_scale[card] * rng.uniform(500, 2500, k), 2)
    big["scenario"][:] = "legit_big_purchase"
    parts.append(big)

    parts += _card_testing(p, rng, cfg, ids)
    parts.append(_account_takeover(p, rng, cfg, ids))
    parts.append(_stolen_card(p, rng, cfg, legit))
    parts.append(_compromised_merchant(p, rng, cfg, legit, ids))

    # High-amount outliers: a single large charge, often with the card's own device.
    k = _incidents(rng, cfg, HIGH_AMOUNT_RATE * cfg.weight("high_amount"))
    card = rng.integers(0, n, k)
    hi = _normal_spend(p, rng, card, rng.integers(0, span, k), ids)
    pool = _merchants_of(p, p.online_pool, CASH_OUT_MCCS)
    hi["merchant"] = pool[rng.integers(0, len(pool), k)]
    hi["channel"][:] = ECOM
    hi["device"] = np.where(rng.random(k) < 0.5, p.card_device[card], ids.take(k))
    hi["ip"] = np.where(rng.random(k) < 0.5, p.card_ip[card], ids.take(k))
    hi["amount"] = np.round(p.card_scale[card] * rng.uniform(700, 4000, k), 2)
    hi["is_fraud"][:] = 1
    hi["scenario"][:] = "high_amount"
    parts.append(hi)

    # Low-signal fraud: indistinguishable from the card's everyday spending.
    k = _incidents(rng, cfg, LOW_SIGNAL_RATE * cfg.weight("low_signal"))
    card = rng.integers(0, n, k)
    low = _normal_spend(p, rng, card, _local_times(p, rng, card, cfg.days), ids)
    low["is_fraud"][:] = 1
    low["scenario"][:] = "low_signal"
    parts.append(low)

    # The Handbook mechanics relabel rows already drawn, so they run on the whole history.
    cols = _in_period(cfg, parts)
    _compromised_terminal(p, rng, cfg, cols)
    _compromised_card(rng, cfg, cols)
    if cfg.label_delay_days is not None:
        cols["reported"] = _report_times(rng, cfg.label_delay_days, cols)
    return _to_contract(cfg, p, cols)


def _card_testing(
    p: Portfolio, rng: np.random.Generator, cfg: GeneratorConfig, ids: _Ids
) -> list[dict[str, np.ndarray]]:
    """Bursts of tiny e-commerce charges from a ring's devices, then maybe a cash-out."""
    k = _incidents(rng, cfg, CARD_TESTING_RATE * cfg.weight("card_testing"))
    ring_devices, ring_ips = ids.take(40), ids.take(60)
    testable = _merchants_of(p, p.online_pool, TESTING_MCCS)[:6]
    victim = rng.integers(0, cfg.cards, k)
    sizes = rng.integers(4, 26, k)
    inc = np.repeat(np.arange(k), sizes)
    t0 = rng.integers(0, cfg.days * DAY_MS, k)
    gaps = rng.exponential(45_000, len(inc)).astype(np.int64)
    starts = np.cumsum(sizes) - sizes
    cum = np.cumsum(gaps)
    utc = t0[inc] + cum - cum[starts][inc]
    m_inc = testable[rng.integers(0, len(testable), k)]
    merchant = np.where(
        rng.random(len(inc)) < 0.7, m_inc[inc], testable[rng.integers(0, len(testable), len(inc))]
    )
    dev = ring_devices[rng.integers(0, len(ring_devices), k)][inc]
    ip = np.where(rng.random(k) < 0.7, ring_ips[rng.integers(0, len(ring_ips), k)], ids.take(k))[
        inc
    ]
    nan = np.full(len(inc), np.nan)
    tests = _frame(
        victim[inc],
        utc,
        merchant,
        np.full(len(inc), ECOM),
        rng.uniform(0.5, 4.99, len(inc)),
        dev,
        ip,
        nan,
        nan,
        np.zeros(len(inc)),
        1,
        "card_testing",
    )
    cash = rng.random(k) < 0.5
    kc = int(cash.sum())
    ends = utc[starts + sizes - 1][cash] + rng.integers(10, 120, kc) * MINUTE_MS
    pool = _merchants_of(p, p.online_pool, CASH_OUT_MCCS)
    nan = np.full(kc, np.nan)
    cash_out = _frame(
        victim[cash],
        ends,
        pool[rng.integers(0, len(pool), kc)],
        np.full(kc, ECOM),
        rng.uniform(150, 1500, kc),
        dev[starts][cash],
        ip[starts][cash],
        nan,
        nan,
        np.zeros(kc),
        1,
        "card_testing",
    )
    return [tests, cash_out]


def _account_takeover(
    p: Portfolio, rng: np.random.Generator, cfg: GeneratorConfig, ids: _Ids
) -> dict[str, np.ndarray]:
    """A new device and IP far from home spending big on resellable goods."""
    k = _incidents(rng, cfg, ACCOUNT_TAKEOVER_RATE * cfg.weight("account_takeover"))
    victim = rng.integers(0, cfg.cards, k)
    sizes = rng.integers(1, 6, k)
    inc = np.repeat(np.arange(k), sizes)
    utc = rng.integers(0, cfg.days * DAY_MS, k)[inc] + rng.integers(0, 6 * HOUR_MS, len(inc))
    city = _far_city(p, rng, victim, fraud=True)[inc]
    pool = _merchants_of(p, p.online_pool, CASH_OUT_MCCS)
    merchant = pool[rng.integers(0, len(pool), len(inc))]
    amount = (
        _MEDIANS[p.m_cat[merchant]] * p.card_scale[victim[inc]] * rng.uniform(2.0, 8.0, len(inc))
    )
    device = ids.take(k)[inc]
    ip = ids.take(k)[inc]
    clat = np.array([c.latitude for c in CITIES])[city]
    clon = np.array([c.longitude for c in CITIES])[city]
    geo = rng.random(len(inc)) < 0.6
    return _frame(
        victim[inc],
        utc,
        merchant,
        np.full(len(inc), ECOM),
        amount,
        device,
        ip,
        np.where(geo, clat, np.nan),
        np.where(geo, clon, np.nan),
        _OFFSETS[city],
        1,
        "account_takeover",
    )


def _stolen_card(
    p: Portfolio, rng: np.random.Generator, cfg: GeneratorConfig, legit: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """A cloned card used in person in another country, hours after a genuine purchase."""
    k = _incidents(rng, cfg, STOLEN_CARD_RATE * cfg.weight("stolen_card"))
    present = np.flatnonzero(legit["channel"] == POS)
    anchor = present[rng.integers(0, len(present), k)]
    victim = legit["card"][anchor]
    sizes = rng.integers(2, 8, k)
    inc = np.repeat(np.arange(k), sizes)
    t0 = legit["utc_ms"][anchor] + rng.integers(20 * MINUTE_MS, 4 * HOUR_MS, k)
    utc = t0[inc] + rng.integers(0, 8 * HOUR_MS, len(inc))
    city = _far_city(p, rng, victim, fraud=True)[inc]
    at_atm = rng.random(len(inc)) < 0.3
    merchant = _in_city(p, rng, city, cash_out=True)
    for ci in np.unique(city[at_atm]):
        mine = at_atm & (city == ci)
        merchant[mine] = p.city_atms[ci][rng.integers(0, len(p.city_atms[ci]), int(mine.sum()))]
    cat = np.maximum(p.m_cat[merchant], 0)
    amount = np.where(
        at_atm,
        rng.choice([200.0, 300.0, 400.0, 500.0], len(inc)),
        _MEDIANS[cat] * rng.uniform(1.5, 5.0, len(inc)),
    )
    none = np.full(len(inc), -1)
    return _frame(
        victim[inc],
        utc,
        merchant,
        np.where(at_atm, ATM, POS),
        amount,
        none,
        none,
        p.m_lat[merchant],
        p.m_lon[merchant],
        _OFFSETS[city],
        1,
        "stolen_card",
    )


def _compromised_merchant(
    p: Portfolio,
    rng: np.random.Generator,
    cfg: GeneratorConfig,
    legit: dict[str, np.ndarray],
    ids: _Ids,
) -> dict[str, np.ndarray]:
    """Skimmed cards: cards that shopped at a breached merchant are defrauded days later."""
    local = np.flatnonzero(~p.m_online & ~p.m_atm)
    weight = cfg.weight("compromised_merchant")
    # The weight scales the number of breaches, at least one while the scenario is on.
    n_breached = min(len(local), max(1, round(len(local) // 150 * weight))) if weight else 0
    # Breaches hit busy shops: pick among the most visited merchants.
    visits = np.bincount(legit["merchant"], minlength=len(p.m_city))[local]
    busy = local[np.argsort(-visits, kind="stable")[: max(n_breached * 5, 10)]]
    breached = rng.choice(busy, n_breached, replace=False)
    w0 = rng.integers(0, max(1, cfg.days - 20), n_breached) * DAY_MS
    pos = np.isin(legit["merchant"], breached)
    which = np.searchsorted(np.sort(breached), legit["merchant"][pos])
    order = np.argsort(breached)
    start = w0[order][which]
    t = legit["utc_ms"][pos]
    in_window = (t >= start) & (t < start + 10 * DAY_MS)
    cards, first = np.unique(legit["card"][pos][in_window], return_index=True)
    visit_t = t[in_window][first]
    hit = rng.random(len(cards)) < COMPROMISED_VICTIM_SHARE
    victim, visit_t = cards[hit], visit_t[hit]
    k = len(victim)
    sizes = rng.integers(1, 5, k)
    inc = np.repeat(np.arange(k), sizes)
    utc = (visit_t + rng.integers(2 * DAY_MS, 20 * DAY_MS, k))[inc] + rng.integers(
        0, 12 * HOUR_MS, len(inc)
    )
    online = rng.random(k) < 0.6
    city = _far_city(p, rng, victim, fraud=True)
    cloned = _in_city(p, rng, city[inc], cash_out=True)
    pool = _merchants_of(p, p.online_pool, CASH_OUT_MCCS)
    web = pool[rng.integers(0, len(pool), len(inc))]
    on = online[inc]
    merchant = np.where(on, web, cloned)
    amount = _MEDIANS[p.m_cat[merchant]] * rng.uniform(1.5, 6.0, len(inc))
    device = np.where(on, ids.take(k)[inc], -1)
    ip = np.where(on, ids.take(k)[inc], -1)
    return _frame(
        victim[inc],
        utc,
        merchant,
        np.where(on, ECOM, POS),
        amount,
        device,
        ip,
        np.where(on, np.nan, p.m_lat[merchant]),
        np.where(on, np.nan, p.m_lon[merchant]),
        np.where(on, 0, _OFFSETS[city[inc]]),
        1,
        "compromised_merchant",
    )


def _in_windows(
    key: np.ndarray, t: np.ndarray, event_key: np.ndarray, event_start: np.ndarray, length: int
) -> np.ndarray:
    """Rows whose key had an event that started at or before t and less than length ago.

    Times are non-negative. Every window has the same length, so the latest event of the
    row's key at or before t is the one that could still be open.
    """
    if len(event_key) == 0:
        return np.zeros(len(key), bool)
    stride = int(max(t.max(initial=0), event_start.max())) + 1
    events = np.sort(event_key.astype(np.int64) * stride + event_start)
    latest = np.searchsorted(events, key.astype(np.int64) * stride + t, side="right") - 1
    found = np.maximum(latest, 0)
    return (latest >= 0) & (events[found] // stride == key) & (t < events[found] % stride + length)


def _compromised_terminal(
    p: Portfolio, rng: np.random.Generator, cfg: GeneratorConfig, cols: dict[str, np.ndarray]
) -> None:
    """Breached terminals: every transaction at one in the 28 days after its breach is fraud.

    The rows stay as they were drawn (the cardholders shop as usual); only the label changes.
    Terminals are the card-present shops and ATMs, breached uniformly as in the Handbook, so
    most breaches hit quiet shops and a few busy ones make most of the fraud; a breach starts
    at the start of a day.
    """
    terminals = np.flatnonzero(~p.m_online)
    expected = COMPROMISED_TERMINAL_RATE * cfg.weight("compromised_terminal")
    k = int(rng.poisson(expected * len(terminals) * cfg.days / 1000.0))
    if k == 0:
        return
    breached = terminals[rng.integers(0, len(terminals), k)]
    start = rng.integers(0, cfg.days, k) * DAY_MS
    hit = _in_windows(
        cols["merchant"], cols["utc_ms"], breached, start, TERMINAL_COMPROMISE_DAYS * DAY_MS
    ) & (cols["is_fraud"] == 0)
    cols["is_fraud"][hit] = 1
    cols["scenario"][hit] = "compromised_terminal"


def _compromised_card(
    rng: np.random.Generator, cfg: GeneratorConfig, cols: dict[str, np.ndarray]
) -> None:
    """Compromised cards: for 14 days a third of a card's transactions are fraud at 5x the amount.

    Each compromise starts at the start of a day; the chosen rows keep their time, merchant,
    channel and device, so only the amount gives them away.
    """
    expected = COMPROMISED_CARD_RATE * cfg.weight("compromised_card")
    k = int(rng.poisson(expected * cfg.cards * cfg.days / 1000.0))
    if k == 0:
        return
    card = rng.integers(0, cfg.cards, k)
    start = rng.integers(0, cfg.days, k) * DAY_MS
    window = _in_windows(cols["card"], cols["utc_ms"], card, start, CARD_COMPROMISE_DAYS * DAY_MS)
    open_rows = np.flatnonzero(window & (cols["is_fraud"] == 0))
    hit = open_rows[rng.random(len(open_rows)) < COMPROMISED_CARD_SHARE]
    cols["amount"][hit] = np.round(
        np.minimum(cols["amount"][hit] * COMPROMISED_CARD_FACTOR, 1_000_000.0), 2
    )
    cols["is_fraud"][hit] = 1
    cols["scenario"][hit] = "compromised_card"


def _report_times(
    rng: np.random.Generator, mean_days: float, cols: dict[str, np.ndarray]
) -> np.ndarray:
    """When each fraud was reported (ms, -1 for legitimate rows): a lognormal delay of that mean."""
    fraud = np.flatnonzero(cols["is_fraud"] == 1)
    spread = rng.lognormal(-(REPORT_DELAY_SIGMA**2) / 2, REPORT_DELAY_SIGMA, len(fraud))
    reported = np.full(len(cols["utc_ms"]), -1, np.int64)
    reported[fraud] = cols["utc_ms"][fraud] + np.ceil(mean_days * DAY_MS * spread).astype(np.int64)
    return reported


def _ipv4(codes: np.ndarray) -> np.ndarray:
    """Stable public-looking IPv4 strings for integer ids (None for -1)."""
    uniq, inv = np.unique(codes, return_inverse=True)
    mixed = (uniq.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(3_500_000_000)
    mixed = mixed + np.uint64(400_000_000)
    text = np.array(
        [
            None if u < 0 else f"{m >> 24 & 255}.{m >> 16 & 255}.{m >> 8 & 255}.{m & 255}"
            for u, m in zip(uniq, mixed.tolist(), strict=True)
        ],
        dtype=object,
    )
    return text[inv]


def _prefixed(prefix: str, codes: np.ndarray, width: int) -> np.ndarray:
    uniq, inv = np.unique(codes, return_inverse=True)
    text = np.array(
        [None if u < 0 else f"{prefix}{u:0{width}d}" for u in uniq.tolist()], dtype=object
    )
    return text[inv]


def _rfc3339(utc_ms: np.ndarray, offset_min: np.ndarray) -> np.ndarray:
    local = (utc_ms + offset_min * MINUTE_MS).astype("datetime64[ms]")
    body = np.datetime_as_string(local, unit="ms").astype(object)
    suffix = np.array(
        [
            "Z" if o == 0 else f"{'+' if o > 0 else '-'}{abs(o) // 60:02d}:{abs(o) % 60:02d}"
            for o in range(-720, 841)
        ],
        dtype=object,
    )[offset_min + 720]
    return body + suffix


def _utc_seconds(utc_ms: np.ndarray) -> np.ndarray:
    """RFC 3339 UTC strings rounded up to the second (None for -1)."""
    seconds = (-(-utc_ms // 1000)).astype("datetime64[s]")
    text = np.datetime_as_string(seconds, unit="s").astype(object) + "Z"
    text[utc_ms < 0] = None
    return text


def _in_period(cfg: GeneratorConfig, parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The parts' rows as one set of columns, without those drawn outside the period."""
    cols = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
    keep = (cols["utc_ms"] >= 0) & (cols["utc_ms"] < cfg.days * DAY_MS)
    return {k: v[keep] for k, v in cols.items()}


def _to_contract(cfg: GeneratorConfig, p: Portfolio, cols: dict[str, np.ndarray]) -> pd.DataFrame:
    order = np.argsort(cols["utc_ms"], kind="stable")
    cols = {k: v[order] for k, v in cols.items()}
    base_ms = int(cfg.start.timestamp() * 1000)
    merchant = cols["merchant"]
    mcc = np.array([c.mcc for c in CATEGORIES] + [ATM_MCC], dtype=object)[p.m_cat[merchant]]
    country = np.array([c.country for c in CITIES], dtype=object)[p.m_city[merchant]]
    currency = np.array([c.currency for c in CITIES], dtype=object)[p.m_city[merchant]]
    n = len(merchant)
    reported = {}
    if "reported" in cols:
        reported[LABEL_REPORTED_COLUMN] = _utc_seconds(
            np.where(cols["reported"] >= 0, cols["reported"] + base_ms, -1)
        )
    return pd.DataFrame(
        {
            "transaction_id": [f"tx_{i:09d}" for i in range(n)],
            "timestamp": _rfc3339(cols["utc_ms"] + base_ms, cols["offset"]),
            "amount": cols["amount"],
            "currency": currency,
            "card_id": _prefixed("card_", cols["card"], 7),
            "account_id": _prefixed("acct_", p.card_account[cols["card"]], 7),
            "merchant_id": _prefixed("m_", merchant, 6),
            "merchant_category": mcc,
            "merchant_country": country,
            "channel": CHANNELS[cols["channel"]],
            "device_id": _prefixed("dev_", cols["device"], 8),
            "ip_address": _ipv4(cols["ip"]),
            "latitude": np.round(cols["lat"], 5),
            "longitude": np.round(cols["lon"], 5),
            "is_fraud": cols["is_fraud"],
            **reported,
            "scenario": cols["scenario"],
        }
    )
