"""A rich progress bar on stderr: done/total, rate, ETA, errors and cost so far."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f}/s" if speed else "-/s", style="progress.data.speed")


class ProgressDisplay:
    """Shows a run's progress when stderr is a terminal; otherwise does nothing.

    The runner calls `update` a few times a second from a timer, never once per request.
    """

    def __init__(self, total: int, description: str, *, enabled: bool) -> None:
        """Prepare a bar for `total` requests (shown only if `enabled` and on a terminal)."""
        console = Console(stderr=True)
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if enabled and (console.is_terminal or console.is_jupyter):
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _RateColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[errors]} errors"),
                TextColumn("{task.fields[cost]}"),
                console=console,
                refresh_per_second=4,
            )
            self._task = self._progress.add_task(description, total=total, errors=0, cost="")

    @property
    def active(self) -> bool:
        """Whether anything is displayed."""
        return self._progress is not None

    def start(self) -> None:
        """Begin drawing."""
        if self._progress is not None:
            self._progress.start()

    def update(self, done: int, errors: int, cost_usd: float | None) -> None:
        """Show the latest counts."""
        if self._progress is None or self._task is None:
            return
        cost = "" if cost_usd is None else f"${cost_usd:,.4f}"
        self._progress.update(self._task, completed=done, errors=errors, cost=cost)

    def stop(self) -> None:
        """Draw the final state and release the terminal."""
        if self._progress is not None:
            self._progress.stop()
