"""lighteval ed084813's extractive match as reproduced by tina_repro.extractive_match.

Every expected value below and in grading_cases.VERDICTS is what lighteval 0.8.1's own code on
latex2sympy2_extended 1.0.6 returned for the input (tests/lighteval_diff/ builds that environment;
run_lighteval_diff.sh grades a whole corpus both ways). Where latex2sympy2_extended 1.11.0 or
math-verify 0.9.0, which we install, would answer otherwise, a comment says so: those rows are what
makes each test able to fail."""

import signal
import time
from dataclasses import replace

import pytest
import sympy
from grading_cases import VERDICTS
from latex2sympy2_extended import normalize_latex as normalize_latex_1_11

from tina_repro import extractive_match
from tina_repro.eval.grading import _math_verify_correct
from tina_repro.extractive_match import grade_math
from tina_repro.extractive_match.budget import StepTimeout, step_budget
from tina_repro.extractive_match.comparison import compare
from tina_repro.extractive_match.extraction import (
    LIGHTEVAL_NORMALIZATION,
    ExprTarget,
    LatexTarget,
    extract,
    parse_latex,
)
from tina_repro.extractive_match.normalization import boxed_content, normalize_latex

# (text, 1.0.6 with boxed="all", 1.0.6 with boxed="last"), under lighteval's default config
NORMALIZED = [
    ("\\boxed{1} and \\boxed{2}", "1,2", "1,2"),
    ("\\boxed{1}, \\boxed{2}", "1,2", "1,2"),
    ("\\boxed{1} or maybe \\boxed{2}", "1,2", "2"),  # 1.11 "last": 1,2
    ("\\boxed{1}\\boxed{1}", "1,1", "1"),  # 1.11: 1 and 1
    ("\\boxed{3} \\boxed{4}", "3,4", "4"),  # 1.11 "last": 3,4
    ("\\boxed{1", "{1", "{1"),
    ("\\boxed 5", "5", "5"),
    ("\\fbox{7}", "7", "7"),
    ("1 and 2", "1 ; 2", "1 ; 2"),  # 1.11: 1, 2
    ("\\text{ and } 3", "; 3", "; 3"),  # 1.11: , 3
    ("x or y", "x ; y", "x ; y"),
    ("5 percent", "5\\\\%", "5\\\\%"),  # 1.11: 5\%
    ("5percent", "5\\\\%", "5\\\\%"),  # 1.11: 5percent
    ("\\text{percent}", "\\\\%", "\\\\%"),  # 1.11: %
    ("5 m east", "5", "5"),
    ("5 cm", "5 cm", "5 cm"),  # 1.11: 5
    ("5 \\text{ cm}", "5", "5"),
    ("12\\text{ cm}^2", "12", "12"),
    ("\\text{ }x", "x", "x"),
    ("a=b=c", "c", "c"),
    ("a=1, b=2=3", "a=1, b=2=3", "a=1, b=2=3"),
    (".5", "\\frac{1}{2}", "\\frac{1}{2}"),
    ("0.5", "\\frac{1}{2}", "\\frac{1}{2}"),
    ("\\frac12", "\\frac{1}{2}", "\\frac{1}{2}"),
    ("sqrt(3)", "\\sqrt{3}", "\\sqrt{3}"),
    ("x^(2)", "x^{2}", "x^{2}"),
    ("\\dfrac{1}{2}", "\\frac{1}{2}", "\\frac{1}{2}"),
    ("\\left( 1, 2 \\right]", "( 1, 2 ]", "( 1, 2 ]"),
    ("1,\\!000", "1,000", "1,000"),
    ("\\$18.90", "18.90", "18.90"),
    ("infinity", "\\infty", "\\infty"),
    ("1\\,000", "1\\,000", "1\\,000"),
]


@pytest.mark.parametrize(("text", "all_boxes", "last_box"), NORMALIZED)
def test_normalization_is_latex2sympy2_extended_1_0_6s(text, all_boxes, last_box):
    assert normalize_latex(text, LIGHTEVAL_NORMALIZATION) == all_boxes
    assert normalize_latex(text, replace(LIGHTEVAL_NORMALIZATION, boxed="last")) == last_box


def test_the_table_holds_rows_where_1_11_normalizes_otherwise():
    differs = [
        text
        for text, all_boxes, _ in NORMALIZED
        if normalize_latex_1_11(text, LIGHTEVAL_NORMALIZATION) != all_boxes
    ]
    assert len(differs) >= 6, differs


def test_boxed_content_without_a_box_is_the_text():
    assert boxed_content("no box here", "last") == "no box here"
    assert boxed_content("\\boxed{a} x \\boxed{b}", "all") == "a,b"


# (normalized LaTeX, str() of what 1.0.6 parsed, or None when it raised)
PARSED = [
    ("1 \\pm \\sqrt{2}", "{1 - sqrt(2), 1 + sqrt(2)}"),  # 1.11: unevaluated sums
    ("\\pm 3", None),  # 1.11: {-3, 3}
    ("0,111", "111"),  # 1.11: 0.111
    ("1,000,000", "1000000"),
    ("5\\%", "5*(1/100)"),  # 1.11: 5*UnevaluatedExpr(1/100)
    ("\\frac{1}{2}\\%", None),
    ("ABC", "A*B*C"),
    ("1 < x < 3 < y", "(1 < x) & (3 < y) & (x < 3)"),
    ("\\Gamma(5)", "\\Gamma(5)"),  # 1.11: 24
    ("\\gamma m c^2", "c**2*gamma*m"),  # 1.11: EulerGamma*c**2*m
    ("\\gamma_0 m", "gamma_0*m"),  # 1.11: gamma(m)
    ("\\Gamma_1", "Gamma_1"),  # 1.11 raises
    ("\\gamma", "gamma"),
    ("(\\gamma - 1) m c^2", "c**2*m*(gamma - 1)"),
    ("\\sqrt{\\gamma}", "sqrt(gamma)"),
    ("x \\in [1, 2]", "Eq(x, Interval(1, 2))"),
    ("\\{1, 2, 3\\}", "{1, 2, 3}"),
    ("(1, 2]", "Interval.Lopen(1, 2)"),
    ("y = 2x + 3", "Eq(y, 2*x + 3)"),
    ("1 + 2i", "2*i + 1"),
    ("3.2e5", "3.2*E*5"),
]


@pytest.mark.parametrize(("latex", "expected"), PARSED)
def test_parsing_reads_as_latex2sympy2_extended_1_0_6(latex, expected):
    if expected is None:
        with pytest.raises(Exception):  # noqa: B017 - any parse error, as lighteval caught any
            parse_latex(latex, 5)
    else:
        assert str(parse_latex(latex, 5)) == expected


def test_a_percentage_is_an_unevaluated_hundredth():
    value = parse_latex("25\\%", 5)
    assert isinstance(value, sympy.Mul) and value.args == (25, sympy.Rational(1, 100))


def test_gamma_stand_ins_are_not_used_when_the_text_has_them():
    # \omicron stands in for \gamma; with both in the text nothing is renamed
    assert str(parse_latex("\\gamma + \\omicron", 5)) == "omicron + EulerGamma"


@pytest.mark.parametrize(
    ("completion", "gold", "gold_format", "lighteval", "math_verify"), VERDICTS
)
def test_verdicts_are_lightevals(completion, gold, gold_format, lighteval, math_verify):
    verdict = grade_math(completion, gold, gold_format)
    assert verdict.correct is lighteval
    assert verdict.timed_out is False
    assert _math_verify_correct(completion, gold, gold_format, 5) is math_verify


def test_every_setting_is_lightevals():
    expr = ExprTarget(try_extract_without_anchor=True)
    latex = LatexTarget(
        try_extract_without_anchor=True,
        boxed_match_priority=55,  # math-verify 0.9.0: 50
        normalization=LIGHTEVAL_NORMALIZATION,
    )
    assert extractive_match.PREDICTION_TARGETS == (expr, replace(latex, boxed_match_priority=0))
    assert extractive_match.GOLD_TARGETS == {
        "latex": (latex,),
        "expr": (expr,),
        None: (latex, expr),
    }
    assert (
        LIGHTEVAL_NORMALIZATION.basic_latex,
        LIGHTEVAL_NORMALIZATION.units,
        LIGHTEVAL_NORMALIZATION.malformed_operators,
        LIGHTEVAL_NORMALIZATION.nits,
        LIGHTEVAL_NORMALIZATION.boxed,
        LIGHTEVAL_NORMALIZATION.equations,  # math-verify 0.9.0: False
    ) == (True, True, True, True, "all", True)
    assert extractive_match.PRECISION == 5
    assert extractive_match.LIGHTEVAL_TIMEOUT_S == 5


def test_extraction_falls_back_to_the_first_matched_text():
    targets = extractive_match.PREDICTION_TARGETS
    found = extract("So $\\boxed{-1./3}$", targets, 5, fallback_mode="first_match")
    assert found.values == ["-1./3"]  # no math object, the box's text
    assert extract("So $\\boxed{-1./3}$", targets, 5, fallback_mode="no_fallback").values == []
    assert extract("no answer", targets, 5, fallback_mode="first_match").values == []
    gold, timed_out = extractive_match.extract_gold("no number", "expr", 5)
    assert (gold, timed_out) == (("no number",), False)  # lighteval compares the raw gold


def test_a_parse_that_runs_out_fails_and_the_next_match_is_tried():
    nested = "(" * 80 + "x+1" + ")" * 80  # about 17 s to parse unbounded
    started = time.perf_counter()
    verdict = grade_math(f"The answer: 7. Check: ${nested}$", "7", "expr", timeout_s=0.5)
    assert time.perf_counter() - started < 5
    assert (verdict.correct, verdict.timed_out) == (True, True)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_comparison_that_runs_out_is_unequal(monkeypatch):
    from tina_repro.extractive_match import comparison

    def slow(gold, pred, precision):
        time.sleep(2)
        return True

    monkeypatch.setattr(comparison, "_pair_equal", slow)
    result = compare([sympy.Integer(1)], [sympy.Integer(1)], 5, 0.2)
    assert (result.equal, result.timed_out) == (False, True)


def test_step_budget_raises_and_disarms():
    with pytest.raises(StepTimeout):
        with step_budget(0.1):
            time.sleep(1)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL


def test_a_timeout_that_library_code_turned_into_its_own_error_is_still_a_timeout():
    def parse_that_catches_everything():
        try:
            time.sleep(1)
        except BaseException as error:  # as ANTLR's recovery or a cleanup may
            raise ValueError("parse failed") from error

    with pytest.raises(StepTimeout):
        with step_budget(0.1):
            parse_that_catches_everything()
    with pytest.raises(ValueError):  # an error with the budget left is the body's own
        with step_budget(5):
            raise ValueError("bad input")
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
