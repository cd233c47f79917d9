"""Distinct GPUs for concurrent jobs on one machine.

Snakemake's ``--resources gpu=N`` only counts GPUs; it never says which device a job may use
(snakemake#281), so two jobs would both land on GPU 0. Each GPU job therefore leases device ids
with non-blocking ``flock`` locks on one file per device and exports ``CUDA_VISIBLE_DEVICES``
before CUDA is initialised. A lock dies with its process, so a killed job never leaks a GPU.

The device count comes from ``TINA_GPU_COUNT`` (also how tests fake a machine), else from the
``CUDA_VISIBLE_DEVICES`` the job started with, else from ``nvidia-smi -L``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)
# One lock file per device; override with TINA_GPU_LOCK_DIR (all jobs of a machine must agree).
DEFAULT_LOCK_DIR = "/tmp/tina-repro-gpu-locks"


def visible_devices() -> list[str]:
    """Device ids this process may hand out."""
    if "TINA_GPU_COUNT" in os.environ:
        return [str(i) for i in range(int(os.environ["TINA_GPU_COUNT"]))]
    if os.environ.get("CUDA_VISIBLE_DEVICES", "").strip():
        return [d.strip() for d in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()]
    if shutil.which("nvidia-smi"):
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
        return [str(i) for i, line in enumerate(listing.stdout.splitlines()) if line.strip()]
    return []


def _try_lock(path: Path):
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


@contextmanager
def lease(
    n: int, lock_dir: Path | None = None, timeout_s: float = 3600.0, poll_s: float = 2.0
) -> Iterator[list[str]]:
    """Hold ``n`` distinct GPUs for the duration of the block and export CUDA_VISIBLE_DEVICES.

    ``n == 0`` is a CPU job: nothing is locked and CUDA is hidden. Waits (polling) while other
    jobs hold the devices, e.g. when jobs run outside Snakemake's resource accounting.
    """
    previous = os.environ.get("CUDA_VISIBLE_DEVICES")
    if n == 0:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        try:
            yield []
        finally:
            _restore(previous)
        return
    devices = visible_devices()
    if n > len(devices):
        raise RuntimeError(
            f"this job needs {n} GPU(s) but the machine shows {len(devices)}; run it on a GPU "
            "machine, or use the CPU demo config (config/demo/config.yaml)"
        )
    lock_dir = Path(lock_dir or os.environ.get("TINA_GPU_LOCK_DIR", DEFAULT_LOCK_DIR))
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    held: list[tuple[str, object]] = []
    try:
        while True:
            for device in devices:
                if len(held) == n:
                    break
                if any(device == d for d, _ in held):
                    continue
                handle = _try_lock(lock_dir / f"gpu-{device}.lock")
                if handle is not None:
                    held.append((device, handle))
            if len(held) == n:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {n} free GPU(s) among {devices} after {timeout_s:.0f} s")
            time.sleep(poll_s)
        ids = [d for d, _ in held]
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(ids)
        log.info("leased GPU(s) %s", ",".join(ids))
        yield ids
    finally:
        for _device, handle in held:
            handle.close()
        _restore(previous)


def _restore(previous: str | None) -> None:
    if previous is None:
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    else:
        os.environ["CUDA_VISIBLE_DEVICES"] = previous
