"""The GPU check's summary (config/gpu-check/config.yaml): what its 2 training steps and handful of
evaluations measured, and the paper plan extrapolated from those measurements.

Printed by the Snakefile's ``onsuccess`` handler when ``gpu_check`` is set. Training: the last
logged step's ``step_time`` (the first step also pays for vLLM's start) and the peak GPU memory of
each run's manifest; the paper's training then takes its planned steps at that step time on each
row's GPU count, a rough figure, since rows differ in completion length. Evaluation: the
generation records' tokens/s and engine start time, fed into :func:`tina_repro.results.plan.plan`
of the paper config.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tina_repro import paths
from tina_repro.config import WorkflowConfig
from tina_repro.results.plan import SECONDS_PER_HOUR, format_plan, plan, planned_steps


def training_measurements(wc: WorkflowConfig, workdir: Path) -> list[dict]:
    """Per finished run: steps, last step time (s), peak GPU memory (MB), device."""
    found = []
    for experiment in wc.experiments:
        manifest_path = paths.fill(paths.RUN_MANIFEST, workdir, experiment=experiment)
        if not manifest_path.is_file():
            continue
        manifest = json.loads(manifest_path.read_text())
        history = pd.read_csv(paths.fill(paths.RUN_LOG_HISTORY, workdir, experiment=experiment))
        step_times = history["step_time"].dropna() if "step_time" in history else pd.Series()
        found.append(
            {
                "experiment": experiment,
                "steps": len(history),
                "step_seconds": float(step_times.iloc[-1]) if len(step_times) else None,
                "peak_gpu_memory_mb": manifest.get("peak_gpu_memory_mb"),
                "device_name": manifest.get("device_name"),
                "gpus": wc.experiments[experiment].gpus,
            }
        )
    return found


def paper_training_hours(paper: WorkflowConfig, step_seconds: float) -> float:
    """GPU-hours of every planned paper step at ``step_seconds`` each, on each row's GPUs."""
    return (
        sum(
            planned_steps(paper, name)[-1] * step_seconds * max(row.gpus, 1)
            for name, row in paper.experiments.items()
        )
        / SECONDS_PER_HOUR
    )


def summary(wc: WorkflowConfig, workdir: Path, paper: WorkflowConfig) -> str:
    """The check's measurements and the paper plan they extrapolate to, as text."""
    lines = ["GPU check: measured"]
    runs = training_measurements(wc, workdir)
    for run in runs:
        memory, seconds = run["peak_gpu_memory_mb"], run["step_seconds"]
        lines.append(
            f"  training {run['experiment']}: {run['steps']} steps on {run['device_name']}, "
            + (f"last step {seconds:.1f} s" if seconds is not None else "no step_time logged")
            + ", peak GPU memory "
            + (f"{memory / 1024:.1f} GiB" if memory is not None else "not recorded")
        )
    paper_plan = plan(paper, workdir, rates_from=workdir)
    usd = paper_plan.usd_per_device_hour
    timed = [run for run in runs if run["step_seconds"]]
    if timed:
        hours = paper_training_hours(paper, timed[0]["step_seconds"])
        lines.append(
            f"paper training at that step time: {hours:,.0f} GPU-hours, ${hours * usd:,.0f} at "
            f"${usd:g}/GPU-hour (every row at {timed[0]['experiment']}'s step time: rough)"
        )
    lines += ["paper evaluation plan from the measured rates:", format_plan(paper_plan)]
    return "\n".join(lines)
