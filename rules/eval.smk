# Per-model evaluation. One generation job per evaluated model runs every benchmark through one
# engine start; grading stays a job per benchmark, so a grader change regrades without
# regenerating. {run}/{point} is {experiment}/step-N for a checkpoint, baseline/NAME otherwise.
# Each samples.jsonl is a link to a store file named by the samples' identity, which covers the
# evaluated weights by content (tina_repro/eval/store.py): adding a benchmark reruns the job, which
# links the finished benchmarks again and generates only the new one; a checkpoint replaced in
# place changes the weights param and regenerates.


include: "inputs/eval.smk"


rule generate_samples:
    input:
        unpack(evaluated_model),
    output:
        samples=expand(paths.SAMPLES, benchmark=BENCHMARKS, allow_missing=True),
        record=paths.GENERATION_RECORD,
    log:
        "logs/generate_samples/{run}/{point}.log",
    benchmark:
        paths.GENERATION_TIMING
    conda:
        jobs.conda_env(GENERATION_GPUS)
    threads: jobs.threads(GENERATION_GPUS)
    resources:
        gpu=GENERATION_GPUS,
    params:
        model=evaluated_model_dirs,
        weights=evaluated_weights,
        gold_formats=points.gold_formats(VALIDATED_CONFIG),
        sampling=generation_settings,
    script:
        "../scripts/generate_samples.py"


# Grading needs no GPU and little time: it runs on the host that drives the workflow.
rule grade_samples:
    input:
        samples=samples_to_grade,
        benchmark=paths.BENCHMARK_PARQUET,
    output:
        graded=paths.GRADED,
        score=paths.SCORE,
    log:
        "logs/grade_samples/{run}/{point}/{benchmark}.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    threads: VALIDATED_CONFIG.evaluation.grading_processes
    params:
        # What decides a grade: the reading and the time budget; never grading_processes.
        grading=grading.grading_settings(VALIDATED_CONFIG.evaluation),
    script:
        "../scripts/grade_samples.py"
