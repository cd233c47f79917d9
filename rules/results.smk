# Tables built from scores and training logs, next to the paper's numbers. Each table depends only
# on the runs it shows, so a dry-run says which experiments it waits for. Every file a table job
# reads is a declared input (the published numbers, graded.jsonl for intervals and gains,
# log_history.csv for FLOPs, generation timings for cost), so tables rebuild when they change;
# params are the sheets' rows without their comments (the jobs never read the sheet files, so a
# comment edit rebuilds nothing) and the config settings a table prints (the selection rule, the
# prices). All are local rules: cheap pandas work on the host that drives the workflow.


include: "inputs/results.smk"


rule collect_run_scores:
    input:
        manifest=paths.RUN_MANIFEST,
        scores=run_score_files,
    output:
        paths.RUN_SCORES,
    log:
        "logs/collect_run_scores/{experiment}.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/collect_scores.py"


rule collect_baseline_scores:
    input:
        scores=baseline_eval_files(paths.SCORE),
    output:
        paths.BASELINE_SCORES,
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
        baselines=paths.BASELINE_SCORES,
        manifests=run_manifests(EXPERIMENTS),
        # each checkpoint's bf16 merge retention
        records=generation_record_files(EXPERIMENTS),
    output:
        **table_outputs("checkpoints", "every checkpoint"),
    log:
        "logs/tables/checkpoints.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        sheets=SHEET_PARAMS,
    script:
        "../scripts/make_table.py"


rule main_table:
    input:
        runs=run_tables(MAIN_EXPERIMENTS),
        baselines=paths.BASELINE_SCORES,
        manifests=run_manifests(MAIN_EXPERIMENTS),
        graded=graded_files(MAIN_EXPERIMENTS),
        published=paper_results("tina_models.csv"),
        # the paper's row of a released adapter compared with an ablation run
        published_ablations=paper_results("ablations.csv"),
        published_baselines=paper_results("baselines.csv"),
    output:
        **table_outputs("main", "main (Tables 2-3)"),
    log:
        "logs/tables/main.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        sheets=SHEET_PARAMS,
        # what the caption says is published (paper_results)
        published=PUBLISHED,
        selection=config["selection"],
    script:
        "../scripts/make_table.py"


rule ablations_table:
    input:
        runs=run_tables(ABLATION_EXPERIMENTS),
        baselines=paths.BASELINE_SCORES,
        manifests=run_manifests(ABLATION_EXPERIMENTS),
        # every checkpoint's and the base model's grades, for intervals and paired gains
        graded=graded_files(ABLATION_EXPERIMENTS),
        published=paper_results("ablations.csv"),
    output:
        **table_outputs("ablations", "ablations (Table 4)"),
    log:
        "logs/tables/ablations.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        sheets=SHEET_PARAMS,
        # what the caption says is published (paper_results)
        published=PUBLISHED,
        selection=config["selection"],
    script:
        "../scripts/make_table.py"


rule costs_table:
    input:
        runs=run_tables(EXPERIMENTS),
        baselines=paths.BASELINE_SCORES,
        manifests=run_manifests(EXPERIMENTS),
        timings=generation_timing_files,
        published=paper_results("costs.csv"),
    output:
        **table_outputs("costs", "cost (Table 1)"),
    log:
        "logs/tables/costs.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        sheets=SHEET_PARAMS,
        # what the caption says is published (paper_results)
        published=PUBLISHED,
        selection=config["selection"],
        # the whole block: prices of every device the table may price
        cost=config["cost"],
        eval_backend=VALIDATED_CONFIG.evaluation.backend,
    script:
        "../scripts/make_table.py"


rule flops_table:
    input:
        manifests=run_manifests(EXPERIMENTS),
        log_history=expand(paths.RUN_LOG_HISTORY, experiment=EXPERIMENTS),
        runs=run_tables(EXPERIMENTS),
        base_model=ancient(BASE_MODEL_INPUT),
        # the full-parameter baselines: FLOPs from their recipes, our average and the paper's
        recipes=paper_results("baseline_recipes.csv"),
        baselines=paths.BASELINE_SCORES,
        published_baselines=paper_results("baselines.csv"),
    output:
        **table_outputs("flops", "training FLOPs"),
    log:
        "logs/tables/flops.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        sheets=SHEET_PARAMS,
        # what the caption says is published (paper_results)
        published=PUBLISHED,
        selection=config["selection"],
    script:
        "../scripts/make_table.py"
