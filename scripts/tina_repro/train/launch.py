"""Starting a training run: in this process, or one process per GPU through accelerate.

Rows with ``gpus > 1`` run one process per GPU: :func:`run_training` starts
:func:`launch_command` (``accelerate launch ... -m tina_repro.train.launch --args FILE``) for them
and runs everything else in-process. ``python -m tina_repro.train.launch --args FILE`` reads the
JSON file written by :func:`write_args_file` and calls :func:`~tina_repro.train.trainer.train`.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

import tina_repro
from tina_repro import gpu_lease, locks, logs, paths
from tina_repro.files import read_json, write_json
from tina_repro.train.context import TrainingJob
from tina_repro.train.trainer import claim_run_folder, train

logger = logging.getLogger(__name__)
# The folder the package is imported from: the workers must import this same copy.
PACKAGE_PARENT = Path(tina_repro.__file__).resolve().parents[1]


def write_args_file(path: str | Path, job: TrainingJob) -> Path:
    """The JSON file ``python -m tina_repro.train.launch --args FILE`` reads."""
    return write_json(path, job.as_params())


def launch_command(
    args_file: str | Path, n_gpus: int, *, main_process_port: int | None = None
) -> list[str]:
    """argv that trains ``args_file`` on ``n_gpus`` processes (one per GPU) with accelerate.

    bf16 mixed precision and no torch.compile, as the paper's accelerate config minus DeepSpeed.
    Give each concurrent job on one machine its own ``main_process_port``.
    """
    if isinstance(n_gpus, bool) or not isinstance(n_gpus, int) or n_gpus < 1:
        raise ValueError(f"n_gpus must be an integer >= 1, got {n_gpus!r}")
    argv = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1"]
    argv += ["--num_processes", str(n_gpus), "--mixed_precision", "bf16"]
    argv += ["--dynamo_backend", "no"]
    if n_gpus > 1:
        argv.append("--multi_gpu")
    if main_process_port is not None:
        argv += ["--main_process_port", str(main_process_port)]
    return [*argv, "-m", "tina_repro.train.launch", "--args", str(args_file)]


def run_training(job: TrainingJob, *, main_process_port: int | None = None) -> dict:
    """``train`` in this process, or through ``launch_command`` when the run needs > 1 GPU."""
    device = job.device or ("cuda" if job.row.gpus > 0 else "cpu")
    if device == "cpu" or job.row.gpus <= 1:
        return train(job)
    claim_run_folder(job)  # once, here: the workers only check it
    args_file = write_args_file(Path(job.out_dir) / paths.TRAIN_ARGS, job)
    argv = launch_command(args_file, job.row.gpus, main_process_port=main_process_port)
    logger.info("launching %s", " ".join(argv))
    # the package may be importable only through pytest's or Snakemake's path, not installed
    search = [str(PACKAGE_PARENT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in search if p)}
    # The workers write where this process does: the rule's log under Snakemake. The launcher
    # shares this process's run-folder lock and GPU leases, which so outlive this process if it
    # is killed while the launcher runs on.
    lock = locks.held_fd(Path(job.out_dir) / paths.WRITER_LOCK)
    keep = (*([] if lock is None else [lock]), *gpu_lease.held_fds())
    subprocess.run(argv, check=True, env=env, stdout=sys.stdout, stderr=sys.stderr, pass_fds=keep)
    return read_json(Path(job.out_dir) / paths.MANIFEST)


def run_leased(job: TrainingJob) -> dict:
    """``run_training`` as the only writer of its run folder, on GPUs leased for it alone.

    The run-folder lock comes first, so a second training of the same run (e.g. an orphan of a
    killed ``snakemake`` still running beside a rerun) stops at once with one line naming the
    holder instead of waiting for GPUs. This process holds it for the whole run, also while
    accelerate's workers train, so the workers never contend for it. Concurrent runs on one
    machine get distinct devices (gpu_lease) and distinct rendezvous ports for their multi-GPU
    launch, derived from their first device.
    """
    out_dir = Path(job.out_dir)
    with locks.exclusive(out_dir / paths.WRITER_LOCK, f"run folder {out_dir}"):
        with gpu_lease.lease(job.row.gpus) as devices:
            port = 29500 + int(devices[0]) if devices else None
            return run_training(job, main_process_port=port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tina_repro.train.launch",
        description="Train one experiment row (arguments in a JSON file from write_args_file).",
    )
    parser.add_argument("--args", required=True, help="JSON file written by write_args_file")
    options = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logs.setup()
    train(TrainingJob.from_params(read_json(options.args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
