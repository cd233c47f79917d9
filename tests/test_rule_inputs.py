"""What the rules' input functions (rules/inputs/*.smk) wrap: the inputs and params of a job
decided by package functions, on the paper and demo configs."""

import json
from pathlib import Path

import pytest
from helpers import demo_config, paper_config

from tina_repro import paths
from tina_repro.config import model_dir_of_input, model_input
from tina_repro.data import spec
from tina_repro.eval import points, store
from tina_repro.figures import params as figure_params
from tina_repro.results import inputs


def test_a_model_input_is_its_download_manifest_or_its_local_folder():
    hub = model_input("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "main")
    assert hub == "resources/models/deepseek-ai--DeepSeek-R1-Distill-Qwen-1.5B/manifest.json"
    assert model_input("org/m", "abc123") == "resources/models/org--m@abc123/manifest.json"
    assert model_input("local:resources/demo/base_model", None) == "resources/demo/base_model"
    assert model_dir_of_input(hub) == "resources/models/deepseek-ai--DeepSeek-R1-Distill-Qwen-1.5B"
    assert model_dir_of_input("resources/demo/base_model") == "resources/demo/base_model"


def test_a_local_source_is_an_input_and_a_hub_source_reads_the_hub_lock():
    demo, paper = demo_config(), paper_config()
    local = demo.benchmarks["demo_l1"]
    assert spec.local_source_files(local) == ["resources/demo/bench_l1.jsonl"]
    assert not spec.reads_hub_lock(local)
    hub = paper.benchmarks["aime24"]
    assert spec.local_source_files(hub) == [] and spec.reads_hub_lock(hub)
    templates = {"math": "M {problem}", "gpqa": "G {problem}"}
    assert spec.benchmark_templates(paper.benchmarks["gpqa_diamond"], templates) == {
        "gpqa": "G {problem}"
    }


def test_evaluated_inputs_of_a_checkpoint_and_of_baselines():
    wc = paper_config()
    base = "resources/models/deepseek-ai--DeepSeek-R1-Distill-Qwen-1.5B/manifest.json"
    assert points.evaluated_inputs(wc, "open_rs2", "step-450") == {
        "model": base,
        "training": "results/train/open_rs2/manifest.json",
    }
    released = points.evaluated_inputs(wc, "baseline", "still_released")
    assert released == {
        "model": base,
        "adapter": "resources/models/Tina-Yi--R1-Distill-Qwen-1.5B-STILL/manifest.json",
    }
    assert set(points.evaluated_inputs(wc, "baseline", "base")) == {"model"}
    assert list(points.gold_formats(wc)) == list(wc.benchmarks)


def test_generation_settings_carry_adapter_keys_only_with_an_adapter():
    wc = paper_config()
    checkpoint = points.generation_settings(wc, "open_rs2", "step-450")
    base = points.generation_settings(wc, "baseline", "base")
    assert set(base) < set(checkpoint)
    assert checkpoint["prompt_tokens"] == wc.config["evaluation"]["prompt_tokens"]


@pytest.fixture
def demo_workdir(tmp_path, monkeypatch):
    """The demo's base model, a checkpoint of run demo and a prepared benchmark, in the working
    directory (samples_to_grade reads paths relative to it)."""
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "resources" / "demo" / "base_model"
    model.mkdir(parents=True)
    (model / "model.safetensors").write_bytes(b"base weights")
    adapter = tmp_path / paths.RUN_CHECKPOINT.format(experiment="demo", step=20)
    adapter.mkdir(parents=True)
    (adapter / "adapter_model.safetensors").write_bytes(b"step 20")
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 8, "target_modules": ["q"]}))
    parquet = tmp_path / paths.BENCHMARK_PARQUET.format(benchmark="demo_l1")
    parquet.parent.mkdir(parents=True)
    parquet.write_bytes(b"problems")
    return demo_config()


def test_samples_are_graded_again_unless_their_grades_are_current(demo_workdir):
    wc = demo_workdir
    where = {"run": "demo", "point": "step-20", "benchmark": "demo_l1"}
    samples = paths.SAMPLES.format(**where)
    assert points.samples_to_grade(wc, **where) == (samples, False)  # nothing graded yet
    model = points.evaluated_dirs(wc, "demo", "step-20")
    identity = store.samples_identity(
        paths.BENCHMARK_PARQUET.format(benchmark="demo_l1"),
        model["model"],
        model["adapter"],
        points.generation_settings(wc, "demo", "step-20"),
        "expr",
    )
    stored = store.store_path(samples, identity)
    stored.parent.mkdir(parents=True)
    stored.write_text("{}\n")
    store.link(samples, stored)
    score = paths.SCORE.format(**where)
    with open(score, "w") as handle:
        json.dump({"identity": {"samples_store": stored.name}}, handle)
    assert points.samples_to_grade(wc, **where) == (samples, True)
    # a checkpoint replaced in place is another identity: the grades are of other samples
    (Path(model["adapter"]) / "adapter_model.safetensors").write_bytes(b"retrained")
    assert points.samples_to_grade(wc, **where) == (samples, False)


def test_checkpoint_files_come_from_the_manifests(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"checkpoint_steps": [20, 40]}))
    checkpoints = inputs.checkpoint_points({"demo": manifest})
    assert checkpoints == [("demo", "step-20"), ("demo", "step-40")]
    assert inputs.eval_files(paths.SCORE, checkpoints, ["a", "b"]) == [
        "results/eval/demo/step-20/a/score.json",
        "results/eval/demo/step-20/b/score.json",
        "results/eval/demo/step-40/a/score.json",
        "results/eval/demo/step-40/b/score.json",
    ]
    assert inputs.model_files(paths.GENERATION_TIMING, [("baseline", "base")]) == [
        "benchmarks/generate_samples/baseline/base.tsv"
    ]


def test_figure_params():
    wc = paper_config()
    assert figure_params.run_title(wc, "open_rs2") == "Tina-Open-RS2 (open_rs2)"
    unnamed = next(name for name, row in wc.experiments.items() if not row.paper_name)
    assert figure_params.run_title(wc, unnamed) == unnamed
    assert figure_params.overall_comparison_runs(wc, ["still"]) == {
        "still": {"dataset": "still3", "num_generations": 4}
    }
