"""GPU leases: concurrent jobs on one machine get distinct device ids (fake device count); the
threads and environment the workflow's GPU and CPU jobs ask for."""

import fcntl
import multiprocessing
import os
import re
import shutil
import time

import pytest

from tina_repro import gpu_lease, jobs, locks

SAMPLES = "results/eval/baseline/base/aime24/samples.jsonl"
DEMO_TARGETS = "results/train/demo/manifest.json"


@pytest.fixture(autouse=True)
def no_scheduler(monkeypatch):
    """Tests fake the machine themselves: nothing from the environment they run in."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("TINA_GPU_LOCK_DIR", raising=False)


@pytest.fixture
def fake_gpus(monkeypatch, tmp_path):
    monkeypatch.setenv("TINA_GPU_COUNT", "4")
    return tmp_path / "locks"


def test_lease_exports_devices_and_restores(fake_gpus):
    with gpu_lease.lease(2, lock_dir=fake_gpus) as ids:
        assert ids == ["0", "1"]
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_nested_leases_never_share_a_device(fake_gpus):
    with gpu_lease.lease(1, lock_dir=fake_gpus) as first:
        with gpu_lease.lease(2, lock_dir=fake_gpus) as second:
            assert not set(first) & set(second)
            assert len(set(first) | set(second)) == 3
        assert os.environ["CUDA_VISIBLE_DEVICES"] == ",".join(first)


def test_cpu_job_hides_cuda(fake_gpus):
    with gpu_lease.lease(0, lock_dir=fake_gpus) as ids:
        assert ids == []
        assert os.environ["CUDA_VISIBLE_DEVICES"] == ""
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_too_many_gpus_names_the_demo(fake_gpus):
    with pytest.raises(gpu_lease.GpuLeaseError, match="config/demo/config.yaml") as caught:
        with gpu_lease.lease(5, lock_dir=fake_gpus):
            pass
    assert isinstance(caught.value, RuntimeError)
    assert "\n" not in str(caught.value)


def test_waits_then_times_out_with_one_line(fake_gpus):
    with gpu_lease.lease(4, lock_dir=fake_gpus):
        started = time.monotonic()
        with pytest.raises(gpu_lease.GpuLeaseTimeout) as caught:
            with gpu_lease.lease(1, lock_dir=fake_gpus, timeout_s=0.2, poll_s=0.05):
                pass
        assert 0.2 <= time.monotonic() - started < 2
    message = str(caught.value)
    assert isinstance(caught.value, TimeoutError)
    assert "\n" not in message
    assert "1 free GPU(s) among devices 0,1,2,3" in message
    assert "--resources gpu=N" in message and str(fake_gpus) in message


# ---- several processes (fork: cheap, and the fake machine's environment is inherited) ----------

FORK = multiprocessing.get_context("fork")


def _hold(lock_dir, n, ready, release, timeout_s=30.0):
    with gpu_lease.lease(n, lock_dir=lock_dir, timeout_s=timeout_s, poll_s=0.05) as ids:
        ready.put(ids)
        release.wait(timeout=30)


def _lockable(path):
    """Whether another process could lock ``path`` now (a few quick tries, then released)."""
    for _ in range(5):
        with path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                time.sleep(0.002)
    return False


def test_a_waiting_job_holds_no_device(monkeypatch, tmp_path):
    """3 GPUs, 2 held: a 2-GPU job waits holding none of them, then gets 2 on release."""
    monkeypatch.setenv("TINA_GPU_COUNT", "3")
    ready, release = FORK.Queue(), FORK.Event()
    holder = FORK.Process(target=_hold, args=(tmp_path, 2, ready, release))
    holder.start()
    assert ready.get(timeout=10) == ["0", "1"]
    waiter_ready = FORK.Queue()
    waiter = FORK.Process(target=_hold, args=(tmp_path, 2, waiter_ready, FORK.Event(), 10.0))
    waiter.start()
    try:
        time.sleep(0.2)  # the waiter is polling now
        for _ in range(10):
            assert _lockable(tmp_path / "gpu-2.lock"), "the waiting job kept GPU 2 locked"
            assert waiter_ready.empty()
            time.sleep(0.03)
        release.set()
        got = waiter_ready.get(timeout=10)
        assert len(set(got)) == 2 and set(got) <= {"0", "1", "2"}
    finally:
        for process in (holder, waiter):
            process.kill()
            process.join(timeout=10)


def _take_two(lock_dir, results, barrier):
    barrier.wait(timeout=10)  # all ask at once: the worst case for partial holds
    with gpu_lease.lease(2, lock_dir=lock_dir, timeout_s=20, poll_s=0.02) as ids:
        start = time.monotonic()
        time.sleep(0.05)
        results.put((ids, start, time.monotonic()))


def test_many_two_gpu_jobs_all_finish_without_sharing(monkeypatch, tmp_path):
    """Eight 2-GPU jobs on 4 GPUs: no deadlock, and no device in two jobs at once."""
    monkeypatch.setenv("TINA_GPU_COUNT", "4")
    try_lock = locks.try_lock

    def slow_try_lock(path):  # widens the race: jobs interleave their lock attempts
        handle = try_lock(path)
        time.sleep(0.01)
        return handle

    monkeypatch.setattr(locks, "try_lock", slow_try_lock)  # inherited by the forks
    results, barrier = FORK.Queue(), FORK.Barrier(8)
    workers = [FORK.Process(target=_take_two, args=(tmp_path, results, barrier)) for _ in range(8)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    holds = [results.get(timeout=20) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    assert time.monotonic() - started < 20
    assert [worker.exitcode for worker in workers] == [0] * 8
    for i, (ids, start, end) in enumerate(holds):
        assert len(set(ids)) == 2
        for other, other_start, other_end in holds[i + 1 :]:
            if set(ids) & set(other):
                assert end <= other_start or other_end <= start


def _hold_one(lock_dir, queue, release):
    with gpu_lease.lease(1, lock_dir=lock_dir) as ids:
        queue.put(ids[0])
        release.wait(timeout=60)


def test_eight_concurrent_processes_get_eight_distinct_gpus(monkeypatch, tmp_path):
    """Like `snakemake --resources gpu=8` running eight one-GPU evaluations at once."""
    monkeypatch.setenv("TINA_GPU_COUNT", "8")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    release = context.Event()  # all eight hold their GPU at once until every one has reported
    workers = [context.Process(target=_hold_one, args=(tmp_path, queue, release)) for _ in range(8)]
    for worker in workers:
        worker.start()
    devices = [queue.get(timeout=60) for _ in workers]
    release.set()
    for worker in workers:
        worker.join(timeout=30)
    assert sorted(devices, key=int) == [str(i) for i in range(8)]
    assert all(worker.exitcode == 0 for worker in workers)


def test_a_killed_holder_releases_its_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("TINA_GPU_COUNT", "1")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    never = context.Event()  # kept referenced: the child unpickles it after start() returns
    holder = context.Process(target=_hold_one, args=(tmp_path, queue, never))
    holder.start()
    assert queue.get(timeout=30) == "0"
    holder.kill()
    holder.join()
    with gpu_lease.lease(1, lock_dir=tmp_path, timeout_s=5, poll_s=0.05) as ids:
        assert ids == ["0"]


# ---- devices assigned by a scheduler -----------------------------------------------------------


def test_scheduler_devices_are_used_as_given_without_locks(monkeypatch, tmp_path):
    monkeypatch.setenv("TINA_GPU_COUNT", "8")  # the scheduler's assignment wins
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    assert gpu_lease.visible_devices() == ["5", "7"]
    with gpu_lease.lease(2, lock_dir=tmp_path / "locks", timeout_s=0.1) as ids:
        assert ids == ["5", "7"]
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "5,7"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "5,7"
    assert not (tmp_path / "locks").exists()


def test_a_smaller_job_takes_the_first_scheduler_devices(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    with gpu_lease.lease(1, lock_dir=tmp_path, timeout_s=0.1) as first:
        assert first == ["5"] and os.environ["CUDA_VISIBLE_DEVICES"] == "5"
        with gpu_lease.lease(
            1, lock_dir=tmp_path, timeout_s=0.1
        ) as second:  # nested: the other one
            assert second == ["7"] and os.environ["CUDA_VISIBLE_DEVICES"] == "7"
        with gpu_lease.lease(0, lock_dir=tmp_path):
            assert os.environ["CUDA_VISIBLE_DEVICES"] == ""
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "5,7"
    assert list(tmp_path.iterdir()) == []


def test_asking_for_more_than_the_scheduler_gave_fails_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    with pytest.raises(gpu_lease.GpuLeaseError) as caught:
        with gpu_lease.lease(3, lock_dir=tmp_path, timeout_s=0.1, poll_s=0.05):
            pass
    message = str(caught.value)
    assert "\n" not in message
    assert "needs 3 GPU(s)" in message and "5,7" in message and "config/demo/config.yaml" in message
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "5,7"


def test_a_slurm_job_without_gpus_takes_no_machine_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("TINA_GPU_COUNT", "4")
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    with gpu_lease.lease(0, lock_dir=tmp_path) as ids:
        assert ids == []
    with pytest.raises(gpu_lease.GpuLeaseError, match="SLURM job 4242.*--gres") as caught:
        with gpu_lease.lease(1, lock_dir=tmp_path, timeout_s=0.1):
            pass
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_training_job_runs_on_its_leased_gpus(monkeypatch, tmp_path):
    """The training rule's entry leases the row's GPUs and derives a distinct launch port."""
    from helpers import tiny_job, tiny_row

    from tina_repro.train import launch

    monkeypatch.setenv("TINA_GPU_COUNT", "4")
    monkeypatch.setenv("TINA_GPU_LOCK_DIR", str(tmp_path))
    seen = {}

    def fake_run_training(job, main_process_port=None):
        seen.update(devices=os.environ["CUDA_VISIBLE_DEVICES"], port=main_process_port)
        return {}

    monkeypatch.setattr(launch, "run_training", fake_run_training)
    with gpu_lease.lease(1, lock_dir=tmp_path):  # another job holds GPU 0
        launch.run_leased(tiny_job(tiny_row(gpus=2), "d.parquet", "base", tmp_path / "run"))
    assert seen == {"devices": "1,2", "port": 29501}


# ---- what the workflow's jobs ask of their host (the real DAG, planned offline) ----------------


def _planned(workdir, *args):
    """{rule: [its jobs' dry-run blocks]} of ``snakemake -n`` in ``workdir``."""
    from helpers import snakemake

    proc = snakemake(workdir, "-n", "--cores", "32", *args, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    blocks = {}
    for block in re.split(r"\n(?=(?:rule|checkpoint) )", proc.stdout):
        if match := re.match(r"(?:rule|checkpoint) (\w+):", block):
            blocks.setdefault(match.group(1), []).append(block)
    return blocks


def _threads(block):
    match = re.search(r"^\s+threads: (\d+)$", block, flags=re.MULTILINE)
    return int(match.group(1)) if match else 1


@pytest.fixture
def workdir(tmp_path):
    from helpers import ROOT

    shutil.copytree(ROOT / "config", tmp_path / "config")
    return tmp_path


@pytest.mark.slow
def test_gpu_jobs_get_threads_per_gpu_and_cpu_jobs_one(workdir):
    paper = _planned(workdir, "results/train/still/manifest.json", SAMPLES)
    assert [_threads(b) for b in paper["train_grpo"]] == [2 * jobs.THREADS_PER_GPU]  # 2 GPUs
    assert [_threads(b) for b in paper["generate_samples"]] == [jobs.THREADS_PER_GPU]  # vLLM
    assert [_threads(b) for b in paper["prepare_dataset"]] == [1]

    demo = _planned(workdir, DEMO_TARGETS, "--configfile", str(workdir / "config/demo/config.yaml"))
    assert [_threads(b) for b in demo["train_grpo"]] == [1]  # CPU rows, as the 2-core demo runs
    assert jobs.conda_env(0) == "../envs/cpu.yaml" and jobs.conda_env(2) == "../envs/gpu.yaml"


@pytest.mark.slow
def test_recording_a_commit_in_the_hub_lock_reruns_nothing(workdir):
    """Downloads read and write config/hub.lock.tsv; a newer lock leaves finished ones alone."""
    parquet = workdir / "resources/benchmarks/aime24.parquet"
    report = workdir / "resources/benchmarks/aime24.report.json"
    assert (
        "config/hub.lock.tsv"
        in _planned(workdir, str(parquet.relative_to(workdir)))["prepare_benchmark"][0]
    )
    parquet.parent.mkdir(parents=True)
    parquet.touch()
    report.touch()
    lock = workdir / "config/hub.lock.tsv"
    lock.write_text(lock.read_text() + f"dataset\torg/other\tmain\t{'a' * 40}\t2026-01-01\n")
    os.utime(lock, (parquet.stat().st_mtime + 60,) * 2)  # recorded after aime24 was prepared
    assert _planned(workdir, str(parquet.relative_to(workdir))) == {}
