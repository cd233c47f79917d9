"""The embedded CPU demo's own pieces: a seeded arithmetic task, its R1-style teacher, and the
warm-started base model that stands in for DeepSeek-R1-Distill-Qwen-1.5B.

The demo runs the paper's workflow unchanged (same rules, same trainer, same grader); only the
data, the base model and config values differ. What makes LoRA-GRPO show real learning in minutes
on two CPU cores was measured in FEASIBILITY.md's appendix (recipe F) and is reproduced here:

- **Task.** Three levels with integer answers: L1 ``a±b`` (2-digit), L2 ``a+b×c`` or ``b×c−a``,
  L3 a two-step word problem. Problems are phrased as in :mod:`tina_repro.tiny_model`'s tokenizer
  corpus, so the digit-level BPE fits them.
- **Teacher.** An R1-style trace after the ``<think>\\n`` generation prompt: one line per column
  fact (``units: 12-8=4``, ``tens: 6-1-3=2``, ``62-38=24``; products as ``7*3=21``), then
  ``\\n</think>\\nThe answer is $\\boxed{N}$.``. Column steps are what lets a 0.84 M-parameter
  model learn 2-digit arithmetic in 80 s (10.6% vs 67.4% with one-line sums).
- **An imperfect teacher.** 40% of the teacher's traces reason in full, close the thinking with
  ``</think>`` and stop there without stating the answer, as a distilled model sometimes does.
  The warm-started model inherits that habit (34% of its sampled completions; 15% with a 30%
  share, which left too little headroom), which both of the paper's rewards penalise (the format
  reward wants ``\n</think>\n`` followed by text, the accuracy reward a parsed answer) and the
  paper's grader counts as wrong. This is the headroom GRPO closes in about 50 steps, visible as
  a rising format reward; the arithmetic itself barely changes (accuracy among answered samples
  77.4% -> 78.4% in the measured demo; the appendix saw the same).
  The appendix dropped the box (``The answer is 85.``) instead, but the paper's lighteval grader
  (:mod:`tina_repro.grading`) also extracts bare numbers, so an unboxed answer scores as correct
  and would leave no gain to measure; a missing answer fails under both reward and grader.
- **Splits.** Three benchmarks of 200 distinct problems (one per level, seeds 1001-1003); every
  training draw (warm start and RL) excludes every benchmark problem string.
- **Warm start.** Plain-torch SFT of :func:`tina_repro.tiny_model.build_tiny_model` (size
  ``"demo"``): AdamW lr 3e-3, betas (0.9, 0.98), 5% warmup then cosine to 10%, batch 32, loss on
  the completion only, gradient clipping 1.0, 500 steps (the appendix's 504-step row; 146 s
  measured on one thread, what the rule uses). Accuracy climbs steeply between 270 and 500 steps
  (appendix: 8.5%, 39.7%, 67.4% at 270, 380, 504), so at 380 steps small changes to the traces
  swung the base's accuracy among answered samples between 20% and 33%; at 500 it is past the
  climb (measured 77%), so the gain from closing the format gap is large and stable.

The local files are written in the schemas of the Hub sets they imitate (DeepScaleR-like training
rows, AIME-like and MATH-500-like benchmarks), so they go through the normal ``prepare_dataset`` /
``prepare_benchmark`` rules via ``local:PATH`` sources.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# The tokenizer corpus's own problem parts, so demo text is what the BPE was trained on.
from tina_repro.tiny_model import _CONTAINERS, _ITEMS, _NAMES, _column_steps

logger = logging.getLogger(__name__)

LEVELS = (1, 2, 3)
BENCHMARK_SEEDS = {1: 1001, 2: 1002, 3: 1003}
BENCHMARK_SIZE = 200
TRAIN_SEED = 0
TRAIN_SIZE = 2000
SFT_SEED = 1
# The imperfect teacher: this share of its traces ends without a final answer (see module doc).
UNANSWERED_FRACTION = 0.4
THINK_END = "\n</think>\n"

_COLUMNS = ("units:", "tens:")


@dataclass(frozen=True)
class Problem:
    """One task instance: its level, the question, the teacher's reasoning lines and the answer."""

    level: int
    question: str
    steps: tuple[str, ...]
    answer: int


@dataclass(frozen=True)
class WarmStartSettings:
    """The appendix's warm-start recipe (``sft.py``); ``steps * batch_size`` teacher traces."""

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


# ---------------------------------------------------------------------------------------------
# Task


def make_problem(rng: random.Random, level: int) -> Problem:
    """Draw one problem of ``level`` (1, 2 or 3) from ``rng``."""
    if level == 1:
        a, b = rng.randint(10, 69), rng.randint(10, 29)
        if rng.random() < 0.5:
            return Problem(1, f"What is ${a}+{b}$?", tuple(_column_steps(a, b, "+")), a + b)
        a, b = max(a, b), min(a, b)
        return Problem(1, f"What is ${a}-{b}$?", tuple(_column_steps(a, b, "-")), a - b)
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; the demo task has levels {LEVELS}")
    b, c = rng.randint(2, 9), rng.randint(2, 9)
    product = f"{b}*{c}={b * c}"
    if level == 2 and rng.random() < 0.5:
        a = rng.randint(10, 69)
        steps = (product, *_column_steps(a, b * c, "+"))
        return Problem(2, f"Compute ${a}+{b}\\times {c}$.", steps, a + b * c)
    if level == 2:
        a = rng.randint(0, b * c)
        steps = (product, *_column_steps(b * c, a, "-"))
        return Problem(2, f"Compute ${b}\\times {c}-{a}$.", steps, b * c - a)
    name, box, item = rng.choice(_NAMES), rng.choice(_CONTAINERS), rng.choice(_ITEMS)
    given = rng.randint(0, b * c)
    question = (
        f"{name} has {b} {box} with {c} {item} each and gives away {given} {item}. "
        f"How many {item} are left?"
    )
    return Problem(3, question, (product, *_column_steps(b * c, given, "-")), b * c - given)


def benchmark_problems(level: int, n: int = BENCHMARK_SIZE) -> list[Problem]:
    """``n`` distinct problems of one level, drawn with that level's benchmark seed."""
    rng = random.Random(BENCHMARK_SEEDS[level])
    problems: dict[str, Problem] = {}
    for _ in range(1000 * n):
        problem = make_problem(rng, level)
        problems.setdefault(problem.question, problem)
        if len(problems) == n:
            return list(problems.values())
    raise ValueError(f"level {level} has fewer than {n} distinct problems")


def training_problems(n: int, seed: int, exclude: set[str], distinct: bool) -> list[Problem]:
    """``n`` problems of uniformly drawn levels, none of whose question is in ``exclude``.

    ``distinct`` makes every question appear once (a dataset); otherwise repeats are allowed (a
    stream of teacher traces, as long as the warm start needs).
    """
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[Problem] = []
    for _ in range(1000 * n):
        problem = make_problem(rng, rng.choice(LEVELS))
        if problem.question in exclude or (distinct and problem.question in seen):
            continue
        seen.add(problem.question)
        out.append(problem)
        if len(out) == n:
            return out
    raise ValueError(f"cannot draw {n} training problems outside the excluded set")


def teacher_completion(problem: Problem, answered: bool = True) -> str:
    """The teacher's R1-style completion (the text after the ``<think>\\n`` generation prompt)."""
    reasoning = "\n".join(problem.steps)
    if not answered:
        # Closes the thinking and stops: no answer after </think> (where the paper's grader reads
        # it) and no "\n</think>\n" (what the paper's format reward counts).
        return reasoning + "\n</think>"
    return reasoning + THINK_END + f"The answer is $\\boxed{{{problem.answer}}}$."


def worked_solution(problem: Problem) -> str:
    """A MATH-style LaTeX solution ending in ``\\boxed{N}``: the gold of latex-graded benchmarks.

    It states the product and the final sum or difference, leaving out the column facts.
    """
    facts = [s.replace("*", "\\times ") for s in problem.steps if not s.startswith(_COLUMNS)]
    stated = " and ".join(f"${fact}$" for fact in facts)
    return f"We have {stated}, so the answer is $\\boxed{{{problem.answer}}}$."


# ---------------------------------------------------------------------------------------------
# Local data files (the demo's "Hub")


def _write_jsonl(path: str | Path, rows: list[dict]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_demo_data(
    train_path: str | Path,
    sft_path: str | Path,
    benchmark_paths: dict[int, str | Path],
    warm_start: WarmStartSettings = WarmStartSettings(),
    train_size: int = TRAIN_SIZE,
) -> dict:
    """Write the benchmarks, the RL training set and the warm start's teacher traces.

    - ``benchmark_paths[level]``: levels 1-2 as AIME-like ``problem, answer`` rows (answer a bare
      integer, graded as ``expr``); level 3 as MATH-500-like ``problem, solution, answer`` rows
      (``solution`` a worked LaTeX solution with ``\\boxed``, graded as ``latex``);
    - ``train_path``: DeepScaleR-like ``problem, answer, solution, level`` rows of distinct
      problems (the sheet wraps ``answer`` as ``$N$``, as Tina did);
    - ``sft_path``: ``problem, completion, answered, level``; exactly
      ``round(UNANSWERED_FRACTION * n)`` traces end without an answer.

    Returns counts for the log. The same arguments always write byte-identical files.
    """
    benchmark_questions: set[str] = set()
    counts: dict[str, int] = {}
    for level, path in sorted(benchmark_paths.items()):
        problems = benchmark_problems(level)
        benchmark_questions.update(p.question for p in problems)
        if level == 3:
            rows = [
                {"problem": p.question, "solution": worked_solution(p), "answer": str(p.answer)}
                for p in problems
            ]
        else:
            rows = [{"problem": p.question, "answer": str(p.answer)} for p in problems]
        _write_jsonl(path, rows)
        counts[f"benchmark_level{level}"] = len(rows)

    train = training_problems(train_size, TRAIN_SEED, benchmark_questions, distinct=True)
    _write_jsonl(
        train_path,
        [
            {
                "problem": p.question,
                "answer": str(p.answer),
                "solution": worked_solution(p),
                "level": p.level,
            }
            for p in train
        ],
    )
    counts["train"] = len(train)

    n = warm_start.n_examples
    traces = training_problems(n, SFT_SEED, benchmark_questions, distinct=False)
    unanswered = set(random.Random(SFT_SEED).sample(range(n), round(UNANSWERED_FRACTION * n)))
    _write_jsonl(
        sft_path,
        [
            {
                "problem": p.question,
                "completion": teacher_completion(p, answered=i not in unanswered),
                "answered": i not in unanswered,
                "level": p.level,
            }
            for i, p in enumerate(traces)
        ],
    )
    counts["sft"] = n
    counts["sft_unanswered"] = len(unanswered)
    logger.info("demo data written: %s", counts)
    return counts


# ---------------------------------------------------------------------------------------------
# Warm start (plain torch)


def _read_jsonl(path: str | Path) -> list[dict]:
    with Path(path).open() as handle:
        return [json.loads(line) for line in handle if line.strip()]


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

    rows = _read_jsonl(sft_path)
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
    plus ``tiny_model.json`` (architecture) and ``warm_start.json`` (the returned report).
    """
    from tina_repro.tiny_model import build_tiny_model

    out = Path(out_dir)
    build_tiny_model(out, seed=seed, size=size)
    report = warm_start(out, sft_path, settings)
    report["sft_source"] = str(sft_path)
    (out / "warm_start.json").write_text(json.dumps(report) + "\n")
    logger.info(
        "warm start: %d steps in %.1f s, loss %.3f -> %.3f",
        settings.steps,
        report["wall_seconds"],
        report["loss_first"],
        report["loss_last"],
    )
    return report
