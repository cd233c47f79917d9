"""Grade one model's samples on one benchmark and score them.

Before grading, the samples are checked against the benchmark they claim to answer: every problem
present with the same number of samples, no unknown problem, and each row's gold equal to the
benchmark's. A benchmark re-prepared after generation (other revision, other GPQA option order)
therefore fails loudly instead of being graded against stale golds.

``score.json`` holds :func:`tina_repro.eval.scoring.score` (pass@1 with a bootstrap CI, pass@k for
k = samples per problem, counts, format rate, timeouts; ``pass_at_1`` in lighteval's reading of
the whole completion, the paper's, ``accuracy_after_think`` in the stricter one and
``accuracy_math_verify`` in math-verify 0.9.0's), plus truncation counts from generation
(``n_length`` samples hit the token cap), the grading settings (``grading``: the reading and the
time budget) and the identity of what was scored (``identity``: run, point and benchmark from
the workflow; sha256 of the samples and benchmark files).
"""

from __future__ import annotations

import logging

import pandas as pd

from tina_repro.eval import grading, grading_pool, scoring
from tina_repro.files import (
    BadInputError,
    dumps,
    read_jsonl,
    sha256_file,
    write_jsonl,
    write_text,
)

logger = logging.getLogger(__name__)

SAMPLE_KEYS = ("problem_id", "sample_index", "completion", "gold", "task", "n_tokens")


def read_samples(path) -> list[dict]:
    """Rows of a samples.jsonl file; a bad line raises ``BadInputError`` naming it."""
    rows = read_jsonl(path, SAMPLE_KEYS)
    if not rows:
        raise BadInputError(f"{path} has no samples")
    return rows


def check_against_benchmark(rows: list[dict], benchmark: pd.DataFrame, source: str) -> None:
    """Raise ``BadInputError`` unless ``rows`` answer exactly the benchmark's problems, with its
    golds and the same number of samples per problem."""
    golds = dict(zip(benchmark["id"].tolist(), benchmark["answer"].tolist(), strict=True))
    counts: dict = {}
    for row in rows:
        problem_id = row["problem_id"]
        if problem_id not in golds:
            raise BadInputError(f"{source}: problem {problem_id!r} is not in the benchmark")
        if str(row["gold"]) != golds[problem_id]:
            raise BadInputError(
                f"{source}: problem {problem_id!r} has gold {str(row['gold'])[:60]!r} but the "
                f"benchmark says {golds[problem_id][:60]!r}; the benchmark changed after "
                "generation, regenerate the samples"
            )
        counts[problem_id] = counts.get(problem_id, 0) + 1
    missing = [problem_id for problem_id in golds if problem_id not in counts]
    if missing:
        raise BadInputError(
            f"{source}: {len(missing)} benchmark problem(s) have no samples, e.g. {missing[:5]}"
        )
    if len(set(counts.values())) > 1:
        raise BadInputError(
            f"{source}: problems have different sample counts {sorted(set(counts.values()))}"
        )


def grade_and_score(
    samples_path,
    benchmark_parquet,
    graded_path,
    score_path,
    processes: int,
    timeout_s: float = grading.STEP_TIMEOUT_S,
    identity: dict | None = None,
) -> dict:
    """Grade every sample (:func:`tina_repro.eval.grading_pool.grade_rows`, ``timeout_s`` for each
    parse and comparison), write ``graded_path`` (the sample rows plus grade fields) and
    ``score_path``; returns the score document."""
    rows = read_samples(samples_path)
    benchmark = pd.read_parquet(benchmark_parquet, columns=["id", "answer"])
    check_against_benchmark(rows, benchmark, str(samples_path))
    graded = grading_pool.grade_rows(rows, processes, timeout_s=timeout_s)
    write_jsonl(graded_path, graded)
    samples_per_problem = len(rows) // len(benchmark)
    document = {
        "identity": {
            **(identity or {}),
            "samples_sha256": sha256_file(samples_path),
            "benchmark_sha256": sha256_file(benchmark_parquet),
        },
        "grading": {"reading": grading.READING, "timeout_s": timeout_s},
        **scoring.score(graded, k_values=sorted({1, samples_per_problem})),
        "n_length": sum(row.get("finish_reason") == "length" for row in rows),
        "mean_n_tokens": sum(row["n_tokens"] for row in rows) / len(rows),
    }
    write_text(score_path, dumps(document) + "\n")
    logger.info(
        "%s: pass@1 %.2f%% over %d problems x %d samples (%d correct, %d timeouts)",
        samples_path,
        document["pass_at_1"],
        document["n_problems"],
        document["samples_per_problem"],
        document["n_correct"],
        document["n_timeouts"],
    )
    return document
