"""Snakemake entry: load one training set, map it onto problem/solution, check it, write Parquet."""

from tina_repro import data, logs

logs.setup(snakemake.log[0])
data.prepare_training_dataset(
    snakemake.params.spec, snakemake.output.parquet, snakemake.output.report
)
