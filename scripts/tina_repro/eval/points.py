"""What an evaluated point loads: a checkpoint of a run, or a baseline (a Hub or local model with
an optional adapter), as the folders the generation backend opens."""

from __future__ import annotations

from tina_repro import paths
from tina_repro.config import BASELINE_RUN, WorkflowConfig, model_dir


def evaluated_dirs(wc: WorkflowConfig, run: str, point: str) -> dict[str, str | None]:
    """``{"model": base weights folder, "adapter": LoRA adapter folder or None}`` of ``point``
    of ``run`` (``{experiment}/step-N`` or ``baseline/{name}``)."""
    if run == BASELINE_RUN:
        row = wc.baselines[point]
        adapter = None
        if row.adapter:
            adapter = model_dir(row.adapter, row.adapter_revision)
            if row.adapter_subfolder:
                adapter = f"{adapter}/{row.adapter_subfolder}"
        return {"model": model_dir(row.model, row.revision), "adapter": adapter}
    base = wc.config["base_model"]
    return {
        "model": model_dir(base["source"], base["revision"]),
        "adapter": paths.RUN_CHECKPOINT.format(experiment=run, step=paths.point_step(point)),
    }
