"""A training run is current or it is rebuilt: its identity, and what becomes of a run folder
that holds another run.

A run's identity hashes the content of everything it reads and every setting that shapes its
trajectory: the prepared dataset's sha256, the base model's fingerprint
(:func:`tina_repro.fingerprints.model_fingerprint`), the experiment row (less its free-text
``comment`` and its ``stop_step``, which only says where to stop on a schedule that spans
``max_steps``), the training context (system prompt, chat template, dtype, pad token), the device
and GPU count, and the GRPO, LoRA and reward settings the code derives from them. Training
records it in ``identity.json`` of the run folder before anything else, and the step and manifest
it finished with once it has.

Before training, :func:`claim` compares the folder's record with the run asked for:

- nothing there: train;
- the same identity, not finished, or finished before ``stop_step`` (raised since): resume from
  the newest complete checkpoint (a folder with checkpoints beyond ``stop_step`` is refused in
  one line by the trainer);
- another identity, no record (a folder of unknown origin), or the same identity finished at
  ``stop_step`` and asked again: the folder is moved aside, never deleted (GPU-days live there),
  to ``{experiment}.superseded-<UTC time>/`` beside it, with one log line naming it and why;
  then the run trains afresh.

"Asked again" is how the trainer tells a forced run (``--forcerun train_grpo``) from one killed
before it wrote its manifest: Snakemake deletes a job's declared outputs (``manifest.json``,
``log_history.csv``) before running it, so only the record, which is no declared output, says
whether the run had finished. Snakemake asks again when an input changed (then the identity
differs), when forced, or when a job upstream of training reran in the same invocation (it
cannot know the new bytes beforehand): rules/train.smk keeps the last from happening for a
dataset re-prepared with the same bytes in an earlier invocation.
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from tina_repro import paths
from tina_repro.config import Experiment
from tina_repro.config.rows import as_params
from tina_repro.errors import UserError
from tina_repro.files import read_json, roundtrip, write_json
from tina_repro.fingerprints import digest_of, file_sha256, model_fingerprint

logger = logging.getLogger(__name__)

IDENTITY_CHARS = 16  # of the sha256: one run folder never holds more than a handful of runs
SUPERSEDED = "{experiment}.superseded-{time}"
# Row columns that do not change what a run computes up to any step.
NOT_IDENTITY = ("comment", "stop_step")

FRESH, RESUME, SUPERSEDE = "fresh", "resume", "supersede"


class StopStepPassedError(UserError):
    """The run folder holds checkpoints beyond the row's (lowered) stop_step."""


class UnclaimedRunError(RuntimeError):
    """A worker of a multi-GPU run found a folder that its launcher did not claim."""


def run_inputs(
    row: Experiment,
    context: dict,
    device: str,
    n_gpus: int,
    settings: dict,
    dataset_parquet: str | Path,
    base_model_dir: str | Path,
) -> dict:
    """Everything the run's identity covers (``settings``: the GRPO, LoRA and reward settings of
    :func:`tina_repro.train.provenance.resolve_run`)."""
    return roundtrip(
        {
            "row": {k: v for k, v in as_params(row).items() if k not in NOT_IDENTITY},
            "context": context,
            "device": device,
            "n_gpus": n_gpus,
            "settings": settings,
            "dataset_sha256": file_sha256(dataset_parquet),
            "base_model": model_fingerprint(base_model_dir),
        }
    )


def identity_of(inputs: dict) -> str:
    return digest_of(inputs)[:IDENTITY_CHARS]


@dataclass(frozen=True)
class Decision:
    """What :func:`claim` does with a run folder, and why (for the log)."""

    action: str  #: FRESH, RESUME or SUPERSEDE
    reason: str


def _flatten(value: object, prefix: str = "") -> dict:
    if isinstance(value, dict) and value:
        flat = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): value}


def changed_inputs(before: dict, now: dict) -> list[str]:
    """Dotted names of the inputs that differ (``row.learning_rate``, ``dataset_sha256``)."""
    old, new = _flatten(before), _flatten(now)
    return sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))


def decide(record: dict | None, inputs: dict, stop_step: int, has_files: bool) -> Decision:
    """The fate of a run folder (``record``: its identity.json, ``has_files``: whether it holds
    anything) for a run of ``inputs`` that stops at ``stop_step``."""
    if not has_files:
        return Decision(FRESH, "nothing trained yet")
    if record is None:
        return Decision(SUPERSEDE, "it records no identity")
    if record.get("identity") != identity_of(inputs):
        changed = changed_inputs(record.get("inputs") or {}, inputs)
        return Decision(SUPERSEDE, f"its inputs changed ({', '.join(changed) or 'identity'})")
    finished = (record.get("finished") or {}).get("step")
    if finished == stop_step:
        return Decision(SUPERSEDE, f"it finished at step {finished} and is asked to train again")
    if finished is not None and finished < stop_step:
        return Decision(RESUME, f"it finished at step {finished}; stop_step is now {stop_step}")
    return Decision(RESUME, "same identity, not finished")


def read_record(out_dir: str | Path) -> dict | None:
    """The folder's identity.json, or None when it has none (or an unreadable one)."""
    try:
        record = read_json(Path(out_dir) / paths.RUN_IDENTITY)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _folder_entries(out_dir: Path) -> list[Path]:
    """What a run left in its folder: everything but the writer lock (held by whoever trains)."""
    if not out_dir.is_dir():
        return []
    return sorted(p for p in out_dir.iterdir() if p.name != paths.WRITER_LOCK)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def move_aside(out_dir: Path) -> Path:
    """Move the folder's contents (not its lock, held by this process) to a new
    ``{name}.superseded-<UTC time>`` folder beside it; returns that folder."""
    stamp = _now().strftime("%Y%m%dT%H%M%SZ")
    first = out_dir.with_name(SUPERSEDED.format(experiment=out_dir.name, time=stamp))
    target, count = first, 1
    while target.exists():  # superseded twice within a second
        count += 1
        target = first.with_name(f"{first.name}-{count}")
    target.mkdir()
    # the identity record goes last: a move cut short leaves a folder that is superseded again
    entries = _folder_entries(out_dir)
    entries.sort(key=lambda p: p.name == paths.RUN_IDENTITY)
    for entry in entries:
        os.rename(entry, target / entry.name)
    return target


def claim(out_dir: str | Path, inputs: dict, stop_step: int) -> Decision:
    """Make ``out_dir`` the folder of the run of ``inputs``: decide, and unless the run resumes
    (its record stays as it is until it finishes), move another run's folder aside and record the
    identity, unfinished. Called by the one process that trains, holding the folder's writer
    lock, before any model is loaded."""
    out_dir = Path(out_dir)
    record = read_record(out_dir)
    decision = decide(record, inputs, stop_step, bool(_folder_entries(out_dir)))
    if decision.action == RESUME:
        logger.info("%s: %s; resuming", out_dir, decision.reason)
        return decision
    if decision.action == SUPERSEDE:
        target = move_aside(out_dir)
        logger.warning(
            "%s: %s; moved it aside to %s and training afresh", out_dir, decision.reason, target
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(
        out_dir / paths.RUN_IDENTITY,
        {
            "identity": identity_of(inputs),
            "inputs": inputs,
            "claimed_at": _now().isoformat(timespec="seconds"),
            "finished": None,
        },
    )
    return decision


def check_claimed(out_dir: str | Path, inputs: dict) -> None:
    """A multi-GPU worker's check that its launcher claimed the folder for this very run."""
    record = read_record(out_dir)
    if record is None or record.get("identity") != identity_of(inputs):
        raise UnclaimedRunError(
            f"{out_dir} is not claimed for this run: start multi-GPU rows with "
            "tina_repro.train.launch.run_training()"
        )


def mark_finished(out_dir: str | Path, manifest: dict) -> None:
    """Record that the run finished, with its manifest: the last thing training writes."""
    out_dir = Path(out_dir)
    record = read_record(out_dir)
    if record is None:
        raise UnclaimedRunError(f"{out_dir} has no {paths.RUN_IDENTITY} to mark finished")
    record["finished"] = {
        "step": manifest["final_step"],
        "at": _now().isoformat(timespec="seconds"),
        "manifest": manifest,
    }
    write_json(out_dir / paths.RUN_IDENTITY, record)
