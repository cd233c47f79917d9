"""Tests never touch the network (every Hugging Face client runs offline) and never write into
the repository."""

import os

import pytest

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
