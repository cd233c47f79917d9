# Training sets, benchmarks and models from the Hub (or local:PATH sources), normalized and checked.


include: "inputs/data.smk"


rule prepare_dataset:
    input:
        unpack(source_inputs("datasets", "dataset")),
    output:
        parquet=paths.DATASET_PARQUET,
        report=paths.DATASET_REPORT,
    log:
        "logs/prepare_dataset/{dataset}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        spec=dataset_spec,
    script:
        "../scripts/prepare_dataset.py"


rule prepare_benchmark:
    input:
        unpack(source_inputs("benchmarks", "benchmark")),
    output:
        parquet=paths.BENCHMARK_PARQUET,
        report=paths.BENCHMARK_REPORT,
    log:
        "logs/prepare_benchmark/{benchmark}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        spec=benchmark_spec,
        templates=benchmark_templates,
        seed=VALIDATED_CONFIG.evaluation.seed,
    script:
        "../scripts/prepare_benchmark.py"


rule download_model:
    input:
        hub_lock=ancient(paths.HUB_LOCK),
    output:
        manifest=paths.MODEL_MANIFEST,
    log:
        "logs/download_model/{model}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        spec=lambda wildcards: HUB_MODELS[wildcards.model],
        out_dir=subpath(output.manifest, parent=True),
    script:
        "../scripts/download_model.py"
