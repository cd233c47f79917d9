"""The checkpoint-N folders of a run: which are complete, and where a rerun resumes.

One definition of "complete" serves training (where to resume) and ``tina-repro status`` (what
counts as saved), so the two never disagree about a folder the Trainer was killed writing.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

from tina_repro import paths

logger = logging.getLogger(__name__)

CHECKPOINT_RE = re.compile("^" + paths.CHECKPOINT.replace("{step}", r"(\d+)") + "$")
# A checkpoint is complete once the Trainer wrote trainer_state.json, its last file; resuming
# also needs the optimizer, scheduler and the adapter itself.
CHECKPOINT_FILES = (
    "adapter_model.safetensors",
    "adapter_config.json",
    "optimizer.pt",
    "scheduler.pt",
    "trainer_state.json",
)


def checkpoint_step(name: str) -> int | None:
    """N of a folder named ``checkpoint-N``, else None."""
    match = CHECKPOINT_RE.match(name)
    return int(match.group(1)) if match else None


def checkpoint_dirs(out_dir: str | Path) -> dict[int, Path]:
    """{step: folder} of every checkpoint-N folder in ``out_dir``, complete or not, by step."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return {}
    found = {}
    for child in out_dir.iterdir():
        step = checkpoint_step(child.name)
        if step is not None and child.is_dir():
            found[step] = child
    return dict(sorted(found.items()))


def is_complete(checkpoint: Path) -> bool:
    if not all((checkpoint / name).is_file() for name in CHECKPOINT_FILES):
        return False
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
    except ValueError:
        return False
    return True


def complete_checkpoints(out_dir: str | Path) -> dict[int, Path]:
    """{step: directory} of the checkpoints in ``out_dir`` that a run can resume from."""
    return {s: p for s, p in checkpoint_dirs(out_dir).items() if is_complete(p)}


def resume_point(out_dir: Path, remove_incomplete: bool) -> Path | None:
    """Newest complete checkpoint; incomplete newer ones (a kill during saving) are removed."""
    complete = complete_checkpoints(out_dir)
    last = max(complete) if complete else 0
    for step, path in checkpoint_dirs(out_dir).items():
        if step > last and remove_incomplete:
            logger.warning("removing incomplete %s (killed while saving)", path)
            shutil.rmtree(path)
    return complete[last] if complete else None
