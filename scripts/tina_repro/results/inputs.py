"""The evaluation files a table or figure reads, by pattern: rules/results.smk and
rules/figures.smk wrap these (the checkpoints of a run are known once its manifest is)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from tina_repro import paths
from tina_repro.files import read_json

#: (run, point): ``{experiment}/step-N`` of a checkpoint, ``baseline/{name}`` otherwise
Point = tuple[str, str]


def checkpoint_points(manifests: Mapping[str, str | Path]) -> list[Point]:
    """(run, point) of every checkpoint each run's manifest (run -> manifest.json) lists."""
    return [
        (run, paths.step_point(step))
        for run, manifest in manifests.items()
        for step in read_json(manifest)["checkpoint_steps"]
    ]


def eval_files(pattern: str, points: Iterable[Point], benchmarks: Iterable[str]) -> list[str]:
    """``pattern`` (a file of one evaluated model on one benchmark) for every point and
    benchmark, point by point."""
    benchmarks = list(benchmarks)
    return [
        pattern.format(run=run, point=point, benchmark=benchmark)
        for run, point in points
        for benchmark in benchmarks
    ]


def model_files(pattern: str, points: Iterable[Point]) -> list[str]:
    """``pattern`` (a file of one evaluated model) for every point."""
    return [pattern.format(run=run, point=point) for run, point in points]
