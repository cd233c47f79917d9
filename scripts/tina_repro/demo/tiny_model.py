"""Build a tiny, randomly initialised Qwen2 causal LM with an R1-Distill-style tokenizer, offline.

The CPU tests and the CPU demo cannot download DeepSeek-R1-Distill-Qwen-1.5B, so they run the
same code paths (trl GRPO, peft LoRA, chat templates, math grading) on a stand-in built here from
nothing: a digit-level byte-level BPE trained on seeded synthetic math text, and a Qwen2 model
whose architecture and special tokens mimic the real one. Sizes: "test" for fast unit tests, "demo"
for the CPU demo (the smallest shape that learns column arithmetic in a short warm start; a larger
model costs more per step than it gains in a CPU budget).
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import time
from pathlib import Path

from tina_repro.demo.task import make_problem

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
PAD = "<|pad|>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
# Non-special on purpose: trl decodes completions with skip_special_tokens=True, and the format
# reward must still see </think> (as special tokens it would always be 0).
CHAT_TOKENS = (USER, ASSISTANT, THINK_OPEN, THINK_CLOSE)
GENERATION_PROMPT = ASSISTANT + THINK_OPEN + "\n"

# Simplified DeepSeek-R1-Distill template: same turn markers and the same generation-prompt tail.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages if message['role'] == 'system' %}"
    "{{ message['content'] }}"
    "{% endfor %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ '" + USER + "' + message['content'] }}"
    "{% elif message['role'] == 'assistant' %}"
    "{{ '" + ASSISTANT + "' + message['content'].split('" + THINK_CLOSE + "')[-1] + eos_token }}"
    "{% elif message['role'] != 'system' %}"
    "{{ raise_exception('unsupported chat role: ' + message['role']) }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '" + ASSISTANT + THINK_OPEN + "\\n' }}{% endif %}"
)

# Qwen2's pre-tokenizer split: \p{N} matches one digit at a time, so numbers are digit-level.
QWEN2_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# Trainer vocabulary (3 special tokens + 256 bytes + merges); with the 4 chat tokens this gives
# a 378-token tokenizer and a 384-row embedding.
BPE_VOCAB_SIZE = 374
CORPUS_DOCUMENTS = 2000
MAX_POSITIONS = 2048
EMBEDDING_MULTIPLE = 64

# Model shapes. "test": smallest model that still exercises GQA and multiple layers, for fast unit
# tests. "demo": about 0.84 M parameters, the smallest model that learned column arithmetic within
# a 2-minute CPU warm start.
SIZES: dict[str, dict[str, int]] = {
    "test": {
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "intermediate_size": 128,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "demo": {
        "hidden_size": 128,
        "num_hidden_layers": 4,
        "intermediate_size": 384,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
}

logger = logging.getLogger(__name__)


def _latex_line(rng: random.Random) -> str:
    """Competition-math LaTeX fragments, so the vocabulary is not limited to the demo task."""
    p, q, r, s = (rng.randint(1, 12) for _ in range(4))
    return rng.choice(
        (
            f"$\\frac{{{p}}}{{{q}}}+\\frac{{{r}}}{{{s}}}=\\frac{{{p * s + r * q}}}{{{q * s}}}$",
            f"$\\sqrt{{{p * p}}}={p}$ and $x^{{2}}-{p + q}x+{p * q}=0$ gives $x={p}$ or $x={q}$.",
            f"The area is ${p}\\cdot {q}={p * q}\\text{{ cm}}^2$, and $\\pi r^2$ for a circle.",
            f"Let $f(x)={p}x+{q}$. Then $f({r})={p * r + q}$, so $\\left({p}\\right)^{{{s}}}$.",
            f"A price of {p} dollars rises by {q}%; after {r} hours it is $\\dfrac{{{s}}}{{2}}$.",
        )
    )


def synthetic_corpus(seed: int, n_documents: int = CORPUS_DOCUMENTS) -> list[str]:
    """Seeded R1-style chat transcripts of math problems plus LaTeX lines: the BPE training text.

    Transcripts carry the BOS/EOS and chat tokens exactly as the chat template writes them, so
    the learned merges fit the text the model later sees between those tokens.
    """
    rng = random.Random(seed)
    documents = []
    for _ in range(n_documents):
        if rng.random() < 0.2:
            documents.append(_latex_line(rng))
            continue
        problem = make_problem(rng, rng.randrange(3) + 1)
        question, steps, answer = problem.question, problem.steps, problem.answer
        if rng.random() < 0.3:
            question += " Please reason step by step, and put your final answer within \\boxed{}."
        completion = "\n".join(steps) + f"\n{THINK_CLOSE}\nThe answer is $\\boxed{{{answer}}}$."
        documents.append(BOS + USER + question + GENERATION_PROMPT + completion + EOS)
    return documents


def _train_tokenizer(seed: int):
    """Byte-level BPE with Qwen2's digit-splitting regex, wrapped as a left-padding HF tokenizer."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        special_tokens=[BOS, EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Training does not split out added tokens, so cut them out of the text here; otherwise
    # merges are wasted on the bytes of "<｜Assistant｜>" and friends.
    marker = re.compile("|".join(re.escape(t) for t in (BOS, EOS, *CHAT_TOKENS)))
    pieces = (p for doc in synthetic_corpus(seed) for p in marker.split(doc) if p)
    tokenizer.train_from_iterator(pieces, trainer)
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in CHAT_TOKENS])
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        padding_side="left",
        model_max_length=MAX_POSITIONS,
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def build_tiny_model(out_dir: str | Path, seed: int = 0, size: str = "test") -> Path:
    """Write a float32 Qwen2ForCausalLM with tied embeddings, its tokenizer and tiny_model.json.

    The same seed gives byte-identical weights and tokenizer. The result reloads with
    ``AutoTokenizer``/``AutoModelForCausalLM.from_pretrained(out_dir)`` under HF_HUB_OFFLINE=1.
    """
    if size not in SIZES:
        raise ValueError(f"unknown tiny model size {size!r}; choose one of {sorted(SIZES)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    start = time.perf_counter()
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(seed)
    # AutoTokenizer reloads this as Qwen2Tokenizer, which appends an <|endoftext|> token: +1.
    vocab_size = math.ceil((len(tokenizer) + 1) / EMBEDDING_MULTIPLE) * EMBEDDING_MULTIPLE
    special_ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    config = Qwen2Config(
        vocab_size=vocab_size,
        max_position_embeddings=MAX_POSITIONS,
        tie_word_embeddings=True,
        dtype="float32",
        **SIZES[size],
        **special_ids,
    )
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG stream untouched
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    for name, token_id in special_ids.items():
        setattr(model.generation_config, name, token_id)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)

    reloaded_len = len(AutoTokenizer.from_pretrained(out))
    if reloaded_len > vocab_size:
        raise RuntimeError(
            f"reloaded tokenizer has {reloaded_len} tokens but the embedding only {vocab_size}"
        )
    n_parameters = sum(p.numel() for p in model.parameters())
    info = {
        "architecture": "Qwen2ForCausalLM",
        "seed": seed,
        "size": size,
        **SIZES[size],
        "n_parameters": n_parameters,
        "vocab_size": vocab_size,
        "tokenizer_len": reloaded_len,
    }
    (out / "tiny_model.json").write_text(json.dumps(info, indent=2) + "\n")
    logger.info(
        "built tiny %s model (seed %d, %d parameters, vocab %d) in %s in %.1f s",
        size,
        seed,
        n_parameters,
        vocab_size,
        out,
        time.perf_counter() - start,
    )
    return out
