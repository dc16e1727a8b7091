"""The bundle's human-readable report.md: first who won on test average precision, the engine
or a reference model (the 19-feature model, the textbook baseline); the engine against them
(and the bundle in service), the ensemble and hyper-parameter choices, tiers, feature
importance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ensemble.ablation import EARNS, HELPS, NOISE
from ensemble.bundle import BatchScores
from ensemble.manifest import Manifest
from ensemble.markdown import table
from ensemble.plots import HISTOGRAM, PR_CURVE, write_plots
from ensemble.quality import CARDS_PER_DAY, COMPARED
from ensemble.search import COLSAMPLE_BYTREE
from vocabulary import TIERS

METRIC_ROWS = (
    "average_precision",
    "roc_auc",
    "recall_at_fpr_0.01",
    "recall_at_fpr_0.02",
    f"card_precision_at_{CARDS_PER_DAY}",
    "precision",
    "recall",
    "f1",
    "false_positive_rate",
    "value_detection_rate",
)
FLAGGED = (
    "Precision, recall, false-positive rate and value detection rate count the flagged rows: "
    "the engine's at or above its review threshold, the baseline's at or above the threshold "
    "that flags the same share of legitimate validation rows "
    "(each calibrated on its own validation scores, at the medium tier's false-positive rate)."
)


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


# The reference models beside the engine: (name in the report, metrics key of the engine
# against it). The small model is missing from bundles trained before it.
REFERENCES = (
    ("the 19-feature model", "test_engine_vs_small_model", "small_model"),
    ("the textbook baseline", "test_engine_vs_baseline", "baseline"),
)


def headline(metrics: dict[str, Any]) -> str:
    """The report's first line: who won on test average precision, the engine or one of
    the reference models, with the figures."""
    engine = metrics.get("test_engine_vs_baseline", {}).get("average_precision", {}).get("engine")
    others = [
        (name, metrics[key]["average_precision"].get(side))
        for name, key, side in REFERENCES
        if key in metrics
    ]
    if engine is None or any(ap is None for _, ap in others):
        return (
            "**The engine cannot be compared with the reference models: test average "
            "precision is undefined (the test split needs fraud and legitimate rows).**"
        )
    against = " and ".join(f"{name}'s {ap:.4f}" for name, ap in others)
    best_name, best = max(others, key=lambda other: other[1])
    if engine > best:
        return f"**The engine wins: test average precision {engine:.4f} against {against}.**"
    return (
        f"**The engine does not beat {best_name}: test average precision {engine:.4f} "
        f"against {against}.**"
    )


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return table(header, ([_fmt(v) for v in row] for row in rows))


def _as_of(data: dict[str, Any]) -> str:
    """The training data's line when it was cut at a moment (`fraud train --until`)."""
    unknown = data["labels_not_yet_known"]
    return (
        f"As exported at {data['until']}: the rows from then on left out, and "
        f"{unknown:,} fraud label{'' if unknown == 1 else 's'} reported at or after it "
        "counted as legitimate, as that day's export shows them (in the test split too, "
        "whose figures understate the model so: `fraud evaluate --since` measures the "
        "weeks after with their labels)."
    )


def _baseline(manifest: Manifest) -> list[str]:
    m, b = manifest.metrics, manifest.baseline
    compared = m["test_engine_vs_baseline"]
    small = m.get("test_engine_vs_small_model")
    s = b.get("small_model")
    ratio = compared.get("average_precision_ratio")
    header = ["metric", "engine", *(["19-feature model"] if small else []), "baseline"]
    rows = [
        [
            k,
            compared[k]["engine"],
            *([small[k]["small_model"]] if small else []),
            compared[k]["baseline"],
        ]
        for k in COMPARED
    ]
    return [
        "## Engine against the reference models (test)",
        "",
        f"The baseline: the handbook's {len(b['features'])} features computed on their own "
        f"(ensemble/baseline.py), a plain XGBoost with fixed parameters "
        f"({b['params']['rounds']} trees, depth {b['params']['max_depth']}, eta "
        f"{b['params']['eta']}) trained on {b['trained_on']} ({b['train_rows']:,} rows, "
        f"{b['train_fraud_rows']:,} fraud). Same validation and test rows as the engine.",
        *(
            [
                "",
                f"The 19-feature model: the baseline's features and four generic ones "
                f"({', '.join(s['features'][len(b['features']) :])}), the same plain XGBoost, "
                f"trained on {s['trained_on']} ({s['train_rows']:,} rows, "
                f"{s['train_fraud_rows']:,} fraud). A model the engine's 233 features must "
                "beat to earn their cost.",
            ]
            if s
            else []
        ),
        "",
        *_table(header, rows),
        "",
        f"Engine / baseline average precision: {_fmt(ratio)}"
        + (
            f"; engine / 19-feature model: {_fmt(small.get('average_precision_ratio'))}"
            if small
            else ""
        )
        + f". {FLAGGED}",
    ]


def _selection(manifest: Manifest) -> list[str]:
    s = manifest.selection
    rows = [
        [
            f"**{c['name']}**" if c["name"] == s["chosen"] else c["name"],
            c["average_precision"],
            c["roc_auc"],
            c["recall_at_fpr_0.01"],
        ]
        for c in s["candidates"]
    ]
    return [
        "## Ensemble choice (validation)",
        "",
        f"Chosen: **{s['chosen']}**, score = {s['description']}. Protocol: {s['protocol']} "
        f"({s['fit_rows']:,} rows to fit, {s['compare_rows']:,} to compare). "
        "XGBoost alone and the forest alone are candidates, so the choice is never worse "
        "on those rows than its best component; the forest is in the bundle and in every "
        "answer's components either way.",
        *([""] + [f"- {n}" for n in s["notes"]] if s["notes"] else []),
        "",
        *_table(["candidate", "average_precision", "roc_auc", "recall_at_fpr_0.01"], rows),
    ]


def _search(manifest: Manifest) -> list[str]:
    s = manifest.search
    keys = ["max_depth", "min_child_weight", "colsample_bytree", "learning_rate", "trees"]
    rows = [
        [
            _rows_choice(t),
            *(f"{({'colsample_bytree': COLSAMPLE_BYTREE} | t)[k]:g}" for k in keys),
            t["validation_average_precision"],
            t.get("validation_roc_auc"),
            f"{t['seconds']:.1f}",
            "chosen" if i == s["chosen"] else "",
        ]
        for i, t in enumerate(s["trials"])
    ]
    budget = f"a budget of {s['budget_s']:g} s" if s["budget_s"] else "no budget (`--budget-s 0`)"
    return [
        "## Training choices (validation)",
        "",
        f"{len(s['trials'])} choice(s) tried within {budget}: first which training rows teach "
        "(all, the last weeks, or weighted by recency), then the regularisation with the best "
        f"rows; each with early stopping on validation, scored by {s['metric']}.",
        "",
        *_table(["rows", *keys, "validation AP", "validation ROC AUC", "seconds", ""], rows),
    ]


def _rows_choice(trial: dict[str, Any]) -> str:
    window, half_life = trial.get("window_days"), trial.get("half_life_days")
    parts = [f"last {window:g} days" if window is not None else "all"]
    if half_life is not None:
        parts.append(f"half-life {half_life:g} days")
    return ", ".join(parts)


def _ablation(manifest: Manifest) -> list[str]:
    a = manifest.ablation
    noise = a["seed_noise"]
    ranked = sorted(a["groups"], key=lambda g: g["delta"])
    by_verdict = {
        v: ", ".join(g["group"] for g in ranked if g["verdict"] == v) or "none"
        for v in (EARNS, NOISE, HELPS)
    }
    return [
        "## Ablation by feature family (validation)",
        "",
        f"XGBoost refitted without each group of features (the chosen hyper-parameters, seed "
        f"{a['params']['seed']}, early stopping on validation), against the engine's "
        f"{a['full_validation_average_precision']:.4f} {a['metric']}. The full feature set "
        f"with seed {noise['seed']} scored {noise['validation_average_precision']:.4f} "
        f"({noise['delta']:+.4f}): a delta within {a['tolerance']:.4f} is noise. The test "
        "split is not used. Most harmful removal first:",
        "",
        *_table(
            ["group", "features", "validation AP", "delta", "trees", "seconds", "verdict"],
            [
                [
                    g["group"],
                    len(g["features"]),
                    g["validation_average_precision"],
                    f"{g['delta']:+.4f}",
                    g["trees"],
                    f"{g['seconds']:.1f}",
                    g["verdict"],
                ]
                for g in ranked
            ],
        ),
        "",
        f"Earn their place: {by_verdict[EARNS]}. Within noise: {by_verdict[NOISE]}. "
        f"Removing them raised validation AP: {by_verdict[HELPS]}. One seed: "
        "`scripts/ablation_summary.py` sums several seeds and presets up.",
    ]


def _previous(previous: dict[str, Any], engine: dict[str, Any]) -> list[str]:
    lines = ["## Against the bundle in service (test)", ""]
    if not previous["scored"]:
        return [
            *lines,
            f"The bundle at `{previous['path']}` cannot be scored on these rows: "
            f"{previous['reason']}.",
        ]
    old = previous["metrics"]
    lines += [
        f"`{previous['path']}`: model {previous['model_version']} ({previous['combination']}), "
        "scored on the same test rows with its own thresholds.",
    ]
    if previous.get("saw_these_rows"):
        lines += [
            "",
            f"Careful: it was trained and validated on data up to {previous['seen_until']}, "
            "after these test rows begin, so its figures here are optimistic.",
        ]
    return [
        *lines,
        "",
        *_table(["metric", "new", "in service"], [[k, engine[k], old.get(k)] for k in COMPARED]),
    ]


def _importance(manifest: Manifest) -> list[str]:
    imp = manifest.metrics["feature_importance"]
    return [
        "## Top features",
        "",
        f"Mean |SHAP| (exact TreeSHAP on {imp['shap_rows']:,} test rows, margin space) and "
        "XGBoost total gain; the top 20 by either.",
        "",
        *_table(
            ["feature", "mean abs SHAP", "total gain"],
            [
                [f["feature"], f["mean_abs_shap"], f"{f['total_gain']:,.0f}"]
                for f in imp["features"]
            ],
        ),
    ]


def _shipped(manifest: Manifest) -> list[str]:
    """Which model the bundle serves and on which rows it learned."""
    r = manifest.refit
    if not r:
        return [
            "Shipped: the model measured below, which learned from the train split only "
            "(`fraud train --refit` ships one refit on every labelled row instead)."
        ]
    tiers = ", ".join(f"{t} {manifest.thresholds[t]:.6f}" for t in manifest.thresholds)
    return [
        f"Shipped: XGBoost **refit** on every row whose label was known at training time: "
        f"{r['rows']:,} rows ({r['fraud_rows']:,} fraud) from {r['from']} to {r['until']}, "
        f"{r['trees']} trees, with every choice made on validation by the held-back model "
        "(rows' weights, regularisation, trees, the ensemble). The figures below are the "
        "held-back model's, trained on the train split only: the refit cannot be measured on "
        f"rows it learned from. Its tiers ({tiers}) were calibrated on the "
        f"{r['calibrated_on_rows']:,} rows after it not known to be fraud (the last label "
        "delay's), which it never saw; `fraud evaluate --since` measures it on the weeks "
        "after the file."
    ]


def write_report(
    directory: Path,
    manifest: Manifest,
    y: np.ndarray,
    scores: BatchScores,
    baseline_scores: np.ndarray,
) -> None:
    # The plots and the tier table show the measured (held-back) model at its own thresholds.
    measured = manifest.refit["held_back"]["thresholds"] if manifest.refit else manifest.thresholds
    write_plots(directory, y, scores, baseline_scores, measured)
    m = manifest.metrics
    first = headline(m)  # who won, first
    split, data = manifest.split, manifest.training_data
    lines = [
        first,
        "",
        f"# Model report {manifest.model_version}",
        "",
        f"Trained on `{data['path']}` ({data['rows']:,} rows, {data['fraud_rows']:,} fraud, "
        f"sha256 `{data['sha256'][:12]}`).",
        *([_as_of(data)] if "until" in data else []),
        f"Split by event time with {split['gap_days']} day gaps after a "
        f"{split['warmup_days']} day warm-up: train {split['train_rows']:,}, "
        f"validation {split['validation_rows']:,}, test {split['test_rows']:,} rows "
        f"(boundaries {', '.join(split['boundaries'])}).",
        f"Ensemble: {manifest.selection['chosen']}, score = "
        f"{manifest.selection['description']} (chosen on validation); XGBoost "
        f"{manifest.libraries['xgboost'].num_tree} trees, Isolation Forest "
        f"{manifest.libraries['isolation_forest'].num_tree} trees, compiled with tl2cgen.",
        "",
        *_shipped(manifest),
        "",
        *_baseline(manifest),
        "",
        *([*_previous(m["previous_bundle"], m["test"]), ""] if "previous_bundle" in m else []),
        "## Engine metrics",
        "",
        "Operating point: `review` = score at or above the medium threshold.",
        "",
        *_table(
            ["metric", "validation", "test"],
            [[k, m["validation"].get(k), m["test"].get(k)] for k in METRIC_ROWS],
        ),
        "",
        "Each component alone on the test split (threshold-free):",
        "",
        *_table(
            ["component", "average_precision", "roc_auc", "recall_at_fpr_0.01"],
            [
                [name, c["average_precision"], c["roc_auc"], c["recall_at_fpr_0.01"]]
                for name, c in m["test_components"].items()
            ],
        ),
        "",
        *_selection(manifest),
        "",
        *_search(manifest),
        "",
        *([*_ablation(manifest), ""] if manifest.ablation else []),
        "## Tiers",
        "",
        "Thresholds calibrated on legitimate validation scores by false-positive rate"
        + (" (the held-back model's; the shipped refit's are above)." if manifest.refit else "."),
        "",
        *_table(
            ["tier", "threshold", "target FPR", "test rows", "test fraud rows"],
            [
                [
                    tier,
                    measured.get(tier),
                    manifest.tier_fpr.get(tier),
                    f"{m['test']['tier_counts'][tier]:,}",
                    f"{m['test']['tier_fraud_counts'][tier]:,}",
                ]
                for tier in TIERS
            ],
        ),
    ]
    if "test_recall_by_scenario" in m:
        lines += [
            "",
            "## Recall at the review threshold by scenario (test)",
            "",
            *_table(
                ["scenario", "fraud rows", "recall"],
                [
                    [s, v["fraud_rows"], v["recall"]]
                    for s, v in m["test_recall_by_scenario"].items()
                ],
            ),
        ]
    lines += ["", *_importance(manifest)]
    lines += ["", f"![precision-recall]({PR_CURVE})", "", f"![score histogram]({HISTOGRAM})", ""]
    (directory / "report.md").write_text("\n".join(lines))
