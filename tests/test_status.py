"""tina-repro status reads progress from the files the workflow writes."""

from pathlib import Path

import yaml

from tina_repro.status import format_status, run_status
from tina_repro.workflow_config import load

ROOT = Path(__file__).resolve().parents[1]


def paper(monkeypatch):
    monkeypatch.chdir(ROOT)
    return load(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))


def test_status_counts_checkpoints_and_scores(monkeypatch, tmp_path):
    wc = paper(monkeypatch)
    run = tmp_path / "results" / "train" / "limr"
    for step in (10, 20, 30):
        (run / f"checkpoint-{step}").mkdir(parents=True)
    (run / "checkpoint-x").mkdir()  # not a checkpoint
    for benchmark in wc.benchmarks:
        score = tmp_path / "results" / "eval" / "limr" / "step-10" / benchmark / "score.json"
        score.parent.mkdir(parents=True)
        score.write_text("{}")
    (tmp_path / "results" / "eval" / "limr" / "step-20" / "aime24").mkdir(parents=True)
    (tmp_path / "results" / "eval" / "limr" / "step-20" / "aime24" / "score.json").write_text("{}")

    status = run_status(wc, "limr", tmp_path)
    assert (status.trained_step, status.stop_step, status.finished) == (30, 180, False)
    assert (status.checkpoints_saved, status.checkpoints_evaluated) == (3, 1)
    assert status.evaluations_pending == 5 + 6

    text = format_status(wc, tmp_path)
    limr_line = next(line for line in text.splitlines() if line.startswith("limr "))
    assert limr_line.split() == ["limr", "30/180", "partial", "1/3", "11"]
    assert "open_r1" in text and "0/epoch" in text
    assert text.splitlines()[-1] == "baselines: 0/36 evaluations done"
