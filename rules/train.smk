# LoRA-GRPO training, one job per experiment row. The declared outputs are a small manifest written
# last and the per-step log; checkpoint-N/ folders are not outputs, so Snakemake never deletes them
# and a rerun resumes. Params are the row and the config settings that shape training, nothing else.


checkpoint train_grpo:
    input:
        dataset=training_dataset,
        base_model=ancient(base_model_input()),
    output:
        manifest=paths.RUN_MANIFEST,
        log_history=paths.RUN_LOG_HISTORY,
    log:
        "logs/train_grpo/{experiment}.log",
    benchmark:
        "benchmarks/train_grpo/{experiment}.tsv"
    conda:
        training_env
    threads: training_threads
    resources:
        gpu=training_gpus,
    params:
        row=training_row,
        context=training_context,
        base_model_dir=model_dir_of,
        out_dir=subpath(output.manifest, parent=True),
    script:
        "../scripts/train_grpo.py"
