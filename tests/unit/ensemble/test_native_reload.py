"""A compiled library replaced on disk is loaded anew: a model retrained in place and
reloaded must serve its new trees, not the ones the process loaded first."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ensemble.native import open_library


def build(tmp_path: Path, value: int) -> Path:
    source = tmp_path / f"v{value}.c"
    source.write_text(f"int value(void) {{ return {value}; }}\n")
    library = tmp_path / f"v{value}.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def test_a_library_replaced_in_place_is_loaded_anew(tmp_path: Path) -> None:
    served = tmp_path / "bundle" / "xgboost.so"
    served.parent.mkdir()
    shutil.copy(build(tmp_path, 1), served)
    first = open_library(served)

    fresh = served.with_suffix(".so.partial")
    shutil.copy(build(tmp_path, 2), fresh)
    fresh.replace(served)  # as `fraud train` moves a finished bundle into place
    second = open_library(served)

    assert (first.value(), second.value()) == (1, 2)  # the old one still works meanwhile
    assert open_library(served)._handle == second._handle  # one file is mapped once


def test_the_same_name_through_another_path_is_the_same_file(tmp_path: Path) -> None:
    library = build(tmp_path, 3)
    link = tmp_path / "current.so"
    os.symlink(library, link)
    assert open_library(link)._handle == open_library(library)._handle
