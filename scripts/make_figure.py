"""Snakemake entry: draw one of the paper's figures (named by the rule) as PDF and PNG."""

from tina_repro import logs, plotting

logs.setup(snakemake.log[0])
plotting.make_figure(
    snakemake.rule,
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    dict(snakemake.params.items()),
    snakemake.config,
)
