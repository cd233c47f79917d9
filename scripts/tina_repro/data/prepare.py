"""Preparation (what rules/data.smk calls): load, normalize, check, write Parquet and a report.

The report (``*.report.json``: counts, drops by reason with examples, resolved revision,
checksums) is written in every case, so a failure can be read after the job. A failed job's
report goes to ``failure_report`` when given: Snakemake deletes a failed job's outputs, so the
workflow keeps it beside the job's log (logs/prepare_*/{name}.report.json), and the error names it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tina_repro.config import Benchmark, Dataset
from tina_repro.data.normalize import (
    BENCHMARK_SCHEMA,
    TRAINING_SCHEMA,
    base_report,
    normalize_benchmark,
    normalize_training,
)
from tina_repro.data.sources import DataError, load_source
from tina_repro.files import atomic_path, sha256_file, write_json

logger = logging.getLogger(__name__)


def _prepare(
    spec: Dataset | Benchmark,
    normalize,
    schema: pa.Schema,
    parquet_path,
    report_path,
    kind,
    failure_report=None,
) -> dict:
    """Load, normalize and check; write Parquet and report, or the failure report and raise."""
    report = base_report(spec, kind)
    failure_report = Path(failure_report or report_path)
    try:
        out, report = normalize(load_source(spec))
        with atomic_path(parquet_path) as tmp:
            pq.write_table(pa.Table.from_pandas(out, schema=schema, preserve_index=False), tmp)
        report["parquet_sha256"] = sha256_file(parquet_path)
        report["status"] = "ok"
    except DataError as err:
        report = err.report or report
        failure = DataError(f"{err} (report: {failure_report})", report)
        report["status"] = "failed"
        report["error"] = str(failure)
        write_json(failure_report, report)
        raise failure from None
    if failure_report != Path(report_path):
        failure_report.unlink(missing_ok=True)  # an earlier failure's, now stale
    write_json(report_path, report)
    logger.info(
        "%s: %d of %d rows kept -> %s",
        spec.name,
        report["rows_kept"],
        report["rows_read"],
        parquet_path,
    )
    return report


def prepare_training_dataset(spec: Dataset, parquet_path, report_path, failure_report=None) -> dict:
    """Prepare one datasets sheet row: ``problem, solution, row_id`` Parquet plus its report."""
    return _prepare(
        spec,
        lambda df: normalize_training(df, spec),
        TRAINING_SCHEMA,
        parquet_path,
        report_path,
        "training",
        failure_report,
    )


def prepare_benchmark(
    spec: Benchmark, templates: dict, seed: int, parquet_path, report_path, failure_report=None
) -> dict:
    """Prepare one benchmarks sheet row: rendered prompts and golds as Parquet, plus its report.

    ``templates`` maps template names to prompt templates (only the row's is used)."""
    return _prepare(
        spec,
        lambda df: normalize_benchmark(df, spec, templates, seed),
        BENCHMARK_SCHEMA,
        parquet_path,
        report_path,
        "benchmark",
        failure_report,
    )
