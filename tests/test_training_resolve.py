"""``tina-repro resolve``: a row's GRPOConfig arguments and paper-to-TRL mapping without
training, computed by the same function a run writes resolved_config.json with."""

import dataclasses
import json
import shutil

import pytest
from helpers import ROOT, paper_config, write_rows

from tina_repro import cli
from tina_repro.data.prepare import prepare_training_dataset
from tina_repro.files import roundtrip
from tina_repro.train.context import TrainingContext
from tina_repro.train.provenance import planned_run
from tina_repro.train.resolve import resolve_experiment


def resolve(capsys, *args: str) -> dict:
    assert cli.main(["resolve", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_open_rs2_takes_log_probs_at_1_and_samples_at_0_7(capsys, tmp_path):
    rows = write_rows(tmp_path / "rows.parquet", n=40)
    out = resolve(capsys, "open_rs2", "--directory", str(ROOT), "--dataset", str(rows))
    paper = paper_config()
    context = TrainingContext.of(paper, "open_rs2")
    assert out.pop("evaluation") == {"prompt_tokens": "lighteval"}
    assert out == roundtrip(planned_run(paper.experiments["open_rs2"], context, 2, "cuda", 40))
    grpo = out["settings"]["grpo"]
    assert grpo["temperature"] == 1.0
    assert grpo["generation_kwargs"] == {"temperature": 0.7, "top_p": 1.0}
    mapping = {entry["field"]: entry for entry in out["mapping"]}
    assert mapping["temperature"]["value"] == 1.0
    assert mapping["generation_kwargs"]["value"]["temperature"] == 0.7
    assert (out["device"], out["n_gpus"], grpo["use_vllm"]) == ("cuda", 2, True)
    assert out["schedule"] == {"max_steps": 1500, "stop_step": 850, "epoch_steps": 5}


def test_one_epoch_row_on_cpu_stops_at_its_stop_step(capsys, tmp_path):
    rows = write_rows(tmp_path / "rows.parquet", n=16000)
    args = ["open_r1", "--gpus", "0", "--directory", str(ROOT), "--dataset", str(rows)]
    out = resolve(capsys, *args)
    # no max_steps: the schedule spans the epoch of 16000/8 steps, training stops at 1900
    assert out["schedule"] == {"max_steps": 2000, "stop_step": 1900, "epoch_steps": 2000}
    grpo = out["settings"]["grpo"]
    assert (grpo["max_steps"], grpo["warmup_steps"]) == (2000, 200)
    assert (out["device"], grpo["use_vllm"], grpo["gradient_accumulation_steps"]) == (
        "cpu",
        False,
        8,
    )


def test_unprepared_dataset_counts_the_epoch_from_paper_size(capsys, caplog, tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    out = resolve(capsys, "open_thoughts", "--directory", str(tmp_path))
    assert out["schedule"] == {"max_steps": 66100 // 8, "stop_step": 2800, "epoch_steps": 8262}
    assert "curated_thoughts.parquet is not prepared yet" in caplog.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_run"], "'no_such_run' is not a row of config/experiments.tsv"),
        (["open_rs2", "--gpus", "-1"], "--gpus must be >= 0"),
    ],
)
def test_bad_requests_fail_with_one_line(capsys, args, message):
    assert cli.main(["resolve", *args, "--directory", str(ROOT)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_the_epoch_counts_the_rows_whose_gold_does_not_parse(tmp_path):
    """A one-epoch schedule (max_steps empty, as open_r1's) spans the rows Tina's data gave it,
    those no reward can grade included (data/normalize.py keeps them)."""
    source = tmp_path / "open_r1.jsonl"
    rows = [
        {"problem": f"Compute ${i}+1$.", "solution": f"$\\boxed{{{i + 1}}}$"} for i in range(1599)
    ]
    rows.insert(800, {"problem": "Name the empty box.", "solution": "\\boxed{}"})
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    paper = paper_config()
    spec = dataclasses.replace(paper.datasets["open_r1_math"], source=f"local:{source}")
    parquet = tmp_path / "open_r1.parquet"
    report = prepare_training_dataset(spec, parquet, tmp_path / "open_r1.report.json")
    assert report["kept_issues"]["gold_unparseable_accuracy"] == 1
    row = dataclasses.replace(paper.experiments["open_r1"], stop_step=None)
    assert row.max_steps is None
    plan = resolve_experiment(paper, row, n_gpus=0, dataset_parquet=parquet)
    # 1600 prompts / 8 per step = 200 steps; without the kept row it would be 199
    assert plan["schedule"] == {"max_steps": 200, "stop_step": 200, "epoch_steps": 200}
    assert plan["settings"]["grpo"]["max_steps"] == 200
