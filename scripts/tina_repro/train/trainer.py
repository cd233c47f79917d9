"""LoRA-GRPO training of one experiment row with TRL 1.16, resumable and measured.

``train`` turns one experiments sheet row into a TRL ``GRPOTrainer`` run whose settings follow the
paper's TRL 0.15.2 recipe field by field (:mod:`tina_repro.train.mapping`), stops at the row's
stop_step while the LR schedule spans max_steps (docs/paper.md#training), and writes into
``out_dir`` (= results/train/{experiment}/):

- ``checkpoint-{step}/``: LoRA adapter plus optimizer, scheduler and RNG state, every save_steps
  and at the stop step (``PeftModel.from_pretrained(base, checkpoint)`` loads the adapter);
- ``resolved_config.json``: every GRPOConfig and LoraConfig value used, the row, the
  paper-to-TRL mapping, package versions and git commit;
- ``train_sessions.json``: wall time, step range and peak memory of each (re)start;
- ``log_history.csv``: one row per optimizer step (rewards, KL, entropy, lengths, lr, tokens);
- ``manifest.json`` last: the rule's declared output, written only when the run is complete.

- ``identity.json`` first: the run's identity (what it read, by content) and, last, the step and
  manifest it finished with (:mod:`tina_repro.train.identity`).

A rerun of the same run (same identity) on the same ``out_dir`` resumes from the newest complete
checkpoint (adapter, optimizer, scheduler, RNG, data position), so a killed job loses at most
save_steps steps and never rewrites an earlier checkpoint. A folder of another run, or of this run
finished and asked to train again, is moved aside first (:func:`tina_repro.train.identity.claim`).
Snakemake deletes a failed job's declared outputs, which is why the checkpoints are not declared
outputs.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from tina_repro import paths, rewards
from tina_repro.config import CPU_DEMO_CONFIG, Experiment
from tina_repro.config.rows import as_params
from tina_repro.files import sha256_file, write_json
from tina_repro.train.callbacks import run_control_callback
from tina_repro.train.checkpoints import checkpoint_step, complete_checkpoints, resume_point
from tina_repro.train.context import TrainingJob
from tina_repro.train.identity import (
    StopStepPassedError,
    check_claimed,
    claim,
    identity_of,
    mark_finished,
    run_inputs,
)
from tina_repro.train.mapping import DEVICES
from tina_repro.train.outputs import (
    Sessions,
    device_name,
    load_sessions,
    write_log_history,
    write_manifest,
)
from tina_repro.train.prompts import (
    load_tokenizer,
    prepare_prompts,
    read_training_rows,
    target_lengths,
)
from tina_repro.train.provenance import resolve_run, resolved_config, settings_block
from tina_repro.train.rollouts import build_trainer, rollout_affixes

logger = logging.getLogger(__name__)


def device_of(row: Experiment, device: str | None) -> tuple[str, int]:
    """("cpu" | "cuda", n_gpus) a run of ``row`` asks for. ``device`` overrides the row: "cpu"
    runs any row on one CPU process (vLLM off), "cuda" runs a gpus: 0 row on one GPU."""
    if device is None:
        device = "cuda" if row.gpus > 0 else "cpu"
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES} or None, got {device!r}")
    return device, 0 if device == "cpu" else max(row.gpus, 1)


def resolve_device(row: Experiment, device: str | None) -> tuple[str, int]:
    """:func:`device_of`, checked against this machine and this process's place in a launch."""
    device, n_gpus = device_of(row, device)
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError(
                f"experiment {row.name!r} asks for {n_gpus} GPU(s) but CUDA is not available "
                f"on this machine. To run here, use the CPU demo configuration (gpus: 0 rows): "
                f"snakemake --configfile {CPU_DEMO_CONFIG}"
            )
        if torch.cuda.device_count() < n_gpus:
            raise RuntimeError(
                f"experiment {row.name!r} asks for {n_gpus} GPUs; "
                f"{torch.cuda.device_count()} visible"
            )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world != max(n_gpus, 1):
        raise RuntimeError(
            f"experiment {row.name!r} trains on {max(n_gpus, 1)} process(es) but this is one of "
            f"{world}: start multi-GPU rows with run_training() or launch_command()"
        )
    return device, n_gpus


def _resolved(job: TrainingJob, device: str, n_gpus: int):
    """The training table (and its skipped rows), what the run resolves to (:func:`resolve_run`)
    and its identity's inputs."""
    table, skipped = read_training_rows(job.dataset_parquet)
    resolution = resolve_run(job.row, job.context, n_gpus, device, len(table))
    inputs = run_inputs(
        job.row,
        as_params(job.context),
        device,
        n_gpus,
        resolution["settings"],
        job.dataset_parquet,
        job.base_model_dir,
    )
    return table, skipped, resolution, inputs


def claim_run_folder(job: TrainingJob) -> None:
    """:func:`tina_repro.train.identity.claim` of ``job.out_dir``, by the launcher of a
    multi-GPU run before it starts the workers (a single-process run claims it in
    :func:`train`)."""
    device, n_gpus = device_of(job.row, job.device)
    _, _, resolution, inputs = _resolved(job, device, n_gpus)
    claim(job.out_dir, inputs, resolution["schedule"]["stop_step"])


def train(job: TrainingJob) -> dict:
    """Train one experiment row; resume from ``job.out_dir``'s newest complete checkpoint when the
    folder holds an unfinished run of the same identity, else move it aside and train afresh.

    ``job.context`` holds the config settings the run depends on (system prompt, chat template,
    base model dtype and pad token). Returns the manifest (an empty dict on non-main ranks).
    """
    started = time.perf_counter()
    row, context = job.row, job.context
    out = Path(job.out_dir)
    dataset_parquet, base_model_dir = job.dataset_parquet, job.base_model_dir
    # Everything that can be checked cheaply is checked before any model is loaded.
    device, n_gpus = resolve_device(row, job.device)
    table, skipped, resolution, inputs = _resolved(job, device, n_gpus)
    geometry, steps = resolution["geometry"], resolution["schedule"]
    is_main = int(os.environ.get("RANK", "0")) == 0
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        claim(out, inputs, steps["stop_step"])
    else:  # the launcher claimed it before starting the workers (launch.run_training)
        check_claimed(out, inputs)

    resume = resume_point(out, remove_incomplete=is_main)
    resume_step = checkpoint_step(resume.name) if resume else 0
    if resume_step > steps["stop_step"]:
        raise StopStepPassedError(
            f"{out} already has {resume.name}, beyond stop_step {steps['stop_step']}: raise "
            f"stop_step to at least {resume_step}, or move the folder away to train anew"
        )

    tokenizer = load_tokenizer(base_model_dir, context)
    budgets = None
    if context.target_length is not None:
        budgets = target_lengths(table["row_id"].tolist(), *context.target_length, row.seed)
    dataset, prompt_stats = prepare_prompts(
        table, tokenizer, context.system_prompt, row.max_prompt_length, budgets
    )
    settings = settings_block(resolution["settings"], context.system_prompt, tokenizer, len(table))
    info = {
        "experiment": row.name,
        **steps,
        "device": device,
        "device_name": device_name(device, n_gpus),
        "n_gpus": n_gpus,
        "prompts_per_step": geometry["prompts_per_step"],
        "completions_per_step": geometry["completions_per_step"],
    }

    if resume_step == steps["stop_step"]:  # killed after its last checkpoint, before its manifest
        if not is_main:
            return {}
        logger.info("%s already reached stop_step %d; writing its manifest", out, resume_step)
        history = json.loads((resume / "trainer_state.json").read_text())["log_history"]
        frame = write_log_history(out, history, geometry)
        manifest = write_manifest(out, info, frame, load_sessions(out))
        mark_finished(out, manifest)
        return manifest

    from peft import LoraConfig
    from trl import GRPOConfig

    out.mkdir(parents=True, exist_ok=True)
    args = GRPOConfig(output_dir=str(out), disable_tqdm=True, **resolution["settings"]["grpo"])
    reward_funcs = [
        rewards.build(s["name"], **s["params"]) for s in resolution["settings"]["rewards"]
    ]
    sessions = Sessions(out, resume_step, started) if is_main else None
    control = run_control_callback(
        steps["stop_step"], job.max_wall_seconds, sessions, started, is_main
    )
    affixes = rollout_affixes(tokenizer, base_model_dir, context.rollout_prompt_tokens)
    trainer = build_trainer(
        affixes,
        model=str(base_model_dir),
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=LoraConfig(**resolution["settings"]["lora"]),
        callbacks=[control],
    )
    control.accelerator = trainer.accelerator
    if is_main:
        resolved = resolved_config(trainer, as_params(row), settings, resolution)
        resolved["context"] = as_params(context)
        resolved["dataset"] = {
            "path": str(dataset_parquet),
            "sha256": sha256_file(dataset_parquet),
            "skipped_rows": skipped,
            **prompt_stats,
        }
        resolved["base_model_dir"] = str(base_model_dir)
        resolved["rollout_special_tokens"] = {
            "prefix": list(affixes.prefix),
            "suffix": list(affixes.suffix),
        }
        resolved["identity"] = identity_of(inputs)  # identity.json lists what it covers
        write_json(out / paths.RESOLVED_CONFIG, resolved)
        sessions.update(resume_step)
    if resume:
        logger.info("resuming %s from %s", row.name, resume)
    try:
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    finally:  # also after a failure: the log shows how the run got there
        frame = None
        if is_main:
            frame = write_log_history(out, trainer.state.log_history, geometry)
    final_step = trainer.state.global_step
    if not is_main:
        return {}
    if frame is None or final_step not in complete_checkpoints(out):
        raise RuntimeError(f"training ended at step {final_step} without a complete checkpoint")
    sessions.update(final_step, control.stop_reason)
    manifest = write_manifest(out, info, frame, sessions.sessions)
    mark_finished(out, manifest)
    return manifest
