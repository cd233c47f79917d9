"""The results stage end to end on a synthetic workspace whose scores ARE the paper's published
numbers (paper_workspace.py, built once per module): every table must then show zero differences
(the plumbing is exact), and the cost and FLOPs tables must give the numbers the fixture record
implies."""

import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT
from paper_workspace import (
    BASE_MODEL,
    BENCHMARKS,
    PAPER,
    SIZES,
    build_workspace,
    paper_config,
    published_scores,
    write_point,
)

from tina_repro.config import load
from tina_repro.eval import scoring
from tina_repro.results.collect import SCORE_COLUMNS, collect_scores, index_eval_files
from tina_repro.results.flops_table import FLOPS_COLUMNS
from tina_repro.results.make_table import make_table, to_html, to_markdown
from tina_repro.results.stats import (
    N_BOOT,
    SEED,
    average_ci,
    gains_vs_base,
    interval,
    read_graded,
)
from tina_repro.results.tables import (
    ABLATION_COLUMNS,
    CHECKPOINT_COLUMNS,
    GAIN_COLUMNS,
    MAIN_COLUMNS,
    Tables,
    ablations_table,
    format_columns,
    main_table,
    metric_columns,
    metric_label,
    reproduced_rows,
)

MAIN = ["still", "deepscaler", "open_rs1", "open_rs2", "open_rs3"]


def rule_inputs(common: dict) -> dict[str, dict]:
    """The named inputs of each table rule (rules/results.smk)."""
    main_runs = [p for p in common["runs"] if Path(p).stem in MAIN]
    main_manifests = [p for p in common["manifests"] if Path(p).parent.name in MAIN]
    keep = ("runs", "baselines", "manifests")
    return {
        "checkpoints_table": {
            **{key: common[key] for key in keep},
            "records": [p for p in common["records"] if "/baseline/" not in p],
        },
        "main_table": {
            "runs": main_runs,
            "baselines": common["baselines"],
            "manifests": main_manifests,
            "graded": common["graded"],
            "published": str(PAPER / "tina_models.csv"),
            "published_ablations": str(PAPER / "ablations.csv"),
            "published_baselines": str(PAPER / "baselines.csv"),
        },
        "ablations_table": {
            "runs": common["runs"],  # every run is in some ablation
            "manifests": common["manifests"],
            "graded": common["graded"],
            "published": str(PAPER / "ablations.csv"),
        },
        "costs_table": {
            **{key: common[key] for key in keep},
            "timings": common["timings"],
            "published": str(PAPER / "costs.csv"),
        },
        "flops_table": {
            "manifests": common["manifests"],
            "log_history": common["log_history"],
            "runs": common["runs"],
            "base_model": str(BASE_MODEL),
            "recipes": str(PAPER / "baseline_recipes.csv"),
            "baselines": common["baselines"],
            "published_baselines": str(PAPER / "baselines.csv"),
        },
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Build the workspace and every table from the inputs each rule declares."""
    root = tmp_path_factory.mktemp("workspace")
    experiments = load(paper_config()).experiments
    inputs = rule_inputs(build_workspace(root, experiments))
    out = root / "results" / "tables"
    tables = {
        rule: make_table(named, out / f"{rule.removesuffix('_table')}.csv", load(paper_config()))
        for rule, named in inputs.items()
    }
    heldout = make_table(
        inputs["main_table"],
        out / "heldout" / "main.csv",
        load(paper_config(rule="heldout", selection_benchmarks=["aime24", "aime25", "amc23"])),
    )
    return {"root": root, "tables": tables, "heldout": heldout, "inputs": inputs}


# ---- collecting scores ---------------------------------------------------------------------------
def test_collect_scores_reads_paths_and_keys(workspace):
    frame = pd.read_csv(workspace["root"] / "results" / "scores" / "open_rs2.csv")
    assert list(frame.columns) == SCORE_COLUMNS
    assert len(frame) == 3 * 6
    row = frame[(frame["step"] == 450) & (frame["benchmark"] == "minerva")].iloc[0]
    assert row["point"] == "step-450"
    assert row["accuracy"] == pytest.approx(100 * 89 / 272)  # 32.72 in the paper
    assert row["n_problems"] == 272 and row["samples_per_problem"] == 1
    assert row["ci_low"] < row["accuracy"] < row["ci_high"]
    baselines = pd.read_csv(workspace["root"] / "results" / "scores" / "baselines.csv")
    assert baselines["step"].isna().all() and baselines["run"].eq("baseline").all()
    assert len(baselines) == (6 + 2) * 6  # baselines and released adapters


def test_collect_scores_rejects_bad_paths_and_scores(tmp_path):
    bad = tmp_path / "results" / "eval" / "open_rs2" / "final" / "aime24" / "score.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{}")
    with pytest.raises(ValueError, match="point 'final' of run 'open_rs2' is not step-N"):
        collect_scores([bad], tmp_path / "out.csv")
    good = tmp_path / "results" / "eval" / "open_rs2" / "step-50" / "aime24" / "score.json"
    good.parent.mkdir(parents=True)
    good.write_text(json.dumps({"pass_at_1": 10.0}))
    with pytest.raises(ValueError, match=r"score lacks key\(s\) \['ci95'"):
        collect_scores([good], tmp_path / "out.csv")
    with pytest.raises(ValueError, match="no score files"):
        collect_scores([], tmp_path / "out.csv")


# ---- published numbers in, zero differences out --------------------------------------------------
def test_main_table_reproduces_the_published_numbers_exactly(workspace):
    main = workspace["tables"]["main_table"]
    assert list(main.columns) == MAIN_COLUMNS
    assert len(main) == (6 + 2 + 5) * 7  # baselines, released adapters, runs
    assert (main["reproduced"] == main["published"]).all()
    assert (main["difference"] == 0).all()
    assert main["within_ci"].all()
    assert (main["selection_rule"] == "paper").all()
    # the fixture's math-verify reading agrees with lighteval's, and nothing timed out
    assert (main["accuracy_math_verify"] == main["reproduced"]).all()
    assert (main["n_timeouts"] == 0).all()
    rs2 = main[(main["model"] == "open_rs2") & (main["benchmark"] == "average")].iloc[0]
    assert rs2["reproduced"] == 50.60 and rs2["step"] == 450
    assert rs2["pct_epoch"] == pytest.approx(100 * 450 / 875)
    assert rs2["published_pct_epoch"] == 51
    base = main[(main["model"] == "base") & (main["benchmark"] == "average")].iloc[0]
    assert base["kind"] == "baseline" and pd.isna(base["step"]) and base["reproduced"] == 41.18
    assert pd.isna(base["candidates"])
    # the paper rule's candidates: the checkpoints on each run's save grid (STILL's stop step
    # 3750 is off its grid of 100; open_rs2's 850 is on its grid of 50)
    runs = main[main["kind"] == "tina"].drop_duplicates("model").set_index("model")
    assert runs["candidates"].to_dict() == {
        "still": 2,
        "deepscaler": 3,
        "open_rs1": 3,
        "open_rs2": 3,
        "open_rs3": 3,
    }


def test_released_adapters_stand_beside_the_paper_number_of_their_run(workspace):
    main = workspace["tables"]["main_table"]
    average = main[main["benchmark"] == "average"].set_index("model")
    released = average[average["kind"] == "released_adapter"]
    assert list(released.index) == ["still_released", "open_r1_released"]
    # Tina-STILL from Table 3, Tina-OpenR1 from Table 4 (its datasets ablation).
    assert released["published"].tolist() == [48.16, 49.26]
    assert released["step"].tolist() == [2000, 1500]
    assert released["published_pct_epoch"].tolist() == [53, 13]
    assert (released["difference"] == 0).all()
    assert released["gain_vs_base"].isna().all()


def test_ablation_table_reproduces_the_published_numbers_exactly(workspace):
    table = workspace["tables"]["ablations_table"]
    assert list(table.columns) == ABLATION_COLUMNS
    assert len(table) == 17 * 7
    assert (table["difference"] == 0).all() and table["within_ci"].all()
    averages = table[table["benchmark"] == "average"]
    paper = pd.read_csv(PAPER / "ablations.csv")
    # the workspace has the paper's 15 runs, not the later version's: only v1's Table 4 rows
    paper = paper[
        paper["ablation"].isin(["datasets", "learning_rate", "lora_rank", "rl_algorithm"])
    ]
    assert (paper["published_in"] == "arXiv v1").all()
    assert (averages["published_in"] == "arXiv v1").all()
    assert averages["model"].tolist() == paper["experiment"].tolist()
    assert averages["reproduced"].tolist() == paper["avg"].tolist()
    assert averages["setting"].tolist()[:7] == [
        "open_r1_math",
        "curated_thoughts",
        "deepscaler",
        "still3",
        "open_s1",
        "open_rs",
        "limr",
    ]
    assert averages["setting"].tolist()[7:] == ["5e-06", "1e-06", "5e-07", "64", "32", "16"] + [
        "8",
        "4",
        "grpo",
        "grpo",  # open_rs3_drgrpo as released: the Dr.GRPO flag never took effect
    ]
    assert averages["paper_name"].iloc[0] == "Tina-OpenR1 (93.7k)"
    # ablations.csv's note on which run a published row is compared with reaches the table
    notes = averages.set_index("model")["comparison_note"]
    assert "limr_rank128" in notes["limr_rank64"] and "as released" in notes["open_rs3_drgrpo"]
    assert notes.drop(["limr_rank64", "open_rs3_drgrpo"]).isna().all()
    # the rank ablations saved every 50 steps and stop at 180: 50 and 100 are their candidates
    candidates = averages.drop_duplicates("model").set_index("model")["candidates"]
    assert candidates["limr_rank16"] == 2 and candidates["limr"] == 3  # limr saves every 10


def test_average_ci_is_a_bootstrap_of_the_average_not_of_its_parts(workspace):
    main = workspace["tables"]["main_table"]
    rs2 = main[main["model"] == "open_rs2"].set_index("benchmark")
    average = rs2.loc["average"]
    parts = rs2.drop("average")
    # Far narrower than averaging the six interval bounds (errors of independent benchmarks
    # partly cancel), and close to the normal approximation sqrt(sum p(1-p)/n) / 6.
    assert (
        average["ci_high"] - average["ci_low"] < 0.6 * (parts["ci_high"] - parts["ci_low"]).mean()
    )
    p = parts["reproduced"] / 100
    half_width = 100 * 1.96 * np.sqrt((p * (1 - p) / pd.Series(SIZES)).sum()) / 6
    assert (average["ci_high"] - average["ci_low"]) / 2 == pytest.approx(half_width, rel=0.1)
    assert (average["ci_low"], average["ci_high"]) == (45.74, 55.40)


def test_average_ci_exact_cases():
    # Every problem right on one benchmark and wrong on the other: no resample can differ.
    assert average_ci([np.ones(30), np.zeros(40)]) == (50.0, 50.0)
    low, high = average_ci([np.array([0.0, 1.0] * 250)])
    assert low < 50 < high and high - low == pytest.approx(2 * 1.96 * 100 * 0.5 / 500**0.5, 0.1)


def test_interval_resamples_seeds_once_for_every_benchmark():
    # Two seeds, one solving everything and one nothing, on two benchmarks: the problems add no
    # variance, the seed draw does (AA, AB or BB: 100, 50 or 0), shared by both benchmarks.
    group = np.array([np.ones(30), np.zeros(30)])
    assert interval([group, group[:, :20]]) == (0.0, 100.0)
    # one seed: the problem bootstrap alone, as average_ci
    assert interval([group[:1, :]]) == average_ci([np.ones(30)]) == (100.0, 100.0)
    # a difference between two groups over the same problems: each side's seeds drawn alone
    low, high = interval([(group, np.zeros((3, 30)))])
    assert (low, high) == (0.0, 100.0)
    assert interval([(np.ones((2, 30)), np.zeros((1, 30)))]) == (100.0, 100.0)


def test_missing_per_problem_grades_leave_the_average_ci_empty(caplog):
    frame = pd.DataFrame(
        {"benchmark": ["aime24"], "accuracy": [50.0], "ci_low": [30.0], "ci_high": [70.0]}
    )
    rows = reproduced_rows(frame, "run", "step-1", ["aime24"], {})
    assert rows[-1][0] == "average" and rows[-1][1] == 50.0
    assert math.isnan(rows[-1][2]) and math.isnan(rows[-1][3])
    assert "no CI for the average of run/step-1" in caplog.text


def test_heldout_rule_reports_only_the_other_benchmarks(workspace):
    table = workspace["heldout"]
    assert set(table["benchmark"]) == {"math_500", "gpqa_diamond", "minerva", "average"}
    assert (table["selection_rule"] == "heldout:aime24+aime25+amc23").all()
    rs2 = table[(table["model"] == "open_rs2") & (table["benchmark"] == "average")].iloc[0]
    assert rs2["published"] == pytest.approx((87.00 + 36.36 + 32.72) / 3)
    assert rs2["reproduced"] == round(100 * (435 / 500 + 72 / 198 + 89 / 272) / 3, 2)
    assert rs2["step"] == 450


# ---- what a gain is made of: format columns and the paired gain over the base model --------------
def k_correct(value: float, benchmark: str) -> int:
    """Correct problems behind a published value in the workspace (as write_point rounds)."""
    return round(max(value, 0.0) * SIZES[benchmark] / 100)


def test_main_table_gives_format_columns_and_the_paired_gain_over_base(workspace):
    main = workspace["tables"]["main_table"]
    paper = published_scores()
    baselines = main[main["kind"] == "baseline"]
    assert baselines[list(GAIN_COLUMNS)].isna().all().all()
    # Every workspace sample is formatted: the conditional accuracy is the accuracy itself.
    assert (main["format_rate"] == 100).all()
    assert (main["accuracy_given_formatted"] == main["reproduced"]).all()
    rs2 = main[main["model"] == "open_rs2"].set_index("benchmark")
    gains = {
        b: 100 * (k_correct(paper["open_rs2"][b], b) - k_correct(paper["base"][b], b)) / SIZES[b]
        for b in BENCHMARKS
    }
    assert rs2.loc[BENCHMARKS, "gain_vs_base"].tolist() == [round(g, 2) for g in gains.values()]
    assert rs2.loc["aime24", "gain_vs_base"] == 20.0  # 13/30 - 7/30
    assert rs2.loc["average", "gain_vs_base"] == round(np.mean(list(gains.values())), 2) == 9.42
    # The per-benchmark interval is scoring's paired bootstrap (N_BOOT replicates, seed 0).
    root = workspace["root"] / "results" / "eval"
    base_rows = read_graded(root / "baseline" / "base" / "aime24" / "graded.jsonl")
    rows = read_graded(root / "open_rs2" / "step-450" / "aime24" / "graded.jsonl")
    paired = scoring.paired_bootstrap_diff(base_rows, rows, N_BOOT, SEED)
    expected = [round(bound, 2) for bound in paired["ci95"]]
    assert rs2.loc["aime24", ["gain_ci_low", "gain_ci_high"]].tolist() == expected
    assert (rs2["gain_ci_low"] <= rs2["gain_vs_base"]).all()
    assert (rs2["gain_vs_base"] <= rs2["gain_ci_high"]).all()
    # Pairing removes what the two models share (here: the same easy problems are solved):
    # narrower than the interval of a difference of two independent averages.
    widths = [
        frame.loc["average", "ci_high"] - frame.loc["average", "ci_low"]
        for frame in (rs2, main[main["model"] == "base"].set_index("benchmark"))
    ]
    width = rs2.loc["average", "gain_ci_high"] - rs2.loc["average", "gain_ci_low"]
    assert width < 0.6 * np.hypot(*widths)
    assert (rs2.loc["average", "gain_ci_low"], rs2.loc["average", "gain_ci_high"]) == (5.97, 13.0)
    ablations = workspace["tables"]["ablations_table"]
    assert ablations["gain_vs_base"].notna().all() and (ablations["format_rate"] == 100).all()
    heldout = workspace["heldout"].set_index(["model", "benchmark"])
    reported = ["math_500", "gpqa_diamond", "minerva"]
    assert heldout.loc[("open_rs2", "average"), "gain_vs_base"] == round(
        np.mean([gains[b] for b in reported]), 2
    )


def tables_of(inputs: dict, config: dict) -> Tables:
    return Tables(inputs, config, load(config))


def test_final_rule_reports_the_last_checkpoint(workspace):
    config = paper_config(rule="final")
    table = main_table(tables_of(workspace["inputs"]["main_table"], config))
    rs2 = table[table["model"] == "open_rs2"].set_index("benchmark")
    assert (rs2["step"] == 850).all() and (table["selection_rule"] == "final").all()
    # The last checkpoint scores 10 points under the published values: 10/30 against 7/30.
    assert rs2.loc["aime24", ["reproduced", "gain_vs_base"]].tolist() == [33.33, 10.0]


def write_graded(root: Path, run: str, point: str, benchmark: str, correct: dict) -> Path:
    """A graded.jsonl from {problem_id: correct samples out of 4}, in the dict's order."""
    folder = root / "results" / "eval" / run / point / benchmark
    folder.mkdir(parents=True)
    rows = [
        {"problem_id": pid, "sample_index": i, "correct": i < k}
        for pid, k in correct.items()
        for i in range(4)
    ]
    (folder / "graded.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "graded.jsonl"


def graded_index(root: Path) -> dict:
    return index_eval_files(sorted(root.glob("results/eval/*/*/*/graded.jsonl")))


def test_gain_is_paired_by_problem_and_stratified_by_benchmark(tmp_path):
    # a: every problem gains 1 of 4 samples, so no resample can differ: 25 [25, 25].
    write_graded(tmp_path, "baseline", "base", "a", {"a0": 1, "a1": 1, "a2": 1})
    write_graded(tmp_path, "run", "step-5", "a", {"a0": 2, "a1": 2, "a2": 2})
    # b: +100 on b0 and 0 on b1, written in the other order: pairing by position would give
    # +50 on both and a zero-width interval. Resampling two problems gives 0, 50 or 100.
    write_graded(tmp_path, "baseline", "base", "b", {"b0": 0, "b1": 2})
    write_graded(tmp_path, "run", "step-5", "b", {"b1": 2, "b0": 4})
    gains = gains_vs_base(graded_index(tmp_path), [("run", "step-5")], "base", ["a", "b"])
    assert gains == {
        "a": (25.0, 25.0, 25.0),
        "b": (50.0, 0.0, 100.0),
        "average": (37.5, 12.5, 62.5),
    }


def test_average_gain_of_one_benchmark_is_its_paired_bootstrap(tmp_path):
    rng = np.random.default_rng(1)
    base = [
        {"problem_id": i, "sample_index": 0, "correct": bool(c)}
        for i, c in enumerate(rng.integers(0, 2, 50))
    ]
    tuned = [
        {**row, "correct": bool(c)} for row, c in zip(base, rng.integers(0, 2, 50), strict=True)
    ]
    paired = scoring.paired_bootstrap_diff(base, tuned, N_BOOT, SEED)
    differences = np.array(
        [float(t["correct"]) - float(b["correct"]) for b, t in zip(base, tuned, strict=True)]
    )
    assert average_ci([differences]) == tuple(paired["ci95"])


def test_gain_without_grades_or_base_model_is_empty_and_logged(workspace, tmp_path, caplog):
    write_graded(tmp_path, "run", "step-5", "a", {"a0": 1})
    with caplog.at_level(logging.WARNING):
        assert gains_vs_base(graded_index(tmp_path), [("run", "step-5")], "base", ["a"]) == {}
    assert "no gain over the base model for run/step-5" in caplog.text
    write_graded(tmp_path, "baseline", "base", "a", {"a1": 1})
    with pytest.raises(ValueError, match=r"graded.jsonl against .*problem sets differ"):
        gains_vs_base(graded_index(tmp_path), [("run", "step-5")], "base", ["a"])
    # A config whose base model no baseline evaluates: the table is built, its gains empty.
    config = paper_config()
    config["base_model"]["revision"] = "0123abc"
    tables = tables_of(workspace["inputs"]["main_table"], config)
    assert tables.base_point is None
    assert tables_of(workspace["inputs"]["main_table"], paper_config()).base_point == "base"
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        table = main_table(tables)
    assert table["gain_vs_base"].isna().all() and table["format_rate"].notna().all()
    assert "open_rs2/step-450: no baseline evaluates the base model" in caplog.text


def test_metric_says_one_sample_or_the_mean_over_n():
    assert metric_label(1) == "pass@1" and metric_label(10) == "mean@10"
    frame = pd.DataFrame({"benchmark": ["a", "b"], "samples_per_problem": [10, 10]})
    assert metric_columns([frame], ["a", "b"]) == {
        "a": "mean@10",
        "b": "mean@10",
        "average": "mean@10",
    }


def test_format_columns_average_needs_every_benchmark():
    frame = pd.DataFrame(
        {
            "benchmark": ["a", "b"],
            "format_rate": [80.0, 100.0],
            "accuracy_given_formatted": [50.0, math.nan],  # nothing formatted on b
            "accuracy_after_think": [40.0, 60.0],
            "accuracy_math_verify": [45.0, 65.0],
            "n_timeouts": [2, 3],
        }
    )
    columns = format_columns(frame, ["a", "b"])
    assert columns["average"]["format_rate"] == 90.0
    assert columns["average"]["accuracy_math_verify"] == 55.0
    assert columns["average"]["n_timeouts"] == 5  # a total
    assert math.isnan(columns["average"]["accuracy_given_formatted"])
    assert format_columns(frame, ["a"])["average"] == columns["a"]


# ---- checkpoints, costs, FLOPs -------------------------------------------------------------------
def test_checkpoint_table_lists_every_evaluation(workspace):
    table = workspace["tables"]["checkpoints_table"]
    retention = [
        "merge_retention_bf16",
        "merge_retention_bf16_q_proj",
        "merge_retention_bf16_v_proj",
    ]
    assert list(table.columns) == CHECKPOINT_COLUMNS + retention
    assert len(table) == 15 * 3 * 6 + (6 + 2) * 6
    kinds = table.drop_duplicates("run").set_index("run")["kind"]
    assert kinds["open_r1_released"] == "released_adapter" and kinds["base"] == "baseline"
    assert table["run"].iloc[0] == "base" and table["kind"].iloc[0] == "baseline"
    assert table[table["kind"] == "baseline"][retention].isna().all().all()
    still = table[(table["run"] == "still") & (table["benchmark"] == "aime24")]
    assert still["step"].tolist() == [100, 2000, 3750]
    # the stop step 3750 is evaluated and shown, but the paper's run never saved it
    assert still["paper_candidate"].tolist() == [True, True, False]
    assert table.loc[table["kind"] != "tina", "paper_candidate"].isna().all()
    assert still["pct_epoch"].tolist() == pytest.approx([100 / 37.5, 2000 / 37.5, 100.0])
    assert still[retention].values.tolist() == [
        [1 - step / 1e4, 0.5, step / 1e4] for step in (100, 2000, 3750)
    ]


def test_cost_table_from_timing_files(workspace):
    table = workspace["tables"]["costs_table"].set_index("experiments")
    totals = table[table["section"] == "Total"]
    assert totals["total_cost_usd"].tolist()[:5] == pytest.approx(
        [526.2, 275.2, 84.8749376114082, 31.4, 8.623529411764705]
    )
    assert (totals["total_cost_usd"].round() == totals["published_total_usd"]).iloc[:5].all()
    # the later version's $798 for every experiment: the 15 runs here lack the later ones
    every = table.loc["total:every_experiment"]
    assert every["published_total_usd"] == 798 and pd.isna(every["total_cost_usd"])
    assert table.loc["baseline", "evaluation_device_hours"] == pytest.approx(6.0)
    released = table[table["section"] == "Released adapter"]
    assert released["evaluation_device_hours"].tolist() == pytest.approx([0.25, 0.25])
    assert (released["evaluation_device"] == "NVIDIA L40S").all()
    assert (table["eval_jobs_untimed"] == 0).all()


def test_flops_table(workspace):
    table = workspace["tables"]["flops_table"].set_index("model")
    assert list(table.reset_index().columns) == FLOPS_COLUMNS
    rs2 = table.loc["open_rs2"]
    n, n_lora = 1_543_569_408, 36_929_536
    completions = 850 * 48  # 8 prompts x G=6 per step
    prompt, completion = completions * 100, completions * 1000
    assert rs2["steps"] == 850 and rs2["completions"] == completions
    assert (rs2["prompt_tokens"], rs2["completion_tokens"]) == (prompt, completion)
    assert (rs2["n_params"], rs2["n_lora_params"]) == (n, n_lora)
    assert rs2["rollout_flops"] == 2 * n * (prompt / 6 + completion)
    assert rs2["lora_train_flops"] == (4 * n + 6 * n_lora) * (prompt + completion)
    assert rs2["total_lora_flops"] == pytest.approx(
        2 * n * (prompt / 6 + completion) + (6 * n + 6 * n_lora) * (prompt + completion)
    )
    assert rs2["selected_step"] == 450
    assert rs2["best_average"] == pytest.approx(
        100 * (13 / 30 + 8 / 30 + 31 / 40 + 435 / 500 + 72 / 198 + 89 / 272) / 6
    )
    # The log has rows at steps 50, 450, 850: everything up to 450 is 450/850 of the run.
    assert rs2["total_lora_flops_to_selected"] == pytest.approx(rs2["total_lora_flops"] * 450 / 850)
    assert rs2["kind"] == "tina"


def test_flops_table_estimates_the_full_parameter_baselines_from_their_recipes(workspace):
    table = workspace["tables"]["flops_table"].set_index("model")
    baselines = table[table["kind"] == "full_parameter_baseline"]
    names = ["still3_full", "deepscaler_full", "open_rs1_full", "open_rs2_full", "open_rs3_full"]
    assert list(baselines.index) == names
    rs2, n = baselines.loc["open_rs2_full"], 1_543_569_408
    # 12 prompts x 6 rollouts of 210 + 2900 tokens per step: rollout, reference log-probs (no
    # old-policy pass in TRL with one iteration) and full training, 2 + 2 + 6 FLOPs per weight.
    tokens = 12 * 6 * (210 + 2900)
    assert rs2["full_ft_flops"] == 10 * n * tokens * 500
    assert rs2["full_ft_flops_to_selected"] == 10 * n * tokens * 50
    assert (rs2["steps"], rs2["selected_step"]) == (500, 50)
    assert rs2["logprob_flops"] == 2 * n * tokens * 500
    # OpenRLHF scores the rollouts with the old policy too: one more log-prob pass.
    still = baselines.loc["still3_full"]
    assert still["full_ft_flops_to_selected"] == 12 * n * 128 * 8 * (100 + 7500) * 210
    # Our average of the re-evaluated baseline (the workspace scores it as published) and the
    # paper's, with the assumptions and sources carried along.
    assert still["best_average"] == pytest.approx(44.86, abs=0.01)
    assert still["published_average"] == 44.86
    assert "7.5k-token completions assumed" in still["assumption_label"]
    assert "mean_completion_tokens=7500 ASSUMED" in still["assumptions"]
    assert pd.isna(baselines["lora_train_flops"]).all()


# ---- output --------------------------------------------------------------------------------------
def test_every_table_has_a_markdown_and_an_html_rendering(workspace):
    tables = workspace["root"] / "results" / "tables"
    for rule in workspace["inputs"]:
        name = rule.removesuffix("_table")
        markdown = (tables / f"{name}.md").read_text()
        header, rule_line, *rows = markdown.splitlines()
        assert header.startswith("| ") and rule_line.startswith("|---")
        assert len(rows) == len(workspace["tables"][rule])
        page = (tables / f"{name}.html").read_text()
        assert page.count("<tr>") == len(workspace["tables"][rule]) + 1  # and the header
    main = (tables / "main.md").read_text().splitlines()
    row = ["open_rs2", "tina", "Tina-Open-RS2", "42", "450", "450", "51.43", "average", "pass@1"]
    assert [*row, "50.60"] in [markdown_cells(line)[:10] for line in main]
    page = (tables / "main.html").read_text()
    row = "<td>open_rs2</td><td>tina</td><td>Tina-Open-RS2</td><td>42</td><td>450</td><td>450</td>"
    assert row + "<td>51.43</td><td>average</td><td>pass@1</td><td>50.60</td>" in page
    assert not list(tables.glob("*.tmp"))


def test_html_cells_are_escaped():
    frame = pd.DataFrame({"a<b": ["x & y", "<i>"], "n": [1.5, math.nan]})
    page = to_html(frame, "t.csv")
    assert "<th>a&lt;b</th><th>n</th>" in page
    assert "<tr><td>x &amp; y</td><td>1.50</td></tr>" in page
    assert "<tr><td>&lt;i&gt;</td><td></td></tr>" in page


def markdown_cells(line: str) -> list[str]:
    """The cells of a Markdown table row, unpadded (no cell here holds an escaped pipe)."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_markdown_cells():
    frame = pd.DataFrame(
        {"a": [1.5, math.nan], "b": [True, pd.NA], "c": [2.5e17, 0.0], "d": ["x|y", "007"]}
    )
    frame["b"] = frame["b"].astype("boolean")
    assert to_markdown(frame).splitlines() == [
        "| a    | b   | c         | d    |",
        "|------|-----|-----------|------|",
        "| 1.50 | yes | 2.500e+17 | x\\|y |",
        "|      |     | 0.00      | 007  |",
    ]


def test_unknown_table_is_named():
    with pytest.raises(ValueError, match="no table named 'main_table'"):
        make_table({}, "main_table.csv", load(paper_config()))


# ---- replicates and an ablation's paired reference ---------------------------------------------
def replicate_workspace(tmp_path: Path) -> tuple[dict, dict, dict]:
    """open_rs2 with seeds 42 and 43 (the second 2 problems better on every benchmark, selected
    at a later step), open_rs3 and its format-only row, and the base model. Returns (config,
    inputs of the main table, inputs of the ablations table)."""
    sheet = tmp_path / "experiments.tsv"
    rows = (ROOT / "config" / "experiments.tsv").read_text().splitlines()
    header = rows[0].split("\t")
    seeds = header.index("seeds")
    for i, line in enumerate(rows):
        cells = line.split("\t")
        if cells[0] == "open_rs2":
            cells[seeds] = "42;43"
            rows[i] = "\t".join(cells)
    sheet.write_text("\n".join(rows) + "\n")
    config = paper_config()
    config["experiments"] = str(sheet)
    paper = published_scores()
    better = {b: v + 200 / SIZES[b] for b, v in paper["open_rs2"].items()}  # 2 more problems
    points = {
        ("baseline", "base"): paper["base"],
        ("open_rs2", "step-450"): paper["open_rs2"],
        ("open_rs2_seed43", "step-500"): better,
        ("open_rs3", "step-500"): paper["open_rs3"],
        ("open_rs3_format", "step-850"): paper["open_rs2"],  # Open-RS2's scores: a known gain
    }
    files = {key: write_point(tmp_path, *key, value, hours=1.0) for key, value in points.items()}
    scores = tmp_path / "results" / "scores"
    scores.mkdir(parents=True, exist_ok=True)
    collect_scores(files[("baseline", "base")], scores / "baselines.csv")
    for run in ("open_rs2", "open_rs2_seed43", "open_rs3", "open_rs3_format"):
        collect_scores(next(f for (r, _), f in files.items() if r == run), scores / f"{run}.csv")
    graded = [str(p.with_name("graded.jsonl")) for paths in files.values() for p in paths]

    def inputs(runs):
        return {
            "runs": [str(scores / f"{run}.csv") for run in runs],
            "baselines": str(scores / "baselines.csv"),
            "manifests": [],
            "graded": graded,
        }

    main = {
        **inputs(["open_rs2", "open_rs2_seed43"]),
        "published": str(PAPER / "tina_models.csv"),
        "published_ablations": str(PAPER / "ablations.csv"),
        "published_baselines": str(PAPER / "baselines.csv"),
    }
    ablations = {
        **inputs(["open_rs3", "open_rs3_format"]),
        "published": str(PAPER / "ablations.csv"),
    }
    return config, main, ablations


def test_replicates_report_their_mean_spread_and_an_interval_over_seeds(tmp_path):
    config, main_inputs, _ = replicate_workspace(tmp_path)
    table = main_table(tables_of(main_inputs, config))
    rs2 = table[table["model"] == "open_rs2"].set_index("benchmark")
    assert (rs2["seeds"] == "42;43").all() and (rs2["seed_steps"] == "450;500").all()
    assert rs2["step"].isna().all()  # each seed at its own selected checkpoint
    paper = published_scores()["open_rs2"]
    for benchmark in BENCHMARKS:
        one = k_correct(paper[benchmark], benchmark)
        two = round((paper[benchmark] + 200 / SIZES[benchmark]) * SIZES[benchmark] / 100)
        assert two == one + 2
        mean = 100 * (one + two) / 2 / SIZES[benchmark]
        assert rs2.loc[benchmark, "reproduced"] == round(mean, 2)
        # sample standard deviation of two values: their difference / sqrt(2)
        spread = 100 * 2 / SIZES[benchmark] / math.sqrt(2)
        assert rs2.loc[benchmark, "seed_sd"] == round(spread, 2)
    averages = [
        np.mean([k_correct(paper[b], b) / SIZES[b] for b in BENCHMARKS]),
        np.mean([(k_correct(paper[b], b) + 2) / SIZES[b] for b in BENCHMARKS]),
    ]
    average = rs2.loc["average"]
    assert average["reproduced"] == round(100 * np.mean(averages), 2)
    assert average["seed_sd"] == round(100 * np.std(averages, ddof=1), 2)
    assert average["published"] == 50.60 and average["metric"] == "pass@1"
    assert average["ci_low"] < average["reproduced"] < average["ci_high"]
    # seeds and problems resampled together: wider than one seed's problem-only interval
    single = main_table(tables_of({**main_inputs, "runs": main_inputs["runs"][:1]}, config))
    alone = single[single["model"] == "open_rs2"].set_index("benchmark").loc["average"]
    assert alone["seeds"] == "42" and pd.isna(alone["seed_sd"]) and alone["step"] == 450
    assert average["ci_high"] - average["ci_low"] > alone["ci_high"] - alone["ci_low"]
    # the gain over the base model is the mean gain of the two seeds (the second: 2 problems more)
    assert average["gain_vs_base"] == pytest.approx(
        alone["gain_vs_base"] + 100 * np.mean([1 / SIZES[b] for b in BENCHMARKS]), abs=0.011
    )
    assert average["gain_ci_low"] < average["gain_vs_base"] < average["gain_ci_high"]


def test_ablation_lists_a_row_beside_its_reference_with_their_paired_difference(tmp_path):
    config, _, inputs = replicate_workspace(tmp_path)
    table = ablations_table(tables_of(inputs, config))
    rewards = table[table["ablation"] == "rewards"]
    averages = rewards[rewards["benchmark"] == "average"].set_index("model")
    # open_rs3 is listed as open_rs3_format's reference, though its own row names other tables
    assert list(averages.index) == ["open_rs3", "open_rs3_format"]
    fmt = averages.loc["open_rs3_format"]
    assert fmt["compared_with"] == "open_rs3" and fmt["published"] == 50.56
    assert fmt["published_in"] == "ICLR 2026 version (secondary reports)"
    assert fmt["setting"] == "format:1,tag_count:1,length:1,reasoning_steps:1,repetition_penalty:1"
    paper = published_scores()
    expected = np.mean(
        [
            100
            * (k_correct(paper["open_rs2"][b], b) - k_correct(paper["open_rs3"][b], b))
            / SIZES[b]
            for b in BENCHMARKS
        ]
    )
    assert fmt["difference_vs_reference"] == round(expected, 2) == round(50.60 - 49.45, 2)
    assert fmt["diff_ci_low"] < fmt["difference_vs_reference"] < fmt["diff_ci_high"]
    reference = averages.loc["open_rs3"]
    assert pd.isna(reference["compared_with"]) and pd.isna(reference["difference_vs_reference"])
    assert reference["published"] == 49.45 and reference["published_in"] == "arXiv v1"
    per_benchmark = rewards[(rewards["model"] == "open_rs3_format")].set_index("benchmark")
    assert per_benchmark.loc["aime24", "difference_vs_reference"] == round(100 * (13 - 11) / 30, 2)
    # the same row also stands in the completion-length ablation as the 3k limit
    length = table[(table["ablation"] == "completion_length") & (table["benchmark"] == "average")]
    assert length["model"].tolist() == []  # no long-completion run scored: nothing to list
