"""The special tokens a tokenizer call added around a prompt in the paper's software stack.

The chat template already writes BOS. lighteval ed084813 then tokenized the rendered text with
``add_special_tokens=True`` (``VLLMModelConfig.add_special_tokens``,
``src/lighteval/models/vllm/vllm_model.py:90,259``), and vLLM 0.7.2 did the same with the prompt
text Tina's trainer passed it (``T:tina/post_train_hf/grpo_trainer.py:543-545``). Both ran on
transformers 4.x, whose ``LlamaTokenizerFast``, the class DeepSeek-R1-Distill-Qwen's
``tokenizer_config.json`` names, rebuilt its post-processor from that file's ``add_bos_token``
(default true) and ``add_eos_token`` (default false): with ``add_bos_token: true`` the prompt
starts with two BOS tokens (docs/paper.md#eval-bugs).

transformers 5 no longer reads those two keys when a ``tokenizer.json`` exists
(``PreTrainedTokenizerBase.from_pretrained`` drops them) and loads this tokenizer as
``Qwen2Tokenizer`` (model type ``qwen2`` is in ``MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS``), so
the same call under our pins adds only what ``tokenizer.json``'s post-processor adds: nothing
for this model. :func:`added_special_tokens` therefore computes what transformers 4.x added: the
Llama classes' flags where the tokenizer config names a Llama class, the post-processor's own
tokens otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

# tokenizer_config.json classes whose transformers 4.x fast tokenizer rebuilt its post-processor
# from add_bos_token / add_eos_token (LlamaTokenizerFast.update_post_processor; AutoTokenizer
# loaded the slow name as the fast class).
LLAMA_CLASSES = ("LlamaTokenizer", "LlamaTokenizerFast")
TOKENIZER_CONFIG = "tokenizer_config.json"
_PROBE = "x"


class Affixes(NamedTuple):
    """Token ids added before and after a sequence's own ids."""

    prefix: tuple[int, ...] = ()
    suffix: tuple[int, ...] = ()

    def around(self, ids) -> tuple[int, ...]:
        return (*self.prefix, *ids, *self.suffix)


NONE = Affixes()


def post_processor_affixes(tokenizer) -> Affixes:
    """What the tokenizer's own post-processor adds around one sequence (``add_special_tokens``)."""
    bare = tokenizer(_PROBE, add_special_tokens=False)["input_ids"]
    full = tokenizer(_PROBE, add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return Affixes(tuple(full[:start]), tuple(full[start + len(bare) :]))
    raise ValueError(
        f"{tokenizer.name_or_path}: tokenizing with special tokens changes the text's own tokens "
        f"({bare} -> {full}); cannot tell which tokens were added"
    )


def added_special_tokens(tokenizer, model_dir: str | Path) -> Affixes:
    """The tokens transformers 4.x added around one prompt with ``add_special_tokens=True`` for
    the tokenizer of ``model_dir`` (see the module docstring)."""
    config_path = Path(model_dir) / TOKENIZER_CONFIG
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    if config.get("tokenizer_class") not in LLAMA_CLASSES:
        return post_processor_affixes(tokenizer)
    add_bos = config.get("add_bos_token", True) and tokenizer.bos_token_id is not None
    add_eos = config.get("add_eos_token", False) and tokenizer.eos_token_id is not None
    return Affixes(
        (tokenizer.bos_token_id,) if add_bos else (), (tokenizer.eos_token_id,) if add_eos else ()
    )


def leading_count(ids, token_id: int | None) -> int:
    """How many times ``token_id`` opens ``ids`` (e.g. BOS tokens at the start of a prompt)."""
    count = 0
    while token_id is not None and count < len(ids) and ids[count] == token_id:
        count += 1
    return count
