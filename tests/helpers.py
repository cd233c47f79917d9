"""What many tests share: the repository's paths, a tiny CPU experiment row and its context, a
tiny training table, the paper configuration, and one way to run the real Snakemake workflow."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tina_repro.config import Experiment, WorkflowConfig, load_files
from tina_repro.config.rows import split_list
from tina_repro.train.context import TrainingContext, TrainingJob

ROOT = Path(__file__).resolve().parents[1]
SEVEN = "q_proj,k_proj,v_proj,o_proj,down_proj,up_proj,gate_proj"
# Short: the paper's system prompts take 200 tiny-model tokens, which would triple every CPU step.
SHORT_SYSTEM_PROMPT = "Think in <think> tags, then answer."


def tiny_row(**overrides) -> Experiment:
    """A CPU experiment row for the tiny model; ``length`` gives non-zero advantages even for a
    random model (it scores character lengths), so the adapter actually moves."""
    row = Experiment(
        name="tiny",
        paper_name=None,
        tables=("main",),
        dataset="synthetic",
        rewards="format:1,length:1",
        cosine_max_len=1000,
        learning_rate=1e-3,
        lr_scheduler="cosine_with_min_lr",
        min_lr_rate=0.1,
        warmup_ratio=0.1,
        lora_r=8,
        lora_alpha=32,
        lora_dropout=0.05,
        lora_target_modules=split_list(SEVEN),
        num_generations=4,
        prompts_per_step=2,
        max_prompt_length=512,
        max_completion_length=12,
        temperature=0.7,
        top_p=1.0,
        beta=0.04,
        loss_type="grpo",
        scale_rewards="group",
        max_steps=20,
        stop_step=10,
        save_steps=5,
        seed=42,
        gpus=0,
        use_vllm=False,
        vllm_gpu_memory_utilization=0.4,
        vllm_max_model_len=None,
        comment=None,
    )
    if "lora_target_modules" in overrides and isinstance(overrides["lora_target_modules"], str):
        overrides["lora_target_modules"] = split_list(overrides["lora_target_modules"])
    return dataclasses.replace(row, **overrides)


def tiny_context(**overrides) -> TrainingContext:
    """The tiny model keeps its own R1-style template and pad token; a short system prompt."""
    context = TrainingContext(
        base_model="local:tiny",
        base_revision="main",
        dtype="bfloat16",
        pad_token="<|fim_pad|>",  # not in the tiny vocabulary: the model's own pad is kept
        system_prompt=SHORT_SYSTEM_PROMPT,
        chat_template="",
        rollout_prompt_tokens="vllm_text",
    )
    return dataclasses.replace(context, **overrides)


def tiny_job(row: Experiment, parquet, model_dir, out_dir, **overrides) -> TrainingJob:
    return TrainingJob(
        row=row,
        context=overrides.pop("context", tiny_context()),
        dataset_parquet=Path(parquet),
        base_model_dir=Path(model_dir),
        out_dir=Path(out_dir),
        **overrides,
    )


def write_rows(path: Path, n: int = 8) -> Path:
    """A normalized training table of ``n`` arithmetic problems with boxed-able gold answers."""
    rows = [
        {"problem": f"What is ${a}+{b}$?", "solution": f"${a + b}$", "row_id": i}
        for i, (a, b) in enumerate((10 + 7 * i % 50, 11 + 3 * i % 19) for i in range(n))
    ]
    pd.DataFrame(rows).to_parquet(path)
    return path


def with_r1_tokenizer_flags(model_dir: Path, out: Path) -> Path:
    """A copy of a tiny model whose tokenizer config has DeepSeek-R1-Distill-Qwen's class and
    ``add_bos_token``: the special tokens of lighteval's and vLLM 0.7.2's tokenizer call are
    then one more BOS (tina_repro.special_tokens)."""
    shutil.copytree(model_dir, out)
    config_path = out / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config |= {"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": True}
    config_path.write_text(json.dumps(config))
    return out


def write_sheet(path: Path, rows: list[dict]) -> str:
    """A tab-separated sheet of ``rows`` (their keys are the header); returns its path."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def paper_row(sheet: str, name: str) -> dict:
    """The row ``name`` of the paper's ``config/{sheet}``, as the sheet's text cells."""
    with (ROOT / "config" / sheet).open(newline="") as handle:
        return next(r for r in csv.DictReader(handle, delimiter="\t") if r["name"] == name)


def paper_config() -> WorkflowConfig:
    """The paper configuration, validated (sheets read from the repository)."""
    return load_files(root=ROOT)


def demo_config() -> WorkflowConfig:
    return load_files(ROOT / "config/demo/config.yaml", root=ROOT)


def snakemake(workdir: Path, *args: str, timeout: int = 1800, env: dict | None = None, **run):
    """Run the real workflow (this checkout's Snakefile) in ``workdir``; returns the process.
    ``run`` goes to ``subprocess.run`` (e.g. ``preexec_fn``).

    The package is imported from this checkout in every job, whatever is installed."""
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "scripts"), environment.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--directory", str(workdir)]
        + ["--snakefile", str(ROOT / "Snakefile"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        **run,
    )


def planned_jobs(output: str) -> dict[str, int]:
    """{rule: planned jobs} from the job-count table Snakemake prints."""
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^([a-z_]+)\s+(\d+)$", output, flags=re.MULTILINE)
    }


def dry_run(workdir: Path, *args: str) -> tuple[int, dict[str, int], str]:
    """``snakemake -n`` in ``workdir``; returns (exit code, {rule: planned jobs}, output)."""
    proc = snakemake(workdir, *args, "-n", "--quiet", "rules", timeout=300)
    output = proc.stdout + proc.stderr
    return proc.returncode, planned_jobs(output), output


def set_cell(name, column, value):
    """A sheet edit (``header, rows`` -> None) setting ``column`` of the row named ``name``."""

    def edit(header, rows):
        for row in rows:
            if row[0] == name:
                row[header.index(column)] = value

    return edit
