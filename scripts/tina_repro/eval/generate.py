"""Completions of one model (base weights plus an optional LoRA adapter) on one benchmark.

GPU (the paper's setup; ``evaluation.backend: vllm``)::

    pip install -e '.[gpu]'          # vllm==0.31.0 beside the pinned torch/transformers
    snakemake --cores 16 --resources gpu=2 results/tables/main.csv
    snakemake --cores 4 --resources gpu=1 results/eval/limr/step-180/aime24/score.json  # one

Each ``generate_samples`` job leases one GPU (:mod:`tina_repro.gpu_lease`) and starts one engine
(:mod:`tina_repro.eval.backends`). Data parallelism is per job: Snakemake runs as many evaluation
jobs at once as ``--resources gpu=N`` allows, each on its own leased device (the paper ran
lighteval with ``data_parallel_size=2``, one ``LLM`` per GPU). Per-sample seeds
(:mod:`tina_repro.eval.requests`) make the result independent of that split.

Resuming: finished samples are appended to ``<out_path>.partial`` (first line: a fingerprint of
model, adapter, benchmark and sampling settings), flushed after every batch. A rerun keeps the
samples of a matching partial file, generates only the rest, and finally writes ``out_path``
atomically in benchmark order. The partial file is not a declared output, so Snakemake leaves it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import pandas as pd

from tina_repro import gpu_lease, paths
from tina_repro.eval.backends import BACKENDS, generation_gpus
from tina_repro.eval.requests import SAMPLING_KEYS, build_requests, sample_row
from tina_repro.files import append_jsonl, sha256_file, write_jsonl

logger = logging.getLogger(__name__)


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
    write_jsonl(path, [header, *done.values()])
    logger.info("resuming: %d samples already generated in %s", len(done), path)
    return done


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
    partial = out_path.with_name(out_path.name + paths.PARTIAL_SUFFIX)

    benchmark = pd.read_parquet(benchmark_parquet)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    requests = build_requests(benchmark, tokenizer, settings, gold_format)
    identity = fingerprint(benchmark_parquet, model_dir, adapter_dir, settings, gold_format)
    done = _read_partial(partial, identity, {r.key for r in requests})
    if not done:
        write_jsonl(partial, [{"fingerprint": identity}])
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
        with gpu_lease.lease(generation_gpus(settings)):
            backend = BACKENDS[backend_name](model_dir, adapter_dir, settings)
            started, generated = time.perf_counter(), 0
            for start in range(0, len(todo), backend.chunk_size):
                batch = todo[start : start + backend.chunk_size]
                rows = [
                    sample_row(request, completion)
                    for request, completion in zip(batch, backend.generate(batch), strict=True)
                ]
                append_jsonl(partial, rows)
                done.update(((row["problem_id"], row["sample_index"]), row) for row in rows)
                generated += sum(row["n_tokens"] for row in rows)
                logger.info(
                    "%d/%d samples, %.1f generated tokens/s",
                    len(done),
                    len(requests),
                    generated / (time.perf_counter() - started),
                )
    write_jsonl(out_path, (done[r.key] for r in requests))
    partial.unlink()
    return out_path
