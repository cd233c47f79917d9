"""Snakemake entry: build the demo's tiny model and warm-start it on the teacher traces."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tina_repro import logs
from tina_repro.demo.warm_start import build_demo_base_model

logs.setup(snakemake.log[0])
build_demo_base_model(snakemake.input.sft, snakemake.output[0])
