"""Add a benchmark to a finished evaluation and check that only it is generated (CI runs this
after `snakemake --profile profiles/demo all`).

    python tests/check_added_benchmark.py WORKDIR [--configfile FILE ...] [--target TARGET ...]

It works on a copy of WORKDIR's config/, resources/, results/, benchmarks/ and .snakemake/metadata
(links and mtimes kept), so WORKDIR is left exactly as it was. In the copy it

1. writes a small new benchmark: the first rows of the sheet's first benchmark (a local JSONL
   source) under a new name, in a copy of the sheet named by one more ``--configfile``;
2. runs ``snakemake TARGET`` (default ``all``) with it (the demo profile: 2 cores);
3. checks every evaluated model: its generation.json says that only the new benchmark was
   generated; each old samples.jsonl links to the same store file, with the same bytes and mtime;
   each old graded.jsonl is untouched (not regraded); the new benchmark was scored.

Prints one line per failed check and exits 1, or prints a summary.
"""

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

from helpers import ROOT, copy_finished, edit_sheet, snakemake

from tina_repro import paths
from tina_repro.config import load_files
from tina_repro.files import read_json, write_text

NEW_ROWS = 20  # problems of the added benchmark: enough to grade, quick to generate


def snapshot(workdir: Path) -> dict:
    """(run, point, benchmark) -> link target, its sha256 and mtime, graded.jsonl's mtime."""
    state = {}
    for link in sorted(workdir.glob(paths.SAMPLES.format(run="*", point="*", benchmark="*"))):
        target = link.parent / os.readlink(link)
        graded = link.with_name("graded.jsonl")
        state[paths.eval_parts(link)] = (
            target.name,
            hashlib.sha256(target.read_bytes()).hexdigest(),
            target.stat().st_mtime_ns,
            graded.stat().st_mtime_ns if graded.exists() else None,
        )
    return state


def add_benchmark(workdir: Path, configfiles: list[Path]) -> tuple[str, Path]:
    """Write the new benchmark's source, sheet and override; returns (name, override file)."""
    wc = load_files(*configfiles, root=workdir)
    first = next(iter(wc.benchmarks.values()))
    source = workdir / first.source.removeprefix("local:")
    if not first.source.startswith("local:") or source.suffix != ".jsonl":
        raise SystemExit(f"{first.name}: needs a local JSONL source to copy, not {first.source}")
    name = f"{first.name}_added"
    rows = source.read_text(encoding="utf-8").splitlines()[:NEW_ROWS]
    folder = workdir / "resources" / "check_added_benchmark"
    new_source = write_text(folder / f"{name}.jsonl", "\n".join(rows) + "\n")
    changes = {"name": name, "source": f"local:{new_source}", "expected_size": str(len(rows))}
    changes["comment"] = "added by check_added_benchmark"

    def add_row(header: list[str], sheet_rows: list[list[str]]) -> None:
        first = zip(header, sheet_rows[0], strict=True)
        sheet_rows.append([changes.get(column, cell) for column, cell in first])

    new_sheet = edit_sheet(wc.path("benchmarks"), add_row, out=folder / "benchmarks.tsv")
    return name, write_text(folder / "override.yaml", f"benchmarks: {new_sheet}\n")


def check(before: dict, after: dict, workdir: Path, name: str) -> list[str]:
    problems = []
    models = sorted({(run, point) for run, point, _ in before})
    for run, point in models:
        record_path = workdir / paths.GENERATION_RECORD.format(run=run, point=point)
        record = read_json(record_path) if record_path.is_file() else {}
        if record.get("generated_benchmarks") != [name]:
            generated = record.get("generated_benchmarks")
            problems.append(f"{run}/{point}: generated {generated}, expected only [{name!r}]")
        if (run, point, name) not in after:
            problems.append(f"{run}/{point}: no samples of {name}")
        if not (workdir / paths.SCORE.format(run=run, point=point, benchmark=name)).is_file():
            problems.append(f"{run}/{point}: {name} was not scored")
    for key, (target, digest, mtime, graded) in before.items():
        label = "/".join(key)
        now = after.get(key)
        if now is None:
            problems.append(f"{label}: samples.jsonl is gone")
            continue
        if now[:3] != (target, digest, mtime):
            problems.append(f"{label}: samples changed (link, bytes or mtime)")
        if now[3] != graded:
            problems.append(f"{label}: graded.jsonl was rewritten")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--configfile", nargs="+", default=["config/demo/config.yaml"])
    parser.add_argument("--target", nargs="+", default=["all"])
    args = parser.parse_args(argv)
    source = args.workdir.resolve()
    with tempfile.TemporaryDirectory(prefix="check_added_benchmark.") as scratch:
        workdir = Path(scratch) / "workdir"
        copy_finished(source, workdir)
        configfiles = [f if f.is_absolute() else workdir / f for f in map(Path, args.configfile)]
        before = snapshot(workdir)
        if not before:
            print(f"no finished evaluation under {source}: run the demo first")
            return 1
        name, override = add_benchmark(workdir, configfiles)
        configs = [*map(str, configfiles), str(override)]
        profile = str(ROOT / "profiles" / "demo")
        proc = snakemake(
            workdir, "--profile", profile, *args.target, "--configfile", *configs, timeout=None
        )
        if proc.returncode != 0:
            print(proc.stdout[-3000:] + proc.stderr[-6000:])
            print(f"snakemake {' '.join(args.target)} with {name} added failed")
            return 1
        problems = check(before, snapshot(workdir), workdir, name)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    models = len({(run, point) for run, point, _ in before})
    print(
        f"ok: {name} added; {models} models generated only it; {len(before)} finished samples "
        "kept their bytes and mtimes and were not regraded"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
