"""The one query that reads a period's stored decisions with their effective labels: what
`fraud export`, the stored-decision backtest and the performance report all read."""

from __future__ import annotations

from persistence.history import EFFECTIVE_FIRST


def labelled_decisions(columns: str, *, one_scope: bool = False) -> str:
    """SELECT `columns` (of `d`, the decisions; `scope` and `transaction_id` unqualified),
    then `label` and `reported_at`, for the transactions with $1 <= event time < $2 (and,
    `one_scope`, scored by the key whose scope is $3).

    One row per transaction (decision_ids names the one stored copy), in event-time order,
    with its effective label: the latest report over every source (feedback, review cases,
    chargebacks), as POST /v1/feedback decides it; null `label` where none arrived yet."""
    return f"""
SELECT {columns}, f.label, f.reported_at
FROM decisions d
JOIN decision_ids USING (scope, transaction_id, scored_at)
LEFT JOIN (
    SELECT DISTINCT ON (scope, transaction_id) scope, transaction_id, label, reported_at
    FROM feedback ORDER BY scope, transaction_id, {EFFECTIVE_FIRST}
) f USING (scope, transaction_id)
WHERE d.event_time >= $1 AND d.event_time < $2{" AND d.scope = $3" if one_scope else ""}
ORDER BY d.event_time, scope, transaction_id
"""
