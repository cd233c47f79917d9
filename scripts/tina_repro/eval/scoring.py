"""Scores from graded samples: pass@k, bootstrap confidence intervals, paired differences.

Percentages are on a 0-100 scale and kept at full precision; round only when presenting.
Intervals are 95% percentile bootstraps that resample problems (not samples): the problems are
the random draw a benchmark stands for, and samples of one problem are not independent.

The paper's pass@1 is one sample per problem, so its score is plain accuracy
(docs/paper.md#metrics); with ``n`` samples per problem pass@1 is the mean over samples and
problems, and pass@k uses the
unbiased estimator of Chen et al. (2021), ``1 - C(n-c, k) / C(n, k)`` per problem.
"""

from collections.abc import Iterable, Sequence

import numpy as np

_SCORE_KEYS = ("problem_id", "sample_index", "correct", "timeout", "unparsed", "formatted")
# the other readings of tina_repro.eval.grading: after the last </think>, and math-verify 0.9.0's
_READING_KEYS = {
    "accuracy_after_think": "correct_after_think",
    "accuracy_math_verify": "correct_math_verify",
}


def pass_at_k(n, c, k: int):
    """Unbiased pass@k for problems with ``n`` samples of which ``c`` are correct (scalars or
    arrays, broadcast together), as a probability in [0, 1]. Uses the product form
    ``1 - prod_{i<k} (n-c-i)/(n-i)``, which avoids huge binomials."""
    n_arr, c_arr = np.broadcast_arrays(np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64))
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if np.any(c_arr < 0) or np.any(c_arr > n_arr):
        raise ValueError("need 0 <= c <= n for every problem")
    if np.any(n_arr < k):
        raise ValueError(f"pass@{k} needs at least {k} samples per problem")
    steps = np.arange(k)
    # A factor hits exactly 0 when n - c < k, which makes pass@k = 1 as it should.
    ratios = (n_arr[..., None] - c_arr[..., None] - steps) / (n_arr[..., None] - steps)
    result = 1.0 - np.prod(ratios, axis=-1)
    return float(result) if result.ndim == 0 else result


def _check_rows(rows: Sequence[dict], name: str, keys: Sequence[str]) -> None:
    if not rows:
        raise ValueError(f"no {name} rows to score")
    for index, row in enumerate(rows):
        missing = [key for key in keys if key not in row]
        if missing:
            raise ValueError(f"{name} row {index}: missing key(s) {', '.join(missing)}")


def _per_problem(rows: Sequence[dict], name: str) -> tuple[list, np.ndarray, np.ndarray]:
    """Problem ids (first-seen order), samples per problem and correct samples per problem."""
    samples: dict = {}
    for row in rows:
        indices = samples.setdefault(row["problem_id"], {})
        if row["sample_index"] in indices:
            raise ValueError(
                f"{name}: problem {row['problem_id']!r} has sample_index "
                f"{row['sample_index']!r} twice"
            )
        indices[row["sample_index"]] = bool(row["correct"])
    ids = list(samples)
    n = np.array([len(samples[pid]) for pid in ids])
    c = np.array([sum(samples[pid].values()) for pid in ids])
    return ids, n, c


def _bootstrap_ci(values: np.ndarray, n_boot: int, seed: int) -> list[float]:
    """95% percentile interval of the mean of ``values`` under resampling with replacement."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(values), size=(n_boot, len(values)))
    means = values[draws].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return [float(low), float(high)]


def score(
    graded_rows: Iterable[dict],
    k_values: Sequence[int] = (1,),
    n_boot: int = 2000,
    seed: int = 0,
) -> dict:
    """Score one model on one benchmark from rows carrying ``problem_id``, ``sample_index``,
    ``correct``, ``timeout``, ``unparsed``, ``formatted``, ``correct_after_think``,
    ``correct_math_verify``. Every problem needs the same number of samples. pass@k is reported
    for each ``k`` in ``k_values`` with ``k <= n``. ``pass_at_1`` counts ``correct`` (the paper's
    reading of the whole completion); ``accuracy_after_think`` is pass@1 of the stricter reading
    after the last ``</think>``, ``accuracy_math_verify`` of math-verify 0.9.0's reading."""
    rows = list(graded_rows)
    _check_rows(rows, "graded", (*_SCORE_KEYS, *_READING_KEYS.values()))
    ids, n, c = _per_problem(rows, "graded")
    if np.any(n != n[0]):
        counts = {pid: int(count) for pid, count in zip(ids, n, strict=True) if count != n[0]}
        raise ValueError(
            f"problems have different sample counts: {int(n[0])} for {ids[0]!r}, but "
            f"{dict(list(counts.items())[:5])}"
        )
    samples_per_problem = int(n[0])
    accuracy = c / n
    formatted = np.array([bool(row["formatted"]) for row in rows])
    correct = np.array([bool(row["correct"]) for row in rows])
    return {
        "pass_at_1": 100.0 * float(accuracy.mean()),
        # equal samples per problem: the mean over samples is the mean over problems
        **{
            name: 100.0 * float(np.mean([bool(row[key]) for row in rows]))
            for name, key in _READING_KEYS.items()
        },
        "ci95": [100.0 * bound for bound in _bootstrap_ci(accuracy, n_boot, seed)],
        "pass_at_k": {
            int(k): 100.0 * float(pass_at_k(n, c, int(k)).mean())
            for k in k_values
            if k <= samples_per_problem
        },
        "n_problems": len(ids),
        "samples_per_problem": samples_per_problem,
        "n_samples": len(rows),
        "n_correct": int(correct.sum()),
        "n_unparsed": sum(bool(row["unparsed"]) for row in rows),
        "n_timeouts": sum(bool(row["timeout"]) for row in rows),
        "format_rate": 100.0 * float(formatted.mean()),
        "accuracy_given_formatted": (
            100.0 * float(correct[formatted].mean()) if formatted.any() else None
        ),
    }


def paired_bootstrap_diff(
    a_rows: Iterable[dict], b_rows: Iterable[dict], n_boot: int = 4000, seed: int = 0
) -> dict:
    """Mean over problems of (b - a) per-problem accuracy, in points, with a 95% interval from
    resampling problems jointly for both runs. Both must cover the same problems."""
    a_rows, b_rows = list(a_rows), list(b_rows)
    _check_rows(a_rows, "a", _SCORE_KEYS[:3])
    _check_rows(b_rows, "b", _SCORE_KEYS[:3])
    a_ids, a_n, a_c = _per_problem(a_rows, "a")
    b_ids, b_n, b_c = _per_problem(b_rows, "b")
    if set(a_ids) != set(b_ids):
        only_a = sorted(map(str, set(a_ids) - set(b_ids)))[:5]
        only_b = sorted(map(str, set(b_ids) - set(a_ids)))[:5]
        raise ValueError(f"problem sets differ: only in a {only_a}, only in b {only_b}")
    b_accuracy = dict(zip(b_ids, b_c / b_n, strict=True))
    a_accuracy = a_c / a_n
    diffs = np.array([b_accuracy[pid] for pid in a_ids]) - a_accuracy
    return {
        "diff": 100.0 * float(diffs.mean()),
        "ci95": [100.0 * bound for bound in _bootstrap_ci(diffs, n_boot, seed)],
        "a_mean": 100.0 * float(a_accuracy.mean()),
        "b_mean": 100.0 * float(np.mean(list(b_accuracy.values()))),
        "n_problems": len(a_ids),
    }
