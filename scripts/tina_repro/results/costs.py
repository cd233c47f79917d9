"""Cost of the reproduction in device-hours and dollars, with the paper's Table 1 rows.

Device-hours are what a job held: training from its manifest (``device_hours`` = wall time x GPUs,
or x 1 on CPU), evaluation from the Snakemake benchmark file of every generation job (seconds x 1
device: each ``generate_samples`` job evaluates one model on every benchmark and holds one GPU,
or runs on CPU), which the table job declares
as inputs. Grading is CPU work next to
a GPU bill and is not counted, as in the paper. Dollars are device-hours x the price of an hour of
the device the job ran on, from the config's table ``cost.usd_per_device_hour``: training is
priced by the device its manifest records (``device_name`` without the ``N x`` count, e.g.
``NVIDIA L40S``; ``cpu`` for CPU runs), evaluation by ``cost.evaluation_device`` (a timing file
does not say where the job ran). A device the table lacks is an error naming it and the key.
Each row shows the device names beside its device-hours and dollars.

The paper's rows (docs/paper.md#costs; config/paper_results/costs.csv, one row per task,
``experiments`` naming the runs it covers) are computed as it adds them up:

- a task row: full training of its runs plus evaluation of every checkpoint they saved; the
  ``baseline`` row is the evaluation of the baseline models, with no training;
- ``total:all_tasks`` ($526): every task row, i.e. all runs and the baseline evaluation;
- ``total:main_tasks`` ($275): the runs of the ``Main`` rows;
- ``total:best_checkpoint_each_main_task`` ($85): for each main run, training up to its selected
  checkpoint (training device-hours x selected step / final step) plus the evaluation of that one
  checkpoint;
- ``total:all_checkpoints_best_task`` ($31): the main run whose selected checkpoint scores best,
  trained and evaluated in full;
- ``total:best_checkpoint_best_task`` ($9): that run up to its selected checkpoint, plus that
  checkpoint's evaluation;
- ``total:every_experiment`` ($798, the later (ICLR 2026) version's cost of reproducing every
  experiment, known from secondary reports): every run of the config, replicates and extra
  readings included, and the baseline evaluation (``covers`` lists them).

Released Tina adapters (baselines.tsv rows with ``compared_with``) are not in the paper's
baseline row: each gets a row of its own (section ``Released adapter``), the cost of checking the
harness against a published checkpoint without training.

A row that names a run or evaluation with no record here gets empty costs and a logged warning,
so a partial sum never poses as the row's cost.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from tina_repro import paths
from tina_repro.config import ConfigError
from tina_repro.results.collect import as_paths

if TYPE_CHECKING:
    from tina_repro.results.tables import Tables

logger = logging.getLogger(__name__)

BASELINE_TASK = "baseline"
RELEASED_SECTION = "Released adapter"
CPU_DEVICE = "cpu"
PRICE_KEY = "cost.usd_per_device_hour"
TOTAL_PREFIX = "total:"
MAIN_SECTION = "Main"
TOTAL_SECTION = "Total"
SECONDS_PER_HOUR = 3600.0

COLUMNS = [
    "section",
    "task",
    "experiments",
    "training_device_hours",
    "training_device",
    "evaluation_device_hours",
    "evaluation_device",
    "training_cost_usd",
    "evaluation_cost_usd",
    "total_cost_usd",
    "published_training_usd",
    "published_evaluation_usd",
    "published_total_usd",
    "eval_jobs",
    "eval_jobs_untimed",
    "covers",
]


@dataclass(frozen=True)
class Cost:
    """Device-hours and dollars of some jobs, and the devices they ran on (``;``-separated);
    ``+`` adds them up."""

    training_device_hours: float = 0.0
    evaluation_device_hours: float = 0.0
    training_cost_usd: float = 0.0
    evaluation_cost_usd: float = 0.0
    eval_jobs: int = 0
    eval_jobs_untimed: int = 0
    training_device: str = ""
    evaluation_device: str = ""

    def __add__(self, other: Cost) -> Cost:
        summed = {}
        for f in fields(Cost):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            summed[f.name] = _join_devices(mine, theirs) if isinstance(mine, str) else mine + theirs
        return Cost(**summed)

    @property
    def total_cost_usd(self) -> float:
        return self.training_cost_usd + self.evaluation_cost_usd

    def as_row(self) -> dict:
        row = {f.name: getattr(self, f.name) for f in fields(Cost)}
        row["total_cost_usd"] = self.total_cost_usd
        return row


def _join_devices(*cells: str) -> str:
    return ";".join(sorted({d for cell in cells for d in cell.split(";") if d}))


UNKNOWN = Cost(*(math.nan,) * 4, eval_jobs=0, eval_jobs_untimed=0)


def manifest_device(manifest: dict) -> str:
    """The device type a training run's manifest records: ``cpu``, or its ``device_name`` without
    the GPU count (``2 x NVIDIA L40S`` -> ``NVIDIA L40S``)."""
    if manifest.get("device") == CPU_DEVICE:
        return CPU_DEVICE
    name = manifest.get("device_name")
    if not name:
        raise ValueError(
            f"manifest of {manifest.get('experiment')!r} records no device_name to price"
        )
    return re.sub(r"^\d+ x ", "", name)


def price_per_device_hour(device: str, cost_config: dict) -> float:
    """Dollars per hour of ``device`` from ``cost.usd_per_device_hour``."""
    prices = cost_config["usd_per_device_hour"]
    if device not in prices:
        raise ConfigError(
            f"no price for device {device!r}: add it to {PRICE_KEY} in the config "
            f"(priced: {', '.join(prices) or 'none'})"
        )
    return float(prices[device])


def job_seconds(path: Path | None) -> float | None:
    """Seconds a job ran (column ``s``, summed over repeats), or None without a timing file."""
    if path is None or not path.is_file():
        return None
    frame = pd.read_csv(path, sep="\t")
    if "s" not in frame.columns or frame["s"].isna().any() or frame.empty:
        raise ValueError(f"{path}: not a Snakemake benchmark file (needs a filled 's' column)")
    return float(frame["s"].sum())


def evaluation_jobs(scores: pd.DataFrame, timings: Mapping[tuple, Path]) -> pd.DataFrame:
    """One row per evaluated model (run, point) with its ``device_hours`` (NaN untimed);
    ``timings`` maps (run, point) to the generation job's benchmark file (one job generates
    every benchmark of a model)."""
    jobs = scores[["run", "point", "step"]].drop_duplicates().copy()
    seconds = [job_seconds(timings.get((r.run, r.point))) for r in jobs.itertuples(index=False)]
    jobs["device_hours"] = [math.nan if s is None else s / SECONDS_PER_HOUR for s in seconds]
    untimed = jobs["device_hours"].isna().sum()
    if untimed:
        logger.warning(
            "%d of %d generation jobs have no timing file: their evaluation cost is not "
            "counted (see eval_jobs_untimed)",
            untimed,
            len(jobs),
        )
    return jobs.reset_index(drop=True)


class CostModel:
    """Costs of runs, checkpoints and the baseline evaluation from manifests and timed jobs.

    ``manifests``: experiment -> manifest.json dict (``device``, ``device_name``,
    ``device_hours``, ``final_step``); ``jobs``: :func:`evaluation_jobs` of every run and of the
    baselines (run ``baseline``); ``cost_config``: the config's ``cost`` block; ``released``: the
    baseline points that are released adapters, kept out of the paper's baseline row.
    """

    def __init__(
        self,
        manifests: dict[str, dict],
        jobs: pd.DataFrame,
        cost_config: dict,
        released: Sequence[str] = (),
    ):
        self.manifests = manifests
        self.jobs = jobs
        self.cost_config = cost_config
        self.eval_device = cost_config["evaluation_device"]
        self.eval_price = price_per_device_hour(self.eval_device, cost_config)
        self.released = list(released)

    def _evaluation(self, jobs: pd.DataFrame) -> Cost:
        hours = float(jobs["device_hours"].sum(skipna=True))
        return Cost(
            evaluation_device_hours=hours,
            evaluation_cost_usd=hours * self.eval_price,
            eval_jobs=len(jobs),
            eval_jobs_untimed=int(jobs["device_hours"].isna().sum()),
            evaluation_device=self.eval_device if len(jobs) else "",
        )

    def _training(self, experiment: str, fraction: float = 1.0) -> Cost:
        manifest = self.manifests[experiment]
        hours = float(manifest["device_hours"]) * fraction
        device = manifest_device(manifest)
        price = price_per_device_hour(device, self.cost_config)
        return Cost(
            training_device_hours=hours, training_cost_usd=hours * price, training_device=device
        )

    def known(self, experiment: str) -> bool:
        return experiment in self.manifests

    def run(self, experiment: str) -> Cost:
        """Full training plus the evaluation of every checkpoint of the run."""
        jobs = self.jobs[self.jobs["run"] == experiment]
        return self._training(experiment) + self._evaluation(jobs)

    def best_checkpoint(self, experiment: str, step: int) -> Cost:
        """Training up to ``step`` (pro rata of the run's device-hours) and that checkpoint's
        evaluation."""
        final = int(self.manifests[experiment]["final_step"])
        if not 0 < step <= final:
            raise ValueError(f"{experiment}: step {step} is outside the run's 1..{final}")
        jobs = self.jobs[(self.jobs["run"] == experiment) & (self.jobs["step"] == step)]
        if jobs.empty:
            raise ValueError(f"{experiment}: checkpoint {step} was never evaluated")
        return self._training(experiment, step / final) + self._evaluation(jobs)

    def baselines(self, points: list[str] | None = None) -> Cost:
        """Evaluation of the baseline models (not the released adapters), or of ``points``."""
        jobs = self.jobs[self.jobs["run"] == BASELINE_TASK]
        if points is None:
            jobs = jobs[~jobs["point"].isin(self.released)]
        else:
            jobs = jobs[jobs["point"].isin(points)]
        if jobs.empty:
            return UNKNOWN
        return self._evaluation(jobs)


def _experiments(cell: str) -> list[str]:
    return [name.strip() for name in str(cell).split(";") if name.strip()]


def _task_cost(model: CostModel, names: list[str]) -> Cost:
    """Cost of the runs ``names`` (and the baseline evaluation for ``baseline``)."""
    missing = [n for n in names if n != BASELINE_TASK and not model.known(n)]
    if missing:
        logger.warning("no training record for %s: the row is left empty", missing)
        return UNKNOWN
    total = Cost()
    for name in names:
        total = total + (model.baselines() if name == BASELINE_TASK else model.run(name))
    return total


def best_task(selected: pd.DataFrame, main: list[str]) -> str | None:
    """The main run whose selected checkpoint has the best selection score (first on ties)."""
    scored = selected.set_index("run").reindex(main)
    if scored["selection_score"].isna().any():
        return None
    return str(scored["selection_score"].idxmax())


def cost_table(
    paper: pd.DataFrame,
    model: CostModel,
    selected: pd.DataFrame,
    names: dict[str, str],
    released_names: Mapping[str, str] | None = None,
    every: Sequence[str] = (),
) -> pd.DataFrame:
    """The paper's cost rows (``paper``: config/paper_results/costs.csv) computed from ``model``,
    with the published dollars beside them, then one row per run of ``names`` (experiment ->
    paper name), then one per released adapter of ``model`` (``released_names``: its paper name).
    ``every`` is every run of the config, for ``total:every_experiment``.
    ``selected`` holds each run's selected step and selection score
    (:func:`tina_repro.results.selection.select_checkpoints`). ``experiments`` keeps the paper
    row's key; ``covers`` lists the runs a row adds up (``run@step`` for a selected checkpoint)."""
    released_names = released_names or {}
    tasks = paper[paper["section"] != TOTAL_SECTION]
    all_names = list(dict.fromkeys(n for cell in tasks["experiments"] for n in _experiments(cell)))
    main = list(
        dict.fromkeys(
            n
            for cell in tasks.loc[tasks["section"] == MAIN_SECTION, "experiments"]
            for n in _experiments(cell)
        )
    )
    steps = dict(zip(selected["run"], selected["step"], strict=True))

    def best_checkpoints(runs: list[str]) -> tuple[Cost, str]:
        if any(not model.known(r) or r not in steps for r in runs):
            logger.warning("runs %s lack a training record or a selected step", runs)
            return UNKNOWN, ";".join(runs)
        total = Cost()
        for run in runs:
            total = total + model.best_checkpoint(run, int(steps[run]))
        return total, ";".join(f"{run}@{int(steps[run])}" for run in runs)

    def runs_cost(runs: list[str]) -> tuple[Cost, str]:
        return _task_cost(model, runs), ";".join(runs)

    best = best_task(selected, main)
    totals = {
        "total:all_tasks": lambda: runs_cost(all_names),
        "total:main_tasks": lambda: runs_cost(main),
        "total:best_checkpoint_each_main_task": lambda: best_checkpoints(main),
        "total:all_checkpoints_best_task": lambda: runs_cost([best]) if best else (UNKNOWN, ""),
        "total:best_checkpoint_best_task": lambda: (
            best_checkpoints([best]) if best else (UNKNOWN, "")
        ),
        "total:every_experiment": lambda: runs_cost([BASELINE_TASK, *every]),
    }
    rows = []
    for paper_row in paper.itertuples(index=False):
        key = str(paper_row.experiments)
        if key.startswith(TOTAL_PREFIX):
            if key not in totals:
                raise ValueError(f"unknown total row {key!r}; known: {', '.join(totals)}")
            cost, covers = totals[key]()
        else:
            cost, covers = runs_cost(_experiments(key))
        rows.append(
            {
                "section": paper_row.section,
                "task": paper_row.experimental_task,
                "experiments": key,
                **cost.as_row(),
                "published_training_usd": paper_row.training_cost_est_usd,
                "published_evaluation_usd": paper_row.evaluation_cost_est_usd,
                "published_total_usd": paper_row.total_cost_est_usd,
                "covers": covers,
            }
        )
    for name in model.released:
        rows.append(
            {
                "section": RELEASED_SECTION,
                "task": released_names.get(name, name),
                "experiments": name,
                **model.baselines([name]).as_row(),
                "covers": f"{BASELINE_TASK}/{name}",
            }
        )
    for run, paper_name in names.items():
        cost = model.run(run) if model.known(run) else UNKNOWN
        rows.append(
            {
                "section": "Run",
                "task": paper_name,
                "experiments": run,
                **cost.as_row(),
                "covers": run,
            }
        )
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def costs_table(t: Tables) -> pd.DataFrame:
    """Paper Table 1 (cost) from device-hours, with the published dollars beside."""
    scores = t.scores()
    timings = {paths.timing_parts(p): Path(p) for p in as_paths(t.inputs.get("timings", []))}
    jobs = evaluation_jobs(pd.concat([scores, t.baselines()], ignore_index=True), timings)
    released = {
        name: row.paper_name or name
        for name, row in t.workflow_config.baselines.items()
        if row.compared_with and name in set(jobs.loc[jobs["run"] == BASELINE_TASK, "point"])
    }
    model = CostModel(t.manifests(), jobs, t.config["cost"], list(released))
    names = {run: t.workflow_config.experiments[run].paper_name for run in t.runs_in_order(scores)}
    paper = t.published("published", "experiments")
    return cost_table(
        paper, model, t.select(scores), names, released, list(t.workflow_config.experiments)
    )
