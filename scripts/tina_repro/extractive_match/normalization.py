"""LaTeX normalization as latex2sympy2_extended 1.0.6 did it for lighteval ed084813.

lighteval's ``extract_latex`` normalizes every extracted LaTeX string with
``latex2sympy2_extended.math_normalization.normalize_latex`` before parsing it. The paper's
lighteval ran on latex2sympy2_extended **1.0.6** (the ``math`` extra of lighteval 0.8 pins it);
math-verify 0.9.0, which we install, needs **1.11.0**, whose normalization differs in five places:

1. ``\\boxed`` extraction (``extract_boxed_content``): 1.0.6 joins several boxes only when
   nothing but ``and``, ``or`` or ``,`` (with spaces) stands between them, and keeps repeats;
   1.11 also joins boxes within 10 characters of each other, or within 70 with such a word
   inside, and drops consecutive repeats.
2. The words ``and`` / ``or`` (also in ``\\text{...}``) become ``;`` in 1.0.6, ``,`` in 1.11.
3. ``percent`` (anywhere, even inside a word) becomes the literal ``\\\\%`` in 1.0.6 (its
   replacement is returned by a function, so both backslashes stay); 1.11 replaces the whole
   words percent, percentage and pct by ``\\%``.
4. Unit words: 1.0.6's regex puts a whitespace lookahead before each unit word, so it can only
   match the one unit that begins with a space (" m east"); 1.11 strips trailing units such as
   ``cm`` or ``dollars``. Only 1.0.6 then replaces an empty ``\\text{}`` by a space.
5. 1.11 warns that ``equations=True`` is deprecated (it behaves the same).

This module reproduces 1.0.6's order of steps with its own code for those five parts and
latex2sympy2_extended 1.11's helpers where the two versions are the same (the ``\\left``/
``\\right`` regexes, permutations, removed commands, ``=`` splitting, ``\\text{unit}^2``
suffixes, malformed ``\\frac``/``\\sqrt``, ``a/b``). tests/test_extractive_match.py checks each
part against what 1.0.6 returns.
"""

from __future__ import annotations

import re
from typing import Literal

from latex2sympy2_extended import math_normalization as l2s
from latex2sympy2_extended.math_normalization import NormalizationConfig

__all__ = ["NormalizationConfig", "boxed_content", "normalize_latex"]

# 1.0.6's text replacements, tried as one alternation left to right: (name, pattern, literal
# replacement). The literals are inserted as they are, backslashes included.
_REPLACEMENTS = (
    ("math", r"\\math(?:rm|it|bf)", "\\text"),
    ("text", r"\\text(?:normal|bf|it|rm)", "\\text"),
    ("frac", r"\\(?:d|t|c)frac", "\\frac"),
    ("decimal_space", r"\s\.", " 0."),
    ("decimal_brace", r"\{\.", "{0."),
    ("approx", r"\~\=", "\\approx"),
    ("comma", r"\s*\{\s*,\s*\}", ","),
    ("and_or", r"(?<!\w)(?:and|or)(?!\w)", ";"),
    ("and_or_text", r"(\\text{\s*(?:and|or)\s*})", ";"),
    ("backslash_space", r"(?<!\\)\\\s", " "),
    ("infinity", r"infinity", "\\infty"),
    ("dot", r",?(\\ldots)", " "),
    ("percent", r"\s*percent", "\\\\%"),
    ("percent_in_text", r"\\text{percent}", "\\\\%"),
    ("inf", r"((?<!\\)inf(?!inity))", "\\infty"),
    ("sqrt", r" sqrt", "\\sqrt"),
)
_REPLACEMENT_RE = re.compile(
    "|".join(f"(?P<{name}>{pattern})" for name, pattern, _ in _REPLACEMENTS)
)
_REPLACEMENT_OF = {name: literal for name, _, literal in _REPLACEMENTS}

# 1.0.6's unit-word regex, built as 1.0.6 built it from the (unchanged) list of units.
_UNIT_WORDS = re.compile("|".join(rf"(?=\s)(?:{unit}(?:s|es)?)($|\W)" for unit in l2s.units))
_EMPTY_TEXT = re.compile(r"\\text\s*\{\s*\}")
_BOX_SEPARATOR = re.compile(r"^\s*(?:and|or|,)\s*$")


def _closing_brace(text: str, opening: int, end: int) -> int | None:
    """Index of the brace closing ``text[opening]`` before ``end``, or None."""
    depth = 1
    for index in range(opening + 1, end):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return None


def boxed_content(text: str, mode: Literal["last", "all"] = "last") -> str:
    """The contents of the ``\\boxed{...}`` / ``\\fbox{...}`` of ``text`` as 1.0.6 extracted them:
    scanned from the right; ``last`` keeps adding boxes leftwards only while the text between
    two of them is just ``and``, ``or`` or ``,``; ``all`` takes every box. Several boxes are
    joined by ``,`` in reading order. A box whose braces do not close yields the rest of the
    text from its ``{`` (when it is the first one found). Without a box: ``text`` itself."""
    found: list[str] = []
    end = len(text)  # boxes are searched left of the last one taken
    previous_start = None
    while True:
        start = max(text.rfind("\\boxed", 0, end), text.rfind("\\fbox", 0, end))
        if start < 0:
            break
        brace = start + (6 if text.startswith("\\boxed", start) else 5)
        while brace < end and text[brace].isspace():
            brace += 1
        if brace >= end:
            break
        if text[brace] != "{":
            if not found:
                found.append(text[brace:])
            break
        closing = _closing_brace(text, brace, end)
        if closing is None:
            if not found:
                found.append(text[brace:])
            break
        if (
            mode == "last"
            and previous_start is not None
            and not _BOX_SEPARATOR.match(text[closing + 1 : previous_start])
        ):
            break
        found.append(text[brace + 1 : closing].strip())
        previous_start = end = start
    return ",".join(reversed(found)) if found else text


def normalize_latex(text: str, config: NormalizationConfig) -> str:
    """``normalize_latex`` of latex2sympy2_extended 1.0.6, step by step."""
    if config.boxed in ("all", "last"):
        text = boxed_content(text, config.boxed)
    if config.basic_latex:
        text = text.replace(r"\mathrm{T}", "T")
        text = text.replace(r"\mathrm{d}", "d").replace(r"{\rm d}", "d")
        text = text.replace(r"\left[\begin{matrix}", r"\begin{bmatrix}")
        text = text.replace(r"\end{matrix}\right]", r"\end{bmatrix}")
        text = l2s.r_left.sub(r"\1", text)
        text = l2s.r_right.sub(r"\1", text)
        text = l2s.permutation_regex.sub(r"\\frac{(\1)!}{((\1)-(\2))!}", text)
        text = l2s.to_remove_regex.sub("", text)
        text = _REPLACEMENT_RE.sub(lambda match: _REPLACEMENT_OF[match.lastgroup], text)
        text = text.replace("\n", " ").replace("\t", " ")
        if "matrix" not in text:
            text = l2s.command_slash_fix_regex.sub(r"\\", text)
    if config.equations and "," not in text and ";" not in text:
        parts = l2s.equation_split_regex.split(text)
        if len(parts) > 2:  # a = b = c: keep the last side
            text = parts[-1]
    if config.units:
        stripped = l2s.unit_superscript_regex.sub("", text).strip()
        if stripped and stripped != text:
            text = stripped
        for _ in range(2):
            stripped = _UNIT_WORDS.sub(r"\1\2", text)
            if stripped and stripped != text:
                text = stripped
        text = _EMPTY_TEXT.sub(" ", text)
    if config.nits:
        if text[:1] == ".":
            text = "0" + text
        if text == "0.5":
            text = "\\frac{1}{2}"
    if config.malformed_operators:
        text = l2s._fix_malformed_operators(text)
        text = l2s._fix_sqrt(text)
        text = l2s._fix_fracs(text)
        text = l2s._fix_a_slash_b(text)
    return text.strip()
