"""The demo's base model: the tiny Qwen2 warm-started to reason in R1 style (plain torch SFT).

Stands in for DeepSeek-R1-Distill-Qwen-1.5B. Recipe: AdamW lr 3e-3, betas (0.9, 0.98), 5% warmup
then cosine to 10%, batch 32, loss on the completion only, gradient clipping 1.0, 500 steps. The
model's accuracy climbs steeply with warm-start steps; 500 steps is past that climb, so the gain
from closing the teacher's format gap is large and stable (README has the measured numbers).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tina_repro.files import dumps, read_jsonl, write_text

logger = logging.getLogger(__name__)

# What a warm start reports of the run rather than of the model: logged, not written into the
# model folder, whose content is the model's identity (tina_repro.fingerprints).
RUN_FACTS = ("wall_seconds", "torch_threads")


@dataclass(frozen=True)
class WarmStartSettings:
    """The warm-start recipe; ``steps * batch_size`` teacher traces, one pass."""

    steps: int = 500
    batch_size: int = 32
    learning_rate: float = 3e-3
    betas: tuple[float, float] = (0.9, 0.98)
    warmup_fraction: float = 0.05
    min_lr_ratio: float = 0.1
    max_grad_norm: float = 1.0
    seed: int = 0

    @property
    def n_examples(self) -> int:
        return self.steps * self.batch_size


def _lr_factor(step: int, settings: WarmStartSettings) -> float:
    """Linear warmup, then cosine decay from 1 to ``min_lr_ratio`` over the remaining steps."""
    warmup = max(1, round(settings.warmup_fraction * settings.steps))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, settings.steps - warmup)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return settings.min_lr_ratio + (1.0 - settings.min_lr_ratio) * cosine


def encode_sft_examples(tokenizer, rows: list[dict]) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, completion ids + EOS) per row, tokenized apart as at generation time.

    The prompt is the model's own chat template with the generation prompt (``...<think>\\n``),
    exactly what GRPO rollouts and evaluation feed the model; the template itself cannot carry the
    trace (it drops assistant text up to ``</think>``), so the completion is appended as text.
    """
    prompts = tokenizer.apply_chat_template(
        [[{"role": "user", "content": row["problem"]}] for row in rows],
        add_generation_prompt=True,
        tokenize=False,
    )
    prompt_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer([row["completion"] for row in rows], add_special_tokens=False)[
        "input_ids"
    ]
    eos = tokenizer.eos_token_id
    return [(p, [*c, eos]) for p, c in zip(prompt_ids, completion_ids, strict=True)]


def _batch(examples, pad_id: int):
    """Right-padded input ids, attention mask and labels (-100 outside the completion)."""
    import torch

    width = max(len(p) + len(c) for p, c in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, (prompt, completion) in enumerate(examples):
        sequence = prompt + completion
        ids[i, : len(sequence)] = torch.tensor(sequence)
        labels[i, len(prompt) : len(sequence)] = torch.tensor(completion)
        mask[i, : len(sequence)] = 1
    return ids, mask, labels


def warm_start(model_dir: str | Path, sft_path: str | Path, settings: WarmStartSettings) -> dict:
    """Fine-tune the model in ``model_dir`` on the teacher traces in place; return a report.

    Traces are used in file order, one pass, ``settings.batch_size`` per step; a file shorter than
    ``steps * batch_size`` is an error rather than a silent second epoch.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    rows = read_jsonl(sft_path)
    if len(rows) < settings.n_examples:
        raise ValueError(
            f"{sft_path} has {len(rows)} teacher traces; the warm start needs "
            f"{settings.steps} steps x {settings.batch_size} = {settings.n_examples}"
        )
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    examples = encode_sft_examples(tokenizer, rows[: settings.n_examples])
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.learning_rate, betas=settings.betas
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _lr_factor(step, settings)
    )
    torch.manual_seed(settings.seed)
    model.train()
    losses = []
    for step in range(settings.steps):
        start = step * settings.batch_size
        ids, mask, labels = _batch(
            examples[start : start + settings.batch_size], tokenizer.pad_token_id
        )
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        if not torch.isfinite(loss):
            raise FloatingPointError(f"warm start diverged: loss {loss.item()} at step {step}")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if step % 50 == 0 or step == settings.steps - 1:
            logger.info("warm start step %d/%d: loss %.4f", step + 1, settings.steps, losses[-1])
    model.eval()
    model.save_pretrained(model_dir)
    window = max(1, min(20, settings.steps // 4))
    return {
        "settings": asdict(settings),
        "n_examples": settings.n_examples,
        "n_unanswered": sum(1 for row in rows[: settings.n_examples] if not row["answered"]),
        "loss_first": sum(losses[:window]) / window,
        "loss_last": sum(losses[-window:]) / window,
        "losses": [round(x, 5) for x in losses],
        "wall_seconds": round(time.perf_counter() - started, 2),
        "torch_threads": torch.get_num_threads(),
    }


def build_demo_base_model(
    sft_path: str | Path,
    out_dir: str | Path,
    *,
    size: str = "demo",
    seed: int = 0,
    settings: WarmStartSettings = WarmStartSettings(),
) -> dict:
    """Build the tiny model in ``out_dir`` and warm-start it on the teacher traces.

    ``out_dir`` then holds a reloadable model and tokenizer (the demo's ``base_model.source``)
    plus ``tiny_model.json`` (architecture) and ``warm_start.json`` (the returned report less
    :data:`RUN_FACTS`, which are logged).
    """
    from tina_repro.demo.tiny_model import build_tiny_model

    out = Path(out_dir)
    build_tiny_model(out, seed=seed, size=size)
    report = warm_start(out, sft_path, settings)
    report["sft_source"] = str(sft_path)
    recorded = {k: v for k, v in report.items() if k not in RUN_FACTS}
    write_text(out / "warm_start.json", dumps(recorded, indent=None) + "\n")
    logger.info(
        "warm start: %d steps in %.1f s on %d thread(s), loss %.3f -> %.3f",
        settings.steps,
        report["wall_seconds"],
        report["torch_threads"],
        report["loss_first"],
        report["loss_last"],
    )
    return report
