"""The feature catalogue: every feature's name, family and definition, in model order.

`docs/features.md` is generated from this list (`fraud features --out`), and the
compute functions are checked against it, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

# The five entities whose history is kept (in this order), and the request field that names
# each: the vocabulary's.
from vocabulary import ENTITIES, ENTITY_FIELDS

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

WINDOWS: dict[str, int] = {
    "1m": MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "1h": HOUR_MS,
    "24h": DAY_MS,
    "7d": 7 * DAY_MS,
}
DISTINCT_WINDOWS: tuple[str, ...] = ("1h", "24h", "7d")
# An entity's window holds at most this many of its latest transactions, so a hot
# key (a big merchant, a proxy IP) costs bounded memory and time.
MAX_EVENTS = 256
HISTORY_MS = WINDOWS["7d"]
# Confirmed-fraud labels are counted over a longer window: they arrive late.
LABEL_WINDOW_MS = 30 * DAY_MS
MAX_LABELS = 256
SMALL_AMOUNT = 5.0

# For each entity, the other attributes stored with each of its transactions
# whose distinct values are counted ("distinct merchants per card").
DISTINCT_OF: dict[str, tuple[str, ...]] = {
    "card": ("merchant", "device", "ip", "country"),
    "account": ("card", "device", "merchant"),
    "device": ("card", "ip"),
    "ip": ("card", "device"),
    "merchant": ("card",),
}
# "Is this the first time this entity is seen with this attribute" features.
FIRST_USE_OF: dict[str, tuple[str, ...]] = {
    "card": ("merchant", "device", "ip", "country"),
    "device": ("card",),
    "ip": ("card",),
}
LABELLED_ENTITIES: tuple[str, ...] = ("card", "device", "ip", "merchant")
# Horizons over which confirmed-fraud labels are counted, by when they became known.
LABEL_HORIZONS: dict[str, int] = {"1d": DAY_MS, "7d": 7 * DAY_MS, "30d": 30 * DAY_MS}
# Long-horizon profiles: per-day totals (count, amount in cents, amount squared) of an
# entity, summed over the PROFILE_DAYS complete UTC days before the transaction's own day.
# Kept as one small Redis hash per entity, not as raw 30-day windows.
PROFILED_ENTITIES: tuple[str, ...] = LABELLED_ENTITIES
PROFILE_DAYS: dict[str, int] = {"prev1d": 1, "prev7d": 7, "prev30d": 30}
# Columns of a profile read, per transaction: counts over each PROFILE_DAYS horizon, then the
# longest horizon's amount sum (cents) and sum of squared amounts (whole currency units).
PROFILE_SUMS: tuple[str, ...] = (*(f"count_{h}" for h in PROFILE_DAYS), "cents", "squares")
# Attributes stored with every event of an entity's window.
WINDOW_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    entity: tuple(dict.fromkeys(DISTINCT_OF[entity] + FIRST_USE_OF.get(entity, ())))
    for entity in ENTITIES
}

PLURAL = {
    "card": "cards",
    "device": "devices",
    "ip": "ips",
    "merchant": "merchants",
    "country": "countries",
}


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    name: str
    family: str
    definition: str


def _velocity(entity: str) -> list[FeatureSpec]:
    field = ENTITY_FIELDS[entity]
    out: list[FeatureSpec] = []
    for w in WINDOWS:
        scope = f"earlier transactions with the same `{field}` in the last {w} (event time, at most {MAX_EVENTS})"
        out += [
            FeatureSpec(f"{entity}_count_{w}", "velocity", f"number of {scope}"),
            FeatureSpec(f"{entity}_amount_sum_{w}", "velocity", f"sum of amounts of {scope}"),
            FeatureSpec(
                f"{entity}_amount_mean_{w}", "velocity", f"mean amount of {scope}; missing if none"
            ),
            FeatureSpec(
                f"{entity}_amount_max_{w}",
                "velocity",
                f"largest amount of {scope}; missing if none",
            ),
        ]
    for attr in DISTINCT_OF[entity]:
        for w in DISTINCT_WINDOWS:
            out.append(
                FeatureSpec(
                    f"{entity}_distinct_{PLURAL[attr]}_{w}",
                    "device_network" if attr in {"device", "ip", "card"} else "velocity",
                    f"distinct {PLURAL[attr]} among earlier transactions with the same `{field}` in the last {w}",
                )
            )
    out += [
        FeatureSpec(
            f"{entity}_seconds_since_last",
            "behavioural",
            f"seconds since the latest earlier transaction with the same `{field}` (7 d history); missing if none",
        ),
        FeatureSpec(
            f"{entity}_amount_to_mean_7d",
            "behavioural",
            f"amount divided by `{entity}_amount_mean_7d`; missing if no history",
        ),
        FeatureSpec(
            f"{entity}_small_amount_count_1h",
            "velocity",
            f"earlier transactions with the same `{field}` under {SMALL_AMOUNT:g} in the last 1h (card testing)",
        ),
    ]
    for attr in FIRST_USE_OF.get(entity, ()):
        out.append(
            FeatureSpec(
                f"{entity}_{attr}_first_use",
                "device_network" if attr in {"device", "ip", "card"} else "behavioural",
                f"1 if this transaction's {attr} was not seen with this {entity} in its 7 d history, else 0; "
                f"missing if the transaction has no {attr}",
            )
        )
    return out


CARD_EXTRA: tuple[FeatureSpec, ...] = (
    FeatureSpec(
        "card_amount_std_7d",
        "behavioural",
        "standard deviation of the card's amounts in the last 7d",
    ),
    FeatureSpec(
        "card_amount_zscore_7d",
        "behavioural",
        "(amount - card_amount_mean_7d) / card_amount_std_7d, with the deviation floored at 1",
    ),
    FeatureSpec(
        "card_small_amount_count_24h",
        "velocity",
        f"card transactions under {SMALL_AMOUNT:g} in the last 24h",
    ),
    FeatureSpec(
        "card_merchant_count_7d",
        "behavioural",
        "earlier transactions of this card at this merchant in 7d",
    ),
    FeatureSpec(
        "card_distance_from_last_km",
        "geographic",
        "great-circle distance from the card's latest located transaction; missing without both locations",
    ),
    FeatureSpec(
        "card_speed_from_last_kmh",
        "geographic",
        "distance from the last location divided by the time since it (at least one minute): impossible travel",
    ),
    FeatureSpec(
        "card_seconds_since_last_located",
        "geographic",
        "seconds since the card's latest transaction that had a location",
    ),
    FeatureSpec(
        "card_distance_from_centroid_km",
        "geographic",
        "distance from the mean location of the card's located transactions in 7d (its usual area)",
    ),
    FeatureSpec(
        "card_located_count_7d", "geographic", "card transactions with a location in the last 7d"
    ),
    FeatureSpec(
        "card_country_changed",
        "geographic",
        "1 if merchant_country differs from the country of the card's latest transaction, else 0",
    ),
)

REQUEST: tuple[FeatureSpec, ...] = (
    FeatureSpec("amount", "request", "transaction amount"),
    FeatureSpec("amount_log", "request", "natural log of 1 + amount"),
    FeatureSpec("amount_is_round", "request", "1 if the amount is a whole multiple of 10"),
    FeatureSpec(
        "amount_is_small",
        "request",
        f"1 if the amount is under {SMALL_AMOUNT:g} (card-testing size)",
    ),
    FeatureSpec("amount_cents", "request", "the amount's cents (0-99)"),
    FeatureSpec(
        "hour_of_day", "behavioural", "local hour (0-23) in the timestamp's own UTC offset"
    ),
    FeatureSpec("day_of_week", "behavioural", "local day of week, Monday = 0"),
    FeatureSpec("is_weekend", "behavioural", "1 on local Saturday and Sunday"),
    FeatureSpec("is_night", "behavioural", "1 between local 00:00 and 05:59"),
    FeatureSpec("channel_pos", "request", "1 if channel is pos"),
    FeatureSpec("channel_ecommerce", "request", "1 if channel is ecommerce"),
    FeatureSpec("channel_atm", "request", "1 if channel is atm"),
    FeatureSpec(
        "mcc_risk",
        "behavioural",
        "prior risk of the merchant category (features/mcc.py, domain table)",
    ),
    FeatureSpec(
        "mcc_is_cash_like",
        "behavioural",
        "1 for categories that convert to cash or resellable goods",
    ),
    FeatureSpec("has_device", "device_network", "1 if device_id is present"),
    FeatureSpec("has_ip", "device_network", "1 if ip_address is present"),
    FeatureSpec("has_location", "geographic", "1 if latitude and longitude are present"),
    FeatureSpec("has_account", "request", "1 if account_id is present"),
)


def _labels() -> list[FeatureSpec]:
    out: list[FeatureSpec] = []
    for entity in LABELLED_ENTITIES:
        field = ENTITY_FIELDS[entity]
        for h in LABEL_HORIZONS:
            out.append(
                FeatureSpec(
                    f"{entity}_known_fraud_{h}",
                    "labels",
                    f"confirmed-fraud labels on earlier transactions with the same `{field}` that "
                    f"became known (reported) in the last {h}; a label is known at timestamp + label "
                    "delay, at label_reported_at, or when POST /v1/feedback stored it; never the row's own",
                )
            )
        for h in LABEL_HORIZONS:
            out.append(
                FeatureSpec(
                    f"{entity}_known_fraud_rate_{h}",
                    "labels",
                    f"`{entity}_known_fraud_{h}` per transaction of this `{field}` in the {h.removesuffix('d')} "
                    f"complete UTC day(s) before this one (`{entity}_count_prev{h}`); missing if there were none",
                )
            )
    return out


def _profiles() -> list[FeatureSpec]:
    out: list[FeatureSpec] = []
    for entity in PROFILED_ENTITIES:
        field = ENTITY_FIELDS[entity]
        for h, days in PROFILE_DAYS.items():
            out.append(
                FeatureSpec(
                    f"{entity}_count_{h}",
                    "profile",
                    f"transactions with the same `{field}` in the {days} complete UTC day(s) before "
                    "this transaction's day (per-day totals, no cap)",
                )
            )
        scope = f"transactions with the same `{field}` in the 30 complete UTC days before this one"
        out += [
            FeatureSpec(
                f"{entity}_amount_mean_prev30d",
                "profile",
                f"mean amount of {scope}; missing if none",
            ),
            FeatureSpec(
                f"{entity}_amount_std_prev30d",
                "profile",
                f"standard deviation of the amounts of {scope} (squares in whole units); missing if none",
            ),
            FeatureSpec(
                f"{entity}_amount_to_mean_prev30d",
                "profile",
                f"amount divided by `{entity}_amount_mean_prev30d`; missing if no history",
            ),
        ]
    return out


def _catalogue() -> tuple[FeatureSpec, ...]:
    specs: list[FeatureSpec] = list(REQUEST)
    for entity in ENTITIES:
        specs += _velocity(entity)
    specs += CARD_EXTRA
    specs += _profiles()
    specs += _labels()
    return tuple(specs)


FEATURES: tuple[FeatureSpec, ...] = _catalogue()
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
REQUEST_FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in REQUEST)
