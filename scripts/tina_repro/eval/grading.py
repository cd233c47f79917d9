"""Grade completions against gold answers the way the Tina paper's lighteval tasks did.

Paper metrics (docs/paper.md#grading; lighteval ``multilingual_extractive_match_metric``, English):

- ``latex_gold_metric`` (MATH-500, Minerva): gold is a full solution, parsed with
  ``LatexExtractionConfig()``; ``expr_gold_metric`` (AIME24/25, AMC23): gold is a bare number,
  parsed with ``ExprExtractionConfig()``. Choose with ``gold_format="latex"`` / ``"expr"``. With
  no ``gold_format`` (``None``, e.g. a row of ``tina-repro grade`` without one) the gold is parsed
  as math-verify's ``parse(gold)`` does by default: LaTeX, then plain expressions, so ``10/9``,
  ``1000`` and ``$\\frac{1}{2}$`` all parse.
- Prediction parsed with ``(ExprExtractionConfig(), LatexExtractionConfig(boxed_match_priority=0))``
  (boxed answers first), ``fallback_mode="first_match"``, ``extraction_mode="any_match"``, compared
  with ``verify(gold, prediction, float_rounding=5)`` (lighteval's ``precision=5``). A gold
  math-verify cannot extract falls back to its raw string, as lighteval did.
- ``gpqa_metric``: the letter lighteval's ``IndicesExtractionConfig("NativeLetters")`` extracts
  (:func:`tina_repro.eval.letters.extract_letter`) against the gold letter.

Two readings of every completion:

- ``correct`` (the paper-comparable one, scored as ``pass_at_1``): the WHOLE completion, reasoning
  included, as lighteval 0.8-0.10 read it (no version before 0.11 strips ``<think>...</think>``);
- ``correct_after_think`` (the project's stricter reading, scored as ``accuracy_after_think``): only
  the text after the last ``</think>`` (the whole completion when there is none), so that a
  ``\\boxed`` or a capital letter inside the reasoning cannot be taken for the answer.

One deliberate difference from lighteval, in both readings: a thin space between digit groups
(``1\\,000``) is removed before parsing, since math-verify reads it as a product (``1*000 = 0``).

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

from tina_repro.eval.letters import extract_letter

logger = logging.getLogger(__name__)

TASKS = ("math", "gpqa")
GOLD_FORMATS = ("latex", "expr")  # or None: math-verify's default parse(gold)
CHOICES = "ABCD"
MAX_INPUT_CHARS = 256 * 1024
GRADE_TIMEOUT_S = 10.0  # a whole grade; lighteval gave each of its three steps 5 s
FLOAT_PRECISION = 5  # lighteval's precision=5 for all three metrics

_PRED_CONFIG = (ExprExtractionConfig(), LatexExtractionConfig(boxed_match_priority=0))
_GOLD_CONFIGS = {
    "latex": (LatexExtractionConfig(),),
    "expr": (ExprExtractionConfig(),),
    None: (LatexExtractionConfig(), ExprExtractionConfig()),  # math-verify 0.9.0 parse()'s default
}
_THINK_END = "</think>"
_BOXED = re.compile(r"\\boxed\s*\{")
_THIN_SPACE_IN_NUMBER = re.compile(r"(?<=\d)\\,(?=\d{3}(?!\d))")

# GPQA answer forms that count as "formatted" (the format check only; grading uses lighteval's
# extraction). Anchored forms win over bare ones; within a tier the last match wins.
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

    ``correct`` and ``extracted``: lighteval's reading of the whole completion (the paper's);
    ``correct_after_think``: the same grader on the text after the last ``</think>`` only.
    ``unparsed``: no answer could be extracted as a math object (math) or letter (GPQA) in the
    paper's reading; false on a timeout, so the two counts never overlap. ``formatted``: exactly
    one ``</think>`` and, after it, a ``\\boxed{`` (math) or a recognised letter (GPQA).
    """

    correct: bool
    extracted: str
    timeout: bool
    unparsed: bool
    formatted: bool
    correct_after_think: bool


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
    """The letter stated in a recognised answer form in ``text`` (``Answer: C``,
    ``**Answer:** (C)``, ``\\boxed{C}``, ``Answer: $C$``, ``(C)``, a line holding only ``C``), or
    ``""``. Only the format check uses it: unlike lighteval's extraction it never takes a bare
    capital for an answer."""
    for tier in _CHOICE_TIERS:
        last = max(
            (match for pattern in tier for match in pattern.finditer(text)),
            key=lambda match: match.start(),
            default=None,
        )
        if last is not None:
            return last.group(1)
    return ""


def check_args(gold: str, task: str, gold_format: str | None) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    if task == "math" and gold_format is not None and gold_format not in GOLD_FORMATS:
        raise ValueError(
            f"unknown gold_format {gold_format!r}; expected one of {GOLD_FORMATS} or none"
        )
    if task == "gpqa" and not (len(gold.strip()) == 1 and gold.strip().upper() in CHOICES):
        raise ValueError(f"a GPQA gold must be one letter A-D, got {gold[:40]!r}")


def check_timeout(timeout_s: float) -> None:
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")


@lru_cache(maxsize=4096)
def _parse_gold(gold: str, gold_format: str | None) -> tuple:
    """Every sample of a problem shares its gold: parse it once per worker."""
    parsed = parse(
        _THIN_SPACE_IN_NUMBER.sub("", gold), _GOLD_CONFIGS[gold_format], parsing_timeout=None
    )
    if not parsed:
        logger.warning("math-verify extracts nothing from gold %r; comparing its raw text", gold)
        return (gold,)
    return tuple(parsed)


def _math_reading(text: str, gold_parsed: list) -> tuple[bool, list]:
    """(correct, math-verify's extraction) of one reading of a completion."""
    text = _THIN_SPACE_IN_NUMBER.sub("", text)
    pred = parse(text, _PRED_CONFIG, fallback_mode="first_match", parsing_timeout=None)
    correct = verify(gold_parsed, pred, float_rounding=FLOAT_PRECISION, timeout_seconds=None)
    return bool(correct), pred


def _grade_math(completion: str, gold: str, gold_format: str | None) -> Grade:
    gold_parsed = list(_parse_gold(gold, gold_format))
    correct, pred = _math_reading(completion, gold_parsed)
    answer = answer_region(completion)
    after_think = correct if answer == completion else _math_reading(answer, gold_parsed)[0]
    # math-verify returns [parsed, matched text], [matched text] or []; show the text.
    texts = [p for p in pred if isinstance(p, str)]
    extracted = texts[-1] if texts else (str(pred[0]) if pred else "")
    return Grade(
        correct=correct,
        extracted=extracted,
        timeout=False,
        unparsed=len(texts) == len(pred),
        formatted=is_formatted(completion, "math"),
        correct_after_think=after_think,
    )


def _grade_gpqa(completion: str, gold: str) -> Grade:
    gold_letter = gold.strip().upper()
    letter = extract_letter(completion, CHOICES)
    return Grade(
        correct=letter == gold_letter,
        extracted=letter,
        timeout=False,
        unparsed=not letter,
        formatted=is_formatted(completion, "gpqa"),
        correct_after_think=extract_letter(answer_region(completion), CHOICES) == gold_letter,
    )


def timed_out(completion: str, task: str) -> Grade:
    formatted = len(completion) <= MAX_INPUT_CHARS and is_formatted(completion, task)
    return Grade(
        correct=False,
        extracted="",
        timeout=True,
        unparsed=False,
        formatted=formatted,
        correct_after_think=False,
    )


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
    gold_format: str | None = None,
    *,
    timeout_s: float = GRADE_TIMEOUT_S,
) -> Grade:
    """Grade one completion. ``task`` is ``"math"`` or ``"gpqa"``; ``gold_format`` (math only) is
    ``"latex"`` (MATH-500, Minerva solutions), ``"expr"`` (AIME/AMC numbers) or ``None``
    (math-verify's default: LaTeX, then plain expressions). Bad arguments raise ``ValueError``;
    a grade that runs out of bounds is wrong with ``timeout=True``."""
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
