"""The demo's task: seeded multi-step arithmetic with R1-style teacher traces.

Three levels with integer answers: L1 ``a±b`` (2-digit), L2 ``a+b×c`` or ``b×c−a``, L3 a two-step
word problem. The teacher writes one line per column fact (``units: 12-8=4``, ``tens: 6-1-3=2``,
``62-38=24``; products as ``7*3=21``), then ``\\n</think>\\nThe answer is $\\boxed{N}$.``. Column
steps are what lets a 0.84 M-parameter model learn 2-digit arithmetic in minutes (one-line sums
are learned far more slowly). The same generator writes the tiny model's tokenizer corpus
(:mod:`~tina_repro.demo.tiny_model`), so the digit-level BPE fits the demo's text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

LEVELS = (1, 2, 3)
BENCHMARK_SEEDS = {1: 1001, 2: 1002, 3: 1003}
BENCHMARK_SIZE = 200
THINK_END = "\n</think>\n"

_NAMES = ("Tom", "Ana", "Lee", "Mia", "Sam", "Ben", "Zoe", "Max")
_CONTAINERS = ("bags", "boxes", "jars", "baskets", "packs", "shelves")
_ITEMS = ("pens", "apples", "marbles", "cards", "books", "coins", "eggs", "stickers")
_COLUMNS = ("units:", "tens:")


def column_steps(a: int, b: int, op: str) -> list[str]:
    """Units/tens column steps for a +/- b (0 <= b <= a < 100 for '-'), as in the demo task."""
    units_a, units_b, tens_a, tens_b = a % 10, b % 10, a // 10, b // 10
    if op == "+":
        carry = (units_a + units_b) // 10
        tens = f"{tens_a}+{tens_b}" + ("+1" if carry else "")
        lines = [f"units: {units_a}+{units_b}={units_a + units_b}"]
        lines.append(f"tens: {tens}={tens_a + tens_b + carry}")
        return [*lines, f"{a}+{b}={a + b}"]
    borrow = units_a < units_b
    top = units_a + 10 * borrow
    tens = f"{tens_a}" + ("-1" if borrow else "") + f"-{tens_b}"
    lines = [f"units: {top}-{units_b}={top - units_b}"]
    lines.append(f"tens: {tens}={tens_a - borrow - tens_b}")
    return [*lines, f"{a}-{b}={a - b}"]


@dataclass(frozen=True)
class Problem:
    """One task instance: its level, the question, the teacher's reasoning lines and the answer."""

    level: int
    question: str
    steps: tuple[str, ...]
    answer: int


def make_problem(rng: random.Random, level: int) -> Problem:
    """Draw one problem of ``level`` (1, 2 or 3) from ``rng``."""
    if level == 1:
        a, b = rng.randint(10, 69), rng.randint(10, 29)
        if rng.random() < 0.5:
            return Problem(1, f"What is ${a}+{b}$?", tuple(column_steps(a, b, "+")), a + b)
        a, b = max(a, b), min(a, b)
        return Problem(1, f"What is ${a}-{b}$?", tuple(column_steps(a, b, "-")), a - b)
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; the demo task has levels {LEVELS}")
    b, c = rng.randint(2, 9), rng.randint(2, 9)
    product = f"{b}*{c}={b * c}"
    if level == 2 and rng.random() < 0.5:
        a = rng.randint(10, 69)
        steps = (product, *column_steps(a, b * c, "+"))
        return Problem(2, f"Compute ${a}+{b}\\times {c}$.", steps, a + b * c)
    if level == 2:
        a = rng.randint(0, b * c)
        steps = (product, *column_steps(b * c, a, "-"))
        return Problem(2, f"Compute ${b}\\times {c}-{a}$.", steps, b * c - a)
    name, box, item = rng.choice(_NAMES), rng.choice(_CONTAINERS), rng.choice(_ITEMS)
    given = rng.randint(0, b * c)
    question = (
        f"{name} has {b} {box} with {c} {item} each and gives away {given} {item}. "
        f"How many {item} are left?"
    )
    return Problem(3, question, (product, *column_steps(b * c, given, "-")), b * c - given)


def benchmark_problems(level: int, n: int = BENCHMARK_SIZE) -> list[Problem]:
    """``n`` distinct problems of one level, drawn with that level's benchmark seed."""
    rng = random.Random(BENCHMARK_SEEDS[level])
    problems: dict[str, Problem] = {}
    for _ in range(1000 * n):
        problem = make_problem(rng, level)
        problems.setdefault(problem.question, problem)
        if len(problems) == n:
            return list(problems.values())
    raise ValueError(f"level {level} has fewer than {n} distinct problems")


def training_problems(n: int, seed: int, exclude: set[str], distinct: bool) -> list[Problem]:
    """``n`` problems of uniformly drawn levels, none of whose question is in ``exclude``.

    ``distinct`` makes every question appear once (a dataset); otherwise repeats are allowed (a
    stream of teacher traces, as long as the warm start needs).
    """
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[Problem] = []
    for _ in range(1000 * n):
        problem = make_problem(rng, rng.choice(LEVELS))
        if problem.question in exclude or (distinct and problem.question in seen):
            continue
        seen.add(problem.question)
        out.append(problem)
        if len(out) == n:
            return out
    raise ValueError(f"cannot draw {n} training problems outside the excluded set")


def teacher_completion(problem: Problem, answered: bool = True) -> str:
    """The teacher's R1-style completion (the text after the ``<think>\\n`` generation prompt)."""
    reasoning = "\n".join(problem.steps)
    if not answered:
        # Checks the last step backwards, closes the thinking and stops: no "\n</think>\n" (what
        # the paper's format reward counts) and no answer after it. The check makes the last
        # number of the text an operand, not the result, so lighteval's whole-completion reading
        # (which falls back to the last number) does not count an unanswered trace as correct.
        return reasoning + "\n" + check_step(problem.steps[-1]) + "\n</think>"
    return reasoning + THINK_END + f"The answer is $\\boxed{{{problem.answer}}}$."


def check_step(step: str) -> str:
    """The inverse of a final ``x+y=z`` or ``x-y=z`` step: ``check: z-y=x`` or ``check: z+y=x``."""
    left, result = step.split("=")
    op = "+" if "+" in left else "-"
    x, y = left.split(op)
    inverse = "-" if op == "+" else "+"
    return f"check: {result}{inverse}{y}={x}"


def worked_solution(problem: Problem) -> str:
    """A MATH-style LaTeX solution ending in ``\\boxed{N}``: the gold of latex-graded benchmarks.

    It states the product and the final sum or difference, leaving out the column facts.
    """
    facts = [s.replace("*", "\\times ") for s in problem.steps if not s.startswith(_COLUMNS)]
    stated = " and ".join(f"${fact}$" for fact in facts)
    return f"We have {stated}, so the answer is $\\boxed{{{problem.answer}}}$."
