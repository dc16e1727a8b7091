"""The audit log's files (real files in a temporary directory): records written down once
to the exact bytes, a torn tail cut off at open, segments rotated and deleted once
acknowledged, the acknowledged position kept across opens, a corrupt record skipped with
the rest of its segment, one slot per process and the slots of dead ones found."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from persistence.audit_log import AuditLog
from persistence.log_segments import SegmentedLog, decode, encode
from persistence.log_slots import claim, orphans


def test_a_record_is_length_crc_key_length_key_value() -> None:
    body = b"\x00\x00\x00\x04card" + b'{"a":1}'
    assert encode([(b"card", b'{"a":1}')]) == (
        len(body).to_bytes(4, "big") + zlib.crc32(body).to_bytes(4, "big") + body
    )
    assert decode(encode([(b"k", b"v"), (b"", b"")])) == ([(b"k", b"v"), (b"", b"")], 26)


def appended(log: AuditLog, batch: list[tuple[bytes, bytes]]) -> asyncio.Future[None]:
    """A future done once `batch` is synced (failed with the write's error)."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def synced(error: OSError | None) -> None:
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)

    log.append(batch, synced)
    return done


def records(n: int, start: int = 0) -> list[tuple[bytes, bytes]]:
    return [(f"card_{i % 7}".encode(), f'{{"event":{i}}}'.encode() * 10) for i in range(start, n)]


def read_all(log: SegmentedLog) -> list[tuple[bytes, bytes]]:
    out, position = [], log.acked
    while position < log.end:
        got, position = log.read(position, log.end)
        out += got
    return out


def test_a_torn_tail_is_cut_off_and_appends_continue_after_the_intact_records(
    tmp_path: Path,
) -> None:
    log = SegmentedLog(tmp_path)
    log.append(encode(records(3)))
    intact = log.end
    log.close()
    segment = next(tmp_path.glob("*.log"))
    whole = encode(records(4, 3))
    with open(segment, "ab") as f:
        f.write(whole[: len(whole) // 2])  # the process died mid-write

    reopened = SegmentedLog(tmp_path)
    assert reopened.end == intact == segment.stat().st_size
    assert read_all(reopened) == records(3)
    reopened.append(encode(records(5, 3)))
    assert read_all(reopened) == records(5)


def test_a_flipped_byte_inside_the_last_record_ends_the_log_there(tmp_path: Path) -> None:
    log = SegmentedLog(tmp_path)
    log.append(encode(records(3)))
    log.close()
    segment = next(tmp_path.glob("*.log"))
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0xFF
    segment.write_bytes(bytes(data))
    assert read_all(SegmentedLog(tmp_path)) == records(2)


def test_segments_rotate_and_are_deleted_once_acknowledged(tmp_path: Path) -> None:
    log = SegmentedLog(tmp_path, segment_bytes=1_000)
    for i in range(0, 40, 4):
        log.append(encode(records(i + 4, i)))
    assert len(list(tmp_path.glob("*.log"))) > 3
    assert read_all(log) == records(40)
    middle = sorted(int(p.stem) for p in tmp_path.glob("*.log"))[2]
    log.acknowledge(middle)
    bases = sorted(int(p.stem) for p in tmp_path.glob("*.log"))
    assert bases[0] == middle  # the two before it are gone
    log.acknowledge(log.end)
    assert len(list(tmp_path.glob("*.log"))) == 1  # the active one is kept
    log.close()
    again = SegmentedLog(tmp_path, segment_bytes=1_000)
    assert again.acked == again.end
    assert read_all(again) == []


def test_the_acknowledged_position_survives_a_reopen_and_only_the_rest_is_read(
    tmp_path: Path,
) -> None:
    log = SegmentedLog(tmp_path)
    log.append(encode(records(10)))
    first_five = len(encode(records(5)))
    log.acknowledge(log.acked + first_five)
    log.append(encode(records(12, 10)))
    log.close()
    assert read_all(SegmentedLog(tmp_path)) == records(12, 5)


def test_a_position_acknowledged_in_memory_only_is_read_again_after_a_reopen(
    tmp_path: Path,
) -> None:
    log = SegmentedLog(tmp_path)
    log.append(encode(records(4)))
    log.acknowledge(log.end, persist=False)
    log.close()
    assert read_all(SegmentedLog(tmp_path)) == records(4)  # sent again: never lost


def test_a_corrupt_record_inside_the_synced_range_skips_the_rest_of_its_segment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = SegmentedLog(tmp_path, segment_bytes=500)
    log.append(encode(records(4)))
    log.append(encode(records(8, 4)))  # a second segment
    assert len(list(tmp_path.glob("*.log"))) == 2
    first = min(tmp_path.glob("*.log"))
    with open(first, "r+b") as f:  # the disk damaged the first segment's second record
        f.seek(len(encode(records(1))) + 12)
        f.write(b"\xff")
    got, position = log.read(log.acked, log.end)
    assert got == records(1)
    got, position = log.read(position, log.end)
    assert got == []
    assert "corrupt record" in caplog.text
    got, position = log.read(position, log.end)
    assert got == records(8, 4)


def test_group_commit_syncs_concurrent_appends_together(tmp_path: Path) -> None:
    async def appends() -> tuple[int, int]:
        log = AuditLog(SegmentedLog(tmp_path))
        synced = 0
        original = log.files.append

        def counting(data: bytes) -> int:
            nonlocal synced
            synced += 1
            return original(data)

        log.files.append = counting  # type: ignore[method-assign]
        await asyncio.gather(*(appended(log, [(b"k", f"{i}".encode())]) for i in range(50)))
        end = log.synced_end
        await log.close()
        return synced, end

    syncs, end = asyncio.run(appends())
    assert syncs <= 2  # the first append's sync, then every one that came meanwhile
    assert end == len(encode([(b"k", f"{i}".encode()) for i in range(50)]))
    assert len(read_all(SegmentedLog(tmp_path))) == 50


def test_a_failed_write_refuses_its_batch_and_leaves_no_torn_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fails half-way through a batch (EIO after part of it is written): the part
    is cut off again, its appenders get the error, and the next batch is appended where
    the log was intact."""
    real_write = os.write
    failing: list[int] = []  # the log's descriptor, while its next write is to fail

    def write(fd: int, data: bytes | memoryview) -> int:
        if failing and fd == failing[0]:
            failing.clear()
            real_write(fd, data[: len(data) // 2])
            raise OSError(errno.EIO, "injected")
        return real_write(fd, data)

    async def scenario() -> str:
        log = AuditLog(SegmentedLog(tmp_path))
        await appended(log, [(b"k", b"kept")])
        monkeypatch.setattr(os, "write", write)
        failing.append(log.files._fd)
        try:
            await appended(log, [(b"k", b"refused" * 100)])
            outcome = "written"
        except OSError as exc:
            outcome = exc.strerror
        await appended(log, [(b"k", b"after")])
        await log.close()
        return outcome

    assert asyncio.run(scenario()) == "injected"
    assert read_all(SegmentedLog(tmp_path)) == [(b"k", b"kept"), (b"k", b"after")]


def test_each_process_claims_its_own_slot_and_finds_the_slots_of_dead_ones(
    tmp_path: Path,
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from persistence.log_slots import claim;"
            f" claim(Path({str(tmp_path)!r})); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[3],
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        mine = claim(tmp_path)
        assert mine.path == tmp_path / "1"  # slot 0 is the living process's
        assert [s.path for s in orphans(tmp_path, mine)] == []
        holder.kill()  # SIGKILL: the kernel lets its lock go
        holder.wait()
        found = orphans(tmp_path, mine)
        assert [s.path for s in found] == [tmp_path / "0"]
        taken = claim(tmp_path)
        assert taken.path == tmp_path / "0"  # a new process takes the free slot
        taken.release()
        mine.release()
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()


def test_a_log_left_with_records_is_told_from_an_acknowledged_one_by_its_files(
    tmp_path: Path,
) -> None:
    log = SegmentedLog(tmp_path, segment_bytes=500)
    assert not SegmentedLog.holds_unacknowledged(tmp_path)
    log.append(encode(records(4)))
    log.append(encode(records(6, 4)))
    assert SegmentedLog.holds_unacknowledged(tmp_path)
    log.acknowledge(log.end, persist=False)
    assert SegmentedLog.holds_unacknowledged(tmp_path)  # only on disk counts
    log.acknowledge(log.end)
    assert not SegmentedLog.holds_unacknowledged(tmp_path)
    log.close()


def test_the_shipper_gets_synced_records_from_memory_while_they_follow_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What this process synced is handed over from memory, in order, from the acknowledged
    position on; past the bound (Kafka away) memory lets go and the files serve, until the
    acknowledged position reaches what memory holds again."""
    monkeypatch.setattr("persistence.audit_log.RECENT_RECORDS", 10)

    async def scenario() -> list[object]:
        log = AuditLog(SegmentedLog(tmp_path))
        seen: list[object] = []
        await appended(log, records(4))
        await appended(log, records(8, 4))
        got = log.recent(log.files.acked, most=100)
        assert got is not None
        seen.append(got[0] == records(8) and got[1] == log.synced_end)
        first = log.recent(log.files.acked, most=5)  # whole batches: the first only
        assert first is not None
        seen.append(first[0] == records(4))
        log.files.acknowledge(first[1], persist=False)
        seen.append(log.recent(first[1], most=100) == (records(8, 4), log.synced_end))
        for i in range(8, 20, 4):  # past the bound: memory lets go
            await appended(log, records(i + 4, i))
        seen.append(log.recent(log.files.acked, most=100))  # None: read the files
        read, after = log.files.read(log.files.acked, log.synced_end)
        seen.append(read == records(20, 4))
        log.files.acknowledge(after, persist=False)
        await appended(log, records(24, 20))
        seen.append(log.recent(after, most=100) == (records(24, 20), log.synced_end))
        await log.close()
        return seen

    assert asyncio.run(scenario()) == [True, True, True, None, True, True]
