"""The deployment protocol's pure parts (docs/model-quality.md, Measure as deployed; run
by scripts/quality_protocol.py): which moment each history is cut at, the figures read from
`fraud evaluate --since`, their mean and range over seeds, and the Markdown table. One
seed's test split says little; the spread over seeds says how much a difference means."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ensemble import markdown
from features.definitions import DAY_MS

# The models `fraud evaluate` scores on the same rows, in the order the table shows them.
MODELS: dict[str, str] = {
    "engine": "engine",
    "small_model": "19-feature model",
    "baseline": "textbook baseline",
}
METRICS: dict[str, str] = {
    "average_precision": "average precision",
    "roc_auc": "ROC AUC",
    "recall_at_fpr_0.01": "recall at 1% FPR",
}
WINNING_METRIC = "average_precision"


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    cards: int

    @classmethod
    def parse(cls, spec: str) -> Preset:
        """NAME:CARDS, as the Makefile's QUALITY_PRESETS write them."""
        name, sep, cards = spec.partition(":")
        if not (name and sep and cards.isdigit() and int(cards) > 0):
            raise ValueError(f"{spec!r}: a preset is NAME:CARDS, e.g. default:8000")
        return cls(name, int(cards))

    def scaled(self, scale: float) -> Preset:
        """Its cards times `scale`, at least the 100 `fraud generate` accepts."""
        return Preset(self.name, max(100, round(self.cards * scale)))


@dataclass(frozen=True, slots=True)
class Run:
    """One preset and seed: trained up to the moment, measured on the rows after it."""

    preset: str
    seed: int
    figures: dict[str, dict[str, float | None]]  # model -> metric -> value

    def as_dict(self) -> dict[str, Any]:
        return {"preset": self.preset, "seed": self.seed, "figures": self.figures}


@dataclass(frozen=True, slots=True)
class Spread:
    """A metric over seeds: its mean, least and greatest, of the seeds where it is defined."""

    mean: float
    low: float
    high: float
    seeds: int

    def as_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "min": self.low, "max": self.high, "seeds": self.seeds}


def cut_moment(first_ms: int, train_days: int) -> int:
    """The moment training ends: `train_days` after the midnight (UTC) starting the day of
    the history's first transaction; `fraud generate` starts its histories at a midnight,
    but the moment is read from the file, not assumed."""
    return (first_ms // DAY_MS + train_days) * DAY_MS


def figures(evaluated: Mapping[str, Any]) -> dict[str, dict[str, float | None]]:
    """The compared figures of each model from `fraud evaluate`'s JSON: the engine's at its
    top level, the reference models' under their keys (a bundle without the 19-feature
    model has none)."""
    out: dict[str, dict[str, float | None]] = {}
    for model in MODELS:
        measured = evaluated if model == "engine" else evaluated.get(model)
        if measured is not None:
            out[model] = {metric: measured.get(metric) for metric in METRICS}
    return out


def spread(values: Iterable[float | None]) -> Spread | None:
    """None where no seed defines the metric (no fraud among the rows scored, say)."""
    defined = [v for v in values if v is not None]
    if not defined:
        return None
    return Spread(sum(defined) / len(defined), min(defined), max(defined), len(defined))


def presets_of(runs: Iterable[Run]) -> list[str]:
    """The presets in the order they were run."""
    return list(dict.fromkeys(run.preset for run in runs))


def aggregate(runs: list[Run]) -> dict[str, dict[str, dict[str, Spread | None]]]:
    """Per preset, model and metric, the spread over the preset's seeds."""
    return {
        preset: {
            model: {
                metric: spread(r.figures.get(model, {}).get(metric) for r in mine)
                for metric in METRICS
            }
            for model in MODELS
            if any(model in r.figures for r in mine)
        }
        for preset in presets_of(runs)
        for mine in [[r for r in runs if r.preset == preset]]
    }


def winner(run: Run, metric: str = WINNING_METRIC) -> str | None:
    """The model with the highest `metric` on this seed; None if a model's is undefined
    (no fair comparison) or two share the highest."""
    values = {model: f.get(metric) for model, f in run.figures.items()}
    if not values or any(v is None for v in values.values()):
        return None
    best = max(v for v in values.values() if v is not None)
    top = [model for model, v in values.items() if v == best]
    return top[0] if len(top) == 1 else None


def wins(runs: list[Run]) -> dict[str, Counter[str]]:
    """Per preset, how many seeds each model won on average precision (None: no winner)."""
    out: dict[str, Counter[str]] = {p: Counter() for p in presets_of(runs)}
    for run in runs:
        out[run.preset][winner(run) or "none"] += 1
    return out


def _cell(s: Spread | None) -> str:
    if s is None:
        return "n/a"
    if s.seeds == 1:
        return f"{s.mean:.4f}"
    return f"{s.mean:.4f} ({s.low:.4f}–{s.high:.4f})"


def wins_line(preset: str, counted: Counter[str]) -> str:
    """- `default` (3 seeds), best average precision: the engine on 2, the 19-feature model
    on 1."""
    total = sum(counted.values())
    parts = [f"the {MODELS[model]} on {counted[model]}" for model in MODELS if counted[model]]
    if counted["none"]:
        parts.append(f"none on {counted['none']} (undefined or tied)")
    seeds = f"{total} seed{'' if total == 1 else 's'}"
    return f"- `{preset}` ({seeds}), best {METRICS[WINNING_METRIC]}: {', '.join(parts)}."


def table(runs: list[Run]) -> str:
    """The Markdown table: per preset and model, each metric's mean over the seeds and its
    range (min–max), then a line per preset saying who won on how many seeds."""
    lines = markdown.table(
        ["history", "model", *METRICS.values()],
        (
            [f"`{preset}`", MODELS[model], *(_cell(metrics[m]) for m in METRICS)]
            for preset, models in aggregate(runs).items()
            for model, metrics in models.items()
        ),
    )
    lines.append("")
    lines += [wins_line(preset, counted) for preset, counted in wins(runs).items()]
    return "\n".join(lines) + "\n"


def summary(runs: list[Run]) -> dict[str, Any]:
    """The aggregate and the wins as JSON-ready data."""
    return {
        preset: {
            "models": {
                model: {m: (s.as_dict() if s else None) for m, s in metrics.items()}
                for model, metrics in models.items()
            },
            "wins": dict(wins(runs)[preset]),
        }
        for preset, models in aggregate(runs).items()
    }
