"""The scoring service on a stand-in store and bundle: retries get the first answer byte
for byte, a failing or slow store degrades answers and is skipped, answers kept for
retries survive a failed round trip, the audit sees every computed decision."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import SlotNotCoveredError

from scoring.breaker import SLOW_CALLS_TO_OPEN
from scoring.decision import Decision
from scoring.event_time import EventTimePolicy
from scoring.service import Recorded, ScoringConfig, ScoringService
from scoring.transaction import Transaction
from tests.unit.scoring.fakes import Bundle, Models, Store, transaction
from tests.waiting import eventually

DECISIONS = {"low": "approve", "medium": "review", "high": "review", "critical": "decline"}


def service(store: Store, bundle: Bundle | None = None, **config: Any) -> ScoringService:
    settings: dict[str, Any] = {
        "budget_s": 0.05,
        "retry_after_s": 0.2,
        "degraded_policy": "score",
        "decisions": DECISIONS,
        "max_batch": 16,
        "reasons": 3,
        "compute_linger_s": 0.01,
        "answer_linger_s": 0.01,
        # The stand-in transactions carry a fixed time: replayed, not live.
        "event_time": EventTimePolicy(replay=True),
    }
    return ScoringService(
        store,  # type: ignore[arg-type]
        Models(Bundle() if bundle is None else bundle),  # type: ignore[arg-type]
        ScoringConfig(**(settings | config)),
    )


def run(s: ScoringService, body: Callable[[ScoringService], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        await s.start()
        try:
            return await body(s)
        finally:
            await s.stop()

    return asyncio.run(go())


def test_a_retried_id_gets_the_first_answer_byte_for_byte() -> None:
    store, bundle = Store(), Bundle()

    async def twice(s: ScoringService) -> tuple[Decision, Decision]:
        first = await s.score(transaction("tx_r"))
        await eventually(lambda: len(store.trips) == 2, "the answer stored alone", poll_s=0.005)
        return first, await s.score(transaction("tx_r"))

    first, again = run(service(store, bundle), twice)
    assert again.json == first.json
    assert len(bundle.matrices) == 1  # the retry was not scored again
    assert store.trips[1] == ([], ["tx_r"])


def test_answers_ride_on_the_next_round_trip() -> None:
    store = Store()

    async def two(s: ScoringService) -> None:
        await s.score(transaction("tx_a"))
        await s.score(transaction("tx_b"))  # within the linger

    run(service(store, answer_linger_s=0.3), two)
    assert store.trips[:2] == [(["tx_a"], []), (["tx_b"], ["tx_a"])]
    assert store.trips[2] == ([], ["tx_b"])  # stored at stop


def test_a_failing_store_degrades_answers_and_is_skipped_for_a_while() -> None:
    store = Store()
    store.fail = RedisConnectionError("down")

    async def three(s: ScoringService) -> list[Decision]:
        out = [await s.score(transaction("tx_1")), await s.score(transaction("tx_2"))]
        store.fail = None
        # Time must pass here: the store is skipped until retry_after_s is over.
        await eventually(lambda: not s.breaker.skipping, "the store tried again", poll_s=0.01)
        out.append(await s.score(transaction("tx_3")))
        return out

    decisions = run(service(store, degraded_policy="review"), three)
    assert [d.degraded for d in decisions] == [True, True, False]
    assert [d.decision for d in decisions] == ["review", "review", "approve"]
    assert [events for events, _ in store.trips if events] == [["tx_1"], ["tx_3"]]  # tx_2 skipped


def test_a_cluster_without_a_reachable_node_degrades_answers() -> None:
    """redis-py's cluster client raises RedisClusterException (not a RedisError) when no
    node answers or a slot has no owner: a degraded answer, not a 500."""
    store = Store()
    store.fail = SlotNotCoveredError("slot 866 is not covered by the cluster")

    decision = run(service(store), lambda s: s.score(transaction("tx_1")))
    assert decision.degraded


def test_slow_round_trips_degrade_their_batch_and_a_slow_store_is_skipped() -> None:
    store = Store()
    store.delay = 0.1  # past the 50 ms budget

    async def some(s: ScoringService) -> list[Decision]:
        return [await s.score(transaction(f"tx_{i}")) for i in range(SLOW_CALLS_TO_OPEN + 1)]

    decisions = run(service(store), some)
    assert all(d.degraded for d in decisions)
    assert len(store.trips) == SLOW_CALLS_TO_OPEN  # the last did not wait for the store


def test_answers_a_failed_round_trip_carried_go_with_the_next() -> None:
    store = Store()

    async def go(s: ScoringService) -> None:
        await s.score(transaction("tx_a"))
        store.fail = RedisConnectionError("down")
        await s.score(transaction("tx_b"))  # carries tx_a's answer, fails
        store.fail = None
        s.breaker.succeeded()
        # Time must pass here: the store is skipped until retry_after_s is over.
        await eventually(lambda: not s.breaker.skipping, "the store tried again", poll_s=0.01)
        await s.score(transaction("tx_c"))

    run(service(store, answer_linger_s=0.3), go)
    assert store.trips[1] == (["tx_b"], ["tx_a"])
    assert store.trips[2] == (["tx_c"], ["tx_a"])
    assert "tx_a" in store.stored
    assert "tx_b" not in store.stored  # degraded answers are not kept for retries


def test_every_computed_decision_is_audited_and_no_model_fails_the_request() -> None:
    audited: list[tuple[str, str, str]] = []

    def audit(decided: list[tuple[Transaction, Decision, str]], recorded: Recorded) -> None:
        audited.extend((tx.transaction_id, d.transaction_id, scope) for tx, d, scope in decided)
        recorded(None)

    s = service(Store())
    s.audit = audit
    run(s, lambda s: s.score(transaction("tx_1"), scope="k_a"))
    assert audited == [("tx_1", "tx_1", "k_a")]

    unloaded = service(Store())
    unloaded.models.bundle = None

    async def refused(s: ScoringService) -> str:
        try:
            await s.score(transaction("tx_2"))
        except RuntimeError as exc:
            return str(exc)
        return "answered"

    assert run(unloaded, refused) == "no model loaded"


def test_a_live_time_outside_the_bounds_is_refused_before_the_store() -> None:
    """Live event time (the default policy): a timestamp past the skew or the age bound is
    refused before any round trip; one near the clock is scored."""
    from datetime import UTC, datetime, timedelta

    from scoring.event_time import EventTimeRefused

    store = Store()
    now = datetime.now(UTC)

    async def three(s: ScoringService) -> list[str]:
        out = []
        for n, moment in enumerate(
            (now + timedelta(minutes=10), now - timedelta(days=2), now + timedelta(seconds=30))
        ):
            try:
                out.append((await s.score(transaction(f"tx_{n}", timestamp=moment))).decision)
            except EventTimeRefused as exc:
                out.append(str(exc))
        return out

    live = EventTimePolicy(max_skew_ms=300_000, max_age_ms=86_400_000)
    ahead, old, near = run(service(store, event_time=live), three)
    assert "ahead of the server's clock" in ahead
    assert "FRAUD_MAX_CLOCK_SKEW_S" in ahead
    assert "behind the server's clock" in old
    assert "FRAUD_MAX_EVENT_AGE_S" in old
    assert near == "approve"
    assert [events for events, _ in store.trips if events] == [["tx_2"]]


def test_copies_in_flight_get_the_first_answer_and_one_audit_a_changed_copy_409() -> None:
    """Twenty copies of one request at once: one computation, one audit event, the same
    bytes for all; a copy with another amount sent meanwhile is refused at once."""
    from scoring.service import IdempotencyConflict

    bundle = Bundle()
    audited: list[str] = []

    def audit(decided: list[tuple[Transaction, Decision, str]], recorded: Recorded) -> None:
        audited.extend(tx.transaction_id for tx, _, _ in decided)
        recorded(None)

    async def burst(s: ScoringService) -> tuple[set[bytes], str]:
        s.audit = audit
        copies = [asyncio.ensure_future(s.score(transaction("tx_c"))) for _ in range(20)]
        await asyncio.sleep(0)  # the first is in flight
        try:
            await s.score(transaction("tx_c", amount=1.0))
            changed = "answered"
        except IdempotencyConflict:
            changed = "409"
        return {d.json for d in await asyncio.gather(*copies)}, changed

    bodies, changed = run(service(Store(), bundle), burst)
    assert len(bodies) == 1
    assert changed == "409"
    assert audited == ["tx_c"]
    assert sum(len(m) for m in bundle.matrices) == 1


def test_a_batch_the_audit_cannot_record_is_not_answered_nor_kept_for_retries() -> None:
    from scoring.service import AuditUnavailable

    store = Store()

    def audit(decided: list[tuple[Transaction, Decision, str]], recorded: Recorded) -> None:
        recorded(OSError(28, "No space left on device"))

    async def refused(s: ScoringService) -> str:
        s.audit = audit
        try:
            await s.score(transaction("tx_full"))
        except AuditUnavailable as exc:
            return str(exc)
        return "answered"

    assert "No space left on device" in run(service(store), refused)
    assert "tx_full" not in store.stored


def test_a_caller_that_goes_away_mid_round_trip_leaves_no_copy_waiting() -> None:
    """A request alone runs the store's round trip in its caller's task: if that task is
    cancelled (the server stopping it), the copies that joined it are refused rather than
    left waiting, the answers its round trip carried go on the next, and its id is free."""
    store = Store()

    async def go(s: ScoringService) -> tuple[str, list[str], Decision]:
        await s.score(transaction("tx_before"))
        store.delay = 0.2
        first = asyncio.ensure_future(s.score(transaction("tx_gone")))
        await eventually(lambda: len(store.trips) == 2, "its round trip out", poll_s=0.001)
        copy = asyncio.ensure_future(s.score(transaction("tx_gone")))
        await asyncio.sleep(0)  # the copy joins the first
        first.cancel()
        copy_error = ""
        try:
            await copy
        except RuntimeError as exc:
            copy_error = str(exc)
        store.delay = 0.0
        again = await s.score(transaction("tx_gone"))
        return copy_error, store.trips[2][1], again

    copy_error, carried, again = run(service(store, answer_linger_s=0.3), go)
    assert copy_error == "the request was cancelled before it was scored"
    assert carried == ["tx_before"]  # given back by the cancelled trip, carried by the next
    assert again.decision == "approve"
