"""The paper's tables rebuilt from our scores and training logs, with its published numbers beside.

Entry points (scripts/collect_scores.py, scripts/make_table.py):

- :func:`collect_scores`: the score.json files of one run, or of the baselines, into one tidy CSV;
- :func:`make_table`: the table of a Snakemake rule (``TABLES``), written as CSV and as Markdown
  next to it (same stem, ``.md``).

Conventions of the main and ablation tables:

- the reported checkpoint of a run comes from :mod:`tina_repro.selection` (``selection.rule`` of
  the config: ``paper`` selects on the six test benchmarks as the paper did, ``heldout`` on
  ``selection.selection_benchmarks`` and reports the others, ``final`` takes the last evaluated
  checkpoint);
- ``reproduced``, ``ci_low`` and ``ci_high`` are rounded to the paper's two decimals, and
  ``difference`` = reproduced - published is taken between the printed values, so the same
  numbers give exactly 0;
- ``average`` is the unweighted mean over the reported benchmarks (the paper's "Avg."), computed
  at full precision then rounded. Its published value is the paper's Avg. column when all six are
  reported, else the mean of the paper's values over the reported benchmarks;
- the average's 95% interval is a stratified bootstrap over problems: each replicate resamples
  the problems of every benchmark independently (with replacement, ``N_BOOT`` replicates, seed
  ``SEED``) and averages the six resampled accuracies. Averaging the per-benchmark interval bounds
  instead would be wrong: it treats the six benchmarks' errors as perfectly correlated, which
  makes the interval about sqrt(6) times too wide when the benchmarks are equally noisy.
  Per-problem results come from ``graded.jsonl`` beside each ``score.json`` (both outputs of the
  same grading job); when one is missing the interval is left empty and a warning is logged;
- ``within_ci``: the published value lies inside [ci_low, ci_high];
- ``published_pct_epoch``: the paper's "Steps (% of 1 epoch)" beside our ``pct_epoch``;
- what a gain is made of: ``format_rate`` (% of samples whose answer could be extracted) and
  ``accuracy_given_formatted`` (accuracy among those samples), from the collected scores. The
  Tina paper explains LoRA-RL's gains as fast adaptation to the output format the reward asks
  for, the base model's knowledge kept; that shows as a rising format rate under a flat
  conditional accuracy. The average row is their unweighted mean over the reported benchmarks
  (empty when a benchmark lacks the value);
- ``gain_vs_base`` with ``gain_ci_low`` and ``gain_ci_high`` (Tina rows only): the reported
  checkpoint minus the base model (the baseline that evaluates the untrained base model,
  :meth:`~tina_repro.workflow_config.WorkflowConfig.base_model_point`) on the same problems, in
  points, with a paired bootstrap over problems (:func:`tina_repro.scoring.paired_bootstrap_diff`;
  for the average, stratified by benchmark as the average's own interval). Paired, because the
  two models' errors on one problem are correlated: the interval of the difference is narrower
  than the two separate intervals suggest. Empty, with a warning, when there is no base model
  baseline or a graded.jsonl is missing.

The costs table (:mod:`tina_repro.costs`) reads the Snakemake benchmark files of the generation
jobs, and the FLOPs table (:mod:`tina_repro.flops`) the log_history.csv beside each training
manifest: files the same jobs write beside their declared outputs, read by convention.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tina_repro import costs, flops, scoring, selection, workflow_config
from tina_repro.training import LOG_HISTORY
from tina_repro.workflow_config import BASELINE_RUN

logger = logging.getLogger(__name__)

SCORE_COLUMNS = [
    "run",
    "point",
    "step",
    "benchmark",
    "accuracy",
    "ci_low",
    "ci_high",
    "n_problems",
    "samples_per_problem",
    "n_unparsed",
    "n_timeouts",
    "format_rate",
    "accuracy_given_formatted",
]
CHECKPOINT_COLUMNS = [
    "run",
    "kind",
    "step",
    "pct_epoch",
    "benchmark",
    "accuracy",
    "ci_low",
    "ci_high",
    "samples_per_problem",
]
MAIN_COLUMNS = [
    "model",
    "kind",
    "paper_name",
    "step",
    "pct_epoch",
    "benchmark",
    "reproduced",
    "ci_low",
    "ci_high",
    "published",
    "difference",
    "within_ci",
    "selection_rule",
    "published_pct_epoch",
    "format_rate",
    "accuracy_given_formatted",
    "gain_vs_base",
    "gain_ci_low",
    "gain_ci_high",
]
ABLATION_COLUMNS = ["ablation", "setting", *MAIN_COLUMNS]
FLOPS_COLUMNS = [
    "experiment",
    "steps",
    "completions",
    "prompt_tokens",
    "completion_tokens",
    "rollout_flops",
    "logprob_flops",
    "lora_train_flops",
    "total_lora_flops",
    "full_ft_flops",
    "n_params",
    "n_lora_params",
    "selected_step",
    "best_average",
    "total_lora_flops_to_selected",
    "full_ft_flops_to_selected",
]
AVERAGE = "average"
FORMAT_COLUMNS = ("format_rate", "accuracy_given_formatted")
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
}
EVAL_DIR = Path("results/eval")
N_BOOT = 2000
SEED = 0
STEP_PREFIX = "step-"


# ---- collecting scores ---------------------------------------------------------------------------
def read_score(path: str | Path) -> dict:
    """One tidy row from ``results/eval/{run}/{point}/{benchmark}/score.json``."""
    path = Path(path)
    if len(path.parts) < 4:
        raise ValueError(f"{path}: expected .../{{run}}/{{point}}/{{benchmark}}/score.json")
    run, point, benchmark = path.parts[-4:-1]
    if point.startswith(STEP_PREFIX) and point.removeprefix(STEP_PREFIX).isdigit():
        step = int(point.removeprefix(STEP_PREFIX))
    elif run == BASELINE_RUN:
        step = None
    else:
        raise ValueError(f"{path}: point {point!r} of run {run!r} is not step-N")
    score = json.loads(path.read_text())
    keys = ["pass_at_1", "ci95", "n_problems", "samples_per_problem", "n_unparsed", "n_timeouts"]
    keys += ["format_rate", "accuracy_given_formatted"]
    missing = [key for key in keys if key not in score]
    if missing:
        raise ValueError(f"{path}: score lacks key(s) {missing}")
    low, high = score["ci95"]
    return {
        "run": run,
        "point": point,
        "step": step,
        "benchmark": benchmark,
        "accuracy": score["pass_at_1"],
        "ci_low": low,
        "ci_high": high,
        **{key: score[key] for key in keys[2:]},
    }


def collect_scores(score_files: Sequence[str | Path], out_csv: str | Path) -> pd.DataFrame:
    """Gather score.json files into ``out_csv``: one row per (run, point, benchmark)."""
    if not score_files:
        raise ValueError("no score files to collect")
    frame = pd.DataFrame([read_score(path) for path in score_files], columns=SCORE_COLUMNS)
    frame["step"] = frame["step"].astype("Int64")
    frame = frame.sort_values(["run", "step", "point", "benchmark"]).reset_index(drop=True)
    duplicated = frame.duplicated(["run", "point", "benchmark"])
    if duplicated.any():
        raise ValueError(f"duplicate scores: {frame[duplicated].iloc[0].to_dict()}")
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out_csv, index=False)
    logger.info("collected %d scores into %s", len(frame), out_csv)
    return frame


def read_scores(paths: Sequence[str | Path]) -> pd.DataFrame:
    frames = [pd.read_csv(path, dtype={"run": str, "point": str}) for path in paths]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SCORE_COLUMNS)
    frame["step"] = frame["step"].astype("Int64")
    return frame


# ---- shared pieces -------------------------------------------------------------------------------
def _paths(value) -> list[str]:
    return [value] if isinstance(value, str | Path) else [str(v) for v in value]


def read_manifests(paths: Sequence[str | Path]) -> dict[str, dict]:
    """experiment -> manifest.json (the experiment is the manifest's folder name)."""
    manifests = {}
    for path in paths:
        manifest = json.loads(Path(path).read_text())
        name = Path(path).parent.name
        if manifest.get("experiment", name) != name:
            raise ValueError(f"{path}: manifest of {manifest['experiment']!r} in folder {name!r}")
        manifests[name] = manifest
    return manifests


def pct_epoch(step, manifest: dict | None) -> float:
    """``step`` as a percentage of one epoch of the run (the paper's "Steps (% of 1 epoch)")."""
    if manifest is None or pd.isna(step):
        return math.nan
    return 100.0 * int(step) / manifest["epoch_steps"]


def _printed(value: float) -> float:
    """A value as the paper prints it (two decimals)."""
    return round(float(value), PAPER_DECIMALS) if pd.notna(value) else math.nan


def graded_path(run: str, point: str, benchmark: str, eval_dir: Path = EVAL_DIR) -> Path:
    return Path(eval_dir) / run / point / benchmark / "graded.jsonl"


def read_graded(path: Path) -> list[dict]:
    """The rows of a graded.jsonl, each checked to carry problem_id and correct."""
    rows = []
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if "problem_id" not in row or "correct" not in row:
                raise ValueError(f"{path} line {number}: needs problem_id and correct")
            rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no graded rows")
    return rows


def per_problem_accuracy(rows: Sequence[dict]) -> dict:
    """problem_id -> fraction of its samples graded correct (first-seen order)."""
    correct: dict = {}
    for row in rows:
        correct.setdefault(row["problem_id"], []).append(bool(row["correct"]))
    return {problem: float(np.mean(values)) for problem, values in correct.items()}


def average_ci(
    per_problem: Sequence[np.ndarray], n_boot: int = N_BOOT, seed: int = SEED
) -> tuple[float, float]:
    """95% stratified-bootstrap interval (percent) of the unweighted mean over benchmarks of
    per-problem accuracies (fractions): problems are resampled within each benchmark. Given
    per-problem differences between two models, it is the paired interval of the average gain."""
    rng = np.random.default_rng(seed)
    replicates = np.zeros(n_boot)
    for accuracy in per_problem:
        draws = rng.integers(0, len(accuracy), size=(n_boot, len(accuracy)))
        replicates += accuracy[draws].mean(axis=1)
    replicates *= 100.0 / len(per_problem)
    low, high = np.percentile(replicates, [2.5, 97.5])
    return float(low), float(high)


def _average_interval(run: str, point: str, benchmarks: Sequence[str]) -> tuple[float, float]:
    paths = [graded_path(run, point, b) for b in benchmarks]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        logger.warning(
            "no per-problem grades %s: no CI for the average of %s/%s", missing, run, point
        )
        return math.nan, math.nan
    return average_ci(
        [np.array(list(per_problem_accuracy(read_graded(p)).values())) for p in paths]
    )


def gains_vs_base(
    run: str, point: str, base_point: str, benchmarks: Sequence[str]
) -> dict[str, tuple[float, float, float]]:
    """(gain, ci_low, ci_high) in points of ``run/point`` over the baseline ``base_point`` for
    each of ``benchmarks`` and their ``average``, paired on problems (full precision). Empty, with
    a warning, when a graded.jsonl is missing; different problem sets are an error."""
    pairs = {
        b: (graded_path(BASELINE_RUN, base_point, b), graded_path(run, point, b))
        for b in benchmarks
    }
    missing = [str(path) for pair in pairs.values() for path in pair if not path.is_file()]
    if missing:
        logger.warning(
            "no per-problem grades %s: no gain over the base model for %s/%s", missing, run, point
        )
        return {}
    gains, differences = {}, []
    for benchmark, (base_path, path) in pairs.items():
        base_rows, rows = read_graded(base_path), read_graded(path)
        try:
            paired = scoring.paired_bootstrap_diff(base_rows, rows, N_BOOT, SEED)
        except ValueError as error:
            raise ValueError(f"{path} against {base_path}: {error}") from None
        gains[benchmark] = (paired["diff"], *paired["ci95"])
        base, tuned = per_problem_accuracy(base_rows), per_problem_accuracy(rows)
        differences.append(np.array([tuned[problem] - base[problem] for problem in base]))
    average = float(np.mean([gain for gain, _, _ in gains.values()]))
    gains[AVERAGE] = (average, *average_ci(differences))
    return gains


def format_columns(scores: pd.DataFrame, benchmarks: Sequence[str]) -> dict[str, dict]:
    """``format_rate`` and ``accuracy_given_formatted`` of one evaluated model (its rows of a
    scores CSV) for each of ``benchmarks`` and, as their unweighted mean, ``average`` (NaN when
    any benchmark lacks the value: an average over fewer benchmarks would not be comparable)."""
    by_benchmark = scores.set_index("benchmark")
    out = {b: {c: float(by_benchmark.loc[b, c]) for c in FORMAT_COLUMNS} for b in benchmarks}
    out[AVERAGE] = {c: float(np.mean([out[b][c] for b in benchmarks])) for c in FORMAT_COLUMNS}
    return out


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


def reproduced_rows(scores: pd.DataFrame, run: str, point: str, benchmarks: Sequence[str]):
    """(benchmark, accuracy, ci_low, ci_high) of one evaluated model, at full precision, for each
    of ``benchmarks`` and their ``average``; ``scores`` are its rows of a scores CSV."""
    by_benchmark = scores.set_index("benchmark")
    missing = [b for b in benchmarks if b not in by_benchmark.index]
    if missing:
        raise ValueError(f"{run}/{point}: no score for {missing}")
    rows = [
        (b, *by_benchmark.loc[b, ["accuracy", "ci_low", "ci_high"]].astype(float))
        for b in benchmarks
    ]
    average = float(np.mean([row[1] for row in rows]))
    return [*rows, (AVERAGE, average, *_average_interval(run, point, benchmarks))]


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
                **{column: _printed(v) for column, v in extra[benchmark].items()},
            }
        )
    return out


class Tables:
    """What the table builders share: the validated config and the rule's inputs."""

    def __init__(self, inputs: dict, config: dict):
        self.inputs = inputs
        self.config = config
        self.W = workflow_config.load(config)
        self.benchmarks = list(self.W.benchmarks)
        chosen = config["selection"]
        self.rule = chosen["rule"]
        self.selection_benchmarks = list(chosen["selection_benchmarks"])
        _, self.reported = selection.split_benchmarks(
            self.benchmarks, self.rule, self.selection_benchmarks
        )
        self.rule_label = selection.rule_label(self.rule, self.selection_benchmarks)
        self.base_point = self.W.base_model_point()

    def has(self, name: str) -> bool:
        return name in self.inputs

    def scores(self) -> pd.DataFrame:
        return read_scores(_paths(self.inputs["runs"]))

    def baselines(self) -> pd.DataFrame:
        return read_scores(_paths(self.inputs["baselines"]))

    def manifests(self) -> dict[str, dict]:
        return read_manifests(_paths(self.inputs["manifests"]))

    def runs_in_order(self, scores: pd.DataFrame) -> list[str]:
        present = set(scores["run"])
        unknown = sorted(present - set(self.W.experiments))
        if unknown:
            raise ValueError(f"scores of run(s) {unknown} that experiments.tsv does not define")
        return [name for name in self.W.experiments if name in present]

    def select(self, scores: pd.DataFrame) -> pd.DataFrame:
        return selection.select_checkpoints(
            scores, self.benchmarks, self.rule, self.selection_benchmarks
        )

    def published(self, name: str, key: str) -> pd.DataFrame:
        return pd.read_csv(self.inputs[name], dtype={key: str})

    def measure(
        self, scores: pd.DataFrame, run: str, point: str
    ) -> tuple[list[tuple], dict[str, dict]]:
        """One evaluated model (``scores`` are its rows): its :func:`reproduced_rows` and, per
        reported benchmark and average, its format columns and (Tina runs) its gain columns."""
        reproduced = reproduced_rows(scores, run, point, self.reported)
        extra = format_columns(scores, self.reported)
        if run == BASELINE_RUN:
            return reproduced, extra
        gains = {}
        if self.base_point is None:
            logger.warning(
                "%s/%s: no baseline evaluates the base model %s untrained: no gain over it",
                run,
                point,
                self.config["base_model"]["source"],
            )
        else:
            gains = gains_vs_base(run, point, self.base_point, self.reported)
        for benchmark, columns in extra.items():
            columns.update(zip(GAIN_COLUMNS, gains.get(benchmark, [math.nan] * 3), strict=True))
        return reproduced, extra

    def measure_at(
        self, scores: pd.DataFrame, run: str, step: int
    ) -> tuple[list[tuple], dict[str, dict]]:
        at_step = scores[(scores["run"] == run) & (scores["step"] == step)]
        return self.measure(at_step, run, f"{STEP_PREFIX}{step}")


# ---- tables --------------------------------------------------------------------------------------
def checkpoints_table(t: Tables) -> pd.DataFrame:
    """Every evaluated (run, step, benchmark), baselines included (run = baseline name)."""
    scores, manifests = t.scores(), t.manifests()
    runs = scores.assign(kind="tina")
    runs["pct_epoch"] = [
        pct_epoch(step, manifests.get(run))
        for run, step in zip(runs["run"], runs["step"], strict=True)
    ]
    frames = [runs]
    if t.has("baselines"):
        baselines = t.baselines()
        frames.append(baselines.assign(kind="baseline", run=baselines["point"], pct_epoch=math.nan))
    order = {
        "run": {name: i for i, name in enumerate([*t.W.baselines, *t.W.experiments])},
        "benchmark": {name: i for i, name in enumerate(t.benchmarks)},
    }
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.sort_values(
        ["run", "step", "benchmark"],
        key=lambda col: col.map(order[col.name]) if col.name in order else col,
    )
    return frame[CHECKPOINT_COLUMNS].reset_index(drop=True)


def main_table(t: Tables) -> pd.DataFrame:
    """Baselines (paper Table 2) and the main Tina runs at their selected step (Table 3)."""
    rows = []
    baselines = t.baselines()
    paper = t.published("published_baselines", "baseline").set_index("baseline")
    unknown = sorted(set(baselines["point"]) - set(t.W.baselines))
    if unknown:
        raise ValueError(f"scores of baseline(s) {unknown} that baselines.tsv does not define")
    for name in [b for b in t.W.baselines if b in set(baselines["point"])]:
        paper_row = paper.loc[name] if name in paper.index else None
        reproduced, extra = t.measure(baselines[baselines["point"] == name], BASELINE_RUN, name)
        for row in compare(reproduced, published_values(paper_row, t.reported), extra):
            rows.append(
                {
                    "model": name,
                    "kind": "baseline",
                    "paper_name": t.W.baselines[name]["paper_name"],
                    **row,
                }
            )
    scores, manifests = t.scores(), t.manifests()
    steps = t.select(scores).set_index("run")["step"]
    paper = t.published("published", "experiment").set_index("experiment")
    for run in t.runs_in_order(scores):
        step = int(steps[run])
        paper_row = paper.loc[run] if run in paper.index else None
        reproduced, extra = t.measure_at(scores, run, step)
        for row in compare(reproduced, published_values(paper_row, t.reported), extra):
            rows.append(
                {
                    "model": run,
                    "kind": "tina",
                    "paper_name": t.W.experiments[run]["paper_name"],
                    "step": step,
                    "pct_epoch": pct_epoch(step, manifests.get(run)),
                    "published_pct_epoch": (
                        paper_row["steps_pct_of_1_epoch"] if paper_row is not None else None
                    ),
                    **row,
                }
            )
    return _finish(pd.DataFrame(rows), MAIN_COLUMNS, t.rule_label)


def ablations_table(t: Tables) -> pd.DataFrame:
    """The four ablations of paper Table 4, each run at its selected step."""
    scores, manifests = t.scores(), t.manifests()
    steps = t.select(scores).set_index("run")["step"]
    paper = t.published("published", "experiment")
    runs = t.runs_in_order(scores)
    measured = {run: t.measure_at(scores, run, int(steps[run])) for run in runs}
    rows = []
    for ablation, column in ABLATION_SETTING.items():
        members = [r for r in runs if ablation in t.W.experiments[r]["tables"].split(";")]
        published = paper[paper["ablation"] == ablation].set_index("experiment")
        # The paper's row order first (it sorts datasets by size), then runs it does not have.
        members.sort(key=lambda r: published.index.get_loc(r) if r in published.index else 1e9)
        for run in members:
            paper_row = published.loc[run] if run in published.index else None
            setting = t.W.experiments[run][column]
            reproduced, extra = measured[run]
            for row in compare(reproduced, published_values(paper_row, t.reported), extra):
                rows.append(
                    {
                        "ablation": ablation,
                        "setting": f"{setting:g}" if isinstance(setting, float) else str(setting),
                        "model": run,
                        "kind": "tina",
                        "paper_name": (
                            paper_row["model"]
                            if paper_row is not None
                            else t.W.experiments[run]["paper_name"]
                        ),
                        "step": int(steps[run]),
                        "pct_epoch": pct_epoch(steps[run], manifests.get(run)),
                        "published_pct_epoch": (
                            paper_row["steps_pct_of_1_epoch"] if paper_row is not None else None
                        ),
                        **row,
                    }
                )
    return _finish(pd.DataFrame(rows), ABLATION_COLUMNS, t.rule_label)


def _finish(frame: pd.DataFrame, columns: list[str], rule_label: str) -> pd.DataFrame:
    frame = frame.assign(selection_rule=rule_label).reindex(columns=columns)
    frame["step"] = frame["step"].astype("Int64")
    frame["within_ci"] = frame["within_ci"].astype("boolean")
    return frame


def costs_table(t: Tables) -> pd.DataFrame:
    """Paper Table 1 (cost) from device-hours, with the published dollars beside."""
    scores = t.scores()
    jobs = costs.evaluation_jobs(pd.concat([scores, t.baselines()], ignore_index=True))
    backend = t.config["evaluation"]["backend"]
    model = costs.CostModel(
        t.manifests(), jobs, t.config["cost"], "cuda" if backend == "vllm" else "cpu"
    )
    names = {run: t.W.experiments[run]["paper_name"] for run in t.runs_in_order(scores)}
    paper = t.published("published", "experiments")
    return costs.cost_table(paper, model, t.select(scores), names)


def flops_table(t: Tables) -> pd.DataFrame:
    """Training FLOPs of every run from its log_history (see :mod:`tina_repro.flops`), with the
    selected checkpoint's average accuracy when scores are inputs."""
    shape = flops.ModelShape.from_file(t.inputs["base_model"])
    selected, scores = None, None
    if t.has("runs"):
        scores = t.scores()
        selected = t.select(scores).set_index("run")
    rows = []
    for path in _paths(t.inputs["manifests"]):
        experiment, manifest = next(iter(read_manifests([path]).items()))
        if experiment not in t.W.experiments:
            raise ValueError(f"{path}: experiment {experiment!r} is not in experiments.tsv")
        log = pd.read_csv(Path(path).parent / LOG_HISTORY)
        result = flops.run_flops(
            log, shape, t.W.experiments[experiment], manifest["completions_per_step"]
        )
        tokens, per_step = result["tokens"], result["flops"]
        row = {
            "experiment": experiment,
            "steps": int(tokens["step"].iloc[-1]),
            "completions": int(tokens["completions"].sum()),
            "prompt_tokens": float(tokens["prompt_tokens"].sum()),
            "completion_tokens": float(tokens["completion_tokens"].sum()),
            **{c: float(per_step[c].sum()) for c in per_step.columns if c != "step"},
            "n_params": result["n_params"],
            "n_lora_params": result["n_lora_params"],
        }
        if selected is not None and experiment in selected.index:
            step = int(selected.loc[experiment, "step"])
            at_step = scores[(scores["run"] == experiment) & (scores["step"] == step)]
            upto = per_step[per_step["step"] <= step]
            row.update(
                selected_step=step,
                best_average=float(
                    at_step[at_step["benchmark"].isin(t.reported)]["accuracy"].mean()
                ),
                total_lora_flops_to_selected=float(upto["total_lora_flops"].sum()),
                full_ft_flops_to_selected=float(upto["full_ft_flops"].sum()),
            )
        rows.append(row)
    frame = pd.DataFrame(rows).reindex(columns=FLOPS_COLUMNS)
    frame["selected_step"] = frame["selected_step"].astype("Int64")
    return frame


TABLES = {
    "checkpoints_table": checkpoints_table,
    "main_table": main_table,
    "ablations_table": ablations_table,
    "costs_table": costs_table,
    "flops_table": flops_table,
}


# ---- output --------------------------------------------------------------------------------------
def _cell(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:.2f}"
    return str(value).replace("|", "\\|")


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub Markdown table: floats with two decimals (scientific when very large or small)."""
    lines = [
        "| " + " | ".join(frame.columns) + " |",
        "|" + "|".join("---" for _ in frame.columns) + "|",
    ]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_table(frame: pd.DataFrame, out_csv: str | Path) -> None:
    """``out_csv`` and its Markdown twin (same stem, ``.md``)."""
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out_csv, index=False)
    out_csv.with_suffix(".md").write_text(to_markdown(frame))


def make_table(rule: str, inputs: dict, out_csv: str | Path, config: dict) -> pd.DataFrame:
    """Build the table of Snakemake rule ``rule`` from its named ``inputs`` and write it."""
    if rule not in TABLES:
        raise ValueError(f"no table for rule {rule!r}; known: {', '.join(TABLES)}")
    frame = TABLES[rule](Tables(inputs, config))
    write_table(frame, out_csv)
    logger.info("%s: %d rows into %s", rule, len(frame), out_csv)
    return frame
