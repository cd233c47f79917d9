"""Helpers of run_slurm_test.sh: set up a fixture working directory, compare two runs' outputs.

    python tests/slurm/slurm_check.py prepare-data WORKDIR
    python tests/slurm/slurm_check.py compare LOCAL_WORKDIR SLURM_WORKDIR

`compare` checks that both runs produced the same outputs in kind and completeness (same files,
non-empty, same Parquet row counts and columns, same report counts); byte-identical files are only
counted, since later stages (training, sampling) need not be bit-reproducible across executors.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from test_data_workflow import HUB, local_sheet  # noqa: E402

# Not outputs: the copied config and Snakemake's own state (SLURM logs live in .snakemake/).
NOT_OUTPUTS = ("config", ".snakemake")
# Rule logs may legitimately be empty; every other output must have content.
MAY_BE_EMPTY = ("logs",)
# Report keys that say how complete an output is.
COUNT_KEYS = ("rows_read", "rows_kept")


def prepare_data(workdir: Path) -> None:
    """Point the sheets at local fixtures, as tests/test_data_workflow.py does (no network)."""
    shutil.copytree(ROOT / "config", workdir / "config")
    local_sheet(
        workdir,
        "datasets.tsv",
        {"limr": HUB / "limr.json", "still3": HUB / "still3_malformed.jsonl"},
    )
    sizes = {"aime24": sum(1 for _ in open(HUB / "aime24.jsonl")), "gpqa_diamond": 5}
    local_sheet(
        workdir,
        "benchmarks.tsv",
        {"aime24": HUB / "aime24.jsonl", "gpqa_diamond": HUB / "gpqa_diamond.csv"},
        sizes,
    )


def output_files(workdir: Path) -> set[Path]:
    return {
        path.relative_to(workdir)
        for path in workdir.rglob("*")
        if path.is_file() and path.relative_to(workdir).parts[0] not in NOT_OUTPUTS
    }


def compare_file(rel: Path, local: Path, slurm: Path) -> tuple[list[str], str]:
    """Problems found in one output present in both runs, and a short local/slurm description."""
    problems = []
    a, b = local / rel, slurm / rel
    if rel.parts[0] not in MAY_BE_EMPTY:
        for run, path in (("local", a), ("slurm", b)):
            if path.stat().st_size == 0:
                problems.append(f"{rel}: empty in the {run} run")
    detail = f"{a.stat().st_size}/{b.stat().st_size} bytes"
    if rel.suffix == ".parquet":
        frames = pd.read_parquet(a), pd.read_parquet(b)
        detail = f"{len(frames[0])}/{len(frames[1])} rows"
        if len(frames[0]) != len(frames[1]):
            problems.append(f"{rel}: {len(frames[0])} rows locally, {len(frames[1])} on SLURM")
        if list(frames[0].columns) != list(frames[1].columns):
            problems.append(
                f"{rel}: columns differ ({list(frames[0].columns)} vs {list(frames[1].columns)})"
            )
    elif rel.suffix == ".json" and not problems:
        reports = [json.loads(path.read_text()) for path in (a, b)]
        reports = [report if isinstance(report, dict) else {} for report in reports]
        counts = [
            (key, reports[0].get(key), reports[1].get(key))
            for key in COUNT_KEYS
            if key in reports[0] or key in reports[1]
        ]
        if counts:
            detail = ", ".join(f"{key} {x}/{y}" for key, x, y in counts)
        problems += [f"{rel}: {key} {x} locally, {y} on SLURM" for key, x, y in counts if x != y]
    if a.read_bytes() == b.read_bytes():
        detail += ", byte-identical"
    return problems, detail


def compare(local: Path, slurm: Path) -> list[str]:
    """Print one line per output (local/slurm values) and return the problems found."""
    files = {"local": output_files(local), "slurm": output_files(slurm)}
    problems = [
        f"{rel}: only in the {run} run"
        for run, other in (("local", "slurm"), ("slurm", "local"))
        for rel in sorted(files[run] - files[other])
    ]
    shared = sorted(files["local"] & files["slurm"])
    identical = 0
    for rel in shared:
        found, detail = compare_file(rel, local, slurm)
        identical += detail.endswith("byte-identical")
        print(f"  {'FAIL' if found else 'ok  '} {rel}  ({detail})")
        problems += found
    print(f"  {len(shared)} outputs in both runs, {identical} byte-identical")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare-data").add_argument("workdir", type=Path)
    pair = sub.add_parser("compare")
    pair.add_argument("local", type=Path)
    pair.add_argument("slurm", type=Path)
    args = parser.parse_args(argv)
    if args.command == "prepare-data":
        prepare_data(args.workdir)
        return 0
    problems = compare(args.local, args.slurm)
    for problem in problems:
        print(f"  problem: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
