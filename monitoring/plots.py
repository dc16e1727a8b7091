"""The performance report's PNGs: the weekly operating point, and per currency the fraud
amount by decision beside the legitimate amount declined, and with `--compare` the weekly
average precision of the champion and the challenger. Immature weeks are hatched and
named so, so no one reads their early figures as final. Every point drawn is inside its
axes (an immature week's rate above the mature ones' was cut in half at the top), amounts
start at 0 with thousands separated, and a currency with nothing to draw says so."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from monitoring.compare import Comparison
from monitoring.figures import Figures, PerformanceReport

QUALITY = "quality.png"
BUSINESS = "business_{currency}.png"
COMPARE = "compare.png"


def business_plot(currency: str) -> str:
    # Stored currencies passed the API's ISO 4217 check; a file name takes no chances.
    return BUSINESS.format(currency=re.sub(r"[^A-Za-z0-9]", "_", currency))


def _nan(value: float | None) -> float:
    return np.nan if value is None else value


def _ticks(ax: Axes, weeks: tuple[Figures, ...]) -> None:
    x = np.arange(len(weeks))
    ax.set_xticks(x, [w.name + ("" if w.mature else "\nimmature") for w in weeks], fontsize=8)
    for i, w in enumerate(weeks):
        if not w.mature:
            ax.axvspan(i - 0.5, i + 0.5, color="0.85", zorder=0)


def _series(
    ax: Axes, weeks: tuple[Figures, ...], values: list[float], marker: str, color: str, name: str
) -> None:
    """Mature weeks joined by a line; immature ones as hollow points on their own, so no
    line leads the eye from final figures to early ones."""
    x = np.arange(len(weeks))
    mature = np.array([w.mature for w in weeks])
    y = np.array(values, dtype=np.float64)
    ax.plot(
        x, np.where(mature, y, np.nan), marker=marker, color=color, label=name.replace("_", " ")
    )
    ax.plot(x, np.where(mature, np.nan, y), marker=marker, color=color, linestyle="", mfc="none")


def headroom(values: list[float], floor: float = 0.01) -> float:
    """The top of an axis from 0 that shows every value with room above the highest (NaNs
    left out; `floor` when there is none above 0)."""
    finite = [v for v in values if np.isfinite(v)]
    return max(floor, 1.15 * max(finite, default=0.0))


def write_quality(report: PerformanceReport, directory: Path) -> Path:
    weeks = report.weeks
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(max(7.5, 0.9 * len(weeks) + 3.5), 6), sharex=True, height_ratios=(2, 1)
    )
    for ax, name, marker, color in (
        (top, "precision", "o", "tab:blue"),
        (top, "recall", "s", "tab:orange"),
        (top, "average_precision", "^", "tab:green"),
        (bottom, "false_positive_rate", "d", "tab:red"),
    ):
        _series(ax, weeks, [_nan(getattr(w, name)) for w in weeks], marker, color, name)
    top.set(
        ylim=(-0.03, 1.05), ylabel="share", title="Weekly operating point (grey: immature labels)"
    )
    top.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fpr = [_nan(w.false_positive_rate) for w in weeks]
    bottom.set(ylabel="false-positive rate", ylim=(0, headroom(fpr)))
    for ax in (top, bottom):
        _ticks(ax, weeks)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = directory / QUALITY
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_business(report: PerformanceReport, currency: str, directory: Path) -> Path:
    weeks = report.weeks
    x = np.arange(len(weeks))
    money = [next((m for m in w.money if m.currency == currency), None) for w in weeks]

    def series(field: str) -> np.ndarray:
        return np.array([getattr(m, field) if m else 0.0 for m in money])

    fig, ax = plt.subplots(figsize=(max(7.5, 0.9 * len(weeks) + 3.5), 4.5))
    width = 0.38
    bottom = np.zeros(len(weeks))
    hatch = ["" if w.mature else "//" for w in weeks]
    for field, label, color in (
        ("fraud_declined", "fraud declined", "tab:green"),
        ("fraud_review", "fraud sent to review", "tab:olive"),
        ("fraud_approved", "fraud approved (missed)", "tab:red"),
    ):
        values = series(field)
        ax.bar(x - width / 2, values, width, bottom=bottom, label=label, color=color, hatch=hatch)
        bottom += values
    ax.bar(
        x + width / 2,
        series("legitimate_declined"),
        width,
        label="legitimate declined",
        color="tab:blue",
        hatch=hatch,
    )
    ax.set(
        ylabel=f"amount ({currency})",
        title=f"Fraud amount by decision, {currency} (hatched: immature labels)",
    )
    top = headroom([*bottom, *series("legitimate_declined")], floor=1.0)
    ax.set_ylim(0, top)
    digits = 0 if top >= 10 else 2
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.{digits}f}"))
    if not bottom.any() and not series("legitimate_declined").any():
        ax.set_yticks([0])
        ax.text(
            0.5,
            0.5,
            f"no fraud and nothing legitimate declined in {currency}",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="0.4",
        )
    _ticks(ax, weeks)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = directory / business_plot(currency)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(report: PerformanceReport, currencies: list[str], directory: Path) -> list[Path]:
    return [
        write_quality(report, directory),
        *(write_business(report, c, directory) for c in currencies),
    ]


def write_compare(comparison: Comparison, directory: Path) -> Path:
    """The weekly average precision of both sides, a panel per pair of model versions, and
    dashed the mature weeks' (the verdict's)."""
    pairs = comparison.pairs
    weeks = pairs[0].champion.weeks
    fig, axes = plt.subplots(
        len(pairs),
        1,
        figsize=(max(7.5, 0.9 * len(weeks) + 3.5), 1.0 + 3.2 * len(pairs)),
        sharex=True,
        squeeze=False,
    )
    for ax, pair in zip(axes[:, 0], pairs, strict=True):
        for side, marker, color, role in (
            (pair.champion, "o", "tab:blue", "champion"),
            (pair.challenger, "s", "tab:orange", "challenger"),
        ):
            values = [_nan(w.average_precision) for w in side.weeks]
            _series(ax, side.weeks, values, marker, color, f"{role} {side.model_version}")
            if side.period is not None and side.period.average_precision is not None:
                # The mature weeks' figure, the one the verdict reads.
                ax.axhline(
                    side.period.average_precision,
                    color=color,
                    linestyle="--",
                    alpha=0.6,
                    label=f"{role}, mature weeks",
                )
        ax.set(
            ylim=(-0.03, 1.05),
            ylabel="average precision",
            title=f"{pair.champion_model_version} (champion) and "
            f"{pair.challenger_model_version} (challenger), {pair.decisions:,} decisions",
        )
        _ticks(ax, pair.champion.weeks)
        # Every week on the axis, those without a figure (no fraud) too.
        ax.set_xlim(-0.5, len(weeks) - 0.5)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("Weekly average precision (grey: immature labels)")
    fig.tight_layout()
    path = directory / COMPARE
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
