"""The data rules run for real through Snakemake on local sources in each Hub schema."""

import json

import pandas as pd
import pytest
from helpers import ROOT, config_on_local_sources, snakemake

# Every test runs Snakemake.
pytestmark = pytest.mark.slow


def test_prepare_rules_on_local_sources(tmp_path):
    config_on_local_sources(ROOT / "config", tmp_path)
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
