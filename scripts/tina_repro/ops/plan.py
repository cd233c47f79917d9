"""Evaluation cost before it is spent: pending evaluations, engine starts, GPU-hours and dollars.

Generation runs one job per evaluated model (a checkpoint or a baseline) with every benchmark
through one engine start (rules/eval.smk). For the current config and working directory the plan
counts, per run:

- the evaluated models: a finished run's saved checkpoints (its manifest); an unfinished run's
  planned ones, every ``save_steps`` up to the stop step and the stop step itself (where
  training saves, :mod:`tina_repro.train.callbacks`); every baseline;
- the pending evaluations, (model, benchmark) pairs without ``samples.jsonl``, and their samples
  (``expected_size`` x ``samples_per_problem``);
- the engine starts: one per model with anything pending.

Device-seconds = engine starts x start seconds + samples x tokens per sample / tokens per second,
priced from ``cost.usd_per_device_hour`` (``cost.evaluation_device`` for vLLM on CUDA, ``cpu``
otherwise). The three rates
are measured where the workflow has generation records (:data:`tina_repro.paths.GENERATION_RECORD`)
from the same kind of device, otherwise they are the stated defaults :data:`DEFAULT_RATES`.
Throughput and start time may come from another working directory (``rates_from``: the GPU check's
records, extrapolated to the paper plan); tokens per sample only from this one, because another
config's completion budget does not carry over.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from tina_repro import paths
from tina_repro.config import BASELINE_RUN, WorkflowConfig
from tina_repro.eval.backends import generation_gpus
from tina_repro.results.costs import price_per_device_hour
from tina_repro.train.checkpoints import complete_checkpoints
from tina_repro.train.geometry import schedule

logger = logging.getLogger(__name__)

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class Rates:
    """Generation speed of one engine on one device, and where each number comes from."""

    tokens_per_second: float
    engine_start_seconds: float
    # None: a fraction of max_new_tokens (completion_fraction), R1-style completions run long.
    tokens_per_sample: float | None
    completion_fraction: float
    source: dict = field(default_factory=dict)

    def sample_tokens(self, max_new_tokens: int) -> float:
        if self.tokens_per_sample is not None:
            return self.tokens_per_sample
        return self.completion_fraction * max_new_tokens


# Stated defaults, used until the workflow has measured its own: decoding throughput of one vLLM
# engine on one GPU for a 1.5B model in bf16 with hundreds of sequences in flight; the start of an
# engine (weights, CUDA graphs, KV cache); completions a fifth of the budget on average.
DEFAULT_RATES = Rates(
    tokens_per_second=4000.0,
    engine_start_seconds=60.0,
    tokens_per_sample=None,
    completion_fraction=0.2,
    source={
        "tokens_per_second": "default",
        "engine_start_seconds": "default",
        "tokens_per_sample": "default",
    },
)


@dataclass(frozen=True)
class RunPlan:
    run: str
    models: int  #: evaluated models (checkpoints, or baselines for the baseline run)
    models_pending: int  #: models with at least one benchmark to generate = engine starts
    evaluations_pending: int  #: (model, benchmark) pairs without samples
    samples_pending: int


@dataclass(frozen=True)
class Plan:
    runs: list[RunPlan]
    rates: Rates
    device: str  #: cuda or cpu
    device_name: str  #: what the price is for
    usd_per_device_hour: float
    max_new_tokens: int
    skipped: list[str]  #: runs whose checkpoints cannot be planned, with the reason

    def total(self, name: str) -> int:
        return sum(getattr(run, name) for run in self.runs)

    def device_hours(self, engine_starts: int | None = None) -> dict:
        """Generation, start-up and total device-hours; ``engine_starts`` overrides the count."""
        starts = self.total("models_pending") if engine_starts is None else engine_starts
        tokens = self.total("samples_pending") * self.rates.sample_tokens(self.max_new_tokens)
        generation = tokens / self.rates.tokens_per_second / SECONDS_PER_HOUR
        startup = starts * self.rates.engine_start_seconds / SECONDS_PER_HOUR
        return {
            "tokens": tokens,
            "generation": generation,
            "startup": startup,
            "total": generation + startup,
        }


def planned_steps(wc: WorkflowConfig, experiment: str) -> list[int]:
    """Checkpoint steps a run saves: every save_steps up to the stop step, and the stop step."""
    row = wc.experiments[experiment]
    if row.max_steps is None:  # one epoch: its length needs the dataset's size
        n_prompts = wc.datasets[row.dataset].paper_size
        if n_prompts is None:
            raise ValueError(f"max_steps is empty (one epoch) and {row.dataset} has no paper_size")
        stop = schedule(row, n_prompts)["stop_step"]
    else:
        stop = row.stop_step if row.stop_step is not None else row.max_steps
    steps = list(range(row.save_steps, stop + 1, row.save_steps))
    return steps if steps and steps[-1] == stop else [*steps, stop]


def planned_points(wc: WorkflowConfig, run: str, workdir: Path) -> list[str]:
    """{point}s of a run the plan counts: saved checkpoints once finished, planned ones before."""
    if run == BASELINE_RUN:
        return list(wc.baselines)
    run_dir = paths.fill(paths.RUN_DIR, workdir, experiment=run)
    manifest = run_dir / paths.MANIFEST
    if manifest.is_file():
        steps = json.loads(manifest.read_text())["checkpoint_steps"]
    else:
        steps = sorted(set(planned_steps(wc, run)) | set(complete_checkpoints(run_dir)))
    return [paths.step_point(step) for step in steps]


def read_records(workdir: Path, wc: WorkflowConfig | None = None) -> list[dict]:
    """Every generation record under the working directory, or only those of ``wc``'s runs and
    benchmarks; unreadable ones are skipped and counted."""
    runs = None if wc is None else {*wc.experiments, BASELINE_RUN}
    records, bad = [], 0
    for path in sorted(workdir.glob(paths.GENERATION_RECORD.format(run="*", point="*"))):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            bad += 1
            continue
        run = path.parent.parent.name
        if wc is None or (run in runs and set(record.get("benchmarks", ())) <= set(wc.benchmarks)):
            records.append(record)
    if bad:
        logger.warning("%d unreadable generation record(s) under %s skipped", bad, workdir)
    return records


def device_kind(recorded: str) -> str:
    """cpu or cuda, of the device a generation record names (``cpu`` or a CUDA device name)."""
    return "cpu" if recorded == "cpu" else "cuda"


def measured_rates(records: list[dict], device: str, *, sample_tokens: bool) -> Rates:
    """The defaults, replaced by what ``records`` of ``device`` measured."""
    usable = [
        r
        for r in records
        if r.get("device") and device_kind(r["device"]) == device and r["generation_seconds"] > 0
    ]
    if not usable:
        return DEFAULT_RATES
    tokens = sum(r["generated_tokens"] for r in usable)
    measured = f"measured ({len(usable)} generation records)"
    rates = replace(
        DEFAULT_RATES,
        tokens_per_second=tokens / sum(r["generation_seconds"] for r in usable),
        engine_start_seconds=sum(r["engine_start_seconds"] for r in usable) / len(usable),
        source=DEFAULT_RATES.source
        | {"tokens_per_second": measured, "engine_start_seconds": measured},
    )
    samples = sum(r["samples"] for r in usable)
    if sample_tokens and samples:
        rates = replace(
            rates,
            tokens_per_sample=tokens / samples,
            source=rates.source | {"tokens_per_sample": measured},
        )
    return rates


def evaluation_price(cost: dict, device: str) -> tuple[str, float]:
    """(device name, dollars per device-hour) of generation jobs on ``device`` (cuda or cpu):
    CUDA jobs run on ``cost.evaluation_device``, CPU jobs on ``cpu``."""
    name = cost["evaluation_device"] if device == "cuda" else "cpu"
    return name, price_per_device_hour(name, cost)


def plan(wc: WorkflowConfig, workdir: Path = Path("."), rates_from: Path | None = None) -> Plan:
    """The evaluation plan of ``wc`` in ``workdir`` (see the module docstring)."""
    settings = wc.evaluation
    device = "cuda" if generation_gpus(settings) else "cpu"
    rates = measured_rates(read_records(workdir, wc), device, sample_tokens=True)
    if rates_from is not None:
        other = measured_rates(read_records(rates_from), device, sample_tokens=False)
        if other is not DEFAULT_RATES:
            rates = replace(
                other,
                tokens_per_sample=rates.tokens_per_sample,
                source=other.source | {"tokens_per_sample": rates.source["tokens_per_sample"]},
            )
    runs, skipped = [], []
    for run in [*wc.experiments, BASELINE_RUN]:
        try:
            points = planned_points(wc, run, workdir)
        except ValueError as err:
            skipped.append(f"{run}: {err}")
            continue
        pending_models = pending = samples = 0
        for point in points:
            missing = [
                b
                for b in wc.benchmarks
                if not paths.fill(
                    paths.SAMPLES, workdir, run=run, point=point, benchmark=b
                ).is_file()
            ]
            pending_models += bool(missing)
            pending += len(missing)
            samples += sum(
                wc.benchmarks[b].expected_size * settings.samples_per_problem for b in missing
            )
        runs.append(RunPlan(run, len(points), pending_models, pending, samples))
    for line in skipped:
        logger.warning("not planned: %s", line)
    device_name, usd = evaluation_price(wc.config["cost"], device)
    return Plan(
        runs=runs,
        rates=rates,
        device=device,
        device_name=device_name,
        usd_per_device_hour=usd,
        max_new_tokens=settings.max_new_tokens,
        skipped=skipped,
    )


def format_plan(p: Plan) -> str:
    """The plan as text: one line per run, the rates with their sources, the totals."""
    width = max([18, *(len(run.run) for run in p.runs)])
    lines = [f"{'run':<{width}} {'models':>7} {'pending':>8} {'evals pending':>14} {'samples':>9}"]
    for run in p.runs:
        lines.append(
            f"{run.run:<{width}} {run.models:>7} {run.models_pending:>8} "
            f"{run.evaluations_pending:>14} {run.samples_pending:>9}"
        )
    lines += [f"not planned: {line}" for line in p.skipped]
    r = p.rates
    unit = "GPU" if p.device == "cuda" else "CPU"
    lines += [
        "",
        f"rates ({p.device}): {r.tokens_per_second:,.0f} tokens/s "
        f"[{r.source['tokens_per_second']}],"
        f" engine start {r.engine_start_seconds:.0f} s [{r.source['engine_start_seconds']}],"
        f" {r.sample_tokens(p.max_new_tokens):,.0f} tokens/sample "
        f"[{r.source['tokens_per_sample']}"
        + ("" if r.tokens_per_sample else f": {r.completion_fraction:g} x max_new_tokens")
        + "]",
    ]
    per_model = p.device_hours()
    per_pair = p.device_hours(engine_starts=p.total("evaluations_pending"))
    for label, starts, hours in [
        ("one engine per model", p.total("models_pending"), per_model),
        ("one engine per (model, benchmark)", p.total("evaluations_pending"), per_pair),
    ]:
        lines.append(
            f"{label}: {starts} engine starts, {hours['total']:,.1f} {unit}-hours "
            f"({hours['generation']:,.1f} generating {hours['tokens'] / 1e6:,.1f} M tokens + "
            f"{hours['startup']:,.1f} starting), ${hours['total'] * p.usd_per_device_hour:,.0f} at "
            f"${p.usd_per_device_hour:g}/{unit}-hour ({p.device_name})"
        )
    lines.append(
        f"pending: {p.total('evaluations_pending')} evaluations of "
        f"{p.total('models_pending')} models, {p.total('samples_pending')} samples"
    )
    return "\n".join(lines)
