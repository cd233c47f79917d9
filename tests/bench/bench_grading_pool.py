"""Grading's worker pool (pebble's ProcessPool, :mod:`tina_repro.eval.process_pool`) on the
inputs the grader survives (not collected by pytest).

The pool runs :func:`tina_repro.eval.grading.grade` per row with a per-row limit and the
not-graded grade for a row whose worker is killed or dies, on:

- ``normal``: synthetic R1-style completions (grading_items.make_items), all graded;
- ``stuck``: rows whose grade blocks SIGALRM and sleeps (work no signal reaches), killed at the
  per-row limit, among normal rows;
- ``dying``: rows whose worker exits mid-grade (``os._exit``), among normal rows;
- ``nested``: deeply nested LaTeX (about 17 s to parse unbounded) and an over-long completion,
  bounded by the grade's own budgets.

Prints the wall time per case, the timeouts counted (2, 4 and 3 expected in the last three cases)
and whether the normal rows of each case got the grades ``grade()`` gives in this process.
Budgets are the rule's (lighteval's 5 s per step, 24 steps per row), except a 10 s row limit in
the ``stuck`` case. At b64f796 this script timed the project's former pool against pebble's
(docs/paper.md#grading has both).

    python tests/bench/bench_grading_pool.py [--n 200] [--processes 2]
"""

import argparse
import functools
import logging
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lighteval_diff"))

from grading_items import make_items  # noqa: E402

from tina_repro.eval import grading, process_pool  # noqa: E402

STUCK, DYING = "<stuck>", "<dying>"
STEP_S = grading.STEP_TIMEOUT_S  # lighteval's budget per parse and comparison, as the rule runs
STUCK_LIMIT_S = 10.0  # per-row limit of the "stuck" case, so that it ends soon


def _grade_job(job, timeout_s):
    completion = job[0]
    if completion.startswith(STUCK):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(600)
    if completion.startswith(DYING):
        os._exit(3)
    return grading.grade(*job, timeout_s=timeout_s)


def _not_graded(job):
    return grading.not_graded(job[0], job[2])


WORK = functools.partial(_grade_job, timeout_s=STEP_S)


def jobs_of(items):
    return [(i["completion"], i["gold"], "math", i["gold_format"]) for i in items]


def cases(n: int) -> dict[str, list]:
    normal = jobs_of(make_items(n, 0))
    few = normal[:20]
    nested = "(" * 80 + "x+1" + ")" * 80
    long = "Let me think. " * 80_000 + "\n</think>\n$\\boxed{5}$"
    return {
        "normal": normal,
        "stuck": [*few[:10], *[(STUCK, "1", "math", "expr")] * 2, *few[10:]],
        "dying": [*few[:10], *[(DYING, "1", "math", "expr")] * 4, *few[10:]],
        "nested": [
            *few[:4],
            (f"</think> $\\boxed{{{nested}}}$", "$2$", "math", None),
            (f"</think> $\\boxed{{{nested}}}$", "$2$", "math", None),
            (long, "5", "math", "expr"),
            *few[4:8],
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    default_limit_s = grading.sample_timeout(STEP_S)
    print(
        f"cores: {os.cpu_count()} (shared machine); processes {args.processes}; per-row limit "
        f"{default_limit_s:.0f} s ({STUCK_LIMIT_S:.0f} s for stuck)"
    )
    for job in jobs_of(make_items(5, 1)):  # warm up sympy/antlr before the workers fork
        grading.grade(*job)
    for name, jobs in cases(args.n).items():
        limit_s = STUCK_LIMIT_S if name == "stuck" else default_limit_s
        started = time.perf_counter()
        grades = process_pool.run_bounded(jobs, args.processes, limit_s, WORK, _not_graded)
        seconds = time.perf_counter() - started
        normal = [i for i, job in enumerate(jobs) if not job[0].startswith((STUCK, DYING))]
        same = all(grades[i] == grading.grade(*jobs[i], timeout_s=STEP_S) for i in normal)
        print(
            f"{name:7s} {len(jobs):4d} rows: {seconds:6.2f} s; timeouts "
            f"{sum(g.timeout for g in grades)}; normal rows graded as in-process: {same}"
        )


if __name__ == "__main__":
    main()
