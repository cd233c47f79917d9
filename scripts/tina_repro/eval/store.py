"""Content-addressed sample files: what lets one generation job per model add a benchmark
without regenerating the others.

In ``results/eval/{run}/{point}/{benchmark}/``::

    samples.jsonl -> samples.<identity>.jsonl   the rule's output: a relative symlink
    samples.<identity>.jsonl                    finished samples, written once, never rewritten
    samples.<identity>.jsonl.partial            rows of an unfinished generation (resumable)
    samples.<identity>.jsonl.lock               held by the one process that writes the above

``identity`` fingerprints everything that defines the samples, by content: the benchmark's
bytes, the evaluated weights (base model and adapter, :func:`tina_repro.fingerprints.
weights_fingerprint`: a checkpoint retrained or replaced in place is another identity, wherever its
folder is), ``gold_format`` and the sampling settings
(:meth:`tina_repro.config.EvaluationSettings.sampling_identity`). Snakemake deletes a rerun job's
outputs, which here are only the links; the job finds each finished store file by identity and
links it again, so its bytes and its mtime stay as they were (a new link gets the store's mtime
too).
Snakemake then touches the job's outputs, the links themselves (``lutime``), and compares the
newer of link and target (``Mtime.local(follow_symlinks=True)`` in ``IOFile.is_newer``), so a
relinked samples.jsonl looks new: the grading rule's input
(:func:`tina_repro.eval.points.samples_to_grade`) is therefore ``ancient()`` while its grades are
current (:func:`grades_are_current`).
The store files of other identities stay where they are, so reverting a setting links its
samples again instead of regenerating them; delete them by hand to reclaim the space.
"""

from __future__ import annotations

import os
from pathlib import Path

from tina_repro import paths
from tina_repro.files import read_json
from tina_repro.fingerprints import digest_of, file_sha256, weights_fingerprint

IDENTITY_CHARS = 16  # 64 bits of sha256: no collision among a reproduction's few thousand files
LOCK_SUFFIX = ".lock"


def identity(benchmark_sha256: str, weights: str, sampling: dict, gold_format: str) -> str:
    """The identity of one model's samples on one benchmark (``weights``: the evaluated weights'
    fingerprint)."""
    fields = {
        "benchmark_sha256": benchmark_sha256,
        "weights": weights,
        "gold_format": gold_format,
        **sampling,
    }
    return digest_of(fields)[:IDENTITY_CHARS]


def samples_identity(benchmark_parquet, model_dir, adapter_dir, sampling, gold_format) -> str:
    """:func:`identity` of a prepared benchmark file and a model folder with an optional adapter
    folder, as they are on disk now."""
    weights = weights_fingerprint(model_dir, adapter_dir)
    if weights is None:
        missing = adapter_dir if adapter_dir and Path(model_dir).is_dir() else model_dir
        raise FileNotFoundError(f"{missing}: no model to evaluate there")
    return identity(file_sha256(benchmark_parquet), weights, sampling, gold_format)


def store_path(samples: str | Path, samples_identity: str) -> Path:
    """``samples.<identity>.jsonl`` beside the ``samples.jsonl`` link."""
    return Path(samples).with_name(paths.SAMPLES_STORE.format(identity=samples_identity))


def partial_path(store: Path) -> Path:
    return store.with_name(store.name + paths.PARTIAL_SUFFIX)


def lock_path(store: Path) -> Path:
    return store.with_name(store.name + LOCK_SUFFIX)


def link(samples: str | Path, store: Path) -> None:
    """Point ``samples`` at ``store`` (atomically, relative) with the store's mtime."""
    samples = Path(samples)
    tmp = samples.with_name(samples.name + ".link.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(store.name, tmp)
    mtime = store.stat().st_mtime_ns
    os.utime(tmp, ns=(mtime, mtime), follow_symlinks=False)
    os.replace(tmp, samples)


def is_linked(samples: str | Path, samples_identity: str) -> bool:
    """``samples`` links to the finished store file of ``samples_identity``."""
    samples = Path(samples)
    store = store_path(samples, samples_identity)
    return samples.is_symlink() and os.readlink(samples) == store.name and store.is_file()


def grades_are_current(
    samples, score, benchmark_parquet, model_dir, adapter_dir, sampling, gold_format
) -> bool:
    """Whether ``score`` (score.json) holds the grades of the samples as they should be now:
    ``samples`` links to the finished store file of the current :func:`samples_identity`, and
    ``score`` says it graded that store file. False while anything is missing (nothing graded
    yet, a store file deleted) or unreadable."""
    samples, score = Path(samples), Path(score)
    if not (samples.is_symlink() and samples.is_file() and score.is_file()):
        return False
    try:
        current = samples_identity(benchmark_parquet, model_dir, adapter_dir, sampling, gold_format)
        graded = read_json(score).get("identity", {}).get("samples_store")
    except (OSError, ValueError, AttributeError):
        return False
    return is_linked(samples, current) and graded == os.readlink(samples)


def is_dangling(samples: str | Path) -> bool:
    """``samples`` is a link whose store file is gone."""
    samples = Path(samples)
    return samples.is_symlink() and not samples.exists()
