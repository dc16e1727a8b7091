"""`fraud backfill`: a history written into the online state in bulk leaves what the same
rows sent one by one (as the API sends them) leave, for everything the features read; run
again it records nothing twice; a bad file writes nothing; the settings-built way in (the
command's, the demo's, `make perf`'s) writes where those settings' API reads, from a file
or from rows in memory alike."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pandas as pd
import pytest
import redis.asyncio as aioredis

from cli.backfill import backfill, backfill_into, events, fraud_labels, scopes_of
from features.dataset import DatasetError, read_transactions, write_transactions
from features.encode import prepare_history
from features.redis_store import RedisWindowStore
from features.window_format import Event, WindowRead
from localservers import delete_keys
from synthetic.generator import GeneratorConfig, generate
from tests.integration.conftest import keys_of, make_settings

SCOPE = "key_backfill"
DELAY_DAYS = 7.0  # FRAUD_LABEL_DELAY_DAYS: where a label has no reported time


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 days (past the 31-day horizon) with labels reported days after the fraud."""
    path = tmp_path_factory.mktemp("backfill") / "history.parquet"
    frame = generate(GeneratorConfig(days=40, cards=120, seed=11, label_delay_days=3.0))
    write_transactions(frame, path)
    return path


async def one_by_one(store: RedisWindowStore, path: Path) -> None:
    """The reference: every row of the file, in event-time order, one store call each (a
    request at a time, as the API records them), and each fraud label as feedback applies
    it once known."""
    history = prepare_history(read_transactions(path), DELAY_DAYS)
    scopes = scopes_of(history.frame, SCOPE)
    for event in events(history.frame, scopes):
        await store.read_and_record([event])
    until = int(history.tx.ts[-1])
    labels = fraud_labels(history, scopes, until - 400 * 86_400_000, until)
    for label in labels:
        await store.record_labels([label])


def probes(path: Path) -> list[Event]:
    """A transaction of every card just after the history: what its features would read."""
    history = prepare_history(read_transactions(path), DELAY_DAYS)
    frame = history.frame
    last = frame.groupby("card_id", sort=False).tail(1).copy()
    end = datetime.fromtimestamp(int(history.tx.ts[-1]) / 1000, UTC)
    later = (end + timedelta(minutes=1)).isoformat()
    last["timestamp"] = later
    last["transaction_id"] = "probe_" + last["transaction_id"].astype(str)
    return list(events(last, scopes_of(last, SCOPE)))


def read_of(read: WindowRead) -> tuple[object, ...]:
    return (read.members, read.label_scores, read.profiles, read.conflict, read.answer_pending)


def test_backfill_leaves_what_the_rows_sent_one_by_one_leave(
    redis_url: str, prefix: str, history: Path
) -> None:
    reference = f"{prefix}-ref"

    async def run() -> tuple[list[WindowRead], list[WindowRead], dict[str, object]]:
        async with aioredis.Redis.from_url(redis_url) as client:
            bulk = RedisWindowStore(client, prefix, 3_600_000, replay=True)
            ref = RedisWindowStore(client, reference, 3_600_000, replay=True)
            summary = await backfill(bulk, history, SCOPE, DELAY_DAYS)
            await one_by_one(ref, history)
            probe = probes(history)
            return (
                await bulk.read_and_record(probe),
                await ref.read_and_record(probe),
                summary.as_dict(),
            )

    try:
        bulk_reads, ref_reads, summary = asyncio.run(run())
    finally:
        delete_keys(redis_url, reference)
    rows = len(read_transactions(history))
    assert summary["rows"] == rows
    assert 0 < summary["skipped_before_horizon"] < rows  # 40 days: the first 9 or so skipped
    assert summary["recorded"] == rows - summary["skipped_before_horizon"]
    assert summary["fraud_labels"] > 0
    # Every card's windows, known-fraud labels and profiles read the same bytes.
    assert len(bulk_reads) == len(probes(history)) > 100
    assert [read_of(r) for r in bulk_reads] == [read_of(r) for r in ref_reads]
    assert any(r.label_scores for r in bulk_reads)  # the labels were there to compare
    # and the cards' windows (a card idle for its last 7 days has an empty one)
    assert sum(bool(r.members.get("card")) for r in bulk_reads) > len(bulk_reads) / 2


def test_a_second_run_records_nothing_again(redis_url: str, prefix: str, history: Path) -> None:
    async def run() -> tuple[dict[str, object], dict[str, object], bytes, bytes]:
        async with aioredis.Redis.from_url(redis_url) as client:
            store = RedisWindowStore(client, prefix, 3_600_000, replay=True)
            first = (await backfill(store, history, SCOPE, DELAY_DAYS)).as_dict()
            state = orjson.dumps(sorted(await state_of(client, prefix)))
            second = (await backfill(store, history, SCOPE, DELAY_DAYS)).as_dict()
            again = orjson.dumps(sorted(await state_of(client, prefix)))
            return first, second, state, again

    first, second, state, again = asyncio.run(run())
    assert second["recorded"] == 0
    assert second["already_recorded"] == first["recorded"] > 0
    assert again == state  # every window, profile and label set byte for byte


async def state_of(client: aioredis.Redis, prefix: str) -> list[tuple[str, str]]:
    """Every window/profile string and label set under the prefix (not the claims)."""
    out = []
    async for key in client.scan_iter(match=f"{prefix}:*"):
        name = key.decode()
        if ":e4:" in name:
            out.append((name, (await client.get(key)).hex()))
        elif ":l:" in name:
            out.append((name, repr(await client.zrange(key, 0, -1, withscores=True))))
    return out


def test_backfill_into_fills_the_settings_store_from_rows_in_memory(
    redis_url: str, prefix: str, history: Path, tmp_path: Path
) -> None:
    """`make perf` passes the rows it split in memory (an index with gaps, as a filtered
    frame has), the demo a file: through the settings' store (here replayed event time, the
    demo's), both leave what the file backfilled into a store built by hand leaves."""
    reference = f"{prefix}-ref"
    rows = read_transactions(history)
    rows = rows[rows.index % 7 != 3]  # a gap in the index, as split_world's halves have
    path = tmp_path / "rows.parquet"
    write_transactions(rows, path)
    settings = make_settings(redis_url, prefix, tmp_path, label_delay_days=DELAY_DAYS)

    async def run() -> tuple[dict[str, object], dict[str, object], list[object], list[object]]:
        filled = await backfill_into(settings, rows, SCOPE)
        async with aioredis.Redis.from_url(redis_url) as client:
            by_hand = RedisWindowStore(
                client, reference, settings.response_ttl_s * 1000, replay=True
            )
            expected = await backfill(by_hand, path, SCOPE, DELAY_DAYS)
            return (
                filled.as_dict(),
                expected.as_dict(),
                _unprefixed(await state_of(client, prefix), prefix),
                _unprefixed(await state_of(client, reference), reference),
            )

    try:
        filled, expected, state, expected_state = asyncio.run(run())
    finally:
        delete_keys(redis_url, reference)
    timing = ("seconds", "rows_per_second")
    assert {k: v for k, v in filled.items() if k not in timing} == {
        k: v for k, v in expected.items() if k not in timing
    }
    assert filled["recorded"]
    assert filled["fraud_labels"]
    assert state == expected_state
    assert len(state) > 100


def _unprefixed(state: list[tuple[str, str]], prefix: str) -> list[object]:
    return sorted((name.removeprefix(prefix), value) for name, value in state)


def test_a_bad_row_is_named_and_nothing_is_written(
    redis_url: str, prefix: str, history: Path, tmp_path: Path
) -> None:
    frame = read_transactions(history).head(200).copy()
    frame.loc[150, "amount"] = -3.0
    bad = tmp_path / "bad.parquet"
    write_transactions(frame, bad)

    async def run() -> None:
        async with aioredis.Redis.from_url(redis_url) as client:
            await backfill(
                RedisWindowStore(client, prefix, 3_600_000, replay=True), bad, SCOPE, DELAY_DAYS
            )

    with pytest.raises(DatasetError, match=str(frame.loc[150, "transaction_id"])):
        asyncio.run(run())
    assert keys_of(redis_url, prefix) == set()


def test_the_command_prints_its_figures_and_refuses_a_missing_file(
    redis_url: str, prefix: str, history: Path, tmp_path: Path
) -> None:
    env = {"FRAUD_REDIS_URL": redis_url, "FRAUD_REDIS_PREFIX": prefix}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "backfill", "--data", str(history), "--scope", SCOPE],
        env=env | _base_env(),
        capture_output=True,
        check=True,
    )
    summary = orjson.loads(done.stdout)
    assert summary["recorded"] > 0
    assert summary["rows_per_second"] > 0
    missing = subprocess.run(
        [sys.executable, "-m", "cli.main", "backfill", "--data", str(tmp_path / "none.parquet")],
        env=env | _base_env(),
        capture_output=True,
    )
    assert missing.returncode != 0
    assert b"no such file" in missing.stderr


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}


def test_without_reported_times_labels_are_known_the_label_delay_after(
    redis_url: str, prefix: str, history: Path, tmp_path: Path
) -> None:
    """As training's replay has it: a fraud without `label_reported_at` is known
    FRAUD_LABEL_DELAY_DAYS after its transaction, so the last days' frauds are not yet."""
    frame = read_transactions(history).drop(columns=["label_reported_at"])
    unreported = tmp_path / "unreported.parquet"
    write_transactions(frame, unreported)
    ts = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    until = ts.max()
    known = ts + pd.Timedelta(days=DELAY_DAYS)
    expected = int(
        (
            frame["is_fraud"].astype(bool)
            & (known >= until - pd.Timedelta(days=31))
            & (known <= until)
        ).sum()
    )

    async def run() -> int:
        async with aioredis.Redis.from_url(redis_url) as client:
            store = RedisWindowStore(client, prefix, 3_600_000, replay=True)
            return (await backfill(store, unreported, SCOPE, DELAY_DAYS)).labels

    assert 0 < expected < int(frame["is_fraud"].sum())
    assert asyncio.run(run()) == expected
