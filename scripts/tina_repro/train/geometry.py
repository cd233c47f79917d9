"""A run's shape from its experiment row: batch geometry, schedule, LoRA and reward settings.

Pure arithmetic on the row (no TRL import), so the workflow can call it while it builds the DAG.
"""

from __future__ import annotations

from tina_repro import rewards
from tina_repro.config import Experiment


def batch_geometry(prompts_per_step: int, num_generations: int, n_gpus: int) -> dict:
    """Per-device batch and accumulation that keep the paper's global batch on any GPU count.

    The paper (docs/paper.md#training) ran 2 GPUs x 4 accumulation steps x 1 prompt group per
    micro-batch: ``per_device_train_batch_size`` counts completions since TRL 0.15, so it equals
    G, and 8 prompts (8*G completions) make one optimizer step. Here every process still takes one
    prompt group per micro-batch and accumulates over the prompts it owns, so the update is the
    same mean over ``prompts_per_step`` groups. ``n_gpus`` 0 means one CPU process.
    """
    for name, value, minimum in (
        ("prompts_per_step", prompts_per_step, 1),
        ("num_generations", num_generations, 2),
        ("n_gpus", n_gpus, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    n_processes = max(n_gpus, 1)
    if prompts_per_step % n_processes:
        raise ValueError(
            f"prompts_per_step={prompts_per_step} cannot be split evenly over {n_processes} "
            f"training processes; use a prompts_per_step divisible by the GPU count"
        )
    prompts_per_process = prompts_per_step // n_processes
    return {
        "per_device_train_batch_size": num_generations,
        "gradient_accumulation_steps": prompts_per_process,
        "n_processes": n_processes,
        "prompts_per_step": prompts_per_step,
        "prompts_per_micro_batch": 1,
        "completions_per_step": prompts_per_step * num_generations,
    }


def schedule(row: Experiment, n_prompts: int) -> dict:
    """Schedule horizon (max_steps), stop step and epoch length in optimizer steps.

    One epoch is ``n_prompts // prompts_per_step`` steps (docs/paper.md#selection). An empty
    max_steps means the schedule spans one epoch; an empty stop_step means run to max_steps.
    """
    epoch_steps = n_prompts // row.prompts_per_step
    if epoch_steps < 1:
        raise ValueError(
            f"the dataset has {n_prompts} prompts, fewer than one optimizer step "
            f"({row.prompts_per_step} prompts)"
        )
    max_steps = row.max_steps if row.max_steps is not None else epoch_steps
    stop_step = row.stop_step if row.stop_step is not None else max_steps
    if stop_step > max_steps:
        raise ValueError(f"stop_step {stop_step} is beyond max_steps {max_steps}")
    return {"max_steps": max_steps, "stop_step": stop_step, "epoch_steps": epoch_steps}


def lora_settings(row: Experiment) -> dict:
    """``peft.LoraConfig`` keyword arguments of the row (Tina: bias none, causal LM).

    ``target_modules`` is a tuple, in the row's order: PEFT turns a list into a set, which
    ``adapter_config.json`` then lists in an order that changes with Python's string hashing, so
    two bit-identical adapters would differ in their config; a tuple is written as given."""
    return {
        "r": row.lora_r,
        "lora_alpha": row.lora_alpha,
        "lora_dropout": row.lora_dropout,
        "target_modules": tuple(row.lora_target_modules),
        "bias": "none",
        "task_type": "CAUSAL_LM",
    }


def reward_settings(row: Experiment) -> list[dict]:
    """Reward names, weights and parameters of the row, in the row's order.

    ``cosine`` takes the row's max_len (Tina passed 3584 on the command line). ``length`` and the
    L1 rewards normalise within each prompt group: TRL 0.15 called rewards once per micro-batch,
    which held exactly one group, while TRL 1.16 calls them on a whole generation batch.
    """
    specs = []
    for name, weight in rewards.parse_weighted(row.rewards):
        params: dict = {}
        if name == "cosine":
            params["max_len"] = row.cosine_max_len
        elif name in rewards.GROUPED_REWARDS:
            params["group_size"] = row.num_generations
        rewards.validate_params(name, params)
        specs.append({"name": name, "weight": weight, "params": params})
    return specs
