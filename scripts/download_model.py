"""Snakemake entry: snapshot one Hub model or adapter repository at its pinned revision."""

from tina_repro import logs
from tina_repro.data.models import download_hub_repository

logs.setup(snakemake.log[0])
spec = snakemake.params.spec
download_hub_repository(spec, snakemake.params.out_dir)
