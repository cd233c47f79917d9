"""The paper-level figures: Figure 1, cost and compute against performance, the ablations, and
our scores against the published ones. Each draws the frame its builder in
:mod:`~tina_repro.figures.data` returns; :func:`~tina_repro.figures.style.figure` makes it
``f(*inputs, out_pdf, out_png) -> frame``, writing PDF and PNG.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from tina_repro.figures.data import (
    BASELINE_FLOPS,
    FIGURE1_METRICS,
    FULL_FLOPS,
    LORA_FLOPS,
    ablations_data,
    cost_vs_performance_data,
    flops_vs_performance_data,
    overall_comparison_data,
    reproduced_vs_published_data,
    setting_order,
)
from tina_repro.figures.style import (
    ABLATION_TITLES,
    PUBLISHED,
    REPRODUCED,
    SOURCE_COLORS,
    benchmark_label,
    error_bars,
    figure,
    label_axes,
    label_point,
)


@figure
def overall_comparison(
    figure1_csv: str | Path,
    main_csv: str | Path,
    costs_csv: str | Path,
    dataset_reports: Iterable[str | Path],
    experiments: dict[str, dict],
) -> tuple[plt.Figure, pd.DataFrame]:
    """Figure 1's four bar panels, the paper's values next to ours
    (:func:`~tina_repro.figures.data.overall_comparison_data`)."""
    frame, order, experiment = overall_comparison_data(
        figure1_csv, main_csv, costs_csv, dataset_reports, experiments
    )
    fig, axes = plt.subplots(2, 2, figsize=(12, 10))
    for ax, (metric, (title, unit)) in zip(axes.flat, FIGURE1_METRICS.items(), strict=True):
        sns.barplot(
            data=frame[frame["metric"] == metric],
            x="model",
            y="value",
            hue="source",
            order=order,
            hue_order=[PUBLISHED, REPRODUCED],
            palette=SOURCE_COLORS,
            ax=ax,
        )
        for container in ax.containers:
            ax.bar_label(container, fmt="%.4g", fontsize=8, padding=1)
        ax.set_title(title)
        ax.set_xlabel("")
        ax.set_ylabel(unit)
        ax.tick_params(axis="x", labelrotation=30)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
        ax.get_legend().remove()
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="upper center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.955)
    )
    fig.suptitle(f"Overall comparison (paper Figure 1); our Tina = {experiment}")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig, frame


@figure
def cost_vs_performance(
    figure1_csv: str | Path,
    main_csv: str | Path,
    costs_csv: str | Path,
) -> tuple[plt.Figure, pd.DataFrame]:
    """Training cost (log axis) against the six-benchmark average, the paper's and ours.

    Tina runs: published (Table 1 training cost, Table 3 average) and reproduced (our training
    cost and average). Full-parameter baselines: their authors' training cost (Figure 1) with the
    published and our re-evaluated average.
    """
    frame, dropped = cost_vs_performance_data(figure1_csv, main_csv, costs_csv)
    fig, ax = plt.subplots(figsize=(8, 5.5))
    colors = dict(
        zip(["Tina (LoRA)", "full-parameter RL"], sns.color_palette("deep", 2), strict=True)
    )
    markers = {"Tina (LoRA)": "o", "full-parameter RL": "s"}
    for _, points in frame.groupby("label", sort=False):
        points = points.set_index("source")
        family = points["family"].iloc[0]
        if {PUBLISHED, REPRODUCED} <= set(points.index):
            ax.plot(
                points.loc[[PUBLISHED, REPRODUCED], "cost_usd"],
                points.loc[[PUBLISHED, REPRODUCED], "performance"],
                color=colors[family],
                linewidth=0.8,
                alpha=0.6,
            )
        for source, point in points.iterrows():
            ax.scatter(
                point["cost_usd"],
                point["performance"],
                marker=markers[family],
                s=60,
                facecolors=colors[family] if source == REPRODUCED else "none",
                edgecolors=colors[family],
                linewidths=1.5,
                zorder=3,
            )
    ax.set_xscale("log")
    ax.set_xlim(frame["cost_usd"].min() / 2, frame["cost_usd"].max() * 2)
    for label, points in frame.groupby("label", sort=False):
        points = points.set_index("source")
        anchor = points.loc[REPRODUCED] if REPRODUCED in points.index else points.iloc[0]
        label_point(ax, label, anchor["cost_usd"], anchor["performance"])
    label_axes(
        ax,
        "Training cost (USD, log scale)",
        "Benchmark average (%)",
        "Cost vs performance",
        f"{dropped} point(s) without a positive cost not shown" if dropped else None,
    )
    legend = [
        plt.Line2D([], [], marker=markers[f], color=colors[f], linestyle="", label=f)
        for f in colors
    ] + [
        plt.Line2D(
            [], [], marker="o", color="black", markerfacecolor="none", linestyle="", label=PUBLISHED
        ),
        plt.Line2D([], [], marker="o", color="black", linestyle="", label=REPRODUCED),
    ]
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.tight_layout()
    return fig, frame


@figure
def flops_vs_performance(flops_csv: str | Path) -> tuple[plt.Figure, pd.DataFrame]:
    """Training FLOPs up to each run's selected checkpoint (log axis) against its average.

    The compute is what produced the reported model: steps up to the selected checkpoint, as the
    paper's $9 counts training up to Tina-Open-RS2's best checkpoint. Each run appears twice at
    the same score: its LoRA FLOPs and the FLOPs of the same steps as full-parameter training,
    joined by a line. The full-parameter baselines (STILL-3, DeepScaleR, Open-RS) stand beside
    them at the FLOPs their published recipes imply up to the released checkpoint, each named
    with its main assumption. Runs without a selected checkpoint (no scores) are skipped and
    logged.
    """
    frame, dropped = flops_vs_performance_data(flops_csv)
    fig, ax = plt.subplots(figsize=(9, 6))
    kinds = [LORA_FLOPS, FULL_FLOPS, BASELINE_FLOPS]
    palette = dict(zip(kinds, sns.color_palette("deep", 3), strict=True))
    for _, points in frame[frame["training"] != BASELINE_FLOPS].groupby("label", sort=False):
        ax.plot(points["flops"], points["performance"], color="0.6", linewidth=0.8, zorder=1)
    sns.scatterplot(
        data=frame,
        x="flops",
        y="performance",
        hue="training",
        style="training",
        palette=palette,
        s=60,
        ax=ax,
        zorder=2,
    )
    ax.set_xscale("log")
    for _, point in frame[frame["training"] != FULL_FLOPS].iterrows():
        published = point["performance_source"] == PUBLISHED
        text = f"{point['label']} (published avg.)" if published else point["label"]
        label_point(ax, text, point["flops"], point["performance"])
    label_axes(
        ax,
        "Training compute up to the selected or released checkpoint (FLOPs, log scale; estimate)",
        "Benchmark average of that checkpoint (%)",
        "Training compute vs performance",
        f"{dropped} point(s) without FLOPs not shown" if dropped else None,
    )
    ax.legend(title="", fontsize=8)
    fig.tight_layout()
    return fig, frame


@figure
def ablations(ablations_csv: str | Path) -> tuple[plt.Figure, pd.DataFrame]:
    """One panel per ablation: reproduced average with its 95% CI against the published value."""
    frame = ablations_data(ablations_csv)
    names = [a for a in ABLATION_TITLES if a in set(frame["ablation"])]
    names += sorted(set(frame["ablation"]) - set(names))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4.6), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        data = frame[frame["ablation"] == name]
        order = setting_order(data["setting"])
        data = data.set_index("setting").loc[order].reset_index()
        x = np.arange(len(data))
        ax.errorbar(
            x,
            data["reproduced"],
            yerr=error_bars(data, "reproduced"),
            fmt="o",
            color=SOURCE_COLORS[REPRODUCED],
            capsize=4,
            label="reproduced (95% CI)",
        )
        ax.scatter(
            x,
            data["published"],
            marker="D",
            facecolors="none",
            edgecolors=SOURCE_COLORS[PUBLISHED],
            s=45,
            linewidths=1.5,
            zorder=3,
            label=PUBLISHED,
        )
        ax.set_xticks(x, data["setting"], rotation=30, ha="right")
        ax.set_xlim(-0.5, len(data) - 0.5)
        ax.set_title(ABLATION_TITLES.get(name, name))
        ax.set_ylabel("Benchmark average (%)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="upper center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.93)
    )
    fig.suptitle("Ablations (paper Table 4 and later): selected checkpoint of each run")
    fig.tight_layout(rect=(0, 0, 1, 0.88))
    return fig, frame


@figure
def reproduced_vs_published(main_csv: str | Path) -> tuple[plt.Figure, pd.DataFrame]:
    """Every (model, benchmark) of the main table: our score against the paper's, with our 95% CI
    and the identity line; the title counts published values inside our CI."""
    frame = reproduced_vs_published_data(main_csv)
    frame["Benchmark"] = frame["benchmark"].map(benchmark_label)
    frame["Model"] = frame["kind"].map(
        {"tina": "Tina (LoRA)", "baseline": "baseline", "released_adapter": "Tina (released)"}
    )

    fig, ax = plt.subplots(figsize=(7, 6.5))
    hue_order = list(dict.fromkeys(frame["Benchmark"]))
    palette = dict(zip(hue_order, sns.color_palette("deep", len(hue_order)), strict=True))
    ax.errorbar(
        frame["published"],
        frame["reproduced"],
        yerr=error_bars(frame, "reproduced"),
        fmt="none",
        ecolor="0.7",
        elinewidth=0.8,
        zorder=1,
    )
    sns.scatterplot(
        data=frame,
        x="published",
        y="reproduced",
        hue="Benchmark",
        hue_order=hue_order,
        style="Model",
        palette=palette,
        s=55,
        ax=ax,
        zorder=2,
    )
    low = min(frame["published"].min(), frame["ci_low"].min(skipna=True), frame["reproduced"].min())
    high = max(
        frame["published"].max(), frame["ci_high"].max(skipna=True), frame["reproduced"].max()
    )
    pad = 0.03 * (high - low or 1)
    ax.plot(
        [low - pad, high + pad],
        [low - pad, high + pad],
        color="black",
        linestyle="--",
        linewidth=1,
        label="identity (reproduced = published)",
    )
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(low - pad, high + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("Published score (%)")
    ax.set_ylabel("Reproduced score (%, 95% CI)")
    ax.set_title(
        f"Reproduced vs published: {int(frame['within_ci'].sum())} of {len(frame)} "
        "published values inside our 95% CI"
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig, frame
