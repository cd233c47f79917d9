"""Snakemake entry: load one benchmark, render Tina's prompts, check its size, write Parquet."""

from tina_repro import data, logs

logs.setup(snakemake.log[0])
data.prepare_benchmark(
    snakemake.params.spec,
    snakemake.params.templates,
    snakemake.params.seed,
    snakemake.output.parquet,
    snakemake.output.report,
)
