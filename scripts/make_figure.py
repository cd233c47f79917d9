"""Snakemake entry: draw one of the paper's figures (named by the rule) as PDF and PNG."""

from tina_repro import logs
from tina_repro.figures.make import make_figure

logs.setup(snakemake.log[0])
make_figure(
    snakemake.rule,
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    dict(snakemake.params.items()),
    snakemake.config,
)
