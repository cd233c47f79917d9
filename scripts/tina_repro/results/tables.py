"""The paper's tables rebuilt from our scores, with its published numbers beside them.

Conventions of the main and ablation tables:

- the reported checkpoint of a run comes from :mod:`tina_repro.results.selection`
  (``selection.rule`` of the config: ``paper`` selects on the six test benchmarks as the paper
  did, among the checkpoints on the run's save grid, ``heldout`` on
  ``selection.selection_benchmarks`` and reports the others, ``final`` takes the last evaluated
  checkpoint); ``candidates`` says how many checkpoints it chose among, and checkpoints.csv's
  ``paper_candidate`` which checkpoints the paper's run saved (a stop step off the save grid is
  evaluated and shown, but no candidate of the paper rule);
- ``reproduced``, ``ci_low`` and ``ci_high`` are rounded to the paper's two decimals, and
  ``difference`` = reproduced - published is taken between the printed values, so the same
  numbers give exactly 0;
- ``average`` is the unweighted mean over the reported benchmarks (the paper's "Avg."), computed
  at full precision then rounded. Its published value is the paper's Avg. column when all six are
  reported, else the mean of the paper's values over the reported benchmarks. Its 95% interval is
  a stratified bootstrap over problems (:mod:`tina_repro.results.stats`) from the graded.jsonl
  files the job declares; when one is missing the interval is left empty and a warning is logged;
- ``within_ci``: the published value lies inside [ci_low, ci_high];
- ``published_pct_epoch``: the paper's "Steps (% of 1 epoch)" beside our ``pct_epoch``;
- what a gain is made of: ``format_rate`` (% of samples whose answer could be extracted) and
  ``accuracy_given_formatted`` (accuracy among those samples), from the collected scores. The
  Tina paper explains LoRA-RL's gains as fast adaptation to the output format the reward asks
  for, the base model's knowledge kept; that shows as a rising format rate under a flat
  conditional accuracy. The average row is their unweighted mean over the reported benchmarks
  (empty when a benchmark lacks the value);
- ``accuracy_after_think``: the project's stricter reading, the answer taken only after the last
  ``</think>``, and ``accuracy_math_verify``: math-verify 0.9.0's reading of the whole completion,
  which fixes verdicts of lighteval that are mathematically wrong (``\\boxed{113\\%}`` is not
  113 to lighteval) (:mod:`tina_repro.eval.grading`); ``reproduced`` is lighteval's reading of
  the whole completion, the one comparable with ``published``. Averaged like the format columns;
- ``n_timeouts``: samples in which a parse or comparison ran out of its time budget
  (``evaluation.grading_timeout_s``); the average row holds their total;
- ``gain_vs_base`` with ``gain_ci_low`` and ``gain_ci_high`` (Tina rows only): the reported
  checkpoint minus the base model (the baseline that evaluates the untrained base model,
  :meth:`~tina_repro.config.WorkflowConfig.base_model_point`) on the same problems, in points,
  with a paired bootstrap over problems. Empty, with a warning, when there is no base model
  baseline or a graded.jsonl is missing;
- ``metric``: what one score is, ``pass@1`` (one sample per problem, the paper's) or ``mean@N``
  (the mean over N samples per problem: ``mean@10`` under config/eval-10-seeds.yaml, as the
  later repository evaluated);
- replicates (an experiments row with several ``seeds``): a Tina row is the row of the sheet,
  its values the mean over its runs, each at its own selected checkpoint (``seeds`` and
  ``seed_steps`` list them; ``step`` is empty when they differ); ``seed_sd`` is the standard
  deviation over the seeds (empty for one seed) and the interval and the gain's interval
  bootstrap seeds and problems together (:mod:`tina_repro.results.stats`); the published value
  is beside the mean;
- ablations: each ablation lists its rows and the rows they are ``compared_with``
  (experiments.tsv); a compared row's ``difference_vs_reference`` (with ``diff_ci_low``,
  ``diff_ci_high``) is its mean minus the reference's on the same problems, paired, at each
  run's selected checkpoint. ``published_in`` says which version of the paper a published
  number is from (ablations.csv).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tina_repro import paths
from tina_repro.config import BASELINE_RUN, WorkflowConfig
from tina_repro.files import read_json
from tina_repro.results import selection
from tina_repro.results.collect import (
    as_paths,
    index_eval_files,
    pct_epoch,
    read_manifests,
    read_scores,
)
from tina_repro.results.stats import AVERAGE, gains_vs_base, group_interval, paired_difference

logger = logging.getLogger(__name__)

CHECKPOINT_COLUMNS = [
    "run",
    "kind",
    "step",
    "paper_candidate",
    "pct_epoch",
    "benchmark",
    "accuracy",
    "ci_low",
    "ci_high",
    "samples_per_problem",
    "accuracy_math_verify",
    "n_timeouts",
]
MAIN_COLUMNS = [
    "model",
    "kind",
    "paper_name",
    "seeds",
    "step",
    "seed_steps",
    "pct_epoch",
    "benchmark",
    "metric",
    "reproduced",
    "ci_low",
    "ci_high",
    "seed_sd",
    "published",
    "difference",
    "within_ci",
    "selection_rule",
    "candidates",
    "published_pct_epoch",
    "format_rate",
    "accuracy_given_formatted",
    "accuracy_after_think",
    "accuracy_math_verify",
    "n_timeouts",
    "gain_vs_base",
    "gain_ci_low",
    "gain_ci_high",
]
REFERENCE_COLUMNS = ("difference_vs_reference", "diff_ci_low", "diff_ci_high")
# comparison_note: ablations.csv's word on which run a published row is compared with, and why
ABLATION_COLUMNS = [
    "ablation",
    "setting",
    *MAIN_COLUMNS,
    "compared_with",
    *REFERENCE_COLUMNS,
    "published_in",
    "comparison_note",
]
# Share of a checkpoint's LoRA update that survives a bf16 merge (overall, then one column per
# layer type, e.g. merge_retention_bf16_q_proj), from its generation record.
RETENTION_COLUMN = "merge_retention_bf16"
# Per benchmark beside the score: averaged over the benchmarks, or (counts) summed.
FORMAT_COLUMNS = (
    "format_rate",
    "accuracy_given_formatted",
    "accuracy_after_think",
    "accuracy_math_verify",
)
COUNT_COLUMNS = ("n_timeouts",)
GAIN_COLUMNS = ("gain_vs_base", "gain_ci_low", "gain_ci_high")
PAPER_DECIMALS = 2
# The paper's six benchmark columns, and our benchmark names where they differ.
PAPER_BENCHMARKS = ("aime24", "aime25", "amc23", "math500", "gpqa_diamond", "minerva")
PAPER_COLUMN = {"math_500": "math500"}
# Ablation tables of the paper and the experiments.tsv column each one varies.
ABLATION_SETTING = {
    "datasets": "dataset",
    "learning_rate": "learning_rate",
    "lora_rank": "lora_r",
    "rl_algorithm": "loss_type",
    "rewards": "rewards",
    "completion_length": "max_completion_length",
    "length_control": "rewards",
}


def _printed(value: float) -> float:
    """A value as the paper prints it (two decimals)."""
    return round(float(value), PAPER_DECIMALS) if pd.notna(value) else math.nan


def format_columns(scores: pd.DataFrame, benchmarks: Sequence[str]) -> dict[str, dict]:
    """:data:`FORMAT_COLUMNS` and :data:`COUNT_COLUMNS` of one evaluated model (its rows of a
    scores CSV) for each of ``benchmarks`` and, for ``average``, their unweighted mean (NaN when
    any benchmark lacks the value: an average over fewer benchmarks would not be comparable) or
    their total."""
    by_benchmark = scores.set_index("benchmark")
    columns = (*FORMAT_COLUMNS, *COUNT_COLUMNS)
    out = {b: {c: float(by_benchmark.loc[b, c]) for c in columns} for b in benchmarks}
    out[AVERAGE] = {
        **{c: float(np.mean([out[b][c] for b in benchmarks])) for c in FORMAT_COLUMNS},
        **{c: float(np.sum([out[b][c] for b in benchmarks])) for c in COUNT_COLUMNS},
    }
    return out


def metric_label(samples_per_problem: int) -> str:
    """``pass@1`` for one sample per problem (the paper's), else ``mean@N``."""
    return "pass@1" if samples_per_problem == 1 else f"mean@{samples_per_problem}"


def metric_columns(frames: Sequence[pd.DataFrame], benchmarks: Sequence[str]) -> dict[str, str]:
    """The metric of each benchmark (and of the average: theirs when they agree)."""
    counts = {
        b: {int(frame.set_index("benchmark").loc[b, "samples_per_problem"]) for frame in frames}
        for b in benchmarks
    }
    labels = {b: "/".join(metric_label(n) for n in sorted(c)) for b, c in counts.items()}
    labels[AVERAGE] = "/".join(sorted(set(labels.values())))
    return labels


def published_values(paper_row: pd.Series | None, benchmarks: Sequence[str]) -> dict[str, float]:
    """The paper's value for each benchmark (NaN where it has none) and for ``average``."""
    if paper_row is None:
        return {b: math.nan for b in [*benchmarks, AVERAGE]}
    values = {b: float(paper_row.get(PAPER_COLUMN.get(b, b), math.nan)) for b in benchmarks}
    if sorted(PAPER_COLUMN.get(b, b) for b in benchmarks) == sorted(PAPER_BENCHMARKS):
        values[AVERAGE] = float(paper_row["avg"])
    else:
        values[AVERAGE] = float(np.mean(list(values.values()))) if values else math.nan
    return values


def group_rows(
    frames: Sequence[pd.DataFrame],
    points: Sequence[tuple[str, str]],
    benchmarks: Sequence[str],
    graded: dict,
) -> tuple[list[tuple], dict[str, float]]:
    """(benchmark, accuracy, ci_low, ci_high) of a group of evaluated models, the replicates of
    one experiments row (``frames``: each one's rows of a scores CSV; ``points``: its (run,
    point)), at full precision, for each of ``benchmarks`` and their ``average``, with the
    standard deviation over the replicates of each (NaN for one). The mean is over replicates;
    one model's benchmark intervals are its score.json's, a group's and every average's come
    from the graded.jsonl files ``graded`` indexes (:func:`tina_repro.results.stats
    .group_interval`)."""
    accuracy = np.zeros((len(frames), len(benchmarks)))
    for i, (frame, (run, point)) in enumerate(zip(frames, points, strict=True)):
        by_benchmark = frame.set_index("benchmark")
        missing = [b for b in benchmarks if b not in by_benchmark.index]
        if missing:
            raise ValueError(f"{run}/{point}: no score for {missing}")
        accuracy[i] = by_benchmark.loc[list(benchmarks), "accuracy"].astype(float)
    intervals = group_interval(graded, points, benchmarks)
    if len(frames) == 1:
        by_benchmark = frames[0].set_index("benchmark")
        intervals |= {
            b: tuple(by_benchmark.loc[b, ["ci_low", "ci_high"]].astype(float)) for b in benchmarks
        }
    nan_pair = (math.nan, math.nan)
    rows = [
        (b, float(accuracy[:, j].mean()), *intervals.get(b, nan_pair))
        for j, b in enumerate(benchmarks)
    ]
    rows.append((AVERAGE, float(accuracy.mean()), *intervals.get(AVERAGE, nan_pair)))
    spread = {b: math.nan for b in [*benchmarks, AVERAGE]}
    if len(frames) > 1:
        spread |= {b: float(accuracy[:, j].std(ddof=1)) for j, b in enumerate(benchmarks)}
        spread[AVERAGE] = float(accuracy.mean(axis=1).std(ddof=1))
    return rows, spread


def reproduced_rows(
    scores: pd.DataFrame, run: str, point: str, benchmarks: Sequence[str], graded: dict
):
    """:func:`group_rows` of one evaluated model (``scores``: its rows of a scores CSV)."""
    return group_rows([scores], [(run, point)], benchmarks, graded)[0]


def compare(
    reproduced: list[tuple], published: dict[str, float], extra: dict[str, dict]
) -> list[dict]:
    """Rows of the main/ablation tables: our values as printed, the paper's beside them, then the
    ``extra`` columns of each benchmark (format and gain columns, printed)."""
    out = []
    for benchmark, accuracy, low, high in reproduced:
        value, low, high = _printed(accuracy), _printed(low), _printed(high)
        paper = published[benchmark]
        out.append(
            {
                "benchmark": benchmark,
                "reproduced": value,
                "ci_low": low,
                "ci_high": high,
                "published": paper,
                "difference": _printed(value - paper) if pd.notna(paper) else math.nan,
                "within_ci": (
                    bool(low <= paper <= high) if pd.notna(paper) and pd.notna(low) else pd.NA
                ),
                **{
                    column: v if isinstance(v, str) else _printed(v)
                    for column, v in extra[benchmark].items()
                },
            }
        )
    return out


class Tables:
    """What the table builders share: the validated config and the rule's inputs."""

    def __init__(self, inputs: dict, config: dict, wc: WorkflowConfig):
        self.inputs = inputs
        self.config = config
        self.workflow_config = wc
        self.graded = index_eval_files(inputs.get("graded", []))
        self.benchmarks = list(self.workflow_config.benchmarks)
        chosen = config["selection"]
        self.rule = chosen["rule"]
        self.selection_benchmarks = list(chosen["selection_benchmarks"])
        _, self.reported = selection.split_benchmarks(
            self.benchmarks, self.rule, self.selection_benchmarks
        )
        self.rule_label = selection.rule_label(self.rule, self.selection_benchmarks)
        self.base_point = self.workflow_config.base_model_point()

    def has(self, name: str) -> bool:
        return name in self.inputs

    def scores(self) -> pd.DataFrame:
        return read_scores(as_paths(self.inputs["runs"]))

    def baselines(self) -> pd.DataFrame:
        return read_scores(as_paths(self.inputs["baselines"]))

    def manifests(self) -> dict[str, dict]:
        return read_manifests(as_paths(self.inputs["manifests"]))

    def runs_in_order(self, scores: pd.DataFrame) -> list[str]:
        present = set(scores["run"])
        unknown = sorted(present - set(self.workflow_config.experiments))
        if unknown:
            raise ValueError(f"scores of run(s) {unknown} that experiments.tsv does not define")
        return [name for name in self.workflow_config.experiments if name in present]

    def save_steps(self) -> dict[str, int]:
        return {name: row.save_steps for name, row in self.workflow_config.experiments.items()}

    def select(self, scores: pd.DataFrame) -> pd.DataFrame:
        return selection.select_checkpoints(
            scores, self.benchmarks, self.rule, self.selection_benchmarks, self.save_steps()
        )

    def published(self, name: str, key: str) -> pd.DataFrame:
        return pd.read_csv(self.inputs[name], dtype={key: str})

    def groups(self, scores: pd.DataFrame) -> dict[str, list[str]]:
        """experiments row -> its runs that have scores (its replicates), in sheet order."""
        present = set(self.runs_in_order(scores))
        groups = {
            row: [run for run in runs if run in present]
            for row, runs in self.workflow_config.replicates.items()
        }
        return {row: runs for row, runs in groups.items() if runs}

    def measure(
        self, frames: Sequence[pd.DataFrame], points: Sequence[tuple[str, str]]
    ) -> tuple[list[tuple], dict[str, dict]]:
        """A group of evaluated models (one, or the replicates of an experiments row; ``frames``
        are each one's rows of a scores CSV): its :func:`group_rows` and, per reported benchmark
        and average, its metric, spread over seeds, format columns (means over the group), count
        columns (totals over the group) and, for Tina runs, its gain columns."""
        reproduced, spread = group_rows(frames, points, self.reported, self.graded)
        formats = [format_columns(frame, self.reported) for frame in frames]
        metrics = metric_columns(frames, self.reported)
        extra = {
            b: {
                "metric": metrics[b],
                "seed_sd": spread[b],
                **{c: float(np.mean([f[b][c] for f in formats])) for c in FORMAT_COLUMNS},
                **{c: float(np.sum([f[b][c] for f in formats])) for c in COUNT_COLUMNS},
            }
            for b in [*self.reported, AVERAGE]
        }
        if points[0][0] == BASELINE_RUN:
            return reproduced, extra
        where = "+".join("/".join(point) for point in points)
        gains = {}
        if self.base_point is None:
            logger.warning(
                "%s: no baseline evaluates the base model %s untrained: no gain over it",
                where,
                self.config["base_model"]["source"],
            )
        else:
            gains = gains_vs_base(self.graded, points, self.base_point, self.reported)
        for benchmark, columns in extra.items():
            columns.update(zip(GAIN_COLUMNS, gains.get(benchmark, [math.nan] * 3), strict=True))
        return reproduced, extra

    def at_steps(self, scores: pd.DataFrame, runs: Sequence[str], steps: pd.Series):
        """(frames, points) of ``runs`` at their selected ``steps`` (run -> step)."""
        frames = [scores[(scores["run"] == run) & (scores["step"] == steps[run])] for run in runs]
        return frames, [(run, paths.step_point(int(steps[run]))) for run in runs]

    def replicate_columns(
        self, runs: Sequence[str], selected: pd.DataFrame, manifests: dict
    ) -> dict:
        """seeds, step and candidates (when the replicates agree), seed_steps and pct_epoch of a
        Tina row; ``selected`` is :meth:`select`'s frame indexed by run."""
        chosen = [int(selected.loc[run, "step"]) for run in runs]
        step = chosen[0] if len(set(chosen)) == 1 else None
        among = {int(selected.loc[run, "candidates"]) for run in runs}
        return {
            "seeds": ";".join(str(self.workflow_config.experiments[run].seed) for run in runs),
            "step": step,
            "candidates": among.pop() if len(among) == 1 else None,
            "seed_steps": ";".join(map(str, chosen)),
            "pct_epoch": (
                pct_epoch(step, manifests.get(runs[0])) if step is not None else math.nan
            ),
        }


def merge_retention(records: Sequence[str]) -> pd.DataFrame:
    """(run, point, merge_retention_bf16, merge_retention_bf16_<layer type>...) of every
    generation record of a checkpoint (records of models without an adapter have none)."""
    rows = []
    for path in records:
        run, point = paths.record_parts(path)
        retention = read_json(path).get(RETENTION_COLUMN)
        if retention is None:
            continue
        by_type = retention["by_layer_type"]
        rows.append(
            {
                "run": run,
                "point": point,
                RETENTION_COLUMN: retention["overall"],
                **{f"{RETENTION_COLUMN}_{t}": by_type[t] for t in sorted(by_type)},
            }
        )
    return pd.DataFrame(rows, columns=None if rows else ["run", "point", RETENTION_COLUMN])


# ---- tables ------------------------------------------------------------------------------------
def checkpoints_table(t: Tables) -> pd.DataFrame:
    """Every evaluated (run, step, benchmark), baselines included (run = baseline name), with
    each checkpoint's bf16 merge retention (:data:`RETENTION_COLUMN`)."""
    scores, manifests = t.scores(), t.manifests()
    runs = scores.assign(kind="tina")
    save_steps = t.save_steps()
    runs["paper_candidate"] = [
        selection.paper_candidate(step, save_steps[run])
        for run, step in zip(runs["run"], runs["step"], strict=True)
    ]
    runs["pct_epoch"] = [
        pct_epoch(step, manifests.get(run))
        for run, step in zip(runs["run"], runs["step"], strict=True)
    ]
    frames = [runs]
    if t.has("baselines"):
        baselines = t.baselines()
        kinds = baselines["point"].map(lambda name: t.workflow_config.baselines[name].kind)
        frames.append(baselines.assign(kind=kinds, run=baselines["point"], pct_epoch=math.nan))
    order = {
        "run": {
            name: i
            for i, name in enumerate([*t.workflow_config.baselines, *t.workflow_config.experiments])
        },
        "benchmark": {name: i for i, name in enumerate(t.benchmarks)},
    }
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.sort_values(
        ["run", "step", "benchmark"],
        key=lambda col: col.map(order[col.name]) if col.name in order else col,
    )
    frame = frame[[*CHECKPOINT_COLUMNS, "point"]]
    frame["paper_candidate"] = frame["paper_candidate"].astype("boolean")  # empty for baselines
    if t.has("records"):
        frame = frame.merge(merge_retention(as_paths(t.inputs["records"])), how="left")
    return frame.drop(columns="point").reset_index(drop=True)


def main_table(t: Tables) -> pd.DataFrame:
    """Baselines (paper Table 2), released Tina adapters (kind ``released_adapter``: the paper's
    checkpoint, beside the paper's number of the run it came from) and the main Tina runs at their
    selected step (Table 3)."""
    rows = []
    baselines = t.baselines()
    paper = t.published("published_baselines", "baseline").set_index("baseline")
    unknown = sorted(set(baselines["point"]) - set(t.workflow_config.baselines))
    if unknown:
        raise ValueError(f"scores of baseline(s) {unknown} that baselines.tsv does not define")
    released = released_adapter_papers(t)
    for name in [b for b in t.workflow_config.baselines if b in set(baselines["point"])]:
        baseline = t.workflow_config.baselines[name]
        paper_row = paper.loc[name] if name in paper.index else None
        where = {}
        if baseline.compared_with:
            paper_row = released.get(baseline.compared_with)
            where = {
                "step": baseline.checkpoint_step,
                "published_pct_epoch": (
                    paper_row["steps_pct_of_1_epoch"] if paper_row is not None else None
                ),
            }
        frame = baselines[baselines["point"] == name]
        reproduced, extra = t.measure([frame], [(BASELINE_RUN, name)])
        for row in compare(reproduced, published_values(paper_row, t.reported), extra):
            rows.append(
                {
                    "model": name,
                    "kind": baseline.kind,
                    "paper_name": baseline.paper_name,
                    **where,
                    **row,
                }
            )
    scores, manifests = t.scores(), t.manifests()
    selected = t.select(scores).set_index("run")
    steps = selected["step"]
    paper = t.published("published", "experiment").set_index("experiment")
    for name, runs in t.groups(scores).items():
        paper_row = paper.loc[name] if name in paper.index else None
        reproduced, extra = t.measure(*t.at_steps(scores, runs, steps))
        for row in compare(reproduced, published_values(paper_row, t.reported), extra):
            rows.append(
                {
                    "model": name,
                    "kind": "tina",
                    "paper_name": t.workflow_config.experiments[name].paper_name,
                    **t.replicate_columns(runs, selected, manifests),
                    "published_pct_epoch": (
                        paper_row["steps_pct_of_1_epoch"] if paper_row is not None else None
                    ),
                    **row,
                }
            )
    return _finish(pd.DataFrame(rows), MAIN_COLUMNS, t.rule_label)


def released_adapter_papers(t: Tables) -> dict[str, pd.Series]:
    """The paper's row (Table 3, else Table 4) of every experiment a released adapter is
    compared with (baselines.tsv ``compared_with``)."""
    papers = [t.published("published", "experiment")]
    if t.has("published_ablations"):
        papers.append(t.published("published_ablations", "experiment"))
    found = {}
    for paper in reversed(papers):
        found.update({row["experiment"]: row for _, row in paper.iterrows()})
    return found


def ablation_members(t: Tables, ablation: str, groups: dict, paper: pd.DataFrame) -> list[str]:
    """The experiments rows an ablation lists: its rows and those they are compared with, in
    the paper's row order (it sorts datasets by size), then the rows it does not have."""
    members = [row for row in groups if t.workflow_config.experiments[row].in_tables(ablation)]
    references = [t.workflow_config.experiments[row].compared_with for row in members]
    listed = [row for row in groups if row in members or row in references]
    order = list(paper["experiment"])
    return sorted(listed, key=lambda row: order.index(row) if row in order else len(order))


def ablations_table(t: Tables) -> pd.DataFrame:
    """The ablations of paper Table 4 and of the later version, each row at its selected step
    (the mean over its seeds), with its paired difference to the row it is compared with."""
    scores, manifests = t.scores(), t.manifests()
    selected = t.select(scores).set_index("run")
    steps = selected["step"]
    paper = t.published("published", "experiment")
    groups = t.groups(scores)
    measured = {name: t.measure(*t.at_steps(scores, runs, steps)) for name, runs in groups.items()}
    rows = []
    for ablation, column in ABLATION_SETTING.items():
        published = paper[paper["ablation"] == ablation].set_index("experiment")
        for name in ablation_members(t, ablation, groups, published.reset_index()):
            experiment = t.workflow_config.experiments[name]
            paper_row = published.loc[name] if name in published.index else None
            setting = getattr(experiment, column)
            reproduced, extra = measured[name]
            reference = experiment.compared_with
            differences = {}
            if reference in groups:
                differences = paired_difference(
                    t.graded,
                    t.at_steps(scores, groups[name], steps)[1],
                    t.at_steps(scores, groups[reference], steps)[1],
                    t.reported,
                )
            for row in compare(reproduced, published_values(paper_row, t.reported), extra):
                row.update(
                    zip(
                        REFERENCE_COLUMNS,
                        map(_printed, differences.get(row["benchmark"], [math.nan] * 3)),
                        strict=True,
                    )
                )
                rows.append(
                    {
                        "ablation": ablation,
                        "setting": f"{setting:g}" if isinstance(setting, float) else str(setting),
                        "model": name,
                        "kind": "tina",
                        "paper_name": (
                            paper_row["model"] if paper_row is not None else experiment.paper_name
                        ),
                        **t.replicate_columns(groups[name], selected, manifests),
                        "published_pct_epoch": (
                            paper_row["steps_pct_of_1_epoch"] if paper_row is not None else None
                        ),
                        "compared_with": reference,
                        "published_in": (
                            paper_row.get("published_in") if paper_row is not None else None
                        ),
                        "comparison_note": (
                            paper_row.get("comparison_note") if paper_row is not None else None
                        ),
                        **row,
                    }
                )
    return _finish(pd.DataFrame(rows), ABLATION_COLUMNS, t.rule_label)


def _finish(frame: pd.DataFrame, columns: list[str], rule_label: str) -> pd.DataFrame:
    frame = frame.assign(selection_rule=rule_label).reindex(columns=columns)
    frame["step"] = frame["step"].astype("Int64")
    frame["candidates"] = frame["candidates"].astype("Int64")
    frame["within_ci"] = frame["within_ci"].astype("boolean")
    return frame
