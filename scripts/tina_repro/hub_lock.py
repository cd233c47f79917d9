"""Pin every Hugging Face Hub revision the pipeline reads to a commit, in one committed lock file.

Why: the sheets ask for revisions such as ``main``, and a branch moves. A rerun months later must
read the same bytes, so the first download records the commit a revision resolved to and every
later run downloads that commit instead of whatever the branch points at by then.

Format: a tab-separated file (``config/hub.lock.tsv``, :func:`lock_file`; ``TINA_HUB_LOCK`` names
another, as the tests do so that they never write the committed one) with
the header ``repo_type  repo_id  requested  commit  recorded_at``. ``repo_type`` is ``model`` or
``dataset``, ``requested`` the revision asked for (``main``, a tag), ``commit`` the 40-hex sha it
resolved to and ``recorded_at`` the ISO date it was recorded. Rows are keyed by
(repo_type, repo_id, requested) and kept sorted so diffs stay small. Every read-modify-write holds
an exclusive lock (:func:`tina_repro.locks.wait_lock`) on a sidecar ``<lock file>.flock`` and
replaces the file atomically, so concurrent jobs never lose each other's rows.

Accepting an update: when the Hub resolves a revision to a commit other than the locked one,
:func:`check_resolved` raises :class:`HubLockError`. To take the new commit deliberately, set
``TINA_HUB_LOCK_UPDATE=1`` for the run, pass ``accept_update=True``, or run
``tina-repro hub-lock --update REPO_ID``; the row is rewritten and a warning logged. A revision that
is already a 40-hex commit is pinned by definition and bypasses the lock.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from tina_repro import locks, paths
from tina_repro.errors import UserError

log = logging.getLogger(__name__)

HEADER = ("repo_type", "repo_id", "requested", "commit", "recorded_at")
REPO_TYPES = ("model", "dataset")
UPDATE_ENV = "TINA_HUB_LOCK_UPDATE"
LOCK_ENV = "TINA_HUB_LOCK"
_SHA = re.compile(r"[0-9a-f]{40}")

Key = tuple[str, str, str]  # (repo_type, repo_id, requested)
Resolver = Callable[[str, str, str], str]  # (repo_id, repo_type, requested) -> commit


class HubLockError(UserError, RuntimeError):
    """A malformed lock file, or a revision that no longer resolves to its locked commit."""


class LockEntry(NamedTuple):
    commit: str
    recorded_at: str


def is_commit(revision: str) -> bool:
    """Whether ``revision`` is already a full 40-hex commit sha."""
    return bool(_SHA.fullmatch(revision.lower()))


def lock_file() -> Path:
    """The lock file downloads use: ``$TINA_HUB_LOCK``, else the workflow's config/hub.lock.tsv."""
    return Path(os.environ.get(LOCK_ENV) or paths.HUB_LOCK)


def accept_update_from_env() -> bool:
    """True when ``TINA_HUB_LOCK_UPDATE`` asks to accept moved revisions (1/true/yes/on)."""
    return os.environ.get(UPDATE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def hub_commit(repo_id: str, repo_type: str, requested: str) -> str:
    """The commit ``requested`` currently resolves to on the Hub."""
    from huggingface_hub import HfApi

    api, token = HfApi(), os.environ.get("HF_TOKEN")
    if repo_type == "dataset":
        return api.dataset_info(repo_id, revision=requested, token=token).sha
    return api.model_info(repo_id, revision=requested, token=token).sha


def _problem(fields: list[str]) -> str | None:
    """What is wrong with one row of the lock file, if anything."""
    if len(fields) != len(HEADER):
        return f"expected {len(HEADER)} tab-separated fields, got {len(fields)}"
    repo_type, repo_id, requested, commit, recorded_at = fields
    if repo_type not in REPO_TYPES:
        return f"repo_type {repo_type!r} is not model or dataset"
    if not repo_id or not requested:
        return "empty repo_id or requested revision"
    if not _SHA.fullmatch(commit):
        return f"commit {commit!r} is not a 40-hex sha"
    try:
        datetime.fromisoformat(recorded_at)
    except ValueError:
        return f"recorded_at {recorded_at!r} is not an ISO date"
    return None


def read_lock(lock_path: str | Path) -> dict[Key, LockEntry]:
    """All rows of the lock file; a missing or empty file is an empty lock."""
    path = Path(lock_path)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if lines and tuple(lines[0].split("\t")) != HEADER:
        raise HubLockError(f"{path}:1: header must be {' '.join(HEADER)!r} (tab-separated)")
    entries: dict[Key, LockEntry] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if problem := _problem(fields):
            raise HubLockError(f"{path}:{number}: {problem}")
        key = (fields[0], fields[1], fields[2])
        if key in entries:
            raise HubLockError(f"{path}:{number}: duplicate row for {key[0]} {key[1]}@{key[2]}")
        entries[key] = LockEntry(fields[3], fields[4])
    return entries


def write_lock(lock_path: str | Path, entries: dict[Key, LockEntry]) -> None:
    """Write all rows, sorted, replacing the file atomically (callers hold :func:`_locked`)."""
    path = Path(lock_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ["\t".join(HEADER)]
    rows += ["\t".join((*key, *entries[key])) for key in sorted(entries)]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(rows) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(lock_path: str | Path) -> Iterator[dict[Key, LockEntry]]:
    """Hold the sidecar lock; yield the rows, and write them back if the body changed them."""
    path = Path(lock_path)
    sidecar = locks.wait_lock(path.with_name(path.name + ".flock"))
    try:
        entries = read_lock(path)
        before = dict(entries)
        yield entries
        if entries != before:
            write_lock(path, entries)
    finally:
        sidecar.release()


def _record(entries: dict[Key, LockEntry], key: Key, sha: str) -> None:
    """Set a row to ``sha``, warning when that deliberately moves a locked commit."""
    old = entries.get(key)
    if old is not None and old.commit != sha:
        log.warning("hub lock: accepted %s %s@%s moving %s -> %s", *key, old.commit, sha)
    if old is None or old.commit != sha:
        entries[key] = LockEntry(sha, datetime.now(UTC).date().isoformat())


def _sha(sha: object, repo_id: str, requested: str) -> str:
    if not (isinstance(sha, str) and _SHA.fullmatch(sha)):
        raise HubLockError(f"{repo_id}@{requested} resolved to {sha!r}, not a 40-hex sha")
    return sha


def _key(repo_id: str, repo_type: str, requested: str) -> Key:
    if repo_type not in REPO_TYPES:
        raise HubLockError(f"repo_type {repo_type!r} is not model or dataset")
    if not repo_id or not requested or any(c in repo_id + requested for c in "\t\r\n"):
        raise HubLockError(f"repo_id {repo_id!r} / revision {requested!r} cannot go in the lock")
    return (repo_type, repo_id, requested)


def resolve(
    repo_id: str,
    repo_type: str,
    requested: str,
    lock_path: str | Path,
    *,
    accept_update: bool = False,
    resolver: Resolver | None = None,
) -> str:
    """The commit to download: the locked one, else resolve ``requested`` on the Hub and record it.

    With ``accept_update`` (or ``TINA_HUB_LOCK_UPDATE=1``) a locked row is re-resolved instead.
    """
    key = _key(repo_id, repo_type, requested)
    if is_commit(requested):
        return requested
    accept = accept_update or accept_update_from_env()
    if not accept and (locked := read_lock(lock_path).get(key)) is not None:
        return locked.commit
    sha = _sha((resolver or hub_commit)(repo_id, repo_type, requested), repo_id, requested)
    with _locked(lock_path) as entries:
        if not accept and key in entries:
            return entries[key].commit  # another job recorded it while we asked the Hub
        _record(entries, key, sha)
    return sha


def check_resolved(
    repo_id: str,
    repo_type: str,
    requested: str,
    resolved_commit: str,
    lock_path: str | Path,
    *,
    accept_update: bool = False,
) -> None:
    """After a download resolved ``requested`` to ``resolved_commit``: record it, or catch drift."""
    key = _key(repo_id, repo_type, requested)
    if is_commit(requested):
        return
    sha = _sha(resolved_commit, repo_id, requested)
    with _locked(lock_path) as entries:
        locked = entries.get(key)
        accept = accept_update or accept_update_from_env()
        if locked is not None and locked.commit != sha and not accept:
            raise HubLockError(
                f"{repo_type} {repo_id}@{requested} resolved to {sha} but {lock_path} locks "
                f"{locked.commit}; to accept the change deliberately set {UPDATE_ENV}=1 "
                f"(or run: tina-repro hub-lock --update {repo_id})"
            )
        _record(entries, key, sha)


def update_repo(
    repo_id: str, lock_path: str | Path, *, resolver: Resolver | None = None
) -> dict[Key, str]:
    """Deliberately re-resolve every locked revision of ``repo_id``; returns {key: new commit}."""
    keys = [key for key in read_lock(lock_path) if key[1] == repo_id]
    if not keys:
        raise HubLockError(f"{lock_path} has no row for {repo_id}")
    return {
        key: resolve(repo_id, key[0], key[2], lock_path, accept_update=True, resolver=resolver)
        for key in keys
    }
