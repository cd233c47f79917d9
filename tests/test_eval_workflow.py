"""The evaluation stage run by real Snakemake on CPU: two saved checkpoints of a finished run,
two local benchmarks, tiny model, transformers backend. Samples are identified by the content of
the evaluated weights: a checkpoint replaced in place is generated and graded again."""

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from helpers import (
    ROOT,
    dry_run,
    edit_sheet,
    keep_rows,
    paper_config,
    paper_row,
    parse_plan,
    snakemake,
    write_jsonl,
    write_sheet,
)

from tina_repro import paths
from tina_repro.config import load_files, model_slug
from tina_repro.demo.tiny_model import build_tiny_model
from tina_repro.ops.status import format_status

# Every test runs Snakemake.
pytestmark = pytest.mark.slow

EXPERIMENT = "tiny_run"
STEPS = (5, 10)
BENCHMARKS = ("tiny_math", "tiny_gpqa")


def save_adapter(model_dir: Path, out: Path, seed: int) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    config = LoraConfig(
        r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    get_peft_model(model, config).save_pretrained(out)


@pytest.fixture
def workdir(tmp_path):
    """A working directory whose training run already finished with checkpoints 5 and 10
    (adapters with non-zero B, so each visibly changes the model)."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    data = tmp_path / "data"
    data.mkdir()
    model_dir = build_tiny_model(data / "tiny_model", seed=0, size="test")

    math_source = write_jsonl(
        data / "math.jsonl",
        [
            {"problem": f"What is ${a}+{b}$?", "answer": str(a + b)}
            for a, b in [(2, 3), (4, 4), (7, 1)]
        ],
    )
    gpqa_source = write_jsonl(
        data / "gpqa.jsonl",
        [
            {
                "Question": f"Which number is {n}?",
                "Correct Answer": str(n),
                "Incorrect Answer 1": str(n + 1),
                "Incorrect Answer 2": str(n + 2),
                "Incorrect Answer 3": str(n + 3),
            }
            for n in (1, 5, 9)
        ],
    )
    benchmarks = [
        {
            **paper_row("benchmarks.tsv", "aime24"),
            "name": "tiny_math",
            "expected_size": "3",
            "source": f"local:{math_source}",
        },
        {
            **paper_row("benchmarks.tsv", "gpqa_diamond"),
            "name": "tiny_gpqa",
            "expected_size": "3",
            "source": f"local:{gpqa_source}",
            "config": "",
        },
    ]
    dataset_source = write_jsonl(
        data / "train.jsonl", [{"prompt": "What is $1+1$?", "answer": "2"}]
    )
    datasets = [
        {**paper_row("datasets.tsv", "limr"), "name": "tiny", "source": f"local:{dataset_source}"}
    ]
    experiment = {
        **paper_row("experiments.tsv", "limr"),
        "name": EXPERIMENT,
        "dataset": "tiny",
        "gpus": "0",
        "use_vllm": "false",
    }
    baselines = [{**paper_row("baselines.tsv", "base"), "model": f"local:{model_dir}"}]
    override = {
        "experiments": write_sheet(data / "experiments.tsv", [experiment]),
        "datasets": write_sheet(data / "datasets.tsv", datasets),
        "benchmarks": write_sheet(data / "benchmarks.tsv", benchmarks),
        "baselines": write_sheet(data / "baselines.tsv", baselines),
        "base_model": {"source": f"local:{model_dir}"},
        "evaluation": {
            "backend": "transformers",
            "max_new_tokens": 8,
            "samples_per_problem": 2,
            "grading_processes": 1,
        },
    }
    (tmp_path / "override.yaml").write_text(yaml.safe_dump(override))

    run_dir = tmp_path / "results" / "train" / EXPERIMENT
    for step in STEPS:
        save_adapter(model_dir, run_dir / f"checkpoint-{step}", seed=step)
    (run_dir / "manifest.json").write_text(json.dumps({"checkpoint_steps": list(STEPS)}))
    (run_dir / "log_history.csv").write_text("step\n" + "".join(f"{s}\n" for s in STEPS))
    return tmp_path


def test_checkpoints_are_generated_graded_and_scored(workdir):
    targets = [
        f"results/eval/{EXPERIMENT}/step-{step}/{benchmark}/score.json"
        for step in STEPS
        for benchmark in BENCHMARKS
    ]
    proc = snakemake(
        workdir, *targets, "--cores", "2", "--configfile", str(workdir / "override.yaml")
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    assert "train_grpo" not in proc.stdout + proc.stderr  # training was complete already
    completions = {}
    for target in targets:
        folder = workdir / Path(target).parent
        samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
        graded = [json.loads(line) for line in (folder / "graded.jsonl").read_text().splitlines()]
        score = json.loads((folder / "score.json").read_text())
        assert len(samples) == len(graded) == 6
        assert not (folder / "samples.jsonl.partial").exists()
        task = "gpqa" if folder.name == "tiny_gpqa" else "math"
        assert {row["task"] for row in graded} == {task}
        assert all(isinstance(row["correct"], bool) for row in graded)
        assert (score["n_problems"], score["samples_per_problem"], score["n_samples"]) == (3, 2, 6)
        assert score["identity"]["benchmark"] == folder.name
        assert score["identity"]["point"] == folder.parent.name
        completions[target] = [row["completion"] for row in samples]
    # Each checkpoint's own adapter was applied.
    assert completions[targets[0]] != completions[targets[2]]


def run_override(workdir: Path, name: str, **changes) -> str:
    """An override file: the fixture's, with ``changes``."""
    override = yaml.safe_load((workdir / "override.yaml").read_text()) | changes
    path = workdir / name
    path.write_text(yaml.safe_dump(override))
    return str(path)


def eval_file(benchmark: str, name: str, step: int = STEPS[-1]) -> str:
    return f"results/eval/{EXPERIMENT}/step-{step}/{benchmark}/{name}"


def test_an_added_benchmark_is_the_only_one_generated_and_graded(workdir):
    sheet = workdir / "data" / "benchmarks.tsv"
    math_only = edit_sheet(sheet, keep_rows("tiny_math"), out=workdir / "data" / "math_only.tsv")
    first = run_override(workdir, "math_only.yaml", benchmarks=str(math_only))
    target = eval_file("tiny_math", "score.json")
    proc = snakemake(workdir, target, "--cores", "2", "--configfile", first)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    samples = workdir / eval_file("tiny_math", "samples.jsonl")
    graded = workdir / eval_file("tiny_math", "graded.jsonl")
    store_file = samples.parent / os.readlink(samples)
    before = {
        "samples": (store_file.read_bytes(), store_file.stat().st_mtime_ns),
        "graded": (graded.read_bytes(), graded.stat().st_mtime_ns),
    }

    both = str(workdir / "override.yaml")
    targets = [eval_file(b, "score.json") for b in BENCHMARKS]
    code, planned, output = dry_run(workdir, *targets, "--configfile", both)
    assert code == 0, output
    # The new benchmark is prepared, the model regenerated (only tiny_gpqa), tiny_gpqa graded.
    assert planned == {
        "prepare_benchmark": 1,
        "generate_samples": 1,
        "grade_samples": 1,
        "total": 3,
    }
    proc = snakemake(workdir, *targets, "--cores", "2", "--configfile", both)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    record = json.loads(
        (workdir / f"results/eval/{EXPERIMENT}/step-10/generation.json").read_text()
    )
    assert record["benchmarks"] == list(BENCHMARKS)
    assert record["generated_benchmarks"] == ["tiny_gpqa"]
    assert record["samples"] == 3 * 2
    assert os.readlink(samples) == store_file.name
    assert (store_file.read_bytes(), store_file.stat().st_mtime_ns) == before["samples"]
    assert (graded.read_bytes(), graded.stat().st_mtime_ns) == before["graded"]
    assert (workdir / eval_file("tiny_gpqa", "score.json")).is_file()
    code, planned, output = dry_run(workdir, *targets, "--configfile", both)
    assert code == 0 and not planned, output  # nothing left to do

    # Settings that change how fast, not what, are no params: nothing reruns.
    evaluation = yaml.safe_load((workdir / "override.yaml").read_text())["evaluation"]
    harmless = {"batch_size": 1, "grading_processes": 2, "vllm_gpu_memory_utilization": 0.9}
    fast = run_override(workdir, "fast.yaml", evaluation=evaluation | harmless)
    code, planned, output = dry_run(workdir, *targets, "--configfile", fast)
    assert code == 0 and not planned, output
    # A sampling setting changes every sample of the model: one generation job, both grades.
    hotter = run_override(workdir, "hotter.yaml", evaluation=evaluation | {"temperature": 1.0})
    code, planned, output = dry_run(workdir, *targets, "--configfile", hotter)
    assert code == 0, output
    assert planned == {"generate_samples": 1, "grade_samples": 2, "total": 3}
    proc = snakemake(workdir, *targets, "--cores", "2", "--configfile", hotter)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    assert os.readlink(samples) != store_file.name
    # Back to the first setting: its samples are still stored, so they are linked again (nothing
    # generated), and graded again, since the grades on disk are of the other samples.
    code, planned, output = dry_run(workdir, *targets, "--configfile", both)
    assert planned == {"generate_samples": 1, "grade_samples": 2, "total": 3}, output
    proc = snakemake(workdir, *targets, "--cores", "2", "--configfile", both)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    record = json.loads(
        (workdir / f"results/eval/{EXPERIMENT}/step-10/generation.json").read_text()
    )
    assert (record["generated_benchmarks"], record["samples"]) == ([], 0)
    assert os.readlink(samples) == store_file.name
    assert (store_file.read_bytes(), store_file.stat().st_mtime_ns) == before["samples"]
    assert graded.read_bytes() == before["graded"][0]


def test_paper_dry_run_plans_one_generation_job_per_evaluated_model(tmp_path):
    """Main runs with finished training (three saved checkpoints each) and the baselines: one
    generate_samples job per model, one grade_samples job per (model, benchmark)."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    wc = paper_config()
    main = wc.experiments_in("main")
    base = wc.config["base_model"]
    inputs = [paths.MODEL_MANIFEST.format(model=model_slug(base["source"], base["revision"]))]
    inputs += [paths.DATASET_PARQUET.format(dataset=wc.experiments[e].dataset) for e in main]
    for path in inputs:  # what training read, older than what it wrote
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).touch()
    for experiment in main:
        run_dir = tmp_path / "results" / "train" / experiment
        run_dir.mkdir(parents=True)
        (run_dir / "manifest.json").write_text(json.dumps({"checkpoint_steps": [50, 100, 150]}))
        (run_dir / "log_history.csv").write_text("step\n50\n100\n150\n")
    code, planned, output = dry_run(tmp_path, "results/tables/main.csv")
    assert code == 0, output
    models = len(wc.baselines) + 3 * len(main)
    assert planned["generate_samples"] == models
    assert planned["grade_samples"] == models * len(wc.benchmarks)
    assert "train_grpo" not in planned


def test_a_replaced_checkpoint_and_a_lost_store_file_are_generated_again(workdir):
    override = str(workdir / "override.yaml")
    targets = [eval_file(b, "score.json", step) for step in STEPS for b in BENCHMARKS]
    proc = snakemake(workdir, *targets, "--cores", "2", "--configfile", override)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]

    # Checkpoint 10 overwritten in place by checkpoint 5's adapter: its samples are of other
    # weights now, so its one generation job and both gradings are planned.
    run_dir = workdir / "results" / "train" / EXPERIMENT
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        shutil.copyfile(run_dir / "checkpoint-5" / name, run_dir / "checkpoint-10" / name)
    proc = snakemake(workdir, "-n", *targets, "--configfile", override)
    jobs = parse_plan(proc.stdout)
    rules = sorted(rule for rule, _ in jobs)
    assert rules == ["generate_samples", "grade_samples", "grade_samples"]
    assert all(w["point"] == "step-10" for _, w in jobs), jobs
    proc = snakemake(workdir, *targets, "--cores", "2", "--configfile", override)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    for benchmark in BENCHMARKS:  # the same weights: step 5's samples, byte for byte
        step5, step10 = (workdir / eval_file(benchmark, "samples.jsonl", s) for s in STEPS)
        assert step10.read_bytes() == step5.read_bytes()
    code, planned, output = dry_run(workdir, *targets, "--configfile", override)
    assert code == 0 and not planned, output

    # A store file deleted: the dangling samples.jsonl is generated again by `tables`, which asks
    # for every samples.jsonl, and status counts it.
    lost = workdir / eval_file("tiny_math", "samples.jsonl", 5)
    (lost.parent / os.readlink(lost)).unlink()
    proc = snakemake(workdir, "-n", "tables", "--configfile", override)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    generated = [w for rule, w in parse_plan(proc.stdout) if rule == "generate_samples"]
    assert {"run": EXPERIMENT, "point": "step-5"} in generated
    assert {"run": EXPERIMENT, "point": "step-10"} not in generated
    wc = load_files(workdir / "override.yaml", root=workdir)
    assert format_status(wc, workdir).splitlines()[-1].startswith("1 samples.jsonl link(s)")
