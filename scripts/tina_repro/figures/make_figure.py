"""Which figure an output file is, and drawing it: the entry point of scripts/make_figure.py.

:data:`FIGURES` is keyed by the figure's name in its output path (``results/figures/NAME.png``,
or ``NAME/{experiment}.png`` for a run's figure), so a rule is found from the file it writes and
renaming a rule changes nothing here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from tina_repro import paths
from tina_repro.figures import paper, phase, runs
from tina_repro.figures.data import base_model_scores, selected_step
from tina_repro.results.collect import as_paths
from tina_repro.results.selection import is_candidate

#: (inputs, params, config, (pdf, png)) -> the figure's data
Draw = Callable[[dict, dict, dict, tuple[str, str]], pd.DataFrame]


def figure_name(output: str | Path) -> str:
    """The figure an output file is: ``results/figures/NAME.EXT`` and
    ``results/figures/NAME/{experiment}.EXT`` are figure ``NAME``."""
    relative = Path(output).relative_to(Path(paths.FIGURE).parent)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _run_figure_inputs(inputs: dict, params: dict, config: dict) -> tuple[dict, int]:
    """A run's manifest and the checkpoint the configured selection rule picks from its scores."""
    manifest = json.loads(Path(inputs["manifest"]).read_text())
    selection = config["selection"]
    step = selected_step(
        inputs["scores"],
        params["benchmarks"],
        selection["rule"],
        selection["selection_benchmarks"],
        params["save_steps"],
    )
    return manifest, step


def _overall_comparison(inputs, params, config, out):
    return paper.overall_comparison(
        inputs["paper"],
        inputs["main"],
        inputs["costs"],
        as_paths(inputs["datasets"]),
        params["experiments"],
        *out,
    )


def _cost_vs_performance(inputs, params, config, out):
    return paper.cost_vs_performance(inputs["paper"], inputs["main"], inputs["costs"], *out)


def _flops_vs_performance(inputs, params, config, out):
    return paper.flops_vs_performance(inputs["flops"], *out)


def _ablations(inputs, params, config, out):
    return paper.ablations(inputs["ablations"], *out)


def _reproduced_vs_published(inputs, params, config, out):
    return paper.reproduced_vs_published(inputs["main"], *out)


def _training_dynamics(inputs, params, config, out):
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


def _checkpoint_curves(inputs, params, config, out):
    manifest, selected = _run_figure_inputs(inputs, params, config)
    selection_rule = config["selection"]["rule"]
    return runs.checkpoint_curves(
        inputs["scores"],
        params["title"],
        selected,
        *out,
        candidate=lambda step: is_candidate(step, params["save_steps"], selection_rule),
        base_scores=base_model_scores(as_paths(inputs["base"])),
        epoch_steps=manifest.get("epoch_steps"),
    )


#: figure name (its output path, :func:`figure_name`) -> how it is drawn
FIGURES: dict[str, Draw] = {
    "overall_comparison": _overall_comparison,
    "cost_vs_performance": _cost_vs_performance,
    "flops_vs_performance": _flops_vs_performance,
    "ablations": _ablations,
    "reproduced_vs_published": _reproduced_vs_published,
    "training_dynamics": _training_dynamics,
    "checkpoint_curves": _checkpoint_curves,
}


def make_figure(name: str, inputs: dict, outputs: dict, params: dict, config: dict) -> pd.DataFrame:
    """Draw figure ``name`` (:data:`FIGURES`) into outputs pdf and png; returns its data."""
    if name not in FIGURES:
        raise ValueError(f"no figure named {name!r}; known: {', '.join(FIGURES)}")
    return FIGURES[name](inputs, params, config, (outputs["pdf"], outputs["png"]))
