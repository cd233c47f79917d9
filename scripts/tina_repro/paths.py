"""Every artifact the workflow writes or reads: one pattern each, used by rules/*.smk and the
package alike, so a file has exactly one owner and one spelling.

Patterns use Snakemake's ``{wildcard}`` syntax and are relative to the workflow's working
directory. :func:`fill` turns one into a path (under ``root``, for code that runs outside the
working directory, e.g. tests).

    resources/datasets/{dataset}.parquet       prepare_dataset -> train_grpo
    resources/benchmarks/{benchmark}.parquet   prepare_benchmark -> generate/grade_samples
    resources/models/{model}/manifest.json     download_model -> train_grpo, generate_samples
    results/train/{experiment}/manifest.json   train_grpo (written last) -> all downstream
      .../checkpoint-{step}/, log_history.csv, resolved_config.json, train_sessions.json,
      identity.json (tina_repro.train.identity)
    results/eval/{run}/{point}/generation.json generate_samples (one job per evaluated model)
    results/eval/{run}/{point}/{benchmark}/    samples.jsonl (generate_samples),
                                               graded.jsonl + score.json (grade_samples)
    results/scores/{experiment}.csv            collect_run_scores -> tables, figures
    results/tables/{table}.{csv,md,html}       *_table rules (the CSV, and two renderings)
    results/figures/{name}.{pdf,png}           figure_* rules
"""

from __future__ import annotations

from pathlib import Path

# ---- data stage (rules/data.smk) -------------------------------------------------------------
DATASET_PARQUET = "resources/datasets/{dataset}.parquet"
DATASET_REPORT = "resources/datasets/{dataset}.report.json"
BENCHMARK_PARQUET = "resources/benchmarks/{benchmark}.parquet"
BENCHMARK_REPORT = "resources/benchmarks/{benchmark}.report.json"
MODEL_DIR = "resources/models/{model}"
MODEL_MANIFEST = MODEL_DIR + "/manifest.json"
# The commit each Hub revision resolved to at its first download (tina_repro.hub_lock); committed.
HUB_LOCK = "config/hub.lock.tsv"
# sha256 of files already hashed, by (path, size, mtime, ctime) (tina_repro.fingerprints)
HASH_CACHE = ".tina-repro/sha256"

# ---- training (rules/train.smk) ----------------------------------------------------------------
RUN_DIR = "results/train/{experiment}"
MANIFEST = "manifest.json"  # written last: the run's declared output
LOG_HISTORY = "log_history.csv"  # one row per optimizer step
RESOLVED_CONFIG = "resolved_config.json"  # every setting used and where it came from
SESSIONS = "train_sessions.json"  # wall time and memory of each (re)start
TRAIN_ARGS = "train_args.json"  # arguments of a multi-GPU launch
RUN_IDENTITY = "identity.json"  # what the run read, by content, and whether it finished
WRITER_LOCK = ".writer.lock"  # held by the one process training this run (tina_repro.locks)
CHECKPOINT = "checkpoint-{step}"
RUN_MANIFEST = f"{RUN_DIR}/{MANIFEST}"
RUN_LOG_HISTORY = f"{RUN_DIR}/{LOG_HISTORY}"
RUN_CHECKPOINT = f"{RUN_DIR}/{CHECKPOINT}"

# ---- evaluation (rules/eval.smk) ---------------------------------------------------------------
STEP_PREFIX = "step-"  # a checkpoint's {point} is step-N; a baseline's is its name
EVAL_ROOT = "results/eval"
EVAL_POINT_DIR = EVAL_ROOT + "/{run}/{point}"
EVAL_DIR = EVAL_POINT_DIR + "/{benchmark}"
SAMPLES = EVAL_DIR + "/samples.jsonl"  # a link to SAMPLES_STORE (tina_repro.eval.store)
SAMPLES_STORE = "samples.{identity}.jsonl"  # beside the link: the samples of one identity
GRADED = EVAL_DIR + "/graded.jsonl"
SCORE = EVAL_DIR + "/score.json"
PARTIAL_SUFFIX = ".partial"  # finished samples of an interrupted generation
# One generation job per evaluated model: its device, engine start, throughput, merge retention
# (tina-repro plan reads them).
GENERATION_RECORD = EVAL_POINT_DIR + "/generation.json"
# Snakemake's benchmark file of a generation job: its wall time is the evaluation cost.
GENERATION_TIMING = "benchmarks/generate_samples/{run}/{point}.tsv"

# ---- results and figures (rules/results.smk, rules/figures.smk) -------------------------------
RUN_SCORES = "results/scores/{experiment}.csv"
BASELINE_SCORES = "results/scores/baselines.csv"
TABLE = "results/tables/{table}.{ext}"
TABLES = ("main", "ablations", "checkpoints", "costs", "flops")
# Beside each table's CSV: Markdown (a repository, a terminal) and HTML (the report shows it).
TABLE_RENDERINGS = ("md", "html")
FIGURE = "results/figures/{name}.{ext}"
FIGURE_FORMATS = ("pdf", "png")

# ---- the CPU demo (rules/demo.smk) -------------------------------------------------------------
DEMO_DIR = "resources/demo"
DEMO_TRAIN = DEMO_DIR + "/train.jsonl"
DEMO_SFT = DEMO_DIR + "/sft.jsonl"
DEMO_BENCHMARK = DEMO_DIR + "/bench_l{level}.jsonl"
DEMO_BASE_MODEL = DEMO_DIR + "/base_model"


def fill(pattern: str, root: str | Path = ".", **wildcards: object) -> Path:
    """``pattern`` with its wildcards filled in, under ``root``."""
    return Path(root) / pattern.format(**wildcards)


def table(name: str, ext: str = "csv") -> str:
    """``results/tables/{name}.{ext}``: the CSV, or a rendering of it (``TABLE_RENDERINGS``)."""
    return TABLE.format(table=name, ext=ext)


def figure(name: str, ext: str) -> str:
    """``results/figures/{name}.{ext}`` (``name`` may hold wildcards, e.g. ``x/{experiment}``)."""
    return FIGURE.format(name=name, ext=ext)


def step_point(step: int) -> str:
    """The ``{point}`` of a checkpoint: ``step-N``."""
    return f"{STEP_PREFIX}{step}"


def point_step(point: str) -> int | None:
    """N of a ``step-N`` point, or None for a baseline's point."""
    rest = point.removeprefix(STEP_PREFIX)
    return int(rest) if point.startswith(STEP_PREFIX) and rest.isdigit() else None


def eval_parts(path: str | Path) -> tuple[str, str, str]:
    """(run, point, benchmark) of a file under ``results/eval/{run}/{point}/{benchmark}/``."""
    parts = Path(path).parts
    if len(parts) < 4:
        raise ValueError(f"{path}: expected .../{{run}}/{{point}}/{{benchmark}}/<file>")
    return parts[-4], parts[-3], parts[-2]


def timing_parts(path: str | Path) -> tuple[str, str]:
    """(run, point) of a generation timing file (:data:`GENERATION_TIMING`)."""
    path = Path(path)
    if len(path.parts) < 2:
        raise ValueError(f"{path}: expected .../{{run}}/{{point}}.tsv")
    return path.parts[-2], path.stem


def record_parts(path: str | Path) -> tuple[str, str]:
    """(run, point) of a generation record (:data:`GENERATION_RECORD`)."""
    parts = Path(path).parts
    if len(parts) < 3:
        raise ValueError(f"{path}: expected .../{{run}}/{{point}}/generation.json")
    return parts[-3], parts[-2]


def beside(path: str | Path, name: str) -> Path:
    """A file written by the same job next to ``path`` (e.g. graded.jsonl beside score.json)."""
    return Path(path).with_name(name)
