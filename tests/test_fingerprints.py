"""Content fingerprints: a file is hashed once per version of it, a model folder is fingerprinted
by its download manifest's recorded hashes or by its files, an adapter by its weights and config."""

import hashlib
import json
import os

import pytest

from tina_repro import fingerprints
from tina_repro.data.models import download_model


@pytest.fixture
def hashed(monkeypatch):
    """The paths whose bytes are read by fingerprints (each read is one entry)."""
    reads = []
    original = fingerprints.sha256_file

    def counting(path):
        reads.append(os.path.basename(path))
        return original(path)

    monkeypatch.setattr(fingerprints, "sha256_file", counting)
    monkeypatch.setattr(fingerprints, "_memory", {})
    return reads


def test_a_file_is_hashed_once_per_version(tmp_path, hashed, hash_cache):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"abcd")
    assert fingerprints.file_sha256(path) == hashlib.sha256(b"abcd").hexdigest()
    assert fingerprints.file_sha256(path) == hashlib.sha256(b"abcd").hexdigest()
    fingerprints._memory.clear()  # a new process: the cache on disk answers
    assert fingerprints.file_sha256(path) == hashlib.sha256(b"abcd").hexdigest()
    assert hashed == ["weights.bin"]
    assert len(list(hash_cache.rglob("*"))) == 2  # one entry in its folder

    # Rewritten in place with the same size and its old mtime restored: hashed again (ctime).
    stat = path.stat()
    path.write_bytes(b"wxyz")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
    assert fingerprints.file_sha256(path) == hashlib.sha256(b"wxyz").hexdigest()
    assert hashed == ["weights.bin", "weights.bin"]


def test_an_unwritable_cache_only_costs_speed(tmp_path, hashed, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv(fingerprints.HASH_CACHE_ENV, str(blocker / "cache"))
    path = tmp_path / "data.bin"
    path.write_bytes(b"1")
    assert fingerprints.file_sha256(path) == hashlib.sha256(b"1").hexdigest()


def write_model(folder, weights=b"weights"):
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "sub" / "model.safetensors").write_bytes(weights)
    return folder


def test_a_model_folder_is_fingerprinted_by_content_not_place(tmp_path, hashed):
    one = write_model(tmp_path / "one")
    two = write_model(tmp_path / "elsewhere" / "two")
    assert fingerprints.model_fingerprint(one) == fingerprints.model_fingerprint(two)
    other = write_model(tmp_path / "other", weights=b"other weights")
    assert fingerprints.model_fingerprint(other) != fingerprints.model_fingerprint(one)
    assert fingerprints.model_fingerprint(tmp_path / "absent") is None


def test_a_download_manifest_answers_without_reading_the_weights(tmp_path, hashed, monkeypatch):
    source = write_model(tmp_path / "source")
    download_model(f"local:{source}", None, tmp_path / "downloaded")
    from_files = fingerprints.model_fingerprint(source)
    hashed.clear()
    fingerprints._memory.clear()
    assert fingerprints.model_fingerprint(tmp_path / "downloaded") == from_files
    assert hashed == []  # the manifest's recorded sha256 values, no file read

    # A manifest written before hashes were recorded: the files are hashed instead.
    monkeypatch.setenv(fingerprints.HASH_CACHE_ENV, str(tmp_path / "new-cache"))
    manifest = tmp_path / "downloaded" / "manifest.json"
    legacy = json.loads(manifest.read_text())
    for entry in legacy["files"]:
        del entry["sha256"]
    manifest.write_text(json.dumps(legacy))
    assert fingerprints.model_fingerprint(tmp_path / "downloaded") == from_files
    assert sorted(hashed) == ["config.json", "model.safetensors"]


def write_adapter(folder, weights=b"lora", modules=("q_proj", "v_proj")):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_model.safetensors").write_bytes(weights)
    config = {"r": 8, "target_modules": list(modules)}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


def test_an_adapter_is_its_weights_and_config(tmp_path, hashed):
    adapter = fingerprints.adapter_fingerprint(write_adapter(tmp_path / "a"))
    # PEFT writes target_modules as a set, in any order: the same adapter
    reordered = write_adapter(tmp_path / "b", modules=("v_proj", "q_proj"))
    assert fingerprints.adapter_fingerprint(reordered) == adapter
    assert fingerprints.adapter_fingerprint(write_adapter(tmp_path / "c", b"LoRA")) != adapter
    rank = write_adapter(tmp_path / "d")
    (rank / "adapter_config.json").write_text(json.dumps({"r": 16, "target_modules": []}))
    assert fingerprints.adapter_fingerprint(rank) != adapter
    (rank / "adapter_model.safetensors").unlink()
    assert fingerprints.adapter_fingerprint(rank) is None


def test_weights_are_the_model_and_the_adapter(tmp_path, hashed):
    model = write_model(tmp_path / "model")
    adapter = write_adapter(tmp_path / "checkpoint-5")
    both = fingerprints.weights_fingerprint(model, adapter)
    alone = fingerprints.weights_fingerprint(model, None)
    assert len({both, alone}) == 2 and None not in {both, alone}
    write_adapter(adapter, b"replaced in place")
    assert fingerprints.weights_fingerprint(model, adapter) not in {both, alone}
    assert fingerprints.weights_fingerprint(model, tmp_path / "checkpoint-9") is None
    assert fingerprints.weights_fingerprint(tmp_path / "absent", None) is None
