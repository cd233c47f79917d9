"""The evaluated points: a checkpoint of a run, or a baseline (a Hub or local model with an
optional adapter); the folders the generation backend opens for one, the inputs and settings of
its generation and grading jobs (rules/eval.smk wraps these), and which of their samples lost
their store file."""

from __future__ import annotations

from pathlib import Path

from tina_repro import paths
from tina_repro.config import BASELINE_RUN, WorkflowConfig, model_dir, model_input
from tina_repro.eval.store import grades_are_current, is_dangling
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


def evaluated_inputs(wc: WorkflowConfig, run: str, point: str) -> dict[str, str]:
    """The files that prove the weights of ``point`` of ``run`` are there: ``model`` (a
    download manifest or local folder), and ``adapter`` (a baseline's) or ``training`` (the
    run's manifest). The rule takes them ``ancient()``: a re-downloaded model or a resumed run
    (which rewrites its manifest) evaluates nothing again; the weights' content reaches the job
    as a fingerprint param instead."""
    if run == BASELINE_RUN:
        row = wc.baselines[point]
        inputs = {"model": model_input(row.model, row.revision)}
        if row.adapter:
            inputs["adapter"] = model_input(row.adapter, row.adapter_revision)
        return inputs
    base = wc.config["base_model"]
    return {
        "model": model_input(base["source"], base["revision"]),
        "training": paths.RUN_MANIFEST.format(experiment=run),
    }


def generation_settings(wc: WorkflowConfig, run: str, point: str) -> dict:
    """The settings that define the samples of ``point`` of ``run``
    (:meth:`~tina_repro.config.evaluation.EvaluationSettings.sampling_identity`), a baselines
    row's own prompt_tokens included: batch size, vLLM memory and grading settings never
    regenerate."""
    has_adapter = bool(evaluated_dirs(wc, run, point)["adapter"])
    return wc.evaluation_settings(run, point).sampling_identity(has_adapter)


def gold_formats(wc: WorkflowConfig) -> dict[str, str]:
    """benchmark -> gold_format, in the sheet's order: what a generation job runs."""
    return {name: row.gold_format for name, row in wc.benchmarks.items()}


def samples_to_grade(wc: WorkflowConfig, run: str, point: str, benchmark: str) -> tuple[str, bool]:
    """The samples.jsonl the grading job of (``run``, ``point``, ``benchmark``) reads, and
    whether its grades are current (:func:`tina_repro.eval.store.grades_are_current`; relative
    to the working directory). The rule takes a current one ``ancient()``: a rerun of the
    generation job that only links the finished samples again (a benchmark was added) then
    regrades nothing."""
    where = {"run": run, "point": point, "benchmark": benchmark}
    samples = paths.SAMPLES.format(**where)
    model = evaluated_dirs(wc, run, point)
    current = grades_are_current(
        samples,
        paths.SCORE.format(**where),
        paths.BENCHMARK_PARQUET.format(benchmark=benchmark),
        model["model"],
        model["adapter"],
        generation_settings(wc, run, point),
        wc.benchmarks[benchmark].gold_format,
    )
    return samples, current


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
