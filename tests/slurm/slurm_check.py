"""Helpers of run_slurm_test.sh: set up a fixture working directory, compare two runs' outputs,
say which jobs went through sbatch.

    python tests/slurm/slurm_check.py prepare-data CONFIG_DIR WORKDIR
    python tests/slurm/slurm_check.py compare [--each] LOCAL_WORKDIR SLURM_WORKDIR
    python tests/slurm/slurm_check.py jobs SNAKEMAKE_LOG

`compare` checks that both runs produced the same outputs in kind and completeness: the same files
(hence the same checkpoint-N folders), none empty (rule logs may be), the same Parquet/CSV row
counts and columns, the same JSONL line counts (samples, grades), the same JSON keys (scores,
manifests) and the same values for the keys that count rows or checkpoints. Byte-identical files
are only counted: training and sampling need not be bit-reproducible across executors.
"""

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for helpers

from helpers import config_on_local_sources  # noqa: E402

# Not outputs: the copied config, Snakemake's own state (SLURM logs live in .snakemake/), the hash
# cache of tina_repro.fingerprints (keyed by each file's inode and times, so per run), and the
# empty marker Snakemake leaves in each directory() output.
NOT_OUTPUTS = ("config", ".snakemake", ".tina-repro")
MARKERS = (".snakemake_timestamp",)
# Rule logs may legitimately be empty; every other output must have content.
MAY_BE_EMPTY = ("logs",)
# JSON keys whose values say how complete an output is: data reports, training manifests.
COUNT_KEYS = ("rows_read", "rows_kept", "checkpoint_steps")
CHECKPOINT_DIR = re.compile(r"checkpoint-(\d+)$")


def output_files(workdir: Path) -> set[Path]:
    return {
        path.relative_to(workdir)
        for path in workdir.rglob("*")
        if path.is_file()
        and path.relative_to(workdir).parts[0] not in NOT_OUTPUTS
        and path.name not in MARKERS
    }


def checkpoints(workdir: Path) -> dict[str, list[int]]:
    """Saved checkpoint steps per training run folder (results/train/RUN/checkpoint-N)."""
    found = defaultdict(list)
    for path in (workdir / "results" / "train").glob("*/checkpoint-*"):
        match = CHECKPOINT_DIR.match(path.name)
        if path.is_dir() and match:
            found[path.parent.name].append(int(match.group(1)))
    return {run: sorted(steps) for run, steps in sorted(found.items())}


def _pair(rel: Path, what: str, a, b) -> tuple[list[str], str]:
    """A local/slurm detail, and a problem when the two differ."""
    problems = [f"{rel}: {what} {a} locally, {b} on SLURM"] if a != b else []
    return problems, f"{a}/{b} {what}"


def _table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _lines(path: Path) -> int:
    with open(path, "rb") as lines:
        return sum(1 for _ in lines)


def content_checks(rel: Path, a: Path, b: Path) -> tuple[list[str], list[str]]:
    """Kind and completeness by file type: rows and columns, lines, JSON keys and counts."""
    if rel.suffix in (".parquet", ".csv"):
        frames = _table(a), _table(b)
        problems, detail = _pair(rel, "rows", len(frames[0]), len(frames[1]))
        columns = [list(frame.columns) for frame in frames]
        if columns[0] != columns[1]:
            problems.append(f"{rel}: columns differ ({columns[0]} vs {columns[1]})")
        return problems, [detail]
    if rel.suffix == ".jsonl":
        problems, detail = _pair(rel, "lines", _lines(a), _lines(b))
        return problems, [detail]
    problems, details = [], [f"{a.stat().st_size}/{b.stat().st_size} bytes"]
    if rel.suffix == ".json":
        reports = [json.loads(path.read_text()) for path in (a, b)]
        if all(isinstance(report, dict) for report in reports):
            keys = [sorted(report) for report in reports]
            if keys[0] != keys[1]:
                problems.append(f"{rel}: keys differ ({keys[0]} vs {keys[1]})")
            for key in COUNT_KEYS:
                if key in reports[0] or key in reports[1]:
                    found, detail = _pair(rel, key, reports[0].get(key), reports[1].get(key))
                    problems += found
                    details.append(detail)
    return problems, details


def compare_file(rel: Path, local: Path, slurm: Path) -> tuple[list[str], str]:
    """Problems found in one output present in both runs, and a short local/slurm description."""
    a, b = local / rel, slurm / rel
    problems = [
        f"{rel}: empty in the {run} run"
        for run, path in (("local", a), ("slurm", b))
        if rel.parts[0] not in MAY_BE_EMPTY and path.stat().st_size == 0
    ]
    if problems:
        return problems, f"{a.stat().st_size}/{b.stat().st_size} bytes"
    problems, details = content_checks(rel, a, b)
    if a.read_bytes() == b.read_bytes():
        details.append("byte-identical")
    return problems, ", ".join(details)


def group_of(rel: Path) -> str:
    """Where an output is summarised: its first two folders (results/eval, logs/train_grpo)."""
    return "/".join(rel.parts[: min(2, len(rel.parts) - 1)]) or "."


def compare(local: Path, slurm: Path, each: bool = False) -> list[str]:
    """Print a line per output folder (and per file with `each` or a problem); return problems."""
    files = {"local": output_files(local), "slurm": output_files(slurm)}
    problems = [
        f"{rel}: only in the {run} run"
        for run, other in (("local", "slurm"), ("slurm", "local"))
        for rel in sorted(files[run] - files[other])
    ]
    shared = sorted(files["local"] & files["slurm"])
    groups = defaultdict(Counter)
    for rel in shared:
        found, detail = compare_file(rel, local, slurm)
        group = groups[group_of(rel)]
        group["files"] += 1
        group["byte-identical"] += detail.endswith("byte-identical")
        group["problems"] += bool(found)
        if each or found:
            print(f"  {'FAIL' if found else 'ok  '} {rel}  ({detail})")
        problems += found
    for name, group in sorted(groups.items()):
        status = "FAIL" if group["problems"] else "ok  "
        print(
            f"  {status} {name}/: {group['files']} files, {group['byte-identical']} byte-identical"
        )
    saved = checkpoints(local), checkpoints(slurm)
    for run in sorted(set(saved[0]) | set(saved[1])):
        steps = saved[0].get(run), saved[1].get(run)
        same = steps[0] == steps[1]
        print(f"  {'ok  ' if same else 'FAIL'} {run}: checkpoint-N folders {steps[0]}/{steps[1]}")
        if not same:
            problems.append(f"results/train/{run}: checkpoints {steps[0]} vs {steps[1]}")
    identical = sum(group["byte-identical"] for group in groups.values())
    print(f"  {len(shared)} outputs in both runs, {identical} byte-identical")
    return problems


# Lines of the Snakemake log with the SLURM executor: a header above each job run on the host,
# the job id under it, the plugin's submission line and the end of every job.
LOCAL_JOB = re.compile(r"^local(?:rule|checkpoint) \w+:$")
JOB_ID = re.compile(r"^\s+jobid: (\d+)$")
SUBMITTED = re.compile(r"^Job (\d+) has been submitted with SLURM jobid \d+")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)")


def jobs(log: Path) -> list[str]:
    """Print which rules went through sbatch and which ran on the host; return problems
    (a finished job that was neither submitted nor a local rule)."""
    rules, local_ids, submitted = {}, set(), set()
    in_local_header = False
    for line in log.read_text().splitlines():
        if LOCAL_JOB.match(line):
            in_local_header = True
        elif in_local_header and (match := JOB_ID.match(line)):
            local_ids.add(match.group(1))
            in_local_header = False
        elif match := SUBMITTED.match(line):
            submitted.add(match.group(1))
        elif match := FINISHED.match(line):
            rules[match.group(1)] = match.group(2)

    def counts(ids):
        tally = Counter(rules.get(i, "unfinished") for i in ids)
        return ", ".join(f"{rule} x{n}" for rule, n in sorted(tally.items())) or "none"

    print(f"  through sbatch: {counts(submitted)}")
    print(f"  on the host (localrule): {counts(local_ids)}")
    missing = sorted(set(rules) - local_ids - submitted, key=int)
    return [f"job {i} ({rules[i]}) was neither submitted nor local" for i in missing]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    prepare = sub.add_parser("prepare-data")
    prepare.add_argument("config_dir", type=Path)
    prepare.add_argument("workdir", type=Path)
    pair = sub.add_parser("compare")
    pair.add_argument("--each", action="store_true", help="a line per file, not only per folder")
    pair.add_argument("local", type=Path)
    pair.add_argument("slurm", type=Path)
    sub.add_parser("jobs").add_argument("log", type=Path)
    args = parser.parse_args(argv)
    if args.command == "prepare-data":
        config_on_local_sources(args.config_dir, args.workdir)
        return 0
    if args.command == "jobs":
        problems = jobs(args.log)
    else:
        problems = compare(args.local, args.slurm, args.each)
    for problem in problems:
        print(f"  problem: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
