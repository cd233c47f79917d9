"""Which prompt ids rollouts are sampled on: the paper's two BOS tokens, or TRL 1.16's one.

Tina's trainer built the loss's prompt ids from the chat template's text with
``add_special_tokens=False`` (``T:tina/post_train_hf/grpo_trainer.py:525-527``: one BOS, the
template's) but handed vLLM 0.7.2 the text itself (``:543-545``), which vLLM tokenized with the
tokenizer's special tokens: two BOS tokens for DeepSeek-R1-Distill-Qwen under transformers 4.x
(:mod:`tina_repro.special_tokens`). Every rollout of the paper was sampled after two BOS tokens
and trained on after one. TRL 1.16 tokenizes once and hands the same ids to every generation path
and to the loss (``GRPOTrainer._generate``): one BOS throughout (docs/paper.md#model).

The config's ``rollout_prompt_tokens`` chooses:

- ``vllm_text`` (the paper's): rollouts are sampled on the template's ids with the special tokens
  transformers 4.x added around them; the loss keeps the template's ids. TRL 1.16 has one method
  that every generation path (vLLM colocate and server, transformers ``generate`` and continuous
  batching) receives the prompt ids through and that returns only the completions:
  ``GRPOTrainer._generate_single_turn``. :func:`build_trainer` overrides it to put the tokens
  around the ids it passes on, so ``_generate`` keeps its own ids for the loss.
- ``chat_template``: TRL 1.16 as it is.

The paper's transformers rollouts (``use_vllm`` false, never used by a paper run) were sampled on
the loss's ids; ``vllm_text`` adds the tokens on every engine, which changes nothing for a
tokenizer that adds none (the CPU demo's).
"""

from __future__ import annotations

import functools
import inspect

from tina_repro.config import Experiment
from tina_repro.special_tokens import NONE, Affixes, added_special_tokens

ROLLOUT_PROMPT_TOKENS = ("vllm_text", "chat_template")
# GRPOTrainer._generate_single_turn's parameters in the pinned TRL (1.16.0); another layout means
# the override no longer fits and must be checked against the new source.
GENERATE_SINGLE_TURN_PARAMETERS = (
    "self",
    "prompt_ids",
    "images",
    "multimodal_fields",
    "num_generations",
    "has_tool_images",
)


def _check_mode(mode: str) -> None:
    if mode not in ROLLOUT_PROMPT_TOKENS:
        raise ValueError(
            f"rollout_prompt_tokens must be one of {ROLLOUT_PROMPT_TOKENS}, got {mode!r}"
        )


def rollout_affixes(tokenizer, model_dir, mode: str) -> Affixes:
    """The special tokens rollouts are sampled with around the template's prompt ids."""
    _check_mode(mode)
    return added_special_tokens(tokenizer, model_dir) if mode == "vllm_text" else NONE


def mapping_entry(row: Experiment, mode: str) -> dict:
    """The paper-to-TRL mapping's entry for the rollout prompt ids (not a GRPOConfig field)."""
    _check_mode(mode)
    if row.use_vllm:
        paper = (
            "vLLM rollouts on the prompt text, which vLLM 0.7.2 tokenized with the tokenizer's "
            "special tokens (two BOS for DeepSeek-R1-Distill-Qwen); the loss on the template's "
            "ids (one BOS)"
        )
    else:
        paper = "transformers rollouts and the loss on the template's ids (one BOS)"
    why = {
        "vllm_text": (
            "rollouts sampled on the template's ids with the special tokens transformers 4.x "
            "added (GRPOTrainer._generate_single_turn overridden), the loss on the template's "
            "ids, as the paper's vLLM rollouts"
        ),
        "chat_template": "TRL 1.16 as it is: the template's ids for rollouts and loss",
    }[mode]
    return {
        "field": "rollout_prompt_tokens",
        "paper": paper,
        "trl_default": "the template's ids for rollouts and loss",
        "value": mode,
        "why": why,
    }


@functools.cache
def _affixed_rollout_trainer() -> type:
    from trl import GRPOTrainer

    found = tuple(inspect.signature(GRPOTrainer._generate_single_turn).parameters)
    if found != GENERATE_SINGLE_TURN_PARAMETERS:
        raise RuntimeError(
            f"GRPOTrainer._generate_single_turn takes {found}, not "
            f"{GENERATE_SINGLE_TURN_PARAMETERS}: this TRL is not the pinned one; check "
            "tina_repro/train/rollouts.py against its source"
        )

    class AffixedRolloutTrainer(GRPOTrainer):
        """GRPOTrainer whose rollouts are sampled with ``rollout_affixes`` around the prompt
        ids; the loss keeps the ids without them."""

        def __init__(self, *args, rollout_affixes: Affixes, **kwargs):
            super().__init__(*args, **kwargs)
            self.rollout_affixes = rollout_affixes

        def _generate_single_turn(self, prompt_ids, *args, **kwargs):
            sampled_on = [list(self.rollout_affixes.around(ids)) for ids in prompt_ids]
            return super()._generate_single_turn(sampled_on, *args, **kwargs)

    return AffixedRolloutTrainer


def build_trainer(affixes: Affixes, **trainer_kwargs):
    """A GRPOTrainer sampling rollouts with ``affixes`` around the prompt ids (TRL's own class
    when there are none)."""
    if affixes == NONE:
        from trl import GRPOTrainer

        return GRPOTrainer(**trainer_kwargs)
    return _affixed_rollout_trainer()(rollout_affixes=affixes, **trainer_kwargs)
