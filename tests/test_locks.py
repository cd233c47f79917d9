"""One writer per run folder or output file: a second stops at once, a dead one never blocks."""

import multiprocessing
import os
import re
import socket
import time

import pytest

from tina_repro import locks

FORK = multiprocessing.get_context("fork")


def _write(path, barrier, results, release):
    barrier.wait(timeout=10)  # both try at the same moment
    try:
        with locks.exclusive(path, "run folder results/train/exp"):
            results.put(("ok", os.getpid()))
            release.wait(timeout=30)
    except locks.AlreadyRunningError as error:
        results.put(("refused", str(error)))


def test_two_writers_at_once_exactly_one_wins(tmp_path):
    path = tmp_path / "exp" / ".writer.lock"
    barrier, results, release = FORK.Barrier(2), FORK.Queue(), FORK.Event()
    writers = [FORK.Process(target=_write, args=(path, barrier, results, release)) for _ in "ab"]
    for writer in writers:
        writer.start()
    try:
        outcomes = sorted(results.get(timeout=10) for _ in writers)
        (ok, winner), (refused, message) = outcomes
        assert (ok, refused) == ("ok", "refused")
        assert message == (
            f"run folder results/train/exp is being written by PID {winner} on host "
            f"{socket.gethostname()} (lock {path}); wait for it or stop that process"
        )
        assert locks.holder(path) == f"PID {winner} on host {socket.gethostname()}"
    finally:
        release.set()
        for writer in writers:
            writer.join(timeout=10)
    assert [writer.exitcode for writer in writers] == [0, 0]
    assert path.exists()  # kept after release
    assert locks.holder(path) is None


def _hold(path, ready):
    with locks.exclusive(path, "samples"):
        ready.put(os.getpid())
        time.sleep(60)


def test_a_killed_writer_never_blocks_the_next(tmp_path):
    path = tmp_path / "samples.jsonl.partial.lock"
    ready = FORK.Queue()
    writer = FORK.Process(target=_hold, args=(path, ready))
    writer.start()
    dead_pid = ready.get(timeout=10)
    with pytest.raises(locks.AlreadyRunningError, match=f"PID {dead_pid} "):
        with locks.exclusive(path, "samples"):
            pass
    writer.kill()  # SIGKILL: no cleanup runs, the PID text stays in the file
    writer.join(timeout=10)
    assert str(dead_pid) in path.read_text()
    assert locks.holder(path) is None
    with locks.exclusive(path, "samples"):
        assert path.read_text() == f"{os.getpid()} {socket.gethostname()}\n"


def test_leftover_lock_text_is_ignored_and_overwritten(tmp_path):
    path = tmp_path / ".writer.lock"
    path.write_text("999999999 some-other-host and trailing junk that is longer\n")
    assert locks.holder(path) is None
    with locks.exclusive(path, "run folder"):
        assert path.read_text() == f"{os.getpid()} {socket.gethostname()}\n"
        assert locks.holder(path) == f"PID {os.getpid()} on host {socket.gethostname()}"


def test_nested_locks_on_different_paths(tmp_path):
    outer, inner = tmp_path / "run" / ".writer.lock", tmp_path / "s.partial.lock"
    with locks.exclusive(outer, "run folder") as held:
        assert held == outer
        with locks.exclusive(inner, "samples"):
            assert locks.holder(outer) and locks.holder(inner)
        with pytest.raises(locks.AlreadyRunningError) as caught:  # not re-entrant
            with locks.exclusive(outer, "run folder"):
                pass
    assert "\n" not in str(caught.value)
    assert re.match(r"run folder is being written by PID \d+ on host ", str(caught.value))
    assert locks.holder(outer) is None and locks.holder(inner) is None
    assert locks.holder(tmp_path / "missing.lock") is None
