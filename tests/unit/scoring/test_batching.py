"""The two coalescing stages, with stand-in stages: batches up to the limit, round trips
in flight up to the limit, the linger for round trips already out, failures answered."""

from __future__ import annotations

import asyncio
from typing import Any

from scoring.batching import Batcher
from tests.waiting import eventually


class Stages:
    """Store stage: reads sleep `delays[item]`; compute stage records its calls."""

    def __init__(self, delays: dict[str, float] | None = None) -> None:
        self.delays = delays or {}
        self.batches: list[list[str]] = []
        self.computed: list[list[str]] = []
        self.failed: list[tuple[list[str], str]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.fail_read: set[str] = set()
        self.fail_compute: set[str] = set()
        self.answered = 0  # items the store stage answered itself

    async def read(self, batch: list[str]) -> list[tuple[str, str]]:
        self.batches.append(batch)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(max(self.delays.get(item, 0.0) for item in batch))
        finally:
            self.in_flight -= 1
        if self.fail_read & set(batch):
            raise RuntimeError("read failed")
        self.answered += batch.count("answered")
        return [(item, f"read {item}") for item in batch if item != "answered"]

    def compute(self, items: list[tuple[str, str]]) -> None:
        if self.fail_compute & {item for item, _ in items}:
            raise RuntimeError("compute failed")
        self.computed.append([item for item, _ in items])

    def fail(self, items: list[str], exc: BaseException) -> None:
        self.failed.append((items, str(exc)))

    def settled(self) -> int:
        """Items served so far: computed, failed or answered by the store stage."""
        computed = sum(len(c) for c in self.computed)
        return computed + sum(len(items) for items, _ in self.failed) + self.answered


def batcher(stages: Stages, **config: Any) -> Batcher[str, str]:
    settings = {"max_batch": 16, "max_inflight": 4, "linger_s": 0.0} | config
    return Batcher(stages.read, stages.compute, stages.fail, **settings)


def run(stages: Stages, items: list[str], pause_s: float = 0.0, **config: Any) -> None:
    async def go() -> None:
        b = batcher(stages, **config)
        await b.start()
        for item in items:
            b.submit(item)
            if pause_s:
                await asyncio.sleep(pause_s)
        await eventually(lambda: stages.settled() == len(items), "every item served", poll_s=0.005)
        await b.stop()

    asyncio.run(go())


def test_waiting_requests_leave_in_batches_of_at_most_max_batch() -> None:
    stages = Stages()
    run(stages, [f"t{i}" for i in range(10)], max_batch=4, max_inflight=1)
    assert [len(b) for b in stages.batches] == [4, 4, 2]
    assert sorted(i for c in stages.computed for i in c) == sorted(f"t{i}" for i in range(10))


def test_at_most_max_inflight_round_trips_are_out_at_once() -> None:
    stages = Stages({f"t{i}": 0.05 for i in range(6)})
    run(stages, [f"t{i}" for i in range(6)], pause_s=0.001, max_batch=1, max_inflight=2)
    assert stages.most_in_flight == 2
    assert len(stages.batches) == 6


def test_the_compute_stage_waits_up_to_the_linger_for_round_trips_already_out() -> None:
    # a lands at once, b 100 ms later: within a 1 s linger one computation serves both.
    stages = Stages({"a": 0.0, "b": 0.1})
    run(stages, ["a", "b"], max_batch=1, linger_s=1.0)
    assert stages.computed == [["a", "b"]]
    # With a 10 ms linger, a is computed without waiting for b.
    stages = Stages({"a": 0.0, "b": 0.1})
    run(stages, ["a", "b"], max_batch=1, linger_s=0.01)
    assert stages.computed == [["a"], ["b"]]


def test_items_the_store_stage_answered_are_not_computed() -> None:
    stages = Stages()
    run(stages, ["answered", "t1"])
    assert stages.computed == [["t1"]]


def test_a_failing_stage_fails_its_items_and_the_next_are_served() -> None:
    stages = Stages()
    stages.fail_read = {"bad_read"}
    stages.fail_compute = {"bad_compute"}
    run(stages, ["bad_read", "bad_compute", "good"], pause_s=0.02, max_batch=1)
    assert stages.failed == [(["bad_read"], "read failed"), (["bad_compute"], "compute failed")]
    assert stages.computed == [["good"]]


def test_stop_waits_for_work_spawned_beside_the_stages() -> None:
    done: list[str] = []

    async def go() -> None:
        b = batcher(Stages())
        await b.start()

        async def work() -> None:
            await asyncio.sleep(0.05)
            done.append("work")

        b.spawn(work())
        await b.stop()

    asyncio.run(go())
    assert done == ["work"]


def test_an_item_arriving_when_idle_runs_both_stages_in_its_callers_task() -> None:
    """No hand-off to the workers: run_now returns with the item computed. Items arriving
    while it is out find the stages busy and are batched by the workers together."""
    stages = Stages({"alone": 0.05})

    async def go() -> tuple[list[str], bool]:
        b = batcher(stages)
        await b.start()
        assert b.idle
        alone = asyncio.ensure_future(b.run_now("alone"))
        await eventually(lambda: stages.in_flight == 1, "the first round trip out", poll_s=0.001)
        idle_while_out = b.idle
        for item in ("b1", "b2", "b3"):
            b.submit(item)
        await alone
        computed_when_it_returned = [item for batch in stages.computed for item in batch]
        await eventually(lambda: stages.settled() == 4, "every item served", poll_s=0.005)
        await b.stop()
        return computed_when_it_returned, idle_while_out

    first, idle_while_out = asyncio.run(go())
    assert "alone" in first
    assert not idle_while_out
    assert stages.batches[0] == ["alone"]
    assert ["b1", "b2", "b3"] in stages.batches


def test_an_item_run_now_whose_caller_is_cancelled_is_failed_and_stop_does_not_hang() -> None:
    stages = Stages({"slow": 1.0})

    async def go() -> bool:
        b = batcher(stages)
        await b.start()
        task = asyncio.ensure_future(b.run_now("slow"))
        await eventually(lambda: stages.in_flight == 1, "the round trip out", poll_s=0.001)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        idle = b.idle
        await b.stop()
        return idle

    assert asyncio.run(go())
    assert stages.failed == [(["slow"], "the request was cancelled before it was scored")]
    assert stages.computed == []


def test_stop_waits_for_an_item_run_now() -> None:
    stages = Stages({"alone": 0.05})

    async def go() -> None:
        b = batcher(stages)
        await b.start()
        alone = asyncio.ensure_future(b.run_now("alone"))
        await eventually(lambda: stages.in_flight == 1, "the round trip out", poll_s=0.001)
        await b.stop()
        assert stages.computed == [["alone"]]
        await alone

    asyncio.run(go())
