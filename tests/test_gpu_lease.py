"""GPU leases: concurrent jobs on one machine get distinct device ids (fake device count)."""

import multiprocessing
import os
import time

import pytest

from tina_repro import gpu_lease


@pytest.fixture
def fake_gpus(monkeypatch, tmp_path):
    monkeypatch.setenv("TINA_GPU_COUNT", "4")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
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


def test_cpu_job_hides_cuda(fake_gpus):
    with gpu_lease.lease(0, lock_dir=fake_gpus) as ids:
        assert ids == []
        assert os.environ["CUDA_VISIBLE_DEVICES"] == ""


def test_too_many_gpus_names_the_demo(fake_gpus):
    with pytest.raises(RuntimeError, match="config/demo/config.yaml"):
        with gpu_lease.lease(5, lock_dir=fake_gpus):
            pass


def test_waits_then_times_out_when_all_devices_are_held(fake_gpus):
    with gpu_lease.lease(4, lock_dir=fake_gpus):
        with pytest.raises(TimeoutError):
            with gpu_lease.lease(1, lock_dir=fake_gpus, timeout_s=0.2, poll_s=0.05):
                pass


def _hold_one(lock_dir, queue, hold_s):
    with gpu_lease.lease(1, lock_dir=lock_dir) as ids:
        queue.put(ids[0])
        time.sleep(hold_s)


def test_eight_concurrent_processes_get_eight_distinct_gpus(monkeypatch, tmp_path):
    """Like `snakemake --resources gpu=8` running eight one-GPU evaluations at once."""
    monkeypatch.setenv("TINA_GPU_COUNT", "8")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_hold_one, args=(tmp_path, queue, 1.5)) for _ in range(8)]
    for worker in workers:
        worker.start()
    devices = [queue.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert sorted(devices, key=int) == [str(i) for i in range(8)]
    assert all(worker.exitcode == 0 for worker in workers)


def test_a_killed_holder_releases_its_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("TINA_GPU_COUNT", "1")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    holder = context.Process(target=_hold_one, args=(tmp_path, queue, 60))
    holder.start()
    assert queue.get(timeout=30) == "0"
    holder.kill()
    holder.join()
    with gpu_lease.lease(1, lock_dir=tmp_path, timeout_s=5, poll_s=0.05) as ids:
        assert ids == ["0"]


def test_training_job_runs_on_its_leased_gpus(monkeypatch, tmp_path):
    """The training rule's entry leases the row's GPUs and derives a distinct launch port."""
    from tina_repro import training

    monkeypatch.setenv("TINA_GPU_COUNT", "4")
    monkeypatch.setenv("TINA_GPU_LOCK_DIR", str(tmp_path))
    seen = {}

    def fake_run_training(row, config, dataset, base, out, main_process_port=None):
        seen.update(devices=os.environ["CUDA_VISIBLE_DEVICES"], port=main_process_port)
        return {}

    monkeypatch.setattr(training, "run_training", fake_run_training)
    with gpu_lease.lease(1, lock_dir=tmp_path):  # another job holds GPU 0
        training.run_leased({"gpus": 2}, {}, "d.parquet", "base", "out")
    assert seen == {"devices": "1,2", "port": 29501}
