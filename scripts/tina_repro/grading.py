"""Grade completions against gold answers the way the Tina paper's lighteval tasks did.

Paper metrics (TINA.md §2.2; lighteval ``multilingual_extractive_match_metric``, English):

- ``latex_gold_metric`` (MATH-500, Minerva): gold is a full solution, parsed with
  ``LatexExtractionConfig()``; ``expr_gold_metric`` (AIME24/25, AMC23): gold is a bare number,
  parsed with ``ExprExtractionConfig()``. Choose with ``gold_format="latex"`` / ``"expr"``.
- Prediction parsed with ``(ExprExtractionConfig(), LatexExtractionConfig(boxed_match_priority=0))``
  (boxed answers first), ``fallback_mode="first_match"``, ``extraction_mode="any_match"``, compared
  with ``verify(gold, prediction, float_rounding=5)`` (lighteval's ``precision=5``). A gold
  math-verify cannot extract falls back to its raw string, as lighteval did.
- ``gpqa_metric``: the chosen letter A-D against the gold letter (:func:`extract_choice`).

Deliberate differences from lighteval, each because it would otherwise mark right answers wrong:

- the answer is read after the LAST ``</think>`` when there is one; otherwise math-verify's boxed
  pattern spans every ``\\boxed`` of the reasoning too and may join or pick those;
- a thin space between digit groups (``1\\,000``) is removed before parsing: math-verify reads it
  as a product (``1*000 = 0``).

Bounds. Every grade is wrong and ``timeout=True`` when it was not finished within bounds:

- inputs over :data:`MAX_INPUT_CHARS` (256 KiB) are not parsed at all. A real completion is at most
  32,768 tokens (about 130 KB); anything longer is degenerate and not worth the parse time;
- in the main thread, a ``SIGALRM`` interval timer stops a grade after ``timeout_s`` seconds
  (math-verify's own whole-second ``signal.alarm`` timeouts are turned off: nested alarms would
  cancel ours). Called from another thread, :func:`grade` runs in a child process instead;
- :func:`grade_rows` and :func:`grade_file` grade in worker processes and kill a worker still busy
  ``timeout_s + HARD_KILL_GRACE_S`` seconds after it got an item: that also ends work stuck
  inside C code, where a signal handler cannot run. A worker that dies is counted the same way.

Workers are forked (on Linux), so start them from a process without other threads.
"""

import json
import logging
import multiprocessing
import os
import re
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from multiprocessing.connection import wait
from pathlib import Path

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

logger = logging.getLogger(__name__)

TASKS = ("math", "gpqa")
GOLD_FORMATS = ("latex", "expr")
CHOICES = "ABCD"
MAX_INPUT_CHARS = 256 * 1024
GRADE_TIMEOUT_S = 10.0  # a whole grade; lighteval gave each of its three steps 5 s
HARD_KILL_GRACE_S = 5.0
FLOAT_PRECISION = 5  # lighteval's precision=5 for all three metrics

_PRED_CONFIG = (ExprExtractionConfig(), LatexExtractionConfig(boxed_match_priority=0))
_GOLD_CONFIGS = {"latex": (LatexExtractionConfig(),), "expr": (ExprExtractionConfig(),)}
_THINK_END = "</think>"
_BOXED = re.compile(r"\\boxed\s*\{")
_THIN_SPACE_IN_NUMBER = re.compile(r"(?<=\d)\\,(?=\d{3}(?!\d))")

# GPQA answer forms. Anchored forms win over bare ones; within a tier the last match wins.
_LETTER = r"\(?\s*([A-D])\s*\)?(?![A-Za-z0-9])"
_CHOICE_TIERS = (
    (
        re.compile(
            r"\b(?i:answer)(?:\s+is)?\s*(?:\*\*)?\s*[:：]?\s*(?:\*\*)?\s*(?i:(?:option|choice)\s+)?"
            r"\$?\s*(?:\\boxed\{\s*)?(?:\\text(?:bf)?\{\s*)?" + _LETTER
        ),
        re.compile(r"\\boxed\{\s*(?:\\text(?:bf)?\{\s*)?" + _LETTER),
    ),
    (
        re.compile(r"\(([A-D])\)"),
        re.compile(r"^[ \t]*(?:\*\*)?\(?([A-D])\)?(?:\*\*)?\.?[ \t]*$", re.MULTILINE),
    ),
)


class _DropDisabledTimeoutWarning(logging.Filter):
    """math-verify warns that its timeouts are off; here they are replaced, not missing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Timeout is disabled")


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_DropDisabledTimeoutWarning())


@dataclass(frozen=True)
class Grade:
    """One graded completion.

    ``unparsed``: no answer could be extracted as a math object (math) or letter (GPQA); false on a
    timeout, so the two counts never overlap. ``formatted``: exactly one ``</think>`` and, after it,
    a ``\\boxed{`` (math) or a recognised letter (GPQA).
    """

    correct: bool
    extracted: str
    timeout: bool
    unparsed: bool
    formatted: bool


class _BudgetExceeded(BaseException):
    """BaseException, so that math-verify's ``except Exception`` blocks let it through."""


def answer_region(completion: str) -> str:
    """The text after the last ``</think>``, or the whole completion when there is none."""
    _, sep, tail = completion.rpartition(_THINK_END)
    return tail if sep else completion


def is_formatted(completion: str, task: str) -> bool:
    """Exactly one ``</think>`` followed by a boxed answer (math) or a letter answer (GPQA)."""
    if completion.count(_THINK_END) != 1:
        return False
    answer = answer_region(completion)
    if task == "gpqa":
        return bool(extract_choice(answer))
    return _BOXED.search(answer) is not None


def extract_choice(text: str) -> str:
    """The letter chosen in ``text`` (``Answer: C``, ``**Answer:** (C)``, ``\\boxed{C}``,
    ``Answer: $C$``, ``(C)``, a line holding only ``C``), or ``""``."""
    for tier in _CHOICE_TIERS:
        last = max(
            (match for pattern in tier for match in pattern.finditer(text)),
            key=lambda match: match.start(),
            default=None,
        )
        if last is not None:
            return last.group(1)
    return ""


def _check_args(gold: str, task: str, gold_format: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    if task == "math" and gold_format not in GOLD_FORMATS:
        raise ValueError(f"unknown gold_format {gold_format!r}; expected one of {GOLD_FORMATS}")
    if task == "gpqa" and gold.strip().upper() not in CHOICES:
        raise ValueError(f"a GPQA gold must be one letter A-D, got {gold[:40]!r}")


def _check_timeout(timeout_s: float) -> None:
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")


@lru_cache(maxsize=4096)
def _parse_gold(gold: str, gold_format: str) -> tuple:
    """Every sample of a problem shares its gold: parse it once per worker."""
    parsed = parse(
        _THIN_SPACE_IN_NUMBER.sub("", gold), _GOLD_CONFIGS[gold_format], parsing_timeout=None
    )
    if not parsed:
        logger.warning("math-verify extracts nothing from gold %r; comparing its raw text", gold)
        return (gold,)
    return tuple(parsed)


def _grade_math(completion: str, gold: str, gold_format: str) -> Grade:
    gold_parsed = list(_parse_gold(gold, gold_format))
    answer = _THIN_SPACE_IN_NUMBER.sub("", answer_region(completion))
    pred = parse(answer, _PRED_CONFIG, fallback_mode="first_match", parsing_timeout=None)
    correct = verify(gold_parsed, pred, float_rounding=FLOAT_PRECISION, timeout_seconds=None)
    # math-verify returns [parsed, matched text], [matched text] or []; show the text.
    texts = [p for p in pred if isinstance(p, str)]
    extracted = texts[-1] if texts else (str(pred[0]) if pred else "")
    return Grade(
        correct=bool(correct),
        extracted=extracted,
        timeout=False,
        unparsed=len(texts) == len(pred),
        formatted=is_formatted(completion, "math"),
    )


def _grade_gpqa(completion: str, gold: str) -> Grade:
    letter = extract_choice(answer_region(completion))
    return Grade(
        correct=letter == gold.strip().upper(),
        extracted=letter,
        timeout=False,
        unparsed=not letter,
        formatted=is_formatted(completion, "gpqa"),
    )


def _timed_out(completion: str, task: str) -> Grade:
    formatted = len(completion) <= MAX_INPUT_CHARS and is_formatted(completion, task)
    return Grade(correct=False, extracted="", timeout=True, unparsed=False, formatted=formatted)


@contextmanager
def _time_budget(seconds: float):
    """Raise :class:`_BudgetExceeded` in the body after ``seconds`` (main thread only). Yields a
    flag list that is set when the timer fired, in case some library swallowed the exception."""
    fired = [False]

    def on_alarm(signum, frame):
        fired[0] = True
        signal.signal(signal.SIGALRM, previous)
        raise _BudgetExceeded

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def grade(
    completion: str,
    gold: str,
    task: str,
    gold_format: str = "latex",
    *,
    timeout_s: float = GRADE_TIMEOUT_S,
) -> Grade:
    """Grade one completion. ``task`` is ``"math"`` or ``"gpqa"``; ``gold_format`` (math only) is
    ``"latex"`` (MATH-500, Minerva solutions) or ``"expr"`` (AIME/AMC numbers). Bad arguments raise
    ``ValueError``; a grade that runs out of bounds is wrong with ``timeout=True``."""
    _check_args(gold, task, gold_format)
    _check_timeout(timeout_s)
    if len(completion) > MAX_INPUT_CHARS or len(gold) > MAX_INPUT_CHARS:
        logger.warning("input over %d characters not graded (timeout)", MAX_INPUT_CHARS)
        return _timed_out(completion, task)
    if threading.current_thread() is not threading.main_thread():
        return _run_supervised([(completion, gold, task, gold_format)], 1, timeout_s)[0]
    try:
        with _time_budget(timeout_s) as fired:
            if task == "gpqa":
                result = _grade_gpqa(completion, gold)
            else:
                result = _grade_math(completion, gold, gold_format)
    except _BudgetExceeded:
        fired = [True]
    if fired[0]:
        logger.warning("grading took over %.1f s (timeout)", timeout_s)
        return _timed_out(completion, task)
    return result


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


def _run_supervised(
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
                    results[index] = _timed_out(jobs[index][0], jobs[index][2])
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
                    results[index] = _timed_out(jobs[index][0], jobs[index][2])
                    idle.append(_Worker(context))
    finally:
        for worker in idle + [worker for worker, _, _ in busy.values()]:
            worker.stop(kill=bool(busy))
    return results


def _job_from_row(row: object, label: str) -> tuple[str, str, str, str]:
    """Validate one input row; errors name ``label`` (row index or file line)."""
    if not isinstance(row, dict):
        raise ValueError(f"{label}: expected a JSON object, got {type(row).__name__}")
    missing = [key for key in ("completion", "gold", "task") if key not in row]
    if missing:
        raise ValueError(f"{label}: missing key(s) {', '.join(missing)}")
    completion, gold, task = row["completion"], row["gold"], row["task"]
    if isinstance(gold, int | float) and not isinstance(gold, bool):
        gold = str(gold)  # AIME/AMC golds often arrive as JSON numbers
    if not isinstance(completion, str) or not isinstance(gold, str):
        raise ValueError(f"{label}: 'completion' and 'gold' must be strings")
    gold_format = row.get("gold_format") or "latex"
    try:
        _check_args(gold, task, gold_format)
    except ValueError as err:
        raise ValueError(f"{label}: {err}") from None
    return completion, gold, task, gold_format


def _grade_labelled(rows: list, labels: list[str], processes: int, timeout_s: float) -> list[dict]:
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    _check_timeout(timeout_s)
    jobs = [_job_from_row(row, label) for row, label in zip(rows, labels, strict=True)]
    grades = _run_supervised(jobs, processes, timeout_s, labels)
    return [{**row, **asdict(result)} for row, result in zip(rows, grades, strict=True)]


def grade_rows(
    rows: Iterable[dict], processes: int = 1, *, timeout_s: float = GRADE_TIMEOUT_S
) -> list[dict]:
    """Grade rows with keys ``completion``, ``gold``, ``task`` and optional ``gold_format`` (math
    default ``"latex"``; ignored for GPQA) across ``processes`` worker processes. Returns each row
    plus ``correct``, ``extracted``, ``timeout``, ``unparsed``, ``formatted``, in input order."""
    rows = list(rows)
    return _grade_labelled(rows, [f"row {i}" for i in range(len(rows))], processes, timeout_s)


def grade_file(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    processes: int = 1,
    *,
    timeout_s: float = GRADE_TIMEOUT_S,
) -> dict:
    """Grade a JSONL file of rows (see :func:`grade_rows`) into another; blank lines are skipped.
    The output appears only once complete. Returns counts and accuracy (%)."""
    started = time.perf_counter()
    input_path, output_path = Path(input_path), Path(output_path)
    rows, labels = [], []
    with input_path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            label = f"{input_path} line {number}"
            try:
                rows.append(json.loads(line.decode("utf-8")))
            except UnicodeDecodeError:
                raise ValueError(f"{label}: not UTF-8") from None
            except json.JSONDecodeError as err:
                raise ValueError(f"{label}: invalid JSON ({err.msg})") from None
            labels.append(label)
    graded = _grade_labelled(rows, labels, processes, timeout_s)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    partial = output_path.with_name(output_path.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        for row in graded:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(partial, output_path)
    n_correct = sum(row["correct"] for row in graded)
    summary = {
        "input": str(input_path),
        "output": str(output_path),
        "rows": len(graded),
        "correct": n_correct,
        "accuracy": 100.0 * n_correct / len(graded) if graded else None,
        "timeouts": sum(row["timeout"] for row in graded),
        "unparsed": sum(row["unparsed"] for row in graded),
        "formatted": sum(row["formatted"] for row in graded),
        "seconds": time.perf_counter() - started,
    }
    logger.info("graded %(rows)d rows of %(input)s: %(correct)d correct", summary)
    return summary
