"""The paper's GRPO recipe (Tina on TRL 0.15.2) mapped onto TRL 1.16 ``GRPOConfig``, as a table.

TRL changed many GRPO defaults and semantics between 0.15.2 and 1.16 (beta 0.04 -> 0.0, loss
"per-sequence mean" -> "dapo", temperature 0.9 -> 1.0, a KL term multiplied by the importance
ratio, vLLM importance-sampling correction, max_prompt_length removed; docs/paper.md#trl-116).
Relying on any default would silently train a different objective, so :data:`GRPO_TABLE` names
every field that matters with the paper's value, ours and why. :func:`grpo_settings` evaluates it
for one row into ``GRPOConfig`` keyword arguments plus the mapping written to
``resolved_config.json``.

A table field that the installed TRL does not have is an error (a renamed field would otherwise
fall back to TRL's default without a word), except the fields listed in :data:`REMOVED_FIELDS`,
which are kept in the mapping to say where their job went. (The module is over 400 lines because
the table is data: one entry per field.)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tina_repro.config import Experiment
from tina_repro.train.geometry import batch_geometry, reward_settings, schedule

PAPER_TRL = "0.15.2"
# flash-attn is not in our pins; SDPA computes the same attention.
ATTN_IMPLEMENTATION = "sdpa"
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class RunLayout:
    """What the table's values are computed from: one row on one device layout."""

    row: Experiment
    geometry: dict
    steps: dict
    cuda: bool
    use_vllm: bool
    dtype: str
    rewards: list[dict]
    warmup_steps: int


Value = Any | Callable[[RunLayout], Any]


@dataclass(frozen=True)
class Setting:
    """One GRPOConfig field: the paper's value (TRL 0.15.2 + Tina's recipe), ours, and why.

    ``paper``, ``ours`` and ``why`` are constants or functions of the :class:`RunLayout`;
    ``applies`` says when the field is set at all (e.g. vLLM fields only with vLLM rollouts)."""

    field: str
    paper: Value
    ours: Value
    why: Value
    applies: Callable[[RunLayout], bool] = lambda layout: True

    def evaluate(self, layout: RunLayout) -> tuple[Any, Any, str]:
        def value(v):
            return v(layout) if callable(v) else v

        return value(self.paper), value(self.ours), value(self.why)


def _row(name: str) -> Callable[[RunLayout], Any]:
    return lambda layout: getattr(layout.row, name)


def _loss_paper(layout: RunLayout) -> str:
    if layout.row.loss_type == "grpo":
        return "mean of token losses per sequence, then mean over sequences (no loss_type field)"
    if layout.row.loss_type == "bnpo":
        return (
            "Tina's scale_rewards=False branch: sum of token losses / sum of tokens over the "
            "micro-batch, which held one prompt group (docs/paper.md#drgrpo-typo)"
        )
    return "not available in TRL 0.15.2 nor in Tina's trainer"


def _loss_why(layout: RunLayout) -> str:
    if layout.row.loss_type == "grpo":
        return (
            "TRL 1.16 'grpo' is the same per-sequence normalisation; the default 'dapo' divides "
            "by the token count of the whole accumulated batch"
        )
    if layout.row.loss_type == "bnpo":
        return (
            "TRL 1.16 'bnpo' is the same sum / sum over one micro-batch, divided by the "
            "accumulation steps as Tina's Trainer did; steps_per_generation 1 keeps each "
            "micro-batch one prompt group"
        )
    if layout.row.loss_type == "dr_grpo":
        return (
            "the Dr.GRPO paper's loss, not Tina's: sum of token losses / (completions x "
            "max_completion_length)"
        )
    return "set by experiments.tsv (not a paper run)"


def _steps_per_generation(layout: RunLayout) -> int:
    # TRL 1.16 generates steps_per_generation micro-batches at once and shuffles the completions
    # before splitting them (GRPOTrainer._prepare_inputs). Only 'bnpo' normalises per micro-batch,
    # so only it needs each micro-batch generated alone to stay one whole prompt group.
    if layout.row.loss_type == "bnpo":
        return 1
    return layout.geometry["gradient_accumulation_steps"]


def _steps_per_generation_why(layout: RunLayout) -> str:
    if layout.row.loss_type == "bnpo":
        return (
            "one generation per micro-batch, as the paper: TRL shuffles a multi-micro-batch "
            "generation before splitting it, which would mix prompt groups inside the "
            "micro-batch that bnpo normalises over"
        )
    return (
        "TRL 1.16 generates the whole step at once with the same weights: same sampling "
        "distribution, and this loss does not depend on how completions fall into micro-batches"
    )


def _sampling(layout: RunLayout) -> dict:
    return {"temperature": layout.row.temperature, "top_p": layout.row.top_p}


# Fields the table keeps although TRL 1.16 no longer has them: never passed to GRPOConfig.
REMOVED_FIELDS = {
    # TRL 1.0 dropped it; train/prompts.py left-truncates the problem text instead.
    "max_prompt_length",
}

GRPO_TABLE: tuple[Setting, ...] = (
    # ---- batch geometry
    Setting(
        "per_device_train_batch_size",
        lambda p: f"G={p.row.num_generations} completions (1 prompt) per GPU micro-batch",
        lambda p: p.geometry["per_device_train_batch_size"],
        "counts completions since TRL 0.15: one prompt group per micro-batch, as the paper",
    ),
    Setting(
        "gradient_accumulation_steps",
        4,
        lambda p: p.geometry["gradient_accumulation_steps"],
        lambda p: (
            f"{p.row.prompts_per_step} prompts per optimizer step spread over "
            f"{p.geometry['n_processes']} process(es), as the paper's 2 GPUs x 4"
        ),
    ),
    Setting(
        "steps_per_generation",
        "one generation per micro-batch, all with the weights of the current step",
        _steps_per_generation,
        _steps_per_generation_why,
    ),
    Setting("num_generations", _row("num_generations"), _row("num_generations"), "recipe value"),
    # ---- sampling
    Setting(
        "max_completion_length",
        _row("max_completion_length"),
        _row("max_completion_length"),
        "recipe value (TRL 0.15.2 default 256)",
    ),
    Setting(
        "max_prompt_length",
        _row("max_prompt_length"),
        None,
        "removed in TRL 1.0; applied at dataset preparation instead: the problem text is "
        "left-truncated so the templated prompt fits (TRL 0.15.2 cut the templated token ids "
        "from the left, and with vLLM only for the loss, not for generation)",
    ),
    # TRL 1.16 divides the policy and reference logits by GRPOConfig.temperature before the
    # log-probs of the loss and the KL (add_fused_lm_head(..., temperature=self.temperature) in
    # trl/trainer/grpo_trainer.py); Tina's trainer took log_softmax of the raw logits. So the
    # field stays 1.0 and the row's sampling settings travel in generation_kwargs, which at TRL
    # 1.16.0 override the sampling fields on every generation path (trl/trainer/grpo_trainer.py
    # __init__: generation_kwargs.update(args.generation_kwargs) before GenerationConfig, and
    # passed to unwrap_model_for_generation; trl/generation/vllm_generation.py colocate:
    # generation_kwargs.update(self.generation_kwargs) before SamplingParams; server mode:
    # trl/generation/vllm_client.py generate: sampling_params.update(generation_kwargs)).
    Setting(
        "temperature",
        "log-probs of the raw logits (temperature 1); sampling at the recipe's temperature",
        1.0,
        "log-prob temperature: 1.0 keeps the paper's objective (TRL 1.16 would divide the "
        "logits of the loss and KL by it); sampling takes the row's temperature from "
        "generation_kwargs",
    ),
    Setting(
        "generation_kwargs",
        _sampling,
        _sampling,
        "sampling temperature and top_p of the recipe (vLLM SamplingParams in the paper); TRL "
        "1.16 lets generation_kwargs override the sampling fields for transformers and vLLM "
        "generation alike, so only the rollouts see them",
    ),
    Setting(
        "top_p",
        _row("top_p"),
        _row("top_p"),
        "vLLM SamplingParams default 1.0 in the paper; sampling only (also in generation_kwargs)",
    ),
    Setting("top_k", "off (vLLM default -1)", 0, "0 disables top-k in TRL 1.16"),
    Setting("min_p", "off", None, "disabled, as the paper"),
    Setting("repetition_penalty", 1.0, 1.0, "no penalty, as the paper"),
    # ---- objective
    Setting(
        "beta", _row("beta"), _row("beta"), "k3 KL to the adapter-disabled model (0.15.2: 0.04)"
    ),
    Setting("loss_type", _loss_paper, _row("loss_type"), _loss_why),
    Setting(
        "scale_rewards",
        lambda p: "std within each group + 1e-4" if p.row.scale_rewards == "group" else "off",
        _row("scale_rewards"),
        "'group' divides by the group std + 1e-4 (Bessel-corrected), as TRL 0.15.2; 'none' is "
        "the Dr.GRPO setting",
    ),
    Setting("num_iterations", 1, 1, "one policy update per generated batch"),
    Setting(
        "epsilon",
        "ratio exp(logp - logp.detach()) == 1: clipping never binds",
        0.2,
        "with num_iterations=1 the ratio is 1, so the clip range has no effect, as 0.15.2",
    ),
    Setting("epsilon_high", "n/a", None, "symmetric clip range (unused, see epsilon)"),
    Setting("delta", "n/a", None, "no two-sided clipping"),
    Setting("importance_sampling_level", "token", "token", "token-level ratio, as 0.15.2"),
    Setting(
        "use_bias_correction_kl",
        "KL term not multiplied by the ratio",
        False,
        "TRL 1.16 multiplies the KL by the (differentiable) ratio by default, which changes the "
        "KL gradient even on-policy; 0.15.2 did not",
    ),
    Setting(
        "vllm_importance_sampling_correction",
        "none",
        False,
        "TRL 1.16 reweights losses by vLLM/trainer logprob ratios by default; 0.15.2 did not "
        "(and vLLM's are at the sampling temperature, the trainer's at 1.0)",
    ),
    Setting("mask_truncated_completions", "truncated completions trained on", False, "as 0.15.2"),
    Setting(
        "multi_objective_aggregation",
        "weighted nansum of rewards, then group normalisation",
        "sum_then_normalize",
        "as 0.15.2",
    ),
    Setting(
        "reward_weights",
        lambda p: [s["weight"] for s in p.rewards],
        lambda p: [s["weight"] for s in p.rewards],
        lambda p: f"rewards {p.row.rewards}",
    ),
    Setting("top_entropy_quantile", "n/a", 1.0, "all tokens in the loss"),
    Setting("entropy_coef", "n/a", 0.0, "no entropy bonus"),
    Setting("off_policy_mask_threshold", "n/a", None, "no off-policy masking"),
    Setting(
        "disable_dropout", "dropout active", False, "LoRA dropout 0.05 stays active, as 0.15.2"
    ),
    Setting("shuffle_dataset", "RepeatRandomSampler(seed)", True, "seeded shuffle, as 0.15.2"),
    # ---- optimisation and schedule
    Setting("learning_rate", _row("learning_rate"), _row("learning_rate"), "recipe value"),
    Setting("lr_scheduler_type", _row("lr_scheduler"), _row("lr_scheduler"), "recipe value"),
    Setting(
        "lr_scheduler_kwargs",
        lambda p: {"min_lr_rate": p.row.min_lr_rate},
        lambda p: {"min_lr_rate": p.row.min_lr_rate},
        "cosine decay to min_lr_rate x lr over max_steps",
        applies=lambda p: p.row.lr_scheduler == "cosine_with_min_lr",
    ),
    Setting(
        "warmup_steps",
        lambda p: f"warmup_ratio {p.row.warmup_ratio}",
        lambda p: p.warmup_steps,
        "transformers 5 removed warmup_ratio (a float warmup_steps is read as a ratio); this is "
        "the integer transformers 4.x derived: ceil(ratio x max_steps)",
    ),
    Setting(
        "max_steps",
        lambda p: p.row.max_steps if p.row.max_steps is not None else "one epoch",
        lambda p: p.steps["max_steps"],
        lambda p: (
            f"LR-schedule horizon; training stops at stop_step ({p.steps['stop_step']}) "
            "through a callback, as the paper stopped by hand"
        ),
    ),
    Setting(
        "optim",
        "adamw_torch (transformers 4.x default)",
        "adamw_torch",
        "transformers 5 defaults to the fused kernel on torch >= 2.8; same update rule",
    ),
    Setting("weight_decay", 0.0, 0.0, "HF default, not overridden by the recipe"),
    Setting("max_grad_norm", 1.0, 1.0, "HF default, not overridden by the recipe"),
    # ---- checkpoints and logging
    Setting("save_strategy", "steps", "steps", "recipe value"),
    Setting("save_steps", _row("save_steps"), _row("save_steps"), "recipe value"),
    Setting(
        "save_total_limit", 100, None, "None keeps every checkpoint: each one is evaluated later"
    ),
    Setting(
        "save_only_model", False, False, "optimizer, scheduler and RNG state are needed to resume"
    ),
    Setting("logging_steps", 1, 1, "a log_history row per optimizer step (TRL 1.16 default 10)"),
    Setting(
        "logging_nan_inf_filter",
        True,
        False,
        "logging only: the default hides NaN/inf losses, which the NaN guard must see",
    ),
    Setting("report_to", "wandb", "none", "metrics go to log_history.csv instead"),
    Setting("log_completions", False, False, "no completion tables"),
    Setting("seed", _row("seed"), _row("seed"), "training and sampler seed"),
    # ---- precision and devices
    Setting(
        "bf16",
        True,
        lambda p: p.cuda,
        "bf16 mixed precision on CUDA as the paper; TRL 1.16's default (True) fails on CPU",
    ),
    Setting("use_cpu", False, lambda p: not p.cuda, "CPU runs (the demo and tests)"),
    Setting(
        "gradient_checkpointing",
        True,
        lambda p: p.cuda,
        "on CUDA as the paper (use_reentrant False); off on CPU, where it only costs time",
    ),
    Setting(
        "gradient_checkpointing_kwargs",
        {"use_reentrant": False},
        {"use_reentrant": False},
        "recipe value",
        applies=lambda p: p.cuda,
    ),
    Setting(
        "model_init_kwargs",
        "torch_dtype bfloat16, attn_implementation flash_attention_2",
        lambda p: {"dtype": p.dtype, "attn_implementation": ATTN_IMPLEMENTATION},
        "flash-attn is not in our pins; SDPA computes the same attention",
    ),
    Setting("trust_remote_code", False, False, "no model code from the Hub"),
    Setting("remove_unused_columns", False, False, "rewards read the solution column"),
    Setting(
        "use_vllm",
        lambda p: bool(p.row.use_vllm),
        lambda p: p.use_vllm,
        "vLLM rollouts on CUDA as the paper; CPU generates with transformers",
    ),
    # ---- vLLM rollouts (CUDA only)
    Setting(
        "vllm_mode",
        "vllm_device cuda:0, shared with training rank 0, generating for all ranks",
        "colocate",
        "TRL 1.16 colocate runs one engine inside each training process; same policy weights, "
        "so the same samples in distribution",
        applies=lambda p: p.use_vllm,
    ),
    Setting(
        "vllm_gpu_memory_utilization",
        _row("vllm_gpu_memory_utilization"),
        _row("vllm_gpu_memory_utilization"),
        "recipe value (TRL 0.15.2 default 0.9)",
        applies=lambda p: p.use_vllm,
    ),
    Setting("vllm_tensor_parallel_size", 1, 1, "one GPU per engine", applies=lambda p: p.use_vllm),
    Setting(
        "vllm_enable_sleep_mode",
        False,
        False,
        "engine stays resident, as the paper",
        applies=lambda p: p.use_vllm,
    ),
    Setting(
        "vllm_max_model_length",
        _row("vllm_max_model_len"),
        _row("vllm_max_model_len"),
        "recipe value (renamed from vllm_max_model_len)",
        applies=lambda p: p.use_vllm and p.row.vllm_max_model_len is not None,
    ),
)


def _notes(layout: RunLayout) -> list[dict]:
    """Mapping entries that are not GRPOConfig fields (what else the paper's setup did)."""
    return [
        {
            "field": "reward parameters",
            "paper": "per-micro-batch calls (one prompt group); cosine max_len from the CLI",
            "trl_default": "n/a",
            "value": {s["name"]: s["params"] for s in layout.rewards},
            "why": "length normalises within each group of num_generations completions",
        },
        {
            "field": "parallelism",
            "paper": "accelerate + DeepSpeed ZeRO-2, 2 processes",
            "trl_default": "n/a",
            "value": f"{layout.geometry['n_processes']} process(es), DDP when > 1",
            "why": "ZeRO-2 only shards optimizer state and gradients: same update for LoRA",
        },
    ]


def trl_defaults() -> dict:
    """Every field of the installed TRL's GRPOConfig with its default value."""
    from trl import GRPOConfig

    defaults = {}
    for field in dataclasses.fields(GRPOConfig):
        if field.default is not dataclasses.MISSING:
            defaults[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            defaults[field.name] = field.default_factory()
    return defaults


def run_layout(
    row: Experiment, dtype: str, n_gpus: int, device: str, n_prompts: int | None = None
) -> RunLayout:
    """The :class:`RunLayout` of ``row`` on ``n_gpus`` GPUs (0 on CPU) of ``device``."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cpu" and n_gpus:
        raise ValueError(f"device 'cpu' with n_gpus={n_gpus}: CPU runs use n_gpus=0")
    if device == "cuda" and n_gpus < 1:
        raise ValueError("device 'cuda' needs n_gpus >= 1")
    if row.max_steps is None and n_prompts is None:
        raise ValueError("max_steps is empty (one epoch): pass n_prompts, the dataset size")
    cuda = device == "cuda"
    # with max_steps set the dataset size only feeds epoch_steps, which no setting here uses
    steps = schedule(row, n_prompts if n_prompts is not None else row.prompts_per_step)
    return RunLayout(
        row=row,
        geometry=batch_geometry(row.prompts_per_step, row.num_generations, n_gpus),
        steps=steps,
        cuda=cuda,
        use_vllm=bool(row.use_vllm) and cuda,
        dtype=dtype if cuda else "float32",
        rewards=reward_settings(row),
        # transformers 4.x turned warmup_ratio into ceil(ratio * max_steps) warmup steps; 5.x
        # dropped warmup_ratio and reads a float warmup_steps < 1 as a ratio. An integer cannot
        # be misread.
        warmup_steps=math.ceil(row.warmup_ratio * steps["max_steps"]),
    )


def resolve_table(
    layout: RunLayout, table: tuple[Setting, ...] = GRPO_TABLE, defaults: dict | None = None
) -> tuple[dict, list[dict]]:
    """(GRPOConfig keyword arguments, mapping entries) of ``table`` for ``layout``.

    Raises ValueError for a field the installed GRPOConfig lacks (unless in REMOVED_FIELDS)."""
    defaults = trl_defaults() if defaults is None else defaults
    kwargs, mapping = {}, []
    for setting in table:
        if not setting.applies(layout):
            continue
        removed = setting.field in REMOVED_FIELDS
        if setting.field not in defaults and not removed:
            import trl

            raise ValueError(
                f"GRPOConfig of TRL {trl.__version__} has no field '{setting.field}': it was "
                "renamed or removed; update train/mapping.py (GRPO_TABLE, or REMOVED_FIELDS with "
                "a comment saying where its job went)"
            )
        paper, ours, why = setting.evaluate(layout)
        mapping.append(
            {
                "field": setting.field,
                "paper": paper,
                "trl_default": "removed" if removed else defaults[setting.field],
                "value": ours,
                "why": why,
            }
        )
        if not removed:
            kwargs[setting.field] = ours
    return kwargs, mapping + _notes(layout)


def grpo_settings(
    row: Experiment, dtype: str, n_gpus: int, device: str, *, n_prompts: int | None = None
) -> tuple[dict, list[dict]]:
    """``GRPOConfig`` keyword arguments (all but output_dir) and the paper-to-TRL-1.16 mapping.

    ``dtype`` is the base model's dtype on CUDA (CPU runs use float32), ``n_gpus`` the number of
    training GPUs (0 on CPU) and ``device`` "cpu" or "cuda". ``n_prompts`` (training rows) is
    needed only when the row leaves max_steps empty (one epoch). Each mapping entry has field,
    paper (TRL 0.15.2 + Tina recipe), trl_default (TRL 1.16, or "removed"), value (what we set)
    and why.
    """
    return resolve_table(run_layout(row, dtype, n_gpus, device, n_prompts))
