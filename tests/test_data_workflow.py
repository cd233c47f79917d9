"""The data rules run for real through Snakemake on local sources in each Hub schema."""

import csv
import json
import shutil

import pandas as pd
from helpers import ROOT, snakemake

HUB = ROOT / "tests" / "fixtures" / "hub"


def local_sheet(workdir, sheet, sources, sizes=None):
    """Copy a sheet, pointing the named rows at local fixture files (and their sizes)."""
    with open(ROOT / "config" / sheet, newline="") as handle:
        header, *rows = list(csv.reader(handle, delimiter="\t"))
    for row in rows:
        if row[0] in sources:
            row[header.index("source")] = f"local:{sources[row[0]]}"
            if sizes:
                row[header.index("expected_size")] = str(sizes[row[0]])
    out = workdir / "config" / sheet
    with open(out, "w", newline="") as handle:
        csv.writer(handle, delimiter="\t", lineterminator="\n").writerows([header, *rows])


def test_prepare_rules_on_local_sources(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    local_sheet(
        tmp_path,
        "datasets.tsv",
        {"limr": HUB / "limr.json", "still3": HUB / "still3_malformed.jsonl"},
    )
    sizes = {"aime24": sum(1 for _ in open(HUB / "aime24.jsonl")), "gpqa_diamond": 5}
    local_sheet(
        tmp_path,
        "benchmarks.tsv",
        {"aime24": HUB / "aime24.jsonl", "gpqa_diamond": HUB / "gpqa_diamond.csv"},
        sizes,
    )
    proc = snakemake(
        tmp_path,
        "--cores",
        "1",
        "resources/datasets/limr.parquet",
        "resources/benchmarks/aime24.parquet",
        "resources/benchmarks/gpqa_diamond.parquet",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    limr = pd.read_parquet(tmp_path / "resources/datasets/limr.parquet")
    assert list(limr.columns) == ["problem", "solution", "row_id"]
    assert limr["solution"].str.startswith("$").all()
    report = json.loads((tmp_path / "resources/datasets/limr.report.json").read_text())
    assert report["rows_kept"] == report["rows_read"] == len(limr)
    gpqa = pd.read_parquet(tmp_path / "resources/benchmarks/gpqa_diamond.parquet")
    assert len(gpqa) == 5
    assert gpqa["answer"].isin(list("ABCD")).all()

    # A malformed training set fails its job; the counts reach the rule's log.
    failed = snakemake(tmp_path, "--cores", "1", "resources/datasets/still3.parquet")
    assert failed.returncode != 0
    log = (tmp_path / "logs/prepare_dataset/still3.log").read_text()
    assert "dropped" in log
    assert not (tmp_path / "resources/datasets/still3.parquet").exists()
