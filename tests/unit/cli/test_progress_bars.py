"""The command line's progress bars: a bar whose work ends early is finished where it
ended, its clock stopped, instead of staying half full and counting."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import Progress

from cli.main import RichProgress


def test_a_bar_finished_early_ends_where_its_work_did() -> None:
    progress = Progress(console=Console(file=io.StringIO()))
    bars = RichProgress(progress)
    bar = bars.task("training XGBoost", 400)
    bar(185)
    [task] = progress.tasks
    assert not task.finished
    bar.finish("stopped early")
    assert task.finished
    assert (task.completed, task.total) == (185, 185)
    assert task.description == "training XGBoost (stopped early)"
    assert task.finished_time is not None  # the elapsed time no longer counts


def test_a_bar_reaching_its_total_is_finished() -> None:
    progress = Progress(console=Console(file=io.StringIO()))
    bar = RichProgress(progress).task("compiling with tl2cgen", 2)
    bar(1)
    bar(1)
    assert progress.tasks[0].finished
