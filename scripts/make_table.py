"""Snakemake entry: build one of the paper's tables (named by its output file) from collected
scores."""

from tina_repro import logs
from tina_repro.config import from_sheet_params
from tina_repro.results.make_table import make_table

logs.setup(snakemake.log[0])
make_table(
    dict(snakemake.input.items()),
    snakemake.output.csv,
    from_sheet_params(snakemake.config, snakemake.params.sheets),
)
