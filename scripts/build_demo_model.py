"""Snakemake entry: build the demo's tiny model and warm-start it on the teacher traces."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tina_repro import demo, logs

logs.setup(snakemake.log[0])
demo.build_demo_base_model(snakemake.input.sft, snakemake.output[0])
