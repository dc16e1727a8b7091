"""Time to score one transaction and a batch of 256: compiled ensemble vs xgboost + scikit-learn
vs ONNX Runtime, in one run on the same rows.

    .venv/bin/python loadtest/bench_inference.py [--model models/current] [--calls 20000]

Trains a benchmark model first if the bundle does not exist.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import xgboost as xgb

from ensemble.bundle import ModelBundle
from ensemble.labelled import load_labelled
from ensemble.train import TrainConfig, train
from features.dataset import write_transactions
from features.definitions import FEATURE_NAMES
from synthetic.generator import GeneratorConfig, generate


def timed(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    """Median and p99 of one call, in microseconds."""
    for _ in range(min(200, calls)):
        fn()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        t0 = clock()
        fn()
        samples.append((clock() - t0) / 1000.0)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def onnx_scorers(
    bundle_dir: Path, booster: xgb.Booster, forest: object
) -> tuple[Callable, Callable] | str:
    try:
        import onnxruntime as ort
        from onnxmltools import convert_xgboost
        from onnxmltools.convert.common.data_types import FloatTensorType
        from skl2onnx import to_onnx
        from xgboost import XGBClassifier
    except ImportError as exc:
        return f"not installed ({exc.name}); `make bench` installs it"
    try:
        clf = XGBClassifier()
        plain = booster.copy()
        plain.feature_names = None  # the converter wants f0, f1, ...
        clf._Booster = plain
        clf.n_classes_ = 2
        n = len(FEATURE_NAMES)
        x_model = convert_xgboost(
            clf, initial_types=[("x", FloatTensorType([None, n]))], target_opset=15
        )
        i_model = to_onnx(
            forest, np.zeros((1, n), np.float32), target_opset={"": 15, "ai.onnx.ml": 3}
        )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        xs = ort.InferenceSession(
            x_model.SerializeToString(), opts, providers=["CPUExecutionProvider"]
        )
        isess = ort.InferenceSession(
            i_model.SerializeToString(), opts, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # converters raise many kinds of errors for unsupported models
        return f"conversion failed: {exc}"

    def run(rows: np.ndarray, filled: np.ndarray) -> None:
        xs.run(None, {"x": rows})
        isess.run(None, {isess.get_inputs()[0].name: filled})

    return run, run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=Path("models/bench"))
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    data = Path("data/bench_history.parquet")
    if not data.exists():
        write_transactions(generate(GeneratorConfig(days=40, cards=6_000, seed=21)), data)
    if not (args.model / "manifest.json").exists():
        print(f"training a benchmark model into {args.model} ...")
        train(
            data, args.model, TrainConfig(n_estimators=200, early_stopping_rounds=200, budget_s=0)
        )
    bundle = ModelBundle.load(args.model)
    booster = xgb.Booster(model_file=str(args.model / "xgboost.json"))
    booster.set_param({"nthread": 1})
    forest = joblib.load(args.model / "isolation_forest.joblib")
    matrix = load_labelled(data, 7.0).store.matrix()
    rng = np.random.default_rng(0)
    rows = matrix[rng.choice(len(matrix), 4096, replace=False)]
    filled = bundle.forest_input(rows).astype(np.float32)
    batch, batch_filled = rows[:256], filled[:256]
    cursor = iter(range(10**9))

    def pick() -> int:
        return next(cursor) % len(rows)

    print(
        f"model {bundle.version}: XGBoost {bundle.manifest.libraries['xgboost'].num_tree} trees "
        f"(depth {bundle.manifest.params['max_depth']}), Isolation Forest "
        f"{bundle.manifest.libraries['isolation_forest'].num_tree} trees; {len(FEATURE_NAMES)} features; "
        f"cpu count {os.cpu_count()}"
    )
    results: dict[str, tuple[float, float, float, float]] = {}

    def single_compiled() -> None:
        bundle.score_row(rows[pick()])

    def single_python() -> None:
        i = pick()
        booster.inplace_predict(rows[i : i + 1])
        forest.score_samples(filled[i : i + 1])

    calls_py = max(200, args.calls // 20)
    results["compiled ensemble (ctypes, tl2cgen)"] = (
        *timed(single_compiled, args.calls),
        *timed(lambda: bundle.score(batch), max(200, args.calls // 50)),
    )
    results["xgboost inplace_predict + sklearn score_samples"] = (
        *timed(single_python, calls_py),
        *timed(
            lambda: (booster.inplace_predict(batch), forest.score_samples(batch_filled)),
            max(50, calls_py // 10),
        ),
    )
    onnx = onnx_scorers(args.model, booster, forest)
    if isinstance(onnx, str):
        print(f"ONNX Runtime: {onnx}")
    else:
        run, _ = onnx

        def single_onnx() -> None:
            i = pick()
            run(rows[i : i + 1], filled[i : i + 1])

        results["ONNX Runtime (1 thread)"] = (
            *timed(single_onnx, calls_py),
            *timed(lambda: run(batch, batch_filled), max(50, calls_py // 10)),
        )

    print(
        f"\n{'path':<50} {'1 row p50':>10} {'1 row p99':>10} {'256 p50':>10} {'256 p99':>10}  (µs)"
    )
    for name, (p50, p99, b50, b99) in results.items():
        print(f"{name:<50} {p50:>10.1f} {p99:>10.1f} {b50:>10.1f} {b99:>10.1f}")
    base = results["compiled ensemble (ctypes, tl2cgen)"]
    for name, r in results.items():
        if r is not base:
            print(
                f"compiled ensemble is {r[0] / base[0]:.0f}x faster per row and {r[2] / base[2]:.1f}x per "
                f"256-row batch than {name}"
            )
    reasons(bundle, booster, rows, args.calls)


def reasons(bundle: ModelBundle, booster: xgb.Booster, rows: np.ndarray, calls: int) -> None:
    """Saabas contributions for the reasons: the compiled walk against xgboost's approx_contribs."""
    print(
        f"\n{'reasons (Saabas contributions)':<50} {'1 row p50':>10} {'32 p50':>10} {'256 p50':>10}  (µs)"
    )
    paths = {
        "compiled walk (fe_path_contribs)": bundle.contributions,
        "xgboost pred_contribs approx_contribs": lambda r: booster.predict(
            xgb.DMatrix(r, missing=np.nan, nthread=1),
            pred_contribs=True,
            approx_contribs=True,
            validate_features=False,
        ),
    }
    booster.feature_names = None
    figures = {}
    for name, fn in paths.items():
        figures[name] = [
            timed(lambda n=n, fn=fn: fn(rows[:n]), max(50, calls // (20 * n)))[0]
            for n in (1, 32, 256)
        ]
        print(f"{name:<50} " + " ".join(f"{v:>10.1f}" for v in figures[name]))
    fast, slow = figures.values()
    print(
        "compiled walk is "
        + ", ".join(f"{s / f:.0f}x" for f, s in zip(fast, slow, strict=True))
        + " faster (1 / 32 / 256 rows)"
    )


if __name__ == "__main__":
    main()
