"""Loading a training set or benchmark from the Hub or from a local file, with clear failures.

Sources are Hub dataset ids loaded with ``datasets.load_dataset`` (``HF_TOKEN`` from the
environment, never logged or written), or ``local:PATH`` for a Parquet, JSONL, JSON or CSV file.
A Hub that cannot be reached, or a gated repository without a usable token, raises
:class:`DataError` saying what to do. Every Hub download (datasets, benchmarks, models, adapters)
goes through :func:`locked_download`, which reads the commit pinned in config/hub.lock.tsv.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pandas as pd
import pyarrow as pa
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError

from tina_repro import hub_lock
from tina_repro.config import Benchmark, Dataset
from tina_repro.errors import UserError
from tina_repro.files import sha256_file

logger = logging.getLogger(__name__)

LOCAL_PREFIX = "local:"
# Columns of the GPQA schema (Idavidrein/gpqa) besides the sheet's problem/answer columns.
GPQA_INCORRECT_COLUMNS = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
# A sheet's column may be a path into a nested cell, its steps joined by this separator.
PATH_SEPARATOR = "."
_COMMIT = re.compile(r"[0-9a-f]{40}")
Fetched = TypeVar("Fetched")


class DataError(UserError, RuntimeError):
    """A dataset, benchmark or model could not be prepared; the message says why and what to do.

    ``report`` holds the counts gathered before the failure (``None`` if nothing was read), so a
    caller can still write them out.
    """

    def __init__(self, message: str, report: dict | None = None):
        super().__init__(message)
        self.report = report


# ---------------------------------------------------------------------------------------------
# Loading


def load_source(spec: Dataset | Benchmark) -> pd.DataFrame:
    """Load the rows of one sheet row's source as a DataFrame, in source order.

    ``df.attrs`` carries ``revision_resolved`` (the Hub dataset's commit sha, when known) and, for a
    local file, ``source_sha256``.
    """
    if spec.source.startswith(LOCAL_PREFIX):
        return _load_local(spec.name, Path(spec.source[len(LOCAL_PREFIX) :]))
    return _load_hub(spec)


def _load_local(name: str, path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{name}: local source file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            df = pd.read_parquet(path)
        elif suffix in (".jsonl", ".json"):
            with path.open() as handle:
                is_array = handle.read(4096).lstrip().startswith("[")
            # dtype/convert_dates off: keep answers such as "007" or a "date" column as written.
            df = pd.read_json(path, lines=not is_array, dtype=False, convert_dates=False)
        elif suffix == ".csv":
            # All cells as text; an empty cell stays "" so it is counted as empty, not NaN.
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            raise DataError(
                f"{name}: local source {path} has an unsupported extension "
                "(use .parquet, .jsonl, .json or .csv)"
            )
    except (ValueError, OSError, pa.ArrowException) as err:
        raise DataError(f"{name}: cannot read local source {path}: {err}") from err
    df.attrs["revision_resolved"] = None
    df.attrs["source_sha256"] = sha256_file(path)
    return df


def _load_hub(spec: Dataset | Benchmark) -> pd.DataFrame:
    import datasets  # deferred: heavy import, unused for local sources

    name, source = spec.name, spec.source

    def fetch(revision: str):
        try:
            ds = datasets.load_dataset(
                source,
                name=spec.config or None,
                split=spec.split,
                revision=revision,
                token=os.environ.get("HF_TOKEN") or None,
            )
        except Exception as err:  # every failure becomes one DataError that names the dataset
            raise hub_failure(name, source, err, repo_type="dataset") from err
        return ds, _commit_of(ds)

    ds, commit = locked_download(name, source, "dataset", spec.revision, fetch)
    needed = [c for c in source_columns(spec) if c in ds.column_names]
    if len(needed) == len(source_columns(spec)):
        # Big sets (OpenR1: long generations) load only the mapped columns into memory.
        ds = ds.select_columns(needed)
    df = ds.to_pandas()
    df.attrs["revision_resolved"] = commit
    return df


def locked_download(
    name: str,
    repo_id: str,
    repo_type: str,
    requested: str | None,
    fetch: Callable[[str], tuple[Fetched, str | None]],
) -> tuple[Fetched, str | None]:
    """Download a Hub repository at the commit the Hub lock holds for ``requested``.

    ``fetch(revision)`` downloads and returns (what it got, the commit it read or None). Online,
    the first download resolves ``requested`` (default ``main``) and records its commit, and every
    later one fetches that commit, wherever the branch has moved since. Offline (HF_HUB_OFFLINE=1)
    the locked commit is asked of the cache. Either way, a download that read another commit than
    the locked one stops with one line naming both and how to accept the change (hub_lock).
    """
    from huggingface_hub import constants

    lock_path, requested = hub_lock.lock_file(), requested or "main"
    try:
        if hub_lock.is_commit(requested):
            revision = requested
        elif constants.is_offline_mode():  # the cache says which commit a branch is at
            locked = hub_lock.read_lock(lock_path).get((repo_type, repo_id, requested))
            accept = hub_lock.accept_update_from_env()
            revision = locked.commit if locked and not accept else requested
        else:
            revision = hub_lock.resolve(
                repo_id, repo_type, requested, lock_path, resolver=hub_resolver(name)
            )
        fetched, commit = fetch(revision)
        commit = commit or (revision if hub_lock.is_commit(revision) else None)
        if commit is None:  # e.g. a cache layout that does not name its commit
            logger.warning(
                "%s: %s@%s read, but its commit is unknown: not locked", name, repo_id, requested
            )
        else:
            hub_lock.check_resolved(repo_id, repo_type, requested, commit, lock_path)
    except hub_lock.HubLockError as err:
        raise DataError(f"{name}: {err}") from None
    return fetched, commit


def hub_resolver(name: str) -> hub_lock.Resolver:
    """``hub_lock.hub_commit`` whose failures are one DataError naming ``name``."""

    def resolve_on_hub(repo_id: str, repo_type: str, requested: str) -> str:
        try:
            return hub_lock.hub_commit(repo_id, repo_type, requested)
        except Exception as err:
            raise hub_failure(name, repo_id, err, repo_type=repo_type) from err

    return resolve_on_hub


def _commit_of(ds) -> str | None:
    """The dataset's Hub commit: datasets caches Hub data under ``.../<version>/<commit sha>/``."""
    for cache_file in getattr(ds, "cache_files", None) or []:
        folder = Path(cache_file["filename"]).parent.name
        if _COMMIT.fullmatch(folder):
            return folder
    return None


def split_column_path(path: str) -> tuple[str, tuple[str | int, ...]]:
    """``"messages.0.content"`` -> ``("messages", (0, "content"))``: the source column and the
    steps into its cells (a whole number indexes a list, anything else is a mapping key)."""
    column, *steps = path.split(PATH_SEPARATOR)
    return column, tuple(int(step) if step.isdigit() else step for step in steps)


def follow_path(cell: Any, steps: tuple[str | int, ...]) -> Any:
    """The value ``steps`` lead to inside ``cell``; a string on the way is decoded as JSON (the
    II-Thought sets keep their gold in a JSON string). Raises ``LookupError`` when a step does not
    exist and ``ValueError`` for a string that is not JSON."""
    for step in steps:
        if isinstance(cell, str):
            cell = json.loads(cell)
        if isinstance(step, int):
            if isinstance(cell, str | bytes | Mapping) or not hasattr(cell, "__getitem__"):
                raise LookupError(f"index {step} of a {type(cell).__name__}")
            cell = cell[step]
        elif isinstance(cell, Mapping):
            cell = cell[step]
        else:
            raise LookupError(f"key {step!r} of a {type(cell).__name__}")
    return cell


def source_columns(spec: Dataset | Benchmark) -> list[str]:
    """The source columns a sheet row maps (the first step of a path); GPQA rows also need the
    incorrect answers."""
    if isinstance(spec, Dataset):
        return [split_column_path(c)[0] for c in (spec.problem_column, spec.solution_column)]
    columns = [spec.problem_column, spec.answer_column]
    if spec.template == "gpqa":
        columns += list(GPQA_INCORRECT_COLUMNS)
    return columns


def _exception_chain(err: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    while err is not None and err not in chain:
        chain.append(err)
        err = err.__cause__ or err.__context__
    return chain


def _refusal(err: BaseException) -> str | None:
    """'gated' or 'denied' if the Hub refused access, else None."""
    if isinstance(err, GatedRepoError):
        return "gated"
    # datasets re-raises a gated repository as DatasetNotFoundError("... is a gated dataset ...")
    # with its cause dropped, so the message is all that is left.
    if type(err).__name__ == "DatasetNotFoundError" and "gated" in str(err):
        return "gated"
    if isinstance(err, HfHubHTTPError) and err.response is not None:
        if err.response.status_code in (401, 403):
            return "denied"
    return None


def _unreachable(err: BaseException) -> bool:
    return isinstance(
        err, (ConnectionError, httpx.ConnectError, httpx.TimeoutException, LocalEntryNotFoundError)
    )


def hub_failure(name: str, source: str, err: BaseException, repo_type: str) -> DataError:
    chain = _exception_chain(err)
    page = f"https://huggingface.co/{'datasets/' if repo_type == 'dataset' else ''}{source}"
    refusals = [r for r in map(_refusal, chain) if r]
    if refusals:
        what = "is gated" if "gated" in refusals else "refused access (private, gated or missing)"
        if os.environ.get("HF_TOKEN"):
            hint = (
                "HF_TOKEN is set but was not accepted: check that its account has been granted "
                f"access at {page} and that the token can read it"
            )
        else:
            hint = (
                f"HF_TOKEN is not set: accept the terms at {page} with your account, then "
                "export HF_TOKEN=<a read token of that account> (read from the environment only, "
                "never written to any file)"
            )
        return DataError(f"{name}: the Hugging Face Hub {what} for '{source}'. {hint}.")
    if any(_unreachable(e) for e in chain):
        pointer = (
            "set its source to local:PATH (a .parquet, .jsonl, .json or .csv file with the same "
            "columns) in config/datasets.tsv or config/benchmarks.tsv"
            if repo_type == "dataset"
            else "set its source to local:PATH (a folder with the same files) in "
            "config/config.yaml or config/baselines.tsv"
        )
        return DataError(
            f"{name}: cannot reach '{source}' on the Hugging Face Hub "
            f"({type(err).__name__}: {err}). Either connect to the Hub, or {pointer}, or fill a "
            "Hugging Face cache on a connected machine (run this step there with the same "
            "HF_HOME) and run here with HF_HUB_OFFLINE=1 HF_HOME=<that cache>."
        )
    return DataError(f"{name}: loading '{source}' failed: {type(err).__name__}: {err}")
