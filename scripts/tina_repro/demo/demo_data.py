"""The demo's local "Hub": its benchmarks, RL training set and warm-start teacher traces.

The files are written in the schemas of the Hub sets they imitate (DeepScaleR-like training rows,
AIME-like and MATH-500-like benchmarks), so they go through the normal ``prepare_dataset`` /
``prepare_benchmark`` rules via ``local:PATH`` sources.

- **An imperfect teacher.** 40% of the teacher's traces reason in full, check the last step
  backwards (``check: 24+38=62``), close the thinking with ``</think>`` and stop there without
  stating the answer, as a distilled model sometimes does. The check matters for grading: the
  paper's lighteval reads the whole completion and falls back to its last number, which without
  the check would be the result of the last step, i.e. the answer.
  The warm-started model inherits that habit, which both of the paper's rewards penalise (the
  format reward wants ``\n</think>\n`` followed by text, the accuracy reward a parsed answer)
  and the paper's grader counts as wrong. This is the headroom GRPO closes in about 50 steps,
  visible as a rising format reward; the arithmetic itself barely changes (README has the
  measured numbers). Dropping only the box (``The answer is 85.``) would not do: the paper's
  lighteval grader also extracts bare numbers, so an unboxed answer scores as correct and would
  leave no gain to measure; a missing answer fails under both reward and grader.
- **Splits.** Three benchmarks of 200 distinct problems (one per level, seeds 1001-1003); every
  training draw (warm start and RL) excludes every benchmark problem string.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from tina_repro.demo.task import (
    benchmark_problems,
    teacher_completion,
    training_problems,
    worked_solution,
)
from tina_repro.demo.warm_start import WarmStartSettings
from tina_repro.files import write_jsonl

logger = logging.getLogger(__name__)

TRAIN_SEED = 0
TRAIN_SIZE = 2000
SFT_SEED = 1
# The imperfect teacher: this share of its traces ends without a final answer (see module doc).
UNANSWERED_FRACTION = 0.4


def write_demo_data(
    train_path: str | Path,
    sft_path: str | Path,
    benchmark_paths: dict[int, str | Path],
    warm_start: WarmStartSettings = WarmStartSettings(),  # noqa: B008 - frozen, never mutated
    train_size: int = TRAIN_SIZE,
) -> dict:
    """Write the benchmarks, the RL training set and the warm start's teacher traces.

    - ``benchmark_paths[level]``: levels 1-2 as AIME-like ``problem, answer`` rows (answer a bare
      integer, graded as ``expr``); level 3 as MATH-500-like ``problem, solution, answer`` rows
      (``solution`` a worked LaTeX solution with ``\\boxed``, graded as ``latex``);
    - ``train_path``: DeepScaleR-like ``problem, answer, solution, level`` rows of distinct
      problems (the sheet wraps ``answer`` as ``$N$``, as Tina did);
    - ``sft_path``: ``problem, completion, answered, level``; exactly
      ``round(UNANSWERED_FRACTION * n)`` traces end without an answer.

    Returns counts for the log. The same arguments always write byte-identical files.
    """
    benchmark_questions: set[str] = set()
    counts: dict[str, int] = {}
    for level, path in sorted(benchmark_paths.items()):
        problems = benchmark_problems(level)
        benchmark_questions.update(p.question for p in problems)
        if level == 3:
            rows = [
                {"problem": p.question, "solution": worked_solution(p), "answer": str(p.answer)}
                for p in problems
            ]
        else:
            rows = [{"problem": p.question, "answer": str(p.answer)} for p in problems]
        write_jsonl(path, rows)
        counts[f"benchmark_level{level}"] = len(rows)

    train = training_problems(train_size, TRAIN_SEED, benchmark_questions, distinct=True)
    write_jsonl(
        train_path,
        [
            {
                "problem": p.question,
                "answer": str(p.answer),
                "solution": worked_solution(p),
                "level": p.level,
            }
            for p in train
        ],
    )
    counts["train"] = len(train)

    n = warm_start.n_examples
    traces = training_problems(n, SFT_SEED, benchmark_questions, distinct=False)
    unanswered = set(random.Random(SFT_SEED).sample(range(n), round(UNANSWERED_FRACTION * n)))
    write_jsonl(
        sft_path,
        [
            {
                "problem": p.question,
                "completion": teacher_completion(p, answered=i not in unanswered),
                "answered": i not in unanswered,
                "level": p.level,
            }
            for i, p in enumerate(traces)
        ],
    )
    counts["sft"] = n
    counts["sft_unanswered"] = len(unanswered)
    logger.info("demo data written: %s", counts)
    return counts
