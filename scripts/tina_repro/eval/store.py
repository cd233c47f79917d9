"""Content-addressed sample files: what lets one generation job per model add a benchmark
without regenerating the others.

In ``results/eval/{run}/{point}/{benchmark}/``::

    samples.jsonl -> samples.<identity>.jsonl   the rule's output: a relative symlink
    samples.<identity>.jsonl                    finished samples, written once, never rewritten
    samples.<identity>.jsonl.partial            rows of an unfinished generation (resumable)
    samples.<identity>.jsonl.lock               held by the one process that writes the above

``identity`` fingerprints everything that defines the samples: the benchmark's content, the model
and adapter folders, ``gold_format`` and the sampling settings
(:func:`tina_repro.eval.requests.sampling_settings`). Snakemake deletes a rerun job's outputs,
which here are only the links; the job finds each finished store file by identity and links it
again, so its bytes and its mtime stay as they were (a new link gets the store's mtime too).
Snakemake then touches the job's outputs, the links themselves (``lutime``), and compares the
newer of link and target (``Mtime.local(follow_symlinks=True)`` in ``IOFile.is_newer``), so a
relinked samples.jsonl looks new: the grading rule's input (``samples_to_grade`` in
rules/common.smk) is therefore ``ancient()`` while it links to the store of the current identity.
The store files of other identities stay where they are, so reverting a setting links its
samples again instead of regenerating them; delete them by hand to reclaim the space.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tina_repro import paths
from tina_repro.files import sha256_file

IDENTITY_CHARS = 16  # 64 bits of sha256: no collision among a reproduction's few thousand files
LOCK_SUFFIX = ".lock"


def identity(
    benchmark_sha256: str,
    model_dir: str,
    adapter_dir: str | None,
    sampling: dict,
    gold_format: str,
) -> str:
    """The identity of one model's samples on one benchmark."""
    fields = {
        "benchmark_sha256": benchmark_sha256,
        "model_dir": str(model_dir),
        "adapter_dir": str(adapter_dir) if adapter_dir else None,
        "gold_format": gold_format,
        **sampling,
    }
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    return digest[:IDENTITY_CHARS]


def benchmark_identity(benchmark_parquet, model_dir, adapter_dir, sampling, gold_format) -> str:
    """:func:`identity` of a prepared benchmark file."""
    return identity(sha256_file(benchmark_parquet), model_dir, adapter_dir, sampling, gold_format)


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
