"""Grading throughput on synthetic R1-style completions (not collected by pytest).

Each completion is 1-3 KB of reasoning with inline maths, ``</think>``, a short summary and a
``\\boxed`` answer in an equivalent but different form (``\\dfrac``, unreduced fractions, reordered
sets, expanded radicals, ...); about 30% are wrong. Every problem is distinct, as in the paper's
one-sample pass@1, so gold caching gives no advantage. Prints completions/s for:

- lighteval's reading alone (:func:`tina_repro.extractive_match.grade_math`: gold extraction,
  whole completion, comparison), in this process;
- math-verify 0.9.0's reading alone (``parse`` gold + ``parse`` completion + ``verify``);
- ``grade()`` in this process: the three readings of a grade (lighteval's on the whole completion
  and after ``</think>``, math-verify's), time budgets included;
- ``grade_rows`` with 1 and 2 worker processes (adds process supervision and IPC).

Targets: ``grade()`` <= the two readings' sum + 10% (the after-think reading reuses the parses),
>= 1.8x with 2 processes, <= 35 CPU ms per completion in a worker (about 30/s on a free core).

    python tests/bench/bench_grading.py [--n 600] [--seed 0]
"""

import argparse
import logging
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for helpers
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lighteval_diff"))

import helpers  # noqa: E402, F401 (puts this checkout's scripts/ on sys.path)
from grading_items import make_items  # noqa: E402

from tina_repro import extractive_match  # noqa: E402
from tina_repro.eval import grading, grading_pool  # noqa: E402
from tina_repro.extractive_match import extraction  # noqa: E402


def lighteval_reading(item: dict) -> bool:
    return extractive_match.grade_math(
        item["completion"], item["gold"], item["gold_format"]
    ).correct


def math_verify_reading(item: dict) -> bool:
    timeout_s = grading.STEP_TIMEOUT_S
    return grading._math_verify_correct(
        item["completion"], item["gold"], item["gold_format"], timeout_s
    )


def clear_caches() -> None:
    """Every problem is new: no gold or parse is cached (forked workers would inherit them)."""
    for cached in (grading._lighteval_gold, grading._math_verify_gold, extraction._cached_parse):
        cached.cache_clear()


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (grade_rows joins its workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(label: str, func, n: int):
    """Run ``func``; print wall-clock rate and CPU ms per completion (robust to a busy machine)."""
    clear_caches()
    started, cpu_started = time.perf_counter(), cpu_seconds()
    result = func()
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    rate, cpu_ms = n / seconds, 1000 * cpu / n
    print(
        f"{label:<38} {seconds:6.2f} s wall {rate:7.1f}/s   {cpu_ms:5.2f} CPU ms each", flush=True
    )
    return result, seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    items = make_items(args.n, args.seed)
    kb = sum(len(item["completion"]) for item in items) / len(items) / 1024
    print(f"{args.n} completions, mean {kb:.1f} KB; cores: {os.cpu_count()} (shared machine)")
    for item in make_items(5, args.seed + 1):  # warm up sympy/antlr and the regex caches
        grading.grade(item["completion"], item["gold"], "math", item["gold_format"])

    lighteval, t_lighteval, cpu_lighteval = timed(
        "lighteval's reading (this process)", lambda: list(map(lighteval_reading, items)), args.n
    )
    _, t_mv, cpu_mv = timed(
        "math-verify's reading (this process)",
        lambda: list(map(math_verify_reading, items)),
        args.n,
    )
    ours, t_ours, cpu_ours = timed(
        "grade() (this process)",
        lambda: [
            grading.grade(i["completion"], i["gold"], "math", i["gold_format"]) for i in items
        ],
        args.n,
    )
    one, t_one, cpu_one = timed(
        "grade_rows(processes=1)", lambda: grading_pool.grade_rows(items, 1), args.n
    )
    two, t_two, _ = timed(
        "grade_rows(processes=2)", lambda: grading_pool.grade_rows(items, 2), args.n
    )

    verdicts = [g.correct for g in ours]
    assert verdicts == lighteval == [row["correct"] for row in one] == [r["correct"] for r in two]
    by_design = sum(v == i["expected"] for v, i in zip(verdicts, items, strict=True))
    mv_right = sum(g.correct_math_verify == i["expected"] for g, i in zip(ours, items, strict=True))
    print(f"right by construction: lighteval {by_design}/{args.n}, math-verify {mv_right}/{args.n}")
    print(f"timeouts: {sum(g.timeout for g in ours)}; unparsed: {sum(g.unparsed for g in ours)}")
    both_wall, both_cpu = t_lighteval + t_mv, cpu_lighteval + cpu_mv
    print("grade() vs the two readings' sum (target <= +10%):")
    wall, cpu = 100 * (t_ours / both_wall - 1), 100 * (cpu_ours / both_cpu - 1)
    print(f"  wall {wall:+6.1f}%  CPU {cpu:+6.1f}%")
    print(f"grade_rows speed-up, 2 vs 1 processes:  {t_one / t_two:6.2f}x  (target >= 1.8x)")
    print(
        f"CPU per completion, grade_rows(1):  {1000 * cpu_one / args.n:6.1f} ms (target <= 35 ms)"
    )


if __name__ == "__main__":
    main()
