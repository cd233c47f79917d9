"""Snakemake entry: generate completions of one model on every benchmark (resumable).

Under a main guard because vLLM may start its engine in a spawned process, which re-imports this
file.
"""

import sys
from pathlib import Path

from tina_repro import locks, logs
from tina_repro.config import EvaluationSettings
from tina_repro.eval.generate import BenchmarkTask, generate_model

if __name__ == "__main__":
    logs.setup(snakemake.log[0], keep_sessions=True)
    gold_formats = snakemake.params.gold_formats
    tasks = [
        BenchmarkTask(name, Path(parquet), gold_formats[name], Path(samples))
        for name, parquet, samples in zip(
            gold_formats, snakemake.input.benchmarks, snakemake.output.samples, strict=True
        )
    ]
    try:
        generate_model(
            model_dir=snakemake.params.model["model"],
            adapter_dir=snakemake.params.model["adapter"],
            tasks=tasks,
            # The model's prompt tokens (a baselines row may have its own) are in its sampling
            # params, which rerun the job; every other value is the config's.
            settings=EvaluationSettings.of(snakemake.config["evaluation"]).for_model(
                snakemake.params.sampling["prompt_tokens"]
            ),
            record_path=snakemake.output.record,
        )
    except locks.AlreadyRunningError as error:
        sys.exit(str(error))
