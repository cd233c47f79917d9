"""Training prompts: the normalized table as TRL conversational prompts, and the tokenizer.

TRL 1.16 has no max_prompt_length; TRL 0.15.2 cut the templated token ids from the left. We cut
the problem text instead, so that the system prompt and the chat template survive.

The L1 recipes of the later commit (c6274cd, ``make_conv_for_grpo_l1`` in
``tina/post_train_hf/preprocess.py``) give every prompt a token budget: ``random.randint(100,
4000)`` per row in dataset order, right after ``set_seed(seed)``, appended to the system prompt
as ``"\nThink for N tokens."`` and kept as the ``target_length`` column the L1 rewards read
(:func:`target_lengths`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path

from tina_repro.rewards import TARGET_LENGTH
from tina_repro.train.context import TrainingContext

logger = logging.getLogger(__name__)


def read_training_rows(parquet: str | Path):
    """The normalized training table (problem, solution[, row_id]) with unusable rows removed.

    Every row Tina trained on is usable (data/normalize.py keeps them, a blank problem or an
    unparseable gold included); a row whose problem or solution is not text (a table written by
    hand or by another tool) cannot be prompted or handed to the rewards: such rows are counted
    and logged, never passed on. Returns (DataFrame, n_skipped).
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
        usable &= table[column].map(lambda v: isinstance(v, str))
    skipped = int((~usable).sum())
    if skipped:
        logger.warning(
            "%s: skipping %d of %d rows whose problem or solution is not text",
            parquet,
            skipped,
            len(table),
        )
    table = table[usable].reset_index(drop=True)
    if table.empty:
        raise ValueError(f"{parquet}: no usable training rows (0 rows after skipping {skipped})")
    return table, skipped


def target_lengths(row_ids: Sequence[int], low: int, high: int, seed: int) -> list[int]:
    """The token budget of each row, drawn as Tina's L1 preprocessing draws it: one
    ``randint(low, high)`` per source row in order from Python's generator seeded with the run's
    seed (``transformers.set_seed`` seeds ``random``; no other draw comes first [inferred]).
    ``row_ids`` are source positions, so rows dropped at preparation keep the others' budgets."""
    if not 1 <= low <= high:
        raise ValueError(f"target_length range {low}-{high}: need 1 <= low <= high")
    rng = random.Random(seed)
    draws = [rng.randint(low, high) for _ in range(max(row_ids, default=-1) + 1)]
    return [draws[row_id] for row_id in row_ids]


def budget_prompt(system_prompt: str, target_length: int) -> str:
    """The system prompt of one L1 prompt (make_conv_for_grpo_l1)."""
    return f"{system_prompt}\nThink for {target_length} tokens."


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


def prepare_prompts(
    table,
    tokenizer,
    system_prompt: str,
    max_prompt_length: int,
    budgets: Sequence[int] | None = None,
):
    """Conversational TRL prompts, left-truncated to ``max_prompt_length`` templated tokens.

    ``budgets`` (L1 recipes, :func:`target_lengths`): one token budget per row, appended to its
    system prompt and kept as the ``target_length`` column.
    Returns (datasets.Dataset with prompt/solution/row_id[/target_length], stats dict).
    """
    from datasets import Dataset

    if budgets is None:
        system_prompts = [system_prompt] * len(table)
    else:
        if len(budgets) != len(table):
            raise ValueError(f"{len(budgets)} target lengths for {len(table)} rows")
        system_prompts = [budget_prompt(system_prompt, n) for n in budgets]
    conversations = [
        _conversation(system, p) for system, p in zip(system_prompts, table["problem"], strict=True)
    ]
    texts = tokenizer.apply_chat_template(conversations, add_generation_prompt=True, tokenize=False)
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    truncated = 0
    for i, length in enumerate(lengths):
        if length > max_prompt_length:
            problem = _left_truncate(
                tokenizer, system_prompts[i], table["problem"].iloc[i], max_prompt_length
            )
            conversations[i] = _conversation(system_prompts[i], problem)
            truncated += 1
    if truncated:
        logger.warning(
            "left-truncated %d of %d prompts to max_prompt_length=%d tokens (longest: %d)",
            truncated,
            len(lengths),
            max_prompt_length,
            max(lengths),
        )
    columns = {
        "prompt": conversations,
        "solution": table["solution"].tolist(),
        "row_id": table["row_id"].tolist(),
    }
    if budgets is not None:
        columns[TARGET_LENGTH] = [int(n) for n in budgets]
    dataset = Dataset.from_dict(columns)
    stats = {
        "n_prompts": len(lengths),
        "n_truncated_prompts": truncated,
        "max_prompt_tokens_before_truncation": max(lengths),
        "mean_prompt_tokens": sum(lengths) / len(lengths),
    }
    if budgets is not None:
        stats["target_length_min_max"] = [min(budgets), max(budgets)]
    return dataset, stats


def load_tokenizer(base_model_dir: str | Path, context: TrainingContext):
    """Tokenizer with the training chat template and pad token (docs/paper.md#model)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(
        base_model_dir, padding_side="left", truncation_side="left", trust_remote_code=False
    )
    if context.chat_template:
        tokenizer.chat_template = context.chat_template
    elif not tokenizer.chat_template:
        raise ValueError(
            f"{base_model_dir} has no chat template and config training_chat_template is empty"
        )
    pad = context.pad_token
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
