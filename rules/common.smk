# Configuration loading, validation, wildcard constraints and input functions.
# The logic lives in the tina_repro package (scripts/tina_repro), importable here and in scripts.
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.join(workflow.basedir, "scripts"))

from snakemake.exceptions import WorkflowError
from tina_repro import workflow_config
from tina_repro.workflow_config import (
    BASELINE_RUN,
    is_local,
    model_slug,
    wildcard_pattern,
)

try:
    W = workflow_config.load(config)
except workflow_config.ConfigError as error:
    raise WorkflowError(f"invalid configuration: {error}") from None

EXPERIMENTS = list(W.experiments)
BENCHMARKS = list(W.benchmarks)
BASELINES = list(W.baselines)
ABLATION_TABLES = ["datasets", "learning_rate", "lora_rank", "rl_algorithm"]
MAIN_EXPERIMENTS = W.experiments_in("main")
ABLATION_EXPERIMENTS = W.experiments_in(*ABLATION_TABLES)


# Every Hub repository the workflow downloads: the base model, baseline models and adapters.
HUB_MODELS = {}
for _source, _revision in [
    (W.config["base_model"]["source"], W.config["base_model"]["revision"]),
    *[(row["model"], row["revision"]) for row in W.baselines.values()],
    *[(row["adapter"], row["adapter_revision"]) for row in W.baselines.values() if row["adapter"]],
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
    return f"resources/models/{model_slug(source, revision)}"


def model_input(source, revision):
    """The file that proves a model is available: a download manifest, or the local folder."""
    if is_local(source):
        return source.removeprefix("local:")
    return f"resources/models/{model_slug(source, revision)}/manifest.json"


def base_model_input():
    base = W.config["base_model"]
    return model_input(base["source"], base["revision"])


def base_model_dir():
    base = W.config["base_model"]
    return model_dir(base["source"], base["revision"])


def model_dir_of(wildcards, input):
    """The base model folder behind the training job's model input (manifest or local folder)."""
    path = input.base_model
    return os.path.dirname(path) if path.endswith("manifest.json") else path


# ---- data --------------------------------------------------------------------------------------
def dataset_spec(wildcards):
    return W.datasets[wildcards.dataset]


def benchmark_spec(wildcards):
    return W.benchmarks[wildcards.benchmark]


def local_source_input(spec):
    """Local data files are inputs, so a rule that makes them (the demo) runs first."""
    return [spec["source"].removeprefix("local:")] if is_local(spec["source"]) else []


def dataset_source(wildcards):
    return local_source_input(W.datasets[wildcards.dataset])


def benchmark_gold_format(wildcards):
    return W.benchmarks[wildcards.benchmark]["gold_format"]


def benchmark_source(wildcards):
    return local_source_input(W.benchmarks[wildcards.benchmark])


def hub_model_spec(wildcards):
    return HUB_MODELS[wildcards.model]


# ---- training ----------------------------------------------------------------------------------
def training_row(wildcards):
    """The experiment row as the trainer takes it; the free-text comment never triggers a rerun."""
    row = W.training_row(wildcards.experiment)
    row.pop("comment")
    return row


def training_dataset(wildcards):
    return f"resources/datasets/{W.experiments[wildcards.experiment]['dataset']}.parquet"


def training_gpus(wildcards):
    return W.experiments[wildcards.experiment]["gpus"]


# ---- evaluation --------------------------------------------------------------------------------
def evaluated_model(wildcards):
    """Model, adapter and training inputs of one evaluated point (checkpoint or baseline).

    ancient(): a re-downloaded model or a resumed training run (which rewrites its manifest)
    must not re-evaluate checkpoints that were already evaluated.
    """
    inputs = {"benchmark": f"resources/benchmarks/{wildcards.benchmark}.parquet"}
    if wildcards.run == BASELINE_RUN:
        row = W.baselines[wildcards.point]
        inputs["model"] = ancient(model_input(row["model"], row["revision"]))
        if row["adapter"]:
            inputs["adapter"] = ancient(model_input(row["adapter"], row["adapter_revision"]))
    else:
        inputs["model"] = ancient(base_model_input())
        inputs["training"] = ancient(f"results/train/{wildcards.run}/manifest.json")
    return inputs


def evaluated_model_params(wildcards):
    """Directories the generation backend loads: base weights and an optional LoRA adapter."""
    if wildcards.run == BASELINE_RUN:
        row = W.baselines[wildcards.point]
        adapter = None
        if row["adapter"]:
            adapter = model_dir(row["adapter"], row["adapter_revision"])
            if row["adapter_subfolder"]:
                adapter = f"{adapter}/{row['adapter_subfolder']}"
        return {"model": model_dir(row["model"], row["revision"]), "adapter": adapter}
    step = wildcards.point.removeprefix("step-")
    return {
        "model": base_model_dir(),
        "adapter": f"results/train/{wildcards.run}/checkpoint-{step}",
    }


def generation_settings():
    """Evaluation settings that shape the samples; grading-only settings never regenerate."""
    return {k: v for k, v in config["evaluation"].items() if k != "grading_processes"}


def saved_steps(experiment):
    """Checkpoint steps of a finished training run (re-evaluated once its checkpoint job ran)."""
    manifest = checkpoints.train_grpo.get(experiment=experiment).output.manifest
    return json.loads(Path(manifest).read_text())["checkpoint_steps"]


def run_score_files(wildcards):
    return expand(
        "results/eval/{run}/step-{step}/{benchmark}/score.json",
        run=wildcards.experiment,
        step=saved_steps(wildcards.experiment),
        benchmark=BENCHMARKS,
    )


def baseline_score_files():
    return expand(
        "results/eval/{run}/{point}/{benchmark}/score.json",
        run=BASELINE_RUN,
        point=BASELINES,
        benchmark=BENCHMARKS,
    )


def run_tables(experiments):
    return expand("results/scores/{experiment}.csv", experiment=experiments)


def table_targets():
    return [
        "results/tables/main.csv",
        "results/tables/ablations.csv",
        "results/tables/checkpoints.csv",
        "results/tables/costs.csv",
        "results/tables/flops.csv",
    ]


# ---- figures -----------------------------------------------------------------------------------
def base_model_point():
    """The baseline row that evaluates the untrained base model, drawn as a reference line."""
    return W.base_model_point()


def base_model_score_files():
    point = base_model_point()
    if point is None:
        return []
    return expand(
        "results/eval/{run}/{point}/{benchmark}/score.json",
        run=BASELINE_RUN,
        point=point,
        benchmark=BENCHMARKS,
    )


def run_title(wildcards):
    """A run's figure title: the paper's name with ours, or ours where the paper has none."""
    paper_name = W.experiments[wildcards.experiment]["paper_name"]
    return f"{paper_name} ({wildcards.experiment})" if paper_name else wildcards.experiment


def figure_targets():
    """Every figure of the config as PDF and PNG: the paper-level ones and two per run."""
    names = ["flops_vs_performance"]
    if MAIN_EXPERIMENTS:
        names += ["overall_comparison", "cost_vs_performance"]
        if workflow_config.has_published_scores(config["paper_results"]):
            names.append("reproduced_vs_published")
    if ABLATION_EXPERIMENTS:
        names.append("ablations")
    names += [
        f"{kind}/{e}" for kind in ("training_dynamics", "checkpoint_curves") for e in EXPERIMENTS
    ]
    return expand("results/figures/{name}.{ext}", name=names, ext=["pdf", "png"])
