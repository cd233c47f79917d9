"""lighteval ed084813's extractive-match metric for maths, reproduced on our pinned libraries.

Tina scored AIME, AMC, MATH-500 and Minerva with ``multilingual_extractive_match_metric`` of
lighteval at commit ed084813, configured by its custom tasks
(``scripts/training/run_post_train_eval.py:52-77`` at Tina 077329b; docs/paper.md#metrics):

- ``expr_gold_metric`` (AIME, AMC): gold extracted with ``ExprExtractionConfig()``;
- ``latex_gold_metric`` (MATH-500, Minerva): gold extracted with ``LatexExtractionConfig()``;
- both: prediction extracted with ``(ExprExtractionConfig(), LatexExtractionConfig(
  boxed_match_priority=0))``, ``fallback_mode="first_match"``, ``extraction_mode="any_match"``,
  ``precision=5``, ``timeout_seconds=5`` (the default), aggregation ``max`` over one prediction.

lighteval's metric code at that commit is its own (``metrics/utils/extractive_match_utils.py``,
``metrics/utils/math_comparison.py``, on latex2sympy2_extended 1.0.6), not math-verify's; it
cannot be installed beside our pins. This package reproduces it: :mod:`.extraction` (regexes and
ranking), :mod:`.normalization` (1.0.6's LaTeX normalization), :mod:`.comparison`, and
:mod:`.budget` (lighteval's per-step timeouts). tests/lighteval/run_lighteval_diff.sh grades a
corpus with lighteval's own code and with this package and lists where they differ
(docs/paper.md#grading). GPQA's letters are :mod:`tina_repro.eval.letters`.

Every setting is passed explicitly with lighteval's value: :data:`PREDICTION_TARGETS`,
:data:`GOLD_TARGETS`, :data:`PRECISION`, and the fallback and extraction modes of
:func:`~tina_repro.extractive_match.extraction.extract`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tina_repro.extractive_match.comparison import compare
from tina_repro.extractive_match.extraction import (
    LIGHTEVAL_NORMALIZATION,
    ExprTarget,
    LatexTarget,
    extract,
)

# Tina's run_post_train_eval.py: ExprExtractionConfig() and LatexExtractionConfig() with
# lighteval's defaults, but for the prediction's boxed_match_priority=0 ("match boxed first").
_EXPR = ExprTarget(try_extract_without_anchor=True)
_LATEX = LatexTarget(
    try_extract_without_anchor=True, boxed_match_priority=55, normalization=LIGHTEVAL_NORMALIZATION
)
PREDICTION_TARGETS = (_EXPR, replace(_LATEX, boxed_match_priority=0))
# The gold side by benchmark gold_format; None (a row of `tina-repro grade` without a format)
# tries LaTeX, then plain expressions.
GOLD_TARGETS = {"latex": (_LATEX,), "expr": (_EXPR,), None: (_LATEX, _EXPR)}
PRECISION = 5  # precision=5 in all three of Tina's metrics
LIGHTEVAL_TIMEOUT_S = 5  # lighteval's default timeout_seconds, per parse and per comparison


@dataclass(frozen=True)
class Verdict:
    """lighteval's verdict on one completion: ``correct``, what it extracted from the completion
    and from the gold (sympy objects, then the first matched text), and whether a parse or a
    comparison ran out of its time budget (``timed_out``; the verdict still stands, as in
    lighteval, where a timed-out step simply fails)."""

    correct: bool
    predictions: tuple
    golds: tuple
    timed_out: bool


def extract_gold(gold: str, gold_format: str | None, timeout_s: float) -> tuple[tuple, bool]:
    """(extracted golds, timed out). When nothing can be extracted lighteval compares the raw
    gold text (``dynamic_metrics.py:260-262``)."""
    found = extract(gold, GOLD_TARGETS[gold_format], timeout_s, fallback_mode="first_match")
    return (tuple(found.values) or (gold,)), found.timed_out


def gold_reading(gold: str, gold_format: str | None, timeout_s: float = LIGHTEVAL_TIMEOUT_S) -> str:
    """How lighteval reads ``gold``: ``"math"`` (a math object), ``"text"`` (only as the text its
    patterns matched, compared with the prediction's matched text, e.g. Minerva's ``-1./3``) or
    ``"raw"`` (nothing matched: the whole gold is compared as text)."""
    found = extract(gold, GOLD_TARGETS[gold_format], timeout_s, fallback_mode="first_match")
    if not found.values:
        return "raw"
    return "text" if all(isinstance(value, str) for value in found.values) else "math"


def grade_math(
    completion: str,
    gold: str,
    gold_format: str | None,
    timeout_s: float = LIGHTEVAL_TIMEOUT_S,
    golds: tuple[tuple, bool] | None = None,
) -> Verdict:
    """lighteval's ``sample_level_fn`` for one completion. ``golds`` may pass
    :func:`extract_gold`'s result when several completions share a gold."""
    golds_found, gold_timed_out = golds or extract_gold(gold, gold_format, timeout_s)
    found = extract(completion, PREDICTION_TARGETS, timeout_s, fallback_mode="first_match")
    verdict = compare(list(golds_found), found.values, PRECISION, timeout_s)
    return Verdict(
        correct=verdict.equal,
        predictions=tuple(found.values),
        golds=golds_found,
        timed_out=gold_timed_out or found.timed_out or verdict.timed_out,
    )
