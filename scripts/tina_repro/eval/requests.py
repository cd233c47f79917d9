"""Generation requests: one (problem, sample) each, with its own seed and token budget.

Each benchmark ``prompt`` is the single user message, rendered through the evaluated MODEL's own
chat template with ``add_generation_prompt=True`` and no system prompt (docs/paper.md#evaluation).
``evaluation.prompt_tokens`` says how that text becomes token ids: ``lighteval`` (the paper's)
tokenizes it with the special tokens lighteval ed084813's tokenizer call added on top of the
template's own BOS (:mod:`tina_repro.special_tokens`; two BOS tokens for DeepSeek-R1-Distill-Qwen,
docs/paper.md#eval-bugs), ``chat_template`` with none (the template's single BOS). Each
(problem, sample) gets its own sampling seed derived from ``evaluation.seed``, so a sample's text
does not depend on batch composition, the resume point, the backend's scheduling or how jobs are
spread over GPUs. With ``evaluation.sample_seeds`` (config/eval-10-seeds.yaml: 0-9) sample ``k``
of every problem is drawn with seed ``sample_seeds[k]`` instead: lighteval's seeding in Tina's
later ten-seed evaluation (``scripts/eval/run_eval_multi_seeds.py`` at c6274cd), one run per seed
whose every request carries that seed (``GenerationParameters(seed=...)`` -> ``SamplingParams``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tina_repro.config import EvaluationSettings
from tina_repro.special_tokens import NONE, Affixes, added_special_tokens

logger = logging.getLogger(__name__)

FINISH_REASONS = ("stop", "length")
BENCHMARK_COLUMNS = ("id", "prompt", "answer")


def request_seed(settings: EvaluationSettings, problem_id: int, sample_index: int) -> int:
    """The sampling seed of one (problem, sample): ``sample_seeds[sample_index]`` when the
    config lists them (lighteval's seed per run), else :func:`sample_seed`."""
    if settings.sample_seeds:
        return int(settings.sample_seeds[sample_index])
    return sample_seed(settings.seed, problem_id, sample_index)


@dataclass(frozen=True)
class Request:
    """One (problem, sample) to generate, with the fields its output row carries."""

    problem_id: int
    sample_index: int
    seed: int
    prompt_hash: str
    prompt_ids: tuple[int, ...]
    max_tokens: int
    gold: str
    task: str
    gold_format: str

    @property
    def key(self) -> tuple[int, int]:
        return (self.problem_id, self.sample_index)


@dataclass(frozen=True)
class Completion:
    text: str
    n_tokens: int
    finish_reason: str


def sample_seed(base_seed: int, problem_id: int, sample_index: int) -> int:
    """A 31-bit seed per sample, a hash of (base seed, problem, sample): fits torch and vLLM."""
    digest = hashlib.sha256(f"{base_seed}:{problem_id}:{sample_index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def render_prompt(tokenizer, prompt: str) -> str:
    """The benchmark prompt as the only user turn, through the model's chat template."""
    if not tokenizer.chat_template:
        raise ValueError("the model's tokenizer has no chat template; evaluation needs one")
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
    )


def prompt_affixes(tokenizer, model_dir: str | Path, mode: str) -> Affixes:
    """The special tokens ``evaluation.prompt_tokens`` puts around the chat template's ids:
    ``lighteval``'s added ones, none for ``chat_template``."""
    return added_special_tokens(tokenizer, model_dir) if mode == "lighteval" else NONE


def build_requests(
    benchmark: pd.DataFrame,
    tokenizer,
    settings: EvaluationSettings,
    gold_format: str,
    affixes: Affixes,
) -> list[Request]:
    """All (problem, sample) requests in benchmark order, samples of a problem together; each
    prompt's ids are the chat template's with ``affixes`` (:func:`prompt_affixes`) around them.

    Generation is capped at ``max_model_len - prompt tokens`` (what vLLM can hold); a prompt that
    leaves no room raises ``ValueError``.
    """
    missing = [column for column in BENCHMARK_COLUMNS if column not in benchmark.columns]
    if missing:
        raise ValueError(f"benchmark has no column(s) {missing}; re-run prepare_benchmark")
    if benchmark["id"].duplicated().any():
        raise ValueError("benchmark ids are not unique; re-run prepare_benchmark")
    task = "gpqa" if gold_format == "letter" else "math"
    requests = []
    for problem_id, prompt, gold in zip(
        benchmark["id"].tolist(), benchmark["prompt"], benchmark["answer"], strict=True
    ):
        text = render_prompt(tokenizer, prompt)
        prompt_ids = affixes.around(tokenizer(text, add_special_tokens=False)["input_ids"])
        room = settings.max_model_len - len(prompt_ids)
        if room < 1:
            raise ValueError(
                f"problem {problem_id}: its prompt has {len(prompt_ids)} tokens, no room left in "
                f"max_model_len={settings.max_model_len}"
            )
        prompt_hash = hashlib.sha256(text.encode()).hexdigest()
        for sample_index in range(settings.samples_per_problem):
            requests.append(
                Request(
                    problem_id=int(problem_id),
                    sample_index=sample_index,
                    seed=request_seed(settings, int(problem_id), sample_index),
                    prompt_hash=prompt_hash,
                    prompt_ids=prompt_ids,
                    max_tokens=min(settings.max_new_tokens, room),
                    gold=str(gold),
                    task=task,
                    gold_format=gold_format,
                )
            )
    capped = sum(r.max_tokens < settings.max_new_tokens for r in requests)
    if capped:
        logger.info("%d samples capped below max_new_tokens by max_model_len", capped)
    return requests


def sample_row(request: Request, completion: Completion) -> dict:
    """One samples.jsonl row."""
    if completion.finish_reason not in FINISH_REASONS:
        raise ValueError(
            f"problem {request.problem_id} sample {request.sample_index}: finish reason "
            f"{completion.finish_reason!r}, expected one of {FINISH_REASONS}"
        )
    return {
        "problem_id": request.problem_id,
        "sample_index": request.sample_index,
        "seed": request.seed,
        "prompt_hash": request.prompt_hash,
        "completion": completion.text,
        "n_tokens": completion.n_tokens,
        "finish_reason": completion.finish_reason,
        "gold": request.gold,
        "task": request.task,
        "gold_format": request.gold_format,
    }


def sample_row_problem(row: object, request: Request) -> str | None:
    """Why ``row`` (a line of a partial file, parsed) is not a finished sample of ``request``, or
    None when it is one: exactly :func:`sample_row`'s fields, the request's own values, a text
    completion, a token count within the request's budget and a known finish reason."""
    if not isinstance(row, dict):
        return "not a JSON object"
    expected = sample_row(request, Completion("", 0, FINISH_REASONS[0]))
    if set(row) != set(expected):
        return f"fields {sorted(row)}, expected {sorted(expected)}"
    of_request = (
        "problem_id",
        "sample_index",
        "seed",
        "prompt_hash",
        "gold",
        "task",
        "gold_format",
    )
    for key in of_request:
        if type(row[key]) is not type(expected[key]) or row[key] != expected[key]:
            return f"{key} {row[key]!r} is not its request's {expected[key]!r}"
    n_tokens = row["n_tokens"]
    if not isinstance(row["completion"], str):
        return "completion is not text"
    if type(n_tokens) is not int or not 0 <= n_tokens <= request.max_tokens:
        return f"n_tokens {n_tokens!r} is not a count up to {request.max_tokens}"
    if row["finish_reason"] not in FINISH_REASONS:
        return f"finish_reason {row['finish_reason']!r} is not one of {FINISH_REASONS}"
    return None
