"""Interval statistics across benchmarks and training seeds: the average's CI, a row's interval
over its replicates, and paired differences (a run's gain over the base model, an ablation run
against its reference).

Per-problem results come from ``graded.jsonl`` (one row per sample with ``problem_id`` and
``correct``), looked up in an index of the files the table job declared as inputs. A "point" is
one evaluated model, ``(run, point)`` such as ``("open_rs2", "step-450")``; a group is the points
of one experiments row, one per training seed (its replicates, each at its selected checkpoint).

- :func:`interval`: a bootstrap over problems, and over seeds when a group has several. Each
  replicate resamples the problems of every benchmark independently (with replacement,
  :data:`N_BOOT` replicates, seed :data:`SEED`) and, for a group of S seeds, draws S of its seeds
  with replacement, the same draw for every benchmark (one trained model answers them all); the
  statistic is the unweighted mean over benchmarks of the mean over drawn seeds and problems.
  Averaging the per-benchmark interval bounds instead would be wrong: it treats the benchmarks'
  errors as perfectly correlated, which makes the interval about sqrt(6) times too wide when six
  benchmarks are equally noisy. With one seed the seed draw is skipped, and the intervals are
  exactly the problem bootstrap of :mod:`tina_repro.eval.scoring` (same draws). With few seeds the
  seed part is the plain bootstrap's: it understates the seed variance by (S-1)/S, and two seeds
  give three possible draws.
- :func:`paired_difference`: group a minus group b on the same problems, paired over problems
  (both resampled with the same problem draw, each group's seeds drawn on their own). Paired,
  because two models' errors on one problem are correlated: the interval of the difference is
  narrower than the two separate intervals suggest. :func:`gains_vs_base` is a run against the
  base model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from tina_repro.config import BASELINE_RUN
from tina_repro.files import read_jsonl

logger = logging.getLogger(__name__)

AVERAGE = "average"
N_BOOT = 2000
SEED = 0
GradedIndex = Mapping[tuple[str, str, str], Path]
Point = tuple[str, str]


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


def _seed_means(matrix: np.ndarray, draws: np.ndarray, seed_draws: np.ndarray | None):
    """Per bootstrap replicate: the mean over the drawn problems (``draws``) and, when given, the
    drawn seeds (``seed_draws``, one row of seed indices per replicate) of a (seeds, problems)
    matrix of per-problem accuracies."""
    if seed_draws is None:
        return matrix[0][draws].mean(axis=1)
    per_seed = matrix[:, draws].mean(axis=2)  # (seeds, replicates)
    return np.take_along_axis(per_seed, seed_draws.T, axis=0).mean(axis=0)


def interval(
    per_benchmark: Sequence[np.ndarray | tuple[np.ndarray, np.ndarray]],
    n_boot: int = N_BOOT,
    seed: int = SEED,
) -> tuple[float, float]:
    """95% bootstrap interval (percent) of the unweighted mean over benchmarks.

    Each item is a (seeds, problems) matrix of per-problem accuracies (fractions) of one group,
    or a pair (a, b) of such matrices over the same problems in the same order, whose mean
    difference a - b is the statistic (b with one row: a paired difference per problem). Every
    item has the same seeds (rows) as the others at its place of the pair."""
    rng = np.random.default_rng(seed)
    seed_rng = np.random.default_rng([seed, 1])  # seeds drawn apart: problem draws stay scoring's
    pairs = [item if isinstance(item, tuple) else (item, None) for item in per_benchmark]
    a_seeds, b = pairs[0][0].shape[0], pairs[0][1]
    b_seeds = 0 if b is None else b.shape[0]
    if b_seeds == 1:  # one reference row: the per-problem differences are one group
        pairs, b_seeds = [(a - b, None) for a, b in pairs], 0
    draw_a = seed_rng.integers(0, a_seeds, size=(n_boot, a_seeds)) if a_seeds > 1 else None
    draw_b = seed_rng.integers(0, b_seeds, size=(n_boot, b_seeds)) if b_seeds > 1 else None
    replicates = np.zeros(n_boot)
    for a, b in pairs:
        draws = rng.integers(0, a.shape[1], size=(n_boot, a.shape[1]))
        replicates += _seed_means(a, draws, draw_a)
        if b is not None:
            replicates -= _seed_means(b, draws, draw_b)
    replicates *= 100.0 / len(pairs)
    low, high = np.percentile(replicates, [2.5, 97.5])
    return float(low), float(high)


def average_ci(
    per_problem: Sequence[np.ndarray], n_boot: int = N_BOOT, seed: int = SEED
) -> tuple[float, float]:
    """95% stratified-bootstrap interval (percent) of the unweighted mean over benchmarks of one
    model's per-problem accuracies (fractions): problems are resampled within each benchmark.
    Given per-problem differences between two models, it is the paired interval of the average
    gain."""
    return interval([accuracy[None, :] for accuracy in per_problem], n_boot, seed)


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


def _matrix(
    files: Sequence[Path], reference: tuple[Path, Sequence] | None = None
) -> tuple[list, np.ndarray]:
    """(problem ids, (len(files), problems) per-problem accuracies) of one benchmark, in the
    problem order of ``reference`` (a file and its problem ids; else the first file's). Every
    file must cover the same problems."""
    accuracies = [per_problem_accuracy(read_graded(path)) for path in files]
    against, order = reference or (files[0], list(accuracies[0]))
    for path, accuracy in zip(files, accuracies, strict=True):
        if set(accuracy) != set(order):
            only_here = sorted(map(str, set(accuracy) - set(order)))[:5]
            only_there = sorted(map(str, set(order) - set(accuracy)))[:5]
            raise ValueError(
                f"{path} against {against}: problem sets differ: only in the first {only_here}, "
                f"only in the second {only_there}"
            )
    return list(order), np.array([[accuracy[p] for p in order] for accuracy in accuracies])


def group_interval(
    graded: GradedIndex, points: Sequence[Point], benchmarks: Sequence[str]
) -> dict[str, tuple[float, float]]:
    """The 95% interval of a group's mean (its replicates ``points``) on each of ``benchmarks``
    and their ``average``; empty (with a warning) when a graded.jsonl is missing."""
    keys = [(run, point, b) for b in benchmarks for run, point in points]
    where = "+".join("/".join(point) for point in points)
    files = _lookup(graded, keys, f"no CI for the average of {where}")
    if files is None:
        return {}
    n = len(points)
    matrices = [_matrix(files[i * n : (i + 1) * n])[1] for i in range(len(benchmarks))]
    out = {b: interval([m]) for b, m in zip(benchmarks, matrices, strict=True)}
    out[AVERAGE] = interval(matrices)
    return out


def paired_difference(
    graded: GradedIndex,
    points_a: Sequence[Point],
    points_b: Sequence[Point],
    benchmarks: Sequence[str],
    what: str = "difference",
) -> dict[str, tuple[float, float, float]]:
    """(difference, ci_low, ci_high) in points of group a's mean minus group b's on each of
    ``benchmarks`` and their ``average``, paired on problems (full precision). Empty, with a
    warning naming ``what`` was not computed, when a graded.jsonl is missing; different problem
    sets are an error."""
    keys = [(run, point, b) for b in benchmarks for run, point in (*points_b, *points_a)]
    a_name = "+".join("/".join(point) for point in points_a)
    b_name = "+".join("/".join(point) for point in points_b)
    files = _lookup(graded, keys, f"no {what} for {a_name} against {b_name}")
    if files is None:
        return {}
    n = len(points_a) + len(points_b)
    out, pairs = {}, []
    for i, benchmark in enumerate(benchmarks):
        start, split = i * n, i * n + len(points_b)
        b_files, a_files = files[start:split], files[split : start + n]
        order, b = _matrix(b_files)
        a = _matrix(a_files, (b_files[0], order))[1]
        pairs.append((a, b))
        out[benchmark] = (100.0 * float(a.mean() - b.mean()), *interval([(a, b)]))
    out[AVERAGE] = (float(np.mean([d for d, _, _ in out.values()])), *interval(pairs))
    return out


def gains_vs_base(
    graded: GradedIndex, points: Sequence[Point], base_point: str, benchmarks: Sequence[str]
) -> dict[str, tuple[float, float, float]]:
    """:func:`paired_difference` of a group (one run's checkpoint, or a row's replicates) over
    the baseline ``base_point``."""
    return paired_difference(
        graded, points, [(BASELINE_RUN, base_point)], benchmarks, "gain over the base model"
    )
