"""A rule run over past transactions: how many it would have hit, how many of those were
confirmed fraud or legitimate, the fraud amount caught, and how the decisions would have
changed. Pure: the rows come from a file (`fraud rules backtest`) or from PostgreSQL
(persistence.backtest); the features are recomputed by the engine's own offline replay.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from controls.columns import Columns, tier_ranks
from controls.expression import Condition, compile_condition
from controls.names import FEATURES, FIELDS, MODEL_NAMES, RISK_TIER
from controls.ruleset import check_action
from features.definitions import DAY_MS, HISTORY_MS, LABEL_WINDOW_MS, PROFILE_DAYS
from features.encode import parse_timestamps, prepare_history
from features.replay import ReplayStore
from features.schema import LABEL_COLUMN
from vocabulary import RAISE_TO, TIERS

# History a row's features look back over: the windows (7 d), the confirmed-fraud labels
# (30 d) and the profiles (the complete days before the row's own: up to 31 d).
LOOKBACK_MS = max(HISTORY_MS, LABEL_WINDOW_MS, (max(PROFILE_DAYS.values()) + 1) * DAY_MS)
LABELS = ("fraud", "legitimate")
# Columns a backtest reads beside the request fields, where the rows have them.
SCORE_COLUMNS = (*MODEL_NAMES, RISK_TIER)
# (score, risk_tier, xgboost, isolation_forest) for a feature matrix: the model bundle's.
Scorer = Callable[[np.ndarray], Mapping[str, np.ndarray]]


class BacktestError(ValueError):
    """A backtest that cannot run on these rows (nothing was changed anywhere)."""


class ConditionFailed(BacktestError):
    """The condition raised while it was evaluated on these rows."""

    field = "condition"


@dataclass(frozen=True)
class BacktestReport:
    condition: str
    action: str
    rows: int  # transactions of the period evaluated
    hits: int
    hits_fraud: int
    hits_legitimate: int
    hits_unlabelled: int
    fraud: int  # confirmed fraud in the period, hit or not
    fraud_amount_caught: dict[str, float]  # per currency, the hits confirmed fraud
    fraud_amount_total: dict[str, float]  # per currency, every confirmed fraud of the period
    decision_changes: dict[str, dict[str, int]]  # {from: {to: n}}, only where they differ
    kept_by_list: int  # hits a list had decided: lists win over rules
    since: str | None = None
    until: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        labelled = self.hits_fraud + self.hits_legitimate
        return {
            "condition": self.condition,
            "action": self.action,
            "since": self.since,
            "until": self.until,
            "rows": self.rows,
            "hits": self.hits,
            "hits_fraud": self.hits_fraud,
            "hits_legitimate": self.hits_legitimate,
            "hits_unlabelled": self.hits_unlabelled,
            "fraud": self.fraud,
            "recall": self.hits_fraud / self.fraud if self.fraud else None,
            "precision": self.hits_fraud / labelled if labelled else None,
            "fraud_amount_caught": self.fraud_amount_caught,
            "fraud_amount_total": self.fraud_amount_total,
            "decision_changes": self.decision_changes,
            "kept_by_list": self.kept_by_list,
            **self.extra,
        }


@dataclass(frozen=True)
class BacktestRows:
    """The period's rows as a backtest reads them, one entry per row in each array."""

    columns: Columns  # what the condition reads
    amount: np.ndarray
    currency: np.ndarray  # object
    risk_tier: np.ndarray  # object, tier names
    decision: np.ndarray  # object, the decision given
    decision_source: np.ndarray  # object: "model", "rule:<id>", "list:<id>" or None
    label: np.ndarray  # object: "fraud", "legitimate" or None


def apply_action(
    action: str, risk_tier: np.ndarray, decision: np.ndarray, decisions: Mapping[str, str]
) -> np.ndarray:
    """The decisions a rule's action gives its hits. raise_to:<tier> raises the tier to at
    least <tier> and takes the raised tier's decision; a row already at or above it keeps
    its decision."""
    check_action(action)
    if not action.startswith(RAISE_TO):
        return np.full(len(decision), action, dtype=object)
    target = TIERS.index(action[len(RAISE_TO) :])
    raised = tier_ranks(risk_tier) < target  # NaN (no tier) compares false: not raised
    out = decision.astype(object, copy=True)
    out[raised] = decisions[TIERS[target]]
    return out


def backtest(
    rows: BacktestRows,
    condition: str | Condition,
    action: str,
    decisions: Mapping[str, str],
    since: str | None = None,
    until: str | None = None,
) -> BacktestReport:
    """The report of `condition` -> `action` over `rows`; `decisions` maps each tier to its
    decision (FRAUD_DECISIONS). ExpressionError or RuleError for a bad rule."""
    check_action(action)
    compiled = compile_condition(condition) if isinstance(condition, str) else condition
    if not len(rows.amount):  # a period without transactions: nothing to evaluate
        hit = np.zeros(0, dtype=bool)
    else:
        try:
            hit = compiled.evaluate(rows.columns)
        except Exception as exc:  # whatever it raises, the answer says so (never a crash)
            raise ConditionFailed(
                f"the condition cannot be evaluated on these rows ({type(exc).__name__}: {exc})"[
                    :500
                ]
            ) from exc
    fraud = rows.label == "fraud"
    legitimate = rows.label == "legitimate"
    listed = np.array(
        [isinstance(s, str) and s.startswith("list:") for s in rows.decision_source], dtype=bool
    )
    new = apply_action(action, rows.risk_tier, rows.decision, decisions)
    changed = hit & ~listed & (new != rows.decision)
    changes: dict[str, dict[str, int]] = {}
    for (before, after), n in sorted(
        Counter(zip(rows.decision[changed].tolist(), new[changed].tolist(), strict=True)).items()
    ):
        changes.setdefault(before, {})[after] = n
    return BacktestReport(
        condition=compiled.text,
        action=action,
        rows=rows.columns.rows,
        hits=int(hit.sum()),
        hits_fraud=int((hit & fraud).sum()),
        hits_legitimate=int((hit & legitimate).sum()),
        hits_unlabelled=int((hit & ~fraud & ~legitimate).sum()),
        fraud=int(fraud.sum()),
        fraud_amount_caught=_per_currency(rows.amount, rows.currency, hit & fraud),
        fraud_amount_total=_per_currency(rows.amount, rows.currency, fraud),
        decision_changes=changes,
        kept_by_list=int((hit & listed).sum()),
        since=since,
        until=until,
    )


def _per_currency(amount: np.ndarray, currency: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    totals: dict[str, float] = {}
    for cur, value in zip(currency[mask].tolist(), amount[mask].tolist(), strict=True):
        totals[cur] = totals.get(cur, 0.0) + value
    return {cur: round(total, 2) for cur, total in sorted(totals.items())}


def rows_from_frame(
    frame: pd.DataFrame,
    condition: Condition,
    decisions: Mapping[str, str],
    label_delay_days: float,
    since_ms: int | None = None,
    until_ms: int | None = None,
    scorer: Scorer | None = None,
) -> BacktestRows:
    """A history's rows (the data contract's columns, plus any of score, risk_tier, xgboost,
    isolation_forest, decision, decision_source, label) as a backtest's: the features
    recomputed by the offline replay over every row in event-time order (the rows before
    `since_ms` are the look-back), the rows in [since_ms, until_ms) counted. The model
    outputs a row lacks come from `scorer`; without one, BacktestError."""
    if frame.empty:
        nothing = np.empty(0, dtype=object)
        return BacktestRows(Columns(0), np.empty(0), nothing, nothing, nothing, nothing, nothing)
    if LABEL_COLUMN not in frame:  # the replay's label features need a 0/1 column
        frame = frame.assign(**{LABEL_COLUMN: (_labels(frame) == "fraud").astype(np.int8)})
    history = prepare_history(frame, label_delay_days)
    frame = history.frame
    ts = history.tx.ts
    period = np.ones(len(frame), dtype=bool)
    if since_ms is not None:
        period &= ts >= since_ms
    if until_ms is not None:
        period &= ts < until_ms
    kept = frame[period].reset_index(drop=True)
    outputs = {c: kept[c].to_numpy() for c in SCORE_COLUMNS if c in kept and kept[c].notna().all()}
    has_decisions = "decision" in kept and kept["decision"].notna().all()
    needed = (condition.names & set(SCORE_COLUMNS)) | (set() if has_decisions else {RISK_TIER})
    missing = sorted(needed - set(outputs))
    if missing and scorer is None:
        raise BacktestError(
            f"the rows have no {', '.join(missing)}: give a model bundle (--model) to score them"
        )
    # Features of the period's rows only (the look-back is their history; the history is
    # in event-time order, so the period is one run of rows), and only those the condition
    # names unless the model must score the rows, by the native kernel.
    matrix = None
    arrays: dict[str, np.ndarray] = {}
    named = sorted(condition.names & FEATURES)
    if named or missing:
        store = ReplayStore(history.tx, history.label_known_at, frame[LABEL_COLUMN].to_numpy())
        chosen = np.flatnonzero(period)
        rows = slice(int(chosen[0]), int(chosen[-1]) + 1) if len(chosen) else slice(0, 0)
        if missing:
            matrix = store.matrix(rows=rows)
        else:
            part = store.matrix(rows=rows, names=named)
            arrays |= {name: part[:, j] for j, name in enumerate(named)}
    if scorer is not None and matrix is not None:  # all four, so they agree with each other
        scored = scorer(matrix)
        outputs = {c: np.asarray(scored[c]) for c in SCORE_COLUMNS}
    for name in FIELDS:
        if name in condition.names:
            arrays[name] = _field(kept, name)
    for name in MODEL_NAMES:
        if name in outputs:
            arrays[name] = np.asarray(outputs[name], dtype=np.float64)
    tiers = (
        np.asarray(outputs[RISK_TIER], dtype=object)
        if RISK_TIER in outputs
        else np.full(len(kept), None, dtype=object)
    )
    if has_decisions:
        decision = kept["decision"].to_numpy(dtype=object)
    else:
        decision = np.array([decisions[t] for t in tiers], dtype=object)
    return BacktestRows(
        columns=Columns(len(kept), matrix, arrays=arrays, risk_tier=tiers),
        amount=kept["amount"].to_numpy(dtype=np.float64),
        currency=kept["currency"].to_numpy(dtype=object),
        risk_tier=tiers,
        decision=decision,
        decision_source=_optional(kept, "decision_source"),
        label=_labels(kept),
    )


def _labels(frame: pd.DataFrame) -> np.ndarray:
    """A `label` column (fraud, legitimate or empty) where the rows have one, else is_fraud:
    1 fraud, 0 legitimate."""
    if "label" in frame:
        return np.array([v if v in LABELS else None for v in frame["label"].tolist()], dtype=object)
    if LABEL_COLUMN in frame:
        return np.where(frame[LABEL_COLUMN].to_numpy() == 1, "fraud", "legitimate").astype(object)
    return np.full(len(frame), None, dtype=object)


def _optional(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), None, dtype=object)
    return np.array([v if isinstance(v, str) else None for v in frame[name].tolist()], dtype=object)


def _field(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), None if name not in ("latitude", "longitude") else np.nan)
    if name in ("amount", "latitude", "longitude"):
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
    return _optional(frame, name)


def moment_ms(text: str) -> int:
    """An RFC 3339 time as epoch milliseconds."""
    ms, _ = parse_timestamps(pd.Series([text]))
    return int(ms[0])
