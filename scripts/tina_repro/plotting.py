"""The paper's figures (TINA.md §4.2), rebuilt from our tables and training logs.

Every figure function reads files in the formats of the results interface (tables under
results/tables/, scores under results/scores/, a run's log_history.csv), writes the same figure as
PDF (for a paper) and PNG (for the Snakemake report), and returns the tidy frame it plotted, so
tests and callers can check the numbers behind the picture. ``make_figure`` maps a Snakemake rule
to its function. Rendering uses the Agg backend: no display is needed.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from tina_repro import phase, selection  # noqa: E402

logger = logging.getLogger(__name__)

PUBLISHED, REPRODUCED = "published", "reproduced"
SOURCE_COLORS = {PUBLISHED: "#8c8c8c", REPRODUCED: "#1f6fb4"}
AVERAGE = "average"
# Display names of the paper's benchmarks; other names (demo configs) are shown as they are.
BENCHMARK_LABELS = {
    "aime24": "AIME24",
    "aime25": "AIME25",
    "amc23": "AMC23",
    "math_500": "MATH-500",
    "gpqa_diamond": "GPQA-Diamond",
    "minerva": "Minerva",
    AVERAGE: "Average",
}
ABLATION_TITLES = {
    "datasets": "Training dataset",
    "learning_rate": "Learning rate",
    "lora_rank": "LoRA rank",
    "rl_algorithm": "RL algorithm",
}
# log_history.csv columns plotted as training dynamics, in panel order (TRL 1.16 log keys).
DYNAMICS_METRICS = {
    "rewards/format/mean": "Format reward",
    "rewards/accuracy/mean": "Accuracy reward",
    "rewards/cosine/mean": "Cosine reward",
    "completions/mean_length": "Completion length\n(tokens)",
}
SELECTED_COLOR, TRANSITION_COLOR = "#2ca02c", "#d62728"


# ---- shared helpers ---------------------------------------------------------------------------
def _styled(function: Callable) -> Callable:
    """Draw inside one seaborn style, so figures look alike without changing global state."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with sns.axes_style("whitegrid"), sns.plotting_context("paper", font_scale=1.15):
            return function(*args, **kwargs)

    return wrapper


def save(fig: plt.Figure, out_pdf: str | Path, out_png: str | Path) -> None:
    """Write PDF and PNG; no creation date in the PDF, so a rebuild gives the same bytes."""
    for path in (out_pdf, out_png):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_pdf, bbox_inches="tight", metadata={"CreationDate": None})
    fig.savefig(out_png, bbox_inches="tight", dpi=150)
    plt.close(fig)


def read_table(path: str | Path, columns: Iterable[str]) -> pd.DataFrame:
    """Read a CSV and fail with the file's name when it is empty or lacks a column."""
    frame = pd.read_csv(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise ValueError(f"{path}: no rows to plot")
    return frame


def benchmark_label(name: str) -> str:
    return BENCHMARK_LABELS.get(name, name)


def _averages(table: pd.DataFrame) -> pd.DataFrame:
    """The six-benchmark average rows of main.csv or ablations.csv."""
    rows = table[table["benchmark"] == AVERAGE]
    if rows.empty:
        raise ValueError(f"no '{AVERAGE}' rows in the table")
    return rows


def _name_of(row: pd.Series) -> str:
    """The paper's name of a table row, or our name where the paper has none."""
    name = row.get("paper_name")
    return name if isinstance(name, str) and name else str(row["model"])


def _training_cost_of(costs: pd.DataFrame, experiment: str) -> pd.Series | None:
    """The cost row that covers exactly one experiment (a paper row or an added per-run row)."""
    rows = costs[costs["experiments"].astype(str) == experiment]
    if rows.empty:
        logger.warning("costs table: no row for experiment %s; its cost is not plotted", experiment)
        return None
    return rows.iloc[0]


def _error_bars(frame: pd.DataFrame, value: str) -> np.ndarray:
    """Asymmetric error bars from ci_low/ci_high; missing bounds draw no bar."""
    low = (frame[value] - frame["ci_low"]).clip(lower=0).fillna(0)
    high = (frame["ci_high"] - frame[value]).clip(lower=0).fillna(0)
    return np.vstack([low.to_numpy(), high.to_numpy()])


def _drop_nonpositive(frame: pd.DataFrame, column: str, what: str) -> tuple[pd.DataFrame, int]:
    """Log axes cannot show zero or missing values: drop them, counted and logged."""
    keep = frame[column].gt(0)
    dropped = int((~keep).sum())
    if dropped:
        names = ", ".join(frame.loc[~keep, "label"].astype(str))
        logger.warning(
            "%s: %d point(s) without a positive %s not drawn: %s", what, dropped, column, names
        )
    return frame[keep], dropped


def _label_point(ax: plt.Axes, text: str, x: float, y: float) -> None:
    """Name a point of a log-x scatter, on the side facing the plot's centre so it stays inside."""
    low, high = ax.get_xlim()
    right_half = np.log(x) > (np.log(low) + np.log(high)) / 2
    ax.annotate(
        text,
        (x, y),
        fontsize=7,
        xytext=(-5 if right_half else 5, 3),
        textcoords="offset points",
        ha="right" if right_half else "left",
    )


def _mark_steps(ax: plt.Axes, selected_step: int | None, transition_step: int | None) -> None:
    if selected_step is not None:
        ax.axvline(
            selected_step,
            color=SELECTED_COLOR,
            linewidth=1.6,
            label=f"selected checkpoint (step {selected_step})",
        )
    if transition_step is not None:
        ax.axvline(
            transition_step,
            color=TRANSITION_COLOR,
            linestyle="--",
            linewidth=1.6,
            label=f"phase transition (step {transition_step})",
        )


def _epoch_axis(ax: plt.Axes, epoch_steps: float | None) -> None:
    """A top axis in % of one epoch, the unit of the paper's "Steps (% of 1 epoch)" column."""
    if epoch_steps:
        top = ax.secondary_xaxis(
            "top",
            functions=(lambda s: s / epoch_steps * 100, lambda p: p * epoch_steps / 100),
        )
        top.set_xlabel("% of one epoch")


# ---- Figure 1: overall comparison -------------------------------------------------------------
FIGURE1_METRICS = {
    "data_amount_thousands": ("Data amount", "thousand prompts × rollouts"),
    "computational_cost_usd": ("Computational cost", "USD"),
    "time_cost_hours": ("Time cost", "hours"),
    "reasoning_performance_pct": ("Reasoning performance", "six-benchmark average (%)"),
}


def dataset_rows(report_paths: Iterable[str | Path]) -> dict[str, int]:
    """Rows kept per prepared training set, from resources/datasets/{dataset}.report.json."""
    sizes = {}
    for path in report_paths:
        name = Path(path).name.removesuffix(".report.json")
        sizes[name] = int(json.loads(Path(path).read_text())["rows_kept"])
    return sizes


def best_tina(main: pd.DataFrame) -> pd.Series:
    """Our best Tina model: highest reproduced six-benchmark average (ties: first by name)."""
    tina = _averages(main)
    tina = tina[(tina["kind"] == "tina") & tina["reproduced"].notna()]
    if tina.empty:
        raise ValueError("main table: no Tina model with a reproduced average")
    return tina.sort_values(["reproduced", "model"], ascending=[False, True]).iloc[0]


@_styled
def overall_comparison(
    figure1_csv: str | Path,
    main_csv: str | Path,
    costs_csv: str | Path,
    dataset_reports: Iterable[str | Path],
    experiments: dict[str, dict],
    out_pdf: str | Path,
    out_png: str | Path,
) -> pd.DataFrame:
    """Figure 1's four bar panels, the paper's values next to ours.

    Our "Tina" bar is our best main-table model, measured as the paper measured its own: data =
    training prompts × rollouts per prompt, cost and time = training device-hours of that run.
    The full-parameter baselines' data and costs are their authors' numbers (not re-run); their
    performance is also shown as we re-evaluated it.
    """
    paper = read_table(figure1_csv, ["model", *FIGURE1_METRICS])
    main = read_table(main_csv, ["model", "kind", "paper_name", "benchmark", "reproduced"])
    costs = read_table(costs_csv, ["experiments", "training_device_hours", "training_cost_usd"])
    if "Tina" not in set(paper["model"]):
        raise ValueError(f"{figure1_csv}: no 'Tina' row")
    averages = _averages(main)
    best = best_tina(main)
    experiment = str(best["model"])
    cost = _training_cost_of(costs, experiment)
    sizes = dataset_rows(dataset_reports)
    spec = experiments[experiment]
    ours = {
        "data_amount_thousands": sizes[spec["dataset"]] * spec["num_generations"] / 1000
        if spec["dataset"] in sizes
        else np.nan,
        "computational_cost_usd": cost["training_cost_usd"] if cost is not None else np.nan,
        "time_cost_hours": cost["training_device_hours"] if cost is not None else np.nan,
        "reasoning_performance_pct": best["reproduced"],
    }
    tina_label = f"Tina\n(ours: {_name_of(best)})"

    records = []
    for _, row in paper.iterrows():
        label = tina_label if row["model"] == "Tina" else row["model"]
        for metric in FIGURE1_METRICS:
            records.append(
                {"model": label, "metric": metric, "source": PUBLISHED, "value": row[metric]}
            )
        if row["model"] == "Tina":
            reproduced = ours
        else:
            match = averages[
                (averages["kind"] == "baseline") & (averages["paper_name"] == row["model"])
            ]
            reproduced = (
                {"reasoning_performance_pct": match["reproduced"].iloc[0]} if len(match) else {}
            )
        for metric, value in reproduced.items():
            records.append({"model": label, "metric": metric, "source": REPRODUCED, "value": value})
    frame = pd.DataFrame(records)

    order = [tina_label if m == "Tina" else m for m in paper["model"]]
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
    save(fig, out_pdf, out_png)
    return frame


# ---- cost vs performance ----------------------------------------------------------------------
@_styled
def cost_vs_performance(
    figure1_csv: str | Path,
    main_csv: str | Path,
    costs_csv: str | Path,
    out_pdf: str | Path,
    out_png: str | Path,
) -> pd.DataFrame:
    """Training cost (log axis) against the six-benchmark average, the paper's and ours.

    Tina runs: published (Table 1 training cost, Table 3 average) and reproduced (our training
    cost and average). Full-parameter baselines: their authors' training cost (Figure 1) with the
    published and our re-evaluated average.
    """
    paper = read_table(
        figure1_csv, ["model", "computational_cost_usd", "reasoning_performance_pct"]
    )
    main = read_table(
        main_csv, ["model", "kind", "paper_name", "benchmark", "reproduced", "published"]
    )
    costs = read_table(costs_csv, ["experiments", "training_cost_usd", "published_training_usd"])
    averages = _averages(main)
    records = []
    for _, row in averages[averages["kind"] == "tina"].iterrows():
        cost = _training_cost_of(costs, str(row["model"]))
        for source, cost_column, value in (
            (PUBLISHED, "published_training_usd", row["published"]),
            (REPRODUCED, "training_cost_usd", row["reproduced"]),
        ):
            records.append(
                {
                    "label": _name_of(row),
                    "family": "Tina (LoRA)",
                    "source": source,
                    "cost_usd": cost[cost_column] if cost is not None else np.nan,
                    "performance": value,
                }
            )
    for _, row in paper[paper["model"] != "Tina"].iterrows():
        match = averages[
            (averages["kind"] == "baseline") & (averages["paper_name"] == row["model"])
        ]
        reproduced = match["reproduced"].iloc[0] if len(match) else np.nan
        for source, value in (
            (PUBLISHED, row["reasoning_performance_pct"]),
            (REPRODUCED, reproduced),
        ):
            records.append(
                {
                    "label": row["model"],
                    "family": "full-parameter RL",
                    "source": source,
                    "cost_usd": row["computational_cost_usd"],
                    "performance": value,
                }
            )
    frame = pd.DataFrame(records)
    frame = frame[frame["performance"].notna()]
    frame, dropped = _drop_nonpositive(frame, "cost_usd", "cost vs performance")
    if frame.empty:
        raise ValueError("cost vs performance: no point with a positive cost and a score")

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
        _label_point(ax, label, anchor["cost_usd"], anchor["performance"])
    ax.set_xlabel("Training cost (USD, log scale)")
    ax.set_ylabel("Six-benchmark average (%)")
    title = "Cost vs performance"
    if dropped:
        title += f" ({dropped} point(s) without a positive cost not shown)"
    ax.set_title(title)
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
    save(fig, out_pdf, out_png)
    return frame


# ---- FLOPs vs performance ---------------------------------------------------------------------
LORA_FLOPS, FULL_FLOPS = "LoRA (as trained)", "full-parameter (same steps)"


@_styled
def flops_vs_performance(
    flops_csv: str | Path, out_pdf: str | Path, out_png: str | Path
) -> pd.DataFrame:
    """Training FLOPs up to each run's selected checkpoint (log axis) against its average.

    The compute is what produced the reported model: steps up to the selected checkpoint, as the
    paper's $9 counts training up to Tina-Open-RS2's best checkpoint. Each run appears twice at
    the same score: its LoRA FLOPs and the FLOPs of the same steps as full-parameter training,
    joined by a line. Runs without a selected checkpoint (no scores) are skipped and logged.
    """
    flops = read_table(
        flops_csv,
        ["experiment", "best_average", "total_lora_flops_to_selected", "full_ft_flops_to_selected"],
    )
    unscored = flops["best_average"].isna()
    if unscored.any():
        logger.warning(
            "FLOPs figure: no selected checkpoint for %s; not drawn",
            ", ".join(flops.loc[unscored, "experiment"]),
        )
    records = [
        {
            "label": row["experiment"],
            "training": kind,
            "flops": row[column],
            "performance": row["best_average"],
        }
        for _, row in flops[~unscored].iterrows()
        for kind, column in (
            (LORA_FLOPS, "total_lora_flops_to_selected"),
            (FULL_FLOPS, "full_ft_flops_to_selected"),
        )
    ]
    frame = pd.DataFrame(records, columns=["label", "training", "flops", "performance"])
    frame, dropped = _drop_nonpositive(frame, "flops", "FLOPs vs performance")
    if frame.empty:
        raise ValueError(f"{flops_csv}: no run with both FLOPs and a score")

    fig, ax = plt.subplots(figsize=(8, 5.5))
    palette = dict(zip([LORA_FLOPS, FULL_FLOPS], sns.color_palette("deep", 2), strict=True))
    for _, points in frame.groupby("label", sort=False):
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
    for _, point in frame[frame["training"] == LORA_FLOPS].iterrows():
        _label_point(ax, point["label"], point["flops"], point["performance"])
    ax.set_xlabel("Training compute up to the selected checkpoint (FLOPs, log scale; estimate)")
    ax.set_ylabel("Six-benchmark average of the selected checkpoint (%)")
    title = "Training compute vs performance"
    if dropped:
        title += f" ({dropped} point(s) without FLOPs not shown)"
    ax.set_title(title)
    ax.legend(title="", fontsize=8)
    fig.tight_layout()
    save(fig, out_pdf, out_png)
    return frame


# ---- training dynamics of one run -------------------------------------------------------------
def read_log_history(path: str | Path) -> pd.DataFrame:
    """log_history.csv with the step column and at least one plotted metric."""
    frame = read_table(path, ["step"])
    present = [m for m in DYNAMICS_METRICS if m in frame and frame[m].notna().any()]
    if not present:
        raise ValueError(f"{path}: none of the columns {', '.join(DYNAMICS_METRICS)} has values")
    return frame.sort_values("step")


@_styled
def training_dynamics(
    log_history_csv: str | Path,
    run: str,
    selected_step: int | None,
    transition_step: int | None,
    out_pdf: str | Path,
    out_png: str | Path,
    epoch_steps: float | None = None,
) -> pd.DataFrame:
    """Format reward, accuracy (or cosine) reward and completion length over training steps.

    Per-step values (8 prompts a step) are noisy: they are drawn thin, with the centred moving
    average that phase-transition detection uses on top (``tina_repro.phase``), so the reader
    sees the curves the detector saw. The selected checkpoint and the detected phase transition
    are vertical lines (TINA.md §4.2 item 3).
    """
    history = read_log_history(log_history_csv)
    metrics = [m for m in DYNAMICS_METRICS if m in history and history[m].notna().any()]
    window = phase.default_window(len(history))
    fig, axes = plt.subplots(
        len(metrics), 1, figsize=(8, 2.3 * len(metrics) + 0.8), sharex=True, squeeze=False
    )
    axes = axes[:, 0]
    records = []
    for ax, metric in zip(axes, metrics, strict=True):
        series = history[["step", metric]].dropna()
        smooth = phase.smooth(series[metric].to_numpy(), window)
        ax.plot(series["step"], series[metric], color="0.65", linewidth=0.7, label="per step")
        ax.plot(
            series["step"],
            smooth,
            color=sns.color_palette("deep")[0],
            linewidth=1.8,
            label=f"moving average ({window} steps)",
        )
        _mark_steps(ax, selected_step, transition_step)
        ax.set_ylabel(DYNAMICS_METRICS[metric])
        records.append(
            pd.DataFrame(
                {
                    "metric": metric,
                    "step": series["step"],
                    "value": series[metric],
                    "smoothed": smooth,
                }
            )
        )
    _epoch_axis(axes[0], epoch_steps)
    axes[-1].set_xlabel("Training step")
    axes[0].legend(loc="best", fontsize=7)
    fig.suptitle(f"Training dynamics of {run}")
    fig.tight_layout()
    save(fig, out_pdf, out_png)
    frame = pd.concat(records, ignore_index=True)
    frame.attrs.update(selected_step=selected_step, transition_step=transition_step)
    return frame


# ---- per-checkpoint benchmark curves of one run -----------------------------------------------
@_styled
def checkpoint_curves(
    scores_csv: str | Path,
    run: str,
    selected_step: int | None,
    out_pdf: str | Path,
    out_png: str | Path,
    base_scores: pd.DataFrame | None = None,
    epoch_steps: float | None = None,
) -> pd.DataFrame:
    """Accuracy of every evaluated checkpoint of one run, one panel per benchmark plus the average.

    Bands are each score's 95% bootstrap CI; the dashed line is the base model
    (``base_scores``: benchmark, accuracy rows), the green line the selected checkpoint.
    """
    scores = read_table(scores_csv, ["run", "step", "benchmark", "accuracy", "ci_low", "ci_high"])
    scores = scores.dropna(subset=["step"]).astype({"step": int}).sort_values("step")
    benchmarks = list(dict.fromkeys(scores["benchmark"]))
    average = selection.step_averages(scores, benchmarks)
    average = average.rename(columns={"average": "accuracy"}).assign(benchmark=AVERAGE)
    frame = pd.concat([scores, average], ignore_index=True)
    frame.attrs["selected_step"] = selected_step
    base = {}
    if base_scores is not None and len(base_scores):
        base = base_scores.set_index("benchmark")["accuracy"].to_dict()
        if all(b in base for b in benchmarks):
            base[AVERAGE] = float(np.mean([base[b] for b in benchmarks]))

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
        _mark_steps(ax, selected_step, None)
        ax.set_title(benchmark_label(name))
        ax.set_ylabel("Accuracy (%)")
    for ax in axes[0]:
        _epoch_axis(ax, epoch_steps)
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
    save(fig, out_pdf, out_png)
    return frame


# ---- ablations --------------------------------------------------------------------------------
def _setting_order(settings: pd.Series) -> list[str]:
    """Numeric settings (learning rate, rank) in numeric order; others as the table lists them."""
    values = list(dict.fromkeys(settings.astype(str)))
    numbers = pd.to_numeric(pd.Series(values), errors="coerce")
    if numbers.notna().all():
        return [v for _, v in sorted(zip(numbers, values, strict=True))]
    return values


@_styled
def ablations(ablations_csv: str | Path, out_pdf: str | Path, out_png: str | Path) -> pd.DataFrame:
    """One panel per ablation: reproduced average with its 95% CI against the published value."""
    table = read_table(
        ablations_csv,
        [
            "model",
            "ablation",
            "setting",
            "benchmark",
            "reproduced",
            "ci_low",
            "ci_high",
            "published",
        ],
    )
    frame = _averages(table).copy()
    frame["setting"] = frame["setting"].astype(str)
    names = [a for a in ABLATION_TITLES if a in set(frame["ablation"])]
    names += sorted(set(frame["ablation"]) - set(names))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4.6), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        data = frame[frame["ablation"] == name]
        order = _setting_order(data["setting"])
        data = data.set_index("setting").loc[order].reset_index()
        x = np.arange(len(data))
        ax.errorbar(
            x,
            data["reproduced"],
            yerr=_error_bars(data, "reproduced"),
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
        ax.set_ylabel("Six-benchmark average (%)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="upper center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.93)
    )
    fig.suptitle("Ablations (paper Table 4): selected checkpoint of each run")
    fig.tight_layout(rect=(0, 0, 1, 0.88))
    save(fig, out_pdf, out_png)
    return frame


# ---- reproduced vs published ------------------------------------------------------------------
@_styled
def reproduced_vs_published(
    main_csv: str | Path, out_pdf: str | Path, out_png: str | Path
) -> pd.DataFrame:
    """Every (model, benchmark) of the main table: our score against the paper's, with our 95% CI
    and the identity line; the title counts published values inside our CI."""
    table = read_table(
        main_csv,
        ["model", "kind", "benchmark", "reproduced", "ci_low", "ci_high", "published", "within_ci"],
    )
    frame = table.dropna(subset=["reproduced", "published"]).copy()
    if frame.empty:
        raise ValueError(f"{main_csv}: no row with both a reproduced and a published value")
    frame["within_ci"] = frame["within_ci"].astype(str).str.lower().isin(["true", "1", "1.0"])
    frame["Benchmark"] = frame["benchmark"].map(benchmark_label)
    frame["Model"] = frame["kind"].map({"tina": "Tina (LoRA)", "baseline": "baseline"})

    fig, ax = plt.subplots(figsize=(7, 6.5))
    hue_order = list(dict.fromkeys(frame["Benchmark"]))
    palette = dict(zip(hue_order, sns.color_palette("deep", len(hue_order)), strict=True))
    ax.errorbar(
        frame["published"],
        frame["reproduced"],
        yerr=_error_bars(frame, "reproduced"),
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
    save(fig, out_pdf, out_png)
    return frame


# ---- Snakemake dispatch -----------------------------------------------------------------------
def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str | Path) else list(value)


def base_model_scores(score_files: Iterable[str | Path]) -> pd.DataFrame:
    """Base-model accuracy per benchmark from its score.json files (.../{benchmark}/score.json)."""
    rows = [
        {"benchmark": Path(p).parent.name, "accuracy": json.loads(Path(p).read_text())["pass_at_1"]}
        for p in score_files
    ]
    return pd.DataFrame(rows, columns=["benchmark", "accuracy"])


def _run_inputs(inputs: dict, params: dict, config: dict) -> tuple[dict, int]:
    """A run's manifest and the checkpoint the configured selection rule picks from its scores."""
    manifest = json.loads(Path(inputs["manifest"]).read_text())
    rule = config["selection"]
    selected = selection.select_checkpoints(
        pd.read_csv(inputs["scores"]),
        params["benchmarks"],
        rule["rule"],
        rule["selection_benchmarks"],
    )
    return manifest, int(selected["step"].iloc[0])


def make_figure(rule: str, inputs: dict, outputs: dict, params: dict, config: dict) -> pd.DataFrame:
    """Draw the figure of Snakemake rule ``rule`` (rules/figures.smk) into outputs pdf and png."""
    out = (outputs["pdf"], outputs["png"])
    if rule == "figure_overall_comparison":
        return overall_comparison(
            inputs["paper"],
            inputs["main"],
            inputs["costs"],
            _as_list(inputs["datasets"]),
            params["experiments"],
            *out,
        )
    if rule == "figure_cost_vs_performance":
        return cost_vs_performance(inputs["paper"], inputs["main"], inputs["costs"], *out)
    if rule == "figure_flops_vs_performance":
        return flops_vs_performance(inputs["flops"], *out)
    if rule == "figure_ablations":
        return ablations(inputs["ablations"], *out)
    if rule == "figure_reproduced_vs_published":
        return reproduced_vs_published(inputs["main"], *out)
    if rule == "figure_training_dynamics":
        from tina_repro.training import LOG_HISTORY

        manifest, selected = _run_inputs(inputs, params, config)
        history = Path(inputs["manifest"]).with_name(LOG_HISTORY)
        transition = phase.find_transition(pd.read_csv(history))
        return training_dynamics(
            history,
            params["title"],
            selected,
            transition,
            *out,
            epoch_steps=manifest.get("epoch_steps"),
        )
    if rule == "figure_checkpoint_curves":
        manifest, selected = _run_inputs(inputs, params, config)
        return checkpoint_curves(
            inputs["scores"],
            params["title"],
            selected,
            *out,
            base_scores=base_model_scores(_as_list(inputs["base"])),
            epoch_steps=manifest.get("epoch_steps"),
        )
    raise ValueError(f"no figure is drawn by rule {rule!r}")
