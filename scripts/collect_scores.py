"""Snakemake entry: gather the score.json files of one run (or of the baselines) into a CSV."""

from tina_repro import logs, results

logs.setup(snakemake.log[0])
results.collect_scores(snakemake.input.scores, snakemake.output[0])
