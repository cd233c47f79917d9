"""GPQA answer-letter extraction, reproducing lighteval's ``gpqa_metric`` (English, NativeLetters).

Tina (Wang et al., 2025) scored GPQA-Diamond with lighteval at commit
``ed084813e0bd12d82a06d9f913291fdbee774905`` (2025-02-26, 11 commits before v0.8.0) using
``multilingual_extractive_match_metric(language=Language.ENGLISH,
gold_extraction_target=[IndicesExtractionConfig(prefix_for_extraction="NativeLetters")],
pred_extraction_target=[IndicesExtractionConfig(prefix_for_extraction="NativeLetters")],
precision=5)`` with the defaults ``extraction_mode="any_match"``, ``fallback_mode="first_match"``
and ``IndicesExtractionConfig.try_extract_without_anchor=True``. lighteval cannot be installed
beside our pins, so this module re-implements that extraction with ``re`` only. (lighteval's
own ``Metrics.gpqa_instruct_metric`` at ed084813 is the same call with precision=6; precision
only matters for numbers, never for letters.)

Sources (all at ed084813):

* ``src/lighteval/metrics/utils/extractive_match_utils.py``: ``lazy_indices_regex`` (L282-337)
  builds the patterns; ``get_extraction_regexes`` (L340-364) pairs them with the target;
  ``extract_match`` (L490-510) returns ``match.group("indices")`` verbatim (no normalization);
  ``extract_target_from_pred`` (L513-582) ranks the matches.
* ``src/lighteval/metrics/dynamic_metrics.py``: ``multilingual_extractive_match_metric`` (L188;
  defaults above); a prediction with nothing extracted scores 0.
* ``src/lighteval/tasks/templates/utils/translation_literals.py``: English ``answer="answer"``,
  ``full_stop="."``, ``comma=","``, ``colon=":"``, ``sentence_space=" "`` and the default
  ``indices=LETTER_INDICES`` (``src/lighteval/tasks/default_prompts.py``: "A".."Z"), cut to the
  4 GPQA choices by ``get_prefix`` (``src/lighteval/tasks/templates/utils/formulation.py``).
* ``src/lighteval/metrics/utils/math_comparison.py``: ``compare_gold_target`` compares two
  strings after ``.strip()``, so grading is ``extract_letter(pred) == gold_letter``.

Selection rule (``extract_target_from_pred``): patterns are grouped by priority, lowest number
first; within the first group with any match, the match with the rightmost end wins (ties: the
leftmost start). An index match always "parses", so the first group with a match decides, and
``extraction_mode`` makes no difference. ``fallback_mode="first_match"`` only appends the same
string again. No match at all gives an empty list, which we return as "".

Letters are case-sensitive (only "A".."D"); only the word "answer" is case-insensitive. The
space around an answer key is the literal " " (not newline or tab; only the "final answer"
patterns use ``\\s``), ``^`` is the start of the whole string and ``$`` the end (or before a
final newline): the patterns are compiled without MULTILINE or DOTALL, so ``.`` does not cross
a newline. With the un-anchored fallbacks on, a bare capital A-D anywhere
(even inside "Because" or "DNA") counts when nothing better matches, the LAST such one winning.

Changes at the release tags that matter for English NativeLetters extraction (the English
literals and LETTER_INDICES are identical at every tag; ``extract_target_from_pred`` and the
"final answer"/"answer" patterns are unchanged except where said):

* v0.8.0, v0.9.0, v0.9.2: none. (v0.8.0 only guards number parsing in ``extract_expr``; v0.9.0
  fixes docstring typos and adds non-English literals; v0.9.2 equals v0.9.0 in these files.)
* v0.10.0: ``indice_str_re`` also accepts a parenthesised letter, ``(?:A|\\(A\\))``, and
  ``extract_indices`` strips the parentheses; ``answer_re_line_start`` (``\\n`` + letter + suffix)
  is added at priority 210; ``answer_prefix_re``'s group becomes non-capturing (no effect).
  E.g. "Answer: (B) ... D" gives "B" there, but "D" here (see the tests). The default
  ``pred_extraction_target`` gains ``LatexExtractionConfig()``, irrelevant as GPQA passes both.
* v0.11.0: ``try_extract_without_anchor`` defaults to False, dropping priorities 250 and 300;
  ``answer_suffix_re`` and the priority-100 pattern accept one whitespace before the colon
  (``\\s?:``). Separately, v0.11.0's CLI strips ``<think>...</think>`` before metrics
  (``--remove-reasoning-tags``, default True); no earlier version does.
"""

import re

LIGHTEVAL_COMMIT = "ed084813e0bd12d82a06d9f913291fdbee774905"

# English translation literals: full_stop/comma/colon/sentence_space. lighteval writes them as
# character classes such as rf"[{re.escape('.')}\.]", which reduce to the single characters below.
_FULL_STOP = r"\."
_COMMA = ","
_COLON = ":"
_SPACE = r"\ "


def _patterns(choices: str, try_extract_without_anchor: bool) -> list[tuple[re.Pattern[str], int]]:
    """(pattern, priority) pairs exactly as ``lazy_indices_regex`` builds them at ed084813."""
    # L289: the letters themselves, as an alternation with a named group.
    idx = f"(?P<indices>{'|'.join(re.escape(c) for c in choices)})"
    # L297-298: a letter counts as an "answer key" when preceded by the string start or a space
    # and followed by . , : space or the end, optionally wrapped in markdown bold (**B**).
    prefix = rf"(^|{_SPACE})(?:\*\*)?"
    suffix = rf"(?:\*\*)?(?:[{_FULL_STOP}]|[{_COMMA}]|[{_COLON}]|{_SPACE}|$)"
    answer_re = f"{prefix}{idx}{suffix}"
    # L300: the same key at the very start of the completion ("A. Because ...").
    answer_re_start = rf"^(?:\*\*)?{idx}{suffix}"
    answer_word = "(?i:answer)"  # L302: translation_literal.answer, case-insensitive
    regexes = [
        # L307: English only; "The final answer is B. I hope it is correct." (the Minerva-style
        # answer sentence). No suffix check after the letter, so "final answer is Because" -> B.
        (rf"(?i:final answer is)\:?\s*{idx}\.?\s?I hope", 0),
        # L309: "final answer ... is B", up to 100 chars between, to allow "final answer to your
        # question is B"; again no suffix check after the letter.
        (rf"(?i:final answer.{{0,100}}?)\s+is\:?\s*{idx}", 50),
        # L320: "answer:" then, within 50 chars on the same line, the first answer key.
        (f"{answer_word}[{_COLON}].{{0,50}}?{answer_re}", 100),
        # L322: "answer" without colon ("the answer is D,"), the lazy gap takes the first key.
        (f"{answer_word}.{{0,50}}?{answer_re}", 150),
        # L324: an answer key at the start of the string.
        (answer_re_start, 200),
    ]
    if try_extract_without_anchor:
        regexes += [
            # L332: an answer key anywhere (" B" at the end, " C." etc.).
            (answer_re, 250),
            # L333: last resort, any occurrence of a capital choice letter, even inside a word.
            (idx, 300),
        ]
    return [(re.compile(p), prio) for p, prio in regexes]


_CACHE: dict[tuple[str, bool], list[tuple[re.Pattern[str], int]]] = {}


def extract_letter(
    text: str, choices: str = "ABCD", *, try_extract_without_anchor: bool = True
) -> str:
    """Return the choice letter lighteval (ed084813, gpqa_metric) extracts from ``text``, or "".

    ``choices`` are the option letters in order (GPQA: "ABCD"). ``try_extract_without_anchor``
    defaults to the Tina-era value True; False drops the two un-anchored fallbacks (lighteval's
    default from 0.11) but keeps ed084813's other patterns, without the 0.10/0.11 changes.
    """
    key = (choices, try_extract_without_anchor)
    if key not in _CACHE:
        _CACHE[key] = _patterns(choices, try_extract_without_anchor)
    # extract_target_from_pred L549-577: priorities ascending; in the first priority with any
    # match take the one with the rightmost end, ties broken by the leftmost start. Each priority
    # holds a single pattern here, but ranking is done exactly as lighteval does it.
    for prio in sorted({prio for _, prio in _CACHE[key]}):
        matches = [m for pat, p in _CACHE[key] if p == prio for m in pat.finditer(text)]
        if matches:
            best = max(matches, key=lambda m: (m.end(), -m.start()))
            return best.group("indices")
    return ""
