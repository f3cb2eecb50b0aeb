"""One writer per run directory, and files that are either wholly written or not at all.

`run_dir_lock` makes a process the only writer of a run directory for as long as it holds it
(an `flock` on `OUT/.valuelens.lock`, which the kernel releases when the process dies; the file
records the holder's PID, host and start time for the message a second process sees).

`staged_writes` writes files to unique temporary names in their own folder, fsyncs them, and
only once every one of them is complete moves them into place with `os.replace`, in the order
they were added (so `summary.json`, added last, is replaced last). A failure at any point, a
full disk or Ctrl-C included, removes the temporary files and leaves the previous files as
they were.

Example:
    >>> with run_dir_lock(Path("runs/x")), staged_writes() as stage:  # doctest: +SKIP
    ...     stage.add(Path("runs/x/pairs.csv"), lambda tmp: table.to_csv(tmp, index=False))
    ...     stage.add_text(Path("runs/x/summary.json"), text)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import inspect
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from valuelens._errors import ValuelensError

LOCK_NAME = ".valuelens.lock"
_TEMP_PREFIX = ".tmp-"
_TEMP_RE = re.compile(r"^\.tmp-(\d+)-[0-9a-f]{8}\.")
_WAIT_POLL_S = 0.5

P = ParamSpec("P")
R = TypeVar("R")

_held: dict[str, int] = {}  # run directories this process holds, with their nesting depth
_held_guard = threading.Lock()


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) a run directory's lock."""

    pid: int
    host: str
    started: float

    def describe(self) -> str:
        """`process 1234 (started 21:05)`, naming the host when it is another machine."""
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"process {self.pid}{where} (started {_clock(self.started)})"

    def is_alive(self) -> bool:
        """False only when the holder ran on this host and its PID no longer exists."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


@contextlib.contextmanager
def run_dir_lock(directory: str | os.PathLike[str], *, wait: bool = False) -> Iterator[Path]:
    """Hold `directory` (created if needed) as its only writer for the duration of the block.

    Re-entrant within one process: an inner `run_dir_lock` (e.g. `write_run` inside
    `evaluate`) on a directory this process already holds returns at once.

    Args:
        directory: the run directory.
        wait: when another process holds it, wait until it is released instead of failing.

    Raises:
        ValuelensError: when another process holds the directory (and `wait` is false), or the
            directory cannot be created or written.
    """
    path = Path(directory)
    _make_dir(path)
    key = os.path.realpath(path)
    with _held_guard:
        nested = key in _held
        _held[key] = _held.get(key, 0) + 1
    try:
        if nested:
            yield path
            return
        fd = _acquire(path, wait=wait)
        try:
            yield path
        finally:
            _release(path / LOCK_NAME, fd)
    finally:
        with _held_guard:
            _held[key] -= 1
            if not _held[key]:
                del _held[key]


def holds_run_dir(parameter: str = "out") -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make a function run holding the lock of the run directory passed as `parameter`.

    The call waits for another writer when its `wait` argument is true, and takes no lock when
    its `dry_run` argument is true (a dry run writes nothing).

    Example:
        >>> @holds_run_dir("out")  # doctest: +SKIP
        ... def collect(out: Path, *, dry_run: bool = False, wait: bool = False) -> None: ...
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def locked(*args: P.args, **kwargs: P.kwargs) -> R:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            if bound.arguments.get("dry_run"):
                return function(*args, **kwargs)
            directory = bound.arguments[parameter]
            with run_dir_lock(directory, wait=bool(bound.arguments.get("wait"))):
                return function(*args, **kwargs)

        return locked

    return decorate


def read_lock_holder(directory: str | os.PathLike[str]) -> LockHolder | None:
    """The holder recorded in `directory`'s lock file, if there is one (held or stale)."""
    try:
        return _parse_holder((Path(directory) / LOCK_NAME).read_text(encoding="utf-8"))
    except OSError:
        return None


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValuelensError(f"cannot create output directory {path}: {reason(exc)}") from None


def _acquire(directory: Path, *, wait: bool) -> int:
    lock_path = directory / LOCK_NAME
    notice = _Once()
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise ValuelensError(f"cannot write to {directory}: {reason(exc)}") from None
        try:
            previous = _lock(fd, directory, wait=wait, notice=notice)
            # A holder that finished while we waited removed the file we locked: start over.
            if previous is not _RETRY and _same_file(fd, lock_path):
                _claim(fd, directory, previous)
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


class _Once:
    """Prints the "waiting" notice only the first time."""

    def __init__(self) -> None:
        self.done = False

    def __call__(self, message: str) -> None:
        if not self.done:
            self.done = True
            _warn(message)


_RETRY = LockHolder(-1, "", 0.0)


def _lock(fd: int, directory: Path, *, wait: bool, notice: _Once) -> LockHolder | None:
    """Lock `fd`; return the previous holder recorded in it (None when the file was empty)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        if not wait:
            raise ValuelensError(_busy_message(directory, holder)) from None
        notice(f"{directory} is in use by {_who(holder)}; waiting for it to finish")
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as exc:
        if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            raise ValuelensError(f"cannot lock {directory}: {reason(exc)}") from None
        return _lock_by_pid(fd, directory, wait=wait, notice=notice)
    return _read_holder(fd)


def _lock_by_pid(fd: int, directory: Path, *, wait: bool, notice: _Once) -> LockHolder | None:
    """Where `flock` is unsupported (some network file systems), trust the recorded PID."""
    holder = _read_holder(fd)
    if holder is None or holder.pid == os.getpid() or not holder.is_alive():
        return holder
    if not wait:
        raise ValuelensError(_busy_message(directory, holder))
    notice(f"{directory} is in use by {holder.describe()}; waiting for it to finish")
    time.sleep(_WAIT_POLL_S)
    return _RETRY


def _claim(fd: int, directory: Path, previous: LockHolder | None) -> None:
    if previous is not None and previous.pid != os.getpid():
        _warn(f"{directory}: {previous.describe()} did not finish cleanly; taking over its lock")
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
    remove_stale_temp_files(directory)


def _release(lock_path: Path, fd: int) -> None:
    try:
        if _same_file(fd, lock_path):
            lock_path.unlink()
    except OSError:
        pass
    finally:
        os.close(fd)  # releases the flock


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _read_holder(fd: int) -> LockHolder | None:
    try:
        data = os.pread(fd, 4096, 0)
    except OSError:
        return None
    return _parse_holder(data.decode("utf-8", errors="replace"))


def _parse_holder(text: str) -> LockHolder | None:
    try:
        record = json.loads(text)
        return LockHolder(int(record["pid"]), str(record["host"]), float(record["started"]))
    except (ValueError, TypeError, KeyError):
        return None


def _busy_message(directory: Path, holder: LockHolder | None) -> str:
    return f"{directory} is in use by {_who(holder)}; wait for it or pass --wait"


def _who(holder: LockHolder | None) -> str:
    return holder.describe() if holder is not None else "another process"


def _clock(timestamp: float) -> str:
    moment = time.localtime(timestamp)
    same_day = time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d")
    return time.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M", moment)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def reason(exc: OSError) -> str:
    """`no space left on device`: an OSError's cause in lower case, for a one-line message."""
    code = exc.errno
    if code is None:  # e.g. pyarrow: "... Detail: [errno 28] No space left on device"
        found = re.search(r"errno (\d+)", str(exc), flags=re.IGNORECASE)
        code = int(found.group(1)) if found else None
    text = os.strerror(code) if code else (exc.strerror or str(exc) or type(exc).__name__)
    return text[:1].lower() + text[1:]


def temp_path(target: Path) -> Path:
    """A temporary name beside `target`, unique to this process and call.

    The name ends with `target`'s own name, so writers that infer a format or compression from
    the suffix (pandas: `.csv.gz`) treat it like the target.
    """
    return target.with_name(f"{_TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}.{target.name}")


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Delete temporary files left in `directory` by processes of this host that are gone."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in directory.iterdir():
            found = _TEMP_RE.match(entry.name)
            if found is None:
                continue
            owner = LockHolder(int(found.group(1)), socket.gethostname(), 0.0)
            if not owner.is_alive():
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed.append(entry)
    return removed


class StagedFiles:
    """Files written to temporary names now and moved into place together by `commit`."""

    def __init__(self) -> None:
        """Start with nothing staged."""
        self._staged: list[tuple[Path, Path]] = []  # (temporary, target)

    def add(self, target: str | os.PathLike[str], write: Callable[[Path], object]) -> None:
        """Run `write(temporary_path)` and fsync the result; `target` is replaced on commit.

        Raises:
            ValuelensError: when the file cannot be written (disk full, read-only, ...).
        """
        target = Path(target)
        temporary = temp_path(target)
        self._staged.append((temporary, target))
        try:
            write(temporary)
            _fsync_file(temporary)
        except OSError as exc:
            raise ValuelensError(
                f"cannot write {target}: {reason(exc)}; nothing was changed"
            ) from None

    def add_text(self, target: str | os.PathLike[str], text: str) -> None:
        """Stage a UTF-8 text file."""
        self.add(target, lambda path: path.write_text(text, encoding="utf-8"))

    def commit(self) -> None:
        """Replace every target by its staged file, in the order they were added.

        Raises:
            ValuelensError: when a file cannot be moved into place.
        """
        for done, (temporary, target) in enumerate(self._staged):
            try:
                os.replace(temporary, target)
            except OSError as exc:
                changed = f"{done} files were replaced" if done else "nothing was changed"
                raise ValuelensError(f"cannot write {target}: {reason(exc)}; {changed}") from None
        for folder in {target.parent for _, target in self._staged}:
            _fsync_dir(folder)
        self._staged = []

    def discard(self) -> None:
        """Remove the staged files that were not committed."""
        for temporary, _ in self._staged:
            with contextlib.suppress(OSError):
                temporary.unlink()
        self._staged = []


@contextlib.contextmanager
def staged_writes() -> Iterator[StagedFiles]:
    """Stage files in the block; commit them when it ends normally, else remove them all."""
    stage = StagedFiles()
    try:
        yield stage
        stage.commit()
    finally:
        stage.discard()


def write_atomic(target: str | os.PathLike[str], write: Callable[[Path], object]) -> None:
    """Write one file through `write(temporary_path)` and move it into place atomically.

    Raises:
        ValuelensError: when it cannot be written; the previous file is then left as it was.
    """
    with staged_writes() as stage:
        stage.add(target, write)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """`write_atomic` for a UTF-8 text file."""
    with staged_writes() as stage:
        stage.add_text(target, text)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system can sync a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
