"""Training run by real Snakemake on CPU (tiny model, tiny row): a run is current or rebuilt.

A dataset re-prepared with the same bytes retrains nothing, even one too large for Snakemake to
checksum; other bytes retrain the run and keep the old folder aside; ``--forcerun train_grpo``
retrains the same way; resuming stays automatic.
"""

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, SHORT_SYSTEM_PROMPT, dry_run, paper_row, snakemake, tiny_row, write_sheet

from tina_repro import paths
from tina_repro.demo.tiny_model import build_tiny_model
from tina_repro.train.checkpoints import complete_checkpoints

# Every test runs Snakemake.
pytestmark = pytest.mark.slow

EXPERIMENT = "tiny_run"
DATASET = "tiny_data"
MANIFEST = paths.RUN_MANIFEST.format(experiment=EXPERIMENT)
RUN_DIR = Path(paths.RUN_DIR.format(experiment=EXPERIMENT))
PARQUET = paths.DATASET_PARQUET.format(dataset=DATASET)
REPORT = paths.DATASET_REPORT.format(dataset=DATASET)
# Snakemake compares the checksum of a newer input with the recorded one only up to this size
# (--max-checksum-file-size, 1 MB by default). Here it sits between the tiny report and the tiny
# table, as 1 MB does between the report and a paper-size table.
CHECKSUM_LIMIT = 2000


def sheet_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def write_problems(path: Path, wrong_golds: bool = False) -> None:
    """A training file of 40 additions; with ``wrong_golds``, every other gold is off by one."""
    rows = [
        {"prompt": f"What is {a} plus 7?", "answer": str(a + 7 + (wrong_golds and a % 2))}
        for a in range(10, 50)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


@pytest.fixture
def workdir(tmp_path):
    """A working directory whose one tiny run trains on CPU in seconds (4 steps, a checkpoint
    every 2) from a local training file."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    data = tmp_path / "data"
    data.mkdir()
    model_dir = build_tiny_model(data / "tiny_model", seed=0, size="test")
    write_problems(data / "train.jsonl")
    limr = paper_row("datasets.tsv", "limr")
    dataset = {**limr, "name": DATASET, "source": f"local:{data / 'train.jsonl'}"}
    baseline = {**paper_row("baselines.tsv", "base"), "model": f"local:{model_dir}"}
    row = tiny_row(name=EXPERIMENT, dataset=DATASET, max_steps=4, stop_step=4, save_steps=2)
    experiment = {key: sheet_value(value) for key, value in vars(row).items()}
    experiment["seeds"] = experiment.pop("seed")  # the sheet's column: a run's seed is one of them
    experiment["tables"] = "main"
    override = {
        "experiments": write_sheet(data / "experiments.tsv", [experiment]),
        "datasets": write_sheet(data / "datasets.tsv", [dataset]),
        "baselines": write_sheet(data / "baselines.tsv", [baseline]),
        "base_model": {"source": f"local:{model_dir}"},
        "system_prompts": {limr["system_prompt"]: SHORT_SYSTEM_PROMPT},
        "training_chat_template": "",
    }
    (tmp_path / "override.yaml").write_text(yaml.safe_dump(override))
    return tmp_path


def run(workdir: Path, *args: str):
    proc = snakemake(
        workdir,
        MANIFEST,
        "--cores",
        "2",
        "--max-checksum-file-size",
        str(CHECKSUM_LIMIT),
        *args,
        "--configfile",
        str(workdir / "override.yaml"),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


def planned(workdir: Path, *args: str) -> dict[str, int]:
    code, jobs, output = dry_run(
        workdir,
        MANIFEST,
        "--max-checksum-file-size",
        str(CHECKSUM_LIMIT),
        *args,
        "--configfile",
        str(workdir / "override.yaml"),
    )
    assert code == 0, output
    return jobs


def adapters(run_dir: Path) -> dict[int, bytes]:
    return {
        step: (folder / "adapter_model.safetensors").read_bytes()
        for step, folder in complete_checkpoints(run_dir).items()
    }


def superseded(workdir: Path) -> list[Path]:
    return sorted(workdir.glob(f"results/train/{EXPERIMENT}.superseded-*"))


def test_a_run_is_current_or_rebuilt(workdir):
    run(workdir)
    first = adapters(workdir / RUN_DIR)
    assert sorted(first) == [2, 4]
    record = json.loads((workdir / RUN_DIR / paths.RUN_IDENTITY).read_text())
    assert record["finished"]["step"] == 4
    assert planned(workdir) == {}

    # Re-prepared in a separate invocation with the same bytes: the table is too large for
    # Snakemake's checksum, its report (which records the table's sha256) is not.
    assert os.path.getsize(workdir / PARQUET) > CHECKSUM_LIMIT > os.path.getsize(workdir / REPORT)
    table = (workdir / PARQUET).read_bytes()
    run(workdir, "--forcerun", "prepare_dataset", "--until", "prepare_dataset")
    assert (workdir / PARQUET).read_bytes() == table
    assert planned(workdir) == {}

    # Other golds: the table is prepared again and the run retrained; the old run is kept aside.
    write_problems(workdir / "data" / "train.jsonl", wrong_golds=True)
    assert planned(workdir) == {"prepare_dataset": 1, "train_grpo": 1, "total": 2}
    proc = run(workdir)
    (aside,) = superseded(workdir)
    assert adapters(aside) == first
    before = json.loads((aside / paths.RUN_IDENTITY).read_text())["inputs"]
    now = json.loads((workdir / RUN_DIR / paths.RUN_IDENTITY).read_text())["inputs"]
    assert before["dataset_sha256"] != now["dataset_sha256"]
    assert {k: v for k, v in before.items() if k != "dataset_sha256"} == {
        k: v for k, v in now.items() if k != "dataset_sha256"
    }
    log = (workdir / "logs" / "train_grpo" / f"{EXPERIMENT}.log").read_text()
    moved = f"its inputs changed (dataset_sha256); moved it aside to {aside.relative_to(workdir)}"
    assert moved in log, proc.stderr
    sessions = json.loads((workdir / RUN_DIR / paths.SESSIONS).read_text())["sessions"]
    assert [s["start_step"] for s in sessions] == [0]  # trained from scratch
    changed = adapters(workdir / RUN_DIR)  # (equal bytes: the tiny row's rewards ignore golds)
    assert sorted(changed) == [2, 4]
    assert planned(workdir) == {}

    # Forced: Snakemake deletes the manifest, the trainer sees a finished run asked again.
    run(workdir, "--forcerun", "train_grpo")
    assert len(superseded(workdir)) == 2
    assert adapters(superseded(workdir)[-1]) == changed
    log = (workdir / "logs" / "train_grpo" / f"{EXPERIMENT}.log").read_text()
    assert "it finished at step 4 and is asked to train again" in log
    sessions = json.loads((workdir / RUN_DIR / paths.SESSIONS).read_text())["sessions"]
    assert [s["start_step"] for s in sessions] == [0]  # trained from scratch
    assert planned(workdir) == {}
