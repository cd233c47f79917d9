"""Tests never touch the network (every Hugging Face client runs offline) and never write into
the repository; a test of the fast lane (``pytest -m "not slow"``) never runs Snakemake."""

import os

import pytest
from helpers import FAST_LANE_TEST

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def hub_lock_file(tmp_path, monkeypatch):
    """Downloads in tests record their commits here, never in the committed config/hub.lock.tsv."""
    path = tmp_path / "hub.lock.tsv"
    monkeypatch.setenv("TINA_HUB_LOCK", str(path))
    monkeypatch.delenv("TINA_HUB_LOCK_UPDATE", raising=False)
    return path


@pytest.fixture(autouse=True)
def hash_cache(tmp_path, monkeypatch):
    """Content hashes are cached here, not in the working directory's .tina-repro/."""
    path = tmp_path / "sha256-cache"
    monkeypatch.setenv("TINA_HASH_CACHE", str(path))
    return path


def pytest_runtest_setup(item):
    """Name the test about to run where helpers.snakemake sees it, unless it is marked slow (set
    before its fixtures, so a module fixture running Snakemake for it is caught too)."""
    if item.get_closest_marker("slow") is None:
        os.environ[FAST_LANE_TEST] = item.nodeid
    else:
        os.environ.pop(FAST_LANE_TEST, None)


def pytest_runtest_teardown(item):
    os.environ.pop(FAST_LANE_TEST, None)
