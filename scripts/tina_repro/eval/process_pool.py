"""Worker processes that each take one item at a time, every item bounded in time.

:func:`run_supervised` hands items to ``processes`` workers and kills a worker still busy
``limit_s`` seconds after it got an item: that also ends work stuck inside C code, where a signal
handler cannot run. A worker that dies is treated the same way; the item's result is then
``on_limit(item)`` and a fresh worker takes its place. Workers are forked (on Linux), so start
them from a process without other threads.

Standard library only: lighteval's own grader (tests/lighteval_diff/lighteval_grade.py) runs it
in lighteval's environment, our grader (:func:`tina_repro.eval.grading.run_in_processes`) in ours.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait

logger = logging.getLogger(__name__)


def _worker_main(conn, work: Callable) -> None:
    """Run ``work`` on items from ``conn`` until it sends None; the parent handles Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while (message := conn.recv()) is not None:
        try:
            conn.send(("ok", work(message)))
        except Exception:
            conn.send(("error", traceback.format_exc()))


class _Worker:
    def __init__(self, context, work: Callable) -> None:
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child_conn, work), daemon=True)
        self.process.start()
        child_conn.close()

    def stop(self, kill: bool = False) -> None:
        if not kill and self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def _mp_context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run_supervised(
    items: Sequence,
    processes: int,
    limit_s: float,
    work: Callable,
    on_limit: Callable,
    labels: Sequence[str] | None = None,
) -> list:
    """``work(item)`` for every item in ``processes`` workers, results in input order. An item
    whose worker is still busy after ``limit_s`` seconds, or dies, gets ``on_limit(item)``. An
    exception inside ``work`` stops everything with a ``RuntimeError`` naming the item's label."""
    results: list = [None] * len(items)
    labels = labels or [f"row {i}" for i in range(len(items))]
    context = _mp_context()
    pending = deque(range(len(items)))
    idle = [_Worker(context, work) for _ in range(min(processes, len(items)))]
    busy: dict = {}  # connection -> (worker, item index, deadline)
    try:
        while pending or busy:
            while idle and pending:
                worker, index = idle.pop(), pending.popleft()
                worker.conn.send(items[index])
                busy[worker.conn] = (worker, index, time.monotonic() + limit_s)
            next_deadline = min(deadline for _, _, deadline in busy.values())
            for conn in wait(list(busy), timeout=max(0.0, next_deadline - time.monotonic())):
                worker, index, _ = busy.pop(conn)
                try:
                    status, payload = conn.recv()
                except (EOFError, OSError):
                    logger.warning("%s: worker died; counted as a timeout", labels[index])
                    worker.stop(kill=True)
                    results[index] = on_limit(items[index])
                    idle.append(_Worker(context, work))
                    continue
                idle.append(worker)
                if status == "error":
                    raise RuntimeError(f"{labels[index]}: grading failed\n{payload}")
                results[index] = payload
            now = time.monotonic()
            for conn, (worker, index, deadline) in list(busy.items()):
                if deadline <= now:
                    del busy[conn]
                    logger.warning("%s: killed after %.1f s (timeout)", labels[index], limit_s)
                    worker.stop(kill=True)
                    results[index] = on_limit(items[index])
                    idle.append(_Worker(context, work))
    finally:
        for worker in idle + [worker for worker, _, _ in busy.values()]:
            worker.stop(kill=bool(busy))
    return results
