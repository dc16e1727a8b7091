"""Feature ablation on validation: XGBoost refitted with one group of features removed at a
time, to see which groups earn their place (issue 27), and the runs of several seeds and
presets summed up.

A group is a feature family of features/definitions.py (every feature in exactly one), a
velocity entity (the velocity family split by the entity it counts), the calendar subset
of the behavioural family, or a single feature asked for by name. Removed means absent from the matrix the model is fitted
on, so no tree can split on it: a zero feature weight or column sampling would still let
it in. Every fit uses the engine's chosen hyper-parameters and seed, early stopping on
validation, and is scored by validation average precision; the test split is never read.
How much a delta means is measured in the same run: the full feature set refitted with
another seed moves validation AP by chance alone, and a group whose removal moves it by
no more than that is within noise.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import xgboost as xgb
from sklearn.metrics import average_precision_score

from ensemble import markdown
from ensemble.chunks import CHUNK_ROWS, Parts, parts
from ensemble.progress import Progress
from ensemble.protocol import Spread, spread
from ensemble.search import Fixed, HyperParams, fit_xgboost
from features.definitions import ENTITIES, FEATURE_NAMES, FEATURES, FeatureSpec

# The behavioural features that only read the clock: worth a group of their own, since a
# history's calendar effects are the likeliest to be an artefact of its generator.
CALENDAR: tuple[str, ...] = ("hour_of_day", "day_of_week", "is_weekend", "is_night")

EARNS = "earns its place"  # removing it lowers validation AP by more than the seed noise
NOISE = "within noise"
HELPS = "removing it helps"  # removing it raises validation AP by more than the seed noise


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    kind: str  # "family", "velocity entity", "subset" or "feature"
    features: tuple[str, ...]


def groups(features: Sequence[FeatureSpec] = FEATURES) -> tuple[Group, ...]:
    """The families (in catalogue order), then velocity per entity, then the calendar."""
    families = dict.fromkeys(f.family for f in features)
    velocity = [f.name for f in features if f.family == "velocity"]
    return (
        *(
            Group(family, "family", tuple(f.name for f in features if f.family == family))
            for family in families
        ),
        *(
            Group(
                f"velocity: {entity}",
                "velocity entity",
                tuple(n for n in velocity if n.startswith(f"{entity}_")),
            )
            for entity in ENTITIES
        ),
        Group("behavioural: calendar", "subset", CALENDAR),
    )


def single(features: Iterable[str], names: Sequence[str] = FEATURE_NAMES) -> tuple[Group, ...]:
    """A group of one feature for each of `features`: the drill-down into a family whose
    effect matters."""
    features = tuple(features)
    kept_columns(features, names)  # refuses a name that is not a feature
    return tuple(Group(name, "feature", (name,)) for name in features)


def kept_columns(removed: Iterable[str], names: Sequence[str] = FEATURE_NAMES) -> np.ndarray:
    """The column indices of `names` not in `removed`, in model order."""
    gone = set(removed)
    unknown = gone - set(names)
    if unknown:
        raise ValueError(f"not features of the model: {sorted(unknown)}")
    return np.array([i for i, n in enumerate(names) if n not in gone], dtype=np.intp)


def fit_without(
    removed: Iterable[str],
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    hp: HyperParams,
    fixed: Fixed,
    progress: Progress,
    names: Sequence[str] = FEATURE_NAMES,
    chunk_rows: int = CHUNK_ROWS,
    label: str = "ablation",
    weights: np.ndarray | None = None,
) -> tuple[xgb.Booster, float]:
    """XGBoost fitted on the float32 (x, y) `train` without the features `removed`, and its
    validation average precision. `weights`: the training rows' (the chosen row choice's)."""
    keep = kept_columns(removed, names)
    kept = [names[i] for i in keep]
    (x, y), (x_val, y_val) = train, validation

    def load(part: slice) -> dict[str, Any]:
        return {"data": x[part][:, keep], "label": y[part], "feature_names": kept}

    matrix = xgb.QuantileDMatrix(
        Parts(list(parts(slice(0, len(x)), chunk_rows)), load),
        missing=np.nan,
        nthread=fixed.threads,
    )
    held_out = xgb.DMatrix(x_val[:, keep], label=y_val, missing=np.nan, feature_names=kept)
    booster = fit_xgboost(hp, fixed, matrix, held_out, progress, label, weights)
    return booster, float(average_precision_score(y_val, booster.predict(held_out)))


def _verdict(delta: float, tolerance: float) -> str:
    return EARNS if delta < -tolerance else HELPS if delta > tolerance else NOISE


def ablate(
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    hp: HyperParams,
    fixed: Fixed,
    full_average_precision: float,
    progress: Progress,
    chosen: Sequence[Group] | None = None,
    names: Sequence[str] = FEATURE_NAMES,
    chunk_rows: int = CHUNK_ROWS,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """Each group of `chosen` (default: all) removed in turn, and the full feature set with
    seed + 1, as the manifest records them. `full_average_precision`: the engine's model's
    (the search's chosen trial), which each delta is against."""

    def fit(removed: tuple[str, ...], with_fixed: Fixed, label: str) -> dict[str, Any]:
        began = time.perf_counter()
        booster, ap = fit_without(
            removed, train, validation, hp, with_fixed, progress, names, chunk_rows, label, weights
        )
        return {
            "validation_average_precision": ap,
            "delta": ap - full_average_precision,
            "trees": booster.num_boosted_rounds(),
            "seconds": round(time.perf_counter() - began, 2),
        }

    reseeded = Fixed(fixed.n_estimators, fixed.early_stopping_rounds, fixed.seed + 1, fixed.threads)
    noise = {"seed": reseeded.seed, **fit((), reseeded, "ablation: all features, seed + 1")}
    tolerance = abs(noise["delta"])
    removals = []
    for group in groups() if chosen is None else chosen:
        result = fit(group.features, fixed, f"ablation: without {group.name}")
        removals.append(
            {"group": group.name, "kind": group.kind, "features": list(group.features)}
            | result
            | {"verdict": _verdict(result["delta"], tolerance)}
        )
    return {
        "metric": "validation average precision (XGBoost alone, the chosen hyper-parameters)",
        "params": asdict(hp) | {"seed": fixed.seed},
        "full_validation_average_precision": full_average_precision,
        "seed_noise": noise,
        "tolerance": tolerance,
        "groups": removals,
    }


@dataclass(frozen=True, slots=True)
class GroupSpread(Spread):
    """One group on one preset: its deltas' spread over the seeds, and whether it earned its
    place on every seed (removing it lowered validation AP by more than that run's noise)."""

    earns: bool


def summarise(
    runs: Iterable[tuple[str, dict[str, Any]]],
) -> dict[str, dict[str, GroupSpread]]:
    """Group -> preset -> the spread of its deltas, from (preset, manifest `ablation`) pairs
    (one per seed), groups in the order first met."""
    deltas: dict[str, dict[str, list[tuple[float, bool]]]] = {}
    for preset, ablation in runs:
        for g in ablation["groups"]:
            earned = g["delta"] < -ablation["tolerance"]
            deltas.setdefault(g["group"], {}).setdefault(preset, []).append((g["delta"], earned))
    return {
        group: {
            preset: GroupSpread(**asdict(_spread(seen)), earns=all(e for _, e in seen))
            for preset, seen in by_preset.items()
        }
        for group, by_preset in deltas.items()
    }


def _spread(seen: list[tuple[float, bool]]) -> Spread:
    found = spread(d for d, _ in seen)
    assert found is not None  # a group is listed only where a seed ablated it
    return found


def verdict(by_preset: dict[str, GroupSpread], presets: Sequence[str]) -> str:
    """Whether a group earns its place on every preset, on some (named) or on none; a preset
    the group was not ablated on does not count as earned."""
    earned = [p for p in presets if p in by_preset and by_preset[p].earns]
    if len(earned) == len(presets):
        return "every preset"
    return f"some: {', '.join(earned)}" if earned else "none"


def summary_table(runs: Iterable[tuple[str, dict[str, Any]]]) -> str:
    """The markdown table of `summarise`: a row per group, a column per preset (mean delta
    of validation AP with the group removed, and min to max over seeds), and where the
    group earns its place."""
    runs = list(runs)
    presets = list(dict.fromkeys(preset for preset, _ in runs))
    spreads = summarise(runs)
    cells = [
        [
            group,
            *(
                f"{s.mean:+.4f} ({s.low:+.4f} to {s.high:+.4f}, {s.seeds} seed{'s' * (s.seeds > 1)})"
                if (s := by_preset.get(p))
                else "n/a"
                for p in presets
            ),
            verdict(by_preset, presets),
        ]
        for group, by_preset in spreads.items()
    ]
    return "\n".join(markdown.table(["group", *presets, "earns its place on"], cells))
