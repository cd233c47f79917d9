"""Snakemake entry: gather the score.json files of one run (or of the baselines) into a CSV."""

from tina_repro import logs
from tina_repro.results.collect import collect_scores

logs.setup(snakemake.log[0])
collect_scores(snakemake.input.scores, snakemake.output[0])
