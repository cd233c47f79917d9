"""What the tests and the check scripts under tests/ share: the repository's root, one way to edit
a sheet, a tiny CPU experiment row and its context, a tiny training table, the paper
configuration, and one way to run the real Snakemake workflow and read what it plans.

Only this module (and the support modules beside it) is imported by other modules under tests/:
a test module or a check script never imports another one, but a test may import the check
script it tests (tests/test_suite.py checks it).

It imports only the standard library at module level, so that scripts running in other
environments (lighteval's, in tests/lighteval_diff) can import it; importing it puts this
checkout's scripts/ first on ``sys.path``, so a check script run as ``python tests/check_x.py``
imports this checkout's package."""

from __future__ import annotations

import base64
import csv
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tina_repro.config import Experiment, WorkflowConfig
    from tina_repro.train.context import TrainingContext, TrainingJob

ROOT = Path(__file__).resolve().parents[1]
#: local copies of Hub sources, one in each schema the data stage reads
HUB = ROOT / "tests" / "fixtures" / "hub"
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

SEVEN = "q_proj,k_proj,v_proj,o_proj,down_proj,up_proj,gate_proj"
# Short: the paper's system prompts take 200 tiny-model tokens, which would triple every CPU step.
SHORT_SYSTEM_PROMPT = "Think in <think> tags, then answer."


def tiny_row(**overrides) -> Experiment:
    """A CPU experiment row for the tiny model; ``length`` gives non-zero advantages even for a
    random model (it scores character lengths), so the adapter actually moves."""
    from tina_repro.config import Experiment
    from tina_repro.config.rows import split_list

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
    from tina_repro.train.context import TrainingContext

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
    from tina_repro.train.context import TrainingJob

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
    import pandas as pd

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


def hub_cache_with_model(cache: Path, repo_id: str, commit: str, config_text: str) -> Path:
    """A Hugging Face cache folder holding one model snapshot, ``main`` pointing at ``commit``,
    its one file config.json; returns ``cache`` (point ``HF_HUB_CACHE`` at it)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text(config_text)
    return cache


# ---- sheets -------------------------------------------------------------------------------------
#: An edit of a sheet's text cells, in place: ``edit(header, rows)``.
SheetEdit = Callable[[list[str], list[list[str]]], None]


def edit_sheet(source: Path, *edits: SheetEdit, out: Path | None = None) -> str:
    """Apply ``edits``, in order, to the cells of the tab-separated sheet ``source`` and write it
    to ``out`` (default: ``source`` itself); returns the written path (a config value)."""
    with Path(source).open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle, delimiter="\t"))
    for edit in edits:
        edit(header, rows)
    out = Path(out or source)
    with out.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter="\t", lineterminator="\n").writerows([header, *rows])
    return str(out)


def set_cell(name: str, column: str, value: str) -> SheetEdit:
    """The edit setting ``column`` of the row named ``name`` to ``value``."""

    def edit(header, rows):
        for row in rows:
            if row[0] == name:
                row[header.index(column)] = value

    return edit


def keep_rows(*names: str) -> SheetEdit:
    """The edit keeping only the rows named ``names``."""

    def edit(header, rows):
        rows[:] = [row for row in rows if row[0] in names]

    return edit


def edit_first_comment(header: list[str], rows: list[list[str]]) -> None:
    """The edit appending " (edited)" to the comment of the sheet's first row."""
    column = header.index("comment")
    rows[0][column] = f"{rows[0][column]} (edited)".strip()


def config_on_local_sources(config_dir: Path, workdir: Path) -> None:
    """A copy of ``config_dir`` in ``workdir``/config whose limr and still3 datasets (the second
    malformed) and aime24 and gpqa_diamond benchmarks (5 rows) read the local HUB fixtures."""
    shutil.copytree(config_dir, workdir / "config")
    datasets = {"limr": HUB / "limr.json", "still3": HUB / "still3_malformed.jsonl"}
    benchmarks = {"aime24": HUB / "aime24.jsonl", "gpqa_diamond": HUB / "gpqa_diamond.csv"}
    sizes = {"aime24": len((HUB / "aime24.jsonl").read_text().splitlines()), "gpqa_diamond": 5}
    edit_sheet(
        workdir / "config" / "datasets.tsv",
        *(set_cell(name, "source", f"local:{path}") for name, path in datasets.items()),
    )
    edit_sheet(
        workdir / "config" / "benchmarks.tsv",
        *(set_cell(name, "source", f"local:{path}") for name, path in benchmarks.items()),
        *(set_cell(name, "expected_size", str(n)) for name, n in sizes.items()),
    )


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


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


# ---- configurations and the workflow -----------------------------------------------------------
def paper_config() -> WorkflowConfig:
    """The paper configuration, validated (sheets read from the repository)."""
    from tina_repro.config import load_files

    return load_files(root=ROOT)


def demo_config() -> WorkflowConfig:
    from tina_repro.config import load_files

    return load_files(ROOT / "config/demo/config.yaml", root=ROOT)


#: Set by conftest.py, while it runs, to the id of a test that is not marked slow.
FAST_LANE_TEST = "TINA_FAST_LANE_TEST"


def snakemake(
    workdir: Path, *args: str, timeout: int | None = 1800, env: dict | None = None, **run
):
    """Run the real workflow (this checkout's Snakefile) in ``workdir``; returns the process.
    ``run`` goes to ``subprocess.run`` (e.g. ``preexec_fn``).

    The package is imported from this checkout in every job, whatever is installed. A test of the
    fast lane may not run it (conftest.py names the running test that is not marked slow)."""
    if fast_test := os.environ.get(FAST_LANE_TEST):
        raise RuntimeError(f"{fast_test} runs Snakemake: mark it @pytest.mark.slow")
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


_JOB = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")


def parse_plan(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a ``snakemake -n`` output plans."""
    jobs: list[tuple[str, dict[str, str]]] = []
    for line in output.splitlines():
        if match := _JOB.match(line):
            jobs.append((match.group(1), {}))
        elif jobs and line.startswith("    wildcards: "):
            pairs = line.removeprefix("    wildcards: ").split(", ")
            jobs[-1][1].update(pair.split("=", 1) for pair in pairs)
    return jobs


def plan(workdir: Path, *args: str) -> list[tuple[str, dict[str, str]]]:
    """The jobs ``snakemake -n ARGS`` plans in ``workdir``; raises if the dry-run fails."""
    proc = snakemake(workdir, "-n", *args)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake -n {' '.join(args)} failed:\n{output}")
    return parse_plan(output)


def plan_with(workdir: Path, configfiles: list[str], overlay: dict, *args: str):
    """The plan with ``overlay`` merged over ``configfiles`` (paths relative to ``workdir``)."""
    import yaml

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(overlay, handle)
    try:
        return plan(workdir, *args, "--configfile", *configfiles, handle.name)
    finally:
        os.unlink(handle.name)


#: The folders holding a finished workflow's state: config, inputs, outputs, Snakemake's records.
FINISHED_STATE = ("config", "resources", "results", "benchmarks", ".snakemake/metadata")


def copy_finished(source: Path, workdir: Path) -> None:
    """A copy of a finished workflow's FINISHED_STATE folders in ``workdir`` (links and mtimes
    kept)."""
    for name in FINISHED_STATE:
        if (source / name).is_dir():
            shutil.copytree(source / name, workdir / name, symlinks=True)


def report_files(page: str) -> dict[str, bytes]:
    """Every result a Snakemake report embeds (a data URI each): file name -> content."""
    found = re.findall(r'"data:[^;"]+;charset=utf8;filename=([^;"]+);base64,([\w+/=]+)"', page)
    return {name: base64.b64decode(data) for name, data in found}
