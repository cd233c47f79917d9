# Tables (and later figures) built from scores and training logs, next to the paper's numbers.
# Each table depends only on the runs it shows, so a dry-run says which experiments it waits for.
# All are local rules: cheap pandas work on the host that drives the workflow, never a cluster job.
# Files written beside a declared output by the same job are read by convention, not declared:
# graded.jsonl beside each score.json (average CIs), log_history.csv beside each training manifest
# (FLOPs), and the Snakemake benchmark files of generate_samples (evaluation device-hours).


rule collect_run_scores:
    input:
        manifest="results/train/{experiment}/manifest.json",
        scores=run_score_files,
    output:
        "results/scores/{experiment}.csv",
    log:
        "logs/collect_run_scores/{experiment}.log",
    localrule: True
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
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/collect_scores.py"


rule checkpoints_table:
    input:
        runs=run_tables(EXPERIMENTS),
        baselines="results/scores/baselines.csv",
        manifests=expand("results/train/{experiment}/manifest.json", experiment=EXPERIMENTS),
    output:
        report(
            "results/tables/checkpoints.csv",
            caption="../report/checkpoints_table.rst",
            category="Tables",
            labels={"table": "every checkpoint"},
        ),
    log:
        "logs/tables/checkpoints.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_table.py"


rule main_table:
    input:
        runs=run_tables(MAIN_EXPERIMENTS),
        baselines="results/scores/baselines.csv",
        manifests=expand("results/train/{experiment}/manifest.json", experiment=MAIN_EXPERIMENTS),
        published=os.path.join(config["paper_results"], "tina_models.csv"),
        published_baselines=os.path.join(config["paper_results"], "baselines.csv"),
    output:
        report(
            "results/tables/main.csv",
            caption="../report/main_table.rst",
            category="Tables",
            labels={"table": "main (Tables 2-3)"},
        ),
    log:
        "logs/tables/main.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_table.py"


rule ablations_table:
    input:
        runs=run_tables(ABLATION_EXPERIMENTS),
        # the base model's graded samples, for each run's paired gain over it
        baselines="results/scores/baselines.csv",
        manifests=expand(
            "results/train/{experiment}/manifest.json", experiment=ABLATION_EXPERIMENTS
        ),
        published=os.path.join(config["paper_results"], "ablations.csv"),
    output:
        report(
            "results/tables/ablations.csv",
            caption="../report/ablations_table.rst",
            category="Tables",
            labels={"table": "ablations (Table 4)"},
        ),
    log:
        "logs/tables/ablations.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_table.py"


rule costs_table:
    input:
        runs=run_tables(EXPERIMENTS),
        baselines="results/scores/baselines.csv",
        manifests=expand("results/train/{experiment}/manifest.json", experiment=EXPERIMENTS),
        published=os.path.join(config["paper_results"], "costs.csv"),
    output:
        report(
            "results/tables/costs.csv",
            caption="../report/costs_table.rst",
            category="Tables",
            labels={"table": "cost (Table 1)"},
        ),
    log:
        "logs/tables/costs.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_table.py"


rule flops_table:
    input:
        manifests=expand("results/train/{experiment}/manifest.json", experiment=EXPERIMENTS),
        runs=run_tables(EXPERIMENTS),
        base_model=ancient(base_model_input()),
    output:
        report(
            "results/tables/flops.csv",
            caption="../report/flops_table.rst",
            category="Tables",
            labels={"table": "training FLOPs"},
        ),
    log:
        "logs/tables/flops.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_table.py"
