"""One writer at a time for a run folder or an output file.

``exclusive(path, what)`` holds a non-blocking ``flock`` on ``path`` (e.g.
``results/train/{exp}/.writer.lock`` or ``<samples>.partial.lock``) for the lifetime of the block
and writes the holder's PID and host into it. A second writer stops at once with
``AlreadyRunningError``. The OS drops the lock when its holder dies, however it dies, so a lock
left by a dead process never refuses anyone: the PID text is only read to name a live holder and
is overwritten by the next one. The file stays in place after release (deleting it would race
with a writer opening it). Not re-entrant: the same path twice in one process is refused too.

A child process that writes the same output (accelerate's launcher) can share the lock: pass
``held_fd(path)`` in ``subprocess``'s ``pass_fds`` and the lock lasts until the parent and that
child have both exited, so a child orphaned by its parent's death still keeps others out.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tina_repro.errors import UserError


class AlreadyRunningError(UserError, RuntimeError):
    """Another live process is writing the same output."""


_held: dict[Path, int] = {}  # lock file (absolute) -> its descriptor, for the locks held here


def held_fd(path: str | Path) -> int | None:
    """The descriptor of the lock this process holds on ``path`` (None when it holds none)."""
    return _held.get(Path(path).absolute())


def _describe(text: str) -> str | None:
    parts = text.split()
    if len(parts) == 2 and parts[0].isdigit():
        return f"PID {parts[0]} on host {parts[1]}"
    return None


def _read(fd: int) -> str:
    return os.pread(fd, 4096, 0).decode("utf-8", "replace")


def holder(path: str | Path) -> str | None:
    """Who holds the lock on ``path`` now ("PID 1234 on host X"), or None when nobody does."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _wait_for_name(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)  # free: whatever text is there is stale
        return None
    finally:
        os.close(fd)


def _wait_for_name(fd: int) -> str:
    """The holder's name; it writes it just after locking, so give it a moment."""
    for _ in range(20):
        name = _describe(_read(fd))
        if name:
            return name
        time.sleep(0.01)
    return "another process"


@contextmanager
def exclusive(path: str | Path, what: str) -> Iterator[Path]:
    """Be the only writer of ``what`` while the block runs; refuse at once if another is."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunningError(
                f"{what} is being written by {_wait_for_name(fd)} (lock {path}); "
                "wait for it or stop that process"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        _held[path.absolute()] = fd
        try:
            yield path
        finally:
            del _held[path.absolute()]
    finally:
        os.close(fd)
