"""Snakemake entry: write the demo's local benchmarks, RL training set and teacher traces."""

from tina_repro import logs
from tina_repro.demo.demo_data import write_demo_data

logs.setup(snakemake.log[0])
write_demo_data(
    snakemake.output.train,
    snakemake.output.sft,
    {1: snakemake.output.bench_l1, 2: snakemake.output.bench_l2, 3: snakemake.output.bench_l3},
)
