"""Progress on stderr: done/total, rate, ETA, errors and cost so far.

On a terminal (or in Jupyter) it is a rich progress bar. Anywhere else (a batch job, CI, output
piped to a file) it is a plain line every few seconds and one at the end, written as is: no
markup, no control codes.
"""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.markup import escape
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


def _clock(seconds: float) -> str:
    whole = max(0, int(seconds + 0.5))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _LogLines:
    """Plain progress lines for a stderr that is not a terminal."""

    def __init__(self, total: int, description: str, every_s: float) -> None:
        self._total = total
        self._description = _one_line(description)
        self._every_s = every_s
        self._started = time.monotonic()
        self._last_line = self._started
        self._state: tuple[int, int, float | None] = (0, 0, None)

    def update(self, done: int, errors: int, cost_usd: float | None) -> None:
        self._state = (done, errors, cost_usd)
        now = time.monotonic()
        if now - self._last_line >= self._every_s:
            self._last_line = now
            self._write(now, final=False)

    def finish(self) -> None:
        self._write(time.monotonic(), final=True)

    def _write(self, now: float, *, final: bool) -> None:
        done, errors, cost_usd = self._state
        elapsed = now - self._started
        rate = done / elapsed if elapsed > 0 else 0.0
        percent = 100.0 * done / self._total if self._total else 100.0
        parts = [
            f"{self._description}: {done}/{self._total} requests ({percent:.0f}%)",
            f"{rate:.1f}/s",
            f"elapsed {_clock(elapsed)}",
        ]
        if not final:
            left = (self._total - done) / rate if rate > 0 else None
            parts.append("ETA " + ("?" if left is None else _clock(left)))
        parts.append(f"{errors} error{'' if errors == 1 else 's'}")
        if cost_usd is not None:
            parts.append(f"${cost_usd:,.4f}")
        if final:
            parts.append("finished" if done >= self._total else "stopped")
        write_line(", ".join(parts))


def write_line(text: str) -> None:
    """Write one plain line to stderr (never interpreted as markup)."""
    stream = sys.stderr
    stream.write(text + "\n")
    stream.flush()


class ProgressDisplay:
    """Shows a run's progress on stderr: a bar on a terminal, plain lines elsewhere.

    The runner calls `update` a few times a second from a timer, never once per request.
    """

    def __init__(
        self, total: int, description: str, *, enabled: bool, log_every_s: float = 10.0
    ) -> None:
        """Prepare to show `total` requests (nothing at all unless `enabled`).

        Args:
            total: requests to send.
            description: the label (the model); shown verbatim, never read as markup.
            enabled: whether to show anything.
            log_every_s: seconds between plain lines when stderr is not a terminal.
        """
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._lines: _LogLines | None = None
        if not enabled:
            return
        console = Console(stderr=True)
        if console.is_terminal or console.is_jupyter:
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
            self._task = self._progress.add_task(
                escape(description), total=total, errors=0, cost=""
            )
        else:
            self._lines = _LogLines(total, description, log_every_s)

    @property
    def active(self) -> bool:
        """Whether anything is displayed."""
        return self._progress is not None or self._lines is not None

    def start(self) -> None:
        """Begin drawing."""
        if self._progress is not None:
            self._progress.start()

    def update(self, done: int, errors: int, cost_usd: float | None) -> None:
        """Show the latest counts (plain lines: only when the interval has passed)."""
        if self._lines is not None:
            self._lines.update(done, errors, cost_usd)
        if self._progress is None or self._task is None:
            return
        cost = "" if cost_usd is None else f"${cost_usd:,.4f}"
        self._progress.update(self._task, completed=done, errors=errors, cost=cost)

    def note(self, message: str) -> None:
        """Print `warning: MESSAGE` on stderr, verbatim, above the bar if there is one."""
        if self._progress is not None:
            self._progress.console.print(Text(f"warning: {message}", style="yellow"))
        else:
            write_line(f"warning: {_one_line(message)}")

    def stop(self) -> None:
        """Draw the final state (plain: the last line) and release the terminal."""
        if self._progress is not None:
            self._progress.stop()
        if self._lines is not None:
            self._lines.finish()
            self._lines = None
