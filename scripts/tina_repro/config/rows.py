"""Typed rows of the four sheets: built once from the validated TSV rows, frozen, documented.

Every stage takes these objects, never the raw dicts. ``as_params`` turns a row back into plain
values (Snakemake only tracks params it can ``repr``: a dataclass would be ignored by its rerun
check), ``settings_params`` does so without the free-text comment (what rules pass as params),
and ``from_params`` rebuilds the row inside the job. config/README.md describes each
column for people editing the sheets.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, TypeVar

# Tables an experiment row can belong to: main (paper Tables 2-3), the four ablations of paper
# Table 4, then those of the later version (rewards: the format-only test; completion_length: the
# long-completion test) and the later commit's L1 length-control recipes.
PAPER_TABLES = (
    "main",
    "datasets",
    "learning_rate",
    "lora_rank",
    "rl_algorithm",
    "rewards",
    "completion_length",
    "length_control",
)
ABLATION_TABLES = PAPER_TABLES[1:]
# What a baselines.tsv row is, as the tables label it.
BASELINE = "baseline"
RELEASED_ADAPTER = "released_adapter"

Row = TypeVar("Row")


def split_list(text: str, separator: str = ",") -> tuple[str, ...]:
    """``"a, b,c"`` -> ``("a", "b", "c")``: the one parser of the sheets' list cells."""
    return tuple(item.strip() for item in text.split(separator) if item.strip())


@dataclass(frozen=True)
class Experiment:
    """One training run (a row of config/experiments.tsv).

    Each field is the column of its name, described once in schemas/experiments.schema.yaml (the
    table in config/README.md shows it); a list or range cell arrives parsed into a tuple."""

    name: str
    paper_name: str | None
    tables: tuple[str, ...]
    dataset: str
    rewards: str
    cosine_max_len: int
    learning_rate: float
    lr_scheduler: str
    min_lr_rate: float
    warmup_ratio: float
    lora_r: int
    lora_alpha: float
    lora_dropout: float
    lora_target_modules: tuple[str, ...]
    num_generations: int
    prompts_per_step: int
    max_prompt_length: int
    max_completion_length: int
    temperature: float
    top_p: float
    beta: float
    loss_type: str
    scale_rewards: str
    max_steps: int | None
    stop_step: int | None
    save_steps: int
    seed: int  #: this run's training and sampler seed (one of its sheet row's ``seeds``)
    gpus: int
    use_vllm: bool
    vllm_gpu_memory_utilization: float
    vllm_max_model_len: int | None
    comment: str | None
    compared_with: str | None = None  #: read by the tables only (:func:`training_params`)

    def in_tables(self, *tables: str) -> bool:
        return bool(set(tables) & set(self.tables))


@dataclass(frozen=True)
class Dataset:
    """One training set and its column mapping (a row of config/datasets.tsv).

    Each field is the column of its name, described once in schemas/datasets.schema.yaml (the
    table in config/README.md shows it); a list or range cell arrives parsed into a tuple."""

    name: str
    source: str
    config: str | None
    split: str
    revision: str
    problem_column: str
    solution_column: str
    wrap_solution: bool
    system_prompt: str
    paper_size: int | None
    comment: str | None
    #: (lowest, highest); training reads it, preparation does not (data.spec.NOT_PREPARED)
    target_length: tuple[int, int] | None = None


@dataclass(frozen=True)
class Benchmark:
    """One evaluation benchmark (a row of config/benchmarks.tsv).

    Each field is the column of its name, described once in schemas/benchmarks.schema.yaml (the
    table in config/README.md shows it); a list or range cell arrives parsed into a tuple."""

    name: str
    source: str
    config: str | None
    split: str
    revision: str
    expected_size: int
    template: str
    problem_column: str
    answer_column: str
    gold_format: str
    comment: str | None

    @property
    def task(self) -> str:
        """Grading task: letter golds are GPQA multiple choice, the rest math."""
        return "gpqa" if self.gold_format == "letter" else "math"


@dataclass(frozen=True)
class Baseline:
    """A model evaluated without training (a row of config/baselines.tsv).

    Each field is the column of its name, described once in schemas/baselines.schema.yaml (the
    table in config/README.md shows it); a list or range cell arrives parsed into a tuple."""

    name: str
    paper_name: str | None
    model: str
    revision: str
    adapter: str | None
    adapter_revision: str | None
    adapter_subfolder: str | None
    compared_with: str | None
    prompt_tokens: str | None
    comment: str | None

    @property
    def kind(self) -> str:
        """``released_adapter`` (a published LoRA checkpoint on ``model``) or ``baseline``."""
        return RELEASED_ADAPTER if self.adapter else BASELINE

    @property
    def checkpoint_step(self) -> int | None:
        """The training step of a ``checkpoint-N`` adapter subfolder (the HF Trainer's name)."""
        found = re.fullmatch(r"(?:.*/)?checkpoint-(\d+)", self.adapter_subfolder or "")
        return int(found.group(1)) if found else None


REPLICATE_SUFFIX = "_seed"


def replicate_runs(name: str, seeds: str) -> list[tuple[str, int]]:
    """(run name, seed) of each seed of a sheet row: ``42;43`` of ``open_rs2`` gives
    ``open_rs2`` (seed 42) and ``open_rs2_seed43``. The first seed keeps the row's name, so
    asking for more seeds leaves the finished first run as it is. Raises ValueError for a seed
    given twice."""
    numbers = [int(seed) for seed in split_list(seeds, ";")]
    repeated = sorted({seed for seed in numbers if numbers.count(seed) > 1})
    if repeated:
        raise ValueError(f"seed {repeated[0]} is given twice")
    return [
        (name if i == 0 else f"{name}{REPLICATE_SUFFIX}{seed}", seed)
        for i, seed in enumerate(numbers)
    ]


def parse_range(text: str) -> tuple[int, int]:
    """``"100-4000"`` -> ``(100, 4000)`` (the sheet schema checks the form)."""
    low, high = text.split("-")
    return int(low), int(high)


SHEET_ROWS: dict[str, type] = {
    "experiments": Experiment,
    "datasets": Dataset,
    "benchmarks": Benchmark,
    "baselines": Baseline,
}
_CELL_PARSERS = {
    "tables": lambda text: split_list(text, ";"),
    "lora_target_modules": split_list,
    "target_length": parse_range,
}


def from_sheet(cls: type[Row], values: dict[str, Any]) -> Row:
    """A typed row from a validated sheet row (list and range cells parsed into tuples)."""
    fields = {f.name for f in dataclasses.fields(cls)}
    converted = {
        key: _CELL_PARSERS[key](value) if key in _CELL_PARSERS and value is not None else value
        for key, value in values.items()
        if key in fields
    }
    return cls(**converted)


def as_params(row: Any) -> dict[str, Any]:
    """Plain values of a row, for Snakemake params (which it compares by repr)."""
    return dataclasses.asdict(row)


def settings_params(row: Any) -> dict[str, Any]:
    """:func:`as_params` of a sheet row with its free-text ``comment`` blank: what a job's
    params carry, so that editing a comment reruns nothing (a comment changes no output)."""
    return {**as_params(row), "comment": None}


def training_params(row: Experiment) -> dict[str, Any]:
    """An experiment run's params for its training: what the tables alone read never retrains
    (the free-text comment is blanked as it always was; ``compared_with`` is left out, so runs
    keep the params they had before the column existed)."""
    params = as_params(row)
    params["comment"] = None
    del params["compared_with"]
    return params


def from_params(cls: type[Row], values: dict[str, Any]) -> Row:
    """The row back from :func:`as_params` output (tuples may arrive as lists)."""
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
