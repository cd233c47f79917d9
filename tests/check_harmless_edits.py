"""Check that harmless config edits rerun nothing expensive on a finished workflow (CI runs this
after the CPU demo: `python tests/check_harmless_edits.py .`).

Each edit is applied as one more ``--configfile`` merged over the run's own (exactly as editing
that file, without touching it: nothing to restore, even after an interrupted check; a sheet edit
points the config at an edited copy of the sheet), and ``snakemake -n all`` must then plan only
the jobs the edit is meant to reach:

- settings that shape no output (``grading_processes``, vLLM memory, batch size, the template of a
  task the benchmarks do not use, the free-text comment of a row of each sheet): nothing at all;
- the prices and the selection rule: only the tables and figures that print them (that is how a
  price change reaches costs.csv), never training, generation, grading or preparation.

The unedited dry-run must plan nothing first: the check needs a finished workflow.

    python tests/check_harmless_edits.py [WORKDIR] [--profile PROFILE]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from helpers import snakemake  # noqa: E402

from tina_repro.config import WorkflowConfig, load_files  # noqa: E402
from tina_repro.config.rows import SHEET_ROWS  # noqa: E402

#: jobs that only read results and print them: tables, their score collections and figures
REPORTING_RULES = re.compile(r"^(all|tables|figures|collect_\w+|\w+_table|figure_\w+)$")


@dataclass(frozen=True)
class Edit:
    """A config edit: ``overlay(wc, scratch)`` is the file merged over the run's configuration
    ``wc`` (it may write files into the folder ``scratch``); ``reaches`` says which planned jobs
    it may bring (a rule name -> allowed)."""

    name: str
    overlay: Callable[[WorkflowConfig, Path], dict]
    reaches: Callable[[str], bool]


def _nothing(rule: str) -> bool:
    return False


def _reporting(rule: str) -> bool:
    return bool(REPORTING_RULES.match(rule))


def _times_four(wc: WorkflowConfig, scratch: Path) -> dict:
    prices = wc.config["cost"]["usd_per_device_hour"]
    return {"cost": {"usd_per_device_hour": {device: p * 4 for device, p in prices.items()}}}


def _other_selection(wc: WorkflowConfig, scratch: Path) -> dict:
    rule = "final" if wc.config["selection"]["rule"] != "final" else "paper"
    return {"selection": {"rule": rule, "selection_benchmarks": []}}


def _evaluation(key: str, change: Callable) -> Callable[[WorkflowConfig, Path], dict]:
    return lambda wc, scratch: {"evaluation": {key: change(wc.config["evaluation"][key])}}


def _template(task: str) -> Callable[[WorkflowConfig, Path], dict]:
    return lambda wc, scratch: {
        "prompt_templates": {task: wc.config["prompt_templates"][task] + "\n(edited)"}
    }


def edit_comment(source: Path, target: Path) -> None:
    """``target``: the sheet ``source`` with the comment of its first row edited."""
    with source.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle, delimiter="\t"))
    column = header.index("comment")
    rows[0][column] = f"{rows[0][column]} (edited)".strip()
    with target.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter="\t", lineterminator="\n").writerows([header, *rows])


def _comment(sheet: str) -> Callable[[WorkflowConfig, Path], dict]:
    def overlay(wc: WorkflowConfig, scratch: Path) -> dict:
        copy = scratch / f"{sheet}.tsv"
        edit_comment(wc.path(sheet), copy)
        return {sheet: str(copy.resolve())}

    return overlay


PRICE = Edit("cost prices x4", _times_four, _reporting)
SELECTION = Edit("selection rule", _other_selection, _reporting)
#: edits that change no output at all (the template edit is harmless where no benchmark uses gpqa)
NO_OUTPUT = [
    Edit("grading_processes + 1", _evaluation("grading_processes", lambda n: n + 1), _nothing),
    Edit(
        "vllm_gpu_memory_utilization 0.5 -> 0.6",
        _evaluation("vllm_gpu_memory_utilization", lambda _: 0.6),
        _nothing,
    ),
    Edit("batch_size x 2", _evaluation("batch_size", lambda n: n * 2), _nothing),
    *(Edit(f"a comment in {sheet}", _comment(sheet), _nothing) for sheet in SHEET_ROWS),
]
GPQA_TEMPLATE = Edit("gpqa prompt template", _template("gpqa"), _nothing)


# ---- running Snakemake -------------------------------------------------------------------------
_JOB = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")


def parse_plan(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a ``snakemake -n`` output plans."""
    jobs: list[tuple[str, dict[str, str]]] = []
    for line in output.splitlines():
        if match := _JOB.match(line):
            jobs.append((match.group(1), {}))
        elif jobs and line.startswith("    wildcards: "):
            pairs = line.removeprefix("    wildcards: ").split(", ")
            jobs[-1][1].update(pair.split("=", 1) for pair in pairs)
    return jobs


def plan(workdir: Path, *args: str) -> list[tuple[str, dict[str, str]]]:
    """The jobs ``snakemake -n ARGS`` plans in ``workdir``; raises if the dry-run fails."""
    proc = snakemake(workdir, "-n", *args)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake -n {' '.join(args)} failed:\n{output}")
    return parse_plan(output)


def plan_with(workdir: Path, configfiles: list[str], overlay: dict, *args: str):
    """The plan with ``overlay`` merged over ``configfiles`` (paths relative to ``workdir``)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(overlay, handle)
    try:
        return plan(workdir, *args, "--configfile", *configfiles, handle.name)
    finally:
        os.unlink(handle.name)


def unexpected(jobs: list[tuple[str, dict]], edit: Edit) -> list[str]:
    return sorted({rule for rule, _ in jobs if not edit.reaches(rule)})


# ---- the check ---------------------------------------------------------------------------------
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
