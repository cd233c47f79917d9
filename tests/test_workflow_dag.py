"""The real Snakemake DAG of the paper config, planned offline (dry-runs, no jobs executed)."""

import shutil

import pytest
from helpers import ROOT, dry_run


@pytest.fixture
def workdir(tmp_path):
    """An empty working directory with the workflow's config, so nothing exists yet."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    return tmp_path


def test_main_table_plans_downloads_main_runs_and_baselines(workdir):
    code, counts, output = dry_run(workdir, "results/tables/main.csv")
    assert code == 0, output
    assert counts["train_grpo"] == 5
    assert counts["prepare_dataset"] == 4  # still3, deepscaler, open_s1, open_rs
    assert counts["prepare_benchmark"] == 6
    assert counts["download_model"] == 6  # the base model and five full-parameter baselines
    assert counts["generate_samples"] == 6  # one job per baseline model, all benchmarks in it
    assert counts["grade_samples"] == 6 * 6  # baselines x benchmarks
    assert counts["collect_run_scores"] == 5
    assert counts["main_table"] == 1
    # Checkpoint evaluations wait behind training, whose checkpoints are unknown until it ran.
    assert "checkpoint jobs, which will result in alteration of the DAG" in output


def test_ablation_table_plans_all_fifteen_runs(workdir):
    code, counts, output = dry_run(workdir, "results/tables/ablations.csv")
    assert code == 0, output
    assert counts["train_grpo"] == 15
    assert counts["prepare_dataset"] == 7


def test_unknown_key_stops_the_dry_run(workdir):
    sheet = workdir / "config" / "experiments.tsv"
    header, *rows = sheet.read_text().splitlines()
    rows = [r + ("\tfalse" if r.startswith("open_rs3_drgrpo\t") else "\t") for r in rows]
    sheet.write_text("\n".join([header + "\tscale_reward", *rows]) + "\n")
    code, counts, output = dry_run(workdir, "results/tables/main.csv")
    assert code != 0
    assert not counts
    assert "line 16 (name=open_rs3_drgrpo): unknown key 'scale_reward'" in output
