"""Answer extraction as lighteval ed084813's ``extractive_match_utils.py`` did it (English).

lighteval finds candidate answers with regexes, each with a priority (lower first), and parses
them into sympy objects:

- :class:`ExprTarget` (``ExprExtractionConfig``): plain numbers (thousands separators, decimal
  commas, a trailing ``%``/percent read as hundredths) and simple expressions such as ``3/4``,
  anchored by "final answer is ... I hope" (0), "final answer ... is" (50), "answer:" (100),
  "answer" (200), or anywhere (300, when ``try_extract_without_anchor``);
- :class:`LatexTarget` (``LatexExtractionConfig``): LaTeX in ``$...$``, ``$$...$$``,
  ``\\(...\\)``, ``\\[...\\]``, `` [...] `` or a bare ``\\frac{a}{b}``, up to five of them joined
  by and / or / commas, with the same anchors, and ``\\boxed{...}`` at ``boxed_match_priority``;
  each is normalized (:mod:`.normalization`) and parsed with latex2sympy2.

:func:`extract` ranks the matches of all targets as lighteval's ``extract_target_from_pred``:
targets sorted LaTeX before expressions, priorities ascending; within a priority the match ending
rightmost first (ties: starting leftmost, then target order). With ``extraction_mode="any_match"``
matches are parsed in that order until one parses; with ``fallback_mode="first_match"`` the first
matched text is appended, parsed or not. Each parse has its own time budget, as lighteval's
``timeout_seconds``; a parse that runs out counts as failed, like any other error.

Where this differs from math-verify 0.9.0's ``parse`` (which our reading ``accuracy_math_verify``
still uses): the number regex (math-verify adds ``(?<!\\d)`` and refuses a leading 0 in a
thousands-grouped number), the connectors between LaTeX answers (math-verify also accepts
",and"/",or" and lets a boxed answer swallow trailing spaces), ``boxed_match_priority`` 55 (50)
and ``equations=True`` (False) by default, a parse time budget per match rather than per
extraction, and no retry on the last ``=``-separated part when a parse fails. Parsing goes
through latex2sympy2_extended 1.11.0 as installed, made to read like 1.0.6 where the two differ
(:func:`parse_latex`); what remains different is listed in docs/paper.md#grading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import groupby
from typing import Literal

import sympy
from latex2sympy2_extended.latex2sympy2 import ConversionConfig, _Latex2Sympy, comma_number_regex
from latex2sympy2_extended.sets import FiniteSet as L2SFiniteSet
from math_verify.grader import should_treat_as_complex
from math_verify.parser import make_latex_env_pattern
from sympy.parsing import parse_expr

from tina_repro.extractive_match.budget import StepTimeout, step_budget
from tina_repro.extractive_match.normalization import NormalizationConfig, normalize_latex

# lighteval's latex_normalization_config_default_factory (extractive_match_utils.py:42-53)
LIGHTEVAL_NORMALIZATION = NormalizationConfig(
    basic_latex=True,
    units=True,
    malformed_operators=True,
    nits=True,
    boxed="all",
    equations=True,
)


@dataclass(frozen=True)
class LatexTarget:
    """lighteval's ``LatexExtractionConfig``; every field is given where one is built
    (lighteval's defaults: anchorless extraction on, ``boxed_match_priority`` 55,
    :data:`LIGHTEVAL_NORMALIZATION`)."""

    try_extract_without_anchor: bool
    boxed_match_priority: int
    normalization: NormalizationConfig


@dataclass(frozen=True)
class ExprTarget:
    """lighteval's ``ExprExtractionConfig`` (its default: anchorless extraction on)."""

    try_extract_without_anchor: bool


Target = LatexTarget | ExprTarget

# latex2sympy2_extended 1.11 lower-cases symbols by default; 1.0.6 had no such option.
_CONVERSION = ConversionConfig(lowercase_symbols=False)
_HUNDREDTH = sympy.Rational(1, 100)
_UNEVALUATED_HUNDREDTH = sympy.UnevaluatedExpr(_HUNDREDTH)
# 1.11's grammar reads \gamma and \Gamma as the gamma function or Euler's constant, 1.0.6's as
# Greek letters: they are parsed as two letters both grammars treat as plain Greek symbols, then
# named back; a text that uses those letters itself is parsed as 1.11 reads it.
_GAMMA_STAND_INS = {"\\gamma": "\\omicron", "\\Gamma": "\\varsigma"}
_GAMMA_COMMAND = re.compile(r"\\(?:gamma|Gamma)(?![a-zA-Z])")


def _anchored(candidate: str, *, is_gap: str, answer_gap: str, answer_end: str) -> list:
    """lighteval's anchored patterns around ``candidate`` (English): "final answer is X. I hope"
    (0), "final answer ... is X" (50), "answer: ... X" (100), "answer ... X" (200); the gaps are
    where its expression and LaTeX patterns differ."""
    return [
        (rf"(?i:final answer is)\:?\s*{candidate}\.?\s?I hope", 0),
        (rf"(?i:final answer.{{0,100}}?)\s+is\:?{is_gap}{candidate}", 50),
        (rf"(?i:answer):{answer_gap}{candidate}{answer_end}", 100),
        (rf"(?i:answer){answer_gap}{candidate}{answer_end}", 200),
    ]


@lru_cache(maxsize=1)
def _expr_patterns(target: ExprTarget) -> tuple[tuple[re.Pattern[str], int], ...]:
    """lighteval's ``lazy_expr_regex`` for English."""
    number = (
        r"(?:"
        r"(?P<integer1>-?\d{1,3}(?:[ ,]\d{3})+)(?P<decimal1>\.\d+)?|"
        r"(?P<integer2>-?\d+)(?P<decimal2>[.,]\d+)|"
        r"(?P<decimal3>\.\d+)|"
        r"(?P<integer3>-?\d+)"
        r")(?P<percent>\s*(?:%|[Pp]ercent|\s*[Pp]ercentage|\s*[Pp]ct))?"
    )
    operators = r"\+\-\*\×\/\^\(\)\÷"
    expr_chars = rf"[\d\.\s{operators}]"
    # at least one operator, starting with a digit (after an optional sign or parenthesis)
    expr = rf"(?P<expr>-?\(?-?\d{expr_chars}*[{operators}]{expr_chars}+\)?)"
    currency = re.escape("$€£¥₹₽₪₩₫฿₡₢₣₤₥₦₧₨₩₪₫₭₮₯₰₱₲₳₴₵₶₷₸₹₺₻₼₽₾₿")
    before = r"(?:^|\s|\=)(?:\*\*)?"
    after = r"(?:\*\*)?(?:\.|,|:|\s|\)|\$|$)"
    expr_anchored = rf"(?:{before}{expr}{after})"
    number_anchored = rf"(?:{before}[{currency}]?{number})"
    either = rf"(?:{expr_anchored}|{number_anchored})"
    # after "answer", the candidate after the last "=" within 100 characters, else the first
    # within 50, and no "=" after it
    patterns = _anchored(
        either, is_gap="", answer_gap=r"(?:.{0,100}=\s*|.{0,50}?)", answer_end=r"(?!\s*=)"
    )
    if target.try_extract_without_anchor:
        patterns += [(expr_anchored, 300), (number_anchored, 300)]
    return tuple((re.compile(pattern), priority) for pattern, priority in patterns)


def _joined(context: Literal["plain", "boxed"]) -> str:
    """Up to five LaTeX environments joined by "and", "or" or "," (lighteval's English words)."""
    rest = "".join(
        rf"(?:\s*(?:and|or|,)\s*{make_latex_env_pattern(f'next{i}_', context)})?"
        for i in range(1, 6)
    )
    return make_latex_env_pattern("first_", context) + rest


@lru_cache(maxsize=1)
def _latex_patterns(target: LatexTarget) -> tuple[tuple[re.Pattern[str], int], ...]:
    """lighteval's ``lazy_latex_regex`` for English."""
    latex = rf"(?:{_joined('plain')})"
    patterns = _anchored(latex, is_gap=r"\s*", answer_gap=r".{0,50}?", answer_end="")
    if target.try_extract_without_anchor:
        patterns.append((latex, 300))
    if target.boxed_match_priority >= 0:
        patterns.append((_joined("boxed"), target.boxed_match_priority))
        # A \boxed{ to the last } of the text; normalization cuts the box out.
        patterns.append((r"(?P<first_latexBoxed>\\boxed{.+})", target.boxed_match_priority))
    return tuple((re.compile(pattern, re.DOTALL), priority) for pattern, priority in patterns)


def _patterns(target: Target) -> tuple[tuple[re.Pattern[str], int], ...]:
    return _latex_patterns(target) if isinstance(target, LatexTarget) else _expr_patterns(target)


def percent_of(value):
    """lighteval's ``convert_to_pct``: ``value`` times 1/100, unevaluated."""
    return sympy.Mul(value, _HUNDREDTH, evaluate=False)


class _ConverterAsIn106(_Latex2Sympy):
    """latex2sympy2_extended 1.11's converter, reading what 1.0.6 read differently as 1.0.6 did
    (tests/test_extractive_match.py compares the two on each):

    - a percentage is ``x * 1/100`` unevaluated (1.11: ``x * UnevaluatedExpr(1/100)``), which
      lighteval's comparison recognises as a percentage;
    - ``a \\pm b`` is the pair ``a + b, a - b`` evaluated (1.11 keeps both unevaluated), and a
      unary ``\\pm b`` does not parse (1.0.6's grammar had no such rule);
    - ``\\gamma`` and ``\\Gamma`` are Greek letters, symbols (a Lorentz factor in a Minerva
      answer), and ``\\Gamma(x)`` an undefined function named ``\\Gamma``; 1.11 reads them as
      Euler's constant and the gamma function (``\\Gamma(5)`` is 24). See
      :data:`_GAMMA_STAND_INS`.
    """

    def __init__(self, is_real: bool, stand_ins: bool) -> None:
        super().__init__(None, is_real, False, config=_CONVERSION)
        self.stand_ins = stand_ins  # True: the text's \gamma / \Gamma were replaced by stand-ins

    def convert_element(self, element):
        plus_minus = element.plus_minus_expr()
        if not plus_minus:
            return super().convert_element(element)
        if len(plus_minus.expr()) != 2:
            raise ValueError("latex2sympy2_extended 1.0.6 has no unary \\pm")
        left, right = (self.convert_expr(side) for side in plus_minus.expr())
        return [left + right, left - right]

    def convert_atom(self, atom):
        value = super().convert_atom(atom)
        if (
            isinstance(value, sympy.Mul)
            and len(value.args) == 2
            and value.args[1] == _UNEVALUATED_HUNDREDTH
        ):
            return percent_of(value.args[0])
        return value

    def convert_atom_expr(self, atom_expr):
        value = super().convert_atom_expr(atom_expr)
        return _without_stand_ins(value) if self.stand_ins else value

    def convert_func(self, func):
        value = super().convert_func(func)
        return _without_stand_ins(value) if self.stand_ins else value


def _without_stand_ins(value):
    """``value`` with the stand-ins of :data:`_GAMMA_STAND_INS` named back."""
    if not isinstance(value, sympy.Basic):
        return value
    renames = {}
    for symbol in value.atoms(sympy.Symbol):
        for gamma, stand_in in _GAMMA_STAND_INS.items():
            if symbol.name.startswith(stand_in[1:]):
                name = gamma[1:] + symbol.name[len(stand_in) - 1 :]
                renames[symbol] = sympy.Symbol(name, **symbol.assumptions0)
    for applied in value.atoms(sympy.core.function.AppliedUndef):
        for gamma, stand_in in _GAMMA_STAND_INS.items():
            if applied.func.__name__ == stand_in:
                renames[applied] = sympy.Function(gamma)(*applied.args)
    return value.xreplace(renames) if renames else value


def parse_latex(latex: str, timeout_s: float):
    """A normalized LaTeX string as lighteval parsed it (``parse_latex_with_timeout``:
    ``latex2sympy`` with ``is_real`` unless the text looks complex, no degree conversion, no
    second normalization)."""
    if comma_number_regex.match(latex):
        # 1.0.6 reads 0,111 as 111 like 1,111 (1.11: 0.111)
        digits = latex.translate(str.maketrans("", "", ", ")).lstrip("0")
        return sympy.Number(digits or "0")
    stand_ins = bool(_GAMMA_COMMAND.search(latex)) and not any(
        stand_in[1:] in latex for stand_in in _GAMMA_STAND_INS.values()
    )
    converter = _ConverterAsIn106(not should_treat_as_complex(latex), stand_ins)
    if stand_ins:
        latex = _GAMMA_COMMAND.sub(lambda match: _GAMMA_STAND_INS[match.group(0)], latex)
    with step_budget(timeout_s):
        value = converter.parse(latex)
    return _without_stand_ins(value) if stand_ins else value


_PARSE_FAILED, _PARSE_TIMED_OUT = "failed", "timed out"


@lru_cache(maxsize=256)
def _cached_parse(kind: str, text: str, timeout_s: float) -> tuple[str | None, object]:
    """(failure or None, value) of parsing ``text`` as ``kind`` (latex or expr). lighteval caches
    its parses too; a failure is cached here as well, so that the same unparseable text found
    by several patterns (a box, its ``$...$``) costs one budget, not several."""
    try:
        if kind == "latex":
            return None, parse_latex(text, timeout_s)
        with step_budget(timeout_s):
            return None, parse_expr(text, evaluate=False)
    except StepTimeout:
        return _PARSE_TIMED_OUT, None
    except Exception:
        return _PARSE_FAILED, None


class Extraction:
    """What :func:`extract` found: ``values`` (sympy objects, then the first matched text when
    the fallback asks for it) and whether any parse ran out of its budget (``timed_out``)."""

    __slots__ = ("timed_out", "values")

    def __init__(self) -> None:
        self.values: list = []
        self.timed_out = False


def _parse_number(groups: dict) -> tuple[object, str] | None:
    integer = next((v for k, v in groups.items() if k.startswith("integer") and v), "")
    decimal = next((v for k, v in groups.items() if k.startswith("decimal") and v), "")
    if not (integer or decimal):
        return None
    integer = integer.translate(str.maketrans("", "", ", ")).lstrip("0") or "0"
    number_text = integer + decimal.replace(",", ".")
    try:
        number = sympy.Number(number_text)
    except Exception:  # lighteval 0.8.1's guard (e.g. over 4300 digits); ed084813 raised
        return None, number_text
    return (percent_of(number) if groups.get("percent") else number), number_text


def _from_expr(match: re.Match, timeout_s: float, found: Extraction) -> tuple[object, str]:
    """lighteval's ``extract_expr``: (parsed or None, matched text)."""
    groups = match.groupdict()
    number = _parse_number(groups)
    if number is not None:
        return number
    expr = groups.get("expr") or ""
    if expr:
        failure, value = _cached_parse(
            "expr", expr.replace("\n", " ").replace("^", "**"), timeout_s
        )
        found.timed_out |= failure == _PARSE_TIMED_OUT
        if failure is None:
            return value, expr
    return None, expr


def _from_latex(
    match: re.Match, target: LatexTarget, timeout_s: float, found: Extraction
) -> tuple[object, str]:
    """lighteval's ``extract_latex``: (parsed or None, normalized text) of up to five joined
    LaTeX groups; several that all parse become one set."""
    groups = match.groupdict()
    pieces = [
        next(((name, v) for name, v in groups.items() if name.startswith(prefix) and v), None)
        for prefix in ("first_latex", *(f"next{i}_latex" for i in range(1, 6)))
    ]
    parsed, texts = [], []
    for name, latex in filter(None, pieces):
        prefix, group = name.split("_")[:2]
        config = target.normalization
        if group == "latexBoxed":
            config = replace(config, boxed="last")
        text = normalize_latex(latex, config)
        texts.append(text)
        failure, value = _cached_parse("latex", text, timeout_s)
        found.timed_out |= failure == _PARSE_TIMED_OUT
        if failure is None and groups.get(f"{prefix}_percent"):
            value = percent_of(value)
        parsed.append(value)
    if not parsed:
        return None, ""
    if len(parsed) > 1 and all(value is not None for value in parsed):
        elements = []
        for value in parsed:
            elements.extend(value.args if isinstance(value, sympy.FiniteSet) else [value])
        return L2SFiniteSet(*elements), " and ".join(texts)
    return parsed[0], texts[0]


def extract(
    text: str,
    targets: tuple[Target, ...],
    timeout_s: float,
    *,
    fallback_mode: Literal["no_fallback", "first_match"],
) -> Extraction:
    """lighteval's ``extract_target_from_pred`` with ``extraction_mode="any_match"``."""
    found = Extraction()
    ordered_targets = sorted(targets, key=lambda t: 0 if isinstance(t, LatexTarget) else 1)
    tagged = [
        (p, target, priority) for target in ordered_targets for p, priority in _patterns(target)
    ]
    patterns = sorted(tagged, key=lambda item: item[2])  # stable: target order within a priority
    fallbacks = []
    for _, group in groupby(patterns, key=lambda item: item[2]):
        matches = [(m, target) for pattern, target, _ in group for m in pattern.finditer(text)]
        matches.sort(key=lambda item: (item[0].end(), -item[0].start()), reverse=True)
        for match, target in matches:
            if isinstance(target, LatexTarget):
                value, matched = _from_latex(match, target, timeout_s, found)
            else:
                value, matched = _from_expr(match, timeout_s, found)
            if matched:
                fallbacks.append(matched)
            if value is not None:
                found.values.append(value)
                break
        if found.values:
            break
    if fallback_mode == "first_match" and fallbacks:
        found.values.append(fallbacks[0])
    return found
