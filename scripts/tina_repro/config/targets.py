"""The workflow's named targets as files: every table and figure a configuration produces.

The Snakefile's ``all``, ``tables`` and ``figures`` rules and the demo's check
(tests/check_demo.py) use these same lists, so what is checked is exactly what is declared.
"""

from __future__ import annotations

from tina_repro import paths
from tina_repro.config.rows import ABLATION_TABLES
from tina_repro.config.workflow import WorkflowConfig, has_published_scores


def table_targets() -> list[str]:
    """results/tables/{main,ablations,checkpoints,costs,flops}.{csv,md,html}: every file of a
    table is asked for, so a workflow finished before a rendering existed builds it."""
    return [
        paths.table(name, ext) for name in paths.TABLES for ext in ("csv", *paths.TABLE_RENDERINGS)
    ]


def figure_names(wc: WorkflowConfig) -> list[str]:
    """Every figure of the config: the paper-level ones, then two per run."""
    names = ["flops_vs_performance"]
    if wc.experiments_in("main"):
        names += ["overall_comparison", "cost_vs_performance"]
        if has_published_scores(wc.path("paper_results")):
            names.append("reproduced_vs_published")
    if wc.experiments_in(*ABLATION_TABLES):
        names.append("ablations")
    names += [
        f"{kind}/{e}" for kind in ("training_dynamics", "checkpoint_curves") for e in wc.experiments
    ]
    return names


def figure_targets(wc: WorkflowConfig) -> list[str]:
    """Every figure of the config as PDF and PNG (the PNG goes into the report)."""
    return [paths.figure(name, ext) for name in figure_names(wc) for ext in paths.FIGURE_FORMATS]
