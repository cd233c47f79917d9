"""Snakemake entry: build one of the paper's tables (named by the rule) from collected scores."""

from tina_repro import logs
from tina_repro.config import from_sheet_params
from tina_repro.results.make import make_table

logs.setup(snakemake.log[0])
make_table(
    snakemake.rule,
    dict(snakemake.input.items()),
    snakemake.output.csv,
    from_sheet_params(snakemake.config, snakemake.params.sheets),
)
