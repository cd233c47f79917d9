"""Check that harmless config edits rerun nothing expensive on a finished workflow (CI runs this
after the CPU demo: `python tests/check_harmless_edits.py .`).

Each edit is applied as one more ``--configfile`` merged over the run's own (exactly as editing
that file, without touching it: nothing to restore, even after an interrupted check; a sheet edit
points the config at an edited copy of the sheet), and ``snakemake -n all`` must then plan only
the jobs the edit is meant to reach (tests/harmless_edits.py lists the edits and what each may
reach).

The unedited dry-run must plan nothing first: the check needs a finished workflow.

    python tests/check_harmless_edits.py [WORKDIR] [--profile PROFILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml
from harmless_edits import GPQA_TEMPLATE, NO_OUTPUT, PRICE, SELECTION, unexpected
from helpers import ROOT, plan, plan_with

from tina_repro.config import load_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", nargs="?", default=".")
    parser.add_argument("--profile", default="profiles/demo")
    parser.add_argument("--target", default="all")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir).resolve()
    profile = yaml.safe_load((ROOT / args.profile / "config.yaml").read_text())
    configfiles = [profile["configfile"]] if "configfile" in profile else []
    base = ["--profile", str(ROOT / args.profile), args.target]

    before = plan(workdir, *base)
    if before:
        print(f"FAIL: the workflow is not finished: {len(before)} job(s) planned before any edit")
        return 1
    wc = load_files(*(workdir / f for f in configfiles), root=workdir)
    edits = [PRICE, SELECTION, *NO_OUTPUT]
    if all(row.template != "gpqa" for row in wc.benchmarks.values()):
        edits.append(GPQA_TEMPLATE)
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        for edit in edits:
            jobs = plan_with(workdir, configfiles, edit.overlay(wc, Path(scratch)), *base)
            bad = unexpected(jobs, edit)
            status = "FAIL" if bad else "ok"
            failures += bool(bad)
            rules = sorted({rule for rule, _ in jobs})
            print(f"{status}: {edit.name}: plans {len(jobs)} job(s) {rules}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
