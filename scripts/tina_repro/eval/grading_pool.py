"""Grading many completions in worker processes, each grade bounded in time.

:func:`grade_rows` and :func:`grade_file` grade in worker processes
(:func:`tina_repro.eval.grading.run_in_processes`). Within a grade each parse and comparison has
its own budget (``timeout_s``, lighteval's ``timeout_seconds``); a worker still busy
``sample_timeout_s`` seconds after it got a completion is killed, which also ends work stuck
inside C code where no signal handler runs. A worker that dies is counted the same way: the
completion is not graded (wrong, ``timeout``). Workers are forked (on Linux), so start them from
a process without other threads.
"""

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from tina_repro.eval.grading import (
    STEP_TIMEOUT_S,
    check_args,
    check_timeout,
    run_in_processes,
    sample_timeout,
)
from tina_repro.files import BadInputError, json_line, jsonl_line, write_jsonl

logger = logging.getLogger(__name__)


def _job_from_row(row: object, label: str) -> tuple[str, str, str, str]:
    """Validate one input row; errors name ``label`` (row index or file line)."""
    if not isinstance(row, dict):
        raise BadInputError(f"{label}: expected a JSON object, got {type(row).__name__}")
    missing = [key for key in ("completion", "gold", "task") if key not in row]
    if missing:
        raise BadInputError(f"{label}: missing key(s) {', '.join(missing)}")
    completion, gold, task = row["completion"], row["gold"], row["task"]
    if isinstance(gold, int | float) and not isinstance(gold, bool):
        gold = str(gold)  # AIME/AMC golds often arrive as JSON numbers
    if not isinstance(completion, str) or not isinstance(gold, str):
        raise BadInputError(f"{label}: 'completion' and 'gold' must be strings")
    gold_format = row.get("gold_format") or None  # none: LaTeX, then plain expressions
    try:
        check_args(gold, task, gold_format)
    except ValueError as err:
        raise BadInputError(f"{label}: {err}") from None
    _check_encodable(row, label)
    return completion, gold, task, gold_format


def _check_encodable(row: dict, label: str) -> None:
    """Refuse a row that cannot be written back as UTF-8 (a lone surrogate such as ``"\\ud800"``
    is valid JSON but no Unicode text), before any grading, so no output file is started."""
    try:
        jsonl_line(row).encode("utf-8")
    except UnicodeEncodeError as err:
        bad = err.object[err.start : err.end]
        key = next((key for key, value in row.items() if bad in jsonl_line([key, value])), "")
        raise BadInputError(
            f"{label}: key {key!r} holds {bad!r}, which is not Unicode text (a lone surrogate) "
            "and cannot be written as UTF-8; fix or drop the row"
        ) from None


def _grade_labelled(
    rows: list, labels: list[str], processes: int, timeout_s: float, sample_timeout_s: float | None
) -> list[dict]:
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    check_timeout(timeout_s)
    if sample_timeout_s is not None:
        check_timeout(sample_timeout_s)
    jobs = [_job_from_row(row, label) for row, label in zip(rows, labels, strict=True)]
    limit_s = sample_timeout_s or sample_timeout(timeout_s)
    grades = run_in_processes(jobs, processes, timeout_s, limit_s, labels)
    return [{**row, **asdict(result)} for row, result in zip(rows, grades, strict=True)]


def grade_rows(
    rows: Iterable[dict],
    processes: int = 1,
    *,
    timeout_s: float = STEP_TIMEOUT_S,
    sample_timeout_s: float | None = None,
) -> list[dict]:
    """Grade rows with keys ``completion``, ``gold``, ``task`` and optional ``gold_format`` (math:
    ``latex``, ``expr``, or none for LaTeX then plain expressions; ignored for GPQA) across
    ``processes`` worker processes. ``timeout_s`` bounds each parse and comparison,
    ``sample_timeout_s`` (default :func:`sample_timeout`) a whole completion. Returns each row
    plus the :class:`~tina_repro.eval.grading.Grade` fields (``correct``, ``extracted``,
    ``timeout``, ``unparsed``, ``formatted``, ``correct_after_think``, ``correct_math_verify``),
    in input order."""
    rows = list(rows)
    labels = [f"row {i}" for i in range(len(rows))]
    return _grade_labelled(rows, labels, processes, timeout_s, sample_timeout_s)


def grade_file(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    processes: int = 1,
    *,
    timeout_s: float = STEP_TIMEOUT_S,
    sample_timeout_s: float | None = None,
) -> dict:
    """Grade a JSONL file of rows (see :func:`grade_rows`) into another; blank lines are skipped,
    and an input without rows is an error. The output appears only once complete. Returns counts
    and accuracy (%)."""
    started = time.perf_counter()
    input_path, output_path = Path(input_path), Path(output_path)
    rows, labels = [], []
    with input_path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            label = f"{input_path} line {number}"
            rows.append(json_line(line, label))
            labels.append(label)
    if not rows:
        raise BadInputError(f"{input_path}: no rows to grade")
    graded = _grade_labelled(rows, labels, processes, timeout_s, sample_timeout_s)
    write_jsonl(output_path, graded)
    n_correct = sum(row["correct"] for row in graded)
    summary = {
        "input": str(input_path),
        "output": str(output_path),
        "rows": len(graded),
        "correct": n_correct,
        "accuracy": 100.0 * n_correct / len(graded),
        "correct_after_think": sum(row["correct_after_think"] for row in graded),
        "correct_math_verify": sum(row["correct_math_verify"] for row in graded),
        "timeouts": sum(row["timeout"] for row in graded),
        "unparsed": sum(row["unparsed"] for row in graded),
        "formatted": sum(row["formatted"] for row in graded),
        "seconds": time.perf_counter() - started,
    }
    logger.info("graded %(rows)d rows of %(input)s: %(correct)d correct", summary)
    return summary
