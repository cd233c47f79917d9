"""The paper's GRPO recipe (Tina on TRL 0.15.2) mapped explicitly onto TRL 1.16 ``GRPOConfig``.

TRL changed many GRPO defaults and semantics between 0.15.2 and 1.16 (ANCHORS.md §3.3: beta 0.04 →
0.0, loss "per-sequence mean" → "dapo", temperature 0.9 → 1.0, a KL term multiplied by the
importance ratio, vLLM importance-sampling correction, max_prompt_length removed, ...). Relying on
any default would silently train a different objective, so ``grpo_settings`` sets every field that
matters and returns, next to the keyword arguments, a mapping that records for each one the paper's
value, TRL 1.16's default, the value we set and why (written to ``resolved_config.json``).

This module only computes dictionaries; it imports TRL lazily (to read its defaults), so the
workflow can call ``batch_geometry`` and ``schedule`` while it builds the DAG.
"""

from __future__ import annotations

import dataclasses
import math

PAPER_TRL = "0.15.2"
# Tina's FixedPromptEvaluationCallback etc. aside, these are the only attention/optimizer choices
# that differ between the paper's stack and ours (TINA.md §1.1-1.2).
ATTN_IMPLEMENTATION = "sdpa"
CPU_DEMO_CONFIG = "config/demo/config.yaml"
DEVICES = ("cpu", "cuda")


def batch_geometry(prompts_per_step: int, num_generations: int, n_gpus: int) -> dict:
    """Per-device batch and accumulation that keep the paper's global batch on any GPU count.

    The paper (TINA.md §1.2) ran 2 GPUs x 4 accumulation steps x 1 prompt group per micro-batch:
    ``per_device_train_batch_size`` counts completions since TRL 0.15, so it equals G, and 8 prompts
    (8*G completions) make one optimizer step. Here every process still takes one prompt group per
    micro-batch and accumulates over the prompts it owns, so the update is the same mean over
    ``prompts_per_step`` groups. ``n_gpus`` 0 means one CPU process.
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


def schedule(row: dict, n_prompts: int) -> dict:
    """Schedule horizon (max_steps), stop step and epoch length in optimizer steps.

    One epoch is ``n_prompts // prompts_per_step`` steps (TINA.md §1.8). An empty max_steps means
    the schedule spans one epoch (open_r1, thoughts); an empty stop_step means run to max_steps.
    """
    epoch_steps = n_prompts // row["prompts_per_step"]
    if epoch_steps < 1:
        raise ValueError(
            f"the dataset has {n_prompts} prompts, fewer than one optimizer step "
            f"({row['prompts_per_step']} prompts)"
        )
    max_steps = row["max_steps"] if row["max_steps"] is not None else epoch_steps
    stop_step = row["stop_step"] if row["stop_step"] is not None else max_steps
    if stop_step > max_steps:
        raise ValueError(f"stop_step {stop_step} is beyond max_steps {max_steps}")
    return {"max_steps": max_steps, "stop_step": stop_step, "epoch_steps": epoch_steps}


def lora_settings(row: dict) -> dict:
    """``peft.LoraConfig`` keyword arguments of the row (Tina: bias none, causal LM)."""
    return {
        "r": row["lora_r"],
        "lora_alpha": row["lora_alpha"],
        "lora_dropout": row["lora_dropout"],
        "target_modules": [m.strip() for m in row["lora_target_modules"].split(",")],
        "bias": "none",
        "task_type": "CAUSAL_LM",
    }


def reward_settings(row: dict) -> list[dict]:
    """Reward names, weights and parameters of the row, in the row's order.

    ``cosine`` takes the row's max_len (Tina passed 3584 on the command line). ``length``
    normalises within each prompt group: TRL 0.15 called rewards once per micro-batch, which held
    exactly one group, while TRL 1.16 calls them on a whole generation batch.
    """
    from tina_repro import rewards

    specs = []
    for name, weight in rewards.parse_weighted(row["rewards"]):
        params: dict = {}
        if name == "cosine":
            params["max_len"] = row["cosine_max_len"]
        elif name == "length":
            params["group_size"] = row["num_generations"]
        rewards.validate_params(name, params)
        specs.append({"name": name, "weight": weight, "params": params})
    return specs


def _trl_defaults() -> dict:
    from trl import GRPOConfig

    defaults = {}
    for field in dataclasses.fields(GRPOConfig):
        if field.default is not dataclasses.MISSING:
            defaults[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            defaults[field.name] = field.default_factory()
    return defaults


def _loss_paper(row: dict) -> tuple[str, str]:
    """(paper behaviour, why our value) for the row's loss_type."""
    if row["loss_type"] == "grpo":
        return (
            "mean of token losses per sequence, then mean over sequences (no loss_type field)",
            "TRL 1.16 'grpo' is the same per-sequence normalisation; the default 'dapo' divides "
            "by the token count of the whole accumulated batch",
        )
    if row["loss_type"] == "dr_grpo":
        return (
            "recipe meant Dr.GRPO but its key 'scale_reward' was a typo TRL 0.15.2 dropped, so "
            "the released run used the per-sequence mean (TINA.md §1.7)",
            "experiments.tsv asks for the Dr.GRPO paper's loss: TRL 'dr_grpo' sums token losses "
            "and divides by the constant max_completion_length",
        )
    return ("not available in TRL 0.15.2", "set by experiments.tsv (not a paper run)")


def grpo_settings(
    row: dict, config: dict, n_gpus: int, device: str, *, n_prompts: int | None = None
) -> tuple[dict, list[dict]]:
    """``GRPOConfig`` keyword arguments (all but output_dir) and the paper-to-TRL-1.16 mapping.

    ``n_gpus`` is the number of training GPUs (0 on CPU) and ``device`` "cpu" or "cuda".
    ``n_prompts`` (training rows) is needed only when the row leaves max_steps empty (one epoch).
    Each mapping entry has field, paper (TRL 0.15.2 + Tina recipe), trl_default (TRL 1.16, or
    "removed"), value (what we set) and why.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cpu" and n_gpus:
        raise ValueError(f"device 'cpu' with n_gpus={n_gpus}: CPU runs use n_gpus=0")
    if device == "cuda" and n_gpus < 1:
        raise ValueError("device 'cuda' needs n_gpus >= 1")
    if row["max_steps"] is None and n_prompts is None:
        raise ValueError("max_steps is empty (one epoch): pass n_prompts, the dataset size")
    geometry = batch_geometry(row["prompts_per_step"], row["num_generations"], n_gpus)
    # with max_steps set the dataset size only feeds epoch_steps, which no setting here uses
    steps = schedule(row, n_prompts if n_prompts is not None else row["prompts_per_step"])
    max_steps = steps["max_steps"]
    cuda = device == "cuda"
    use_vllm = bool(row["use_vllm"]) and cuda
    reward_specs = reward_settings(row)
    dtype = config["base_model"]["dtype"] if cuda else "float32"
    loss_paper, loss_why = _loss_paper(row)
    # transformers 4.x turned warmup_ratio into ceil(ratio * max_steps) warmup steps; 5.x dropped
    # warmup_ratio and reads a float warmup_steps < 1 as a ratio. An integer cannot be misread.
    warmup_steps = math.ceil(row["warmup_ratio"] * max_steps)

    entries: list[tuple[str, object, object, str]] = [
        # (field, paper value, our value, why)
        (
            "per_device_train_batch_size",
            f"G={row['num_generations']} completions (1 prompt) per GPU micro-batch",
            geometry["per_device_train_batch_size"],
            "counts completions since TRL 0.15: one prompt group per micro-batch, as the paper",
        ),
        (
            "gradient_accumulation_steps",
            4,
            geometry["gradient_accumulation_steps"],
            f"{row['prompts_per_step']} prompts per optimizer step spread over "
            f"{geometry['n_processes']} process(es), as the paper's 2 GPUs x 4",
        ),
        (
            "steps_per_generation",
            "one generation per micro-batch, all with the weights of the current step",
            geometry["gradient_accumulation_steps"],
            "TRL 1.16 generates the whole step at once with the same weights: same sampling "
            "distribution, so the same estimator",
        ),
        ("num_generations", row["num_generations"], row["num_generations"], "recipe value"),
        (
            "max_completion_length",
            row["max_completion_length"],
            row["max_completion_length"],
            "recipe value (TRL 0.15.2 default 256)",
        ),
        (
            "max_prompt_length",
            row["max_prompt_length"],
            None,
            "removed in TRL 1.0; applied at dataset preparation instead: the problem text is "
            "left-truncated so the templated prompt fits (TRL 0.15.2 cut the templated token "
            "ids from the left, and with vLLM only for the loss, not for generation)",
        ),
        (
            "temperature",
            row["temperature"],
            row["temperature"],
            "recipe value (TRL 0.15.2 default 0.9)",
        ),
        ("top_p", row["top_p"], row["top_p"], "vLLM SamplingParams default 1.0 in the paper"),
        ("top_k", "off (vLLM default -1)", 0, "0 disables top-k in TRL 1.16"),
        ("min_p", "off", None, "disabled, as the paper"),
        ("repetition_penalty", 1.0, 1.0, "no penalty, as the paper"),
        ("beta", row["beta"], row["beta"], "k3 KL to the adapter-disabled model (0.15.2: 0.04)"),
        ("loss_type", loss_paper, row["loss_type"], loss_why),
        (
            "scale_rewards",
            "std within each group + 1e-4" if row["scale_rewards"] == "group" else "off",
            row["scale_rewards"],
            "'group' divides by the group std + 1e-4 (Bessel-corrected), as TRL 0.15.2; 'none' "
            "is the Dr.GRPO setting",
        ),
        ("num_iterations", 1, 1, "one policy update per generated batch"),
        (
            "epsilon",
            "ratio exp(logp - logp.detach()) == 1: clipping never binds",
            0.2,
            "with num_iterations=1 the ratio is 1, so the clip range has no effect, as 0.15.2",
        ),
        ("epsilon_high", "n/a", None, "symmetric clip range (unused, see epsilon)"),
        ("delta", "n/a", None, "no two-sided clipping"),
        ("importance_sampling_level", "token", "token", "token-level ratio, as 0.15.2"),
        (
            "use_bias_correction_kl",
            "KL term not multiplied by the ratio",
            False,
            "TRL 1.16 multiplies the KL by the (differentiable) ratio by default, which changes "
            "the KL gradient even on-policy; 0.15.2 did not",
        ),
        (
            "vllm_importance_sampling_correction",
            "none",
            False,
            "TRL 1.16 reweights losses by vLLM/trainer logprob ratios by default; 0.15.2 did not",
        ),
        (
            "mask_truncated_completions",
            "truncated completions trained on",
            False,
            "as 0.15.2",
        ),
        (
            "multi_objective_aggregation",
            "weighted nansum of rewards, then group normalisation",
            "sum_then_normalize",
            "as 0.15.2",
        ),
        (
            "reward_weights",
            [s["weight"] for s in reward_specs],
            [s["weight"] for s in reward_specs],
            f"rewards {row['rewards']}",
        ),
        ("top_entropy_quantile", "n/a", 1.0, "all tokens in the loss"),
        ("entropy_coef", "n/a", 0.0, "no entropy bonus"),
        ("off_policy_mask_threshold", "n/a", None, "no off-policy masking"),
        ("disable_dropout", "dropout active", False, "LoRA dropout 0.05 stays active, as 0.15.2"),
        ("shuffle_dataset", "RepeatRandomSampler(seed)", True, "seeded shuffle, as 0.15.2"),
        ("learning_rate", row["learning_rate"], row["learning_rate"], "recipe value"),
        ("lr_scheduler_type", row["lr_scheduler"], row["lr_scheduler"], "recipe value"),
        (
            "warmup_steps",
            f"warmup_ratio {row['warmup_ratio']}",
            warmup_steps,
            "transformers 5 removed warmup_ratio (a float warmup_steps is read as a ratio); "
            "this is the integer transformers 4.x derived: ceil(ratio x max_steps)",
        ),
        (
            "max_steps",
            row["max_steps"] if row["max_steps"] is not None else "one epoch",
            max_steps,
            "LR-schedule horizon; training stops at stop_step "
            f"({steps['stop_step']}) through a callback, as the paper stopped by hand",
        ),
        (
            "optim",
            "adamw_torch (transformers 4.x default)",
            "adamw_torch",
            "transformers 5 defaults to the fused kernel on torch >= 2.8; same update rule",
        ),
        ("weight_decay", 0.0, 0.0, "HF default, not overridden by the recipe"),
        ("max_grad_norm", 1.0, 1.0, "HF default, not overridden by the recipe"),
        ("save_strategy", "steps", "steps", "recipe value"),
        ("save_steps", row["save_steps"], row["save_steps"], "recipe value"),
        (
            "save_total_limit",
            100,
            None,
            "None keeps every checkpoint: each one is evaluated later",
        ),
        (
            "save_only_model",
            False,
            False,
            "optimizer, scheduler and RNG state are needed to resume",
        ),
        ("logging_steps", 1, 1, "a log_history row per optimizer step (TRL 1.16 default 10)"),
        (
            "logging_nan_inf_filter",
            True,
            False,
            "logging only: the default hides NaN/inf losses, which the NaN guard must see",
        ),
        ("report_to", "wandb", "none", "metrics go to log_history.csv instead"),
        ("log_completions", False, False, "no completion tables"),
        ("seed", row["seed"], row["seed"], "training and sampler seed"),
        (
            "bf16",
            True,
            cuda,
            "bf16 mixed precision on CUDA as the paper; TRL 1.16's default (True) fails on CPU",
        ),
        ("use_cpu", False, not cuda, "CPU runs (the demo and tests)"),
        (
            "gradient_checkpointing",
            True,
            cuda,
            "on CUDA as the paper (use_reentrant False); off on CPU, where it only costs time",
        ),
        (
            "model_init_kwargs",
            "torch_dtype bfloat16, attn_implementation flash_attention_2",
            {"dtype": dtype, "attn_implementation": ATTN_IMPLEMENTATION},
            "flash-attn is not in our pins; SDPA computes the same attention",
        ),
        ("trust_remote_code", False, False, "no model code from the Hub"),
        ("remove_unused_columns", False, False, "rewards read the solution column"),
        (
            "use_vllm",
            bool(row["use_vllm"]),
            use_vllm,
            "vLLM rollouts on CUDA as the paper; CPU generates with transformers",
        ),
    ]
    if cuda:
        entries.append(
            (
                "gradient_checkpointing_kwargs",
                {"use_reentrant": False},
                {"use_reentrant": False},
                "recipe value",
            )
        )
    if row["lr_scheduler"] == "cosine_with_min_lr":
        entries.append(
            (
                "lr_scheduler_kwargs",
                {"min_lr_rate": row["min_lr_rate"]},
                {"min_lr_rate": row["min_lr_rate"]},
                "cosine decay to min_lr_rate x lr over max_steps",
            )
        )
    if use_vllm:
        entries += [
            (
                "vllm_mode",
                "vllm_device cuda:0, shared with training rank 0, generating for all ranks",
                "colocate",
                "TRL 1.16 colocate runs one engine inside each training process; same policy "
                "weights, so the same samples in distribution",
            ),
            (
                "vllm_gpu_memory_utilization",
                row["vllm_gpu_memory_utilization"],
                row["vllm_gpu_memory_utilization"],
                "recipe value (TRL 0.15.2 default 0.9)",
            ),
            ("vllm_tensor_parallel_size", 1, 1, "one GPU per engine"),
            ("vllm_enable_sleep_mode", False, False, "engine stays resident, as the paper"),
        ]
        if row["vllm_max_model_len"] is not None:
            entries.append(
                (
                    "vllm_max_model_length",
                    row["vllm_max_model_len"],
                    row["vllm_max_model_len"],
                    "recipe value (renamed from vllm_max_model_len)",
                )
            )

    defaults = _trl_defaults()
    mapping = []
    kwargs = {}
    for field, paper, value, why in entries:
        in_config = field in defaults
        mapping.append(
            {
                "field": field,
                "paper": paper,
                "trl_default": defaults[field] if in_config else "removed",
                "value": value,
                "why": why,
            }
        )
        if in_config:
            kwargs[field] = value
    mapping.append(
        {
            "field": "reward parameters",
            "paper": "per-micro-batch calls (one prompt group); cosine max_len from the CLI",
            "trl_default": "n/a",
            "value": {s["name"]: s["params"] for s in reward_specs},
            "why": "length normalises within each group of num_generations completions",
        }
    )
    mapping.append(
        {
            "field": "parallelism",
            "paper": "accelerate + DeepSpeed ZeRO-2, 2 processes",
            "trl_default": "n/a",
            "value": f"{geometry['n_processes']} process(es), DDP when > 1",
            "why": "ZeRO-2 only shards optimizer state and gradients: same update for LoRA",
        }
    )
    return kwargs, mapping
