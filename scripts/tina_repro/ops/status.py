"""What is done and what is pending, per experiment, read from the files the workflow writes.

Training progress is the newest complete ``checkpoint-N`` folder (a run in flight has no manifest
yet; "complete" is the definition training resumes by); evaluation progress counts ``score.json``
files of the saved checkpoints, and "samples lost" the ``samples.jsonl`` links whose store file
is gone (``snakemake all`` generates them again). ``snakemake -n`` gives the same picture as
jobs; this is the per-experiment summary a researcher scans first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tina_repro import paths
from tina_repro.config import BASELINE_RUN, WorkflowConfig
from tina_repro.eval.points import lost_samples
from tina_repro.train.checkpoints import complete_checkpoints


@dataclass
class RunStatus:
    experiment: str
    trained_step: int
    stop_step: int | None
    finished: bool
    checkpoints_saved: int
    checkpoints_evaluated: int
    evaluations_pending: int
    samples_lost: int  #: samples.jsonl links of its evaluations whose store file is gone


def saved_checkpoints(run_dir: Path) -> list[int]:
    """Steps of the complete checkpoints of a run folder."""
    return sorted(complete_checkpoints(run_dir))


def run_status(wc: WorkflowConfig, experiment: str, workdir: Path = Path(".")) -> RunStatus:
    run_dir = paths.fill(paths.RUN_DIR, workdir, experiment=experiment)
    steps = saved_checkpoints(run_dir)
    benchmarks = list(wc.benchmarks)
    evaluated = pending = 0
    for step in steps:
        point = paths.step_point(step)
        done = sum(
            paths.fill(paths.SCORE, workdir, run=experiment, point=point, benchmark=b).is_file()
            for b in benchmarks
        )
        evaluated += done == len(benchmarks)
        pending += len(benchmarks) - done
    row = wc.experiments[experiment]
    return RunStatus(
        experiment=experiment,
        trained_step=steps[-1] if steps else 0,
        stop_step=row.stop_step if row.stop_step is not None else row.max_steps,
        finished=(run_dir / paths.MANIFEST).is_file(),
        checkpoints_saved=len(steps),
        checkpoints_evaluated=evaluated,
        evaluations_pending=pending,
        samples_lost=samples_lost(wc, experiment, workdir),
    )


def samples_lost(wc: WorkflowConfig, run: str, workdir: Path = Path(".")) -> int:
    """How many samples.jsonl of ``run`` (an experiment, or the baselines) link to a store file
    that is gone (:func:`tina_repro.eval.points.lost_samples`)."""
    return sum(paths.eval_parts(path)[0] == run for path in lost_samples(wc, workdir))


def baseline_pending(wc: WorkflowConfig, workdir: Path = Path(".")) -> int:
    return sum(
        not paths.fill(paths.SCORE, workdir, run=BASELINE_RUN, point=name, benchmark=b).is_file()
        for name in wc.baselines
        for b in wc.benchmarks
    )


def format_status(wc: WorkflowConfig, workdir: Path = Path(".")) -> str:
    """A fixed-width table, one line per experiment, then the baselines' pending evaluations."""
    lines = [
        f"{'experiment':<18} {'trained/stop':>14} {'state':>9} "
        f"{'ckpts eval/saved':>17} {'evals pending':>14} {'samples lost':>13}"
    ]
    lost = 0
    for name in wc.experiments:
        s = run_status(wc, name, workdir)
        stop = "epoch" if s.stop_step is None else str(s.stop_step)
        state = "done" if s.finished else ("partial" if s.trained_step else "pending")
        lines.append(
            f"{name:<18} {f'{s.trained_step}/{stop}':>14} {state:>9} "
            f"{f'{s.checkpoints_evaluated}/{s.checkpoints_saved}':>17} "
            f"{s.evaluations_pending:>14} {s.samples_lost:>13}"
        )
        lost += s.samples_lost
    total = len(wc.baselines) * len(wc.benchmarks)
    baselines_lost = samples_lost(wc, BASELINE_RUN, workdir)
    lines.append(
        f"baselines: {total - baseline_pending(wc, workdir)}/{total} evaluations done, "
        f"{baselines_lost} samples lost"
    )
    if lost + baselines_lost:
        lines.append(
            f"{lost + baselines_lost} samples.jsonl link(s) point to a store file that is gone: "
            "`snakemake all` generates them again"
        )
    return "\n".join(lines)
