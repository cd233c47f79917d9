"""The figures' shared look and helpers: labels, colours, style, saving, reading checked tables.

Rendering uses the Agg backend: no display is needed. PDFs carry no creation date, so a rebuild
gives the same bytes.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from tina_repro.results.stats import AVERAGE  # noqa: E402

logger = logging.getLogger(__name__)

PUBLISHED, REPRODUCED = "published", "reproduced"
SOURCE_COLORS = {PUBLISHED: "#8c8c8c", REPRODUCED: "#1f6fb4"}
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
    "rewards": "Rewards (format-only test)",
    "completion_length": "Completion limit",
    "length_control": "L1 length control",
}
# log_history.csv columns plotted as training dynamics, in panel order (TRL 1.16 log keys).
DYNAMICS_METRICS = {
    "rewards/format/mean": "Format reward",
    "rewards/accuracy/mean": "Accuracy reward",
    "rewards/cosine/mean": "Cosine reward",
    "completions/mean_length": "Completion length\n(tokens)",
}
SELECTED_COLOR, TRANSITION_COLOR = "#2ca02c", "#d62728"


def figure(function: Callable) -> Callable:
    """A draw function ``f(*inputs, **options) -> (fig, frame)`` called as
    ``f(*inputs, out_pdf, out_png, **options) -> frame``: it draws inside one seaborn style (so
    figures look alike without changing global state), then the figure is saved and closed."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        *inputs, out_pdf, out_png = args
        with sns.axes_style("whitegrid"), sns.plotting_context("paper", font_scale=1.15):
            fig, frame = function(*inputs, **kwargs)
        save(fig, out_pdf, out_png)
        return frame

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


def averages(table: pd.DataFrame) -> pd.DataFrame:
    """The six-benchmark average rows of main.csv or ablations.csv."""
    rows = table[table["benchmark"] == AVERAGE]
    if rows.empty:
        raise ValueError(f"no '{AVERAGE}' rows in the table")
    return rows


def name_of(row: pd.Series) -> str:
    """The paper's name of a table row, or our name where the paper has none."""
    name = row.get("paper_name")
    return name if isinstance(name, str) and name else str(row["model"])


def training_cost_of(costs: pd.DataFrame, experiment: str) -> pd.Series | None:
    """The cost row that covers exactly one experiment (a paper row or an added per-run row)."""
    rows = costs[costs["experiments"].astype(str) == experiment]
    if rows.empty:
        logger.warning("costs table: no row for experiment %s; its cost is not plotted", experiment)
        return None
    return rows.iloc[0]


def error_bars(frame: pd.DataFrame, value: str) -> np.ndarray:
    """Asymmetric error bars from ci_low/ci_high; missing bounds draw no bar."""
    low = (frame[value] - frame["ci_low"]).clip(lower=0).fillna(0)
    high = (frame["ci_high"] - frame[value]).clip(lower=0).fillna(0)
    return np.vstack([low.to_numpy(), high.to_numpy()])


def drop_nonpositive(frame: pd.DataFrame, column: str, what: str) -> tuple[pd.DataFrame, int]:
    """Log axes cannot show zero or missing values: drop them, counted and logged."""
    keep = frame[column].gt(0)
    dropped = int((~keep).sum())
    if dropped:
        names = ", ".join(frame.loc[~keep, "label"].astype(str))
        logger.warning(
            "%s: %d point(s) without a positive %s not drawn: %s", what, dropped, column, names
        )
    return frame[keep], dropped


def label_axes(ax: plt.Axes, xlabel: str, ylabel: str, title: str, note: str | None) -> None:
    """Axis labels and a title, with a note in brackets (e.g. points not drawn) when given."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title} ({note})" if note else title)


def label_point(ax: plt.Axes, text: str, x: float, y: float) -> None:
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


def mark_steps(ax: plt.Axes, selected_step: int | None, transition_step: int | None) -> None:
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


def epoch_axis(ax: plt.Axes, epoch_steps: float | None) -> None:
    """A top axis in % of one epoch, the unit of the paper's "Steps (% of 1 epoch)" column."""
    if epoch_steps:
        top = ax.secondary_xaxis(
            "top",
            functions=(lambda s: s / epoch_steps * 100, lambda p: p * epoch_steps / 100),
        )
        top.set_xlabel("% of one epoch")
