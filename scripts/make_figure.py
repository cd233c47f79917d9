"""Snakemake entry: draw one of the paper's figures (named by its output file) as PDF and PNG."""

from tina_repro import logs
from tina_repro.figures.make_figure import figure_name, make_figure

logs.setup(snakemake.log[0])
make_figure(
    figure_name(snakemake.output.png),
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    dict(snakemake.params.items()),
    snakemake.config,
)
