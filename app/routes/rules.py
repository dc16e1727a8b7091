"""PUT/GET/DELETE /v1/rules: the fraud team's rules, versioned in PostgreSQL and applied
by every API process within a second (app/rule_sync.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from app import logs
from app.bodies import documented_body, json_response, parse_body
from app.deps import Administrator, DatabaseDep, ReadKey, SettingsDep
from app.errors import Conflict, NotFound, ValidationFailed
from app.openapi import BODY, UNAVAILABLE, documented_errors, keyed
from app.rule_sync import rule_set_operations
from app.schemas.fields import DecimalInt
from app.schemas.rules import (
    BacktestReportOut,
    BacktestRequest,
    RuleChange,
    RuleHits,
    RuleId,
    RuleIn,
    RuleList,
    RuleOut,
)
from controls.expression import Condition
from controls.ruleset import Compile, Rule, RuleError, check_condition
from persistence.rules import (
    StoredRule,
    VersionMismatch,
    delete_rule,
    get_rule,
    load_rules,
    rule_changes,
    rule_hits,
    save_rule,
)
from scoring.rule_errors import FAILURES

router = APIRouter(prefix="/v1", tags=["rules"])
RuleIdPath = Annotated[RuleId, Path(description="`[A-Za-z0-9_.-]{1,64}`")]


async def compiled(rule: Rule, compiler: Compile = check_condition) -> Condition:
    """The rule's condition, if its action, mode and condition compile and the condition
    evaluates on the probe batch; 422 naming the field and the position in the condition
    otherwise. Compiled in a thread: a long condition takes milliseconds of pure Python,
    which the event loop (scoring) must not wait for."""
    try:
        return await asyncio.to_thread(rule.check, compiler)
    except RuleError as exc:
        error: dict[str, object] = {"field": exc.field, "message": exc.message, "type": "rule"}
        if exc.position is not None:
            error["position"] = exc.position
        raise ValidationFailed([error]) from None


@router.put(
    "/rules/{rule_id}",
    response_model=RuleOut,
    summary="Create or replace a rule (a new version when anything changes)",
    openapi_extra=documented_body(RuleIn),
    responses=documented_errors(
        keyed("admin")
        | BODY
        | UNAVAILABLE
        | {
            409: "`expected_version` is not the rule's version, or the rule set is full "
            "(FRAUD_MAX_RULES), or with this rule it would apply more operations to each "
            "batch than FRAUD_MAX_RULE_SET_OPERATIONS; nothing was written",
            422: "a field breaks the contract, or the condition does not compile or cannot "
            "be evaluated (the `position` in it is given); nothing was written",
        }
    )
    | {201: {"description": "created", "model": RuleOut}},
)
async def put_rule(
    request: Request,
    rule_id: RuleIdPath,
    caller: Administrator,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """Every change is recorded with who made it, when, and the rule before and after
    (`GET /v1/rules/{id}/changes`). Sending the current content again changes nothing
    (200, same version)."""
    if rule_id in RESERVED_IDS:
        raise ValidationFailed(
            [{"field": "path.rule_id", "message": f"{rule_id!r} is reserved", "type": "rule"}]
        )
    body = await parse_body(request, RuleIn)
    rule = Rule(
        id=rule_id,
        description=body.description,
        condition=body.condition,
        action=body.action,
        mode=body.mode,
        priority=body.priority,
    )
    conditions = request.app.state.rule_sync.conditions
    condition = await compiled(rule, conditions)
    async with db.connection() as conn:
        _, stored = await load_rules(conn)
        others = [s.rule for s in stored if s.rule.id != rule_id]
        if len(others) == len(stored) and len(stored) >= settings.max_rules:
            raise Conflict(f"the rule set already holds {len(stored)} rules (FRAUD_MAX_RULES)")
        spent = await asyncio.to_thread(rule_set_operations, others, conditions)
        if spent + condition.operations > settings.max_rule_set_operations:
            raise Conflict(
                f"with this rule the rule set would apply {spent + condition.operations:,} "
                f"operations to each batch ({condition.operations:,} of them this rule's); at "
                f"most {settings.max_rule_set_operations:,} (FRAUD_MAX_RULE_SET_OPERATIONS)"
            )
        try:
            saved = await save_rule(conn, rule, caller.key_id, body.expected_version)
        except VersionMismatch as exc:
            raise Conflict(str(exc)) from None
    if saved.changed:
        logs.admin_action(
            "rule_saved", caller.key_id, rule=rule_id, version=saved.rule.rule.version
        )
        request.app.state.rule_sync.soon()
    return json_response(saved.rule.as_json(), 201 if saved.created else 200)


@router.post(
    "/rules/backtest",
    response_model=BacktestReportOut,
    summary="What a rule would have done to the stored transactions of a period",
    dependencies=[ReadKey],
    openapi_extra=documented_body(BacktestRequest),
    responses=documented_errors(
        keyed("read")
        | BODY
        | UNAVAILABLE
        | {
            422: "a bad condition (with its position) or action, a condition that cannot be "
            "evaluated, `until` not after `since`, a period with more than "
            "FRAUD_BACKTEST_MAX_ROWS transactions, or one needing more memory than "
            "FRAUD_BACKTEST_MAX_MEMORY_MB",
            429: "FRAUD_BACKTEST_CONCURRENCY backtests already running over every API "
            "process, or the key is over its rate limit",
            504: "the backtest ran past FRAUD_BACKTEST_TIMEOUT_S and was stopped",
        }
    ),
)
async def run_backtest(request: Request) -> Response:
    """Reads the transactions with `since` <= event time < `until` (and the 31 days before,
    for their features' history) from PostgreSQL, recomputes their features with the same
    definitions as scoring, and reports how many the rule hits, how many of those were
    confirmed fraud or legitimate (the latest label of each), the fraud amount caught per
    currency, and how the decisions would change (a hit decided by a list keeps it). It
    runs in a child process, never in the scoring one, bounded in rows, time, memory and
    concurrency; a child that fails is a 503."""
    body = await parse_body(request, BacktestRequest)
    await compiled(Rule("backtest", "", body.condition, body.action, "shadow", 0))
    report = await request.app.state.backtests.run(
        body.condition, body.action, body.since, body.until
    )
    return json_response(report)


@router.get(
    "/rules",
    response_model=RuleList,
    summary="The rules, in order of evaluation, and the rule set's version",
    dependencies=[ReadKey],
    responses=documented_errors(keyed("read") | UNAVAILABLE),
)
async def list_rules(db: DatabaseDep) -> Response:
    """Each rule's `errors`: whether this version of it raised while this process scored
    (it is then skipped in that batch; null: never)."""
    async with db.connection() as conn:
        version, rules = await load_rules(conn)
    return json_response({"version": version, "rules": [_in_service(r) for r in rules]})


def _in_service(stored: StoredRule) -> dict[str, object]:
    return stored.as_json() | {"errors": FAILURES.of(stored.rule)}


# GET /v1/rules/hits is routed before /v1/rules/{rule_id}: no rule may take its name.
RESERVED_IDS = frozenset({"hits"})
HITS_MAX_HOURS = 24 * 31


@router.get(
    "/rules/hits",
    response_model=RuleHits,
    summary="How often each rule matched (active and shadow) in the last hours",
    dependencies=[ReadKey],
    responses=documented_errors(keyed("read") | UNAVAILABLE | {422: "`hours` out of range"}),
)
async def count_rule_hits(
    db: DatabaseDep,
    hours: Annotated[
        DecimalInt, Query(ge=1, le=HITS_MAX_HOURS, description="the period, up to 31 days")
    ] = 24,
) -> Response:
    """Counted from the stored decisions (every API process's), by the mode the rule had
    when it matched, over decisions scored in [`since`, `until`). Reads only the period's
    decisions in which some rule matched (an index on scoring time holds just those);
    decisions still on their way to PostgreSQL (the consumer's lag) are not counted yet."""
    until = datetime.now(UTC)
    since = until - timedelta(hours=hours)
    async with db.connection() as conn:
        hits = await rule_hits(conn, since, until)
    return json_response({"since": since, "until": until, "hits": hits})


@router.get(
    "/rules/{rule_id}",
    response_model=RuleOut,
    summary="One rule, at its current version",
    dependencies=[ReadKey],
    responses=documented_errors(
        keyed("read") | UNAVAILABLE | {404: "no such rule", 422: "not a rule id"}
    ),
)
async def read_rule(rule_id: RuleIdPath, db: DatabaseDep) -> Response:
    async with db.connection() as conn:
        found = await get_rule(conn, rule_id)
    if found is None:
        raise NotFound(f"no rule {rule_id!r}")
    return json_response(_in_service(found))


@router.get(
    "/rules/{rule_id}/changes",
    response_model=list[RuleChange],
    summary="Every change of a rule (who, when, before, after), the latest first",
    dependencies=[ReadKey],
    responses=documented_errors(
        keyed("read") | UNAVAILABLE | {404: "the rule never existed", 422: "not a rule id"}
    ),
)
async def read_changes(rule_id: RuleIdPath, db: DatabaseDep) -> Response:
    async with db.connection() as conn:
        changes = await rule_changes(conn, rule_id)
    if not changes:
        raise NotFound(f"no rule {rule_id!r} was ever written")
    return json_response(changes)


@router.delete(
    "/rules/{rule_id}",
    status_code=204,
    summary="Delete a rule (its changes are kept)",
    responses=documented_errors(
        keyed("admin") | UNAVAILABLE | {404: "no such rule", 422: "not a rule id"}
    ),
)
async def remove_rule(
    request: Request, rule_id: RuleIdPath, caller: Administrator, db: DatabaseDep
) -> Response:
    async with db.connection() as conn:
        deleted = await delete_rule(conn, rule_id, caller.key_id)
    if not deleted:
        raise NotFound(f"no rule {rule_id!r}")
    logs.admin_action("rule_deleted", caller.key_id, rule=rule_id)
    request.app.state.rule_sync.soon()
    return Response(status_code=204)
