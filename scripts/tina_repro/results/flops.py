"""Training FLOPs of a LoRA-GRPO run, counted analytically from its logged token counts.

The paper plots performance against training FLOPs but gives no formula (docs/paper.md#flops), and
the HF Trainer's own ``total_flos`` is 0 for GRPO (its batches carry no ``input_ids``). We count
model FLOPs the standard way: a matrix multiply with an ``(in, out)`` weight costs ``2·in·out``
FLOPs per token (one multiply and one add per weight), so a forward pass costs ``2·N`` per token
where ``N`` counts the weights multiplied per token (Kaplan et al. 2020, "Scaling Laws for Neural
Language Models", §2.1; backward = 2x forward, so full training = ``6·N``).

Per optimizer step, with ``C`` completions (prompts_per_step x G), completion tokens ``T_c`` and
prompt tokens ``T_p`` summed over completions (so ``T_p + T_c`` is TRL's ``num_tokens`` increment,
every token the policy sees), the terms are:

- rollout: ``2·N·(T_p/G + T_c)`` with vLLM, which prefills each prompt once for its G samples
  (prefix caching) and runs the LoRA merged into the base weights; ``2·N·(T_p + T_c)`` with
  ``transformers`` generate, which repeats every prompt G times;
- log-prob passes: ``2·N·(T_p + T_c)`` per pass. One pass, the reference model (the adapter
  disabled) for the k3 KL term when ``beta > 0``. No old-policy pass: generation is aligned with
  the optimizer step and ``vllm_importance_sampling_correction`` is off (grpo_mapping), so TRL
  1.16 does not compute one (nor did the paper's 0.15.2);
- LoRA training: forward ``2·(N + N_lora)`` + activation-gradient backward ``2·(N + N_lora)`` +
  weight gradients of the adapters only ``2·N_lora``, i.e. ``(4·N + 6·N_lora)·(T_p + T_c)``. The
  frozen base weights need no weight gradient, which saves the third of the backward that full
  training pays;
- full-parameter training of the same run, for contrast: ``6·N·(T_p + T_c)``, same rollout and
  log-prob terms.

``N`` is the weights of every per-token matmul: the decoder layers' projections plus the output
head (``vocab x hidden``, a matmul even when tied to the input embedding, whose lookup costs
nothing). Left out, each a few percent at most: attention scores (``2·layers·context·hidden`` per
token, ~10% of ``2·N`` at 4k tokens), biases and norms, and gradient checkpointing's recompute of
the forward (+``2·N`` per trained token: hardware FLOPs, not model FLOPs).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tina_repro.config import Experiment

ROLLOUT_PER_TOKEN = 2
LOGPROB_PER_TOKEN = 2
FULL_TRAIN_PER_TOKEN = 6
# LoRA training per token: base forward + activation backward, and fwd + act-bwd + weight grad
# of the adapters.
LORA_BASE_PER_TOKEN = 4
LORA_ADAPTER_PER_TOKEN = 6

# Columns of log_history.csv (TRL 1.16 log keys) the counts come from.
STEP = "step"
MEAN_LENGTH = "completions/mean_length"
NUM_TOKENS = "num_tokens"


@dataclass(frozen=True)
class ModelShape:
    """The dimensions of a Qwen2-style decoder (the Hugging Face ``config.json`` keys)."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tie_embeddings: bool
    qkv_bias: bool = True

    @classmethod
    def from_config(cls, config: dict) -> ModelShape:
        """Read a ``config.json`` dict (Qwen2/Llama-style keys; Qwen2 always has q/k/v biases,
        Llama-style configs say so in ``attention_bias``)."""
        keys = ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"]
        keys += ["vocab_size"]
        missing = [k for k in keys if k not in config]
        if missing:
            raise ValueError(f"model config lacks {missing}; a Qwen2-style config is needed")
        heads = config["num_attention_heads"]
        return cls(
            hidden=config["hidden_size"],
            intermediate=config["intermediate_size"],
            layers=config["num_hidden_layers"],
            heads=heads,
            kv_heads=config.get("num_key_value_heads") or heads,
            head_dim=config.get("head_dim") or config["hidden_size"] // heads,
            vocab=config["vocab_size"],
            tie_embeddings=bool(config.get("tie_word_embeddings", False)),
            qkv_bias=bool(config.get("attention_bias", config.get("model_type") == "qwen2")),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> ModelShape:
        """From a model's ``config.json``, or a folder (or a file inside it) that holds one."""
        path = Path(path)
        if not path.is_dir():
            path = path.parent
        config_file = path / "config.json"
        if not config_file.is_file():
            raise FileNotFoundError(f"no config.json in {path}")
        return cls.from_config(json.loads(config_file.read_text()))

    def projections(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of the per-layer linear modules, by their module names."""
        q_out = self.heads * self.head_dim
        kv_out = self.kv_heads * self.head_dim
        return {
            "q_proj": (self.hidden, q_out),
            "k_proj": (self.hidden, kv_out),
            "v_proj": (self.hidden, kv_out),
            "o_proj": (q_out, self.hidden),
            "gate_proj": (self.hidden, self.intermediate),
            "up_proj": (self.hidden, self.intermediate),
            "down_proj": (self.intermediate, self.hidden),
        }

    def matmul_params(self) -> int:
        """``N`` of the FLOPs counts: weights multiplied once per token (layers + output head)."""
        per_layer = sum(i * o for i, o in self.projections().values())
        return self.layers * per_layer + self.vocab * self.hidden

    def total_params(self) -> int:
        """Every stored parameter, as ``model.num_parameters()`` counts them."""
        projections = self.projections()
        bias = sum(projections[m][1] for m in ("q_proj", "k_proj", "v_proj")) * self.qkv_bias
        per_layer = sum(i * o for i, o in projections.values()) + bias + 2 * self.hidden
        embeddings = self.vocab * self.hidden * (1 if self.tie_embeddings else 2)
        return self.layers * per_layer + embeddings + self.hidden

    def lora_params(self, r: int, target_modules: Sequence[str]) -> int:
        """Trainable LoRA parameters: ``r·(in + out)`` per targeted module and layer (A and B)."""
        projections = self.projections()
        unknown = sorted(set(target_modules) - set(projections))
        if unknown:
            raise ValueError(f"unknown LoRA target module(s) {unknown}; valid: {list(projections)}")
        return self.layers * sum(r * sum(projections[m]) for m in set(target_modules))


def step_tokens(log: pd.DataFrame, completions_per_step: int) -> pd.DataFrame:
    """Tokens per logged row of ``log_history``: step, steps, completions, prompt_tokens,
    completion_tokens.

    A row covers the steps since the previous row (one with ``logging_steps: 1``). Completion tokens
    are ``completions/mean_length`` x completions; prompt tokens (summed over completions) are the
    rest of TRL's cumulative ``num_tokens`` increment.
    """
    missing = [c for c in (STEP, MEAN_LENGTH, NUM_TOKENS) if c not in log.columns]
    if missing:
        raise ValueError(f"log_history lacks column(s) {missing}")
    log = log.sort_values(STEP)
    if log[[STEP, MEAN_LENGTH, NUM_TOKENS]].isna().any().any():
        raise ValueError("log_history has empty step, mean length or num_tokens cells")
    steps = log[STEP].diff().fillna(log[STEP].iloc[0]).to_numpy()
    total = log[NUM_TOKENS].diff().fillna(log[NUM_TOKENS].iloc[0]).to_numpy(dtype=float)
    completions = steps * completions_per_step
    completion_tokens = log[MEAN_LENGTH].to_numpy(dtype=float) * completions
    prompt_tokens = total - completion_tokens
    if (steps <= 0).any() or (prompt_tokens < -0.5).any():
        raise ValueError(
            "log_history is inconsistent: steps must increase and num_tokens must grow by at "
            "least the completion tokens of each step"
        )
    return pd.DataFrame(
        {
            "step": log[STEP].to_numpy(dtype=int),
            "steps": steps.astype(int),
            "completions": completions.astype(int),
            "prompt_tokens": np.maximum(prompt_tokens, 0.0),
            "completion_tokens": completion_tokens,
        }
    )


def training_flops(
    tokens: pd.DataFrame,
    n_params: int,
    n_lora_params: int,
    num_generations: int,
    reference_pass: bool,
    shared_prefill: bool,
) -> pd.DataFrame:
    """Per-row FLOPs of ``step_tokens`` output, with the terms of the module docstring:
    rollout_flops, logprob_flops, lora_train_flops, total_lora_flops, full_ft_flops."""
    prompt = tokens["prompt_tokens"].to_numpy(dtype=float)
    completion = tokens["completion_tokens"].to_numpy(dtype=float)
    seen = prompt + completion
    prefill = prompt / num_generations if shared_prefill else prompt
    rollout = ROLLOUT_PER_TOKEN * n_params * (prefill + completion)
    logprob = LOGPROB_PER_TOKEN * n_params * seen * int(reference_pass)
    lora = (LORA_BASE_PER_TOKEN * n_params + LORA_ADAPTER_PER_TOKEN * n_lora_params) * seen
    full = FULL_TRAIN_PER_TOKEN * n_params * seen
    out = tokens[["step"]].copy()
    out["rollout_flops"] = rollout
    out["logprob_flops"] = logprob
    out["lora_train_flops"] = lora
    out["total_lora_flops"] = rollout + logprob + lora
    out["full_ft_flops"] = rollout + logprob + full
    return out


def run_flops(
    log: pd.DataFrame, shape: ModelShape, row: Experiment, completions_per_step: int
) -> dict[str, pd.DataFrame | int]:
    """FLOPs of one experiment from its log_history and experiment row (lora_r,
    lora_target_modules, num_generations, beta, use_vllm): per-row tokens and FLOPs, N, N_lora."""
    n_params = shape.matmul_params()
    n_lora = shape.lora_params(row.lora_r, row.lora_target_modules)
    tokens = step_tokens(log, completions_per_step)
    flops = training_flops(
        tokens,
        n_params,
        n_lora,
        num_generations=row.num_generations,
        reference_pass=row.beta > 0,
        shared_prefill=bool(row.use_vllm),
    )
    return {"tokens": tokens, "flops": flops, "n_params": n_params, "n_lora_params": n_lora}
