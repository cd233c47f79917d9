"""Checkpoint selection: the paper's rule (best six-benchmark average on the test benchmarks,
earlier step on ties), the held-out rule and the final-checkpoint rule."""

import logging

import pandas as pd
import pytest
from helpers import ROOT

from tina_repro.config import load_files
from tina_repro.config.sheets import load_schema
from tina_repro.results import selection

BENCHMARKS = ["aime24", "aime25", "amc23", "math_500", "gpqa_diamond", "minerva"]


def select(frame, benchmarks, rule="paper", selection_benchmarks=(), save_steps=10):
    """select_checkpoints with every run saving every ``save_steps`` steps."""
    every = {run: save_steps for run in frame["run"].unique()}
    return selection.select_checkpoints(frame, benchmarks, rule, selection_benchmarks, every)


def scores(run: str, table: dict[int, list[float]]) -> pd.DataFrame:
    """Tidy scores of one run from {step: six accuracies in BENCHMARKS order}."""
    return pd.DataFrame(
        [
            {"run": run, "step": step, "benchmark": b, "accuracy": a}
            for step, values in table.items()
            for b, a in zip(BENCHMARKS, values, strict=True)
        ]
    )


# Step 450 has the best average (50.60 in the paper's Tina-Open-RS2 row); step 100 is best on
# AIME24 + AIME25 + AMC23 only.
OPEN_RS2 = {
    100: [60.0, 40.0, 90.0, 70.0, 10.0, 10.0],  # average 46.67, first three 63.33
    450: [43.33, 26.67, 77.5, 87.0, 36.36, 32.72],  # average 50.60, first three 49.17
    850: [30.0, 20.0, 70.0, 85.0, 30.0, 30.0],  # average 44.17
}


def test_paper_rule_takes_the_best_six_benchmark_average():
    picked = select(scores("open_rs2", OPEN_RS2), BENCHMARKS)
    assert picked["run"].tolist() == ["open_rs2"]
    assert picked["step"].tolist() == [450]
    assert picked["selection_score"].iloc[0] == pytest.approx(303.58 / 6)  # printed: 50.60


def test_heldout_rule_selects_on_its_benchmarks_only():
    picked = select(
        scores("open_rs2", OPEN_RS2), BENCHMARKS, "heldout", ["aime24", "aime25", "amc23"]
    )
    assert picked["step"].tolist() == [100]
    assert picked["selection_score"].iloc[0] == pytest.approx(190 / 3)
    chosen, reported = selection.split_benchmarks(BENCHMARKS, "heldout", ["amc23", "aime24"])
    assert chosen == ["aime24", "amc23"]
    assert reported == ["aime25", "math_500", "gpqa_diamond", "minerva"]
    assert selection.rule_label("heldout", ["aime24", "amc23"]) == "heldout:aime24+amc23"


def test_final_rule_takes_the_last_complete_step_whatever_its_score(caplog):
    frame = scores("open_rs2", OPEN_RS2)
    picked = select(frame, BENCHMARKS, "final")
    assert picked["step"].tolist() == [850]  # the worst of the three averages
    assert picked["selection_score"].iloc[0] == pytest.approx(265 / 6)
    assert selection.split_benchmarks(BENCHMARKS, "final") == (BENCHMARKS, BENCHMARKS)
    assert selection.rule_label("final", ["aime24"]) == "final"
    # A last step still missing a benchmark is not ranked: the last complete one is reported.
    partial = frame[~((frame["step"] == 850) & (frame["benchmark"] == "gpqa_diamond"))]
    with caplog.at_level(logging.WARNING):
        picked = select(partial, BENCHMARKS, "final")
    assert picked["step"].tolist() == [450]
    assert "run open_rs2: 1 step(s) lack some of" in caplog.text


def test_config_offers_every_rule_and_the_demo_reports_its_final_checkpoint():
    schema = load_schema("config.schema.yaml")
    assert schema["properties"]["selection"]["properties"]["rule"]["enum"] == list(selection.RULES)
    demo = load_files(ROOT / "config" / "demo" / "config.yaml", root=ROOT)
    assert demo.config["selection"] == {"rule": "final", "selection_benchmarks": []}
    assert demo.base_model_point() == "base"


def test_ties_go_to_the_earlier_step_even_through_float_noise():
    values = [100 / 3, 200 / 3, 77.5, 84.6, 100 * 67 / 198, 100 * 73 / 272]
    # Step 300 is ahead by float noise only (1e-12 points), far below any printed precision.
    noisy = [values[0] + 6e-12, *values[1:]]
    table = {300: noisy, 200: values, 100: [0.0] * 6}
    averages = selection.step_averages(scores("limr", table), BENCHMARKS)["average"].tolist()
    assert 0 < averages[2] - averages[1] < 1e-11
    picked = select(scores("limr", table), BENCHMARKS)
    assert picked["step"].tolist() == [200]


def test_runs_are_selected_independently():
    frame = pd.concat(
        [scores("a", {10: [50.0] * 6, 20: [40.0] * 6}), scores("b", {10: [1.0] * 6, 20: [2.0] * 6})]
    )
    picked = select(frame, BENCHMARKS)
    assert dict(zip(picked["run"], picked["step"], strict=True)) == {"a": 10, "b": 20}


def test_incomplete_steps_are_skipped_and_counted(caplog):
    frame = scores("run", {100: [50.0] * 6, 200: [90.0] * 6})
    frame = frame[~((frame["step"] == 200) & (frame["benchmark"] == "minerva"))]
    with caplog.at_level(logging.WARNING):
        picked = select(frame, BENCHMARKS)
    assert picked["step"].tolist() == [100]
    assert "run run: 1 step(s) lack some of" in caplog.text


def test_bad_input_is_a_clear_error():
    frame = scores("run", {100: [50.0] * 6})
    with pytest.raises(ValueError, match="unknown selection rule 'best'"):
        select(frame, BENCHMARKS, "best")
    with pytest.raises(ValueError, match="non-empty proper subset"):
        select(frame, BENCHMARKS, "heldout", [])
    with pytest.raises(ValueError, match="not among"):
        selection.split_benchmarks(BENCHMARKS, "heldout", ["aime26"])
    with pytest.raises(ValueError, match="aime24 more than once"):
        select(pd.concat([frame, frame.head(1)]), BENCHMARKS)
    with pytest.raises(ValueError, match=r"run\(s\) \['run'\] have no candidate checkpoint"):
        select(frame[frame["benchmark"] != "aime24"], BENCHMARKS)


# A rank ablation: saved every 50 steps, stopped at 180. The run saves 180 too, off the grid, and
# there it scores best; under the paper's rule only 50, 100 and 150 are candidates.
RANK_ABLATION = {
    50: [30.0, 20.0, 60.0, 80.0, 30.0, 25.0],  # average 40.83
    100: [35.0, 25.0, 65.0, 82.0, 32.0, 27.0],  # average 44.33
    150: [33.0, 21.0, 62.0, 81.0, 31.0, 26.0],  # average 42.33
    180: [40.0, 30.0, 70.0, 84.0, 35.0, 30.0],  # average 48.17, off the save grid
}


def test_an_off_grid_stop_step_is_evaluated_but_not_selected_under_the_paper_rule():
    frame = scores("limr_rank16", RANK_ABLATION)
    picked = select(frame, BENCHMARKS, save_steps=50)
    assert (picked["step"].iloc[0], picked["candidates"].iloc[0]) == (100, 3)
    assert picked["selection_score"].iloc[0] == pytest.approx(266 / 6)
    assert [selection.paper_candidate(s, 50) for s in RANK_ABLATION] == [True, True, True, False]
    # final reports the model training ended with; heldout selects on benchmarks it does not
    # report, among every evaluated checkpoint
    final = select(frame, BENCHMARKS, "final", save_steps=50)
    assert (final["step"].iloc[0], final["candidates"].iloc[0]) == (180, 4)
    heldout = select(frame, BENCHMARKS, "heldout", ["aime24", "amc23"], save_steps=50)
    assert (heldout["step"].iloc[0], heldout["candidates"].iloc[0]) == (180, 4)
    # a run none of whose checkpoints lies on its grid has nothing the paper rule may pick
    with pytest.raises(ValueError, match="no candidate checkpoint .* save grid"):
        select(frame[frame["step"] == 180], BENCHMARKS, save_steps=50)
