"""Wall time of the embedded CPU demo, end to end (not collected by pytest).

Runs ``snakemake --cores N TARGET --configfile config/demo/config.yaml`` in a fresh working
directory (a copy of config/ only, so every job runs), then prints the total wall time, the time of
each rule from its Snakemake benchmark files and log timestamps, and the warm start's report.
Targets (issue "The embedded demo"): the whole pipeline <= 15 min on 2 cores, 8 min intended.

    python tests/bench/bench_demo.py [--cores 2] [--target results/tables/main.csv] [--keep DIR]
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for helpers

import pandas as pd  # noqa: E402
from helpers import ROOT  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--target", default="results/tables/main.csv")
    parser.add_argument("--keep", help="run in this directory and keep it (default: a temp dir)")
    args = parser.parse_args()

    workdir = Path(args.keep or tempfile.mkdtemp(prefix="tina_demo_"))
    shutil.copytree(ROOT / "config", workdir / "config", dirs_exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        str(args.cores),
        "--directory",
        str(workdir),
        args.target,
        "--configfile",  # after the target: it takes several values
        "config/demo/config.yaml",
    ]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode:
        print(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"demo failed after {wall:.0f} s (workdir {workdir})")

    per_rule: dict[str, list[float]] = defaultdict(list)
    for path in sorted((workdir / "benchmarks").rglob("*.tsv")):
        rule = path.relative_to(workdir / "benchmarks").parts[0]
        per_rule[rule].append(float(pd.read_csv(path, sep="\t")["s"].iloc[0]))
    print(f"demo {args.target} on {args.cores} cores: {wall:.0f} s wall ({wall / 60:.1f} min)")
    for rule, seconds in sorted(per_rule.items(), key=lambda item: -sum(item[1])):
        total, longest = sum(seconds), max(seconds)
        print(f"  {rule:<22} {len(seconds):>3} jobs  {total:7.1f} s  (max {longest:.1f})")
    warm = json.loads((workdir / "resources/demo/base_model/warm_start.json").read_text())
    print(
        f"  warm start: {warm['settings']['steps']} steps (build_demo_model above), "
        f"loss {warm['loss_first']:.3f} -> {warm['loss_last']:.3f}"
    )
    for score in sorted((workdir / "results/eval").rglob("score.json")):
        document = json.loads(score.read_text())
        name = "/".join(score.relative_to(workdir / "results/eval").parts[:-1])
        print(
            f"  {name:<30} accuracy {document['pass_at_1']:6.2f}  "
            f"format {document['format_rate']:6.2f}  ({document['n_problems']} problems x "
            f"{document['samples_per_problem']})"
        )
    if not args.keep:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
