# Tables (and later figures) built from scores and training logs, next to the paper's numbers.
# Each table depends only on the runs it shows, so a dry-run says which experiments it waits for.


rule collect_run_scores:
    input:
        manifest="results/train/{experiment}/manifest.json",
        scores=run_score_files,
    output:
        "results/scores/{experiment}.csv",
    log:
        "logs/collect_run_scores/{experiment}.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/collect_scores.py"


rule collect_baseline_scores:
    input:
        scores=baseline_score_files(),
    output:
        "results/scores/baselines.csv",
    log:
        "logs/collect_baseline_scores.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/collect_scores.py"


rule checkpoints_table:
    input:
        runs=run_tables(EXPERIMENTS),
        baselines="results/scores/baselines.csv",
    output:
        "results/tables/checkpoints.csv",
    log:
        "logs/tables/checkpoints.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_table.py"


rule main_table:
    input:
        runs=run_tables(MAIN_EXPERIMENTS),
        baselines="results/scores/baselines.csv",
    output:
        "results/tables/main.csv",
    log:
        "logs/tables/main.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_table.py"


rule ablations_table:
    input:
        runs=run_tables(ABLATION_EXPERIMENTS),
    output:
        "results/tables/ablations.csv",
    log:
        "logs/tables/ablations.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_table.py"


rule costs_table:
    input:
        runs=run_tables(EXPERIMENTS),
        baselines="results/scores/baselines.csv",
    output:
        "results/tables/costs.csv",
    log:
        "logs/tables/costs.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_table.py"


rule flops_table:
    input:
        manifests=expand("results/train/{experiment}/manifest.json", experiment=EXPERIMENTS),
    output:
        "results/tables/flops.csv",
    log:
        "logs/tables/flops.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_table.py"
