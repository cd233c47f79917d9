"""Snakemake entry: grade generated samples and score them (pass@k, bootstrap CI)."""

import os

from tina_repro import logs
from tina_repro.eval.grade_samples import grade_and_score

logs.setup(snakemake.log[0])
grade_and_score(
    samples_path=snakemake.input.samples,
    benchmark_parquet=snakemake.input.benchmark,
    graded_path=snakemake.output.graded,
    score_path=snakemake.output.score,
    # The rule's threads (evaluation.grading_processes): how fast, never what, it grades.
    processes=snakemake.threads,
    timeout_s=snakemake.params.grading["timeout_s"],
    # The store file samples.jsonl links to: what eval.points.samples_to_grade checks.
    identity={
        **dict(snakemake.wildcards.items()),
        "samples_store": os.path.basename(os.path.realpath(snakemake.input.samples)),
    },
)
