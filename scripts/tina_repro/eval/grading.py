"""Grade completions against gold answers the way the Tina paper's lighteval tasks did.

Paper metrics (docs/paper.md#grading; lighteval ed084813's ``multilingual_extractive_match_metric``,
English, as Tina's ``run_post_train_eval.py`` configured it):

- math (``expr_gold_metric`` for AIME/AMC with ``gold_format="expr"``, ``latex_gold_metric`` for
  MATH-500/Minerva with ``gold_format="latex"``): :mod:`tina_repro.extractive_match`, lighteval's
  own extraction, normalization and comparison reproduced on our libraries, every setting passed
  with lighteval's value. With no ``gold_format`` (``None``, e.g. a row of ``tina-repro grade``
  without one) the gold is tried as LaTeX, then as a plain expression.
- ``gpqa_metric``: the letter lighteval's ``IndicesExtractionConfig("NativeLetters")`` extracts
  (:func:`tina_repro.eval.letters.extract_letter`) against the gold letter.

Three readings of every completion:

- ``correct`` (the paper's, scored as ``pass_at_1``): lighteval's verdict on the WHOLE completion,
  reasoning included, as lighteval 0.8-0.10 read it (no version before 0.11 strips
  ``<think>...</think>``), wrong verdicts included (``\\boxed{113\\%}`` is 1.13);
- ``correct_after_think`` (scored as ``accuracy_after_think``): the same on the text after the last
  ``</think>`` (the whole completion when there is none), so that a ``\\boxed`` or a capital
  letter inside the reasoning cannot be taken for the answer;
- ``correct_math_verify`` (scored as ``accuracy_math_verify``): this project's earlier reading of
  the whole completion, math-verify 0.9.0's ``parse`` and ``verify`` with the paper's extraction
  targets and math-verify's defaults otherwise, a thin space between digit groups (``1\\,000``)
  removed first; math-verify reads percentages, units and equations more leniently. GPQA: the
  letter, as in ``correct``.

Time. As in lighteval, each parse of an extracted answer and each comparison has its own budget
(``timeout_s``, lighteval's ``timeout_seconds=5``; math-verify's parse and verify get one each);
a step that runs out fails (that match does not parse, that pair is unequal) and the grade says
``timeout=True``, but the verdict stands, as it did in lighteval. Beyond lighteval:

- inputs over :data:`MAX_INPUT_CHARS` (256 KiB) are not parsed at all (wrong, ``timeout=True``). A
  real completion is at most 32,768 tokens (about 130 KB); anything longer is degenerate;
- budgets are ``SIGALRM`` interval timers in the main thread (math-verify's own whole-second
  ``signal.alarm`` timeouts are turned off: nested alarms would cancel ours). Called from another
  thread, :func:`grade` runs in a child process instead;
- many completions are graded in worker processes (:mod:`tina_repro.eval.grading_pool`), each killed
  when one grade takes longer than a per-sample limit (work stuck where no signal reaches).
"""

import functools
import logging
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from tina_repro import extractive_match
from tina_repro.config import EvaluationSettings
from tina_repro.eval.letters import extract_letter
from tina_repro.eval.process_pool import run_bounded
from tina_repro.extractive_match.budget import StepTimeout, step_budget

logger = logging.getLogger(__name__)

TASKS = ("math", "gpqa")
GOLD_FORMATS = ("latex", "expr")  # or None: LaTeX, then plain expressions
CHOICES = "ABCD"
MAX_INPUT_CHARS = 256 * 1024
STEP_TIMEOUT_S = extractive_match.LIGHTEVAL_TIMEOUT_S  # per parse and per comparison
# The reading `correct` reproduces. A grading job's params carry it, so that a change of what a
# grade means regrades finished samples (a code edit alone reruns nothing: profiles/default).
READING = "lighteval-ed084813"
# A grade runs one gold extraction, three readings of the completion and their comparisons, each
# parse and comparison within timeout_s; a worker busy for this many budgets is stuck.
SAMPLE_TIMEOUT_STEPS = 24

# The math-verify reading (correct_math_verify): math-verify 0.9.0 with the paper's targets.
_MV_PRED_CONFIG = (ExprExtractionConfig(), LatexExtractionConfig(boxed_match_priority=0))
_MV_GOLD_CONFIGS = {
    "latex": (LatexExtractionConfig(),),
    "expr": (ExprExtractionConfig(),),
    None: (LatexExtractionConfig(), ExprExtractionConfig()),  # math-verify 0.9.0 parse()'s default
}
_MV_FLOAT_ROUNDING = 5
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
    ``correct_after_think``: the same on the text after the last ``</think>`` only;
    ``correct_math_verify``: math-verify 0.9.0's reading of the whole completion.
    ``unparsed``: lighteval extracted no math object (math) or letter (GPQA) in the paper's
    reading. ``timeout``: a parse or comparison of the paper's reading ran out of its budget (its
    verdict stands, as in lighteval), or the completion was not graded at all (too long, or its
    worker was killed), which counts as wrong. ``formatted``: exactly one ``</think>`` and, after
    it, a ``\\boxed{`` (math) or a recognised letter (GPQA).
    """

    correct: bool
    extracted: str
    timeout: bool
    unparsed: bool
    formatted: bool
    correct_after_think: bool
    correct_math_verify: bool


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


def grading_settings(evaluation: EvaluationSettings) -> dict:
    """What decides a grade, from the ``evaluation`` config: the reading and the time budget
    (``grading_processes`` only decides how fast)."""
    return {"reading": READING, "timeout_s": evaluation.grading_timeout_s}


def check_timeout(timeout_s: float) -> None:
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")


@lru_cache(maxsize=4096)
def _lighteval_gold(gold: str, gold_format: str | None, timeout_s: float) -> tuple[tuple, bool]:
    """Every sample of a problem shares its gold: extract it once per worker."""
    golds, timed_out = extractive_match.extract_gold(gold, gold_format, timeout_s)
    if all(isinstance(value, str) for value in golds):
        logger.warning("lighteval extracts no math object from gold %r; comparing text", gold)
    return golds, timed_out


def _shown(values: tuple) -> str:
    """The matched text of an extraction (its fallback string), else the parsed object."""
    texts = [value for value in values if isinstance(value, str)]
    return texts[-1] if texts else (str(values[0]) if values else "")


@lru_cache(maxsize=4096)
def _math_verify_gold(gold: str, gold_format: str | None, timeout_s: float) -> tuple:
    try:
        with step_budget(timeout_s):
            gold_text = _THIN_SPACE_IN_NUMBER.sub("", gold)
            parsed = parse(gold_text, _MV_GOLD_CONFIGS[gold_format], parsing_timeout=None)
    except StepTimeout:
        parsed = []
    return tuple(parsed) or (gold,)


def _math_verify_correct(text: str, gold: str, gold_format: str | None, timeout_s: float) -> bool:
    """math-verify 0.9.0's reading (this project's grader before lighteval's was reproduced)."""
    gold_parsed = list(_math_verify_gold(gold, gold_format, timeout_s))
    try:
        with step_budget(timeout_s):
            text = _THIN_SPACE_IN_NUMBER.sub("", text)
            pred = parse(text, _MV_PRED_CONFIG, fallback_mode="first_match", parsing_timeout=None)
        with step_budget(timeout_s):
            return bool(
                verify(gold_parsed, pred, float_rounding=_MV_FLOAT_ROUNDING, timeout_seconds=None)
            )
    except StepTimeout:
        return False


def _grade_math(completion: str, gold: str, gold_format: str | None, timeout_s: float) -> Grade:
    golds = _lighteval_gold(gold, gold_format, timeout_s)
    whole = extractive_match.grade_math(completion, gold, gold_format, timeout_s, golds)
    answer = answer_region(completion)
    after_think = (
        whole
        if answer == completion
        else extractive_match.grade_math(answer, gold, gold_format, timeout_s, golds)
    )
    return Grade(
        correct=whole.correct,
        extracted=_shown(whole.predictions),
        timeout=whole.timed_out,
        unparsed=all(isinstance(value, str) for value in whole.predictions),
        formatted=is_formatted(completion, "math"),
        correct_after_think=after_think.correct,
        correct_math_verify=_math_verify_correct(completion, gold, gold_format, timeout_s),
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
        correct_math_verify=letter == gold_letter,
    )


def not_graded(completion: str, task: str) -> Grade:
    """The grade of a completion that could not be graded (too long, or its worker killed)."""
    formatted = len(completion) <= MAX_INPUT_CHARS and is_formatted(completion, task)
    return Grade(
        correct=False,
        extracted="",
        timeout=True,
        unparsed=False,
        formatted=formatted,
        correct_after_think=False,
        correct_math_verify=False,
    )


def grade(
    completion: str,
    gold: str,
    task: str,
    gold_format: str | None = None,
    *,
    timeout_s: float = STEP_TIMEOUT_S,
) -> Grade:
    """Grade one completion. ``task`` is ``"math"`` or ``"gpqa"``; ``gold_format`` (math only) is
    ``"latex"`` (MATH-500, Minerva solutions), ``"expr"`` (AIME/AMC numbers) or ``None`` (LaTeX,
    then plain expressions). ``timeout_s`` bounds each parse and each comparison. Bad arguments
    raise ``ValueError``."""
    check_args(gold, task, gold_format)
    check_timeout(timeout_s)
    if len(completion) > MAX_INPUT_CHARS or len(gold) > MAX_INPUT_CHARS:
        logger.warning("input over %d characters not graded (timeout)", MAX_INPUT_CHARS)
        return not_graded(completion, task)
    if threading.current_thread() is not threading.main_thread():  # no SIGALRM here
        job = (completion, gold, task, gold_format)
        return run_in_processes([job], 1, timeout_s, sample_timeout(timeout_s))[0]
    if task == "gpqa":
        return _grade_gpqa(completion, gold)
    result = _grade_math(completion, gold, gold_format, timeout_s)
    if result.timeout:
        logger.warning("a parse or comparison took over %.1f s (timeout)", timeout_s)
    return result


def sample_timeout(timeout_s: float) -> float:
    """The default per-completion limit for a per-step budget of ``timeout_s``."""
    return SAMPLE_TIMEOUT_STEPS * timeout_s


Job = tuple[str, str, str, str | None]  # (completion, gold, task, gold_format)


def _grade_job(job: Job, timeout_s: float) -> Grade:
    return grade(*job, timeout_s=timeout_s)


def _job_not_graded(job: Job) -> Grade:
    return not_graded(job[0], job[2])


def run_in_processes(
    jobs: list[Job],
    processes: int,
    timeout_s: float,
    sample_timeout_s: float,
    labels: list[str] | None = None,
) -> list[Grade]:
    """Grade ``jobs`` in ``processes`` worker processes, in input order; a job whose worker is
    still busy after ``sample_timeout_s`` seconds, or dies, is not graded."""
    work = functools.partial(_grade_job, timeout_s=timeout_s)
    return run_bounded(jobs, processes, sample_timeout_s, work, _job_not_graded, labels)
