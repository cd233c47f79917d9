"""The real Snakemake DAG of the paper config, planned offline (dry-runs, no jobs executed)."""

import re
import shutil

import pytest
from helpers import ROOT, dry_run, paper_config, planned_jobs, snakemake

# Every test runs Snakemake (a dry-run of the paper's DAG).
pytestmark = pytest.mark.slow


@pytest.fixture
def workdir(tmp_path):
    """An empty working directory with the workflow's config, so nothing exists yet."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    return tmp_path


def snakemake_dry_run(workdir, target):
    """A dry-run that prints every planned job (rule, inputs, outputs)."""
    proc = snakemake(workdir, target, "-n", timeout=300)
    output = proc.stdout + proc.stderr
    return proc.returncode, planned_jobs(output), output


def test_main_table_plans_downloads_main_runs_and_baselines(workdir):
    code, counts, output = dry_run(workdir, "results/tables/main.csv")
    assert code == 0, output
    assert counts["train_grpo"] == 5
    assert counts["prepare_dataset"] == 4  # still3, deepscaler, open_s1, open_rs
    assert counts["prepare_benchmark"] == 6
    # the base model, five full-parameter baselines and Tina's two released adapter repositories
    assert counts["download_model"] == 8
    # one job per baseline model (six baselines + two released adapters), all benchmarks in it
    assert counts["generate_samples"] == 8
    assert counts["grade_samples"] == 8 * 6
    assert counts["collect_run_scores"] == 5
    assert counts["main_table"] == 1
    # Checkpoint evaluations wait behind training, whose checkpoints are unknown until it ran.
    assert "checkpoint jobs, which will result in alteration of the DAG" in output


def test_released_adapters_are_downloaded_and_evaluated_at_the_papers_checkpoint(workdir):
    code, counts, output = snakemake_dry_run(
        workdir, "results/eval/baseline/still_released/aime24/score.json"
    )
    assert code == 0, output
    assert counts["download_model"] == 2 and counts["generate_samples"] == 1
    # The generation job waits for the paper's base model and the adapter repository.
    for model in [
        "deepseek-ai--DeepSeek-R1-Distill-Qwen-1.5B",
        "Tina-Yi--R1-Distill-Qwen-1.5B-STILL",
    ]:
        assert f"output: resources/models/{model}/manifest.json" in output
    generate = output[output.index("rule generate_samples:") :]
    assert "Tina-Yi--R1-Distill-Qwen-1.5B-STILL/manifest.json" in generate.split("output:")[0]
    # Of the adapter repository only the evaluated checkpoint is fetched.
    repositories = paper_config().hub_repositories()
    assert repositories["Tina-Yi--R1-Distill-Qwen-1.5B-STILL"] == {
        "source": "Tina-Yi/R1-Distill-Qwen-1.5B-STILL",
        "revision": "main",
        "subfolders": ["checkpoint-2000"],
    }
    assert repositories["Tina-Yi--R1-Distill-Qwen-1.5B-OpenR1"]["subfolders"] == ["checkpoint-1500"]
    assert repositories["deepseek-ai--DeepSeek-R1-Distill-Qwen-1.5B"]["subfolders"] == []


def test_ablation_table_plans_every_run(workdir):
    code, counts, output = snakemake_dry_run(workdir, "results/tables/ablations.csv")
    assert code == 0, output
    # the paper's 15, the released rank-128 recipe and two more Dr.GRPO readings; the later
    # commit's six recipes (format-only, long completion, II-Thought, FastCuRL, L1-Exact,
    # L1-Max) and the long-completion recipe's intended Dr.GRPO reading
    assert counts["train_grpo"] == 25
    # the paper's 7 sets, II-Thought-RL-v0-Math-50K, FastCuRL and DeepScaleR with L1 budgets
    assert counts["prepare_dataset"] == 10
    for run in ("open_rs3_format", "open_rs3_long_completion", "ii_thought", "fastcurl", "l1_max"):
        assert f"output: results/train/{run}/manifest.json" in output


def test_a_row_with_three_seeds_plans_one_training_per_seed(workdir):
    sheet = workdir / "config" / "experiments.tsv"
    header, *rows = sheet.read_text().splitlines()
    column = header.split("\t").index("seeds")
    for i, row in enumerate(rows):
        cells = row.split("\t")
        if cells[0] == "open_rs2":
            cells[column] = "42;43;44"
            rows[i] = "\t".join(cells)
    sheet.write_text("\n".join([header, *rows]) + "\n")
    code, counts, output = snakemake_dry_run(workdir, "results/tables/main.csv")
    assert code == 0, output
    assert counts["train_grpo"] == 5 + 2  # the main runs and open_rs2's two more seeds
    assert counts["collect_run_scores"] == 7
    for run in ("open_rs2", "open_rs2_seed43", "open_rs2_seed44"):
        assert f"output: results/train/{run}/manifest.json" in output
        assert f"log: logs/train_grpo/{run}.log" in output


def test_unknown_key_stops_the_dry_run(workdir):
    sheet = workdir / "config" / "experiments.tsv"
    header, *rows = sheet.read_text().splitlines()
    rows = [r + ("\tfalse" if r.startswith("open_rs3_drgrpo\t") else "\t") for r in rows]
    sheet.write_text("\n".join([header + "\tscale_reward", *rows]) + "\n")
    code, counts, output = dry_run(workdir, "results/tables/main.csv")
    assert code != 0
    assert not counts
    assert "line 17 (name=open_rs3_drgrpo): unknown key 'scale_reward'" in output


def test_ablation_table_plans_a_training_job_for_each_new_reading(workdir):
    proc = snakemake(workdir, "results/tables/ablations.csv", "-n", timeout=300)
    assert proc.returncode == 0, proc.stderr
    planned = set(re.findall(r"wildcards: experiment=(\S+)", proc.stdout))
    assert {"limr_rank64", "limr_rank128", "open_r1", "open_thoughts"} <= planned
    assert {"open_rs3_drgrpo", "open_rs3_drgrpo_tina", "open_rs3_drgrpo_trl"} <= planned
