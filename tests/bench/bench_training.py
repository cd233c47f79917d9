"""Overhead of ``tina_repro.train.trainer.train`` over a bare TRL GRPOTrainer script.

Both sides train the offline tiny model on the same 64 synthetic problems with identical
GRPOConfig/LoraConfig values (taken from ``grpo_settings``), the same seed and the same
checkpointing, so they do the same arithmetic; the difference is our bookkeeping (input checks,
prompt preparation and truncation, resolved config, per-step session file, NaN guard, CSV log,
manifest). Runs alternate to share machine noise; prints steps/s (wall time of the whole call,
model loading included, imports excluded) and the overhead ratio in wall and in process CPU
time, on the median and on the fastest run of each (the least disturbed by other load).
Target: <= 5%.

    python tests/bench/bench_training.py [--steps 30] [--repeats 3] [--size test]
"""

import argparse
import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for helpers
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from helpers import tiny_context, tiny_job, tiny_row  # noqa: E402
from peft import LoraConfig  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

from tina_repro import rewards  # noqa: E402
from tina_repro.demo.tiny_model import build_tiny_model  # noqa: E402
from tina_repro.train.geometry import lora_settings  # noqa: E402
from tina_repro.train.mapping import grpo_settings  # noqa: E402
from tina_repro.train.trainer import train  # noqa: E402


def bench_row(steps: int):
    return tiny_row(
        name="bench",
        lora_r=32,
        lora_alpha=128,
        max_completion_length=32,
        max_steps=steps,
        stop_step=steps,
        save_steps=max(1, steps // 2),
    )


def run_bare(row, parquet: Path, model_dir: Path, out: Path) -> None:
    """What a hand-written TRL script does with the same settings."""
    table = pd.read_parquet(parquet)
    system = tiny_context().system_prompt
    prompts = [
        [{"role": "system", "content": system}, {"role": "user", "content": p}]
        for p in table["problem"]
    ]
    dataset = Dataset.from_dict({"prompt": prompts, "solution": table["solution"].tolist()})
    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    kwargs, _ = grpo_settings(row, "float32", 0, "cpu", n_prompts=len(table))
    trainer = GRPOTrainer(
        model=str(model_dir),
        reward_funcs=[rewards.build("format"), rewards.build("length", group_size=4)],
        args=GRPOConfig(output_dir=str(out), disable_tqdm=True, **kwargs),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=LoraConfig(**lora_settings(row)),
    )
    trainer.train()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", default="test", choices=["test", "demo"])
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 = least sensitive to other load)"
    )
    options = parser.parse_args()
    torch.set_num_threads(options.threads)

    work = Path(tempfile.mkdtemp(prefix="bench_training_"))
    model_dir = build_tiny_model(work / "model", seed=0, size=options.size)
    rows = [
        {"problem": f"What is ${a}+{b}$?", "solution": f"${a + b}$", "row_id": i}
        for i, (a, b) in enumerate((10 + i % 50, 11 + (3 * i) % 19) for i in range(64))
    ]
    parquet = work / "rows.parquet"
    pd.DataFrame(rows).to_parquet(parquet)
    row = bench_row(options.steps)

    runners = {
        "bare TRL": lambda out: run_bare(row, parquet, model_dir, out),
        "tina_repro.train": lambda out: train(tiny_job(row, parquet, model_dir, out)),
    }
    with contextlib.redirect_stdout(io.StringIO()):  # first-call costs (lazy imports) off the clock
        runners["bare TRL"](work / "warmup")
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    cpu_seconds: dict[str, list[float]] = {name: [] for name in runners}
    for repeat in range(options.repeats):
        for name, run in runners.items():
            out = work / f"{name.split()[0]}-{repeat}"
            start, cpu_start = time.perf_counter(), time.process_time()
            with contextlib.redirect_stdout(io.StringIO()):  # the Trainer prints every log
                run(out)
            seconds[name].append(time.perf_counter() - start)
            cpu_seconds[name].append(time.process_time() - cpu_start)
            shutil.rmtree(out)

    print(
        f"tiny model '{options.size}', {options.steps} steps, {options.repeats} repeats, "
        f"8 completions x <= {row.max_completion_length} tokens per step"
    )
    for name, values in seconds.items():
        rates = ", ".join(f"{options.steps / s:.2f}" for s in values)
        print(
            f"{name:>17}: median {options.steps / statistics.median(values):.2f} steps/s "
            f"(runs: {rates}; median wall {statistics.median(values):.2f} s)"
        )
    for label, table in (("wall", seconds), ("CPU", cpu_seconds)):
        ours, bare = table["tina_repro.train"], table["bare TRL"]
        median = statistics.median(ours) / statistics.median(bare)
        best = min(ours) / min(bare)
        print(
            f"{label} overhead: {100 * (median - 1):+.1f}% (median), "
            f"{100 * (best - 1):+.1f}% (best runs); target <= +5%"
        )
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
