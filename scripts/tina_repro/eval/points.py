"""The evaluated points: a checkpoint of a run, or a baseline (a Hub or local model with an
optional adapter); the folders the generation backend opens for one, and which of their samples
lost their store file."""

from __future__ import annotations

from pathlib import Path

from tina_repro import paths
from tina_repro.config import BASELINE_RUN, WorkflowConfig, model_dir
from tina_repro.eval.store import is_dangling
from tina_repro.files import read_json


def evaluated_dirs(wc: WorkflowConfig, run: str, point: str) -> dict[str, str | None]:
    """``{"model": base weights folder, "adapter": LoRA adapter folder or None}`` of ``point``
    of ``run`` (``{experiment}/step-N`` or ``baseline/{name}``)."""
    if run == BASELINE_RUN:
        row = wc.baselines[point]
        adapter = None
        if row.adapter:
            adapter = model_dir(row.adapter, row.adapter_revision)
            if row.adapter_subfolder:
                adapter = f"{adapter}/{row.adapter_subfolder}"
        return {"model": model_dir(row.model, row.revision), "adapter": adapter}
    base = wc.config["base_model"]
    return {
        "model": model_dir(base["source"], base["revision"]),
        "adapter": paths.RUN_CHECKPOINT.format(experiment=run, step=paths.point_step(point)),
    }


def evaluated_points(wc: WorkflowConfig, workdir: str | Path = ".") -> list[tuple[str, str]]:
    """(run, point) of every baseline and of every checkpoint a finished run's manifest lists."""
    points = [(BASELINE_RUN, name) for name in wc.baselines]
    for experiment in wc.experiments:
        manifest = paths.fill(paths.RUN_MANIFEST, workdir, experiment=experiment)
        if manifest.is_file():
            steps = read_json(manifest)["checkpoint_steps"]
            points += [(experiment, paths.step_point(step)) for step in steps]
    return points


def lost_samples(wc: WorkflowConfig, workdir: str | Path = ".") -> list[Path]:
    """samples.jsonl of the config's evaluations whose store file is gone (dangling links),
    relative to ``workdir``: what ``all`` and ``tables`` ask for, so they are generated again
    (Snakemake checks that a target's inputs exist; of a finished job, only its outputs)."""
    lost = []
    for run, point in evaluated_points(wc, workdir):
        for benchmark in wc.benchmarks:
            samples = paths.SAMPLES.format(run=run, point=point, benchmark=benchmark)
            if is_dangling(Path(workdir) / samples):
                lost.append(Path(samples))
    return lost
