"""Kill-and-resume of ``train``: a SIGKILLed run resumes from its last complete checkpoint,
leaves earlier checkpoints untouched, ends at stop_step, and (within the first epoch) ends with
exactly the adapter an uninterrupted run produces; a finished run asked again, or a run of other
settings, moves the folder aside and trains afresh."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import ROOT, tiny_job, tiny_row, write_rows

from tina_repro.demo.tiny_model import build_tiny_model
from tina_repro.train.checkpoints import CHECKPOINT_FILES, complete_checkpoints, resume_point
from tina_repro.train.identity import StopStepPassedError
from tina_repro.train.launch import write_args_file
from tina_repro.train.trainer import train

os.environ["HF_HUB_OFFLINE"] = "1"


def file_hashes(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def kill_after_first_checkpoint(args_file: Path, out: Path, log: Path) -> None:
    """Run training in a child process and SIGKILL it as soon as checkpoint-5 is complete."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    with log.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "tina_repro.train.launch", "--args", str(args_file)],
            env=env,
            stderr=stderr,
        )
        deadline = time.monotonic() + 300
        try:
            while 5 not in complete_checkpoints(out):
                assert child.poll() is None, f"training exited early:\n{log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, "no checkpoint-5 within 300 s"
                time.sleep(0.02)
            assert child.poll() is None, "training finished before it could be killed"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()


@pytest.mark.slow
def test_killed_run_resumes_to_stop_step_like_an_uninterrupted_run(tmp_path):
    from safetensors.torch import load_file

    tiny_dir = build_tiny_model(tmp_path / "model", seed=0, size="test")
    # 40 prompts = one 20-step epoch: the sampler's order is then reproducible across a resume
    parquet = write_rows(tmp_path / "rows.parquet", n=40)
    row = tiny_row(max_steps=20, stop_step=20, save_steps=5)
    out = tmp_path / "run"
    args_file = write_args_file(tmp_path / "args.json", tiny_job(row, parquet, tiny_dir, out))
    kill_after_first_checkpoint(args_file, out, tmp_path / "child.log")
    assert not (out / "manifest.json").exists()
    killed_at = max(complete_checkpoints(out))
    before = {step: file_hashes(path) for step, path in complete_checkpoints(out).items()}

    manifest = train(tiny_job(row, parquet, tiny_dir, out))
    for step, hashes in before.items():  # earlier checkpoints are never rewritten
        assert file_hashes(out / f"checkpoint-{step}") == hashes
    assert manifest["checkpoint_steps"] == [5, 10, 15, 20]
    assert (manifest["final_step"], manifest["stop_step"]) == (20, 20)
    assert manifest["n_sessions"] == 2 and manifest["stop_reason"] == "stop_step"
    sessions = json.loads((out / "train_sessions.json").read_text())["sessions"]
    assert [s["start_step"] for s in sessions] == [0, killed_at]
    assert sessions[0]["last_step"] >= killed_at and sessions[1]["last_step"] == 20
    assert manifest["wall_seconds"] == pytest.approx(sum(s["wall_seconds"] for s in sessions))
    log = pd.read_csv(out / "log_history.csv")
    assert log["step"].tolist() == list(range(1, 21))
    state = json.loads((out / "checkpoint-20" / "trainer_state.json").read_text())
    assert state["global_step"] == 20
    record = json.loads((out / "identity.json").read_text())
    assert (record["finished"]["step"], record["finished"]["manifest"]) == (20, manifest)
    resumed = {step: file_hashes(path) for step, path in complete_checkpoints(out).items()}

    # Asked again once finished (what --forcerun does): the finished run is moved aside, intact,
    # and the run trains afresh, uninterrupted this time.
    again = train(tiny_job(row, parquet, tiny_dir, out))
    (aside,) = tmp_path.glob("run.superseded-*")
    assert {step: file_hashes(path) for step, path in complete_checkpoints(aside).items()} == (
        resumed
    )
    assert again["n_sessions"] == 1 and again["checkpoint_steps"] == [5, 10, 15, 20]
    # Optimizer, scheduler, RNG and data position were all restored: the resumed run ended with
    # the same adapter as the one that was never interrupted.
    reference = load_file(out / "checkpoint-20" / "adapter_model.safetensors")
    resumed_adapter = load_file(aside / "checkpoint-20" / "adapter_model.safetensors")
    assert resumed_adapter.keys() == reference.keys()
    for name, tensor in reference.items():
        assert resumed_adapter[name].equal(tensor), name
    assert any(t.abs().sum() > 0 for n, t in reference.items() if "lora_B" in n)

    # A lowered stop_step is refused in one line, before any model loads, and moves nothing.
    with pytest.raises(StopStepPassedError, match="checkpoint-20, beyond stop_step 10"):
        train(tiny_job(tiny_row(max_steps=20, stop_step=10, save_steps=5), parquet, tiny_dir, out))
    # Another setting is another run: the finished one is moved aside and this one trains.
    changed = tiny_row(max_steps=20, stop_step=5, save_steps=5, learning_rate=5e-4)
    assert train(tiny_job(changed, parquet, tiny_dir, out))["checkpoint_steps"] == [5]
    assert len(list(tmp_path.glob("run.superseded-*"))) == 2


def test_incomplete_newer_checkpoint_is_ignored_and_removed(tmp_path):
    out = tmp_path / "run"
    complete = out / "checkpoint-5"
    complete.mkdir(parents=True)
    for name in CHECKPOINT_FILES:
        (complete / name).write_text("{}")
    partial = out / "checkpoint-10"
    partial.mkdir()
    (partial / "adapter_model.safetensors").write_text("")  # killed while saving
    assert list(complete_checkpoints(out)) == [5]
    assert resume_point(out, remove_incomplete=True) == complete
    assert not partial.exists()
