"""The numbers behind each figure, built from the tables and run files (no drawing here).

Each builder returns a tidy frame (plus what the drawing needs to lay it out), so tests and the
draw functions in :mod:`~tina_repro.figures.paper` and :mod:`~tina_repro.figures.runs` see the
same numbers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from tina_repro.figures import phase
from tina_repro.figures.style import (
    DYNAMICS_METRICS,
    PUBLISHED,
    REPRODUCED,
    averages,
    drop_nonpositive,
    name_of,
    read_table,
    training_cost_of,
)
from tina_repro.results import selection
from tina_repro.results.stats import AVERAGE

logger = logging.getLogger(__name__)

FIGURE1_METRICS = {
    "data_amount_thousands": ("Data amount", "thousand prompts × rollouts"),
    "computational_cost_usd": ("Computational cost", "USD"),
    "time_cost_hours": ("Time cost", "hours"),
    "reasoning_performance_pct": ("Reasoning performance", "benchmark average (%)"),
}
LORA_FLOPS, FULL_FLOPS = "LoRA (as trained)", "full-parameter (same steps)"
BASELINE_FLOPS = "full-parameter baseline (recipe estimate)"


def dataset_rows(report_paths: Iterable[str | Path]) -> dict[str, int]:
    """Rows kept per prepared training set, from resources/datasets/{dataset}.report.json."""
    sizes = {}
    for path in report_paths:
        name = Path(path).name.removesuffix(".report.json")
        sizes[name] = int(json.loads(Path(path).read_text())["rows_kept"])
    return sizes


def best_tina(main: pd.DataFrame) -> pd.Series:
    """Our best Tina model: highest reproduced six-benchmark average (ties: first by name)."""
    tina = averages(main)
    tina = tina[(tina["kind"] == "tina") & tina["reproduced"].notna()]
    if tina.empty:
        raise ValueError("main table: no Tina model with a reproduced average")
    return tina.sort_values(["reproduced", "model"], ascending=[False, True]).iloc[0]


def overall_comparison_data(
    figure1_csv, main_csv, costs_csv, dataset_reports, experiments: dict[str, dict]
) -> tuple[pd.DataFrame, list[str], str]:
    """Figure 1's bars, the paper's values next to ours: (frame, bar order, our Tina run).

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
    table_averages = averages(main)
    best = best_tina(main)
    experiment = str(best["model"])
    cost = training_cost_of(costs, experiment)
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
    tina_label = f"Tina\n(ours: {name_of(best)})"

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
            match = table_averages[
                (table_averages["kind"] == "baseline")
                & (table_averages["paper_name"] == row["model"])
            ]
            reproduced = (
                {"reasoning_performance_pct": match["reproduced"].iloc[0]} if len(match) else {}
            )
        for metric, value in reproduced.items():
            records.append({"model": label, "metric": metric, "source": REPRODUCED, "value": value})
    order = [tina_label if m == "Tina" else m for m in paper["model"]]
    return pd.DataFrame(records), order, experiment


def cost_vs_performance_data(figure1_csv, main_csv, costs_csv) -> tuple[pd.DataFrame, int]:
    """(points, number dropped for a non-positive cost): Tina runs published and reproduced, the
    full-parameter baselines at their authors' cost with published and re-evaluated averages."""
    paper = read_table(
        figure1_csv, ["model", "computational_cost_usd", "reasoning_performance_pct"]
    )
    main = read_table(
        main_csv, ["model", "kind", "paper_name", "benchmark", "reproduced", "published"]
    )
    costs = read_table(costs_csv, ["experiments", "training_cost_usd", "published_training_usd"])
    table_averages = averages(main)
    records = []
    for _, row in table_averages[table_averages["kind"] == "tina"].iterrows():
        cost = training_cost_of(costs, str(row["model"]))
        for source, cost_column, value in (
            (PUBLISHED, "published_training_usd", row["published"]),
            (REPRODUCED, "training_cost_usd", row["reproduced"]),
        ):
            records.append(
                {
                    "label": name_of(row),
                    "family": "Tina (LoRA)",
                    "source": source,
                    "cost_usd": cost[cost_column] if cost is not None else np.nan,
                    "performance": value,
                }
            )
    for _, row in paper[paper["model"] != "Tina"].iterrows():
        match = table_averages[
            (table_averages["kind"] == "baseline") & (table_averages["paper_name"] == row["model"])
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
    frame, dropped = drop_nonpositive(frame, "cost_usd", "cost vs performance")
    if frame.empty:
        raise ValueError("cost vs performance: no point with a positive cost and a score")
    return frame, dropped


def flops_vs_performance_data(flops_csv) -> tuple[pd.DataFrame, int]:
    """(points, number dropped): each Tina run's LoRA FLOPs and full-parameter FLOPs up to its
    selected checkpoint at the same score, and each full-parameter baseline's recipe estimate up
    to its released checkpoint, labelled with its assumptions. The baseline's score is our
    re-evaluation, or the paper's where we have none (``performance_source``). Runs without a
    selected checkpoint are logged."""
    columns = ["model", "kind", "best_average", "published_average", "assumption_label"]
    columns += ["total_lora_flops_to_selected", "full_ft_flops_to_selected"]
    flops = read_table(flops_csv, columns)
    baseline = flops["kind"] != "tina"
    ours = flops["best_average"].notna()
    unscored = ~ours & (~baseline | flops["published_average"].isna())
    if unscored.any():
        logger.warning(
            "FLOPs figure: no selected checkpoint for %s; not drawn",
            ", ".join(flops.loc[unscored, "model"]),
        )
    tina_points = [
        (row["model"], kind, row[column], row["best_average"], REPRODUCED)
        for _, row in flops[~baseline & ~unscored].iterrows()
        for kind, column in (
            (LORA_FLOPS, "total_lora_flops_to_selected"),
            (FULL_FLOPS, "full_ft_flops_to_selected"),
        )
    ]
    baseline_points = [
        (
            f"{row['model']}: {row['assumption_label']}",
            BASELINE_FLOPS,
            row["full_ft_flops_to_selected"],
            row["best_average"] if is_ours else row["published_average"],
            REPRODUCED if is_ours else PUBLISHED,
        )
        for (_, row), is_ours in zip(
            flops[baseline & ~unscored].iterrows(), ours[baseline & ~unscored], strict=True
        )
    ]
    frame = pd.DataFrame(
        tina_points + baseline_points,
        columns=["label", "training", "flops", "performance", "performance_source"],
    )
    frame, dropped = drop_nonpositive(frame, "flops", "FLOPs vs performance")
    if frame.empty:
        raise ValueError(f"{flops_csv}: no run with both FLOPs and a score")
    return frame, dropped


def read_log_history(path: str | Path) -> pd.DataFrame:
    """log_history.csv with the step column and at least one plotted metric."""
    frame = read_table(path, ["step"])
    present = [m for m in DYNAMICS_METRICS if m in frame and frame[m].notna().any()]
    if not present:
        raise ValueError(f"{path}: none of the columns {', '.join(DYNAMICS_METRICS)} has values")
    return frame.sort_values("step")


def training_dynamics_data(log_history_csv) -> tuple[pd.DataFrame, int]:
    """(metric, step, value, smoothed) rows of the plotted log metrics, and the smoothing window
    (the centred moving average that phase-transition detection uses)."""
    history = read_log_history(log_history_csv)
    metrics = [m for m in DYNAMICS_METRICS if m in history and history[m].notna().any()]
    window = phase.default_window(len(history))
    records = []
    for metric in metrics:
        series = history[["step", metric]].dropna()
        records.append(
            pd.DataFrame(
                {
                    "metric": metric,
                    "step": series["step"],
                    "value": series[metric],
                    "smoothed": phase.smooth(series[metric].to_numpy(), window),
                }
            )
        )
    return pd.concat(records, ignore_index=True), window


def base_model_scores(score_files: Iterable[str | Path]) -> pd.DataFrame:
    """Base-model accuracy per benchmark from its score.json files (.../{benchmark}/score.json)."""
    rows = [
        {"benchmark": Path(p).parent.name, "accuracy": json.loads(Path(p).read_text())["pass_at_1"]}
        for p in score_files
    ]
    return pd.DataFrame(rows, columns=["benchmark", "accuracy"])


def checkpoint_curves_data(
    scores_csv, base_scores: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[str], dict[str, float]]:
    """(every checkpoint's scores plus their average per step, benchmarks, base-model accuracy
    per benchmark and average)."""
    scores = read_table(scores_csv, ["run", "step", "benchmark", "accuracy", "ci_low", "ci_high"])
    scores = scores.dropna(subset=["step"]).astype({"step": int}).sort_values("step")
    benchmarks = list(dict.fromkeys(scores["benchmark"]))
    average = selection.step_averages(scores, benchmarks)
    average = average.rename(columns={"average": "accuracy"}).assign(benchmark=AVERAGE)
    frame = pd.concat([scores, average], ignore_index=True)
    base = {}
    if base_scores is not None and len(base_scores):
        base = base_scores.set_index("benchmark")["accuracy"].to_dict()
        if all(b in base for b in benchmarks):
            base[AVERAGE] = float(np.mean([base[b] for b in benchmarks]))
    return frame, benchmarks, base


def setting_order(settings: pd.Series) -> list[str]:
    """Numeric settings (learning rate, rank) in numeric order; others as the table lists them."""
    values = list(dict.fromkeys(settings.astype(str)))
    numbers = pd.to_numeric(pd.Series(values), errors="coerce")
    if numbers.notna().all():
        return [v for _, v in sorted(zip(numbers, values, strict=True))]
    return values


def ablations_data(ablations_csv) -> pd.DataFrame:
    """The average rows of the ablation table (setting as text)."""
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
    frame = averages(table).copy()
    frame["setting"] = frame["setting"].astype(str)
    return frame


def reproduced_vs_published_data(main_csv) -> pd.DataFrame:
    """Every (model, benchmark) of the main table with both a reproduced and a published value."""
    table = read_table(
        main_csv,
        ["model", "kind", "benchmark", "reproduced", "ci_low", "ci_high", "published", "within_ci"],
    )
    frame = table.dropna(subset=["reproduced", "published"]).copy()
    if frame.empty:
        raise ValueError(f"{main_csv}: no row with both a reproduced and a published value")
    frame["within_ci"] = frame["within_ci"].astype(str).str.lower().isin(["true", "1", "1.0"])
    return frame


def selected_step(scores_csv, benchmarks, rule: str, selection_benchmarks, save_steps: int) -> int:
    """The checkpoint the configured selection rule picks from a run's scores (``save_steps``:
    the run's save interval, which decides the paper rule's candidates)."""
    scores = pd.read_csv(scores_csv)
    selected = selection.select_checkpoints(
        scores,
        benchmarks,
        rule,
        selection_benchmarks,
        {run: save_steps for run in scores["run"].unique()},
    )
    return int(selected["step"].iloc[0])
