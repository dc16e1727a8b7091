"""From read windows to decisions: features, one model call, tiers, the fraud team's
decision policy, reasons. No I/O: the store stage has read the windows already."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from controls.columns import Columns
from controls.hits import ListHit, RuleHit
from controls.precedence import Settled, settle
from controls.ruleset import RuleSet
from ensemble.bundle import BatchScores, ModelBundle
from features.online import OnlineTransaction, online_matrix, request_only_matrix
from features.window_format import WindowRead
from scoring import telemetry
from scoring.decision import Decision, Shadow
from scoring.drift import DriftWindow
from scoring.rule_errors import FAILURES

NO_RULES = RuleSet.compile([], version=0)
# What a rule may read of the model's answer: a rule naming one is evaluated again on the
# challenger's, so that its shadow decision is the one it would have made.
MODEL_OUTPUTS = frozenset({"score", "risk_tier", "xgboost", "isolation_forest"})


@dataclass(frozen=True, slots=True)
class DecisionPolicy:
    """A decision for each tier, and for degraded answers (scored without the feature
    store) either "score" (decide on their tier as usual) or one fixed decision."""

    decisions: Mapping[str, str]
    degraded_policy: str = "score"

    def decide(self, tier: str, degraded: bool) -> str:
        decision = self.decisions[tier]
        if degraded and self.degraded_policy != "score":
            decision = self.degraded_policy
        return decision


def decide(
    bundle: ModelBundle,
    policy: DecisionPolicy,
    reasons: int,
    transactions: Sequence[OnlineTransaction],
    reads: Sequence[WindowRead | None],
    received_ns: Sequence[int],
    rules: RuleSet = NO_RULES,
    fields: Sequence[Mapping[str, object]] = (),
    drift: DriftWindow | None = None,
    challenger: ModelBundle | None = None,
) -> list[Decision]:
    """Decisions for transactions scored together, in their order. A read of None means
        degraded: request-only features. `reasons`: how many to give (0: none). `rules` are
        evaluated on the batch's matrix with each transaction's request `fields` (the names
        of the request's contract; needed only when a rule names one). `drift`: the bundle's live
    drift window, which bins the rows scored with their windows (degraded rows, missing most
    features for want of the store, would read as drift of the traffic)."""
    telemetry.BATCH_SIZE.observe(len(transactions))
    # Rows with windows first, then the degraded ones.
    full = [(k, r) for k, r in enumerate(reads) if r is not None]
    degraded = [k for k, r in enumerate(reads) if r is None]
    order = [k for k, _ in full] + degraded  # row j of the matrix is transactions[order[j]]
    started = time.perf_counter()
    parts = []
    if full:
        parts.append(online_matrix([transactions[k] for k, _ in full], [r for _, r in full]))
    if degraded:
        parts.append(request_only_matrix([transactions[k] for k in degraded]))
    matrix = parts[0] if len(parts) == 1 else np.concatenate(parts)
    scored_at = time.perf_counter()
    telemetry.FEATURES_SECONDS.observe(scored_at - started)
    scores = bundle.score(matrix)
    telemetry.INFERENCE_SECONDS.observe(time.perf_counter() - scored_at)
    if drift is not None and full:
        if degraded:  # the rows with windows come first
            drift.observe(matrix[: len(full)], scores.score[: len(full)])
        else:
            drift.observe(matrix, scores.score)
    # Reasons cost a SHAP pass: only where someone will look at them, all in one call.
    explain = [j for j in range(len(order)) if scores.risk_tier[j] != "low"] if reasons else []
    explained = dict(zip(explain, bundle.reasons_many(matrix[explain], reasons), strict=True))
    row_fields = [fields[k] for k in order] if fields else ()
    matched = _evaluate(rules, matrix, scores, row_fields)
    by_tier = {
        False: partial(policy.decide, degraded=False),
        True: partial(policy.decide, degraded=True),
    }
    shadows = (
        ()
        if challenger is None
        else _shadow(challenger, by_tier, matrix, reads, order, rules, row_fields, matched)
    )
    out: dict[int, Decision] = {}
    for j, k in enumerate(order):
        read = reads[k]
        is_degraded = read is None
        lists = () if read is None else read.lists
        hits = matched[j]
        settled = settle(str(scores.risk_tier[j]), by_tier[is_degraded], lists, hits)
        score = float(scores.score[j])
        _count(settled, lists)
        telemetry.SCORE.observe(score)
        out[k] = Decision(
            transaction_id=transactions[k].event.transaction_id,
            score=score,
            risk_tier=settled.risk_tier,
            decision=settled.decision,
            decision_source=settled.source,
            rules=hits,
            list_hit=settled.list_hit,
            reasons=tuple(explained.get(j, ())),
            components={
                "xgboost": float(scores.xgboost[j]),
                "isolation_forest": float(scores.isolation_forest[j]),
            },
            model_version=bundle.version,
            degraded=is_degraded,
            latency_ms=round((time.perf_counter_ns() - received_ns[k]) / 1e6, 3),
            challenger=shadows[j] if shadows else None,
        )
    return [out[k] for k in range(len(order))]


def _shadow(
    challenger: ModelBundle,
    by_tier: Mapping[bool, Callable[[str], str]],
    matrix: np.ndarray,
    reads: Sequence[WindowRead | None],
    order: Sequence[int],
    rules: RuleSet,
    fields: Sequence[Mapping[str, object]],
    matched: Sequence[tuple[RuleHit, ...]],
) -> list[Shadow]:
    """The challenger's result for each row of the matrix: its score and tier, and what the
    same policy (`by_tier`: the decision of a tier, by whether the row is degraded), lists and
    rules would have decided on them (rules reading the model's
    answer evaluated again on the challenger's; their hits are not counted)."""
    scores = challenger.score(matrix)
    if rules.rules and rules.names & MODEL_OUTPUTS:
        matched = rules.evaluate(_columns(matrix, fields, scores), on_error=_ignore)
    shadows = []
    for j, k in enumerate(order):
        read = reads[k]
        settled = settle(
            str(scores.risk_tier[j]),
            by_tier[read is None],
            () if read is None else read.lists,
            matched[j],
        )
        telemetry.CHALLENGER_DECISIONS.labels(settled.risk_tier, settled.decision).inc()
        shadows.append(
            Shadow(challenger.version, float(scores.score[j]), settled.risk_tier, settled.decision)
        )
    return shadows


def _columns(
    matrix: np.ndarray, fields: Sequence[Mapping[str, object]], scores: BatchScores
) -> Columns:
    """What the rules read of a scored batch: its features, request fields and one model's
    answer."""
    return Columns.for_batch(
        matrix,
        fields,
        score=scores.score,
        risk_tier=scores.risk_tier,
        xgboost=scores.xgboost,
        isolation_forest=scores.isolation_forest,
    )


def _ignore(*_: object) -> None:
    """A rule failing on the challenger's answer: counted once already, on the champion's."""


def _evaluate(
    rules: RuleSet,
    matrix: np.ndarray,
    scores: BatchScores,
    fields: Sequence[Mapping[str, object]],
) -> Sequence[tuple[RuleHit, ...]]:
    """The rules matched by each row of the matrix, in priority order."""
    if not rules.rules:
        return [()] * len(matrix)
    started = time.perf_counter()
    columns = _columns(matrix, fields, scores)
    matched = rules.evaluate(columns, on_error=FAILURES.record)  # a rule never fails a batch
    _count_rules(matched)
    telemetry.RULES_SECONDS.observe(time.perf_counter() - started)
    return matched


def _count(settled: Settled, lists: Sequence[ListHit]) -> None:
    telemetry.DECISIONS.labels(settled.risk_tier, settled.decision).inc()
    telemetry.DECISION_SOURCES.labels(settled.source.partition(":")[0]).inc()
    for hit in lists:
        telemetry.LIST_HITS.labels(hit.entity, hit.action).inc()


def _count_rules(matched: Sequence[tuple[RuleHit, ...]]) -> None:
    """Each rule's hits in the batch, one increment per rule (not per hit)."""
    counts = Counter(hit for hits in matched for hit in hits)
    for rule, n in counts.items():
        telemetry.RULE_HITS.labels(rule.id, rule.mode).inc(n)
