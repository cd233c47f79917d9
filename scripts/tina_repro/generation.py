"""Completions of one model (base weights plus an optional LoRA adapter) on one benchmark.

Each benchmark ``prompt`` is the single user message, rendered through the evaluated MODEL's own
chat template with ``add_generation_prompt=True`` and no system prompt (TINA.md §2.1), then
tokenized without extra special tokens (the template already writes BOS). Each (problem, sample)
gets its own sampling seed derived from ``evaluation.seed``, so a sample's text does not depend on
batch composition, the resume point, the backend's scheduling or how jobs are spread over GPUs.

GPU (the paper's setup; ``evaluation.backend: vllm``)::

    pip install -e '.[gpu]'          # vllm==0.31.0 beside the pinned torch/transformers
    snakemake --cores 16 --resources gpu=2 results/tables/main.csv
    snakemake --cores 4 --resources gpu=1 results/eval/limr/step-180/aime24/score.json  # one

Each ``generate_samples`` job leases one GPU (:mod:`tina_repro.gpu_lease`) and starts one
``vllm.LLM`` on the base model in bf16 with ``enable_lora=True``; a checkpoint's adapter is served
by a ``LoRARequest`` pointing at ``results/train/{run}/checkpoint-N`` (no merged copy on disk;
``max_lora_rank`` is the adapter's rank rounded up to a rank vLLM supports). Data parallelism is
per job: Snakemake runs as many evaluation jobs at once as ``--resources gpu=N`` allows, each on
its own leased device (the paper ran lighteval with ``data_parallel_size=2``, one ``LLM`` per GPU).
Per-sample seeds make the result independent of that split. vLLM gets requests in chunks of
:data:`VLLM_CHUNK_REQUESTS` (one chunk for every paper benchmark at one sample per problem), so a
killed job loses at most the chunk in flight.

CPU (``backend: transformers``): fp32, the adapter loaded with ``PeftModel.from_pretrained`` and
merged into the weights in memory (the LoRA layers' extra matmuls would cost a third of the
generation time; nothing is written to disk), left-padded batches of ``batch_size`` generated with
``model.generate``. Sampling (temperature, top-p) happens in a logits processor that draws each
row's token from that row's own ``torch.Generator``, which is what makes a row independent of the
others in its batch.

Resuming: finished samples are appended to ``<out_path>.partial`` (first line: a fingerprint of
model, adapter, benchmark and sampling settings), flushed after every batch. A rerun keeps the
samples of a matching partial file, generates only the rest, and finally writes ``out_path``
atomically in benchmark order. The partial file is not a declared output, so Snakemake leaves it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tina_repro import gpu_lease
from tina_repro.data import sha256_file

logger = logging.getLogger(__name__)

FINISH_REASONS = ("stop", "length")
BENCHMARK_COLUMNS = ("id", "prompt", "answer")
# Ranks vLLM's LoRAConfig accepts for max_lora_rank (vllm/config/lora.py, MaxLoRARanks).
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
# Requests per vllm.LLM.generate call: larger keeps the GPU busier, smaller loses less on a kill.
VLLM_CHUNK_REQUESTS = 512
# Settings that change what a sample is; batch_size and grading_processes do not.
SAMPLING_KEYS = (
    "backend",
    "temperature",
    "top_p",
    "max_new_tokens",
    "samples_per_problem",
    "seed",
    "max_model_len",
)


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


def task_of(gold_format: str) -> str:
    """Grading task of a benchmark: letter golds are GPQA multiple choice, the rest math."""
    return "gpqa" if gold_format == "letter" else "math"


def render_prompt(tokenizer, prompt: str) -> str:
    """The benchmark prompt as the only user turn, through the model's chat template."""
    if not tokenizer.chat_template:
        raise ValueError("the model's tokenizer has no chat template; evaluation needs one")
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
    )


def build_requests(
    benchmark: pd.DataFrame, tokenizer, settings: dict, gold_format: str
) -> list[Request]:
    """All (problem, sample) requests in benchmark order, samples of a problem together.

    Generation is capped at ``max_model_len - prompt tokens`` (what vLLM can hold); a prompt that
    leaves no room raises ``ValueError``.
    """
    missing = [column for column in BENCHMARK_COLUMNS if column not in benchmark.columns]
    if missing:
        raise ValueError(f"benchmark has no column(s) {missing}; re-run prepare_benchmark")
    if benchmark["id"].duplicated().any():
        raise ValueError("benchmark ids are not unique; re-run prepare_benchmark")
    task = task_of(gold_format)
    requests = []
    for problem_id, prompt, gold in zip(
        benchmark["id"].tolist(), benchmark["prompt"], benchmark["answer"], strict=True
    ):
        text = render_prompt(tokenizer, prompt)
        prompt_ids = tuple(tokenizer(text, add_special_tokens=False)["input_ids"])
        room = settings["max_model_len"] - len(prompt_ids)
        if room < 1:
            raise ValueError(
                f"problem {problem_id}: its prompt has {len(prompt_ids)} tokens, no room left in "
                f"max_model_len={settings['max_model_len']}"
            )
        prompt_hash = hashlib.sha256(text.encode()).hexdigest()
        for sample_index in range(settings["samples_per_problem"]):
            requests.append(
                Request(
                    problem_id=int(problem_id),
                    sample_index=sample_index,
                    seed=sample_seed(settings["seed"], int(problem_id), sample_index),
                    prompt_hash=prompt_hash,
                    prompt_ids=prompt_ids,
                    max_tokens=min(settings["max_new_tokens"], room),
                    gold=str(gold),
                    task=task,
                    gold_format=gold_format,
                )
            )
    capped = sum(r.max_tokens < settings["max_new_tokens"] for r in requests)
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


# ---- backends ----------------------------------------------------------------------------------


def _seeded_sampler(seeds: Sequence[int], temperature: float, top_p: float):
    """A logits processor that samples each row with its own generator and leaves only the drawn
    token finite, so ``generate``'s greedy step picks it. Temperature 0 stays greedy."""
    import torch
    from transformers import LogitsProcessor

    class SeededSampler(LogitsProcessor):
        def __init__(self):
            self.generators = [torch.Generator().manual_seed(seed) for seed in seeds]

        def __call__(self, input_ids, scores):
            if temperature == 0:
                return scores
            logits = scores.float() / temperature
            if top_p < 1:
                # Keep the smallest top set whose mass reaches top_p (vLLM's and HF's rule).
                sorted_logits, order = logits.sort(dim=-1, descending=True)
                probs = sorted_logits.softmax(dim=-1)
                outside = probs.cumsum(dim=-1) - probs >= top_p
                sorted_logits = sorted_logits.masked_fill(outside, float("-inf"))
                logits = torch.empty_like(logits).scatter_(-1, order, sorted_logits)
            probs = logits.softmax(dim=-1)
            chosen = torch.full_like(scores, float("-inf"))
            for row, generator in enumerate(self.generators):
                token = torch.multinomial(probs[row], 1, generator=generator)
                chosen[row, token] = 0.0
            return chosen

    return SeededSampler()


class TransformersBackend:
    """CPU generation in fp32 with ``model.generate`` on left-padded batches."""

    def __init__(self, model_dir: str, adapter_dir: str | None, settings: dict):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.settings = settings
        self.chunk_size = settings["batch_size"]
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        if adapter_dir:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
        self.model = model.eval()
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_ids = set(eos) if isinstance(eos, list) else {eos}
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = min(self.eos_ids)

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        from transformers import GenerationConfig, LogitsProcessorList

        torch = self.torch
        width = max(len(r.prompt_ids) for r in requests)
        input_ids = torch.full((len(requests), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(requests), width), dtype=torch.long)
        for row, request in enumerate(requests):
            input_ids[row, width - len(request.prompt_ids) :] = torch.tensor(request.prompt_ids)
            attention_mask[row, width - len(request.prompt_ids) :] = 1
        config = GenerationConfig(
            do_sample=False,
            max_new_tokens=max(r.max_tokens for r in requests),
            pad_token_id=self.pad_id,
            eos_token_id=sorted(self.eos_ids),
        )
        sampler = _seeded_sampler(
            [r.seed for r in requests], self.settings["temperature"], self.settings["top_p"]
        )
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                generation_config=config,
                logits_processor=LogitsProcessorList([sampler]),
            )
        completions = []
        for request, generated in zip(requests, output[:, width:].tolist(), strict=True):
            # A row's tokens do not depend on its batch, so cutting at its own cap equals
            # stopping there.
            generated = generated[: request.max_tokens]
            end = next((i for i, t in enumerate(generated) if t in self.eos_ids), None)
            tokens = generated if end is None else generated[:end]
            completions.append(
                Completion(
                    text=self.tokenizer.decode(tokens, skip_special_tokens=True),
                    n_tokens=len(generated) if end is None else end + 1,
                    finish_reason="length" if end is None else "stop",
                )
            )
        return completions


def vllm_lora_rank(adapter_dir: str) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds the adapter's largest rank."""
    config = json.loads((Path(adapter_dir) / "adapter_config.json").read_text())
    rank = max([int(config["r"]), *map(int, (config.get("rank_pattern") or {}).values())])
    fitting = [allowed for allowed in VLLM_LORA_RANKS if allowed >= rank]
    if not fitting:
        raise ValueError(f"{adapter_dir}: LoRA rank {rank} is above vLLM's maximum")
    return fitting[0]


class VllmBackend:
    """GPU generation: one vLLM engine in bf16, the adapter served through a LoRARequest."""

    def __init__(self, model_dir: str, adapter_dir: str | None, settings: dict):
        try:
            import vllm
            from vllm.lora.request import LoRARequest
        except ImportError as err:
            raise RuntimeError(
                "evaluation.backend is 'vllm' but vllm is not installed: pip install -e '.[gpu]' "
                "on a GPU machine, or set evaluation.backend: transformers (CPU)"
            ) from err
        self.vllm = vllm
        self.settings = settings
        self.chunk_size = VLLM_CHUNK_REQUESTS
        engine_args = {
            "model": str(model_dir),
            "seed": settings["seed"],
            "gpu_memory_utilization": settings["vllm_gpu_memory_utilization"],
            "max_model_len": settings["max_model_len"],
            "dtype": "bfloat16",
        }
        self.lora_request = None
        if adapter_dir:
            engine_args |= {"enable_lora": True, "max_lora_rank": vllm_lora_rank(adapter_dir)}
            self.lora_request = LoRARequest("adapter", 1, str(Path(adapter_dir).resolve()))
        logger.info("starting vLLM: %s", engine_args)
        self.llm = vllm.LLM(**engine_args)

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        params = [
            self.vllm.SamplingParams(
                n=1,
                temperature=self.settings["temperature"],
                top_p=self.settings["top_p"],
                max_tokens=r.max_tokens,
                seed=r.seed,
            )
            for r in requests
        ]
        outputs = self.llm.generate(
            [{"prompt_token_ids": list(r.prompt_ids)} for r in requests],
            params,
            lora_request=self.lora_request,
            use_tqdm=False,
        )
        if len(outputs) != len(requests):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(requests)} prompts")
        completions = []
        for output in outputs:
            (sample,) = output.outputs
            completions.append(
                Completion(
                    text=sample.text,
                    n_tokens=len(sample.token_ids),
                    finish_reason=sample.finish_reason,
                )
            )
        return completions


BACKENDS = {"vllm": VllmBackend, "transformers": TransformersBackend}


# ---- resumable driver --------------------------------------------------------------------------


def fingerprint(
    benchmark_parquet, model_dir: str, adapter_dir: str | None, settings: dict, gold_format: str
) -> str:
    """Identity of a generation job: a partial file from another identity is not resumed."""
    identity = {
        "benchmark_sha256": sha256_file(benchmark_parquet),
        "model_dir": str(model_dir),
        "adapter_dir": str(adapter_dir) if adapter_dir else None,
        "gold_format": gold_format,
        **{key: settings[key] for key in SAMPLING_KEYS},
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _read_partial(path: Path, expected_fingerprint: str, wanted: set) -> dict:
    """Finished rows of a matching partial file, keyed by (problem_id, sample_index). The file is
    rewritten with just those rows, which drops a line cut short by a kill."""
    if not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        header = json.loads(lines[0]) if lines else {}
    except json.JSONDecodeError:
        header = {}
    if header.get("fingerprint") != expected_fingerprint:
        logger.warning("%s is from other settings, model or benchmark; starting over", path)
        return {}
    done, unusable = {}, 0
    for line in lines[1:]:
        try:
            row = json.loads(line)
            key = (row["problem_id"], row["sample_index"])
        except (json.JSONDecodeError, KeyError, TypeError):
            unusable += 1
            continue
        if key in wanted:
            done[key] = row
        else:
            unusable += 1
    if unusable:
        logger.warning("%s: %d unusable line(s) dropped (cut short by a kill?)", path, unusable)
    _write_jsonl(path, [header, *done.values()])
    logger.info("resuming: %d samples already generated in %s", len(done), path)
    return done


def _write_jsonl(path: Path, rows) -> None:
    """Write rows to ``path`` through a temporary file and an atomic rename."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _append_rows(path: Path, rows: list[dict]) -> None:
    with path.open("a", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())


def generate_benchmark(
    benchmark_parquet,
    model_dir,
    adapter_dir,
    settings: dict,
    out_path,
    *,
    gold_format: str,
) -> Path:
    """Write ``out_path`` (JSONL): one row per (problem, sample) with ``problem_id``,
    ``sample_index``, ``seed``, ``prompt_hash``, ``completion``, ``n_tokens``, ``finish_reason``,
    ``gold``, ``task``, ``gold_format``. ``settings`` is the config's ``evaluation`` block;
    ``gold_format`` (expr, latex or letter) is the benchmark's, from benchmarks.tsv."""
    from transformers import AutoTokenizer

    backend_name = settings["backend"]
    if backend_name not in BACKENDS:
        raise ValueError(f"unknown evaluation backend {backend_name!r}; expected {list(BACKENDS)}")
    if adapter_dir and not (Path(adapter_dir) / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{adapter_dir} is not a PEFT adapter: no adapter_config.json")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".partial")

    benchmark = pd.read_parquet(benchmark_parquet)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    requests = build_requests(benchmark, tokenizer, settings, gold_format)
    identity = fingerprint(benchmark_parquet, model_dir, adapter_dir, settings, gold_format)
    done = _read_partial(partial, identity, {r.key for r in requests})
    if not done:
        _write_jsonl(partial, [{"fingerprint": identity}])
    todo = [r for r in requests if r.key not in done]
    logger.info(
        "%s on %s (adapter %s): %d samples (%d problems x %d), %d to generate with %s",
        benchmark_parquet,
        model_dir,
        adapter_dir,
        len(requests),
        len(benchmark),
        settings["samples_per_problem"],
        len(todo),
        backend_name,
    )
    if todo:
        with gpu_lease.lease(1 if backend_name == "vllm" else 0):
            backend = BACKENDS[backend_name](model_dir, adapter_dir, settings)
            started, generated = time.perf_counter(), 0
            for start in range(0, len(todo), backend.chunk_size):
                batch = todo[start : start + backend.chunk_size]
                rows = [
                    sample_row(request, completion)
                    for request, completion in zip(batch, backend.generate(batch), strict=True)
                ]
                _append_rows(partial, rows)
                done.update(((row["problem_id"], row["sample_index"]), row) for row in rows)
                generated += sum(row["n_tokens"] for row in rows)
                logger.info(
                    "%d/%d samples, %.1f generated tokens/s",
                    len(done),
                    len(requests),
                    generated / (time.perf_counter() - started),
                )
    _write_jsonl(out_path, (done[r.key] for r in requests))
    partial.unlink()
    return out_path
