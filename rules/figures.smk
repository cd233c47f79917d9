# The paper's figures (docs/paper.md#figures), one rule per figure kind, each written as PDF and PNG (the PNG
# goes into the report). A figure depends only on the tables or run files it plots, so
# `snakemake results/figures/NAME.pdf` (re)builds that figure and what it needs, nothing else.
# Each figure's caption is report/NAME.rst; scripts/make_figure.py draws the figure its output
# path names (tina_repro.figures.make_figure.FIGURES).


include: "inputs/figures.smk"


rule figure_overall_comparison:
    input:
        paper=paper_results("figure1_overall_comparison.csv"),
        main=paths.table("main"),
        costs=paths.table("costs"),
        datasets=expand(
            paths.DATASET_REPORT,
            dataset=sorted({VALIDATED_CONFIG.experiments[e].dataset for e in MAIN_EXPERIMENTS}),
        ),
    output:
        pdf=paths.figure("overall_comparison", "pdf"),
        png=report(
            paths.figure("overall_comparison", "png"),
            caption="report/overall_comparison.rst",
            category="Figures",
            subcategory="Paper comparison",
            labels={"figure": "overall comparison (Figure 1)"},
        ),
    log:
        "logs/figures/overall_comparison.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        # what the caption says is drawn (published values exist)
        published=PUBLISHED,
        experiments=figure_params.overall_comparison_runs(VALIDATED_CONFIG, MAIN_EXPERIMENTS),
    script:
        "../scripts/make_figure.py"


rule figure_cost_vs_performance:
    input:
        paper=paper_results("figure1_overall_comparison.csv"),
        main=paths.table("main"),
        costs=paths.table("costs"),
    output:
        pdf=paths.figure("cost_vs_performance", "pdf"),
        png=report(
            paths.figure("cost_vs_performance", "png"),
            caption="report/cost_vs_performance.rst",
            category="Figures",
            subcategory="Paper comparison",
            labels={"figure": "cost vs performance"},
        ),
    log:
        "logs/figures/cost_vs_performance.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        # what the caption says is drawn (published values exist)
        published=PUBLISHED,
    script:
        "../scripts/make_figure.py"


rule figure_flops_vs_performance:
    input:
        # Carries each run's selected checkpoint, its average and the FLOPs up to it.
        flops=paths.table("flops"),
    output:
        pdf=paths.figure("flops_vs_performance", "pdf"),
        png=report(
            paths.figure("flops_vs_performance", "png"),
            caption="report/flops_vs_performance.rst",
            category="Figures",
            subcategory="Paper comparison",
            labels={"figure": "FLOPs vs performance"},
        ),
    log:
        "logs/figures/flops_vs_performance.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        # what the caption says is drawn (published values exist)
        published=PUBLISHED,
    script:
        "../scripts/make_figure.py"


rule figure_ablations:
    input:
        ablations=paths.table("ablations"),
    output:
        pdf=paths.figure("ablations", "pdf"),
        png=report(
            paths.figure("ablations", "png"),
            caption="report/ablations.rst",
            category="Figures",
            subcategory="Paper comparison",
            labels={"figure": "ablations"},
        ),
    log:
        "logs/figures/ablations.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        # what the caption says is drawn (published values exist)
        published=PUBLISHED,
    script:
        "../scripts/make_figure.py"


rule figure_reproduced_vs_published:
    input:
        main=paths.table("main"),
    output:
        pdf=paths.figure("reproduced_vs_published", "pdf"),
        png=report(
            paths.figure("reproduced_vs_published", "png"),
            caption="report/reproduced_vs_published.rst",
            category="Figures",
            subcategory="Paper comparison",
            labels={"figure": "reproduced vs published"},
        ),
    log:
        "logs/figures/reproduced_vs_published.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_figure.py"


rule figure_training_dynamics:
    input:
        manifest=paths.RUN_MANIFEST,
        log_history=paths.RUN_LOG_HISTORY,
        scores=paths.RUN_SCORES,
    output:
        pdf=paths.figure("training_dynamics/{experiment}", "pdf"),
        png=report(
            paths.figure("training_dynamics/{experiment}", "png"),
            caption="report/training_dynamics.rst",
            category="Training runs",
            subcategory="{experiment}",
            labels={"run": "{experiment}", "figure": "training dynamics"},
        ),
    log:
        "logs/figures/training_dynamics/{experiment}.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        title=run_title,
        benchmarks=BENCHMARKS,
        selection=config["selection"],
        save_steps=run_save_steps,
    script:
        "../scripts/make_figure.py"


rule figure_checkpoint_curves:
    input:
        manifest=paths.RUN_MANIFEST,
        scores=paths.RUN_SCORES,
        base=BASE_MODEL_SCORES,
    output:
        pdf=paths.figure("checkpoint_curves/{experiment}", "pdf"),
        png=report(
            paths.figure("checkpoint_curves/{experiment}", "png"),
            caption="report/checkpoint_curves.rst",
            category="Training runs",
            subcategory="{experiment}",
            labels={"run": "{experiment}", "figure": "accuracy per checkpoint"},
        ),
    log:
        "logs/figures/checkpoint_curves/{experiment}.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        title=run_title,
        benchmarks=BENCHMARKS,
        selection=config["selection"],
        save_steps=run_save_steps,
    script:
        "../scripts/make_figure.py"
