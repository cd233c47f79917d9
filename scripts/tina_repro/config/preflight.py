"""Checks of the planned jobs before the first one starts (the workflow's ``onstart``).

A GPU row planned on a host without GPUs would otherwise fail only inside its training job, after
the downloads and data preparation before it; this check refuses the whole run up front and says
which configuration fits the host.

:func:`planned_jobs` is the workflow's one use of Snakemake internals (the ``workflow`` object's
``touch``, ``local_exec`` and ``dag.needrun_jobs()``, a job's ``rule.name``, ``wildcards_dict``
and ``resources``); tests/test_preflight.py runs a real Snakemake DAG through it, so an upgrade
that changes them fails there.
"""

from __future__ import annotations

from collections.abc import Iterable

from tina_repro import gpu_lease
from tina_repro.config.workflow import CPU_DEMO_CONFIG, WorkflowConfig
from tina_repro.errors import UserError

#: (rule name, wildcards, GPUs the job declares)
PlannedJob = tuple[str, dict[str, str], int]


class DeviceShortfall(UserError):
    """A planned job needs more GPUs than this host has."""


def check_devices(wc: WorkflowConfig, jobs: Iterable[PlannedJob], available: int) -> None:
    """Raise :class:`DeviceShortfall` for the first planned job that needs more than
    ``available`` GPUs, naming its row (training) or setting (generation) and what to use."""
    for rule, wildcards, gpus in jobs:
        if gpus <= available:
            continue
        host = f"this host has {available} GPU(s)"
        if rule == "train_grpo":
            where = wc.where("experiments", wildcards["experiment"])
            raise DeviceShortfall(
                f"{where}: trains on {gpus} GPU(s) but {host}; on a CPU run the demo "
                f"(--profile profiles/demo, i.e. --configfile {CPU_DEMO_CONFIG}), or run on a "
                "GPU host or cluster (--profile profiles/slurm)"
            )
        raise DeviceShortfall(
            f"rule {rule} ({', '.join(f'{k}={v}' for k, v in wildcards.items())}) needs "
            f"{gpus} GPU(s) but {host}; on a CPU set evaluation.backend: transformers (as "
            f"{CPU_DEMO_CONFIG} does), or run on a GPU host"
        )


def planned_jobs(workflow) -> list[PlannedJob] | None:
    """The jobs Snakemake's ``workflow`` (in ``onstart``) is about to run on this host, or None
    when it runs none here: ``--touch`` only touches outputs, and a cluster executor sends the
    jobs elsewhere (they are not checked here)."""
    if workflow.touch or not workflow.local_exec:
        return None
    return [
        (job.rule.name, dict(job.wildcards_dict), int(job.resources.get("gpu", 0) or 0))
        for job in workflow.dag.needrun_jobs()
    ]


def check_planned_devices(workflow, wc: WorkflowConfig) -> None:
    """:func:`check_devices` of the :func:`planned_jobs` against the GPUs visible here."""
    jobs = planned_jobs(workflow)
    if jobs is not None:
        check_devices(wc, jobs, len(gpu_lease.visible_devices()))
