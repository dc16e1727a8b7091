"""A finished bundle takes its directory's place in one step: the old directory, a symlink
to one, or nothing; nothing of the staging directory or the old bundle is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from ensemble.swap import exchange
from ensemble.train import put_in_place


def bundle(path: Path, version: str) -> Path:
    path.mkdir()
    (path / "manifest.json").write_text(version)
    return path


def test_exchange_swaps_two_directories_in_one_step(tmp_path: Path) -> None:
    a, b = bundle(tmp_path / "a", "1"), bundle(tmp_path / "b", "2")
    inode = (a / "manifest.json").stat().st_ino
    exchange(a, b)
    assert ((a / "manifest.json").read_text(), (b / "manifest.json").read_text()) == ("2", "1")
    assert (b / "manifest.json").stat().st_ino == inode  # moved, not copied
    with pytest.raises(FileNotFoundError, match="cannot exchange"):
        exchange(a, tmp_path / "missing")
    assert (a / "manifest.json").read_text() == "2"


@pytest.mark.parametrize("before", ["nothing", "directory", "symlink"])
def test_a_finished_bundle_takes_the_place_of_what_was_there(tmp_path: Path, before: str) -> None:
    out = tmp_path / "current"
    kept = bundle(tmp_path / "elsewhere", "kept")
    if before == "directory":
        bundle(out, "old")
    elif before == "symlink":
        out.symlink_to(kept)
    staging = bundle(tmp_path / "current.partial", "new")
    put_in_place(staging, out)
    assert (out / "manifest.json").read_text() == "new"
    assert not out.is_symlink()
    assert not staging.exists()
    assert not staging.is_symlink()
    # A symlink's target is another bundle, not the old one: it stays.
    assert (kept / "manifest.json").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "elsewhere"]
