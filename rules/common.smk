# Configuration loading, validation, wildcard constraints and input functions.
# The logic lives in the tina_repro package (scripts/tina_repro), importable here and in scripts;
# every artifact path comes from tina_repro.paths, which the package uses too.
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.join(workflow.basedir, "scripts"))

from tina_repro import config as workflow_config
from tina_repro import errors
from tina_repro import paths
from tina_repro.config import BASELINE_RUN, is_local, model_slug, wildcard_pattern
from tina_repro.config.rows import ABLATION_TABLES, as_params
from tina_repro.config.targets import figure_targets, table_targets
from tina_repro.train.context import TrainingContext

try:
    W = workflow_config.load(config)
except workflow_config.ConfigError as error:
    errors.exit_with(error, "invalid configuration")

EXPERIMENTS = list(W.experiments)
BENCHMARKS = list(W.benchmarks)
BASELINES = list(W.baselines)
MAIN_EXPERIMENTS = W.experiments_in("main")
ABLATION_EXPERIMENTS = W.experiments_in(*ABLATION_TABLES)
# Every job that loads the configuration reads these files: they are its declared inputs.
SHEETS = [config[sheet] for sheet in ("experiments", "datasets", "benchmarks", "baselines")]


# Every Hub repository the workflow downloads: the base model, baseline models and adapters.
HUB_MODELS = {}
for _source, _revision in [
    (W.config["base_model"]["source"], W.config["base_model"]["revision"]),
    *[(row.model, row.revision) for row in W.baselines.values()],
    *[(row.adapter, row.adapter_revision) for row in W.baselines.values() if row.adapter],
]:
    if not is_local(_source):
        HUB_MODELS[model_slug(_source, _revision)] = {
            "source": _source,
            "revision": _revision or "main",
        }


wildcard_constraints:
    experiment=wildcard_pattern(EXPERIMENTS),
    dataset=wildcard_pattern(W.datasets),
    benchmark=wildcard_pattern(BENCHMARKS),
    model=wildcard_pattern(HUB_MODELS) if HUB_MODELS else "(?!)",
    run=wildcard_pattern([*EXPERIMENTS, BASELINE_RUN]),
    point=r"step-\d+|" + wildcard_pattern(BASELINES),
    step=r"\d+",


def model_dir(source, revision):
    """Where a model (or adapter) lives on disk once available."""
    if is_local(source):
        return source.removeprefix("local:")
    return paths.MODEL_DIR.format(model=model_slug(source, revision))


def model_input(source, revision):
    """The file that proves a model is available: a download manifest, or the local folder."""
    if is_local(source):
        return source.removeprefix("local:")
    return paths.MODEL_MANIFEST.format(model=model_slug(source, revision))


def base_model_input():
    base = W.config["base_model"]
    return model_input(base["source"], base["revision"])


def base_model_dir():
    base = W.config["base_model"]
    return model_dir(base["source"], base["revision"])


def model_dir_of(wildcards, input):
    """The base model folder behind the training job's model input (manifest or local folder)."""
    path = input.base_model
    return os.path.dirname(path) if path.endswith(paths.MANIFEST) else path


# ---- data --------------------------------------------------------------------------------------
def dataset_spec(wildcards):
    return as_params(W.datasets[wildcards.dataset])


def benchmark_spec(wildcards):
    return as_params(W.benchmarks[wildcards.benchmark])


def local_source_input(row):
    """Local data files are inputs, so a rule that makes them (the demo) runs first."""
    return [row.source.removeprefix("local:")] if is_local(row.source) else []


def dataset_source(wildcards):
    return local_source_input(W.datasets[wildcards.dataset])


def benchmark_gold_format(wildcards):
    return W.benchmarks[wildcards.benchmark].gold_format


def benchmark_templates(wildcards):
    """The prompt template of the benchmark's own task, by name: editing another task's template
    never re-prepares it."""
    name = W.benchmarks[wildcards.benchmark].template
    return {name: config["prompt_templates"][name]}


def benchmark_source(wildcards):
    return local_source_input(W.benchmarks[wildcards.benchmark])


def hub_model_spec(wildcards):
    return HUB_MODELS[wildcards.model]


# ---- training ----------------------------------------------------------------------------------
def training_row(wildcards):
    """The experiment row as the trainer takes it; the free-text comment never triggers a rerun."""
    row = as_params(W.experiments[wildcards.experiment])
    row["comment"] = None
    return row


def training_context(wildcards):
    """The config settings a run depends on besides its row (base model, prompt, template)."""
    return as_params(TrainingContext.of(W, wildcards.experiment))


def training_dataset(wildcards):
    return paths.DATASET_PARQUET.format(dataset=W.experiments[wildcards.experiment].dataset)


def training_gpus(wildcards):
    return W.experiments[wildcards.experiment].gpus


# ---- evaluation --------------------------------------------------------------------------------
def evaluated_model(wildcards):
    """Model, adapter and training inputs of one evaluated point (checkpoint or baseline).

    ancient(): a re-downloaded model or a resumed training run (which rewrites its manifest)
    must not re-evaluate checkpoints that were already evaluated.
    """
    inputs = {"benchmark": paths.BENCHMARK_PARQUET.format(benchmark=wildcards.benchmark)}
    if wildcards.run == BASELINE_RUN:
        row = W.baselines[wildcards.point]
        inputs["model"] = ancient(model_input(row.model, row.revision))
        if row.adapter:
            inputs["adapter"] = ancient(model_input(row.adapter, row.adapter_revision))
    else:
        inputs["model"] = ancient(base_model_input())
        inputs["training"] = ancient(paths.RUN_MANIFEST.format(experiment=wildcards.run))
    return inputs


def evaluated_model_params(wildcards):
    """Directories the generation backend loads: base weights and an optional LoRA adapter."""
    if wildcards.run == BASELINE_RUN:
        row = W.baselines[wildcards.point]
        adapter = None
        if row.adapter:
            adapter = model_dir(row.adapter, row.adapter_revision)
            if row.adapter_subfolder:
                adapter = f"{adapter}/{row.adapter_subfolder}"
        return {"model": model_dir(row.model, row.revision), "adapter": adapter}
    return {
        "model": base_model_dir(),
        "adapter": paths.RUN_CHECKPOINT.format(
            experiment=wildcards.run, step=paths.point_step(wildcards.point)
        ),
    }


def generation_settings():
    """Evaluation settings that shape the samples; grading-only settings never regenerate."""
    return {k: v for k, v in config["evaluation"].items() if k != "grading_processes"}


def saved_steps(experiment):
    """Checkpoint steps of a finished training run (re-evaluated once its checkpoint job ran)."""
    manifest = checkpoints.train_grpo.get(experiment=experiment).output.manifest
    return json.loads(Path(manifest).read_text())["checkpoint_steps"]


def run_eval_files(pattern, experiments):
    """``pattern`` (a results/eval file) for every saved checkpoint of ``experiments``."""
    return [
        pattern.format(run=experiment, point=paths.step_point(step), benchmark=benchmark)
        for experiment in experiments
        for step in saved_steps(experiment)
        for benchmark in BENCHMARKS
    ]


def run_score_files(wildcards):
    return run_eval_files(paths.SCORE, [wildcards.experiment])


def baseline_eval_files(pattern, points=None):
    """``pattern`` for every baseline (or the given ones) and benchmark."""
    return expand(
        pattern,
        run=BASELINE_RUN,
        point=BASELINES if points is None else points,
        benchmark=BENCHMARKS,
    )


def graded_files(experiments):
    """graded.jsonl of every checkpoint of ``experiments`` and of every baseline: the per-problem
    results behind the average intervals and the paired gains of a table."""

    def files(wildcards):
        return [*run_eval_files(paths.GRADED, experiments), *baseline_eval_files(paths.GRADED)]

    return files


def generation_timing_files(wildcards):
    """The Snakemake benchmark file of every generation job: the evaluation cost."""
    return [
        *run_eval_files(paths.GENERATION_TIMING, EXPERIMENTS),
        *baseline_eval_files(paths.GENERATION_TIMING),
    ]


def run_tables(experiments):
    return expand(paths.RUN_SCORES, experiment=experiments)


def run_manifests(experiments):
    return expand(paths.RUN_MANIFEST, experiment=experiments)


def paper_results(name):
    return os.path.join(config["paper_results"], name)


# ---- figures -----------------------------------------------------------------------------------
def base_model_score_files():
    """score.json files of the baseline that evaluates the untrained base model, drawn as a
    reference line (none when the baselines sheet has no such row)."""
    point = W.base_model_point()
    return [] if point is None else baseline_eval_files(paths.SCORE, [point])


def run_title(wildcards):
    """A run's figure title: the paper's name with ours, or ours where the paper has none."""
    paper_name = W.experiments[wildcards.experiment].paper_name
    return f"{paper_name} ({wildcards.experiment})" if paper_name else wildcards.experiment


# ---- pre-flight --------------------------------------------------------------------------------
def check_planned_devices():
    """Refuse a run whose planned jobs need more GPUs than this host has, before any job starts
    (jobs a cluster executor sends elsewhere are not checked here)."""
    from tina_repro import gpu_lease
    from tina_repro.config.preflight import check_devices

    if workflow.touch or not workflow.local_exec:
        return
    jobs = [
        (job.rule.name, dict(job.wildcards_dict), int(job.resources.get("gpu", 0) or 0))
        for job in workflow.dag.needrun_jobs()
    ]
    try:
        check_devices(W, jobs, len(gpu_lease.visible_devices()))
    except errors.UserError as error:
        errors.exit_with(error)


onstart:
    check_planned_devices()
