"""What a run records about itself: resolved settings, versions and commit.

``resolved_config.json`` holds every GRPOConfig and LoraConfig value the trainer ran with, the
paper-to-TRL mapping, the row, package versions and the git commit of the code.
:func:`resolve_run` is the part known before any model is loaded; ``tina-repro resolve`` prints
exactly that. Whether a folder's checkpoints may be resumed is the run identity's call
(:mod:`tina_repro.train.identity`), which covers the resolved settings.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import subprocess
import sys
from pathlib import Path

from tina_repro.config import Experiment
from tina_repro.files import roundtrip
from tina_repro.train import rollouts
from tina_repro.train.context import TrainingContext
from tina_repro.train.geometry import batch_geometry, lora_settings, reward_settings, schedule
from tina_repro.train.mapping import grpo_settings

logger = logging.getLogger(__name__)

PACKAGES = (
    "torch",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "math-verify",
    "vllm",
    "tina-repro",
)


def git_commit() -> dict:
    """The commit (and whether the tree is dirty) of the checkout this package runs from; None
    when it runs from an installed copy."""
    where = Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(where), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def versions() -> dict:
    found = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def resolve_run(
    row: Experiment, context: TrainingContext, n_gpus: int, device: str, n_prompts: int
) -> dict:
    """What a run of ``row`` in ``context`` resolves to before any model is loaded, on ``n_gpus``
    GPUs (0 on CPU) of ``device`` with ``n_prompts`` training rows: GRPOConfig keyword arguments,
    LoRA and reward settings and the rollout prompt tokens (under ``settings``), the
    paper-to-TRL mapping, batch geometry and schedule.

    Training writes these same values into resolved_config.json, and ``tina-repro resolve``
    prints them, so the two cannot disagree."""
    grpo_kwargs, mapping = grpo_settings(row, context.dtype, n_gpus, device, n_prompts=n_prompts)
    return {
        "experiment": row.name,
        "device": device,
        "n_gpus": n_gpus,
        "settings": {
            "grpo": grpo_kwargs,
            "lora": lora_settings(row),
            "rewards": reward_settings(row),
            "rollout_prompt_tokens": context.rollout_prompt_tokens,
        },
        "mapping": [*mapping, rollouts.mapping_entry(row, context.rollout_prompt_tokens)],
        "geometry": batch_geometry(row.prompts_per_step, row.num_generations, n_gpus),
        "schedule": schedule(row, n_prompts),
    }


def resolved_config(trainer, row: dict, settings: dict, resolution: dict) -> dict:
    """resolved_config.json: every value the trainer actually runs with, and where it came from.

    ``resolution`` is :func:`resolve_run`'s output; ``settings`` (:func:`settings_block`) holds its
    ``settings`` plus what only the loaded tokenizer and dataset tell."""
    return {
        **roundtrip({key: value for key, value in resolution.items() if key != "settings"}),
        "settings": settings,
        "grpo_config": json.loads(trainer.args.to_json_string()),
        "lora_config": roundtrip(trainer.model.peft_config["default"].to_dict()),
        "row": row,
        "trainable_parameters": sum(
            p.numel() for p in trainer.model.parameters() if p.requires_grad
        ),
        "versions": versions(),
        "git": git_commit(),
    }


def settings_block(resolved: dict, system_prompt, tokenizer, n_rows):
    """The settings resolved_config.json records: ``resolved`` (the ``settings`` of
    :func:`resolve_run`) and what only the loaded tokenizer and dataset tell."""
    return roundtrip(
        {
            **resolved,
            "system_prompt": system_prompt,
            "chat_template": tokenizer.chat_template,
            "pad_token": tokenizer.pad_token,
            "training_rows": n_rows,
        }
    )
