"""Grade completions against gold answers the way the Tina paper's lighteval tasks did.

Paper metrics (docs/paper.md#metrics; lighteval ``multilingual_extractive_match_metric``, English):

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
- many completions are graded in worker processes (:mod:`tina_repro.eval.workers`).
"""

import logging
import re
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

logger = logging.getLogger(__name__)

TASKS = ("math", "gpqa")
GOLD_FORMATS = ("latex", "expr")
CHOICES = "ABCD"
MAX_INPUT_CHARS = 256 * 1024
GRADE_TIMEOUT_S = 10.0  # a whole grade; lighteval gave each of its three steps 5 s
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


def check_args(gold: str, task: str, gold_format: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    if task == "math" and gold_format not in GOLD_FORMATS:
        raise ValueError(f"unknown gold_format {gold_format!r}; expected one of {GOLD_FORMATS}")
    if task == "gpqa" and gold.strip().upper() not in CHOICES:
        raise ValueError(f"a GPQA gold must be one letter A-D, got {gold[:40]!r}")


def check_timeout(timeout_s: float) -> None:
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


def timed_out(completion: str, task: str) -> Grade:
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
    check_args(gold, task, gold_format)
    check_timeout(timeout_s)
    if len(completion) > MAX_INPUT_CHARS or len(gold) > MAX_INPUT_CHARS:
        logger.warning("input over %d characters not graded (timeout)", MAX_INPUT_CHARS)
        return timed_out(completion, task)
    if threading.current_thread() is not threading.main_thread():
        from tina_repro.eval.workers import run_supervised  # (workers import this module)

        return run_supervised([(completion, gold, task, gold_format)], 1, timeout_s)[0]
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
        return timed_out(completion, task)
    return result
