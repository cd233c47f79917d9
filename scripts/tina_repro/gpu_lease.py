"""Distinct GPUs for concurrent jobs on one machine.

Snakemake's ``--resources gpu=N`` only counts GPUs; it never says which device a job may use
(snakemake#281), so two jobs would both land on GPU 0. Each GPU job therefore leases device ids
and exports ``CUDA_VISIBLE_DEVICES`` before CUDA is initialised.

Where the devices come from, first match wins:

1. ``CUDA_VISIBLE_DEVICES`` already set (non-empty) when the job starts, by a scheduler such as
   SLURM or by the caller: the job uses the first ``n`` of exactly those devices and takes no
   lock; other jobs on the node were given other devices. Asking for more fails at once.
2. Under SLURM (``SLURM_JOB_ID``) without ``CUDA_VISIBLE_DEVICES``: the job was given no GPUs.
3. ``TINA_GPU_COUNT``: a fake device count (ids ``0..N-1``), how tests fake a machine; locked.
4. ``nvidia-smi -L``: every GPU of the machine; locked.

Locked devices use one lock file (:func:`tina_repro.locks.try_lock`) per device under
``TINA_GPU_LOCK_DIR`` (default ``/tmp/tina-repro-gpu-locks``; all jobs of a machine must agree). A
job takes all its devices at once or none: an attempt that finds fewer than ``n`` free releases what
it took before sleeping (randomised backoff), so waiting jobs never hold devices and cannot deadlock
each other. A lock dies with its process, so a killed job never leaks a GPU. ``n == 0`` hides CUDA.
A child process that uses the devices (accelerate's launcher) shares the lease when given
:func:`held_fds` in ``subprocess``'s ``pass_fds``: the devices stay locked while either lives.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tina_repro import locks
from tina_repro.errors import UserError

log = logging.getLogger(__name__)
DEFAULT_LOCK_DIR = "/tmp/tina-repro-gpu-locks"
DEMO_CONFIG = "config/demo/config.yaml"

# Leases active in this process: (value exported, scheduler's devices or None, ids). Tells a
# nested lease that CUDA_VISIBLE_DEVICES was set by this module, not by a scheduler.
_active: list[tuple[str, list[str] | None, list[str]]] = []
_handles: list[locks.HeldLock] = []  # the device locks held in this process, for held_fds


class GpuLeaseError(UserError, RuntimeError):
    """The job asks for more GPUs than it can ever get here."""


class GpuLeaseTimeout(UserError, TimeoutError):
    """The GPUs stayed busy for longer than the lease's timeout."""


def _split(value: str) -> list[str]:
    return [d.strip() for d in value.split(",") if d.strip() and d.strip() != "NoDevFiles"]


def _scheduler_devices() -> list[str] | None:
    """Devices a scheduler (or the caller) assigned to this job; None where nobody did."""
    current = os.environ.get("CUDA_VISIBLE_DEVICES")
    if _active and current == _active[-1][0]:  # exported by an enclosing lease of ours
        return _active[-1][1]
    if current and current.strip():
        return _split(current)
    if os.environ.get("SLURM_JOB_ID"):
        return []
    return None


def _machine_devices() -> list[str]:
    if "TINA_GPU_COUNT" in os.environ:
        return [str(i) for i in range(int(os.environ["TINA_GPU_COUNT"]))]
    if shutil.which("nvidia-smi"):
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
        return [str(i) for i, line in enumerate(listing.stdout.splitlines()) if line.strip()]
    return []


def visible_devices() -> list[str]:
    """Device ids this process may hand out (see the module docstring for the order)."""
    assigned = _scheduler_devices()
    return assigned if assigned is not None else _machine_devices()


def held_fds() -> list[int]:
    """Descriptors of the device locks this process holds, to share with a child process."""
    return [handle.fd for handle in _handles]


def _try_all(devices: list[str], n: int, lock_dir: Path) -> list[tuple[str, locks.HeldLock]] | None:
    """Lock ``n`` free devices, or none: a short attempt releases whatever it took."""
    held: list[tuple[str, locks.HeldLock]] = []
    for device in devices:
        handle = locks.try_lock(lock_dir / f"gpu-{device}.lock")
        if handle is not None:
            held.append((device, handle))
            if len(held) == n:
                return held
    for _device, handle in held:
        handle.release()
    return None


def _too_few(n: int, devices: list[str], assigned: list[str] | None) -> GpuLeaseError:
    if assigned is None:
        where = f"the machine shows {len(devices)}"
        fix = f"run it on a machine with {n} GPU(s)"
    elif os.environ.get("SLURM_JOB_ID") and not assigned:
        where = f"SLURM job {os.environ['SLURM_JOB_ID']} was given none"
        fix = "request GPUs from SLURM (e.g. --gres=gpu:N)"
    else:
        where = f"CUDA_VISIBLE_DEVICES gives it {len(devices)} ({','.join(devices) or 'none'})"
        fix = f"ask the scheduler for {n} GPU(s) or lower the job's GPU count"
    return GpuLeaseError(
        f"this job needs {n} GPU(s) but {where}; {fix}, or use the CPU demo config ({DEMO_CONFIG})"
    )


@contextmanager
def lease(
    n: int, lock_dir: Path | None = None, timeout_s: float = 3600.0, poll_s: float = 2.0
) -> Iterator[list[str]]:
    """Hold ``n`` distinct GPUs for the duration of the block and export CUDA_VISIBLE_DEVICES.

    ``n == 0`` is a CPU job: nothing is locked and CUDA is hidden. Waits (polling, holding
    nothing) while other jobs hold the devices; raises GpuLeaseTimeout after ``timeout_s`` and
    GpuLeaseError at once when there are fewer than ``n`` devices at all.
    """
    previous = os.environ.get("CUDA_VISIBLE_DEVICES")
    assigned = _scheduler_devices()
    held: list[tuple[str, locks.HeldLock]] = []
    if n == 0:
        ids: list[str] = []
    elif assigned is not None:  # the scheduler's devices: no node-wide lock
        in_use = {d for _value, base, taken in _active if base is not None for d in taken}
        devices = [d for d in assigned if d not in in_use]
        if n > len(devices):
            raise _too_few(n, devices, assigned)
        ids = devices[:n]
        log.info("using scheduler-assigned GPU(s) %s (no lock)", ",".join(ids))
    else:
        devices = _machine_devices()
        if n > len(devices):
            raise _too_few(n, devices, None)
        lock_dir = Path(lock_dir or os.environ.get("TINA_GPU_LOCK_DIR", DEFAULT_LOCK_DIR))
        lock_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        while (got := _try_all(devices, n, lock_dir)) is None:
            waited = time.monotonic() - started
            if waited >= timeout_s:
                raise GpuLeaseTimeout(
                    f"no {n} free GPU(s) among devices {','.join(devices)} after waiting "
                    f"{waited:.1f} s; lower --resources gpu=N so fewer GPU jobs run at once, or "
                    f"look for orphaned processes holding the locks in {lock_dir} "
                    f"(fuser -v {lock_dir}/gpu-*.lock)"
                )
            time.sleep(min(poll_s * random.uniform(0.5, 1.5), max(timeout_s - waited, 0.0)))
        held = got
        ids = [d for d, _ in held]
        log.info("leased GPU(s) %s", ",".join(ids))
    exported = ",".join(ids)
    os.environ["CUDA_VISIBLE_DEVICES"] = exported
    _active.append((exported, assigned, ids))
    _handles.extend(handle for _device, handle in held)
    try:
        yield ids
    finally:
        _active.pop()
        for _device, handle in held:
            _handles.remove(handle)
            handle.release()
        if previous is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = previous
