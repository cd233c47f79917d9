"""The GPU check's summary (config/gpu-check/config.yaml): what its 2 training steps and handful of
evaluations measured, and the paper plan extrapolated from those measurements.

Printed by the Snakefile's ``onsuccess`` handler when ``gpu_check`` is set. Training: the last
logged step's ``step_time`` (the first step also pays for vLLM's start) and the peak GPU memory of
each run's manifest; the paper's training then takes its planned steps at that step time on each
row's GPU count, a rough figure, since rows differ in completion length. Evaluation: the
generation records' tokens/s and engine start time, fed into :func:`tina_repro.ops.plan.plan`
of the paper config. Prompt tokens: a model evaluated under both ``evaluation.prompt_tokens``
modes (the check's ``base`` and ``base_chat_template`` rows) gets its lighteval-minus-chat_template
difference, per benchmark and averaged, paired over problems (docs/paper.md#eval-bugs, item 5).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tina_repro import paths
from tina_repro.config import BASELINE_RUN, WorkflowConfig
from tina_repro.ops.plan import SECONDS_PER_HOUR, format_plan, plan, planned_steps
from tina_repro.results.stats import AVERAGE, gains_vs_base


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


def prompt_token_pairs(wc: WorkflowConfig) -> list[tuple[str, str]]:
    """(lighteval point, chat_template point) of every model the baselines sheet evaluates
    under both prompt-token modes."""
    by_model: dict[tuple, dict[str, str]] = {}
    for name, row in wc.baselines.items():
        model = (row.model, row.revision, row.adapter, row.adapter_revision, row.adapter_subfolder)
        by_model.setdefault(model, {}).setdefault(wc.prompt_tokens(BASELINE_RUN, name), name)
    return [
        (modes["lighteval"], modes["chat_template"])
        for modes in by_model.values()
        if {"lighteval", "chat_template"} <= set(modes)
    ]


def prompt_token_effect(wc: WorkflowConfig, workdir: Path) -> list[str]:
    """Lines: lighteval minus chat_template accuracy of each model evaluated both ways, in
    points with a paired 95% interval, per benchmark and averaged."""
    lines = []
    benchmarks = list(wc.benchmarks)
    for lighteval, chat_template in prompt_token_pairs(wc):
        graded = {
            (BASELINE_RUN, point, b): paths.fill(
                paths.GRADED, workdir, run=BASELINE_RUN, point=point, benchmark=b
            )
            for point in (lighteval, chat_template)
            for b in benchmarks
        }
        gains = gains_vs_base(graded, [(BASELINE_RUN, lighteval)], chat_template, benchmarks)
        head = f"prompt tokens: {lighteval} (lighteval) - {chat_template} (chat_template)"
        if not gains:
            lines.append(f"{head}: not graded yet")
            continue
        lines.append(f"{head}, points [95% paired interval]:")
        for benchmark in [*benchmarks, AVERAGE]:
            gain, low, high = gains[benchmark]
            lines.append(f"  {benchmark}: {gain:+.1f} [{low:+.1f}, {high:+.1f}]")
    return lines


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
    lines += prompt_token_effect(wc, workdir)
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
