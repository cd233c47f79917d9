"""Snakemake entry: snapshot one Hub model or adapter repository at its pinned revision."""

from tina_repro import data, logs

logs.setup(snakemake.log[0])
spec = snakemake.params.spec
data.download_model(spec["source"], spec["revision"], snakemake.params.out_dir)
