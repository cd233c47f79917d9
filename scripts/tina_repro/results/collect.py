"""Collecting what the runs wrote: score.json files into tidy CSVs, and training manifests.

:func:`collect_scores` is what rules collect_run_scores / collect_baseline_scores call: the
score.json files of one run, or of the baselines, into ``results/scores/*.csv``, one row per
(run, point, benchmark).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from tina_repro import paths
from tina_repro.config import BASELINE_RUN
from tina_repro.files import atomic_path

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
    "accuracy_after_think",
    "accuracy_math_verify",
]
_SCORE_KEYS = ["pass_at_1", "ci95", "n_problems", "samples_per_problem", "n_unparsed"]
_SCORE_KEYS += ["n_timeouts", "format_rate", "accuracy_given_formatted", "accuracy_after_think"]
_SCORE_KEYS += ["accuracy_math_verify"]


def as_paths(value) -> list[str]:
    """A Snakemake input (one path or a list of them) as a list of strings."""
    return [value] if isinstance(value, str | Path) else [str(v) for v in value]


def read_score(path: str | Path) -> dict:
    """One tidy row from ``results/eval/{run}/{point}/{benchmark}/score.json``."""
    run, point, benchmark = paths.eval_parts(path)
    step = paths.point_step(point)
    if step is None and run != BASELINE_RUN:
        raise ValueError(f"{path}: point {point!r} of run {run!r} is not step-N")
    score = json.loads(Path(path).read_text())
    missing = [key for key in _SCORE_KEYS if key not in score]
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
        **{key: score[key] for key in _SCORE_KEYS[2:]},
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
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False)
    logger.info("collected %d scores into %s", len(frame), out_csv)
    return frame


def read_scores(files: Sequence[str | Path]) -> pd.DataFrame:
    frames = [pd.read_csv(path, dtype={"run": str, "point": str}) for path in files]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SCORE_COLUMNS)
    frame["step"] = frame["step"].astype("Int64")
    return frame


def read_manifests(files: Sequence[str | Path]) -> dict[str, dict]:
    """experiment -> manifest.json (the experiment is the manifest's folder name)."""
    manifests = {}
    for path in files:
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


def index_eval_files(files: Sequence[str | Path]) -> dict[tuple[str, str, str], Path]:
    """(run, point, benchmark) -> path, for files under ``results/eval/`` (or named like them)."""
    return {paths.eval_parts(path): Path(path) for path in as_paths(files)}
