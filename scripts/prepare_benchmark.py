"""Snakemake entry: load one benchmark, render Tina's prompts, check its size, write Parquet."""

from pathlib import Path

from tina_repro import logs
from tina_repro.config import Benchmark
from tina_repro.config.rows import from_params
from tina_repro.data.prepare import prepare_benchmark

logs.setup(snakemake.log[0])
prepare_benchmark(
    from_params(Benchmark, snakemake.params.spec),
    snakemake.params.templates,
    snakemake.params.seed,
    snakemake.output.parquet,
    snakemake.output.report,
    failure_report=Path(snakemake.log[0]).with_suffix(".report.json"),
)
