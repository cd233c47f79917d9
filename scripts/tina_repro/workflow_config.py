"""Load and validate the workflow configuration before any job runs.

``config/config.yaml`` and the TSV sheets it names are checked against JSON schemas in
``config/schemas/`` (``additionalProperties: false``), then cross-checked (names, references between
sheets, step arithmetic, reward names). Every problem is reported as one line naming the file, the
line and the key, so a typo such as ``scale_reward`` stops ``snakemake -n`` before it schedules
anything (Tina's own recipe lost its Dr.GRPO switch to exactly that typo, TINA.md §1.7).

TSV cells are strings; they are coerced to the types the schema declares (an empty cell is null
where the schema allows it) before validation, so the rows handed to the stages carry Python types.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "config" / "schemas"
# Sheets named in config.yaml, with their row schema.
SHEETS = {
    "experiments": "experiments.schema.yaml",
    "datasets": "datasets.schema.yaml",
    "benchmarks": "benchmarks.schema.yaml",
    "baselines": "baselines.schema.yaml",
}
# Evaluated-model groups share results/eval/{run}/...; "baseline" is reserved for untrained models.
BASELINE_RUN = "baseline"
TRUE_WORDS = {"true", "yes", "1"}
FALSE_WORDS = {"false", "no", "0"}


class ConfigError(ValueError):
    """A configuration problem, worded as one line that names the file, line and key."""


def load_schema(name: str) -> dict:
    return yaml.safe_load((SCHEMA_DIR / name).read_text())


def _schema_error(where: str, error: jsonschema.ValidationError) -> ConfigError:
    key = "/".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        unexpected = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        key = "/".join([key, unexpected[0]]) if key else unexpected[0]
        return ConfigError(f"{where}: unknown key '{key}' (allowed here: {allowed})")
    if error.validator == "required":
        return ConfigError(f"{where}: {error.message}")
    return ConfigError(f"{where}: key '{key}': {error.message}")


def validate_document(document: dict, schema: dict, where: str) -> None:
    """Raise ConfigError for the first schema violation of ``document``."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        raise _schema_error(where, errors[0])


def _coerce(cell: str, spec: dict, where: str, column: str) -> Any:
    types = spec.get("type", "string")
    types = [types] if isinstance(types, str) else list(types)
    if "enum" in spec and "type" not in spec:
        types = ["string"]
    text = cell.strip()
    if text == "" and "null" in types:
        return None
    try:
        if "boolean" in types:
            if text.lower() in TRUE_WORDS:
                return True
            if text.lower() in FALSE_WORDS:
                return False
            raise ValueError("expected true or false")
        if "integer" in types:
            number = float(text)
            if not number.is_integer():
                raise ValueError("expected an integer")
            return int(number)
        if "number" in types:
            return float(text)
    except ValueError as err:
        detail = str(err) if "expected" in str(err) else f"expected a {types[0]}"
        raise ConfigError(f"{where}: key '{column}': {text!r} is not valid ({detail})") from None
    return text


def read_sheet(path: str | Path, schema: dict) -> list[dict]:
    """Read a TSV sheet into typed row dicts, validating each row against ``schema``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: sheet not found")
    with path.open(newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        try:
            header = next(reader)
        except StopIteration:
            raise ConfigError(f"{path}: empty sheet (no header line)") from None
        properties = schema.get("properties", {})
        lines = list(enumerate(reader, start=2))
        unknown = [c for c in header if c not in properties]
        if unknown:
            column = header.index(unknown[0])
            # Name the first row that sets the unknown key, as that is where the typo was made.
            where = f"{path} line 1"
            for line_no, cells in lines:
                if len(cells) > column and cells[column].strip():
                    where = f"{path} line {line_no} (name={cells[0]})"
                    break
            allowed = ", ".join(properties)
            raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: {allowed})")
        rows = []
        for line_no, cells in lines:
            if not cells or all(not c.strip() for c in cells):
                continue
            label = cells[0] if cells else "?"
            where = f"{path} line {line_no} (name={label})"
            if len(cells) != len(header):
                raise ConfigError(f"{where}: {len(cells)} cells for {len(header)} columns")
            row = {
                column: _coerce(cell, properties[column], where, column)
                for column, cell in zip(header, cells, strict=True)
            }
            validate_document(row, schema, where)
            rows.append(row)
    if not rows:
        raise ConfigError(f"{path}: no rows")
    names = [r["name"] for r in rows]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{path}: duplicate name '{duplicates[0]}'")
    return rows


@dataclass
class WorkflowConfig:
    """The validated configuration: config.yaml plus every sheet as {name: row}."""

    config: dict
    experiments: dict[str, dict] = field(default_factory=dict)
    datasets: dict[str, dict] = field(default_factory=dict)
    benchmarks: dict[str, dict] = field(default_factory=dict)
    baselines: dict[str, dict] = field(default_factory=dict)

    def experiments_in(self, *tables: str) -> list[str]:
        """Names of the experiments that appear in any of the given paper tables."""
        return [n for n, r in self.experiments.items() if set(tables) & set(r["tables"].split(";"))]

    def training_row(self, name: str) -> dict:
        """The experiment row with its dataset's system prompt key, as the trainer takes it."""
        row = dict(self.experiments[name])
        row["system_prompt"] = self.datasets[row["dataset"]]["system_prompt"]
        return row

    def base_model_point(self) -> str | None:
        """The baseline that evaluates the untrained base model (the same source and revision, no
        adapter): the reference line of the figures and the model every Tina gain is measured
        against. None when baselines.tsv has no such row."""
        base = self.config["base_model"]
        for name, row in self.baselines.items():
            same_model = (row["model"], row["revision"]) == (base["source"], base["revision"])
            if same_model and not row["adapter"]:
                return name
        return None


def _check_experiment(row: dict, wc: WorkflowConfig, where: str) -> None:
    from tina_repro import rewards

    def fail(key: str, message: str) -> None:
        raise ConfigError(f"{where}: key '{key}': {message}")

    if row["dataset"] not in wc.datasets:
        fail("dataset", f"'{row['dataset']}' is not a row of {wc.config['datasets']}")
    try:
        for name, _weight in rewards.parse_weighted(row["rewards"]):
            params = {"max_len": row["cosine_max_len"]} if name == "cosine" else {}
            rewards.validate_params(name, params)
    except ValueError as err:
        fail("rewards", str(err))
    max_steps, stop_step = row["max_steps"], row["stop_step"]
    if max_steps is not None and stop_step is not None and stop_step > max_steps:
        fail("stop_step", f"{stop_step} is beyond max_steps {max_steps}")
    horizon = stop_step if stop_step is not None else max_steps
    if horizon is not None and row["save_steps"] > horizon:
        fail(
            "save_steps", f"{row['save_steps']} is beyond the last step {horizon}: nothing is saved"
        )
    if row["gpus"] > 0 and row["prompts_per_step"] % row["gpus"]:
        fail(
            "prompts_per_step",
            f"{row['prompts_per_step']} prompts cannot be split evenly over {row['gpus']} GPUs",
        )
    if row["use_vllm"] and row["gpus"] == 0:
        fail("use_vllm", "vLLM rollouts need gpus >= 1")


def load(config: dict) -> WorkflowConfig:
    """Validate ``config`` (already merged by Snakemake) and load every sheet it names."""
    validate_document(config, load_schema("config.schema.yaml"), "config")
    wc = WorkflowConfig(config=config)
    for sheet, schema_name in SHEETS.items():
        rows = read_sheet(config[sheet], load_schema(schema_name))
        setattr(wc, sheet, {r["name"]: r for r in rows})

    for line_no, (name, row) in enumerate(wc.experiments.items(), start=2):
        _check_experiment(row, wc, f"{config['experiments']} line {line_no} (name={name})")
    for line_no, (name, row) in enumerate(wc.datasets.items(), start=2):
        if row["system_prompt"] not in config["system_prompts"]:
            raise ConfigError(
                f"{config['datasets']} line {line_no} (name={name}): key 'system_prompt': "
                f"'{row['system_prompt']}' is not a key of config system_prompts"
            )
    for line_no, (name, row) in enumerate(wc.benchmarks.items(), start=2):
        if (row["template"] == "gpqa") != (row["gold_format"] == "letter"):
            raise ConfigError(
                f"{config['benchmarks']} line {line_no} (name={name}): key 'gold_format': "
                "multiple-choice (gpqa) benchmarks and only they use gold_format 'letter'"
            )
    for line_no, (name, row) in enumerate(wc.baselines.items(), start=2):
        if row["adapter_subfolder"] and not row["adapter"]:
            raise ConfigError(
                f"{config['baselines']} line {line_no} (name={name}): key 'adapter_subfolder': "
                "set without an adapter"
            )
    selection = config["selection"]
    unknown = [b for b in selection["selection_benchmarks"] if b not in wc.benchmarks]
    if unknown:
        raise ConfigError(f"config: key 'selection/selection_benchmarks': unknown '{unknown[0]}'")
    if selection["rule"] == "heldout":
        held = set(selection["selection_benchmarks"])
        if not held or held == set(wc.benchmarks):
            raise ConfigError(
                "config: key 'selection/selection_benchmarks': the heldout rule needs a proper, "
                "non-empty subset of the benchmarks to select on"
            )
    return wc


def load_files(*paths: str | Path) -> WorkflowConfig:
    """Load config files outside Snakemake; later files override earlier ones (as --configfile)."""
    merged: dict = {}
    for path in paths:
        _merge(merged, yaml.safe_load(Path(path).read_text()) or {})
    return load(merged)


def _merge(base: dict, update: dict) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def has_published_scores(paper_results: str | Path) -> bool:
    """Whether the paper-results folder holds any published Tina score (the demo's has none)."""
    path = Path(paper_results) / "tina_models.csv"
    if not path.is_file():
        return False
    with path.open(newline="") as handle:
        return any(row.get("avg", "").strip() for row in csv.DictReader(handle))


def is_local(source: str) -> bool:
    """Sources written ``local:PATH`` are read from disk instead of the Hugging Face Hub."""
    return source.startswith("local:")


def model_slug(source: str, revision: str | None) -> str:
    """Folder name of a downloaded Hub repository under resources/models/."""
    slug = source.replace("/", "--")
    return slug if revision in ("main", None) else f"{slug}@{revision}"


def wildcard_pattern(names) -> str:
    """A regex alternative matching exactly the given names (for wildcard_constraints)."""
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
