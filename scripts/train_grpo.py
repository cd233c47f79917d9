"""Snakemake entry: train one experiment row with LoRA-GRPO (resumes from its last checkpoint;
leases distinct GPUs and launches multi-GPU rows with accelerate)."""

from tina_repro import logs, training

logs.setup(snakemake.log[0])
training.run_leased(
    row=snakemake.params.row,
    config=snakemake.params.config,
    dataset_parquet=snakemake.input.dataset,
    base_model_dir=snakemake.params.base_model_dir,
    out_dir=snakemake.params.out_dir,
)
