"""What shapes a training run besides its experiment row: the config settings it reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tina_repro.config import Experiment, WorkflowConfig
from tina_repro.config.rows import as_params, from_params


@dataclass(frozen=True)
class TrainingContext:
    """The config values a run depends on; with the row, exactly what retriggers training."""

    base_model: str  #: the base model's source (Hub id or local:PATH): which weights
    base_revision: str  #: the revision asked for (the Hub lock records its commit)
    dtype: str  #: base model dtype on CUDA (CPU runs train in float32)
    pad_token: str | None  #: pad token set on the tokenizer (when in its vocabulary)
    system_prompt: str  #: the system prompt text of the row's dataset
    chat_template: str  #: training chat template; "" keeps the model's own
    rollout_prompt_tokens: str  #: vllm_text (the paper's) or chat_template (train/rollouts.py)
    #: the dataset row's per-prompt token budget range (L1 recipes), None for every other run
    target_length: tuple[int, int] | None = None

    @classmethod
    def of(cls, wc: WorkflowConfig, experiment: str) -> TrainingContext:
        base = wc.config["base_model"]
        return cls(
            base_model=base["source"],
            base_revision=base["revision"],
            dtype=base["dtype"],
            pad_token=base.get("pad_token") or None,
            system_prompt=wc.system_prompt(experiment),
            chat_template=wc.config.get("training_chat_template") or "",
            rollout_prompt_tokens=wc.config["rollout_prompt_tokens"],
            target_length=wc.datasets[wc.experiments[experiment].dataset].target_length,
        )

    def as_params(self) -> dict:
        """Plain values for Snakemake params: ``target_length`` only when set, so that runs
        without it keep the params they had before the field existed (no spurious retraining)."""
        params = as_params(self)
        if self.target_length is None:
            del params["target_length"]
        return params


@dataclass(frozen=True)
class TrainingJob:
    """One training run to do: what to train (row, context), on what, and where to write."""

    row: Experiment
    context: TrainingContext
    dataset_parquet: Path  #: the normalized training table
    base_model_dir: Path  #: the base model folder on disk
    out_dir: Path  #: results/train/{experiment}/
    device: str | None = None  #: "cpu" or "cuda" to override the row's gpus
    max_wall_seconds: float | None = None  #: stop early with a checkpoint after this long

    def as_params(self) -> dict:
        """Plain values (for the JSON file a multi-GPU launch reads)."""
        return {
            "row": as_params(self.row),
            "context": self.context.as_params(),
            "dataset_parquet": str(self.dataset_parquet),
            "base_model_dir": str(self.base_model_dir),
            "out_dir": str(self.out_dir),
            "device": self.device,
            "max_wall_seconds": self.max_wall_seconds,
        }

    @classmethod
    def from_params(cls, values: dict) -> TrainingJob:
        return cls(
            row=from_params(Experiment, values["row"]),
            context=from_params(TrainingContext, values["context"]),
            dataset_parquet=Path(values["dataset_parquet"]),
            base_model_dir=Path(values["base_model_dir"]),
            out_dir=Path(values["out_dir"]),
            device=values.get("device"),
            max_wall_seconds=values.get("max_wall_seconds"),
        )
