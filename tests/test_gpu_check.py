"""The GPU check (profiles/gpu-check): its config of overrides, its DAG and its summary."""

import dataclasses
import json
import shutil

import pytest
from helpers import ROOT, dry_run, paper_config

from tina_repro import paths
from tina_repro.config import load_files
from tina_repro.ops.gpu_check import prompt_token_pairs, summary
from tina_repro.ops.plan import planned_steps

CHECK_PROBLEMS = 8


@pytest.fixture
def check_config():
    return load_files(ROOT / "config/gpu-check/config.yaml", root=ROOT)


def test_config_overrides_the_paper_with_one_short_run(check_config):
    assert list(check_config.experiments) == ["open_rs2_gpu_check"]
    assert list(check_config.baselines) == ["base", "base_chat_template"]
    assert check_config.config["gpu_check"] is True
    evaluation = check_config.config["evaluation"]
    # the paper's engine, with short completions
    assert (evaluation["backend"], evaluation["vllm_device"]) == ("vllm", "cuda")
    assert evaluation["max_new_tokens"] == 2048
    assert check_config.config["base_model"] == paper_config().config["base_model"]


def test_its_run_is_the_paper_row_stopped_after_two_steps(check_config):
    row = check_config.experiments["open_rs2_gpu_check"]
    paper_row = paper_config().experiments["open_rs2"]
    assert (row.stop_step, row.save_steps, row.use_vllm, row.gpus) == (2, 2, True, 2)
    differ = {"name", "tables", "stop_step", "save_steps", "comment"}
    assert {
        f.name: getattr(row, f.name) for f in dataclasses.fields(row) if f.name not in differ
    } == {
        f.name: getattr(paper_row, f.name) for f in dataclasses.fields(row) if f.name not in differ
    }


def test_its_benchmarks_are_the_first_problems_of_the_papers(check_config):
    paper = paper_config()
    assert [f"{name}_check" for name in paper.benchmarks] == list(check_config.benchmarks)
    for name, paper_row in paper.benchmarks.items():
        row = check_config.benchmarks[f"{name}_check"]
        assert row.split == f"{paper_row.split}[:{CHECK_PROBLEMS}]"
        assert row.expected_size == CHECK_PROBLEMS
        assert (
            dataclasses.replace(
                row,
                name=name,
                split=paper_row.split,
                expected_size=paper_row.expected_size,
                comment=paper_row.comment,
            )
            == paper_row
        )
    assert check_config.baselines["base"] == paper.baselines["base"]


def test_it_evaluates_the_base_model_with_both_prompt_token_modes(check_config):
    base, other = check_config.baselines["base"], check_config.baselines["base_chat_template"]
    assert check_config.prompt_tokens("baseline", "base") == "lighteval"  # the paper config's
    assert check_config.prompt_tokens("baseline", "base_chat_template") == "chat_template"
    same = {"paper_name", "prompt_tokens", "comment", "name"}
    assert dataclasses.replace(other, **{f: getattr(base, f) for f in same}) == base
    # gains are measured against the base model evaluated as the checkpoints are
    assert check_config.base_model_point() == "base"
    assert prompt_token_pairs(check_config) == [("base", "base_chat_template")]


@pytest.mark.slow
def test_profile_plans_training_evaluation_and_tables_offline(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    code, counts, output = dry_run(tmp_path, "--profile", str(ROOT / "profiles/gpu-check"))
    assert code == 0, output
    assert counts["download_model"] == 1  # the base model only
    assert counts["prepare_dataset"] == 1  # open_rs
    assert counts["prepare_benchmark"] == 6
    assert counts["train_grpo"] == 1
    # the base model is evaluated now; the step-2 checkpoint once training has run
    # two evaluations of the base model (lighteval's and the chat template's prompt tokens)
    assert counts["grade_samples"] == 12 and counts["generate_samples"] >= 2
    assert counts["main_table"] == 1
    assert "checkpoint jobs, which will result in alteration of the DAG" in output


def write_check_outputs(workdir):
    """What a finished GPU check leaves: the run's manifest and log, two generation records."""
    run_dir = paths.fill(paths.RUN_DIR, workdir, experiment="open_rs2_gpu_check")
    run_dir.mkdir(parents=True)
    (run_dir / paths.MANIFEST).write_text(
        json.dumps(
            {
                "checkpoint_steps": [2],
                "peak_gpu_memory_mb": 20480.0,
                "device_name": "2 x NVIDIA L40S",
            }
        )
    )
    (run_dir / paths.LOG_HISTORY).write_text("step,loss,step_time\n1,0.1,95.0\n2,0.2,40.0\n")
    for run, point, tokens, start in [
        ("open_rs2_gpu_check", "step-2", 60000, 50.0),
        ("baseline", "base", 40000, 30.0),
    ]:
        record = paths.fill(paths.GENERATION_RECORD, workdir, run=run, point=point)
        record.parent.mkdir(parents=True)
        record.write_text(
            json.dumps(
                {
                    "device": "cuda",
                    "engine_start_seconds": start,
                    "generation_seconds": 10.0,
                    "generated_tokens": tokens,
                    "samples": 48,
                    "tokens_per_second": tokens / 10.0,
                    "benchmarks": [f"{b}_check" for b in paper_config().benchmarks],
                    "backend": "vllm",
                    "adapter_mode": "merged",
                }
            )
        )


def test_summary_extrapolates_the_measurements_to_the_paper(tmp_path, check_config):
    write_check_outputs(tmp_path)
    paper = paper_config()
    text = summary(check_config, tmp_path, paper)
    assert (
        "training open_rs2_gpu_check: 2 steps on 2 x NVIDIA L40S, last step 40.0 s, "
        "peak GPU memory 20.0 GiB"
    ) in text
    steps = sum(
        planned_steps(paper, name)[-1] * row.gpus for name, row in paper.experiments.items()
    )
    assert f"paper training at that step time: {steps * 40 / 3600:,.0f} GPU-hours" in text
    # throughput and start from the check; sample length from the paper's budget
    assert "5,000 tokens/s [measured (2 generation records)]" in text
    assert "engine start 40 s [measured (2 generation records)]" in text
    assert "[default: 0.2 x max_new_tokens]" in text
    assert (
        "prompt tokens: base (lighteval) - base_chat_template (chat_template): not graded" in text
    )


def write_graded(workdir, point, benchmark, correct):
    graded = paths.fill(paths.GRADED, workdir, run="baseline", point=point, benchmark=benchmark)
    graded.parent.mkdir(parents=True, exist_ok=True)
    graded.write_text(
        "".join(
            json.dumps({"problem_id": i, "sample_index": 0, "correct": c}) + "\n"
            for i, c in enumerate(correct)
        )
    )


def test_summary_sizes_the_prompt_token_effect(tmp_path, check_config):
    write_check_outputs(tmp_path)
    # On the first benchmark lighteval's prompts solve 6 of 8, the chat template's 4 (the same
    # problems plus two); on every other benchmark both solve the same 4.
    first, *others = check_config.benchmarks
    write_graded(tmp_path, "base", first, [True] * 6 + [False] * 2)
    write_graded(tmp_path, "base_chat_template", first, [True] * 4 + [False] * 4)
    for benchmark in others:
        for point in ("base", "base_chat_template"):
            write_graded(tmp_path, point, benchmark, [True, False] * 4)
    text = summary(check_config, tmp_path, paper_config())
    lines = text.splitlines()
    start = lines.index(
        "prompt tokens: base (lighteval) - base_chat_template (chat_template), points "
        "[95% paired interval]:"
    )
    assert lines[start + 1].startswith(f"  {first}: +25.0 [")
    assert all(
        line.startswith(f"  {b}: +0.0 [+0.0, +0.0]")
        for b, line in zip(others, lines[start + 2 : start + 7], strict=True)
    )
    assert lines[start + 7].startswith(f"  average: +{25 / 6:.1f} [")
