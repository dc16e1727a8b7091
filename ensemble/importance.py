"""Feature importance for the report: XGBoost's total gain, and the mean |SHAP| (exact
TreeSHAP, xgboost's pred_contribs) on a sample of test rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import xgboost as xgb

from features.definitions import FEATURE_NAMES

TOP = 20


def feature_importance(
    booster: xgb.Booster, rows: np.ndarray, sample: int, seed: int
) -> dict[str, Any]:
    """The TOP features by each measure, each with both values."""
    gain = {
        k: float(v)
        for k, v in booster.get_score(importance_type="total_gain").items()
        if isinstance(v, float)  # a list only for multi-output models
    }
    if len(rows) > sample:
        rows = rows[np.random.default_rng(seed).choice(len(rows), sample, replace=False)]
    data = xgb.DMatrix(rows, missing=np.nan, feature_names=list(FEATURE_NAMES))
    contribs = np.asarray(booster.predict(data, pred_contribs=True))[:, :-1]  # no bias column
    shap = dict(zip(FEATURE_NAMES, np.abs(contribs).mean(axis=0).tolist(), strict=True))
    by_gain = sorted(gain, key=lambda k: -gain[k])[:TOP]
    by_shap = sorted(shap, key=lambda k: -shap[k])[:TOP]
    return {
        "shap_rows": len(rows),
        "features": [
            {"feature": k, "total_gain": gain.get(k, 0.0), "mean_abs_shap": shap[k]}
            for k in dict.fromkeys(by_shap + by_gain)
        ],
    }
