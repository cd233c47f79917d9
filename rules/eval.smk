# Per-model evaluation: generation and grading are separate jobs, so a grader change regrades
# without regenerating. {run}/{point} is {experiment}/step-N for a checkpoint, baseline/NAME otherwise.


rule generate_samples:
    input:
        unpack(evaluated_model),
    output:
        samples=paths.SAMPLES,
    log:
        "logs/generate_samples/{run}/{point}/{benchmark}.log",
    benchmark:
        paths.GENERATION_TIMING
    conda:
        generation_env()
    threads: generation_threads()
    resources:
        gpu=generation_gpus(),
    params:
        model=evaluated_model_params,
        gold_format=benchmark_gold_format,
        generation=generation_settings(),
    script:
        "../scripts/generate_samples.py"


# Grading needs no GPU and little time: it runs on the host that drives the workflow.
rule grade_samples:
    input:
        samples=rules.generate_samples.output.samples,
        benchmark=paths.BENCHMARK_PARQUET,
    output:
        graded=paths.GRADED,
        score=paths.SCORE,
    log:
        "logs/grade_samples/{run}/{point}/{benchmark}.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    threads: config["evaluation"]["grading_processes"]
    params:
        processes=config["evaluation"]["grading_processes"],
    script:
        "../scripts/grade_samples.py"
