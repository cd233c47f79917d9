"""Interval statistics across benchmarks: the average's CI and paired gains over the base model.

Per-problem results come from ``graded.jsonl`` (one row per sample with ``problem_id`` and
``correct``), looked up in an index of the files the table job declared as inputs.

- :func:`average_ci`: a stratified bootstrap over problems. Each replicate resamples the problems
  of every benchmark independently (with replacement, :data:`N_BOOT` replicates, seed
  :data:`SEED`) and averages the resampled accuracies. Averaging the per-benchmark interval bounds
  instead would be wrong: it treats the benchmarks' errors as perfectly correlated, which makes
  the interval about sqrt(6) times too wide when six benchmarks are equally noisy.
- :func:`gains_vs_base`: a checkpoint minus the base model on the same problems, paired over
  problems (:func:`tina_repro.eval.scoring.paired_bootstrap_diff`; for the average, stratified by
  benchmark as the average's own interval). Paired, because two models' errors on one problem are
  correlated: the interval of the difference is narrower than the two separate intervals suggest.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from tina_repro.config import BASELINE_RUN
from tina_repro.eval import scoring
from tina_repro.files import read_jsonl

logger = logging.getLogger(__name__)

AVERAGE = "average"
N_BOOT = 2000
SEED = 0
GradedIndex = Mapping[tuple[str, str, str], Path]


def read_graded(path: Path) -> list[dict]:
    """The rows of a graded.jsonl, each checked to carry problem_id and correct."""
    rows = read_jsonl(path, ("problem_id", "correct"))
    if not rows:
        raise ValueError(f"{path}: no graded rows")
    return rows


def per_problem_accuracy(rows: Sequence[dict]) -> dict:
    """problem_id -> fraction of its samples graded correct (first-seen order)."""
    correct: dict = {}
    for row in rows:
        correct.setdefault(row["problem_id"], []).append(bool(row["correct"]))
    return {problem: float(np.mean(values)) for problem, values in correct.items()}


def average_ci(
    per_problem: Sequence[np.ndarray], n_boot: int = N_BOOT, seed: int = SEED
) -> tuple[float, float]:
    """95% stratified-bootstrap interval (percent) of the unweighted mean over benchmarks of
    per-problem accuracies (fractions): problems are resampled within each benchmark. Given
    per-problem differences between two models, it is the paired interval of the average gain."""
    rng = np.random.default_rng(seed)
    replicates = np.zeros(n_boot)
    for accuracy in per_problem:
        draws = rng.integers(0, len(accuracy), size=(n_boot, len(accuracy)))
        replicates += accuracy[draws].mean(axis=1)
    replicates *= 100.0 / len(per_problem)
    low, high = np.percentile(replicates, [2.5, 97.5])
    return float(low), float(high)


def _lookup(
    graded: GradedIndex, keys: list[tuple[str, str, str]], consequence: str
) -> list[Path] | None:
    found = [graded.get(key) for key in keys]
    missing = [
        "/".join(key)
        for key, path in zip(keys, found, strict=True)
        if not path or not path.is_file()
    ]
    if missing:
        logger.warning("no per-problem grades for %s: %s", missing, consequence)
        return None
    return found


def average_interval(
    graded: GradedIndex, run: str, point: str, benchmarks: Sequence[str]
) -> tuple[float, float]:
    """The 95% interval of ``run/point``'s average over ``benchmarks``; NaN (with a warning)
    when a graded.jsonl is missing."""
    keys = [(run, point, b) for b in benchmarks]
    files = _lookup(graded, keys, f"no CI for the average of {run}/{point}")
    if files is None:
        return math.nan, math.nan
    return average_ci(
        [np.array(list(per_problem_accuracy(read_graded(p)).values())) for p in files]
    )


def gains_vs_base(
    graded: GradedIndex, run: str, point: str, base_point: str, benchmarks: Sequence[str]
) -> dict[str, tuple[float, float, float]]:
    """(gain, ci_low, ci_high) in points of ``run/point`` over the baseline ``base_point`` for
    each of ``benchmarks`` and their ``average``, paired on problems (full precision). Empty, with
    a warning, when a graded.jsonl is missing; different problem sets are an error."""
    keys = [(BASELINE_RUN, base_point, b) for b in benchmarks] + [
        (run, point, b) for b in benchmarks
    ]
    files = _lookup(graded, keys, f"no gain over the base model for {run}/{point}")
    if files is None:
        return {}
    base_files, run_files = files[: len(benchmarks)], files[len(benchmarks) :]
    gains, differences = {}, []
    for benchmark, base_path, path in zip(benchmarks, base_files, run_files, strict=True):
        base_rows, rows = read_graded(base_path), read_graded(path)
        try:
            paired = scoring.paired_bootstrap_diff(base_rows, rows, N_BOOT, SEED)
        except ValueError as error:
            raise ValueError(f"{path} against {base_path}: {error}") from None
        gains[benchmark] = (paired["diff"], *paired["ci95"])
        base, tuned = per_problem_accuracy(base_rows), per_problem_accuracy(rows)
        differences.append(np.array([tuned[problem] - base[problem] for problem in base]))
    average = float(np.mean([gain for gain, _, _ in gains.values()]))
    gains[AVERAGE] = (average, *average_ci(differences))
    return gains
