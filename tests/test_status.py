"""tina-repro status reads progress from the files the workflow writes."""

from helpers import paper_config

from tina_repro.ops.status import format_status, run_status
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
    assert limr_line.split() == ["limr", "30/180", "partial", "1/3", "11", "0"]
    open_r1 = next(line for line in text.splitlines() if line.startswith("open_r1 "))
    assert open_r1.split()[:3] == ["open_r1", "0/1900", "pending"]  # stops far before the epoch
    # (six baselines + two released adapters) x six benchmarks
    assert text.splitlines()[-1] == "baselines: 0/48 evaluations done, 0 samples lost"


def test_status_says_which_samples_lost_their_store_file(tmp_path):
    wc = paper_config()
    run = tmp_path / "results" / "train" / "limr"
    for name in CHECKPOINT_FILES:
        (run / "checkpoint-10").mkdir(parents=True, exist_ok=True)
        (run / "checkpoint-10" / name).write_text("{}")
    (run / "manifest.json").write_text('{"checkpoint_steps": [10]}')
    for run_name, point in (("limr", "step-10"), ("baseline", "base")):
        for benchmark in ("aime24", "amc23"):
            folder = tmp_path / "results" / "eval" / run_name / point / benchmark
            folder.mkdir(parents=True)
            (folder / "samples.abc.jsonl").write_text("{}\n")
            (folder / "samples.jsonl").symlink_to("samples.abc.jsonl")
            (folder / "score.json").write_text("{}")
    # the store files of one checkpoint benchmark and one baseline benchmark are deleted
    (tmp_path / "results/eval/limr/step-10/amc23/samples.abc.jsonl").unlink()
    (tmp_path / "results/eval/baseline/base/aime24/samples.abc.jsonl").unlink()

    assert run_status(wc, "limr", tmp_path).samples_lost == 1
    lines = format_status(wc, tmp_path).splitlines()
    assert next(line for line in lines if line.startswith("limr ")).split()[-1] == "1"
    assert lines[-2].endswith("evaluations done, 1 samples lost")
    assert lines[-1] == (
        "2 samples.jsonl link(s) point to a store file that is gone: "
        "`snakemake all` generates them again"
    )
