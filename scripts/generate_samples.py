"""Snakemake entry: generate completions of one model on one benchmark (resumable)."""

from tina_repro import generation, logs

logs.setup(snakemake.log[0])
generation.generate_benchmark(
    benchmark_parquet=snakemake.input.benchmark,
    model_dir=snakemake.params.model["model"],
    adapter_dir=snakemake.params.model["adapter"],
    settings=snakemake.params.generation,
    out_path=snakemake.output.samples,
)
