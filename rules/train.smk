# LoRA-GRPO training, one job per experiment row. The declared output is a small manifest written
# last; checkpoint-N/ folders are not outputs, so Snakemake never deletes them and a rerun resumes.


checkpoint train_grpo:
    input:
        dataset=training_dataset,
        base_model=ancient(base_model_input()),
    output:
        manifest="results/train/{experiment}/manifest.json",
    log:
        "logs/train_grpo/{experiment}.log",
    benchmark:
        "benchmarks/train_grpo/{experiment}.tsv"
    conda:
        "../envs/gpu.yaml"
    resources:
        gpu=training_gpus,
    params:
        row=training_row,
        config=config,
        base_model_dir=model_dir_of,
        out_dir=subpath(output.manifest, parent=True),
    script:
        "../scripts/train_grpo.py"
