"""Gold-parsing throughput of the data stage: rows/s of normalize_training on 2,000 rows.

Every kept training row costs one math-verify parse of its gold (in the main thread, where its
signal timeout works). Two shapes bound the cost: STILL/DeepScaleR-style bare answers wrapped in
``$...$``, and open-rs/OpenR1-style worked solutions ending in ``\\boxed{}``.

Usage: python tests/bench/bench_data.py [ROWS]
"""

import sys
import time

import pandas as pd

from tina_repro.config import Dataset
from tina_repro.data.normalize import normalize_training

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
WORKED = (
    "Rewrite the equation as $x^2 + {i}x + 3 = 0$. The quadratic formula "
    "$x = \\frac{{-b \\pm \\sqrt{{b^2-4ac}}}}{{2a}}$ gives the roots; checking each case in turn "
    "and simplifying, we find that the requested quantity equals $\\boxed{{{i}\\sqrt{{2}}}}$."
)
SHAPES = {
    "bare answers, wrapped (STILL, DeepScaleR, LIMR)": (
        [f"Compute item {i}." for i in range(ROWS)],
        [f"\\frac{{{i}}}{{{i + 7}}}" if i % 2 else str(i) for i in range(ROWS)],
        True,
    ),
    "worked solutions (open-s1, open-rs, OpenR1, CuratedThoughts)": (
        [f"Solve problem {i}." for i in range(ROWS)],
        [WORKED.format(i=i) for i in range(ROWS)],
        False,
    ),
}

for label, (problems, golds, wrap) in SHAPES.items():
    spec = Dataset(
        name="bench",
        source="local:bench",
        config=None,
        split="train",
        revision="main",
        problem_column="q",
        solution_column="a",
        wrap_solution=wrap,
        system_prompt="open_r1",
        paper_size=None,
        comment=None,
    )
    frame = pd.DataFrame({"q": problems, "a": golds})
    start = time.perf_counter()
    out, report = normalize_training(frame, spec)
    seconds = time.perf_counter() - start
    rate = ROWS / seconds
    print(
        f"{label}: {ROWS} rows in {seconds:.2f} s = {rate:.0f} rows/s "
        f"(100k rows ~ {100_000 / rate:.0f} s); kept {report['rows_kept']}"
    )
