"""Content fingerprints of what a training run or an evaluation reads: the data, the base model,
an adapter. Identities hash these, never paths, so a file replaced in place is seen and a folder
moved elsewhere is not.

Hashing must stay cheap enough for every DAG build of a paper-size tree (hundreds of adapters,
a 3 GB base model), so:

- a base model downloaded from the Hub is fingerprinted by the sha256 of each file its download
  manifest recorded (:mod:`tina_repro.data.models`): no byte of the weights is read again;
- every other file (a ``local:`` model folder, an adapter, a prepared dataset) is hashed once and
  its sha256 cached by the version of the file it read: (device, inode, size, mtime, ctime), in
  memory and on disk under :data:`tina_repro.paths.HASH_CACHE` of the working directory
  (``TINA_HASH_CACHE`` points it elsewhere, as the tests do). Any write to a file changes its
  ctime, which no user can set back, so a file rewritten in place is hashed again even when its
  size and mtime are restored; a copy is another inode, hashed once more.

Within one process a fingerprint is also kept by the versions of the files it read, so a DAG build
that asks for one model's weights once per benchmark reads its manifest and config once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from tina_repro import paths
from tina_repro.files import read_json, sha256_file, write_text

logger = logging.getLogger(__name__)

HASH_CACHE_ENV = "TINA_HASH_CACHE"
# The two files that make an adapter (PEFT's save_pretrained); the rest of a checkpoint folder
# (optimizer, scheduler, RNG state) only matters for resuming training.
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")

_memory: dict[tuple, str] = {}  # file version -> sha256, and files' versions -> fingerprint


def _stat_key(path: Path) -> tuple:
    """The version of the file ``path`` leads to (links followed)."""
    stat = os.stat(path)
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def _cache_file(key: tuple) -> Path:
    root = Path(os.environ.get(HASH_CACHE_ENV) or paths.HASH_CACHE)
    name = hashlib.sha256("\0".join(map(str, key)).encode()).hexdigest()
    return root / name[:2] / name


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (links followed), hashed once per version of the file."""
    key = _stat_key(Path(path))
    if key in _memory:
        return _memory[key]
    cached = _cache_file(key)
    try:
        digest = cached.read_text().strip()
    except OSError:
        digest = ""
    if len(digest) != 64:
        digest = sha256_file(path)
        try:
            write_text(cached, digest + "\n")
        except OSError as err:  # a read-only working directory only costs speed
            logger.debug("hash cache %s not written: %s", cached, err)
    _memory[key] = digest
    return digest


def digest_of(value: object) -> str:
    """sha256 of a JSON value, keys sorted: the one way identities are hashed."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def model_files(folder: str | Path, manifest: str | Path | None = None) -> list[Path]:
    """The files that make a model folder, sorted: links followed, Hugging Face's ``.cache``
    and the folder's own download manifest left out. The download manifest lists exactly these."""
    folder = Path(folder)
    skip = Path(manifest) if manifest else folder / paths.MANIFEST
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and ".cache" not in p.relative_to(folder).parts and p != skip
    )


def files_fingerprint(files: list[dict]) -> str:
    """The fingerprint of a set of files: ``files`` are ``{"path", "sha256"}`` entries."""
    return digest_of(sorted((entry["path"], entry["sha256"]) for entry in files))


def _recorded_files(manifest: Path) -> list[dict] | None:
    """The files and hashes a download manifest recorded; None for a manifest without hashes
    (one written before they were recorded) or a file that is no manifest."""
    try:
        files = read_json(manifest)["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(files, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("sha256"), str) for entry in files
    ):
        return None
    return files


def _kept(kind: str, files: list[Path], compute):
    """``compute()``, kept in this process for as long as ``files`` are the same versions."""
    key = (kind, *((str(f), _stat_key(f)) for f in files))
    if key not in _memory:
        _memory[key] = compute()
    return _memory[key]


def model_fingerprint(model_dir: str | Path) -> str | None:
    """A model (or adapter repository) folder's content: from its download manifest's recorded
    hashes when it has them, else from its files' (cached) hashes; None while the folder does not
    exist yet (the job that makes it runs first)."""
    folder = Path(model_dir)
    if not folder.is_dir():
        return None
    manifest = folder / paths.MANIFEST
    if manifest.is_file():
        recorded = _kept("manifest", [manifest], lambda: _recorded_files(manifest))
        if recorded is not None:
            return files_fingerprint(recorded)
    files = model_files(folder)
    return _kept(
        "folder",
        files,
        lambda: files_fingerprint(
            [{"path": str(p.relative_to(folder)), "sha256": file_sha256(p)} for p in files]
        ),
    )


def adapter_fingerprint(adapter_dir: str | Path) -> str | None:
    """A LoRA adapter's content: its weights' bytes and its config, read as JSON with
    ``target_modules`` sorted (PEFT writes that set in any order). None while the folder lacks
    either file."""
    folder = Path(adapter_dir)
    weights, config = (folder / name for name in ADAPTER_FILES)
    if not (weights.is_file() and config.is_file()):
        return None

    def compute() -> str:
        adapter_config = read_json(config)
        if isinstance(adapter_config.get("target_modules"), list):
            adapter_config["target_modules"] = sorted(adapter_config["target_modules"])
        return digest_of({"weights_sha256": file_sha256(weights), "config": adapter_config})

    return _kept("adapter", [weights, config], compute)


def weights_fingerprint(model_dir: str | Path, adapter_dir: str | Path | None) -> str | None:
    """What a generation evaluates: base weights plus an optional adapter, by content; None while
    either is missing."""
    model = model_fingerprint(model_dir)
    adapter = adapter_fingerprint(adapter_dir) if adapter_dir else None
    if model is None or (adapter_dir and adapter is None):
        return None
    return digest_of({"model": model, "adapter": adapter})
