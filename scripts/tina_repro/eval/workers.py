"""Grading many completions in worker processes, each grade bounded in time.

:func:`grade_rows` and :func:`grade_file` grade in worker processes and kill a worker still busy
``timeout_s + HARD_KILL_GRACE_S`` seconds after it got an item: that also ends work stuck inside C
code, where a signal handler cannot run. A worker that dies is counted the same way (a timeout).
Workers are forked (on Linux), so start them from a process without other threads.
"""

import logging
import multiprocessing
import os
import signal
import time
import traceback
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict
from multiprocessing.connection import wait
from pathlib import Path

from tina_repro.eval.grading import (
    GRADE_TIMEOUT_S,
    Grade,
    check_args,
    check_timeout,
    grade,
    timed_out,
)
from tina_repro.files import BadInputError, json_line, jsonl_line, write_jsonl

logger = logging.getLogger(__name__)

HARD_KILL_GRACE_S = 5.0


def _worker_main(conn) -> None:
    """Grade jobs from ``conn`` until it sends None; the parent handles Ctrl-C and cleanup."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while (message := conn.recv()) is not None:
        job, timeout_s = message
        try:
            conn.send(("ok", grade(*job, timeout_s=timeout_s)))
        except Exception:
            conn.send(("error", traceback.format_exc()))


class _Worker:
    def __init__(self, context) -> None:
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child_conn,), daemon=True)
        self.process.start()
        child_conn.close()

    def stop(self, kill: bool = False) -> None:
        if not kill and self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def _mp_context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run_supervised(
    jobs: list[tuple[str, str, str, str]],
    processes: int,
    timeout_s: float,
    labels: list[str] | None = None,
) -> list[Grade]:
    """Grade ``jobs`` in ``processes`` workers, one item at a time each, in input order. A worker
    busy past the hard bound is killed and replaced; its item counts as a timeout."""
    results: list[Grade | None] = [None] * len(jobs)
    labels = labels or [f"row {i}" for i in range(len(jobs))]
    context = _mp_context()
    hard_s = timeout_s + HARD_KILL_GRACE_S
    pending = deque(range(len(jobs)))
    idle = [_Worker(context) for _ in range(min(processes, len(jobs)))]
    busy: dict = {}  # connection -> (worker, job index, deadline)
    try:
        while pending or busy:
            while idle and pending:
                worker, index = idle.pop(), pending.popleft()
                worker.conn.send((jobs[index], timeout_s))
                busy[worker.conn] = (worker, index, time.monotonic() + hard_s)
            next_deadline = min(deadline for _, _, deadline in busy.values())
            for conn in wait(list(busy), timeout=max(0.0, next_deadline - time.monotonic())):
                worker, index, _ = busy.pop(conn)
                try:
                    status, payload = conn.recv()
                except (EOFError, OSError):
                    logger.warning("%s: grading worker died; counted as a timeout", labels[index])
                    worker.stop(kill=True)
                    results[index] = timed_out(jobs[index][0], jobs[index][2])
                    idle.append(_Worker(context))
                    continue
                idle.append(worker)
                if status == "error":
                    raise RuntimeError(f"{labels[index]}: grading failed\n{payload}")
                results[index] = payload
            now = time.monotonic()
            for conn, (worker, index, deadline) in list(busy.items()):
                if deadline <= now:
                    del busy[conn]
                    logger.warning(
                        "%s: killed grading after %.1f s (timeout)", labels[index], hard_s
                    )
                    worker.stop(kill=True)
                    results[index] = timed_out(jobs[index][0], jobs[index][2])
                    idle.append(_Worker(context))
    finally:
        for worker in idle + [worker for worker, _, _ in busy.values()]:
            worker.stop(kill=bool(busy))
    return results


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
    gold_format = row.get("gold_format") or None  # none: math-verify's default parse(gold)
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


def _grade_labelled(rows: list, labels: list[str], processes: int, timeout_s: float) -> list[dict]:
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    check_timeout(timeout_s)
    jobs = [_job_from_row(row, label) for row, label in zip(rows, labels, strict=True)]
    grades = run_supervised(jobs, processes, timeout_s, labels)
    return [{**row, **asdict(result)} for row, result in zip(rows, grades, strict=True)]


def grade_rows(
    rows: Iterable[dict], processes: int = 1, *, timeout_s: float = GRADE_TIMEOUT_S
) -> list[dict]:
    """Grade rows with keys ``completion``, ``gold``, ``task`` and optional ``gold_format`` (math:
    ``latex``, ``expr``, or none for math-verify's default; ignored for GPQA) across ``processes``
    worker processes. Returns each row plus the :class:`~tina_repro.eval.grading.Grade` fields
    (``correct``, ``extracted``, ``timeout``, ``unparsed``, ``formatted``,
    ``correct_after_think``), in input order."""
    rows = list(rows)
    return _grade_labelled(rows, [f"row {i}" for i in range(len(rows))], processes, timeout_s)


def grade_file(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    processes: int = 1,
    *,
    timeout_s: float = GRADE_TIMEOUT_S,
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
    graded = _grade_labelled(rows, labels, processes, timeout_s)
    write_jsonl(output_path, graded)
    n_correct = sum(row["correct"] for row in graded)
    summary = {
        "input": str(input_path),
        "output": str(output_path),
        "rows": len(graded),
        "correct": n_correct,
        "accuracy": 100.0 * n_correct / len(graded),
        "correct_after_think": sum(row["correct_after_think"] for row in graded),
        "timeouts": sum(row["timeout"] for row in graded),
        "unparsed": sum(row["unparsed"] for row in graded),
        "formatted": sum(row["formatted"] for row in graded),
        "seconds": time.perf_counter() - started,
    }
    logger.info("graded %(rows)d rows of %(input)s: %(correct)d correct", summary)
    return summary
