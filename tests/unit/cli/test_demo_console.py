"""`fraud demo` names the console's URL when its build is there, and how to build it when
not."""

from __future__ import annotations

from pathlib import Path

from cli.demo import console_line


def test_a_built_console_gets_its_url(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>")
    line = console_line(tmp_path, "http://127.0.0.1:8123")
    assert line.startswith("console: http://127.0.0.1:8123/dashboard/")


def test_an_unbuilt_console_says_how_to_build_it(tmp_path: Path) -> None:
    line = console_line(tmp_path / "dist", "http://127.0.0.1:8123")
    assert "/dashboard/" not in line
    assert "make console" in line
