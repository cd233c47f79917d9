"""One writer per run folder: two trainings of the same run started at once, exactly one trains."""

import json
import multiprocessing
import os
import socket

import pytest
from helpers import tiny_job, tiny_row, write_rows

from tina_repro import gpu_lease, locks, paths
from tina_repro.demo.tiny_model import build_tiny_model

# spawn, not fork: each training is a fresh interpreter, as two Snakemake jobs would be
SPAWN = multiprocessing.get_context("spawn")


def _train(job, barrier, results):
    from tina_repro.train import launch

    barrier.wait(timeout=60)  # both start at the same moment
    try:
        manifest = launch.run_leased(job)
        results.put(("trained", os.getpid(), manifest["final_step"]))
    except locks.AlreadyRunningError as error:
        results.put(("refused", os.getpid(), str(error)))


@pytest.mark.slow
def test_two_trainings_of_one_run_at_once_exactly_one_trains(tmp_path):
    model = build_tiny_model(tmp_path / "model", seed=0, size="test")
    out = tmp_path / "results" / "train" / "tiny"
    row = tiny_row(max_steps=2, stop_step=2, save_steps=2)
    job = tiny_job(row, write_rows(tmp_path / "rows.parquet"), model, out)
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    trainers = [SPAWN.Process(target=_train, args=(job, barrier, results)) for _ in "ab"]
    for trainer in trainers:
        trainer.start()
    try:
        outcomes = sorted(results.get(timeout=600) for _ in trainers)
    finally:
        for trainer in trainers:
            trainer.join(timeout=60)
    (refused, _loser, message), (trained, winner, final_step) = outcomes
    assert (refused, trained, final_step) == ("refused", "trained", 2)
    assert message == (
        f"run folder {out} is being written by PID {winner} on host {socket.gethostname()} "
        f"(lock {out / paths.WRITER_LOCK}); wait for it or stop that process"
    )
    assert json.loads((out / paths.MANIFEST).read_text())["final_step"] == 2
    assert [trainer.exitcode for trainer in trainers] == [0, 0]
    assert locks.holder(out / paths.WRITER_LOCK) is None  # released with its holder's run


def test_the_lock_of_a_dead_training_never_refuses(tmp_path, monkeypatch):
    """A lock file left by a killed run (its PID text still inside) lets the next run train."""
    from tina_repro.train import launch

    out = tmp_path / "tiny"
    out.mkdir()
    (out / paths.WRITER_LOCK).write_text("999999 some-dead-host\n")
    monkeypatch.setattr(launch, "run_training", lambda job, main_process_port=None: {"ok": 1})
    job = tiny_job(tiny_row(), tmp_path / "rows.parquet", tmp_path / "model", out)
    assert launch.run_leased(job) == {"ok": 1}


def test_multi_gpu_workers_train_under_the_launchers_lock(tmp_path, monkeypatch):
    """accelerate's workers run the worker entry, which takes no lock: the launcher holds it."""
    from tina_repro.files import write_json
    from tina_repro.train import launch

    monkeypatch.setenv("TINA_GPU_COUNT", "2")
    monkeypatch.setenv("TINA_GPU_LOCK_DIR", str(tmp_path / "gpu-locks"))
    out = tmp_path / "run"
    seen = []

    def claim(job):  # the launcher claims the folder once, before any worker starts
        seen.append(("claim", locks.holder(out / paths.WRITER_LOCK)))

    def worker_train(job):
        seen.append(("worker", locks.holder(out / paths.WRITER_LOCK)))
        write_json(out / paths.MANIFEST, {"final_step": 2})

    def accelerate_launch(argv, **kwargs):  # its workers, run here: a second lock would refuse
        launch.main(argv[argv.index("--args") :])

    monkeypatch.setattr(launch, "claim_run_folder", claim)
    monkeypatch.setattr(launch, "train", worker_train)
    monkeypatch.setattr(launch.subprocess, "run", accelerate_launch)
    job = tiny_job(tiny_row(gpus=2), tmp_path / "rows.parquet", tmp_path / "model", out)
    assert launch.run_leased(job) == {"final_step": 2}
    holder = f"PID {os.getpid()} on host {socket.gethostname()}"
    assert seen == [("claim", holder), ("worker", holder)]


def _launch_and_wait(job, ready):
    """A training whose accelerate launcher is a stand-in that reports its PID and waits."""
    import sys

    from tina_repro.train import launch

    waiting = f"import os, time; open({str(ready)!r}, 'w').write(str(os.getpid())); time.sleep(300)"
    launch.launch_command = lambda *args, **kwargs: [sys.executable, "-c", waiting]
    launch.claim_run_folder = lambda job: None  # no training table here
    launch.run_leased(job)


def test_a_launcher_orphaned_by_its_parent_keeps_the_run_folder_and_gpus_locked(
    tmp_path, monkeypatch
):
    import signal

    from tina_repro.train import launch

    monkeypatch.setenv("TINA_GPU_LOCK_DIR", str(tmp_path / "gpu-locks"))
    monkeypatch.setenv("TINA_GPU_COUNT", "2")
    out, ready = tmp_path / "run", tmp_path / "launcher.pid"
    job = tiny_job(tiny_row(gpus=2), tmp_path / "rows.parquet", tmp_path / "model", out)
    parent = SPAWN.Process(target=_launch_and_wait, args=(job, ready))
    parent.start()
    launcher = None
    try:
        for _ in range(600):  # the launcher has started (bounded: 60 s)
            if ready.exists() and ready.read_text():
                break
            parent.join(timeout=0.1)
        launcher = int(ready.read_text())
        parent.kill()  # the training process dies; its launcher runs on, orphaned
        parent.join(timeout=30)
        with pytest.raises(locks.AlreadyRunningError, match=f"run folder {out} is being written"):
            launch.run_leased(job)
        with pytest.raises(gpu_lease.GpuLeaseTimeout):  # and its GPUs stay leased
            with gpu_lease.lease(1, timeout_s=0.2, poll_s=0.05):
                pass
    finally:
        if launcher is not None:
            os.kill(launcher, signal.SIGKILL)
        parent.kill()
    for _ in range(600):  # the kernel drops the lock once the launcher is gone
        if locks.holder(out / paths.WRITER_LOCK) is None:
            break
        parent.join(timeout=0.1)
    monkeypatch.setattr(launch, "run_training", lambda job, main_process_port=None: {"ok": 1})
    assert launch.run_leased(job) == {"ok": 1}
