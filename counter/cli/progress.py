"""Progress bars for the long commands (snapshot, restore, export, import), on stderr.

A bar is drawn when stderr is a terminal, or when ``--progress`` asks for one; never on
stdout, which carries the command's result (a file may be written there with ``--out -``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Bar:
    """One task on a rich Progress; ``advance`` by items done."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def advance(self, amount: int = 1) -> None:
        self._progress.advance(self._task, amount)

    def total(self, total: int) -> None:
        self._progress.update(self._task, total=total)


@contextmanager
def progress_bar(label: str, total: int | None, *, show: bool | None) -> Iterator[Bar]:
    """A bar titled ``label``; ``show`` None means: only when stderr is a terminal."""
    console = Console(stderr=True, force_terminal=True if show else None)
    enabled = show if show is not None else sys.stderr.isatty()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    ) as progress:
        yield Bar(progress, progress.add_task(label, total=total))
