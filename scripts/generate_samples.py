"""Snakemake entry: generate completions of one model on one benchmark (resumable).

Under a main guard because vLLM may start its engine in a spawned process, which re-imports this
file.
"""

from tina_repro import logs
from tina_repro.eval.generate import generate_benchmark

if __name__ == "__main__":
    logs.setup(snakemake.log[0])
    generate_benchmark(
        benchmark_parquet=snakemake.input.benchmark,
        model_dir=snakemake.params.model["model"],
        adapter_dir=snakemake.params.model["adapter"],
        settings=snakemake.params.generation,
        out_path=snakemake.output.samples,
        gold_format=snakemake.params.gold_format,
    )
