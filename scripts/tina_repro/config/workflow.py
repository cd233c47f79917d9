"""The validated workflow configuration: config.yaml plus every sheet as typed rows.

``load`` checks ``config.yaml`` and the sheets it names against the package's schemas, then
cross-checks them (references between sheets, step arithmetic, reward names). Every problem is
one line naming the file, the line and the key.

Relative paths in the config (sheets, ``paper_results``) are relative to the workflow's working
directory ``root``, as Snakemake reads them; ``load_files`` (the command line) finds that root
from where the config files are.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tina_repro import paths, rewards
from tina_repro.config.evaluation import EvaluationSettings
from tina_repro.config.rows import (
    SHEET_ROWS,
    Baseline,
    Benchmark,
    Dataset,
    Experiment,
    from_params,
    from_sheet,
    replicate_runs,
    settings_params,
)
from tina_repro.config.sheets import ConfigError, load_schema, read_sheet, validate_document
from tina_repro.files import utf8_position

# Evaluated-model groups share results/eval/{run}/...; "baseline" is reserved for untrained models.
BASELINE_RUN = "baseline"
DEFAULT_CONFIG = Path("config/config.yaml")
# The paper config (the Snakefile's configfile); other config files are merged over it.
CPU_DEMO_CONFIG = "config/demo/config.yaml"


@dataclass
class WorkflowConfig:
    """The validated configuration: ``config`` (config.yaml, merged), its ``evaluation`` block
    typed, and each sheet's rows."""

    config: dict
    root: Path = Path(".")
    experiments: dict[str, Experiment] = field(default_factory=dict)
    datasets: dict[str, Dataset] = field(default_factory=dict)
    benchmarks: dict[str, Benchmark] = field(default_factory=dict)
    baselines: dict[str, Baseline] = field(default_factory=dict)
    #: experiments sheet row -> its runs, one per seed (the first named as the row)
    replicates: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: (sheet, name) -> line number in its file, for messages (a replicate: its row's line)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)
    evaluation: EvaluationSettings = field(init=False)

    def __post_init__(self) -> None:
        self.evaluation = EvaluationSettings.of(self.config["evaluation"])

    def path(self, key: str) -> Path:
        """A path the config names (a sheet, ``paper_results``), resolved against ``root``."""
        return self.root / self.config[key]

    def experiments_in(self, *tables: str) -> list[str]:
        """Names of the experiments (every replicate run) that appear in any of the given paper
        tables."""
        return [name for name, row in self.experiments.items() if row.in_tables(*tables)]

    def rows_in(self, *tables: str) -> list[str]:
        """Names of the experiments sheet rows (a row of replicates once) in any of the given
        tables: the models of the main and ablation tables."""
        return [row for row in self.replicates if self.experiments[row].in_tables(*tables)]

    def with_references(self, runs: list[str]) -> list[str]:
        """``runs`` and every run of the rows they are ``compared_with``, in sheet order: what
        a table comparing them reads."""
        references = {self.experiments[run].compared_with for run in runs}
        wanted = set(runs) | {r for row in references if row for r in self.replicates[row]}
        return [name for name in self.experiments if name in wanted]

    def row_of(self, run: str) -> str:
        """The experiments sheet row a run (or replicate) belongs to."""
        return next(row for row, runs in self.replicates.items() if run in runs)

    def system_prompt(self, experiment: str) -> str:
        """The system prompt text an experiment trains with (its dataset's key)."""
        dataset = self.datasets[self.experiments[experiment].dataset]
        return self.config["system_prompts"][dataset.system_prompt]

    def prompt_tokens(self, run: str, point: str) -> str:
        """The ``evaluation.prompt_tokens`` of an evaluated model: a baselines row's own mode,
        else the config's (checkpoints always take the config's)."""
        return self.evaluation_settings(run, point).prompt_tokens

    def evaluation_settings(self, run: str, point: str) -> EvaluationSettings:
        """The settings an evaluated model is evaluated with: the config's, with a baselines
        row's own ``prompt_tokens``."""
        own = self.baselines[point].prompt_tokens if run == BASELINE_RUN else None
        return self.evaluation.for_model(own)

    def base_model_point(self) -> str | None:
        """The baseline that evaluates the untrained base model (the same source and revision, no
        adapter) with the config's prompt tokens, as every checkpoint is evaluated: the
        reference line of the figures and the model every Tina gain is measured against. None
        when the baselines sheet has no such row."""
        base = self.config["base_model"]
        for name, row in self.baselines.items():
            same_model = (row.model, row.revision) == (base["source"], base["revision"])
            own_tokens = row.prompt_tokens not in (None, self.evaluation.prompt_tokens)
            if same_model and not row.adapter and not own_tokens:
                return name
        return None

    def hub_repositories(self) -> dict[str, dict]:
        """Every Hub repository to download (base model, baseline models, adapters), by folder
        name: ``source``, ``revision`` and ``subfolders``. Of an adapter repository (Tina's hold
        every checkpoint) only the subfolders the baselines evaluate are listed; an empty list
        means the whole repository."""
        base = self.config["base_model"]
        wanted = [(base["source"], base["revision"], None)]
        for row in self.baselines.values():
            wanted.append((row.model, row.revision, None))
            if row.adapter:
                wanted.append((row.adapter, row.adapter_revision, row.adapter_subfolder))
        repositories = {}
        for source, revision, subfolder in wanted:
            if is_local(source):
                continue
            spec = repositories.setdefault(
                model_slug(source, revision),
                {"source": source, "revision": revision or "main", "subfolders": []},
            )
            if subfolder:
                spec["subfolders"] = sorted({*spec["subfolders"], subfolder})
        return repositories

    def where(self, sheet: str, name: str) -> str:
        """``config/experiments.tsv line 7 (name=limr)``: where a row is, for messages."""
        return f"{self.config[sheet]} line {self.lines[(sheet, name)]} (name={name})"

    def unknown(self, sheet: str, name: str) -> ConfigError:
        """The one-line error for a name that is not a row of ``sheet``."""
        known = ", ".join(getattr(self, sheet)) or "none"
        return ConfigError(f"'{name}' is not a row of {self.config[sheet]} (rows: {known})")


def _check_experiment(row: Experiment, wc: WorkflowConfig) -> None:
    where = wc.where("experiments", row.name)

    def fail(key: str, message: str) -> None:
        raise ConfigError(f"{where}: key '{key}': {message}")

    if row.dataset not in wc.datasets:
        fail("dataset", f"'{row.dataset}' is not a row of {wc.config['datasets']}")
    if row.compared_with is not None and (
        row.compared_with not in wc.replicates or row.compared_with == wc.row_of(row.name)
    ):
        fail("compared_with", f"'{row.compared_with}' is not another row of this sheet")
    try:
        names = [name for name, _weight in rewards.parse_weighted(row.rewards)]
        for name in names:
            params = {"max_len": row.cosine_max_len} if name == "cosine" else {}
            rewards.validate_params(name, params)
    except ValueError as err:
        fail("rewards", str(err))
    for name in names:
        if rewards.columns_of(name) and wc.datasets[row.dataset].target_length is None:
            fail(
                "rewards",
                f"'{name}' reads each prompt's target_length, but dataset '{row.dataset}' has "
                f"none (column target_length of {wc.config['datasets']})",
            )
    if row.max_steps is not None and row.stop_step is not None and row.stop_step > row.max_steps:
        fail("stop_step", f"{row.stop_step} is beyond max_steps {row.max_steps}")
    horizon = row.stop_step if row.stop_step is not None else row.max_steps
    if horizon is not None and row.save_steps > horizon:
        fail("save_steps", f"{row.save_steps} is beyond the last step {horizon}: nothing is saved")
    if row.gpus > 0 and row.prompts_per_step % row.gpus:
        fail(
            "prompts_per_step",
            f"{row.prompts_per_step} prompts cannot be split evenly over {row.gpus} GPUs",
        )
    if row.use_vllm and row.gpus == 0:
        fail("use_vllm", "vLLM rollouts need gpus >= 1")


def _cross_check(wc: WorkflowConfig) -> None:
    config = wc.config
    for row in wc.experiments.values():
        _check_experiment(row, wc)
    for name, row in wc.datasets.items():
        if row.target_length is not None and row.target_length[0] > row.target_length[1]:
            low, high = row.target_length
            raise ConfigError(
                f"{wc.where('datasets', name)}: key 'target_length': {low}-{high} has its lowest "
                "budget above its highest"
            )
        if row.system_prompt not in config["system_prompts"]:
            raise ConfigError(
                f"{wc.where('datasets', name)}: key 'system_prompt': '{row.system_prompt}' is "
                "not a key of config system_prompts"
            )
    for name, row in wc.benchmarks.items():
        if (row.template == "gpqa") != (row.gold_format == "letter"):
            raise ConfigError(
                f"{wc.where('benchmarks', name)}: key 'gold_format': multiple-choice (gpqa) "
                "benchmarks and only they use gold_format 'letter'"
            )
    for name, row in wc.baselines.items():
        if row.adapter_subfolder and not row.adapter:
            raise ConfigError(
                f"{wc.where('baselines', name)}: key 'adapter_subfolder': set without an adapter"
            )
        if row.compared_with and (not row.adapter or row.compared_with not in wc.experiments):
            raise ConfigError(
                f"{wc.where('baselines', name)}: key 'compared_with': '{row.compared_with}' needs "
                f"an adapter and a row of {config['experiments']}"
            )
    cost = config["cost"]
    if cost["evaluation_device"] not in cost["usd_per_device_hour"]:
        raise ConfigError(
            f"config: key 'cost/evaluation_device': '{cost['evaluation_device']}' has no price in "
            f"cost/usd_per_device_hour (priced: {', '.join(cost['usd_per_device_hour'])})"
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


def load(config: dict, root: str | Path = ".") -> WorkflowConfig:
    """Validate ``config`` (already merged by Snakemake) and load every sheet it names."""
    validate_document(config, load_schema("config.schema.yaml"), "config")
    wc = WorkflowConfig(config=config, root=Path(root))
    for sheet, row_type in SHEET_ROWS.items():
        rows = read_sheet(wc.path(sheet), load_schema(f"{sheet}.schema.yaml"), config[sheet])
        typed = {}
        for values in rows:
            runs = _runs_of(sheet, values, config[sheet])
            for name, run in runs.items():
                if name in typed:
                    raise ConfigError(
                        f"{config[sheet]} line {values['_line']} (name={values['name']}): the "
                        f"replicate '{name}' has the name of the row on line "
                        f"{wc.lines[(sheet, name)]}"
                    )
                wc.lines[(sheet, name)] = values["_line"]
                typed[name] = from_sheet(row_type, run)
            if sheet == "experiments":
                wc.replicates[values["name"]] = tuple(runs)
        setattr(wc, sheet, typed)
    _cross_check(wc)
    return wc


# sheet_params' key for the runs of each experiments row (one per seed)
REPLICATES = "replicates"


def sheet_params(wc: WorkflowConfig) -> dict[str, Any]:
    """Every sheet's rows as params, without their comments, and which runs are the replicates of
    each experiments row: what a job that needs the sheets takes instead of reading their files,
    so that a comment edit reruns nothing."""
    rows = {
        sheet: [settings_params(row) for row in getattr(wc, sheet).values()] for sheet in SHEET_ROWS
    }
    return {**rows, REPLICATES: {row: list(runs) for row, runs in wc.replicates.items()}}


def from_sheet_params(config: dict, sheets: dict[str, Any]) -> WorkflowConfig:
    """The configuration a job sees: ``config`` (validated as the workflow parsed) and the rows
    and replicates of :func:`sheet_params`."""
    wc = WorkflowConfig(config=config)
    for sheet, row_type in SHEET_ROWS.items():
        rows = [from_params(row_type, values) for values in sheets[sheet]]
        setattr(wc, sheet, {row.name: row for row in rows})
    wc.replicates = {row: tuple(runs) for row, runs in sheets[REPLICATES].items()}
    return wc


def _runs_of(sheet: str, values: dict, display: str) -> dict[str, dict]:
    """The typed-row values of a sheet row: one per seed (name -> values) for an experiments
    row, the row itself otherwise."""
    if sheet != "experiments":
        return {values["name"]: values}
    try:
        runs = replicate_runs(values["name"], values["seeds"])
    except ValueError as err:
        where = f"{display} line {values['_line']} (name={values['name']})"
        raise ConfigError(f"{where}: key 'seeds': {err}") from None
    return {name: {**values, "name": name, "seed": seed} for name, seed in runs}


def read_config_file(path: str | Path) -> dict:
    """One YAML config file; a syntax error becomes one line naming the file and position."""
    try:
        data = Path(path).read_bytes()
        document = yaml.safe_load(data.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} {utf8_position(data, err)} (save it as UTF-8)") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        place = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}{place}: YAML syntax error: {problem}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return document


def workflow_root(*config_files: str | Path) -> Path:
    """The working directory the config files' relative paths refer to: the current directory
    when it holds the workflow's config/config.yaml, else the nearest folder above the first
    config file that does (so the command line works from any directory)."""
    if DEFAULT_CONFIG.is_file() or not config_files:
        return Path(".")
    for folder in Path(config_files[0]).resolve().parents:
        if (folder / DEFAULT_CONFIG).is_file():
            return folder
    return Path(".")


def load_files(*paths: str | Path, root: str | Path | None = None) -> WorkflowConfig:
    """config/config.yaml of the workflow root, then each file over it (as Snakemake's
    ``--configfile``: later files override earlier ones)."""
    root = Path(root) if root is not None else workflow_root(*paths)
    merged: dict = {}
    for path in [root / DEFAULT_CONFIG, *paths]:
        _merge(merged, read_config_file(path))
    return load(merged, root)


def _merge(base: dict, update: dict) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def published_rows(paper_results: str | Path) -> dict[str, int]:
    """Per file of the published-results folder (``tina_models``, ``figure1_overall_comparison``,
    ...): how many of its rows hold a published number. What tables and figures can set beside
    ours, and so what their captions may speak of (the demo's files hold none)."""
    counts = {}
    for path in sorted(Path(paper_results).glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = csv.DictReader(handle)
            counts[path.stem] = sum(any(map(_is_number, row.values())) for row in rows)
    return counts


def _is_number(cell: str | None) -> bool:
    try:
        float(cell or "")
    except ValueError:
        return False
    return True


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


def model_dir(source: str, revision: str | None) -> str:
    """Where a model (or adapter) repository lives on disk once available: a ``local:`` folder
    itself, else its download folder under resources/models/."""
    if is_local(source):
        return source.removeprefix("local:")
    return paths.MODEL_DIR.format(model=model_slug(source, revision))


def model_input(source: str, revision: str | None) -> str:
    """The file that proves a model is available, a job's input: its download manifest, or a
    ``local:`` folder itself."""
    if is_local(source):
        return source.removeprefix("local:")
    return paths.MODEL_MANIFEST.format(model=model_slug(source, revision))


def model_dir_of_input(path: str) -> str:
    """The model folder behind a :func:`model_input` (a manifest's folder, or the folder)."""
    return os.path.dirname(path) if path.endswith(paths.MANIFEST) else path


def wildcard_pattern(names) -> str:
    """A regex alternative matching exactly the given names (for wildcard_constraints)."""
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
