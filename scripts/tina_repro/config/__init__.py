"""Configuration stage (rules/common.smk): config.yaml and the sheets, validated and typed.

``load`` (Snakemake's merged config) and ``load_files`` (the command line) return a
:class:`WorkflowConfig` whose sheets are typed rows (:mod:`tina_repro.config.rows`) and whose
``evaluation`` block is an :class:`EvaluationSettings` (:mod:`tina_repro.config.evaluation`).
"""

from tina_repro.config.evaluation import EvaluationSettings
from tina_repro.config.rows import Baseline, Benchmark, Dataset, Experiment
from tina_repro.config.sheets import ConfigError
from tina_repro.config.workflow import (
    BASELINE_RUN,
    CPU_DEMO_CONFIG,
    WorkflowConfig,
    from_sheet_params,
    has_published_scores,
    is_local,
    load,
    load_files,
    model_dir,
    model_dir_of_input,
    model_input,
    model_slug,
    published_rows,
    sheet_params,
    wildcard_pattern,
)

__all__ = [
    "BASELINE_RUN",
    "CPU_DEMO_CONFIG",
    "Baseline",
    "Benchmark",
    "ConfigError",
    "Dataset",
    "EvaluationSettings",
    "Experiment",
    "WorkflowConfig",
    "from_sheet_params",
    "has_published_scores",
    "is_local",
    "load",
    "load_files",
    "model_dir",
    "model_dir_of_input",
    "model_input",
    "model_slug",
    "published_rows",
    "sheet_params",
    "wildcard_pattern",
]
