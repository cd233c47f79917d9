# LoRA-GRPO training, one job per experiment row. The declared outputs are a small manifest written
# last and the per-step log; checkpoint-N/ folders are not outputs, so Snakemake never deletes them
# and a rerun resumes. Params are the row and the config settings that shape training, and the
# base model's content; the trainer records the run's identity (tina_repro/train/identity.py) and
# moves a folder of another run, or of this run finished and forced again, aside before training.


include: "inputs/train.smk"


checkpoint train_grpo:
    input:
        # The prepared table is ancient and its report, which records the table's sha256, is not:
        # Snakemake compares a newer input's checksum with the one it recorded only for small files
        # (--max-checksum-file-size, 1 MB), so a dataset re-prepared with the same bytes, however
        # large, retrains nothing, and one with other bytes retrains.
        dataset=ancient(training_dataset(paths.DATASET_PARQUET)),
        dataset_report=training_dataset(paths.DATASET_REPORT),
        base_model=ancient(BASE_MODEL_INPUT),
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
        base_model=base_model_fingerprint,
        base_model_dir=lambda wildcards, input: model_dir_of_input(input.base_model),
        out_dir=subpath(output.manifest, parent=True),
    script:
        "../scripts/train_grpo.py"
