"""LoRA-GRPO training of one experiment row with TRL 1.16, resumable and measured.

``train`` turns one experiments.tsv row into a TRL ``GRPOTrainer`` run whose settings follow the
paper's TRL 0.15.2 recipe field by field (``tina_repro.grpo_mapping``), stops at the row's
stop_step while the LR schedule spans max_steps (TINA.md §1.2, §1.8), and writes into ``out_dir``
(= results/train/{experiment}/):

- ``checkpoint-{step}/``: LoRA adapter plus optimizer, scheduler and RNG state, every save_steps
  and at the stop step (``PeftModel.from_pretrained(base, checkpoint)`` loads the adapter);
- ``resolved_config.json``: every GRPOConfig and LoraConfig value used, the row, the
  paper-to-TRL mapping, package versions and git commit;
- ``train_sessions.json``: wall time, step range and peak memory of each (re)start;
- ``log_history.csv``: one row per optimizer step (rewards, KL, entropy, lengths, lr, tokens);
- ``manifest.json`` last: the rule's declared output, written only when the run is complete.

A rerun on the same ``out_dir`` resumes from the newest complete checkpoint (adapter, optimizer,
scheduler, RNG, data position), so a killed job loses at most save_steps steps and never rewrites
an earlier checkpoint. Snakemake deletes a failed job's declared outputs, which is why the
checkpoints are not declared outputs (ANCHORS.md §4).

Rows with ``gpus > 1`` run one process per GPU: ``run_training`` starts ``launch_command`` (an
``accelerate launch ... -m tina_repro.training --args FILE`` command line) for them, and runs
everything else in-process. ``python -m tina_repro.training --args FILE`` reads a JSON file
written by ``write_args_file`` and calls ``train`` with it.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.metadata
import json
import logging
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tina_repro import rewards
from tina_repro.grpo_mapping import (
    CPU_DEMO_CONFIG,
    DEVICES,
    batch_geometry,
    grpo_settings,
    lora_settings,
    reward_settings,
    schedule,
)

__all__ = [
    "TrainingDivergedError",
    "batch_geometry",
    "complete_checkpoints",
    "grpo_settings",
    "launch_command",
    "prepare_prompts",
    "read_training_rows",
    "run_training",
    "train",
    "write_args_file",
]

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
# A checkpoint is complete once the Trainer wrote trainer_state.json, its last file; resuming
# also needs the optimizer, scheduler and the adapter itself.
CHECKPOINT_FILES = (
    "adapter_model.safetensors",
    "adapter_config.json",
    "optimizer.pt",
    "scheduler.pt",
    "trainer_state.json",
)
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
MANIFEST = "manifest.json"
RESOLVED_CONFIG = "resolved_config.json"
SESSIONS = "train_sessions.json"
LOG_HISTORY = "log_history.csv"


class TrainingDivergedError(RuntimeError):
    """The loss or the reward became NaN/inf (or no completion could be scored) at a step."""


def _jsonable(value: object) -> object:
    """json.dumps fallback for the configs we record: sets (sorted), dtypes, paths."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def _write_json(path: Path, data: object) -> None:
    """Write atomically, so a killed job never leaves half a JSON file behind."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
    os.replace(tmp, path)


def _roundtrip(data: object) -> object:
    """The value as it reads back from JSON (lists for tuples, strings for dtypes)."""
    return json.loads(json.dumps(data, default=_jsonable))


# ---------------------------------------------------------------------------------------------
# Data


def read_training_rows(parquet: str | Path):
    """The normalized training table (problem, solution[, row_id]) with unusable rows removed.

    Rows whose problem or solution is missing or blank cannot be prompted or graded; they are
    counted and logged, never passed on. Returns (DataFrame, n_skipped).
    """
    import pandas as pd

    table = pd.read_parquet(parquet)
    missing = [c for c in ("problem", "solution") if c not in table.columns]
    if missing:
        raise ValueError(
            f"{parquet}: missing column(s) {missing}; the training table needs 'problem' and the "
            f"gold answer 'solution' (columns found: {list(table.columns)})"
        )
    if "row_id" not in table.columns:
        table["row_id"] = range(len(table))
    usable = pd.Series(True, index=table.index)
    for column in ("problem", "solution"):
        usable &= table[column].map(lambda v: isinstance(v, str) and bool(v.strip()))
    skipped = int((~usable).sum())
    if skipped:
        logger.warning(
            "%s: skipping %d of %d rows with a missing or blank problem/solution",
            parquet,
            skipped,
            len(table),
        )
    table = table[usable].reset_index(drop=True)
    if table.empty:
        raise ValueError(f"{parquet}: no usable training rows (0 rows after skipping {skipped})")
    return table, skipped


def _prompt_length(tokenizer, messages: list[dict]) -> int:
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _conversation(system_prompt: str, problem: str) -> list[dict]:
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": problem}]


def _left_truncate(tokenizer, system_prompt: str, problem: str, max_tokens: int) -> str:
    """The longest tail of ``problem`` whose templated prompt fits in ``max_tokens`` tokens."""
    problem_ids = tokenizer(problem, add_special_tokens=False)["input_ids"]
    overhead = _prompt_length(tokenizer, _conversation(system_prompt, ""))
    keep = max_tokens - overhead
    while keep > 0:
        tail = tokenizer.decode(problem_ids[-keep:])
        excess = _prompt_length(tokenizer, _conversation(system_prompt, tail)) - max_tokens
        if excess <= 0:
            return tail
        keep -= excess  # token merges across the cut can add a token or two
    raise ValueError(
        f"the system prompt and chat template alone take {overhead} tokens, more than "
        f"max_prompt_length={max_tokens}"
    )


def prepare_prompts(table, tokenizer, system_prompt: str, max_prompt_length: int):
    """Conversational TRL prompts, left-truncated to ``max_prompt_length`` templated tokens.

    TRL 1.16 has no max_prompt_length; TRL 0.15.2 cut the templated ids from the left. We cut the
    problem text instead, so the system prompt and template survive (see grpo_mapping). Returns
    (datasets.Dataset with prompt/solution/row_id, stats dict).
    """
    from datasets import Dataset

    conversations = [_conversation(system_prompt, p) for p in table["problem"]]
    texts = tokenizer.apply_chat_template(conversations, add_generation_prompt=True, tokenize=False)
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    truncated = 0
    for i, length in enumerate(lengths):
        if length > max_prompt_length:
            problem = _left_truncate(
                tokenizer, system_prompt, table["problem"].iloc[i], max_prompt_length
            )
            conversations[i] = _conversation(system_prompt, problem)
            truncated += 1
    if truncated:
        logger.warning(
            "left-truncated %d of %d prompts to max_prompt_length=%d tokens (longest: %d)",
            truncated,
            len(lengths),
            max_prompt_length,
            max(lengths),
        )
    dataset = Dataset.from_dict(
        {
            "prompt": conversations,
            "solution": table["solution"].tolist(),
            "row_id": table["row_id"].tolist(),
        }
    )
    stats = {
        "n_prompts": len(lengths),
        "n_truncated_prompts": truncated,
        "max_prompt_tokens_before_truncation": max(lengths),
        "mean_prompt_tokens": sum(lengths) / len(lengths),
    }
    return dataset, stats


def _load_tokenizer(base_model_dir: str | Path, config: dict):
    """Tokenizer with the training chat template and pad token of config.yaml (TINA.md §1.1)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(
        base_model_dir, padding_side="left", truncation_side="left", trust_remote_code=False
    )
    template = config.get("training_chat_template") or ""
    if template:
        tokenizer.chat_template = template
    elif not tokenizer.chat_template:
        raise ValueError(
            f"{base_model_dir} has no chat template and config training_chat_template is empty"
        )
    pad = (config.get("base_model") or {}).get("pad_token")
    if pad:
        if pad in tokenizer.get_vocab():
            tokenizer.pad_token = pad
        else:
            logger.warning(
                "pad token %r of config base_model is not in the vocabulary of %s; keeping %r",
                pad,
                base_model_dir,
                tokenizer.pad_token,
            )
    return tokenizer


# ---------------------------------------------------------------------------------------------
# Checkpoints, sessions, provenance


def _checkpoint_dirs(out_dir: Path) -> dict[int, Path]:
    if not out_dir.is_dir():
        return {}
    found = {}
    for child in out_dir.iterdir():
        match = CHECKPOINT_RE.match(child.name)
        if match and child.is_dir():
            found[int(match.group(1))] = child
    return dict(sorted(found.items()))


def _is_complete(checkpoint: Path) -> bool:
    if not all((checkpoint / name).is_file() for name in CHECKPOINT_FILES):
        return False
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
    except ValueError:
        return False
    return True


def complete_checkpoints(out_dir: str | Path) -> dict[int, Path]:
    """{step: directory} of the checkpoints in ``out_dir`` that a run can resume from."""
    return {s: p for s, p in _checkpoint_dirs(Path(out_dir)).items() if _is_complete(p)}


def _resume_point(out_dir: Path, remove_incomplete: bool) -> Path | None:
    """Newest complete checkpoint; incomplete newer ones (a kill during saving) are removed."""
    complete = complete_checkpoints(out_dir)
    last = max(complete) if complete else 0
    for step, path in _checkpoint_dirs(out_dir).items():
        if step > last and remove_incomplete:
            logger.warning("removing incomplete %s (killed while saving)", path)
            shutil.rmtree(path)
    return complete[last] if complete else None


def _git_commit() -> dict:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(REPO_ROOT), *args],
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


def _versions() -> dict:
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _peak_gpu_mb() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_reserved() / 2**20


def _load_sessions(out_dir: Path) -> list[dict]:
    path = out_dir / SESSIONS
    return json.loads(path.read_text())["sessions"] if path.is_file() else []


class _Sessions:
    """Per-(re)start accounting in train_sessions.json, rewritten at every logged step so that
    a killed session's time still counts towards the run's cost."""

    def __init__(self, out_dir: Path, start_step: int, started: float) -> None:
        self.path = out_dir / SESSIONS
        self.started = started
        self.sessions = _load_sessions(out_dir)
        self.current = {
            "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "start_step": start_step,
            "last_step": start_step,
            "wall_seconds": 0.0,
            "peak_rss_mb": _peak_rss_mb(),
            "peak_gpu_memory_mb": None,
            "stop_reason": None,
        }
        self.sessions.append(self.current)

    def update(self, step: int, stop_reason: str | None = None) -> None:
        self.current.update(
            last_step=step,
            wall_seconds=round(time.perf_counter() - self.started, 3),
            peak_rss_mb=round(_peak_rss_mb(), 1),
            peak_gpu_memory_mb=_peak_gpu_mb(),
        )
        if stop_reason:
            self.current["stop_reason"] = stop_reason
        _write_json(self.path, {"sessions": self.sessions})


# ---------------------------------------------------------------------------------------------
# Callback: stop rule, wall-clock budget, NaN guard, session accounting


def _run_control_callback(stop_step, max_wall_seconds, sessions, started, is_main):
    """Build the TrainerCallback (transformers is imported lazily, like everything heavy)."""
    from transformers import TrainerCallback

    class RunControl(TrainerCallback):
        """Stops at stop_step (the schedule still spans max_steps) or when the wall-clock budget
        is spent, and saves a checkpoint there; raises on NaN/inf loss or reward."""

        def __init__(self) -> None:
            self.stop_reason: str | None = None
            self.accelerator = None  # set once the trainer exists; syncs the wall-clock stop

        def _over_budget(self) -> bool:
            if max_wall_seconds is None:
                return False
            over = time.perf_counter() - started >= max_wall_seconds
            if self.accelerator is not None and self.accelerator.num_processes > 1:
                import torch

                flag = torch.tensor([float(over)], device=self.accelerator.device)
                over = bool(self.accelerator.reduce(flag, reduction="sum").item() > 0)
            return over

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= stop_step:
                self.stop_reason = "stop_step"
            elif self._over_budget():
                self.stop_reason = "wall_time"
            if self.stop_reason:
                control.should_save = True
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            for key in ("loss", "reward"):
                if key in logs and (logs[key] is None or not math.isfinite(logs[key])):
                    raise TrainingDivergedError(
                        f"{key} is {logs[key]} at step {state.global_step} (None means no "
                        "completion of the step could be scored); stopping"
                    )
            if is_main and "loss" in logs:
                sessions.update(state.global_step, self.stop_reason)
            return control

    return RunControl()


# ---------------------------------------------------------------------------------------------
# Outputs


def _write_log_history(out_dir: Path, log_history: list[dict], geometry: dict):
    """log_history.csv: the per-step entries, with tokens generated and trained per step.
    Returns the table, or None before the first logged step."""
    import pandas as pd

    frame = pd.DataFrame([entry for entry in log_history if "loss" in entry])
    if frame.empty:
        return None
    frame = frame.sort_values("step").drop_duplicates("step", keep="last")
    completions = geometry["completions_per_step"]
    frame["tokens_generated"] = frame["completions/mean_length"] * completions
    # num_tokens is TRL's running count of prompt+completion tokens fed to training
    frame["tokens_trained"] = frame["num_tokens"].diff().fillna(frame["num_tokens"])
    first = ["step", "epoch", "loss", "reward", "reward_std", "learning_rate", "grad_norm"]
    columns = [c for c in first if c in frame] + sorted(c for c in frame if c not in first)
    frame = frame[columns]
    frame.to_csv(out_dir / LOG_HISTORY, index=False)
    return frame


def _write_manifest(out_dir: Path, info: dict, frame, sessions: list[dict]) -> dict:
    steps = sorted(complete_checkpoints(out_dir))
    wall = sum(s["wall_seconds"] for s in sessions)
    gpus = info["n_gpus"]
    gpu_peaks = [s["peak_gpu_memory_mb"] for s in sessions if s["peak_gpu_memory_mb"] is not None]
    n_steps = len(frame)
    generated = float(frame["tokens_generated"].sum())
    trained = float(frame["tokens_trained"].sum())
    manifest = {
        "experiment": info["experiment"],
        "checkpoint_steps": steps,
        "final_step": steps[-1],
        "stop_step": info["stop_step"],
        "max_steps": info["max_steps"],
        "epoch_steps": info["epoch_steps"],
        "stop_reason": (sessions[-1]["stop_reason"] if sessions else None) or "stop_step",
        "wall_seconds": round(wall, 3),
        "n_sessions": len(sessions),
        "device": info["device"],
        "device_name": info["device_name"],
        "n_gpus": gpus,
        "gpu_hours": round(wall * gpus / 3600, 6),
        "device_hours": round(wall * max(gpus, 1) / 3600, 6),
        "peak_rss_mb": max((s["peak_rss_mb"] for s in sessions), default=None),
        "peak_gpu_memory_mb": max(gpu_peaks) if gpu_peaks else None,
        "prompts_per_step": info["prompts_per_step"],
        "completions_per_step": info["completions_per_step"],
        "logged_steps": n_steps,
        "tokens_generated_total": generated,
        "tokens_trained_total": trained,
        "tokens_generated_per_step": generated / n_steps,
        "tokens_trained_per_step": trained / n_steps,
    }
    _write_json(out_dir / MANIFEST, manifest)
    return manifest


def _device_name(device: str, n_gpus: int) -> str:
    if device == "cuda":
        import torch

        return f"{n_gpus} x {torch.cuda.get_device_name(0)}"
    return f"cpu ({os.cpu_count()} cores)"


# ---------------------------------------------------------------------------------------------
# Training


def _resolve_device(row: dict, device: str | None) -> tuple[str, int]:
    """("cpu" | "cuda", n_gpus). ``device`` overrides the row: "cpu" runs any row on one CPU
    process (vLLM off), "cuda" runs a gpus: 0 row on one GPU."""
    gpus = row["gpus"]
    if device is None:
        device = "cuda" if gpus > 0 else "cpu"
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES} or None, got {device!r}")
    n_gpus = 0 if device == "cpu" else max(gpus, 1)
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError(
                f"experiment {row['name']!r} asks for {n_gpus} GPU(s) but CUDA is not available "
                f"on this machine. To run here, use the CPU demo configuration (gpus: 0 rows): "
                f"snakemake --configfile {CPU_DEMO_CONFIG}"
            )
        if torch.cuda.device_count() < n_gpus:
            raise RuntimeError(
                f"experiment {row['name']!r} asks for {n_gpus} GPUs; "
                f"{torch.cuda.device_count()} visible"
            )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world != max(n_gpus, 1):
        raise RuntimeError(
            f"experiment {row['name']!r} trains on {max(n_gpus, 1)} process(es) but this is "
            f"one of {world}: start multi-GPU rows with run_training() or launch_command()"
        )
    return device, n_gpus


def _resolved_config(trainer, row, settings, mapping, geometry, steps) -> dict:
    """resolved_config.json: every value the trainer actually runs with, and where it came from."""
    return {
        "experiment": row["name"],
        "settings": settings,
        "grpo_config": json.loads(trainer.args.to_json_string()),
        "lora_config": _roundtrip(trainer.model.peft_config["default"].to_dict()),
        "mapping": _roundtrip(mapping),
        "geometry": geometry,
        "schedule": steps,
        "row": row,
        "trainable_parameters": sum(
            p.numel() for p in trainer.model.parameters() if p.requires_grad
        ),
        "versions": _versions(),
        "git": _git_commit(),
    }


def _settings_block(grpo_kwargs, lora_kwargs, reward_specs, system_prompt, tokenizer, n_rows):
    """What must not change between a run and its resumption."""
    return _roundtrip(
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


def _check_same_settings(out_dir: Path, settings: dict) -> None:
    path = out_dir / RESOLVED_CONFIG
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


def train(
    row: dict,
    config: dict,
    dataset_parquet: str | Path,
    base_model_dir: str | Path,
    out_dir: str | Path,
    *,
    device: str | None = None,
    max_wall_seconds: float | None = None,
) -> dict:
    """Train one experiment row; resume from ``out_dir``'s newest complete checkpoint if any.

    ``row`` is an experiments.tsv row with Python types plus ``system_prompt`` (the key into
    ``config["system_prompts"]``); ``config`` is the workflow config (system_prompts,
    training_chat_template, base_model). ``max_wall_seconds`` stops early with a checkpoint (the
    CPU demo's time budget). Returns the manifest (an empty dict on non-main ranks).
    """
    started = time.perf_counter()
    out = Path(out_dir)
    # Everything that can be checked cheaply is checked before any model is loaded.
    device, n_gpus = _resolve_device(row, device)
    geometry = batch_geometry(row["prompts_per_step"], row["num_generations"], n_gpus)
    reward_specs = reward_settings(row)
    prompt_key = row.get("system_prompt")
    if prompt_key not in config.get("system_prompts", {}):
        raise ValueError(
            f"system prompt key {prompt_key!r} of experiment {row['name']!r} is not in config "
            f"system_prompts ({sorted(config.get('system_prompts', {}))})"
        )
    system_prompt = config["system_prompts"][prompt_key]
    table, skipped = read_training_rows(dataset_parquet)
    steps = schedule(row, len(table))
    is_main = int(os.environ.get("RANK", "0")) == 0

    resume = _resume_point(out, remove_incomplete=is_main)
    resume_step = int(CHECKPOINT_RE.match(resume.name).group(1)) if resume else 0
    if resume_step > steps["stop_step"]:
        raise ValueError(
            f"{out} already has {resume.name}, beyond stop_step {steps['stop_step']}; "
            "delete the directory or raise stop_step"
        )

    tokenizer = _load_tokenizer(base_model_dir, config)
    dataset, prompt_stats = prepare_prompts(
        table, tokenizer, system_prompt, row["max_prompt_length"]
    )
    grpo_kwargs, mapping = grpo_settings(row, config, n_gpus, device, n_prompts=len(table))
    lora_kwargs = lora_settings(row)
    settings = _settings_block(
        grpo_kwargs, lora_kwargs, reward_specs, system_prompt, tokenizer, len(table)
    )
    if resume:
        _check_same_settings(out, settings)
    info = {
        "experiment": row["name"],
        **steps,
        "device": device,
        "device_name": _device_name(device, n_gpus),
        "n_gpus": n_gpus,
        "prompts_per_step": geometry["prompts_per_step"],
        "completions_per_step": geometry["completions_per_step"],
    }

    if resume_step == steps["stop_step"]:
        if not is_main:
            return {}
        logger.info("%s already reached stop_step %d; rewriting the manifest", out, resume_step)
        history = json.loads((resume / "trainer_state.json").read_text())["log_history"]
        frame = _write_log_history(out, history, geometry)
        return _write_manifest(out, info, frame, _load_sessions(out))

    from peft import LoraConfig
    from trl import GRPOConfig, GRPOTrainer

    out.mkdir(parents=True, exist_ok=True)
    args = GRPOConfig(output_dir=str(out), disable_tqdm=True, **grpo_kwargs)
    reward_funcs = [rewards.build(s["name"], **s["params"]) for s in reward_specs]
    sessions = _Sessions(out, resume_step, started) if is_main else None
    control = _run_control_callback(
        steps["stop_step"], max_wall_seconds, sessions, started, is_main
    )
    trainer = GRPOTrainer(
        model=str(base_model_dir),
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=LoraConfig(**lora_kwargs),
        callbacks=[control],
    )
    control.accelerator = trainer.accelerator
    if is_main:
        resolved = _resolved_config(trainer, row, settings, mapping, geometry, steps)
        resolved["dataset"] = {
            "path": str(dataset_parquet),
            "sha256": _sha256(Path(dataset_parquet)),
            "skipped_rows": skipped,
            **prompt_stats,
        }
        resolved.update(base_model_dir=str(base_model_dir), device=device, n_gpus=n_gpus)
        _write_json(out / RESOLVED_CONFIG, resolved)
        sessions.update(resume_step)
    if resume:
        logger.info("resuming %s from %s", row["name"], resume)
    try:
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    finally:  # also after a failure: the log shows how the run got there
        frame = None
        if is_main:
            frame = _write_log_history(out, trainer.state.log_history, geometry)
    final_step = trainer.state.global_step
    if not is_main:
        return {}
    if frame is None or final_step not in complete_checkpoints(out):
        raise RuntimeError(f"training ended at step {final_step} without a complete checkpoint")
    sessions.update(final_step, control.stop_reason)
    return _write_manifest(out, info, frame, sessions.sessions)


# ---------------------------------------------------------------------------------------------
# Launching (multi-GPU) and command line


def write_args_file(
    path: str | Path,
    row: dict,
    config: dict,
    dataset_parquet: str | Path,
    base_model_dir: str | Path,
    out_dir: str | Path,
    *,
    device: str | None = None,
    max_wall_seconds: float | None = None,
) -> Path:
    """The JSON file ``python -m tina_repro.training --args FILE`` reads (train's arguments)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_json(
        path,
        {
            "row": row,
            "config": config,
            "dataset_parquet": str(dataset_parquet),
            "base_model_dir": str(base_model_dir),
            "out_dir": str(out_dir),
            "device": device,
            "max_wall_seconds": max_wall_seconds,
        },
    )
    return path


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
    return [*argv, "-m", "tina_repro.training", "--args", str(args_file)]


def run_training(
    row: dict,
    config: dict,
    dataset_parquet: str | Path,
    base_model_dir: str | Path,
    out_dir: str | Path,
    *,
    device: str | None = None,
    max_wall_seconds: float | None = None,
    main_process_port: int | None = None,
) -> dict:
    """``train`` in this process, or through ``launch_command`` when the run needs > 1 GPU."""
    resolved_device = device or ("cuda" if row["gpus"] > 0 else "cpu")
    if resolved_device == "cpu" or row["gpus"] <= 1:
        return train(
            row,
            config,
            dataset_parquet,
            base_model_dir,
            out_dir,
            device=device,
            max_wall_seconds=max_wall_seconds,
        )
    args_file = write_args_file(
        Path(out_dir) / "train_args.json",
        row,
        config,
        dataset_parquet,
        base_model_dir,
        out_dir,
        device=device,
        max_wall_seconds=max_wall_seconds,
    )
    argv = launch_command(args_file, row["gpus"], main_process_port=main_process_port)
    logger.info("launching %s", " ".join(argv))
    # the package may be importable only through pytest's or Snakemake's path, not installed
    paths = [str(REPO_ROOT / "scripts"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    # The workers write where this process does: the rule's log under Snakemake.
    subprocess.run(argv, check=True, env=env, stdout=sys.stdout, stderr=sys.stderr)
    return json.loads((Path(out_dir) / MANIFEST).read_text())


def run_leased(
    row: dict, config: dict, dataset_parquet: str | Path, base_model_dir: str | Path, out_dir
) -> dict:
    """``run_training`` on GPUs leased for this job alone (none for a CPU row).

    Concurrent runs on one machine get distinct devices (gpu_lease) and distinct rendezvous
    ports for their multi-GPU launch, derived from their first device.
    """
    from tina_repro import gpu_lease

    with gpu_lease.lease(row["gpus"]) as devices:
        port = 29500 + int(devices[0]) if devices else None
        return run_training(
            row, config, dataset_parquet, base_model_dir, out_dir, main_process_port=port
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tina_repro.training",
        description="Train one experiment row (arguments in a JSON file from write_args_file).",
    )
    parser.add_argument("--args", required=True, help="JSON file written by write_args_file")
    options = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    spec = json.loads(Path(options.args).read_text())
    train(
        spec["row"],
        spec["config"],
        spec["dataset_parquet"],
        spec["base_model_dir"],
        spec["out_dir"],
        device=spec.get("device"),
        max_wall_seconds=spec.get("max_wall_seconds"),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
