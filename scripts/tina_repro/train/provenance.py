"""What a run records about itself: resolved settings, versions, commit, and the resume guard.

``resolved_config.json`` holds every GRPOConfig and LoraConfig value the trainer ran with, the
paper-to-TRL mapping, the row, package versions and the git commit of the code. Its ``settings``
block is what must not change between a run and its resumption.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import subprocess
import sys
from pathlib import Path

from tina_repro import paths
from tina_repro.files import roundtrip

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


def resolved_config(trainer, row: dict, settings, mapping, geometry, steps) -> dict:
    """resolved_config.json: every value the trainer actually runs with, and where it came from."""
    return {
        "experiment": row["name"],
        "settings": settings,
        "grpo_config": json.loads(trainer.args.to_json_string()),
        "lora_config": roundtrip(trainer.model.peft_config["default"].to_dict()),
        "mapping": roundtrip(mapping),
        "geometry": geometry,
        "schedule": steps,
        "row": row,
        "trainable_parameters": sum(
            p.numel() for p in trainer.model.parameters() if p.requires_grad
        ),
        "versions": versions(),
        "git": git_commit(),
    }


def settings_block(grpo_kwargs, lora_kwargs, reward_specs, system_prompt, tokenizer, n_rows):
    """What must not change between a run and its resumption."""
    return roundtrip(
        {
            "grpo": grpo_kwargs,
            "lora": lora_kwargs,
            "rewards": reward_specs,
            "system_prompt": system_prompt,
            "chat_template": tokenizer.chat_template,
            "pad_token": tokenizer.pad_token,
            "training_rows": n_rows,
        }
    )


def _flatten(settings: dict) -> dict:
    flat = {}
    for block, value in settings.items():
        if isinstance(value, dict):
            flat.update({f"{block}.{key}": item for key, item in value.items()})
        else:
            flat[block] = value
    return flat


def check_same_settings(out_dir: Path, settings: dict) -> None:
    """Refuse to resume checkpoints that were trained with other settings."""
    path = out_dir / paths.RESOLVED_CONFIG
    if not path.is_file():
        logger.warning("resuming in %s without %s: settings not compared", out_dir, path.name)
        return
    before = _flatten(json.loads(path.read_text())["settings"])
    now = _flatten(settings)
    changed = sorted(key for key in before.keys() | now.keys() if before.get(key) != now.get(key))
    if changed:
        raise ValueError(
            f"{out_dir} holds checkpoints of a run with different settings ({', '.join(changed)}); "
            "resuming would mix two runs. Delete the directory or restore the configuration."
        )
