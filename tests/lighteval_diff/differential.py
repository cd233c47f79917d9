"""Our grader against lighteval's own code, completion by completion (run_lighteval_diff.sh).

``build`` writes the rows both graders read: the seeded corpus (corpus.py), the hand-written
cases of our unit tests (with the verdict each test expects), and, given a finished demo, every
distinct (completion, gold) its samples hold. ``compare`` grades the rows with our grader
(:func:`tina_repro.eval.grading_pool.grade_rows`, the paper's reading ``correct``), reads
lighteval's verdicts (lighteval_grade.py, run in lighteval's environment), and prints agreement
per source and benchmark kind. It fails (exit 1) when

- a disagreement falls outside the documented classes (:data:`DOCUMENTED_CLASSES`, each listed
  with an example and its reason in docs/paper.md#grading);
- any disagreement touches a completion whose last line follows the prompt's own answer format
  (:func:`follows_answer_format`): no documented class may;
- a unit test expects a verdict lighteval does not give.

    python differential.py build ROWS.jsonl [--demo DEMO_DIR] [--n 6000] [--seed 20250226]
    python differential.py compare ROWS.jsonl LIGHTEVAL.jsonl [--processes 2] [--timeout-s 5]
        [--json SUMMARY.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
sys.path[:0] = [str(HERE), str(TESTS)]

import corpus  # noqa: E402
import helpers  # noqa: E402, F401 (puts this checkout's scripts/ on sys.path)

# The answer lines the benchmark prompts ask for (config/config.yaml, prompt_templates).
_MATH_FORMAT = re.compile(
    r"^Therefore, the final answer is: \$\\boxed\{.+\}\$\. I hope it is correct\.?$"
)
_GPQA_FORMAT = re.compile(r"^Answer: \$?[ABCD]\$?$")


def follows_answer_format(completion: str, task: str) -> bool:
    """The completion's last non-empty line is the prompt's own answer line (math:
    "Therefore, the final answer is: $\\boxed{...}$. I hope it is correct"; GPQA:
    "Answer: $LETTER")."""
    lines = [line.strip() for line in completion.splitlines() if line.strip()]
    pattern = _GPQA_FORMAT if task == "gpqa" else _MATH_FORMAT
    return bool(lines) and bool(pattern.match(lines[-1]))


@dataclass(frozen=True)
class DisagreementClass:
    """A documented reason why our verdict may differ from lighteval's (docs/paper.md#grading
    names it, with an example)."""

    name: str
    reason: str
    applies: Callable[[dict], bool]


def _ran_out_of_time(row: dict) -> bool:
    return bool(row["ours"]["timeout"]) or row["lighteval"]["seconds"] >= row["timeout_s"]


DOCUMENTED_CLASSES = (
    DisagreementClass(
        "time_budget",
        "a parse or comparison ran out of its time budget on one side only: how long a step "
        "takes depends on the machine and its load, for lighteval as for us",
        _ran_out_of_time,
    ),
)


def classify(row: dict, classes=DOCUMENTED_CLASSES) -> str | None:
    """The name of the first class that explains a disagreement, or None."""
    return next((c.name for c in classes if c.applies(row)), None)


def failures(rows: list[dict], classes=DOCUMENTED_CLASSES) -> list[str]:
    """Why the comparison fails, one line per problem: disagreements outside ``classes`` or on a
    completion in the prompt's answer format, and unit-test expectations lighteval refutes."""
    problems = []
    for row in rows:
        label = f"{row['id']} ({row['source']}, {row['benchmark']})"
        if "expected" in row and row["expected"] != row["lighteval"]["correct"]:
            problems.append(
                f"{label}: the unit test expects {row['expected']}, lighteval says "
                f"{row['lighteval']['correct']}"
            )
        if row["ours"]["correct"] == row["lighteval"]["correct"]:
            continue
        if follows_answer_format(row["text"], row["task"]):
            problems.append(f"{label}: disagreement on a completion in the prompt's answer format")
        elif classify(row, classes) is None:
            problems.append(f"{label}: disagreement outside the documented classes")
    return problems


# ---- build -------------------------------------------------------------------------------------
def _unit_test_rows() -> list[dict]:
    """The verdicts our unit tests expect, to be confirmed by lighteval."""
    from grading_cases import GPQA_COMPLETIONS, LETTER_CASES, MATH_CASES, VERDICTS, r1

    rows = []
    for answer, gold, gold_format, expected in MATH_CASES:
        completion = r1(answer)
        for text in (completion, completion.rpartition("</think>")[2]):
            rows.append(("math", text, gold, gold_format, expected))
    for completion, letter, after_think in GPQA_COMPLETIONS:
        for gold in "ABCD":
            rows.append(("gpqa", completion, gold, None, letter == gold))
            region = completion.rpartition("</think>")[2]
            rows.append(("gpqa", region, gold, None, after_think == gold))
    for text, letter in LETTER_CASES:
        for gold in "ABCD":
            rows.append(("gpqa", text, gold, None, letter == gold))
    for completion, gold, gold_format, lighteval, _ in VERDICTS:
        rows.append(("math", completion, gold, gold_format, lighteval))
    return [
        {"id": f"unit-{i}", "source": "unit_tests", "benchmark": task, "task": task, "text": text,
         "gold": gold, "gold_format": gold_format, "expected": expected}
        for i, (task, text, gold, gold_format, expected) in enumerate(rows)
    ]  # fmt: skip


def _demo_rows(demo_dir: Path) -> tuple[list[dict], int]:
    """Every distinct (completion, gold, gold_format) of a finished demo's samples, and how many
    samples there were."""
    from tina_repro.files import read_jsonl

    seen, rows, samples = set(), [], 0
    for path in sorted((demo_dir / "results" / "eval").glob("**/samples.jsonl")):
        benchmark = path.parent.name
        for sample in read_jsonl(path, ("completion", "gold", "task")):
            samples += 1
            gold_format = sample.get("gold_format") if sample["task"] == "math" else None
            key = (sample["completion"], str(sample["gold"]), sample["task"], gold_format)
            if key in seen:
                continue
            seen.add(key)
            rows.append(
                {"id": f"demo-{len(rows)}", "source": "demo", "benchmark": benchmark,
                 "task": key[2], "text": key[0], "gold": key[1], "gold_format": gold_format}
            )  # fmt: skip
    if not samples:
        raise SystemExit(f"{demo_dir}: no results/eval/**/samples.jsonl (is the demo finished?)")
    return rows, samples


def build(out: Path, demo_dir: Path | None, n: int, seed: int) -> None:
    rows = [
        {"id": row["id"], "source": "corpus", "benchmark": row["benchmark"], "task": row["task"],
         "text": row["completion"], "gold": row["gold"], "gold_format": row["gold_format"],
         "form": row["form"]}
        for row in corpus.generate(n, seed)
    ]  # fmt: skip
    rows += _unit_test_rows()
    if demo_dir is not None:
        demo, samples = _demo_rows(demo_dir)
        rows += demo
        print(f"demo: {samples} samples, {len(demo)} distinct (completion, gold) pairs")
    with out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts = Counter(row["source"] for row in rows)
    print(f"{len(rows)} rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


# ---- compare -----------------------------------------------------------------------------------
def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def agreement_table(rows: list[dict]) -> list[tuple[str, str, int, int]]:
    """(source, benchmark, agreeing, total) per source and benchmark kind, then per source."""
    totals, agreeing = Counter(), Counter()
    for row in rows:
        same = row["ours"]["correct"] == row["lighteval"]["correct"]
        for key in ((row["source"], row["benchmark"]), (row["source"], "all")):
            totals[key] += 1
            agreeing[key] += same
    return [(s, b, agreeing[(s, b)], totals[(s, b)]) for s, b in sorted(totals)]


def compare(
    rows_path: Path, lighteval_path: Path, processes: int, timeout_s: int, summary: Path | None
) -> int:
    from tina_repro.eval.grading_pool import grade_rows

    # One warning per text-only gold and per timeout would bury the table; the table counts both.
    logging.getLogger("tina_repro").setLevel(logging.ERROR)
    rows = _read(rows_path)
    verdicts = _read(lighteval_path)
    if len(verdicts) != len(rows):
        raise SystemExit(f"{lighteval_path}: {len(verdicts)} verdicts for {len(rows)} rows")
    started = time.perf_counter()
    graded = grade_rows(
        [{"completion": r["text"], "gold": r["gold"], "task": r["task"],
          "gold_format": r["gold_format"]} for r in rows],
        processes, timeout_s=timeout_s,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    for row, ours, theirs in zip(rows, graded, verdicts, strict=True):
        row["ours"] = {key: ours[key] for key in ("correct", "timeout", "extracted")}
        row["lighteval"] = theirs
        row["timeout_s"] = timeout_s
    table = agreement_table(rows)
    print(f"our grader: {len(rows)} rows in {seconds:.1f} s with {processes} process(es)")
    print(f"{'source':<12} {'benchmark':<14} {'agree':>7} {'total':>7} {'agreement':>10}")
    for source, benchmark, same, total in table:
        print(f"{source:<12} {benchmark:<14} {same:>7} {total:>7} {100 * same / total:>9.2f}%")
    differing = [r for r in rows if r["ours"]["correct"] != r["lighteval"]["correct"]]
    by_class = Counter(classify(r) or "undocumented" for r in differing)
    for name, count in by_class.items():
        print(f"disagreements, {name}: {count}")
        for row in [r for r in differing if (classify(r) or "undocumented") == name][:3]:
            print(f"  {row['id']}: ours {row['ours']['correct']}, lighteval "
                  f"{row['lighteval']['correct']}; gold {row['gold'][-60:]!r}; "
                  f"completion ...{row['text'][-120:]!r}")  # fmt: skip
    problems = failures(rows)
    for problem in problems[:20]:
        print(f"FAIL {problem}")
    if summary is not None:
        summary.write_text(
            json.dumps(
                {
                    "rows": len(rows),
                    "our_seconds": seconds,
                    "agreement": [
                        {"source": s, "benchmark": b, "agree": a, "total": t}
                        for s, b, a, t in table
                    ],
                    "disagreements": dict(by_class),
                    "failures": problems,
                },
                indent=2,
            )
        )
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build")
    build_cmd.add_argument("rows", type=Path)
    build_cmd.add_argument("--demo", type=Path, help="the working directory of a finished demo")
    build_cmd.add_argument("--n", type=int, default=6000)
    build_cmd.add_argument("--seed", type=int, default=20250226)
    compare_cmd = commands.add_parser("compare")
    compare_cmd.add_argument("rows", type=Path)
    compare_cmd.add_argument("lighteval", type=Path)
    compare_cmd.add_argument("--processes", type=int, default=2)
    compare_cmd.add_argument("--timeout-s", type=int, default=5)
    compare_cmd.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.command == "build":
        build(args.rows, args.demo, args.n, args.seed)
        return 0
    return compare(args.rows, args.lighteval, args.processes, args.timeout_s, args.json)


if __name__ == "__main__":
    sys.exit(main())
