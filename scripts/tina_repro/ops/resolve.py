"""``tina-repro resolve``: what a training run of one experiment row resolves to, without training.

The values come from :func:`~tina_repro.train.provenance.resolve_run`, the function training uses
for resolved_config.json, so the printout is what a run on the same layout writes there; beside
them, ``evaluation`` says which prompt tokens the run's checkpoints will be evaluated with.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tina_repro import paths
from tina_repro.config import Experiment, WorkflowConfig
from tina_repro.files import roundtrip
from tina_repro.train.context import TrainingContext
from tina_repro.train.prompts import read_training_rows
from tina_repro.train.provenance import resolve_run

logger = logging.getLogger(__name__)


def training_rows(wc: WorkflowConfig, row: Experiment, dataset_parquet: str | None = None) -> int:
    """How many prompts the run trains on: the usable rows of the prepared Parquet, counted as
    training counts them; before the dataset is prepared, its paper_size (with a warning, since
    a one-epoch schedule then is an estimate)."""
    if dataset_parquet is not None:
        return len(read_training_rows(dataset_parquet)[0])
    prepared = paths.fill(paths.DATASET_PARQUET, wc.root, dataset=row.dataset)
    if prepared.is_file():
        return len(read_training_rows(prepared)[0])
    size = wc.datasets[row.dataset].paper_size
    if size is None:
        raise FileNotFoundError(
            f"{prepared} is not prepared and {wc.config['datasets']} gives no paper_size for "
            f"'{row.dataset}': prepare it (snakemake {prepared}) or pass --dataset"
        )
    logger.warning(
        "%s is not prepared yet: the epoch is counted from paper_size %d of '%s'; a run counts "
        "the prepared rows",
        prepared,
        size,
        row.dataset,
    )
    return size


def resolve_experiment(
    wc: WorkflowConfig,
    row: Experiment,
    *,
    n_gpus: int | None = None,
    dataset_parquet: str | Path | None = None,
) -> dict:
    """:func:`resolve_run` of ``row`` as JSON values, on ``n_gpus`` GPUs (default: the row's;
    0 = one CPU process), in the config's training context, plus the ``evaluation`` prompt
    tokens its checkpoints will be evaluated with."""
    n_gpus = row.gpus if n_gpus is None else n_gpus
    if n_gpus < 0:
        raise ValueError(f"--gpus must be >= 0, got {n_gpus}")
    device = "cuda" if n_gpus > 0 else "cpu"
    context = TrainingContext.of(wc, row.name)
    n_prompts = training_rows(wc, row, dataset_parquet)
    resolution = resolve_run(row, context, n_gpus, device, n_prompts)
    # how the run's checkpoints are evaluated, for the reader (training does not depend on it)
    resolution["evaluation"] = {"prompt_tokens": wc.evaluation.prompt_tokens}
    return roundtrip(resolution)
