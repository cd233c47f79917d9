"""Exclusive file locks: the one lock primitive of the package, and one writer per output.

:func:`try_lock` and :func:`wait_lock` take filelock's native lock (``filelock.lock_descriptor``,
a whole-file ``flock`` on Unix; a filesystem that reports contention as EACCES is handled there)
over a descriptor this module owns. The run folder's writer lock (:func:`exclusive`), the GPU
leases (:mod:`tina_repro.gpu_lease`) and the Hub lock file (:mod:`tina_repro.hub_lock`) all go
through them. ``filelock.FileLock`` itself is not used because its release unlocks the open file
description, which would take the lock from a child process that shares it; releasing here only
closes our descriptor.

Every lock dies with its holder, however it dies, so a lock left by a dead process never refuses
anyone; lock files stay in place after release (deleting one would race with a process opening
it). A child process that writes the same output (accelerate's launcher) shares a lock when given
its descriptor in ``subprocess``'s ``pass_fds`` (:func:`held_fd`): the lock lasts until the parent
and that child have both exited, so a child orphaned by its parent's death still keeps others out.

``exclusive(path, what)`` (e.g. ``results/train/{exp}/.writer.lock`` or
``<samples>.partial.lock``) also writes the holder's PID and host into the file, so that a second
writer stops at once with :class:`AlreadyRunningError` naming them; the text is only read to name
a live holder and is overwritten by the next one. Not re-entrant: the same path twice in one
process is refused too.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import lock_descriptor, unlock_descriptor

from tina_repro.errors import UserError


class AlreadyRunningError(UserError, RuntimeError):
    """Another live process is writing the same output."""


@dataclass(frozen=True)
class HeldLock:
    """A lock this process holds on ``path`` through descriptor ``fd``."""

    path: Path
    fd: int

    def release(self) -> None:
        """Close the descriptor: the lock is gone unless a child process shares it."""
        os.close(self.fd)


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def try_lock(path: str | Path) -> HeldLock | None:
    """Lock ``path`` (created if missing) now, or return None when another process holds it."""
    path = Path(path)
    fd = _open(path)
    try:
        if lock_descriptor(fd, blocking=False):
            return HeldLock(path, fd)
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def wait_lock(path: str | Path, poll_s: float = 0.05) -> HeldLock:
    """Lock ``path`` (created if missing), waiting as long as another process holds it."""
    path = Path(path)
    fd = _open(path)
    try:
        lock_descriptor(fd, blocking=True, poll_interval=poll_s)
    except BaseException:
        os.close(fd)
        raise
    return HeldLock(path, fd)


_held: dict[Path, int] = {}  # lock file (absolute) -> descriptor, for the writer locks held here


def held_fd(path: str | Path) -> int | None:
    """The descriptor of this process's writer lock on ``path`` (None when it holds none)."""
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
        if not lock_descriptor(fd, blocking=False):
            return _wait_for_name(fd)
        unlock_descriptor(fd)  # free: whatever text is there is stale
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
    lock = try_lock(path)
    if lock is None:
        name = holder(path) or "another process"  # None: it let go this very moment
        raise AlreadyRunningError(
            f"{what} is being written by {name} (lock {path}); wait for it or stop that process"
        )
    try:
        os.ftruncate(lock.fd, 0)
        os.pwrite(lock.fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        _held[path.absolute()] = lock.fd
        try:
            yield path
        finally:
            del _held[path.absolute()]
    finally:
        lock.release()
