"""tina-repro status reads progress from the files the workflow writes."""

from helpers import paper_config

from tina_repro.results.status import format_status, run_status
from tina_repro.train.checkpoints import CHECKPOINT_FILES


def test_status_counts_complete_checkpoints_and_scores(tmp_path):
    wc = paper_config()
    run = tmp_path / "results" / "train" / "limr"
    for step in (10, 20, 30):
        for name in CHECKPOINT_FILES:
            (run / f"checkpoint-{step}").mkdir(parents=True, exist_ok=True)
            (run / f"checkpoint-{step}" / name).write_text("{}")
    (run / "checkpoint-40").mkdir()  # killed while saving: training would not resume from it
    (run / "checkpoint-40" / "adapter_model.safetensors").write_text("")
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
    open_r1 = next(line for line in text.splitlines() if line.startswith("open_r1 "))
    assert open_r1.split()[:3] == ["open_r1", "0/1900", "pending"]  # stops far before the epoch
    # (six baselines + two released adapters) x six benchmarks
    assert text.splitlines()[-1] == "baselines: 0/48 evaluations done"
