"""Worker processes that each take one item at a time, every item bounded in time: pebble's pool.

:func:`run_bounded` runs ``work(item)`` in a ``pebble.ProcessPool`` of ``processes`` workers
with a per-item timeout of ``limit_s`` seconds, counted from the moment a worker starts the item.
pebble kills a worker still busy after that, which also ends work stuck inside C code where a
signal handler cannot run, and starts a fresh one; a worker that dies is treated the same way.
Either way the item's result is ``on_limit(item)``. Workers are forked (on Linux), so that they
inherit the grader as loaded; they ignore Ctrl-C, which the parent handles.

pebble replaced the project's own pool after giving the same grades on the inputs the grader
survives (a grade stuck where no signal reaches, a worker that dies, deeply nested LaTeX, an
over-long completion) in the same time (tests/bench/bench_grading_pool.py, docs/paper.md#grading).
lighteval's own grader (tests/lighteval_diff/lighteval_grade.py) runs it in lighteval's environment,
our grader (:func:`tina_repro.eval.grading.run_in_processes`) in ours: this module imports nothing
but the standard library and pebble.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as ItemTimeout

from pebble import ProcessExpired, ProcessPool

logger = logging.getLogger(__name__)


def _ignore_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _mp_context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run_bounded(
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
    if not items:
        return []
    labels = labels or [f"row {i}" for i in range(len(items))]
    pool = ProcessPool(
        max_workers=min(processes, len(items)), initializer=_ignore_ctrl_c, context=_mp_context()
    )
    try:
        futures = [pool.schedule(work, args=(item,), timeout=limit_s) for item in items]
        results = []
        for item, label, future in zip(items, labels, futures, strict=True):
            try:
                results.append(future.result())
            except ItemTimeout:
                logger.warning("%s: killed after %.1f s (timeout)", label, limit_s)
                results.append(on_limit(item))
            except ProcessExpired as died:
                code = died.exitcode
                logger.warning("%s: worker died (exit code %s); counted as a timeout", label, code)
                results.append(on_limit(item))
            except Exception as error:
                trace = getattr(error, "traceback", repr(error))  # the worker's, from pebble
                raise RuntimeError(f"{label}: grading failed\n{trace}") from None
    finally:
        pool.stop()  # every item is done, or the rest are abandoned after an error
        pool.join()
    return results
