"""A seeded corpus of realistic completions with golds, for grading them twice (lighteval's own
code and ours) in run_lighteval_diff.sh.

Each row is one (completion, gold) pair of one of the paper's benchmark kinds:

- ``aime`` and ``amc``: bare number golds graded with ``expr_gold_metric`` (``gold_format`` expr);
- ``math_500`` and ``minerva``: worked-solution golds ending in a ``\\boxed`` answer, graded with
  ``latex_gold_metric`` (``gold_format`` latex); Minerva's are physics-style (units,
  scientific notation, answers outside the box, a few golds that parse only as text);
- ``gpqa``: letter golds graded with ``gpqa_metric``.

Completions are R1-style: reasoning with inline maths (numbers, fractions, equations, a stray
``\\boxed`` now and then), ``</think>``, then an answer in one of many forms: the prompt's own
last line ("Therefore, the final answer is: $\\boxed{...}$. I hope it is correct"), a boxed
answer at the end or in the middle, two boxes, no box at all, units and text, equivalent forms of
the gold (fractions and decimals, ``\\dfrac``, roots, intervals, tuples, percentages, degrees,
thousands separators) or wrong ones; a few are truncated mid-sentence or empty. GPQA completions
state their letter in the forms models use (``Answer: C``, ``**Answer:** (C)``, ``\\boxed{C}``,
"the correct answer is C", a bare letter) or not at all, with capitals A-D in the reasoning.

``form`` names how a row was built (its answer section), so a disagreement can be traced back.

    python tests/lighteval/corpus.py OUT.jsonl [--n 6000] [--seed 20250226]
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass

FORMAT_LINE = "Therefore, the final answer is: $\\boxed{{{answer}}}$. I hope it is correct"

# Share of each benchmark kind in the corpus.
KINDS = {"aime": 0.16, "amc": 0.12, "math_500": 0.3, "minerva": 0.2, "gpqa": 0.22}
GOLD_FORMAT = {"aime": "expr", "amc": "expr", "math_500": "latex", "minerva": "latex"}


@dataclass(frozen=True)
class Answer:
    """A gold answer in LaTeX, forms a model may write that mean the same, and near misses."""

    gold: str
    same: tuple[str, ...]
    wrong: tuple[str, ...]


def _number_forms(rng: random.Random, n: int) -> tuple[list[str], list[str]]:
    """Ways to write the integer ``n`` (AIME/AMC answers) and near misses."""
    same = [str(n), str(n), str(n), f"{n}.0", f"0{n}" if n < 100 else str(n)]
    same += [f"{n}^\\circ", f"{n} \\text{{ cm}}", f"\\${n}", f"{n}\\%", f"\\text{{{n}}}"]
    same += [f"\\dfrac{{{2 * n}}}{{2}}", f"{n} degrees", f"{n}\\text{{ units}}"]
    if n >= 1000:
        same += [f"{n:,}", f"{n // 1000}\\,{n % 1000:03d}", f"{n // 1000}{{,}}{n % 1000:03d}"]
    wrong = [str(n + rng.choice([-2, -1, 1, 2, 10])), str(n * 2), f"{n + 1}.5", f"-{n}"]
    return same, wrong


def _math_answers(rng: random.Random) -> list[Answer]:
    """MATH-500-style answers: every form the benchmark's golds take."""
    a, b = rng.randint(2, 9), rng.randint(11, 29)
    p, q = rng.randint(1, 8), rng.randint(9, 13)
    r = rng.choice([2, 3, 5, 6, 7])
    k = rng.randint(2, 6)
    x0, y0 = rng.randint(-9, 9), rng.randint(-9, 9)
    dec = round(p / q, 5)
    return [
        Answer(
            str(b),
            (str(b), f"{b}.0", f"\\text{{{b}}}", f"x = {b}", f"{b}.00"),
            (str(b + 1), str(-b), f"{b}.5"),
        ),
        Answer(
            f"\\frac{{{p}}}{{{q}}}",
            (
                f"\\frac{{{p}}}{{{q}}}",
                f"\\dfrac{{{p}}}{{{q}}}",
                f"{p}/{q}",
                f"\\tfrac{{{p}}}{{{q}}}",
                f"{dec}",
                f"\\frac{{{2 * p}}}{{{2 * q}}}",
                f"{p} / {q}",
            ),
            (f"\\frac{{{q}}}{{{p}}}", f"{round(dec, 2)}", f"\\frac{{{p + 1}}}{{{q}}}"),
        ),
        Answer(
            f"-\\frac{{{p}}}{{{q}}}",
            (f"-\\frac{{{p}}}{{{q}}}", f"\\frac{{-{p}}}{{{q}}}", f"-{p}/{q}", f"-{dec}"),
            (f"\\frac{{{p}}}{{{q}}}", f"-\\frac{{{q}}}{{{p}}}"),
        ),
        Answer(
            f"{k}\\sqrt{{{r}}}",
            (
                f"{k}\\sqrt{{{r}}}",
                f"\\sqrt{{{k * k * r}}}",
                f"{k} \\sqrt {r}",
                f"{k}\\sqrt{r}",
                f"{round(k * r**0.5, 4)}",
            ),
            (f"{k + 1}\\sqrt{{{r}}}", f"\\sqrt{{{k * r}}}"),
        ),
        Answer(
            f"\\frac{{\\sqrt{{{r}}}}}{{{k}}}",
            (
                f"\\frac{{\\sqrt{{{r}}}}}{{{k}}}",
                f"\\frac{{1}}{{{k}}}\\sqrt{{{r}}}",
                f"\\dfrac{{\\sqrt {r}}}{{{k}}}",
                f"\\sqrt{{{r}}}/{k}",
            ),
            (f"\\frac{{\\sqrt{{{r}}}}}{{{k + 1}}}", f"\\frac{{{k}}}{{\\sqrt{{{r}}}}}"),
        ),
        Answer(
            f"\\frac{{{k}\\pi}}{{{r}}}",
            (
                f"\\frac{{{k}\\pi}}{{{r}}}",
                f"\\frac{{{k}}}{{{r}}}\\pi",
                f"{k}\\pi/{r}",
                f"\\dfrac{{{k} \\pi}}{{{r}}}",
            ),
            (f"\\frac{{{k}\\pi}}{{{r + 1}}}", f"{round(k * 3.14159 / r, 3)}"),
        ),
        Answer(
            f"(-\\infty, {a}]",
            (
                f"(-\\infty, {a}]",
                f"(-\\infty,{a}]",
                f"\\left(-\\infty, {a}\\right]",
                f"x \\le {a}",
                f"(-\\infty, {a}.0]",
            ),
            (f"(-\\infty, {a})", f"[{a}, \\infty)", f"(-\\infty, {a + 1}]"),
        ),
        Answer(
            f"[{a}, {b})",
            (f"[{a}, {b})", f"[{a},{b})", f"\\left[{a}, {b}\\right)", f"{a} \\le x < {b}"),
            (f"({a}, {b})", f"[{a}, {b}]"),
        ),
        Answer(
            f"({x0}, {y0})",
            (f"({x0}, {y0})", f"({x0},{y0})", f"\\left({x0}, {y0}\\right)", f"x={x0}, y={y0}"),
            (f"({y0}, {x0})" if x0 != y0 else f"({x0}, {y0 + 1})", f"({x0}, {-y0 - 1})"),
        ),
        Answer(
            f"{a}, {b}",
            (f"{a}, {b}", f"{b}, {a}", f"{a},{b}", f"\\{{{a}, {b}\\}}", f"{a} \\text{{ and }} {b}"),
            (f"{a}", f"{a}, {b + 1}"),
        ),
        Answer(
            f"{k * 10}^\\circ",
            (
                f"{k * 10}^\\circ",
                f"{k * 10}",
                f"{k * 10}^{{\\circ}}",
                f"{k * 10} degrees",
                f"{k * 10}\\text{{ degrees}}",
            ),
            (f"{k * 10 + 10}^\\circ", f"\\frac{{\\pi}}{{{18 // k if 18 % k == 0 else 3}}}"),
        ),
        Answer(
            f"{b}\\%",
            (f"{b}\\%", f"{b}", f"{b / 100}", f"{b} percent", f"{b}\\text{{ percent}}"),
            (f"{b + 1}\\%", f"{b / 10}"),
        ),
        Answer(
            f"\\${a}.{b}",
            (f"\\${a}.{b}", f"{a}.{b}", f"\\$ {a}.{b}", f"{a}.{b} \\text{{ dollars}}"),
            (f"\\${a}.{b + 1}", f"{a}{b}"),
        ),
        Answer(
            f"y = {a}x + {b}",
            (f"y = {a}x + {b}", f"y={b}+{a}x", f"{a}x + {b}", f"y = {a}x+{b}"),
            (f"y = {a}x - {b}", f"y = {b}x + {a}"),
        ),
        Answer(
            f"x^2 + {2 * a}x + {a * a}",
            (f"x^2 + {2 * a}x + {a * a}", f"(x+{a})^2", f"x^{{2}}+{2 * a}x+{a * a}"),
            (f"(x-{a})^2", f"x^2 + {a}x + {a * a}"),
        ),
        Answer(
            f"\\begin{{pmatrix}} {x0} \\\\ {y0} \\end{{pmatrix}}",
            (
                f"\\begin{{pmatrix}} {x0} \\\\ {y0} \\end{{pmatrix}}",
                f"\\begin{{pmatrix}}{x0}\\\\{y0}\\end{{pmatrix}}",
                f"({x0}, {y0})",
            ),
            (f"\\begin{{pmatrix}} {y0 + 1} \\\\ {x0} \\end{{pmatrix}}",),
        ),
        Answer(
            f"\\text{{{rng.choice(['Friday', 'even', 'odd', 'Tuesday', 'no'])}}}",
            (),
            ("\\text{Monday}", "\\text{yes}"),
        ),
        Answer(f"\\text{{({rng.choice('ABCDE')})}}", (), ("\\text{(E)}", "(A)")),
        Answer(
            f"{a}{b % 10}_{{{r if r < 10 else 8}}}",
            (f"{a}{b % 10}_{{{r if r < 10 else 8}}}", f"{a}{b % 10}_{r if r < 10 else 8}"),
            (f"{a}{b % 10}",),
        ),
        Answer(f"{a} + {k}i", (f"{a} + {k}i", f"{k}i + {a}", f"{a}+{k}i"), (f"{a} - {k}i",)),
        Answer(
            f"{a}\\sqrt{{{r}}} - {k}",
            (f"{a}\\sqrt{{{r}}} - {k}", f"-{k} + {a}\\sqrt{{{r}}}"),
            (f"{a}\\sqrt{{{r}}} + {k}",),
        ),
        Answer(
            f"{b * 1000 + 25}",
            (f"{b * 1000 + 25}", f"{b},025", f"{b}\\,025", f"{b}{{,}}025"),
            (f"{b * 100 + 25}",),
        ),
        Answer("\\infty", ("\\infty", "+\\infty", "\\text{infinity}"), ("0", "-\\infty")),
        Answer(
            f"{a} \\pm \\sqrt{{{r}}}",
            (
                f"{a} \\pm \\sqrt{{{r}}}",
                f"{a} + \\sqrt{{{r}}}, {a} - \\sqrt{{{r}}}",
                f"{a}\\pm\\sqrt{r}",
            ),
            (f"{a} + \\sqrt{{{r}}}",),
        ),
        Answer(
            f"{a} < x < {b}",
            (f"{a} < x < {b}", f"({a}, {b})", f"x \\in ({a}, {b})"),
            (f"{a} \\le x \\le {b}",),
        ),
        Answer(
            f"(-\\infty, {x0}) \\cup ({a}, \\infty)",
            (f"(-\\infty, {x0}) \\cup ({a}, \\infty)", f"(-\\infty,{x0})\\cup({a},\\infty)"),
            (f"({x0}, {a})",),
        ),
        Answer(
            f"\\left( {k}, \\frac{{\\pi}}{{{r}}} \\right)",
            (f"\\left( {k}, \\frac{{\\pi}}{{{r}}} \\right)", f"({k}, \\pi/{r})"),
            (f"({k}, \\pi)",),
        ),
        Answer(
            f"\\binom{{{b}}}{{{k}}}",
            (f"\\binom{{{b}}}{{{k}}}", f"\\dbinom{{{b}}}{{{k}}}"),
            (f"\\binom{{{b}}}{{{k + 1}}}",),
        ),
        Answer(f"{a}^{{{k}}}", (f"{a}^{{{k}}}", f"{a}^{k}", str(a**k)), (f"{a}^{{{k + 1}}}",)),
        Answer(f"\\log_{{{r}}} {b}", (f"\\log_{{{r}}} {b}", f"\\log_{r}{{{b}}}"), (f"\\log {b}",)),
        Answer(f"{p}:{q}", (f"{p}:{q}", f"{p} : {q}", f"\\frac{{{p}}}{{{q}}}"), (f"{q}:{p}",)),
        Answer(f"0,{a}", (f"0,{a}", f"{a},0", f"0, {a}"), (f"0.{a}",)),
        Answer(
            f"\\sin {k * 10}^\\circ",
            (f"\\sin {k * 10}^\\circ", f"\\sin({k * 10}^\\circ)"),
            (f"\\cos {k * 10}^\\circ",),
        ),
        Answer(
            f"{a}\\text{{ inches}}",
            (f"{a}", f"{a}\\text{{ inches}}", f"{a} inches", f"{a}''"),
            (f"{a + 1}",),
        ),
        Answer(
            f"\\text{{{rng.choice(['Evelyn', 'Devon', 'Annie'])}}}",
            ("\\text{Evelyn}", "Evelyn", "\\textbf{Evelyn}"),
            ("\\text{Bob}",),
        ),
        Answer(f"-{a} + {k}i", (f"-{a} + {k}i", f"{k}i - {a}", f"-{a}+{k}i"), (f"{a} + {k}i",)),
        Answer(
            f"\\frac{{{a}}}{{{b}}}\\%",
            (f"\\frac{{{a}}}{{{b}}}\\%", f"{round(a / b, 4)}\\%"),
            (f"\\frac{{{a}}}{{{b}}}",),
        ),
        Answer(
            f"{a}\\sqrt{{{r}}}\\text{{ cm}}^2",
            (f"{a}\\sqrt{{{r}}}", f"{a}\\sqrt{{{r}}} \\text{{ cm}}^2"),
            (f"{a}",),
        ),
        Answer(
            f"x^{{{k}}} - {a}", (f"x^{{{k}}} - {a}", f"-{a} + x^{k}", f"x^{k}-{a}"), (f"x^{k}+{a}",)
        ),
        Answer(f"f(x) = {a}x", (f"f(x) = {a}x", f"{a}x", f"f(x)={a}x"), (f"{a}",)),
        Answer("\\emptyset", ("\\emptyset", "\\varnothing", "\\{\\}"), ("0",)),
    ]


def _minerva_answers(rng: random.Random) -> list[Answer]:
    """Minerva-style answers: decimals, scientific notation, units, a few text-only golds."""
    m = rng.randint(11, 99) / 10
    e = rng.randint(2, 12)
    v = rng.randint(100, 9000)
    c = round(rng.uniform(0.1, 9.9), 2)
    return [
        Answer(
            f"{m}e-{e}",
            (f"{m}e-{e}", f"{m} \\times 10^{{-{e}}}", f"{m}\\times10^{{-{e}}}"),
            (f"{m}e-{e + 1}", f"{m}e{e}"),
        ),
        Answer(
            f"{m} \\times 10^{{{e}}}",
            (f"{m} \\times 10^{{{e}}}", f"{m}e{e}", f"{m}e+{e}"),
            (f"{m} \\times 10^{{{e + 1}}}",),
        ),
        Answer(
            f"{c}",
            (f"{c}", f"{c} \\mathrm{{~m}}", f"{c} \\text{{ s}}", f"{c}0"),
            (f"{round(c + 0.1, 2)}", f"{round(c * 10, 1)}"),
        ),
        Answer(
            str(v),
            (str(v), f"{v} \\mathrm{{~K}}", f"{v}\\,\\text{{K}}", f"{v}.0", f"{v:,}"),
            (str(v + 1), str(v * 10)),
        ),
        Answer(f"-{c}", (f"-{c}", f"-{c} \\mathrm{{eV}}", f"- {c}"), (f"{c}",)),
        Answer(
            f"\\frac{{{e}}}{{{e + 1}}}",
            (f"\\frac{{{e}}}{{{e + 1}}}", f"{round(e / (e + 1), 5)}", f"{e}/{e + 1}"),
            (f"\\frac{{{e + 1}}}{{{e}}}",),
        ),
        Answer(f"{c} \\mathrm{{~Hz}}", (f"{c}", f"{c} \\mathrm{{~Hz}}", f"{c} Hz"), (f"{c + 1}",)),
        # golds that lighteval's latex extraction keeps only as text (Minerva ids 27, 38, 268, 269)
        Answer("-1./3", ("-1./3", "-\\frac{1}{3}", "-0.333"), ("1./3",)),
        Answer("1.5\\text{ or }2", ("1.5\\text{ or }2", "1.5, 2"), ("1.5",)),
        Answer(
            f"\\frac{{\\hbar^2}}{{{e} m}}",
            (f"\\frac{{\\hbar^2}}{{{e} m}}", f"\\hbar^2/({e}m)"),
            (f"\\frac{{\\hbar}}{{{e} m}}",),
        ),
        Answer(
            f"{m} \\times 10^{{-{e}}} \\mathrm{{~m}}",
            (f"{m} \\times 10^{{-{e}}}", f"{m}e-{e}", f"{m} \\times 10^{{-{e}}} \\mathrm{{~m}}"),
            (f"{m} \\times 10^{{{e}}}",),
        ),
        Answer(
            "\\frac{3}{2} k T",
            ("\\frac{3}{2} k T", "1.5kT", "\\frac{3kT}{2}"),
            ("k T", "\\frac{1}{2} k T"),
        ),
        Answer(
            f"{v} \\AA",
            (f"{v}", f"{v} \\AA", f"{v} \\text{{\\AA}}", f"{v} Angstroms"),
            (f"{v + 10}",),
        ),
        Answer(
            f"\\omega_{{0}} / {e}",
            (f"\\omega_0 / {e}", f"\\frac{{\\omega_0}}{{{e}}}"),
            ("\\omega_0",),
        ),
        Answer(f"{c}\\%", (f"{c}\\%", f"{c}", f"{round(c / 100, 4)}"), (f"{c + 1}\\%",)),
        Answer(f"{m}e{e}", (f"{m}e{e}", f"{m}E{e}", f"{m} \\cdot 10^{{{e}}}"), (f"{m}e{e - 1}",)),
    ]


REASONING = [
    "Let me denote the unknown by $x$ and write $x^2 + {a}x - {b} = 0$.",
    "Hmm, wait. If $a = {a}$ then $a^2 = {a2}$, which is not what we want.",
    "So the discriminant is $\\Delta = {a}^2 + 4 \\cdot {b} = {d}$.",
    "Alternatively, maybe I should try $\\frac{{{a}}}{{{b}}}$ and simplify.",
    "Let me double-check: {a} times {b} is {ab}, right? Yes, {ab}.",
    "Now consider the triangle with sides {a}, {b} and hypotenuse $\\sqrt{{{d}}}$.",
    "I think the sum $\\sum_{{k=1}}^{{{a}}} k = {tri}$ is relevant here.",
    "Wait, that can't be right. The area is $\\frac{{1}}{{2}} \\cdot {a} \\cdot {b}$.",
    "So, moving on, the probability is the ratio of favourable to total outcomes.",
    "Okay, so the equation becomes ${a}y = {ab}$, giving $y = {b}$.",
    "First, {a} + {b} = {s}. Then multiply by 2 to get {s2}.",
    "\\[ {a}^2 + {b}^2 = {sq} \\]",
    "That gives \\( x = \\dfrac{{{b}}}{{{a}}} \\approx {ratio} \\).",
    "So is it {b}? Let me verify with a small case, say n = {a}.",
    "The interval is $({a}, {b})$, and the endpoints are excluded.",
    "Maybe the answer is \\boxed{{{b}}}? No, I made an arithmetic mistake.",
    "Converting, {a}% of {b} is {pct}.",
    "In units, that is {a} cm by {b} cm, so {ab} cm^2.",
    "The answer: probably {s}, but let me continue.",
    "Therefore the value is {ab}. Hmm, let me re-read the problem statement.",
]


# A worked solution states no answer before its final box.
SOLUTION_STEPS = [s for s in REASONING if "boxed" not in s and "answer" not in s]


def sentence(rng: random.Random, bank: list[str] = REASONING) -> str:
    """One sentence of ``bank`` with random numbers (tests/bench/bench_grading.py uses it too)."""
    a, b = rng.randint(2, 40), rng.randint(2, 40)
    return rng.choice(bank).format(
        a=a,
        b=b,
        a2=a * a,
        ab=a * b,
        d=a * a + 4 * b,
        tri=a * (a + 1) // 2,
        s=a + b,
        s2=2 * (a + b),
        sq=a * a + b * b,
        ratio=round(b / a, 3),
        pct=a * b / 100,
    )


def _reasoning(rng: random.Random, sentences: int, bank: list[str] = REASONING) -> str:
    parts = [sentence(rng, bank) for _ in range(sentences)]
    joiner = rng.choice([" ", "\n", "\n\n"])
    return joiner.join(parts)


def _math_completion(rng: random.Random, said: str, other: str) -> tuple[str, str]:
    """(form, completion) for a math problem whose stated answer is ``said``; ``other`` is a second
    (wrong) answer some forms also state."""
    think = ("<think>\n" if rng.random() < 0.3 else "") + _reasoning(rng, rng.randint(2, 12))
    close = "\n</think>\n\n"
    summary = _reasoning(rng, rng.randint(0, 2))
    forms = {
        "format_line": lambda: FORMAT_LINE.format(answer=said),
        "format_line_period": lambda: FORMAT_LINE.format(answer=said) + ".",
        "final_answer_display": lambda: f"**Final Answer**\n\\[\n\\boxed{{{said}}}\n\\]",
        "final_answer_inline": lambda: f"**Final Answer**\nThe answer is $\\boxed{{{said}}}$.",
        "boxed_end": lambda: f"So the answer is $\\boxed{{{said}}}$",
        "boxed_bare": lambda: f"\\boxed{{{said}}}",
        "boxed_middle": lambda: f"We find $\\boxed{{{said}}}$. To verify, {_reasoning(rng, 2)}",
        "two_boxes": lambda: f"The answers are $\\boxed{{{other}}}$ and $\\boxed{{{said}}}$.",
        "boxed_then_format": lambda: (
            f"$\\boxed{{{other}}}$ was a guess.\n\n" + FORMAT_LINE.format(answer=said)
        ),
        "unboxed_is": lambda: f"The final answer is {said}.",
        "unboxed_dollar": lambda: f"The answer is ${said}$.",
        "answer_colon": lambda: f"Answer: {said}",
        "display_math": lambda: f"So\n\\[\n{said}\n\\]",
        "final_answer_is_hope": lambda: f"The final answer is ${said}$. I hope it is correct.",
        "display_dollars_boxed": lambda: f"$$\\boxed{{{said}}}$$",
        "paren_boxed": lambda: f"The answer is \\(\\boxed{{{said}}}\\).",
        "bold_answer": lambda: f"**Answer:** ${said}$",
        "answer_is_paren": lambda: f"So the answer is \\( {said} \\).",
        "boxed_unclosed": lambda: f"Final: $\\boxed{{{said}",
    }
    weights = {
        "format_line": 30, "format_line_period": 6, "final_answer_display": 10,
        "final_answer_inline": 5, "boxed_end": 6, "boxed_bare": 3, "boxed_middle": 4,
        "two_boxes": 3, "boxed_then_format": 3, "unboxed_is": 4, "unboxed_dollar": 3,
        "answer_colon": 3, "display_math": 2, "final_answer_is_hope": 3,
        "display_dollars_boxed": 2, "paren_boxed": 2, "bold_answer": 2, "answer_is_paren": 2,
        "boxed_unclosed": 1,
    }  # fmt: skip
    roll = rng.random()
    if roll < 0.04:
        return "empty", ""
    if roll < 0.10:  # stopped by the token limit: no </think>, sometimes inside a box
        text = think + close + forms["format_line"]()
        return "truncated", text[: rng.randint(1, len(text) - 1)]
    if roll < 0.14:  # the thinking ends without an answer section
        return "think_only", think + close.rstrip()
    form = rng.choices(list(weights), weights=list(weights.values()))[0]
    return form, think + close + (summary + "\n\n" if summary else "") + forms[form]()


def _gold_solution(rng: random.Random, answer: str, minerva: bool) -> str:
    """A worked solution ending in its boxed answer, as MATH-500 and Minerva write them."""
    steps = _reasoning(rng, rng.randint(1, 4), SOLUTION_STEPS)
    if minerva:
        endings = [
            f"Therefore, the answer is $\\boxed{{{answer}}}$.",
            f"Thus $v = \\boxed{{{answer}}}$ m/s.",
            f"The final value is \\boxed{{{answer}}} \\mathrm{{~K}}.",
            f"$\\lambda=\\boxed{{{answer}}}$",
        ]
    else:
        endings = [
            f"So the answer is $\\boxed{{{answer}}}$.",
            f"Therefore, $x = \\boxed{{{answer}}}$.",
            f"The answer is $\\boxed{{{answer}}}.$",
            f"\\[\\boxed{{{answer}}}\\]",
        ]
    return f"{steps} {rng.choice(endings)}"


def _math_row(rng: random.Random, kind: str) -> dict:
    if kind in ("aime", "amc"):
        n = (
            rng.randint(0, 999)
            if kind == "aime"
            else rng.choice([rng.randint(1, 200), 1000 + rng.randint(0, 9000)])
        )
        same, wrong = _number_forms(rng, n)
        gold = str(n) if rng.random() < 0.9 or kind == "aime" else f"{n}.0"
    else:
        answers = _math_answers(rng) if kind == "math_500" else _minerva_answers(rng)
        answer = rng.choice(answers)
        same = list(answer.same) or [answer.gold]
        wrong = list(answer.wrong)
        gold = _gold_solution(rng, answer.gold, kind == "minerva")
    said = rng.choice(same) if rng.random() < 0.55 else rng.choice(wrong)
    other = rng.choice(wrong)
    form, completion = _math_completion(rng, said, other)
    return {"task": "math", "gold": gold, "gold_format": GOLD_FORMAT[kind], "form": form,
            "completion": completion}  # fmt: skip


GPQA_REASONING = [
    "Option A says the reaction is exothermic, which contradicts the data.",
    "Let me reconsider B: the spin-orbit coupling would split the level.",
    "Because the DNA strand is antiparallel, C cannot be right.",
    "Hmm, D looks plausible since the energy is E = hf.",
    "The answer might be (B), but let me check the units: J/mol.",
    "So among A, B, C and D, two are ruled out.",
    "I think the correct choice is C... wait, no.",
    "The product is a ketone; the NMR shows a singlet at 2.1 ppm.",
    "Using the Doppler formula, v = c(1 - 1/1.5) = 0.33c.",
]


def _gpqa_row(rng: random.Random) -> dict:
    gold = rng.choice("ABCD")
    letter = gold if rng.random() < 0.45 else rng.choice("ABCD")
    other = rng.choice("ABCD")
    think = "\n".join(rng.choice(GPQA_REASONING) for _ in range(rng.randint(1, 6)))
    forms = {
        "answer_colon": f"Answer: {letter}",
        "answer_colon_dollar": f"Answer: ${letter}$",
        "answer_dollar_literal": f"Answer: ${letter}",
        "bold_answer": f"**Answer:** ({letter})",
        "bold_answer_letter": f"**Answer: {letter}**",
        "boxed": f"\\[\n\\boxed{{{letter}}}\n\\]",
        "boxed_text": f"$\\boxed{{\\text{{{letter}}}}}$",
        "correct_is": f"The correct answer is {letter}.",
        "option_is": f"Therefore, the answer is option {letter}.",
        "final_is_hope": f"The final answer is {letter}. I hope it is correct.",
        "bare_letter": f"{letter}",
        "paren_letter": f"({letter})",
        "two_letters": f"Answer: {other}\nOn reflection, Answer: {letter}",
        "letter_then_text": f"{letter}. Because {other} is not valid",
        "no_letter": "I cannot decide between the options.",
    }
    weights = {
        "answer_colon": 25, "answer_colon_dollar": 6, "answer_dollar_literal": 4, "bold_answer": 8,
        "bold_answer_letter": 6, "boxed": 10, "boxed_text": 4, "correct_is": 8, "option_is": 4,
        "final_is_hope": 4, "bare_letter": 3, "paren_letter": 3, "two_letters": 3,
        "letter_then_text": 3, "no_letter": 3,
    }  # fmt: skip
    roll = rng.random()
    if roll < 0.04:
        form, completion = "empty", ""
    elif roll < 0.10:
        text = think + "\n</think>\n\nAnswer: " + letter
        form, completion = "truncated", text[: rng.randint(1, len(text) - 1)]
    else:
        form = rng.choices(list(weights), weights=list(weights.values()))[0]
        completion = think + "\n</think>\n\n" + forms[form]
    return {"task": "gpqa", "gold": gold, "gold_format": None, "form": form,
            "completion": completion}  # fmt: skip


def generate(n: int, seed: int) -> list[dict]:
    """``n`` rows, the same for the same ``n`` and ``seed`` (Python's ``random`` only)."""
    rng = random.Random(seed)
    rows = []
    for index in range(n):
        kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        row = _gpqa_row(rng) if kind == "gpqa" else _math_row(rng, kind)
        rows.append({"id": f"corpus-{index}", "benchmark": kind, **row})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output")
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=20250226)
    args = parser.parse_args()
    with open(args.output, "w", encoding="utf-8") as out:
        for row in generate(args.n, args.seed):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
