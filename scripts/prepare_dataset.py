"""Snakemake entry: load one training set, map it onto problem/solution, check it, write Parquet."""

from pathlib import Path

from tina_repro import logs
from tina_repro.config import Dataset
from tina_repro.config.rows import from_params
from tina_repro.data.prepare import prepare_training_dataset

logs.setup(snakemake.log[0])
prepare_training_dataset(
    from_params(Dataset, snakemake.params.spec),
    snakemake.output.parquet,
    snakemake.output.report,
    # Snakemake deletes a failed job's outputs, never its log folder: the report stays readable.
    failure_report=Path(snakemake.log[0]).with_suffix(".report.json"),
)
