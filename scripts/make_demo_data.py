"""Snakemake entry: write the demo's local benchmarks, RL training set and teacher traces."""

from tina_repro import demo, logs

logs.setup(snakemake.log[0])
demo.write_demo_data(
    snakemake.output.train,
    snakemake.output.sft,
    {1: snakemake.output.bench_l1, 2: snakemake.output.bench_l2, 3: snakemake.output.bench_l3},
)
