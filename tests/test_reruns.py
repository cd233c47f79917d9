"""Reruns on a finished paper workflow: a harmless edit plans no expensive job, a harmful one
plans exactly the jobs it affects, and a price change reaches costs.csv.

The finished workflow is the paper config cut to three runs (still, open_rs3, limr), two
benchmarks (aime24: math, gpqa_diamond: gpqa) and two baselines, in a temporary folder. Its
evaluation files, scores, timings, manifests and training logs are the synthetic workspace of
paper_workspace.py (real contents, so the cost table really builds); every other output is an empty
file. ``snakemake --touch`` then records every job as finished with its params, as a real run
would, and ``snakemake results/tables/costs.csv`` builds the cost table for real.

The harmless edits of grading_processes, vLLM memory and batch size expect generation params to
be exactly the sampling settings and grading to take no processes param (rules/eval.smk).
"""

import base64
import html
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from harmless_edits import GPQA_TEMPLATE, NO_OUTPUT, PRICE, SELECTION, unexpected
from helpers import (
    ROOT,
    edit_first_comment,
    edit_sheet,
    keep_rows,
    parse_plan,
    plan,
    plan_with,
    report_files,
    set_cell,
    snakemake,
)
from paper_workspace import BASE_MODEL, build_workspace

from tina_repro.config import load_files
from tina_repro.config.rows import SHEET_ROWS

# Every test runs Snakemake on the finished workflow.
pytestmark = pytest.mark.slow

RUNS = ["still", "open_rs3", "limr"]
BENCHMARKS = ["aime24", "gpqa_diamond"]
BASELINES = ["base", "still3_full"]
TARGET = "all"
COSTS = "results/tables/costs.csv"
EXPENSIVE = {"train_grpo", "generate_samples", "prepare_dataset", "prepare_benchmark"}
EXPENSIVE |= {"download_model", "grade_samples"}


def missing_outputs(output: str) -> list[str]:
    """Output and benchmark files of the jobs a ``snakemake -n`` output plans."""
    files = []
    for line in output.splitlines():
        for key in ("    output: ", "    benchmark: "):
            if line.startswith(key):
                files += line.removeprefix(key).split(", ")
    return files


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The finished workflow (see the module docstring); tests work on copies of it."""
    root = tmp_path_factory.mktemp("finished")
    shutil.copytree(ROOT / "config", root / "config")
    edit_sheet(root / "config" / "experiments.tsv", keep_rows(*RUNS))
    edit_sheet(root / "config" / "benchmarks.tsv", keep_rows(*BENCHMARKS))
    edit_sheet(root / "config" / "baselines.tsv", keep_rows(*BASELINES))
    build_workspace(root, load_files(root=ROOT).experiments)
    wc = load_files(root=root)
    base = wc.config["base_model"]["source"].replace("/", "--")
    (root / "resources" / "models" / base).mkdir(parents=True)
    shutil.copy(BASE_MODEL / "config.json", root / "resources" / "models" / base)

    for graded in (root / "results" / "eval").rglob("graded.jsonl"):
        graded.with_name("samples.jsonl").touch()
    # Jobs behind a checkpoint appear once the checkpoint counts as done: a few rounds.
    for _round in range(3):
        proc = snakemake(root, "-n", TARGET)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        if not parse_plan(proc.stdout):
            break
        for name in missing_outputs(proc.stdout):
            path = root / name
            if not path.exists() and name != COSTS:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
        touched = snakemake(root, "--touch", "--cores", "1", TARGET)
        assert touched.returncode == 0, touched.stdout + touched.stderr
    # Record every job as finished with its params, as a real run does.
    touched = snakemake(root, "--touch", "--forceall", "--cores", "1", TARGET)
    assert touched.returncode == 0, touched.stdout + touched.stderr
    built = snakemake(root, "--cores", "1", COSTS)
    assert built.returncode == 0, built.stdout + built.stderr
    # The new costs.csv is newer than the figures drawn from it: mark those finished again.
    touched = snakemake(root, "--touch", "--cores", "1", TARGET)
    assert touched.returncode == 0, touched.stdout + touched.stderr
    return root


@pytest.fixture
def workdir(finished, tmp_path):
    """A copy of the finished workflow (file times and Snakemake's records included)."""
    copy = tmp_path / "wf"
    shutil.copytree(finished, copy, symlinks=True)
    return copy


def rules_of(jobs) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rule, _ in jobs:
        counts[rule] = counts.get(rule, 0) + 1
    return counts


def test_the_finished_workflow_plans_nothing(finished):
    assert plan(finished, TARGET) == []


@pytest.mark.parametrize("edit", [*NO_OUTPUT, PRICE, SELECTION], ids=lambda e: e.name)
def test_harmless_edit_plans_no_expensive_job(finished, edit, tmp_path):
    jobs = plan_with(finished, [], edit.overlay(load_files(root=finished), tmp_path), TARGET)
    assert not EXPENSIVE & set(rules_of(jobs)), rules_of(jobs)
    assert unexpected(jobs, edit) == []


def test_price_and_selection_reach_the_tables_that_print_them(finished, tmp_path):
    wc = load_files(root=finished)
    price = rules_of(plan_with(finished, [], PRICE.overlay(wc, tmp_path), TARGET))
    assert price.pop("costs_table") == 1
    assert set(price) <= {"all", "figure_overall_comparison", "figure_cost_vs_performance"}
    selection = rules_of(plan_with(finished, [], SELECTION.overlay(wc, tmp_path), TARGET))
    assert {"main_table", "ablations_table", "costs_table", "flops_table"} <= set(selection)
    assert selection["figure_checkpoint_curves"] == len(RUNS)
    assert "checkpoints_table" not in selection  # it prints every checkpoint, selected or not


def test_other_task_template_reprepares_only_its_benchmarks(finished, tmp_path):
    overlay = GPQA_TEMPLATE.overlay(load_files(root=finished), tmp_path)
    jobs = plan_with(finished, [], overlay, TARGET)
    counts = rules_of(jobs)
    assert [w for rule, w in jobs if rule == "prepare_benchmark"] == [{"benchmark": "gpqa_diamond"}]
    # every checkpoint of every run and every baseline generates again (one job per model, which
    # links its finished math samples and generates gpqa_diamond only) and grades gpqa_diamond.
    # (This fixture's samples are plain files, not links to finished store files, so their math
    # grades are planned too; test_eval_workflow shows a real finished model keeps them.)
    assert counts["generate_samples"] == len(RUNS) * 3 + len(BASELINES)
    graded = [w for rule, w in jobs if rule == "grade_samples" and w["benchmark"] == "gpqa_diamond"]
    assert len(graded) == counts["generate_samples"]
    assert not {"train_grpo", "prepare_dataset", "download_model"} & set(counts)


def test_dataset_columns_that_shape_no_table_reprepare_and_retrain_nothing(workdir):
    edit_sheet(workdir / "config" / "datasets.tsv", set_cell("still3", "paper_size", "1"))
    edit_sheet(workdir / "config" / "datasets.tsv", set_cell("limr", "comment", "edited"))
    jobs = plan(workdir, TARGET)
    assert not EXPENSIVE & set(rules_of(jobs)), rules_of(jobs)


@pytest.mark.parametrize("sheet", SHEET_ROWS)
def test_a_comment_edited_in_place_plans_nothing(workdir, sheet):
    path = workdir / "config" / f"{sheet}.tsv"
    before = path.read_text()
    edit_sheet(path, edit_first_comment)
    assert path.read_text() != before
    assert plan(workdir, TARGET) == []


def test_learning_rate_retrains_exactly_its_run(workdir):
    edit_sheet(workdir / "config" / "experiments.tsv", set_cell("limr", "learning_rate", "2e-6"))
    jobs = plan(workdir, TARGET)
    assert [w for rule, w in jobs if rule == "train_grpo"] == [{"experiment": "limr"}]
    assert not {"prepare_dataset", "prepare_benchmark", "download_model"} & set(rules_of(jobs))


def test_a_second_seed_trains_only_the_new_replicate(workdir):
    edit_sheet(workdir / "config" / "experiments.tsv", set_cell("limr", "seeds", "42;7"))
    jobs = plan(workdir, TARGET)
    # the first seed's run keeps its folder and params: only limr_seed7 trains
    assert [w for rule, w in jobs if rule == "train_grpo"] == [{"experiment": "limr_seed7"}]
    assert not {"prepare_dataset", "generate_samples"} & {r for r, _ in jobs}


def test_columns_only_the_tables_or_training_read_reach_no_further(workdir):
    # compared_with is read by the tables alone
    edit_sheet(workdir / "config" / "experiments.tsv", set_cell("still", "compared_with", "limr"))
    assert not EXPENSIVE & set(rules_of(plan(workdir, TARGET)))
    # target_length is read by training alone: limr retrains, its data is not re-prepared
    edit_sheet(workdir / "config" / "datasets.tsv", set_cell("limr", "target_length", "100-200"))
    jobs = plan(workdir, TARGET)
    assert [w for rule, w in jobs if rule == "train_grpo"] == [{"experiment": "limr"}]
    assert "prepare_dataset" not in rules_of(jobs)


@pytest.mark.parametrize(
    ("key", "value"),
    [("temperature", 0.7), ("max_new_tokens", 16384), ("prompt_tokens", "chat_template")],
    ids=["T", "max_tokens", "prompt_tokens"],
)
def test_sampling_setting_regenerates_every_evaluation_and_nothing_upstream(finished, key, value):
    jobs = plan_with(finished, [], {"evaluation": {key: value}}, TARGET)
    counts = rules_of(jobs)
    models = len(RUNS) * 3 + len(BASELINES)
    assert counts["generate_samples"] == models  # one generation job per model
    assert counts["grade_samples"] == models * len(BENCHMARKS)
    assert not {"train_grpo", "prepare_dataset", "prepare_benchmark", "download_model"} & set(
        counts
    )


def test_a_baselines_own_prompt_tokens_regenerate_only_it(workdir):
    edit_sheet(
        workdir / "config" / "baselines.tsv",
        set_cell("still3_full", "prompt_tokens", "chat_template"),
    )
    jobs = plan(workdir, TARGET)
    assert [w for rule, w in jobs if rule == "generate_samples"] == [
        {"run": "baseline", "point": "still3_full"}
    ]
    assert rules_of(jobs)["grade_samples"] == len(BENCHMARKS)
    assert not {"train_grpo", "prepare_dataset", "prepare_benchmark"} & set(rules_of(jobs))


def test_grading_budget_regrades_every_evaluation_and_generates_nothing(finished):
    counts = rules_of(plan_with(finished, [], {"evaluation": {"grading_timeout_s": 10}}, TARGET))
    models = len(RUNS) * 3 + len(BASELINES)
    assert counts["grade_samples"] == models * len(BENCHMARKS)
    assert not {"generate_samples", "train_grpo", "prepare_benchmark"} & set(counts)


def test_price_change_reaches_costs_csv(workdir):
    costs = workdir / COSTS
    before = pd.read_csv(costs)
    config = load_files(root=workdir).config
    overlay = workdir / "price.yaml"
    prices = {d: 4 * p for d, p in config["cost"]["usd_per_device_hour"].items()}
    overlay.write_text(yaml.safe_dump({"cost": {"usd_per_device_hour": prices}}))
    proc = snakemake(workdir, "--cores", "1", COSTS, "--configfile", str(overlay))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rules_of(parse_plan(proc.stdout + proc.stderr)).get("costs_table") == 1
    after = pd.read_csv(costs)
    # every device-hour here is a GPU-hour: every dollar column is four times what it was
    for column in ("training_cost_usd", "evaluation_cost_usd", "total_cost_usd"):
        assert before[column].sum() > 0
        assert after[column].tolist() == pytest.approx((4 * before[column]).tolist(), nan_ok=True)


def test_the_ci_check_passes_on_a_finished_workflow(finished):
    """tests/check_harmless_edits.py, which CI runs on the finished demo, on this workflow."""
    check = [sys.executable, str(ROOT / "tests" / "check_harmless_edits.py"), str(finished)]
    proc = subprocess.run([*check, "--profile", "profiles/default"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    printed = proc.stdout.splitlines()
    assert len(printed) == len(NO_OUTPUT) + 2
    assert all(line.startswith("ok: ") for line in printed), printed


# ---- the report ----------------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium")


def chromium_text(url: str) -> str:
    """The text a reader sees on the page at ``url`` once headless Chromium has run its
    scripts (whitespace collapsed)."""
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000"]
        + ["--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    shown = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", proc.stdout)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", shown)).split())


def test_the_report_shows_each_table_inline_beside_its_csv(workdir):
    proc = snakemake(workdir, "--report", "results/report.html")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = workdir / "results" / "report.html"
    files = report_files(report.read_text())
    assert files["costs.csv"] == (workdir / COSTS).read_bytes()  # the download
    table = files["costs.html"].decode()  # shown inline (an iframe of this page)
    tasks = pd.read_csv(workdir / COSTS)["task"]
    assert all(f"<td>{html.escape(task)}</td>" in table for task in tasks)
    if CHROMIUM is None:
        return
    start = chromium_text(report.as_uri())
    assert "Reproduction of Tina: Tiny Reasoning Models via LoRA" in start
    assert "chosen by the paper rule (the paper's" in start
    shown = chromium_text("data:text/html;base64," + base64.b64encode(table.encode()).decode())
    assert all(" ".join(task.split()) in shown for task in tasks)
