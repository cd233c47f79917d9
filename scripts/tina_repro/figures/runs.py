"""The per-run figures: training dynamics (log metrics over steps) and per-checkpoint accuracy.
Each draws the frame its builder in :mod:`~tina_repro.figures.data` returns and returns it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from tina_repro.figures.data import checkpoint_curves_data, training_dynamics_data
from tina_repro.figures.style import (
    DYNAMICS_METRICS,
    benchmark_label,
    epoch_axis,
    figure,
    mark_steps,
)
from tina_repro.results.stats import AVERAGE


@figure
def training_dynamics(
    log_history_csv: str | Path,
    run: str,
    selected_step: int | None,
    transition_step: int | None,
    epoch_steps: float | None = None,
) -> tuple[plt.Figure, pd.DataFrame]:
    """Format reward, accuracy (or cosine) reward and completion length over training steps.

    Per-step values (8 prompts a step) are noisy: they are drawn thin, with the centred moving
    average that phase-transition detection uses on top (:mod:`tina_repro.figures.phase`), so the
    reader sees the curves the detector saw. The selected checkpoint and the detected phase
    transition are vertical lines (docs/paper.md#figures).
    """
    frame, window = training_dynamics_data(log_history_csv)
    metrics = list(dict.fromkeys(frame["metric"]))
    fig, axes = plt.subplots(
        len(metrics), 1, figsize=(8, 2.3 * len(metrics) + 0.8), sharex=True, squeeze=False
    )
    axes = axes[:, 0]
    for ax, metric in zip(axes, metrics, strict=True):
        series = frame[frame["metric"] == metric]
        ax.plot(series["step"], series["value"], color="0.65", linewidth=0.7, label="per step")
        ax.plot(
            series["step"],
            series["smoothed"],
            color=sns.color_palette("deep")[0],
            linewidth=1.8,
            label=f"moving average ({window} steps)",
        )
        mark_steps(ax, selected_step, transition_step)
        ax.set_ylabel(DYNAMICS_METRICS[metric])
    epoch_axis(axes[0], epoch_steps)
    axes[-1].set_xlabel("Training step")
    axes[0].legend(loc="best", fontsize=7)
    fig.suptitle(f"Training dynamics of {run}")
    fig.tight_layout()
    frame.attrs.update(selected_step=selected_step, transition_step=transition_step)
    return fig, frame


@figure
def checkpoint_curves(
    scores_csv: str | Path,
    run: str,
    selected_step: int | None,
    base_scores: pd.DataFrame | None = None,
    epoch_steps: float | None = None,
    candidate: Callable[[int], bool] = lambda step: True,
) -> tuple[plt.Figure, pd.DataFrame]:
    """Accuracy of every evaluated checkpoint of one run, one panel per benchmark plus the average.

    Bands are each score's 95% bootstrap CI; the dotted line is the base model
    (``base_scores``: benchmark, accuracy rows), the green line the selected checkpoint. A
    checkpoint the selection rule may not pick (``candidate`` false: under the paper rule, a stop
    step off the save grid) is drawn hollow.
    """
    frame, benchmarks, base = checkpoint_curves_data(scores_csv, base_scores)
    frame["candidate"] = frame["step"].map(candidate).astype(bool)
    frame.attrs["selected_step"] = selected_step
    panels = [*benchmarks, AVERAGE]
    ncols = min(4, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4 * ncols, 3.2 * nrows), sharex=True, squeeze=False
    )
    color = sns.color_palette("deep")[0]
    for ax, name in zip(axes.flat, panels, strict=False):
        data = frame[frame["benchmark"] == name]
        ax.plot(
            data["step"],
            data["accuracy"],
            marker="o",
            markersize=3,
            color=color,
            label="checkpoint",
        )
        excluded = data[~data["candidate"]]
        if len(excluded):
            ax.plot(
                excluded["step"],
                excluded["accuracy"],
                linestyle="none",
                marker="o",
                markersize=6,
                markerfacecolor="white",
                markeredgecolor=color,
                label="no selection candidate (off the save grid)",
            )
        if name != AVERAGE:
            ax.fill_between(
                data["step"],
                data["ci_low"],
                data["ci_high"],
                color=color,
                alpha=0.2,
                label="95% CI",
            )
        if name in base:
            ax.axhline(base[name], color="0.3", linestyle=":", linewidth=1.2, label="base model")
        mark_steps(ax, selected_step, None)
        ax.set_title(benchmark_label(name))
        ax.set_ylabel("Accuracy (%)")
    for ax in axes[0]:
        epoch_axis(ax, epoch_steps)
    for index, ax in enumerate(axes.flat):
        if index >= len(panels):
            ax.set_visible(False)
        elif index + ncols >= len(panels):  # lowest panel of its column
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("Training step")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=len(labels),
        frameon=False,
        bbox_to_anchor=(0.5, -0.04),
    )
    fig.suptitle(f"Benchmark accuracy per checkpoint of {run}")
    fig.tight_layout()
    return fig, frame
