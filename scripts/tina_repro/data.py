"""Data stage: every training set and benchmark in one normalized, checked Parquet form.

Training sets become ``row_id, problem, solution`` rows, reproducing the column handling of Tina's
``grpo.py`` (TINA.md §1.4) through the sheet's declarative mapping, with no per-dataset code:
``problem_column`` becomes ``problem``, ``solution_column`` becomes ``solution``, wrapped as
``$<value>$`` when ``wrap_solution`` is true. DeepScaleR's special case in grpo.py (its worked
``solution`` archived, ``answer`` wrapped as the gold) is therefore just the row
``solution_column=answer, wrap_solution=true``.

Benchmarks become ``id, problem, answer, prompt, choices, correct_letter`` rows with the prompt
rendered from Tina's templates (TINA.md §2.2). For GPQA the correct answer is inserted among the
three incorrect ones (in their column order) at ``randint(0, 3)``, drawn once per source row in
order from a generator seeded once with ``seed``: lighteval's ``gpqa_prompt_fn`` with
``random.seed(1234)``; ``answer`` is then the correct letter. (lighteval of the paper's era builds
its documents before its ``random.seed(1234)`` call, so with ``data_parallel_size=2`` the paper's
own option order was most likely unseeded; this fixed order is the reproducible stand-in.)

``row_id`` / ``id`` is the row's 0-based position in the source split as loaded: every dataset has
one (their own id columns differ or are missing), and it is stable for a pinned revision.

Nothing is lost silently: a row with an empty problem, an empty gold, or a gold that math-verify
cannot parse is dropped and counted by reason; more than 1% dropped, no rows kept, or a benchmark
whose size differs from ``expected_size`` raises :class:`DataError`. Training golds are parsed
exactly as Tina's accuracy reward parses them (``parse(gold, extraction_mode="first_match")``), so a
kept row never yields a ``None`` reward for its gold. Unlike grpo.py, a missing gold is dropped
rather than wrapped into ``$None$`` (which math-verify would parse as a product of symbols).

Sources are Hub ids loaded with ``datasets.load_dataset`` (``HF_TOKEN`` from the environment,
never logged or written), or ``local:PATH`` for a Parquet, JSONL, JSON or CSV file. A Hub that
cannot be reached, or a gated repository without a usable token, raises :class:`DataError` saying
what to do.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

logger = logging.getLogger(__name__)

LOCAL_PREFIX = "local:"
MAX_DROP_FRACTION = 0.01
# Columns of the GPQA schema (Idavidrein/gpqa) besides the sheet's problem/answer columns.
GPQA_INCORRECT_COLUMNS = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
LETTERS = "ABCD"
# lighteval's gold extraction per gold_format (Tina's run_post_train_eval.py, TINA.md §2.2).
GOLD_EXTRACTION = {"expr": [ExprExtractionConfig()], "latex": [LatexExtractionConfig()]}

TRAINING_SCHEMA = pa.schema(
    [("problem", pa.string()), ("solution", pa.string()), ("row_id", pa.int64())]
)
BENCHMARK_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("problem", pa.string()),
        ("answer", pa.string()),
        ("prompt", pa.string()),
        ("choices", pa.list_(pa.string())),
        ("correct_letter", pa.string()),
    ]
)

_COMMIT = re.compile(r"[0-9a-f]{40}")


class DataError(RuntimeError):
    """A dataset, benchmark or model could not be prepared; the message says why and what to do.

    ``report`` holds the counts gathered before the failure (``None`` if nothing was read), so a
    caller can still write them out.
    """

    def __init__(self, message: str, report: dict | None = None):
        super().__init__(message)
        self.report = report


# ---------------------------------------------------------------------------------------------
# Loading


def load_source(spec: dict) -> pd.DataFrame:
    """Load the rows of one sheet row's source as a DataFrame, in source order.

    ``df.attrs`` carries ``revision_resolved`` (the Hub dataset's commit sha, when known) and, for a
    local file, ``source_sha256``.
    """
    source = spec["source"]
    if source.startswith(LOCAL_PREFIX):
        return _load_local(spec["name"], Path(source[len(LOCAL_PREFIX) :]))
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


def _load_hub(spec: dict) -> pd.DataFrame:
    import datasets  # deferred: heavy import, unused for local sources

    name, source = spec["name"], spec["source"]
    try:
        ds = datasets.load_dataset(
            source,
            name=spec.get("config") or None,
            split=spec["split"],
            revision=spec.get("revision") or None,
            token=os.environ.get("HF_TOKEN") or None,
        )
    except Exception as err:  # every failure becomes one DataError that names the dataset
        raise _hub_failure(name, source, err, repo_type="dataset") from err
    needed = [c for c in _source_columns(spec) if c in ds.column_names]
    if len(needed) == len(_source_columns(spec)):
        # Big sets (OpenR1: long generations) load only the mapped columns into memory.
        ds = ds.select_columns(needed)
    df = ds.to_pandas()
    df.attrs["revision_resolved"] = _commit_of(ds)
    return df


def _commit_of(ds) -> str | None:
    """The dataset's Hub commit: datasets caches Hub data under ``.../<version>/<commit sha>/``."""
    for cache_file in getattr(ds, "cache_files", None) or []:
        folder = Path(cache_file["filename"]).parent.name
        if _COMMIT.fullmatch(folder):
            return folder
    return None


def _source_columns(spec: dict) -> list[str]:
    """The source columns a sheet row maps; GPQA rows also need the incorrect answers."""
    if "solution_column" in spec:
        return [spec["problem_column"], spec["solution_column"]]
    columns = [spec["problem_column"], spec["answer_column"]]
    if spec.get("template") == "gpqa":
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


def _hub_failure(name: str, source: str, err: BaseException, repo_type: str) -> DataError:
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


# ---------------------------------------------------------------------------------------------
# Normalization


def _cell_text(value: Any) -> tuple[str | None, str | None]:
    """(text, issue): a cell as text, or the reason it is unusable ('empty' or 'not_text').

    Numbers count as text (``str(27)``, as grpo.py's f-string wrapping would render them).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, "empty"
    if isinstance(value, str):
        return (value, None) if value.strip() else (None, "empty")
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return str(value), None
    return None, "not_text"


def _base_report(spec: dict, kind: str) -> dict:
    return {
        "name": spec["name"],
        "kind": kind,
        "source": spec["source"],
        "config": spec.get("config"),
        "split": spec.get("split"),
        "revision_requested": spec.get("revision"),
        "revision_resolved": None,
        "source_sha256": None,
        "rows_read": None,
        "rows_kept": None,
        "drops": {},
        "drop_examples": {},
        "columns": {},
        "parquet_sha256": None,
        "status": None,
        "error": None,
    }


def _count_drops(report: dict, dropped: list[tuple[int, str]]) -> None:
    counts = Counter(reason for _, reason in dropped)
    report["drops"] = dict(sorted(counts.items()))
    examples: dict[str, list[int]] = {}
    for row, reason in dropped:
        if len(examples.setdefault(reason, [])) < 5:
            examples[reason].append(row)
    report["drop_examples"] = dict(sorted(examples.items()))
    if dropped:
        logger.warning(
            "%s: dropped %d of %d rows: %s",
            report["name"],
            len(dropped),
            report["rows_read"],
            ", ".join(f"{k}={v}" for k, v in report["drops"].items()),
        )


def _check(report: dict, expected_size: int | None = None) -> None:
    """Raise DataError (carrying ``report``) when too much was dropped or the size is wrong."""
    name, read, kept = report["name"], report["rows_read"], report["rows_kept"]
    drops = ", ".join(f"{k}={v}" for k, v in report["drops"].items()) or "none"
    problem = None
    if read == 0:
        problem = "the source has no rows"
    elif kept == 0:
        problem = f"all {read} rows were dropped ({drops})"
    elif (read - kept) / read > MAX_DROP_FRACTION:
        problem = (
            f"{read - kept} of {read} rows dropped ({100 * (read - kept) / read:.2f}% > "
            f"{100 * MAX_DROP_FRACTION:g}%): {drops}; first dropped rows: {report['drop_examples']}"
        )
    elif expected_size is not None and kept != expected_size:
        problem = (
            f"{kept} rows kept (of {read} read; drops: {drops}) but expected_size is "
            f"{expected_size}: wrong split, config or revision?"
        )
    if problem:
        raise DataError(f"{name}: {problem}", report=report)


def _start(df: pd.DataFrame, spec: dict, kind: str) -> dict:
    report = _base_report(spec, kind)
    report["revision_resolved"] = df.attrs.get("revision_resolved")
    report["source_sha256"] = df.attrs.get("source_sha256")
    report["rows_read"] = len(df)
    missing = [c for c in _source_columns(spec) if c not in df.columns]
    if missing:
        raise DataError(
            f"{spec['name']}: source '{spec['source']}' has no column(s) {missing}; "
            f"its columns are {list(df.columns)}. Fix the column mapping in the sheet.",
            report=report,
        )
    return report


def normalize_training(df: pd.DataFrame, spec: dict) -> tuple[pd.DataFrame, dict]:
    """Map a training set onto ``problem, solution, row_id`` and check it.

    Returns the rows kept and the report; raises DataError (with ``.report``) when a check fails.
    """
    report = _start(df, spec, "training")
    problem_col, solution_col = spec["problem_column"], spec["solution_column"]
    wrap = bool(spec["wrap_solution"])
    report["columns"] = {
        "problem": problem_col,
        "solution": solution_col,
        "wrap_solution": wrap,
    }
    rows, dropped = [], []
    for position, (problem_cell, solution_cell) in enumerate(
        zip(df[problem_col].tolist(), df[solution_col].tolist(), strict=True)
    ):
        problem, issue = _cell_text(problem_cell)
        if issue:
            dropped.append((position, f"problem_{issue}"))
            continue
        solution, issue = _cell_text(solution_cell)
        if issue:
            dropped.append((position, f"solution_{issue}"))
            continue
        if wrap:
            solution = f"${solution}$"
        # Tina's accuracy reward parses the gold exactly so (TINA.md §1.6).
        if not parse(solution, extraction_mode="first_match"):
            dropped.append((position, "solution_unparseable"))
            continue
        rows.append((problem, solution, position))
    out = pd.DataFrame(rows, columns=["problem", "solution", "row_id"]).astype({"row_id": "int64"})
    report["rows_kept"] = len(out)
    _count_drops(report, dropped)
    _check(report)
    return out, report


def normalize_benchmark(
    df: pd.DataFrame, spec: dict, templates: dict, seed: int
) -> tuple[pd.DataFrame, dict]:
    """Map a benchmark onto ``id, problem, answer, prompt, choices, correct_letter`` and check it.

    ``templates`` maps template names (``math``, ``gpqa``) to Tina's prompt templates, rendered with
    ``str.format(Question=..., A=..., B=..., C=..., D=...)``; ``seed`` fixes the GPQA option order.
    Raises DataError (with ``.report``) when a check fails, the size included.
    """
    report = _start(df, spec, "benchmark")
    template_name = spec["template"]
    if template_name not in templates:
        raise DataError(
            f"{spec['name']}: no prompt template '{template_name}' in the config", report=report
        )
    template = templates[template_name]
    problem_col, answer_col = spec["problem_column"], spec["answer_column"]
    gold_format = spec["gold_format"]
    is_choice = template_name == "gpqa"
    if is_choice != (gold_format == "letter"):
        raise DataError(
            f"{spec['name']}: gold_format '{gold_format}' does not fit template '{template_name}' "
            "(the gpqa template, and only it, has letter golds)",
            report=report,
        )
    report["columns"] = {
        "problem": problem_col,
        "answer": answer_col,
        "template": template_name,
        "gold_format": gold_format,
    }
    if is_choice:
        report["columns"]["incorrect_answers"] = list(GPQA_INCORRECT_COLUMNS)
        report["seed"] = seed
    report["expected_size"] = spec["expected_size"]

    rng = random.Random(seed)
    rows, dropped = [], []
    for position, record in enumerate(df.to_dict("records")):
        # Drawn for every source row, dropped or not, so each row's letter matches lighteval's.
        gold_index = rng.randint(0, 3) if is_choice else None
        problem, issue = _cell_text(record[problem_col])
        if issue:
            dropped.append((position, f"problem_{issue}"))
            continue
        answer, issue = _cell_text(record[answer_col])
        if issue:
            dropped.append((position, f"answer_{issue}"))
            continue
        if is_choice:
            options = [_cell_text(record[c]) for c in GPQA_INCORRECT_COLUMNS]
            bad = next((i for _, i in options if i), None)
            if bad:
                dropped.append((position, f"choice_{bad}"))
                continue
            choices = [text for text, _ in options]
            choices.insert(gold_index, answer)
            letter = LETTERS[gold_index]
            prompt = template.format(Question=problem, **dict(zip(LETTERS, choices, strict=True)))
            rows.append((position, problem, letter, prompt, choices, letter))
            continue
        if not parse(answer, extraction_config=GOLD_EXTRACTION[gold_format]):
            dropped.append((position, "answer_unparseable"))
            continue
        rows.append((position, problem, answer, template.format(Question=problem), None, None))
    out = pd.DataFrame(rows, columns=BENCHMARK_SCHEMA.names).astype({"id": "int64"})
    report["rows_kept"] = len(out)
    _count_drops(report, dropped)
    _check(report, expected_size=spec["expected_size"])
    return out, report


# ---------------------------------------------------------------------------------------------
# Preparation (what the Snakemake rules call)


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: str | Path, document: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _prepare(spec: dict, normalize, schema: pa.Schema, parquet_path, report_path, kind) -> dict:
    """Load, normalize and check; write Parquet and report, or the report and raise."""
    report = _base_report(spec, kind)
    try:
        out, report = normalize(load_source(spec))
        parquet_path = Path(parquet_path)
        parquet_path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(out, schema=schema, preserve_index=False), parquet_path)
        report["parquet_sha256"] = sha256_file(parquet_path)
        report["status"] = "ok"
    except DataError as err:
        report = err.report or report
        report["status"] = "failed"
        report["error"] = str(err)
        _write_json(report_path, report)
        logger.error("%s", err)
        raise
    _write_json(report_path, report)
    logger.info(
        "%s: %d of %d rows kept -> %s",
        spec["name"],
        report["rows_kept"],
        report["rows_read"],
        parquet_path,
    )
    return report


def prepare_training_dataset(spec: dict, parquet_path, report_path) -> dict:
    """Prepare one datasets.tsv row: ``problem, solution, row_id`` Parquet plus its report."""
    return _prepare(
        spec,
        lambda df: normalize_training(df, spec),
        TRAINING_SCHEMA,
        parquet_path,
        report_path,
        "training",
    )


def prepare_benchmark(spec: dict, templates: dict, seed: int, parquet_path, report_path) -> dict:
    """Prepare one benchmarks.tsv row: rendered prompts and golds as Parquet, plus its report."""
    return _prepare(
        spec,
        lambda df: normalize_benchmark(df, spec, templates, seed),
        BENCHMARK_SCHEMA,
        parquet_path,
        report_path,
        "benchmark",
    )


# ---------------------------------------------------------------------------------------------
# Models


def download_model(source: str, revision: str | None, out_dir, manifest_path=None) -> dict:
    """Make a model (or adapter) repository available in ``out_dir`` and write its manifest.

    Hub ids: the revision is resolved to its commit, then ``snapshot_download(local_dir=out_dir)``
    fetches that commit. With ``HF_HUB_OFFLINE=1`` the snapshot comes from the Hugging Face cache
    (HF_HOME) instead and ``out_dir`` gets symlinks to its files. ``local:PATH`` folders are linked
    file by file (symlinks, no copy: the source folder must stay in place). The manifest
    (``out_dir/manifest.json`` unless ``manifest_path`` is given) is written last, so it exists
    only for a complete download.
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
        resolved = _snapshot(source, revision, out)
    manifest_path = Path(manifest_path) if manifest_path else out / "manifest.json"
    files = sorted(
        p
        for p in out.rglob("*")
        if (p.is_file() and ".cache" not in p.relative_to(out).parts and p != manifest_path)
    )
    manifest = {
        "source": source,
        "revision_requested": revision,
        "revision_resolved": resolved,
        "files": [{"path": str(p.relative_to(out)), "size": p.stat().st_size} for p in files],
    }
    _write_json(manifest_path, manifest)
    return manifest


def _snapshot(source: str, revision: str | None, out: Path) -> str:
    """Fetch a Hub repository into ``out``; returns the commit sha fetched."""
    from huggingface_hub import HfApi, constants, snapshot_download

    token = os.environ.get("HF_TOKEN") or None
    try:
        if constants.is_offline_mode():
            cached = Path(snapshot_download(source, revision=revision, local_files_only=True))
            _link_files(cached, out)
            return cached.name  # the cache keeps snapshots under snapshots/<commit sha>/
        commit = HfApi(token=token).model_info(source, revision=revision).sha
        snapshot_download(source, revision=commit, local_dir=out, token=token)
        return commit
    except Exception as err:  # every failure becomes one DataError that names the model
        raise _hub_failure(source, source, err, repo_type="model") from err


def _link_files(folder: Path, out: Path) -> None:
    for path in sorted(folder.resolve().rglob("*")):
        if path.is_dir() or ".cache" in path.relative_to(folder.resolve()).parts:
            continue
        target = out / path.relative_to(folder.resolve())
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        target.symlink_to(path)
