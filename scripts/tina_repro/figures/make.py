"""Which figure a rule draws (rules/figures.smk), from the rule's named inputs and params."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tina_repro.figures import paper, phase, runs
from tina_repro.figures.data import base_model_scores, selected_step
from tina_repro.results.collect import as_paths
from tina_repro.results.selection import is_candidate


def _run_figure_inputs(inputs: dict, params: dict, config: dict) -> tuple[dict, int]:
    """A run's manifest and the checkpoint the configured selection rule picks from its scores."""
    manifest = json.loads(Path(inputs["manifest"]).read_text())
    rule = config["selection"]
    step = selected_step(
        inputs["scores"],
        params["benchmarks"],
        rule["rule"],
        rule["selection_benchmarks"],
        params["save_steps"],
    )
    return manifest, step


def make_figure(rule: str, inputs: dict, outputs: dict, params: dict, config: dict) -> pd.DataFrame:
    """Draw the figure of Snakemake rule ``rule`` into outputs pdf and png; returns its data."""
    out = (outputs["pdf"], outputs["png"])
    if rule == "figure_overall_comparison":
        return paper.overall_comparison(
            inputs["paper"],
            inputs["main"],
            inputs["costs"],
            as_paths(inputs["datasets"]),
            params["experiments"],
            *out,
        )
    if rule == "figure_cost_vs_performance":
        return paper.cost_vs_performance(inputs["paper"], inputs["main"], inputs["costs"], *out)
    if rule == "figure_flops_vs_performance":
        return paper.flops_vs_performance(inputs["flops"], *out)
    if rule == "figure_ablations":
        return paper.ablations(inputs["ablations"], *out)
    if rule == "figure_reproduced_vs_published":
        return paper.reproduced_vs_published(inputs["main"], *out)
    if rule == "figure_training_dynamics":
        manifest, selected = _run_figure_inputs(inputs, params, config)
        history = inputs["log_history"]
        transition = phase.find_transition(pd.read_csv(history))
        return runs.training_dynamics(
            history,
            params["title"],
            selected,
            transition,
            *out,
            epoch_steps=manifest.get("epoch_steps"),
        )
    if rule == "figure_checkpoint_curves":
        manifest, selected = _run_figure_inputs(inputs, params, config)
        rule = config["selection"]["rule"]
        return runs.checkpoint_curves(
            inputs["scores"],
            params["title"],
            selected,
            *out,
            candidate=lambda step: is_candidate(step, params["save_steps"], rule),
            base_scores=base_model_scores(as_paths(inputs["base"])),
            epoch_steps=manifest.get("epoch_steps"),
        )
    raise ValueError(f"no figure is drawn by rule {rule!r}")
