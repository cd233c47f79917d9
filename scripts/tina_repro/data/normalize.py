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

Nothing is lost silently: a dropped row is counted by reason; more than 1% dropped, no rows kept,
or a benchmark whose size differs from ``expected_size`` raises :class:`DataError`.

A benchmark is kept as lighteval ran it (docs/paper.md#grading): a gold it reads only as text, or
not at all (then compared as raw text), and a GPQA row whose correct answer repeats as an
incorrect option stay, listed in the report's ``flagged_rows``.

Training sets keep every row Tina trained on (docs/paper.md#data). Only a row without a problem
text (missing or not text) is dropped: Tina's chat template cannot render it. A blank problem is
kept, as a gold that is missing, not text, or that math-verify cannot parse: the gold is stored as
Tina's rewards read it (``$None$`` when a missing value is wrapped, as grpo.py's f-string writes
it; empty when an unwrapped one is missing or not text) and every reward that reads the gold
treats it as Tina's did (accuracy ``None``, cosine 1.0, length "correct";
:mod:`tina_repro.rewards`). The report counts such kept rows by reason
(``kept_issues``): golds unparseable as the accuracy reward parses them
(``parse(gold, extraction_mode="first_match")``) and as length and cosine parse them (LaTeX only).
More than 1% unparseable for the accuracy reward fails the preparation, as a sign of a wrong
``solution_column`` (the share the preparation allowed to drop before).
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
from math_verify import LatexExtractionConfig, parse

from tina_repro.config import Benchmark, Dataset
from tina_repro.data.sources import (
    GPQA_INCORRECT_COLUMNS,
    DataError,
    follow_path,
    source_columns,
    split_column_path,
)
from tina_repro.extractive_match import gold_reading

logger = logging.getLogger(__name__)

MAX_DROP_FRACTION = 0.01
# Golds the accuracy reward cannot parse, as a share of a training set: above it the solution
# column is most likely the wrong one.
MAX_UNPARSEABLE_FRACTION = 0.01
# How Tina's rewards parse a training gold (T:tina/post_train_hf/rewards.py): accuracy with
# math-verify's default extraction, length and cosine with LaTeX only.
TRAINING_GOLD_PARSERS = {"accuracy": None, "length_cosine": [LatexExtractionConfig()]}
_NOT_FOUND = object()  # a column path that leads nowhere in one row
LETTERS = "ABCD"
# Benchmark rows kept as lighteval kept them, worth a reader's attention (report "flagged_rows"):
# a gold lighteval reads only as text or not at all, a correct answer repeated as an option.
GOLD_READING_FLAGS = {"text": "gold_text_only", "raw": "gold_raw_text"}
DUPLICATE_OPTION = "duplicate_option"

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


def _tally(rows: list[tuple[int, str]]) -> tuple[dict[str, int], dict[str, list[int]]]:
    """(count by reason, first five rows of each reason) of (row, reason) pairs."""
    counts = Counter(reason for _, reason in rows)
    examples: dict[str, list[int]] = {}
    for row, reason in sorted(rows):
        if len(examples.setdefault(reason, [])) < 5:
            examples[reason].append(row)
    return dict(sorted(counts.items())), dict(sorted(examples.items()))


def _count_drops(report: dict, dropped: list[tuple[int, str]]) -> None:
    report["drops"], report["drop_examples"] = _tally(dropped)
    if dropped:
        logger.warning(
            "%s: dropped %d of %d rows: %s",
            report["name"],
            len(dropped),
            report["rows_read"],
            ", ".join(f"{k}={v}" for k, v in report["drops"].items()),
        )


def _count_kept_issues(report: dict, kept: list[tuple[int, str]]) -> None:
    """Count kept rows with an issue by reason (a row may have several), with examples."""
    report["kept_issues"], report["kept_issue_examples"] = _tally(kept)
    if kept:
        logger.warning(
            "%s: kept %s, as Tina did (their rewards follow Tina's)",
            report["name"],
            ", ".join(f"{k}={v}" for k, v in report["kept_issues"].items()),
        )


def _check_golds(report: dict) -> None:
    """Raise DataError when more golds than MAX_UNPARSEABLE_FRACTION defeat the accuracy reward's
    parser: the sheet most likely names the wrong solution column."""
    kept, reason = report["rows_kept"], "gold_unparseable_accuracy"
    unparseable = report["kept_issues"].get(reason, 0)
    if unparseable > MAX_UNPARSEABLE_FRACTION * kept:
        raise DataError(
            f"{report['name']}: {unparseable} of {kept} golds cannot be parsed as the accuracy "
            f"reward parses them ({100 * unparseable / kept:.2f}% > "
            f"{100 * MAX_UNPARSEABLE_FRACTION:g}%): wrong solution_column? first such rows: "
            f"{report['kept_issue_examples'][reason]}",
            report=report,
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


def _training_text(value: Any) -> tuple[str | None, str | None]:
    """(text, issue) of a training cell as Tina's code received it: text is kept as written,
    blank included (issue 'blank'); else 'missing' or 'not_text' (numbers count as text)."""
    text, issue = _cell_text(value)
    if isinstance(value, str):
        return value, "blank" if issue else None
    return text, "missing" if issue == "empty" else issue


def _training_gold(value: Any, wrap: bool) -> tuple[str, str | None]:
    """(gold text as Tina's rewards received it, issue). grpo.py wraps with an f-string, so a
    missing value becomes ``$None$``; an unwrapped value that is not text reached math-verify's
    ``parse`` as it was, which finds nothing in it, as in an empty string."""
    text, issue = _training_text(value)
    if not wrap:
        return text or "", issue
    if text is None:
        text = "None" if issue == "missing" else str(value)
    return f"${text}$", issue


def _unparseable_golds(golds: list[str]) -> dict[str, list[int]]:
    """Positions of the golds each of Tina's gold parsers finds nothing in (each distinct gold
    parsed once)."""
    found = {}
    for reader, config in TRAINING_GOLD_PARSERS.items():
        parsed = {}
        for gold in golds:
            if gold not in parsed:
                kwargs = {} if config is None else {"extraction_config": config}
                parsed[gold] = bool(parse(gold, extraction_mode="first_match", **kwargs))
        found[reader] = [i for i, gold in enumerate(golds) if not parsed[gold]]
    return found


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
    rows, dropped, kept_issues = [], [], []
    for position, (problem_cell, solution_cell) in enumerate(
        zip(column_cells(df, problem_col), column_cells(df, solution_col), strict=True)
    ):
        problem, issue = _training_text(problem_cell)
        if problem is None:  # nothing to prompt with: Tina's chat template fails on it
            dropped.append((position, f"problem_{issue}"))
            continue
        if issue:
            kept_issues.append((position, f"problem_{issue}"))
        solution, issue = _training_gold(solution_cell, wrap)
        if issue:
            kept_issues.append((position, f"solution_{issue}"))
        rows.append((problem, solution, position))
    out = pd.DataFrame(rows, columns=["problem", "solution", "row_id"]).astype({"row_id": "int64"})
    for reader, indices in _unparseable_golds(out["solution"].tolist()).items():
        kept_issues += [(int(out["row_id"].iloc[i]), f"gold_unparseable_{reader}") for i in indices]
    report["rows_kept"] = len(out)
    _count_drops(report, dropped)
    _count_kept_issues(report, kept_issues)
    _check(report)
    _check_golds(report)
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
    flagged: dict[str, list[int]] = {}
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
            if any(text.strip() == answer.strip() for text in choices):
                flagged.setdefault(DUPLICATE_OPTION, []).append(position)
            choices.insert(gold_index, answer)
            letter = LETTERS[gold_index]
            prompt = template.format(Question=problem, **dict(zip(LETTERS, choices, strict=True)))
            rows.append((position, problem, letter, prompt, choices, letter))
            continue
        reading = gold_reading(answer, gold_format)
        if reading in GOLD_READING_FLAGS:
            flagged.setdefault(GOLD_READING_FLAGS[reading], []).append(position)
        rows.append((position, problem, answer, template.format(Question=problem), None, None))
    out = pd.DataFrame(rows, columns=BENCHMARK_SCHEMA.names).astype({"id": "int64"})
    report["rows_kept"] = len(out)
    report["flagged_rows"] = dict(sorted(flagged.items()))
    for reason, positions in report["flagged_rows"].items():
        logger.warning(
            "%s: %d row(s) kept as lighteval read them, %s: %s",
            spec.name,
            len(positions),
            reason,
            positions,
        )
    _count_drops(report, dropped)
    _check(report, expected_size=spec.expected_size)
    return out, report
