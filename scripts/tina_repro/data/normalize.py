"""Normalization: a loaded source mapped onto the project's training or benchmark schema.

Training sets become ``row_id, problem, solution`` rows, reproducing the column handling of Tina's
``grpo.py`` (docs/paper.md#data) through the sheet's declarative mapping, with no per-dataset
code: ``problem_column`` becomes ``problem``, ``solution_column`` becomes ``solution``, wrapped as
``$<value>$`` when ``wrap_solution`` is true. DeepScaleR's special case in grpo.py (its worked
``solution`` archived, ``answer`` wrapped as the gold) is therefore just the row
``solution_column=answer, wrap_solution=true``. A column may be a path into nested cells
(:func:`~tina_repro.data.sources.split_column_path`): the later commit's II-Thought case
(``messages[0]["content"]``, ``json.loads(verification_info)["answer"]["value"]``) is the row
``messages.0.content`` / ``verification_info.answer.value``; a row whose path leads nowhere is
dropped as ``*_not_found``.

Benchmarks become ``id, problem, answer, prompt, choices, correct_letter`` rows with the prompt
rendered from Tina's templates (docs/paper.md#evaluation). For GPQA the correct answer is inserted
among the three incorrect ones (in their column order) at ``randint(0, 3)``, drawn once per source
row in order from a generator seeded once with ``seed``: lighteval's ``gpqa_prompt_fn`` with
``random.seed(1234)``; ``answer`` is then the correct letter. (lighteval of the paper's era builds
its documents before its ``random.seed(1234)`` call, so with ``data_parallel_size=2`` the paper's
own option order was most likely unseeded; this fixed order is the reproducible stand-in.)

``row_id`` / ``id`` is the row's 0-based position in the source split as loaded: every dataset has
one (their own id columns differ or are missing), and it is stable for a pinned revision.

Nothing is lost silently: a row with an empty problem, an empty gold, or a gold that math-verify
cannot parse is dropped and counted by reason; more than 1% dropped, no rows kept, or a benchmark
whose size differs from ``expected_size`` raises :class:`DataError`. Training golds are parsed
exactly as Tina's accuracy reward parses them (``parse(gold, extraction_mode="first_match")``), so
a kept row never yields a ``None`` reward for its gold. Unlike grpo.py, a missing gold is dropped
rather than wrapped into ``$None$`` (which math-verify would parse as a product of symbols).
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

from tina_repro.config import Benchmark, Dataset
from tina_repro.data.sources import (
    GPQA_INCORRECT_COLUMNS,
    DataError,
    follow_path,
    source_columns,
    split_column_path,
)

logger = logging.getLogger(__name__)

MAX_DROP_FRACTION = 0.01
_NOT_FOUND = object()  # a column path that leads nowhere in one row
LETTERS = "ABCD"
# lighteval's gold extraction per gold_format (Tina's run_post_train_eval.py, docs/paper.md#metrics)
GOLD_EXTRACTION = {"expr": [ExprExtractionConfig()], "latex": [LatexExtractionConfig()]}

TRAINING_SCHEMA = pa.schema(
    [("problem", pa.string()), ("solution", pa.string()), ("row_id", pa.int64())]
)
BENCHMARK_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("problem", pa.string()),
        ("answer", pa.string()),
        ("prompt", pa.string()),
        ("choices", pa.list_(pa.string())),
        ("correct_letter", pa.string()),
    ]
)


def _cell_text(value: Any) -> tuple[str | None, str | None]:
    """(text, issue): a cell as text, or the reason it is unusable ('empty', 'not_text' or
    'not_found', a column path that leads nowhere).

    Numbers count as text (``str(27)``, as grpo.py's f-string wrapping would render them).
    """
    if value is _NOT_FOUND:
        return None, "not_found"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, "empty"
    if isinstance(value, str):
        return (value, None) if value.strip() else (None, "empty")
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return str(value), None
    return None, "not_text"


def column_cells(df: pd.DataFrame, path: str) -> list[Any]:
    """The values a sheet column (or path into nested cells) gives for every row, in order;
    :data:`_NOT_FOUND` where the path leads nowhere."""
    column, steps = split_column_path(path)
    cells = []
    for cell in df[column].tolist():
        try:
            cells.append(follow_path(cell, steps))
        except (LookupError, TypeError, ValueError):
            cells.append(_NOT_FOUND)
    return cells


def base_report(spec: Dataset | Benchmark, kind: str) -> dict:
    return {
        "name": spec.name,
        "kind": kind,
        "source": spec.source,
        "config": spec.config,
        "split": spec.split,
        "revision_requested": spec.revision,
        "revision_resolved": None,
        "source_sha256": None,
        "rows_read": None,
        "rows_kept": None,
        "drops": {},
        "drop_examples": {},
        "columns": {},
        "parquet_sha256": None,
        "status": None,
        "error": None,
    }


def _count_drops(report: dict, dropped: list[tuple[int, str]]) -> None:
    counts = Counter(reason for _, reason in dropped)
    report["drops"] = dict(sorted(counts.items()))
    examples: dict[str, list[int]] = {}
    for row, reason in dropped:
        if len(examples.setdefault(reason, [])) < 5:
            examples[reason].append(row)
    report["drop_examples"] = dict(sorted(examples.items()))
    if dropped:
        logger.warning(
            "%s: dropped %d of %d rows: %s",
            report["name"],
            len(dropped),
            report["rows_read"],
            ", ".join(f"{k}={v}" for k, v in report["drops"].items()),
        )


def _check(report: dict, expected_size: int | None = None) -> None:
    """Raise DataError (carrying ``report``) when too much was dropped or the size is wrong."""
    name, read, kept = report["name"], report["rows_read"], report["rows_kept"]
    drops = ", ".join(f"{k}={v}" for k, v in report["drops"].items()) or "none"
    problem = None
    if read == 0:
        problem = "the source has no rows"
    elif kept == 0:
        problem = f"all {read} rows were dropped ({drops})"
    elif (read - kept) / read > MAX_DROP_FRACTION:
        problem = (
            f"{read - kept} of {read} rows dropped ({100 * (read - kept) / read:.2f}% > "
            f"{100 * MAX_DROP_FRACTION:g}%): {drops}; first dropped rows: {report['drop_examples']}"
        )
    elif expected_size is not None and kept != expected_size:
        problem = (
            f"{kept} rows kept (of {read} read; drops: {drops}) but expected_size is "
            f"{expected_size}: wrong split, config or revision?"
        )
    if problem:
        raise DataError(f"{name}: {problem}", report=report)


def _start(df: pd.DataFrame, spec: Dataset | Benchmark, kind: str) -> dict:
    report = base_report(spec, kind)
    report["revision_resolved"] = df.attrs.get("revision_resolved")
    report["source_sha256"] = df.attrs.get("source_sha256")
    report["rows_read"] = len(df)
    missing = [c for c in source_columns(spec) if c not in df.columns]
    if missing:
        raise DataError(
            f"{spec.name}: source '{spec.source}' has no column(s) {missing}; "
            f"its columns are {list(df.columns)}. Fix the column mapping in the sheet.",
            report=report,
        )
    return report


def normalize_training(df: pd.DataFrame, spec: Dataset) -> tuple[pd.DataFrame, dict]:
    """Map a training set onto ``problem, solution, row_id`` and check it.

    Returns the rows kept and the report; raises DataError (with ``.report``) when a check fails.
    """
    report = _start(df, spec, "training")
    problem_col, solution_col = spec.problem_column, spec.solution_column
    wrap = bool(spec.wrap_solution)
    report["columns"] = {
        "problem": problem_col,
        "solution": solution_col,
        "wrap_solution": wrap,
    }
    rows, dropped = [], []
    for position, (problem_cell, solution_cell) in enumerate(
        zip(column_cells(df, problem_col), column_cells(df, solution_col), strict=True)
    ):
        problem, issue = _cell_text(problem_cell)
        if issue:
            dropped.append((position, f"problem_{issue}"))
            continue
        solution, issue = _cell_text(solution_cell)
        if issue:
            dropped.append((position, f"solution_{issue}"))
            continue
        if wrap:
            solution = f"${solution}$"
        # Tina's accuracy reward parses the gold exactly so (docs/paper.md#rewards).
        if not parse(solution, extraction_mode="first_match"):
            dropped.append((position, "solution_unparseable"))
            continue
        rows.append((problem, solution, position))
    out = pd.DataFrame(rows, columns=["problem", "solution", "row_id"]).astype({"row_id": "int64"})
    report["rows_kept"] = len(out)
    _count_drops(report, dropped)
    _check(report)
    return out, report


def normalize_benchmark(
    df: pd.DataFrame, spec: Benchmark, templates: dict, seed: int
) -> tuple[pd.DataFrame, dict]:
    """Map a benchmark onto ``id, problem, answer, prompt, choices, correct_letter`` and check it.

    ``templates`` maps template names (``math``, ``gpqa``) to Tina's prompt templates, rendered with
    ``str.format(Question=..., A=..., B=..., C=..., D=...)``; ``seed`` fixes the GPQA option order.
    Raises DataError (with ``.report``) when a check fails, the size included.
    """
    report = _start(df, spec, "benchmark")
    template_name = spec.template
    if template_name not in templates:
        raise DataError(
            f"{spec.name}: no prompt template '{template_name}' in the config", report=report
        )
    template = templates[template_name]
    problem_col, answer_col = spec.problem_column, spec.answer_column
    gold_format = spec.gold_format
    is_choice = template_name == "gpqa"
    if is_choice != (gold_format == "letter"):
        raise DataError(
            f"{spec.name}: gold_format '{gold_format}' does not fit template '{template_name}' "
            "(the gpqa template, and only it, has letter golds)",
            report=report,
        )
    report["columns"] = {
        "problem": problem_col,
        "answer": answer_col,
        "template": template_name,
        "gold_format": gold_format,
    }
    if is_choice:
        report["columns"]["incorrect_answers"] = list(GPQA_INCORRECT_COLUMNS)
        report["seed"] = seed
    report["expected_size"] = spec.expected_size

    rng = random.Random(seed)
    rows, dropped = [], []
    for position, record in enumerate(df.to_dict("records")):
        # Drawn for every source row, dropped or not, so each row's letter matches lighteval's.
        gold_index = rng.randint(0, 3) if is_choice else None
        problem, issue = _cell_text(record[problem_col])
        if issue:
            dropped.append((position, f"problem_{issue}"))
            continue
        answer, issue = _cell_text(record[answer_col])
        if issue:
            dropped.append((position, f"answer_{issue}"))
            continue
        if is_choice:
            options = [_cell_text(record[c]) for c in GPQA_INCORRECT_COLUMNS]
            bad = next((i for _, i in options if i), None)
            if bad:
                dropped.append((position, f"choice_{bad}"))
                continue
            choices = [text for text, _ in options]
            choices.insert(gold_index, answer)
            letter = LETTERS[gold_index]
            prompt = template.format(Question=problem, **dict(zip(LETTERS, choices, strict=True)))
            rows.append((position, problem, letter, prompt, choices, letter))
            continue
        if not parse(answer, extraction_config=GOLD_EXTRACTION[gold_format]):
            dropped.append((position, "answer_unparseable"))
            continue
        rows.append((position, problem, answer, template.format(Question=problem), None, None))
    out = pd.DataFrame(rows, columns=BENCHMARK_SCHEMA.names).astype({"id": "int64"})
    report["rows_kept"] = len(out)
    _count_drops(report, dropped)
    _check(report, expected_size=spec.expected_size)
    return out, report
