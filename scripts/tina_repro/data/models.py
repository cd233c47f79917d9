"""Model and adapter repositories made available on disk (rule download_model)."""

from __future__ import annotations

import os
from pathlib import Path

from tina_repro import paths
from tina_repro.data.sources import LOCAL_PREFIX, DataError, hub_failure, locked_download
from tina_repro.files import write_json
from tina_repro.fingerprints import file_sha256, model_files


def download_hub_repository(spec: dict, out_dir) -> dict:
    """``download_model`` of a ``HUB_MODELS`` spec (rules/common.smk): of a repository whose
    ``subfolders`` are listed (a Tina adapter repository holds every checkpoint) only those."""
    patterns = [f"{folder}/*" for folder in spec.get("subfolders", [])]
    return download_model(
        spec["source"], spec["revision"], out_dir, allow_patterns=patterns or None
    )


def download_model(
    source: str, revision: str | None, out_dir, manifest_path=None, allow_patterns=None
) -> dict:
    """Make a model (or adapter) repository available in ``out_dir`` and write its manifest.

    Hub ids: the revision is resolved to its commit, the one config/hub.lock.tsv holds once a first
    download recorded it (sources.locked_download), then ``snapshot_download(local_dir=out_dir)``
    fetches that commit. With ``HF_HUB_OFFLINE=1`` the snapshot comes from the Hugging Face cache
    (HF_HOME) instead and ``out_dir`` gets symlinks to its files. ``local:PATH`` folders are linked
    file by file (symlinks, no copy: the source folder must stay in place). The manifest
    (``out_dir/manifest.json`` unless ``manifest_path`` is given) lists every file with its size
    and sha256 and is written last, so it exists only for a complete download. ``allow_patterns``
    (Hub ids) limits the files fetched.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if source.startswith(LOCAL_PREFIX):
        folder = Path(source[len(LOCAL_PREFIX) :])
        if not folder.is_dir():
            raise DataError(f"{source}: local model folder {folder} does not exist")
        _link_files(folder, out)
        resolved = None
    else:
        resolved = _snapshot(source, revision, out, allow_patterns)
    manifest_path = Path(manifest_path) if manifest_path else out / paths.MANIFEST
    manifest = {
        "source": source,
        "revision_requested": revision,
        "revision_resolved": resolved,
        # each file's sha256, hashed once here: what identifies the weights to a training run
        # and an evaluation (tina_repro.fingerprints) without reading them again
        "files": [
            {"path": str(p.relative_to(out)), "size": p.stat().st_size, "sha256": file_sha256(p)}
            for p in model_files(out, manifest_path)
        ],
    }
    write_json(manifest_path, manifest)
    return manifest


def _snapshot(source: str, revision: str | None, out: Path, allow_patterns=None) -> str | None:
    """Fetch a Hub repository into ``out`` at its locked commit; returns the commit fetched."""
    from huggingface_hub import constants, snapshot_download

    token = os.environ.get("HF_TOKEN") or None

    def fetch(pinned: str) -> tuple[Path | None, str | None]:
        try:
            if constants.is_offline_mode():
                cached = _cached_snapshot(source, pinned, revision or "main", allow_patterns)
                return cached, cached.name  # the cache keeps snapshots under snapshots/<commit>/
            snapshot_download(
                source, revision=pinned, local_dir=out, token=token, allow_patterns=allow_patterns
            )
            return None, None  # ``pinned`` is the commit the lock resolved
        except Exception as err:  # every failure becomes one DataError that names the model
            raise hub_failure(source, source, err, repo_type="model") from err

    cached, commit = locked_download(source, source, "model", revision, fetch)
    if cached is not None:  # linked only once the lock accepted its commit
        _link_files(cached, out)
    return commit


def _cached_snapshot(source: str, pinned: str, requested: str, allow_patterns=None) -> Path:
    """The cache's snapshot of the locked commit, else of the requested branch: a cache holding
    only another commit is then reported as drift from the lock, not as an unreachable Hub."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(
            snapshot_download(
                source, revision=pinned, local_files_only=True, allow_patterns=allow_patterns
            )
        )
    except LocalEntryNotFoundError:
        if pinned == requested:
            raise
        return Path(
            snapshot_download(
                source, revision=requested, local_files_only=True, allow_patterns=allow_patterns
            )
        )


def _link_files(folder: Path, out: Path) -> None:
    for path in sorted(folder.resolve().rglob("*")):
        if path.is_dir() or ".cache" in path.relative_to(folder.resolve()).parts:
            continue
        target = out / path.relative_to(folder.resolve())
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        target.symlink_to(path)
