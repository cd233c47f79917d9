"""Synthetic R1-style completions for the grading benchmarks (bench_grading, bench_grading_pool):
1-3 KB of reasoning with inline maths, ``</think>``, a short summary and a ``\\boxed`` answer in an
equivalent but different form; about 30% are wrong. The reasoning is the differential corpus's."""

import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lighteval_diff"))

import corpus  # noqa: E402


def random_reasoning(rng: random.Random, target_chars: int) -> str:
    """Sentences of worked maths (the differential corpus's, no answer stated) up to a length."""
    parts, size = [], 0
    while size < target_chars:
        parts.append(corpus.sentence(rng, corpus.SOLUTION_STEPS))
        size += len(parts[-1]) + 1
    return " ".join(parts)


def random_problem(rng: random.Random) -> tuple[str, str, str, str]:
    """(gold answer LaTeX, gold format, equivalent prediction, wrong prediction)."""
    kind = rng.randrange(9)
    a, b = rng.randint(1, 97), rng.randint(2, 60)
    if kind == 0:
        g = math.gcd(a, b)
        p, q = a // g, b // g
        return (
            f"\\frac{{{p}}}{{{q}}}",
            "latex",
            f"\\dfrac{{{2 * p}}}{{{2 * q}}}",
            f"\\frac{{{p + 1}}}{{{q}}}",
        )
    if kind == 1:
        m = rng.choice([2, 3, 5, 6, 7, 10, 11])
        return f"{b}\\sqrt{{{m}}}", "latex", f"\\sqrt{{{b * b * m}}}", f"{b}\\sqrt{{{m + 1}}}"
    if kind == 2:
        return (
            f"\\frac{{{a}\\pi}}{{{b}}}",
            "latex",
            f"\\frac{{{a}}}{{{b}}}\\pi",
            f"\\frac{{{a}}}{{{b + 1}}}\\pi",
        )
    if kind == 3:
        return f"(-\\infty, {a}]", "latex", f"\\left( -\\infty, {a} \\right]", f"(-\\infty, {a})"
    if kind == 4:
        return f"x = {a}", "latex", f"{a}", f"{a + 1}"
    if kind == 5:
        return f"\\{{{a}, {b}, {a + b}\\}}", "latex", f"{a + b}, {a}, {b}", f"{a}, {b}"
    if kind == 6:
        return f"x^2 + {a}x + {b}", "latex", f"{b} + {a}x + x^{{2}}", f"x^2 + {a}x - {b}"
    if kind == 7:
        return f"{a}.{b:02d}", "latex", f"{a}.{b:02d}0", f"{a}.{b + 1:02d}"
    value = rng.randint(0, 999)
    return str(value), "expr", str(value), str((value + 1) % 1000)


def make_items(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    items = []
    for _ in range(n):
        gold_answer, gold_format, right, wrong = random_problem(rng)
        is_right = rng.random() >= 0.3
        gold = gold_answer
        if gold_format == "latex":  # MATH-style: a short solution ending in the boxed answer
            gold = (
                f"{random_reasoning(rng, 300)} Therefore the answer is $\\boxed{{{gold_answer}}}$."
            )
        summary = random_reasoning(rng, rng.randint(150, 400))
        completion = (
            f"{random_reasoning(rng, rng.randint(1000, 3000))}\n</think>\n\n{summary}\n\n"
            f"**Final Answer**\n\\[\n\\boxed{{{right if is_right else wrong}}}\n\\]"
        )
        items.append(
            {
                "completion": completion,
                "gold": gold,
                "task": "math",
                "gold_format": gold_format,
                "expected": is_right,
            }
        )
    return items
