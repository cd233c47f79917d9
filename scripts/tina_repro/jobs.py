"""What a GPU-or-CPU job asks of its host: CPU threads and the conda environment to run in.

Snakemake exports a job's ``threads`` as ``OMP_NUM_THREADS`` (and MKL's, OpenBLAS's), and the
SLURM plugin asks for that many CPUs where a profile gives no ``cpus_per_task``. A GPU job gets
``THREADS_PER_GPU`` per device: tokenization, the dataloader, reward and grading code and torch's
host-side work run beside each GPU process. A CPU job (the demo) gets one: one thread is nearly as
fast as two on the demo's two cores, and a second beside another job oversubscribes them (README).
"""

from __future__ import annotations

import os

THREADS_PER_GPU = 8
# Relative to rules/, where Snakemake resolves a rule's conda file.
GPU_ENV = "../envs/gpu.yaml"  # CUDA torch and vLLM
CPU_ENV = "../envs/cpu.yaml"  # CPU torch, no vLLM: what a laptop installs for the demo


def threads(gpus: int) -> int:
    """Threads for a job on ``gpus`` devices (0: a CPU job)."""
    return THREADS_PER_GPU * gpus if gpus > 0 else 1


def conda_env(gpus: int) -> str:
    """The environment file for a job on ``gpus`` devices (0: a CPU job)."""
    return GPU_ENV if gpus > 0 else CPU_ENV


def import_package_from(root: str) -> None:
    """Make jobs import the package under ``root`` (a checkout's ``scripts/``) before others.

    Job processes inherit ``PYTHONPATH``, locally and on a cluster node, where the job's Snakemake
    parses the workflow again; so a second checkout sharing one environment (a worktree, a copy
    for an experiment) runs its own code, not the installed copy's.
    """
    others = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    os.environ["PYTHONPATH"] = os.pathsep.join([root, *others])
