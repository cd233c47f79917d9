"""Completions of one model (base weights plus an optional LoRA adapter) on every benchmark, from
one backend start.

GPU (the paper's setup; ``evaluation.backend: vllm``)::

    pip install -e '.[gpu]'          # vllm==0.31.0 beside the pinned torch/transformers
    snakemake --cores 16 --resources gpu=2 results/tables/main.csv
    snakemake --cores 4 --resources gpu=1 results/eval/limr/step-180/aime24/score.json  # one

Each ``generate_samples`` job evaluates one model (a checkpoint or a baseline): it leases one GPU
(:mod:`tina_repro.gpu_lease`), starts one engine (:mod:`tina_repro.eval.backends`) and sends the
requests of all benchmarks through it together, as the paper's harness ran all six tasks through
one engine per checkpoint. Data parallelism is per job: Snakemake runs as many models at once as
``--resources gpu=N`` allows (the paper ran lighteval with ``data_parallel_size=2``, one ``LLM``
per GPU). Per-sample seeds (:mod:`tina_repro.eval.requests`) make a sample independent of that
split and of which other benchmarks share its batch.

Outputs stay per benchmark, through content-addressed store files (:mod:`tina_repro.eval.store`):
a benchmark whose store file of the current identity exists is only linked again, so adding a
benchmark generates just that one. Resuming: finished samples are appended to the store's
``.partial`` file (first line: the identity), flushed after every batch; a rerun keeps them and
generates only the rest; only complete rows that pass the sample schema count as finished
(:func:`tina_repro.eval.requests.sample_row_problem`), so a finished store file never holds a
torn, undecodable or partial row. Each unfinished store is locked (:mod:`tina_repro.locks`) for
the job's lifetime: a second writer of the same samples stops at once, naming the first.

The job writes :data:`tina_repro.paths.GENERATION_RECORD`: the device, engine start and generation
seconds, generated tokens and samples, tokens/s (what ``tina-repro plan`` extrapolates from), the
prompt-token mode with the special tokens it put around each prompt and the BOS tokens a prompt
starts with, and for a checkpoint the share of its LoRA update that survives a bf16 merge.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tina_repro import gpu_lease, locks
from tina_repro.config import EvaluationSettings
from tina_repro.eval import store
from tina_repro.eval.backends import BACKENDS, generation_gpus
from tina_repro.eval.requests import (
    Request,
    build_requests,
    prompt_affixes,
    render_prompt,
    sample_row,
    sample_row_problem,
)
from tina_repro.files import append_jsonl, write_json, write_jsonl
from tina_repro.special_tokens import leading_count

logger = logging.getLogger(__name__)

CPU_DEVICE = "cpu"  # as the cost table names a CPU device


@dataclass(frozen=True)
class BenchmarkTask:
    """One benchmark of the evaluated model: its prepared file and its ``samples.jsonl`` link."""

    name: str
    parquet: Path
    gold_format: str
    samples: Path


@dataclass
class _Pending:
    """A benchmark whose samples are (partly) still to generate."""

    task: BenchmarkTask
    store: Path
    requests: list[Request]
    done: dict = field(default_factory=dict)

    @property
    def partial(self) -> Path:
        return store.partial_path(self.store)

    def finish(self) -> None:
        write_jsonl(self.store, (self.done[r.key] for r in self.requests))
        self.partial.unlink()
        store.link(self.task.samples, self.store)


def _parse_line(line: bytes) -> tuple[object, str | None]:
    """A partial file's line as JSON, or why it is none."""
    try:
        return json.loads(line.decode("utf-8")), None
    except UnicodeDecodeError:
        return None, "undecodable bytes (not UTF-8)"
    except json.JSONDecodeError:
        return None, "not JSON (cut short by a kill?)"


def _read_partial(path: Path, identity: str, requests: dict) -> tuple[dict, int]:
    """Finished rows of a matching partial file, keyed by (problem_id, sample_index), and how
    many lines were dropped. Only complete rows that pass the sample schema for one of
    ``requests`` ({key: Request}) count as finished; a line cut short by a kill, undecodable
    bytes and rows that fail the schema are dropped and counted (a warning names each reason).
    The file is rewritten with just the rows kept."""
    if not path.exists():
        return {}, 0
    lines = [line for line in path.read_bytes().split(b"\n") if line.strip()]
    header = _parse_line(lines[0])[0] if lines else None
    if not isinstance(header, dict) or header.get("identity") != identity:
        logger.warning("%s is not of identity %s; starting over", path, identity)
        return {}, 0
    done, dropped = {}, Counter()
    for line in lines[1:]:
        row, problem = _parse_line(line)
        key = None
        if problem is None:
            key, problem = _finished_key(row, requests)
        if problem is None:
            done[key] = row
        else:
            dropped[problem] += 1
    for problem, count in sorted(dropped.items()):
        logger.warning("%s: %d line(s) dropped: %s", path, count, problem)
    write_jsonl(path, [header, *done.values()])
    logger.info("resuming: %d samples already generated in %s", len(done), path)
    return done, sum(dropped.values())


def _finished_key(row: object, requests: dict) -> tuple[tuple | None, str | None]:
    """(key, None) when ``row`` is a finished sample of one of ``requests``, else (None, why)."""
    if not isinstance(row, dict):
        return None, "not a JSON object"
    key = (row.get("problem_id"), row.get("sample_index"))
    try:
        request = requests.get(key)
    except TypeError:  # an id that is a list or an object
        request = None
    if request is None:
        return None, "not a sample this job asks for"
    detail = sample_row_problem(row, request)
    return (None, f"fails the sample schema ({detail})") if detail else (key, None)


def _device_name(backend_name: str) -> str:
    """The CUDA device a vLLM engine runs on (the leased one), else CPU."""
    import torch

    if backend_name == "vllm" and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.cuda.current_device())
    return CPU_DEVICE


def _generate(
    pending: list[_Pending], model_dir, adapter_dir, settings: EvaluationSettings
) -> dict:
    """Generate every missing sample of ``pending`` through one backend; returns the timings."""
    todo = [(p, r) for p in pending for r in p.requests if r.key not in p.done]
    # Similar prompt lengths share a batch (less left padding for the transformers backend); a
    # sample does not depend on its batch, so the order changes no output.
    todo.sort(key=lambda item: len(item[1].prompt_ids))
    timing = {
        "device": None,
        "engine_start_seconds": 0.0,
        "generation_seconds": 0.0,
        "generated_tokens": 0,
        "samples": len(todo),
    }
    if not todo:
        return timing
    backend_name = settings.backend
    with gpu_lease.lease(generation_gpus(settings)):
        timing["device"] = _device_name(backend_name)
        started = time.perf_counter()
        backend = BACKENDS[backend_name](model_dir, adapter_dir, settings)
        timing["engine_start_seconds"] = time.perf_counter() - started
        started, generated = time.perf_counter(), 0
        for start in range(0, len(todo), backend.chunk_size):
            batch = todo[start : start + backend.chunk_size]
            completions = backend.generate([request for _, request in batch])
            by_owner: dict[int, tuple[_Pending, list[dict]]] = {}
            for (owner, request), completion in zip(batch, completions, strict=True):
                row = sample_row(request, completion)
                by_owner.setdefault(id(owner), (owner, []))[1].append(row)
            for owner, new in by_owner.values():
                append_jsonl(owner.partial, new)
                owner.done.update(((row["problem_id"], row["sample_index"]), row) for row in new)
                generated += sum(row["n_tokens"] for row in new)
            logger.info(
                "%d/%d samples, %.1f generated tokens/s",
                start + len(batch),
                len(todo),
                generated / (time.perf_counter() - started),
            )
        timing["generation_seconds"] = time.perf_counter() - started
        timing["generated_tokens"] = generated
    return timing


def _merge_retention_bf16(model_dir, adapter_dir) -> dict:
    """How much of the adapter's update survives a bf16 merge: overall and per layer type."""
    from tina_repro.eval.merge import merge_retention

    measured = merge_retention(model_dir, adapter_dir, "bfloat16")
    return {
        "overall": measured["overall"]["retention"],
        "by_layer_type": {t: s["retention"] for t, s in measured["by_layer_type"].items()},
    }


def generate_model(
    model_dir,
    adapter_dir,
    tasks: list[BenchmarkTask],
    settings: EvaluationSettings,
    record_path=None,
) -> dict:
    """Write each task's ``samples`` (JSONL, through its store file): one row per (problem,
    sample) with ``problem_id``, ``sample_index``, ``seed``, ``prompt_hash``, ``completion``,
    ``n_tokens``, ``finish_reason``, ``gold``, ``task``, ``gold_format``. ``settings`` are the
    evaluated model's (:meth:`tina_repro.config.WorkflowConfig.evaluation_settings`). Returns
    the generation record (also written to ``record_path`` when given)."""
    from transformers import AutoTokenizer

    if adapter_dir and not (Path(adapter_dir) / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{adapter_dir} is not a PEFT adapter: no adapter_config.json")
    sampling = settings.sampling_identity(has_adapter=bool(adapter_dir))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    affixes = prompt_affixes(tokenizer, model_dir, settings.prompt_tokens)
    reused, pending, dropped = [], [], 0
    with ExitStack() as held:
        for task in tasks:
            task.samples.parent.mkdir(parents=True, exist_ok=True)
            identity = store.samples_identity(
                task.parquet, model_dir, adapter_dir, sampling, task.gold_format
            )
            target = store.store_path(task.samples, identity)
            if not target.is_file():
                held.enter_context(locks.exclusive(store.lock_path(target), f"samples {target}"))
            if target.is_file():  # finished before, or by a writer that just let go
                store.link(task.samples, target)
                reused.append(task.name)
                continue
            requests = build_requests(
                pd.read_parquet(task.parquet), tokenizer, settings, task.gold_format, affixes
            )
            entry = _Pending(task, target, requests)
            entry.done, lines = _read_partial(entry.partial, identity, {r.key: r for r in requests})
            dropped += lines
            if not entry.done:
                write_jsonl(entry.partial, [{"identity": identity}])
            pending.append(entry)
        logger.info(
            "%s (adapter %s): %s reused, %s to generate with %s",
            model_dir,
            adapter_dir,
            reused or "none",
            [p.task.name for p in pending] or "none",
            settings.backend,
        )
        timing = _generate(pending, model_dir, adapter_dir, settings)
        for entry in pending:
            entry.finish()
    seconds = timing["generation_seconds"]
    # Counted on a one-word prompt through the model's template: its BOS plus any the mode adds.
    probe = affixes.around(
        tokenizer(render_prompt(tokenizer, "x"), add_special_tokens=False)["input_ids"]
    )
    record = {
        **timing,
        "tokens_per_second": timing["generated_tokens"] / seconds if seconds else None,
        "benchmarks": [task.name for task in tasks],
        "generated_benchmarks": [p.task.name for p in pending],
        # lines of interrupted generations' partial files that were not finished samples
        "partial_lines_dropped": dropped,
        "backend": settings.backend,
        "adapter_mode": settings.adapter_mode if adapter_dir else None,
        "prompt_tokens": settings.prompt_tokens,
        "prompt_special_tokens": {"prefix": list(affixes.prefix), "suffix": list(affixes.suffix)},
        "prompt_leading_bos_tokens": leading_count(probe, tokenizer.bos_token_id),
        "merge_retention_bf16": (
            _merge_retention_bf16(model_dir, adapter_dir) if adapter_dir else None
        ),
    }
    if record_path is not None:
        write_json(record_path, record)
    return record


def generate_benchmark(
    benchmark_parquet,
    model_dir,
    adapter_dir,
    settings: EvaluationSettings,
    out_path,
    *,
    gold_format: str,
) -> Path:
    """:func:`generate_model` on one benchmark, written to ``out_path`` (``tina-repro
    generate``)."""
    out_path = Path(out_path)
    task = BenchmarkTask(out_path.parent.name, Path(benchmark_parquet), gold_format, out_path)
    generate_model(model_dir, adapter_dir, [task], settings)
    return out_path
