"""Snakemake entry: train one experiment row with LoRA-GRPO (resumes from its last checkpoint;
leases distinct GPUs and launches multi-GPU rows with accelerate)."""

from pathlib import Path

from tina_repro import logs
from tina_repro.config import Experiment
from tina_repro.config.rows import from_params
from tina_repro.train.context import TrainingContext, TrainingJob
from tina_repro.train.launch import run_leased

logs.setup(snakemake.log[0], keep_sessions=True)
run_leased(
    TrainingJob(
        row=from_params(Experiment, snakemake.params.row),
        context=from_params(TrainingContext, snakemake.params.context),
        dataset_parquet=Path(snakemake.input.dataset),
        base_model_dir=Path(snakemake.params.base_model_dir),
        out_dir=Path(snakemake.params.out_dir),
    )
)
