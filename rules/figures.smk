# The paper's figures (TINA.md §4.2), one rule per figure kind, each written as PDF and PNG (the PNG
# goes into the report). A figure depends only on the tables or run files it plots, so
# `snakemake results/figures/NAME.pdf` (re)builds that figure and what it needs, nothing else.


rule figure_overall_comparison:
    input:
        paper=f"{config['paper_results']}/figure1_overall_comparison.csv",
        main="results/tables/main.csv",
        costs="results/tables/costs.csv",
        datasets=expand(
            "resources/datasets/{dataset}.report.json",
            dataset=sorted({W.experiments[e]["dataset"] for e in MAIN_EXPERIMENTS}),
        ),
    output:
        pdf="results/figures/overall_comparison.pdf",
        png=report(
            "results/figures/overall_comparison.png",
            caption="../report/overall_comparison.rst",
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
        experiments={
            e: {k: W.experiments[e][k] for k in ("dataset", "num_generations")}
            for e in MAIN_EXPERIMENTS
        },
    script:
        "../scripts/make_figure.py"


rule figure_cost_vs_performance:
    input:
        paper=f"{config['paper_results']}/figure1_overall_comparison.csv",
        main="results/tables/main.csv",
        costs="results/tables/costs.csv",
    output:
        pdf="results/figures/cost_vs_performance.pdf",
        png=report(
            "results/figures/cost_vs_performance.png",
            caption="../report/cost_vs_performance.rst",
            category="Figures",
            subcategory="Paper comparison",
            labels={"figure": "cost vs performance"},
        ),
    log:
        "logs/figures/cost_vs_performance.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_figure.py"


rule figure_flops_vs_performance:
    input:
        # Carries each run's selected checkpoint, its average and the FLOPs up to it.
        flops="results/tables/flops.csv",
    output:
        pdf="results/figures/flops_vs_performance.pdf",
        png=report(
            "results/figures/flops_vs_performance.png",
            caption="../report/flops_vs_performance.rst",
            category="Figures",
            subcategory="Paper comparison",
            labels={"figure": "FLOPs vs performance"},
        ),
    log:
        "logs/figures/flops_vs_performance.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_figure.py"


rule figure_ablations:
    input:
        ablations="results/tables/ablations.csv",
    output:
        pdf="results/figures/ablations.pdf",
        png=report(
            "results/figures/ablations.png",
            caption="../report/ablations.rst",
            category="Figures",
            subcategory="Paper comparison",
            labels={"figure": "ablations"},
        ),
    log:
        "logs/figures/ablations.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_figure.py"


rule figure_reproduced_vs_published:
    input:
        main="results/tables/main.csv",
    output:
        pdf="results/figures/reproduced_vs_published.pdf",
        png=report(
            "results/figures/reproduced_vs_published.png",
            caption="../report/reproduced_vs_published.rst",
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
        # log_history.csv is written next to the manifest, which the trainer writes last.
        manifest="results/train/{experiment}/manifest.json",
        scores="results/scores/{experiment}.csv",
    output:
        pdf="results/figures/training_dynamics/{experiment}.pdf",
        png=report(
            "results/figures/training_dynamics/{experiment}.png",
            caption="../report/training_dynamics.rst",
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
    script:
        "../scripts/make_figure.py"


rule figure_checkpoint_curves:
    input:
        manifest="results/train/{experiment}/manifest.json",
        scores="results/scores/{experiment}.csv",
        base=base_model_score_files(),
    output:
        pdf="results/figures/checkpoint_curves/{experiment}.pdf",
        png=report(
            "results/figures/checkpoint_curves/{experiment}.png",
            caption="../report/checkpoint_curves.rst",
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
    script:
        "../scripts/make_figure.py"
