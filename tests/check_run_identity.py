"""Check on a finished workflow that what changed is rebuilt and nothing stale is reported as
current (CI runs this after the CPU demo: `python tests/check_run_identity.py .`).

Each check works on its own copy of WORKDIR (as tests/check_added_benchmark.py copies it), so
WORKDIR is left exactly as it was. RUN is the finished run with the fewest steps.

1. Training data of other content (every other gold of the training file off by one):
   ``snakemake RUN's manifest`` prepares the data again and retrains RUN; its old folder is kept
   aside byte for byte, and the two identities differ in the dataset's sha256 only.
2. ``--forcerun train_grpo`` retrains RUN from scratch; the finished folder is kept aside.
3. A checkpoint replaced in place (RUN's last checkpoint's adapter_model.safetensors overwritten
   by its first's): ``snakemake -n all`` plans that checkpoint's generation and its gradings;
   generating it then gives the first checkpoint's samples, byte for byte (the same weights).
4. A store file deleted: ``snakemake -n all`` plans that model's generation again, and
   ``tina-repro status`` counts the lost samples.

Prints one line per check and exits 1 if any failed.

    python tests/check_run_identity.py [WORKDIR] [--profile PROFILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml
from helpers import ROOT, copy_finished, plan, snakemake

from tina_repro import paths
from tina_repro.config import WorkflowConfig, load_files
from tina_repro.files import read_json
from tina_repro.ops.status import format_status
from tina_repro.train.checkpoints import complete_checkpoints


class Failed(Exception):
    """One check's failure, in one line."""


class Workflow:
    """A copy of the finished workflow and how to run Snakemake in it."""

    def __init__(self, workdir: Path, profile: Path, configfiles: list[str]) -> None:
        self.workdir, self.profile, self.configfiles = workdir, profile, configfiles
        self.wc: WorkflowConfig = load_files(*(workdir / f for f in configfiles), root=workdir)

    def args(self, *args: str) -> list[str]:
        configs = ["--configfile", *map(str, (self.workdir / f for f in self.configfiles))]
        return ["--profile", str(self.profile), *args, *(configs if self.configfiles else [])]

    def run(self, *args: str) -> None:
        proc = snakemake(self.workdir, *self.args(*args))
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr)[-4000:]
            raise Failed(f"snakemake {' '.join(args)} failed:\n{tail}")

    def plan(self, *args: str) -> list[tuple[str, dict]]:
        return plan(self.workdir, *self.args(*args))

    def run_dir(self, run: str) -> Path:
        return self.workdir / paths.RUN_DIR.format(experiment=run)


def adapters(run_dir: Path) -> dict[int, bytes]:
    return {
        step: (folder / "adapter_model.safetensors").read_bytes()
        for step, folder in complete_checkpoints(run_dir).items()
    }


def smallest_run(wf: Workflow) -> str:
    """The finished run with the fewest steps (the quickest to retrain)."""
    steps = {
        run: read_json(wf.run_dir(run) / paths.MANIFEST)["final_step"] for run in wf.wc.experiments
    }
    return min(steps, key=lambda run: (steps[run], run))


def retrained(wf: Workflow, run: str, before: dict[int, bytes], reason: str) -> Path:
    """Checks that ``run`` trained afresh and its old folder is aside, intact; returns it."""
    aside = sorted(wf.workdir.glob(f"results/train/{run}.superseded-*"))
    if len(aside) != 1:
        raise Failed(f"{len(aside)} superseded folder(s) of {run}, expected 1")
    if adapters(aside[0]) != before:
        raise Failed(f"{aside[0].name} does not hold the old run's checkpoints byte for byte")
    sessions = read_json(wf.run_dir(run) / paths.SESSIONS)["sessions"]
    if [s["start_step"] for s in sessions] != [0]:
        raise Failed(f"{run} did not train afresh: sessions start at {sessions}")
    if sorted(adapters(wf.run_dir(run))) != sorted(before):
        raise Failed(f"{run} retrained to other checkpoints than before")
    log = (wf.workdir / "logs" / "train_grpo" / f"{run}.log").read_text()
    if f"{reason}; moved it aside to" not in log:
        raise Failed(f"the training log does not say '{reason}' and name the folder")
    return aside[0]


def changed_training_data(wf: Workflow) -> str:
    run = smallest_run(wf)
    before = adapters(wf.run_dir(run))
    row = wf.wc.datasets[wf.wc.experiments[run].dataset]
    source = wf.workdir / row.source.removeprefix("local:")
    lines = source.read_text(encoding="utf-8").splitlines()
    edited = []
    for number, line in enumerate(lines):
        problem = json.loads(line)
        if number % 2:
            problem[row.solution_column] = str(problem[row.solution_column]) + "1"
        edited.append(json.dumps(problem))
    source.write_text("\n".join(edited) + "\n", encoding="utf-8")
    wf.run(paths.RUN_MANIFEST.format(experiment=run))
    aside = retrained(wf, run, before, "its inputs changed (dataset_sha256)")
    old = read_json(aside / paths.RUN_IDENTITY)["inputs"]
    new = read_json(wf.run_dir(run) / paths.RUN_IDENTITY)["inputs"]
    differ = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
    if differ != ["dataset_sha256"]:
        raise Failed(f"the identities differ in {differ}, expected dataset_sha256 only")
    return f"{run} retrained on the changed data; its old folder is {aside.name}"


def forced_training(wf: Workflow) -> str:
    run = smallest_run(wf)
    before = adapters(wf.run_dir(run))
    wf.run(paths.RUN_MANIFEST.format(experiment=run), "--forcerun", "train_grpo")
    aside = retrained(wf, run, before, "is asked to train again")
    return f"{run} retrained from scratch; the finished run is {aside.name}"


def replaced_checkpoint(wf: Workflow) -> str:
    run = smallest_run(wf)
    steps = sorted(complete_checkpoints(wf.run_dir(run)))
    first, last = steps[0], steps[-1]
    weights = "adapter_model.safetensors"
    checkpoint = paths.RUN_CHECKPOINT.format(experiment=run, step="{}")
    shutil.copyfile(
        wf.workdir / checkpoint.format(first) / weights,
        wf.workdir / checkpoint.format(last) / weights,
    )
    point = paths.step_point(last)
    jobs = wf.plan("all")
    expected = {(rule, run, point) for rule in ("generate_samples", "grade_samples")}
    expensive = {
        (rule, w.get("run"), w.get("point"))
        for rule, w in jobs
        if rule in {"train_grpo", "generate_samples", "grade_samples"}
    }
    graded = sum(rule == "grade_samples" for rule, _ in jobs)
    if expensive != expected or graded != len(wf.wc.benchmarks):
        raise Failed(f"snakemake -n all plans {sorted(expensive)} ({graded} gradings)")
    benchmarks = list(wf.wc.benchmarks)
    wf.run(*(paths.SCORE.format(run=run, point=point, benchmark=b) for b in benchmarks))
    for benchmark in benchmarks:
        samples = [
            (wf.workdir / paths.SAMPLES.format(run=run, point=p, benchmark=benchmark)).read_bytes()
            for p in (paths.step_point(first), point)
        ]
        if samples[0] != samples[1]:
            raise Failed(f"{point}/{benchmark}: samples are not those of step {first}'s weights")
    return (
        f"{run}/{point} with step {first}'s weights: 1 generation and {graded} gradings planned; "
        f"its samples are now step {first}'s"
    )


def deleted_store_file(wf: Workflow) -> str:
    run = smallest_run(wf)
    point = paths.step_point(max(complete_checkpoints(wf.run_dir(run))))
    benchmark = next(iter(wf.wc.benchmarks))
    samples = wf.workdir / paths.SAMPLES.format(run=run, point=point, benchmark=benchmark)
    (samples.parent / os.readlink(samples)).unlink()
    generated = [w for rule, w in wf.plan("all") if rule == "generate_samples"]
    if generated != [{"run": run, "point": point}]:
        raise Failed(f"snakemake -n all plans generation of {generated}, expected {run}/{point}")
    status = format_status(wf.wc, wf.workdir).splitlines()
    if not status[-1].startswith("1 samples.jsonl link(s) point to a store file that is gone"):
        raise Failed(f"tina-repro status does not say so: {status[-1]!r}")
    return f"{run}/{point}/{benchmark}: regeneration planned, status counts 1 lost"


CHECKS: list[tuple[str, Callable[[Workflow], str]]] = [
    ("changed training data retrains", changed_training_data),
    ("--forcerun train_grpo retrains", forced_training),
    ("a checkpoint replaced in place is evaluated again", replaced_checkpoint),
    ("a deleted store file is generated again", deleted_store_file),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", nargs="?", default=".")
    parser.add_argument("--profile", default="profiles/demo")
    args = parser.parse_args(argv)
    source = Path(args.workdir).resolve()
    profile = ROOT / args.profile
    settings = yaml.safe_load((profile / "config.yaml").read_text())
    configfiles = [settings["configfile"]] if "configfile" in settings else []
    failures = 0
    for name, check in CHECKS:
        with tempfile.TemporaryDirectory(prefix="check_run_identity.") as scratch:
            workdir = Path(scratch) / "workdir"
            copy_finished(source, workdir)
            wf = Workflow(workdir, profile, configfiles)
            try:
                if wf.plan("all"):
                    raise Failed("the workflow is not finished: run it first")
                print(f"ok: {name}: {check(wf)}", flush=True)
            except Failed as failure:
                failures += 1
                print(f"FAIL: {name}: {failure}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
