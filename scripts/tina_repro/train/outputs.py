"""What a run writes as it goes: session accounting, the per-step log and the manifest.

``train_sessions.json`` is rewritten at every logged step, so a killed session's time still counts
towards the run's cost; ``manifest.json`` is written last and only for a complete run (it is the
rule's declared output).
"""

from __future__ import annotations

import datetime
import json
import os
import resource
import time
from pathlib import Path

from tina_repro import paths
from tina_repro.files import write_json
from tina_repro.train.checkpoints import complete_checkpoints


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def peak_gpu_mb() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_reserved() / 2**20


def load_sessions(out_dir: Path) -> list[dict]:
    path = out_dir / paths.SESSIONS
    return json.loads(path.read_text())["sessions"] if path.is_file() else []


class Sessions:
    """Per-(re)start accounting in train_sessions.json."""

    def __init__(self, out_dir: Path, start_step: int, started: float) -> None:
        self.path = out_dir / paths.SESSIONS
        self.started = started
        self.sessions = load_sessions(out_dir)
        self.current = {
            "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "start_step": start_step,
            "last_step": start_step,
            "wall_seconds": 0.0,
            "peak_rss_mb": peak_rss_mb(),
            "peak_gpu_memory_mb": None,
            "stop_reason": None,
        }
        self.sessions.append(self.current)

    def update(self, step: int, stop_reason: str | None = None) -> None:
        self.current.update(
            last_step=step,
            wall_seconds=round(time.perf_counter() - self.started, 3),
            peak_rss_mb=round(peak_rss_mb(), 1),
            peak_gpu_memory_mb=peak_gpu_mb(),
        )
        if stop_reason:
            self.current["stop_reason"] = stop_reason
        write_json(self.path, {"sessions": self.sessions})


def write_log_history(out_dir: Path, log_history: list[dict], geometry: dict):
    """log_history.csv: the per-step entries, with tokens generated and trained per step.
    Returns the table, or None before the first logged step."""
    import pandas as pd

    frame = pd.DataFrame([entry for entry in log_history if "loss" in entry])
    if frame.empty:
        return None
    frame = frame.sort_values("step").drop_duplicates("step", keep="last")
    completions = geometry["completions_per_step"]
    frame["tokens_generated"] = frame["completions/mean_length"] * completions
    # num_tokens is TRL's running count of prompt+completion tokens fed to training
    frame["tokens_trained"] = frame["num_tokens"].diff().fillna(frame["num_tokens"])
    first = ["step", "epoch", "loss", "reward", "reward_std", "learning_rate", "grad_norm"]
    columns = [c for c in first if c in frame] + sorted(c for c in frame if c not in first)
    frame = frame[columns]
    frame.to_csv(out_dir / paths.LOG_HISTORY, index=False)
    return frame


def write_manifest(out_dir: Path, info: dict, frame, sessions: list[dict]) -> dict:
    steps = sorted(complete_checkpoints(out_dir))
    wall = sum(s["wall_seconds"] for s in sessions)
    gpus = info["n_gpus"]
    gpu_peaks = [s["peak_gpu_memory_mb"] for s in sessions if s["peak_gpu_memory_mb"] is not None]
    n_steps = len(frame)
    generated = float(frame["tokens_generated"].sum())
    trained = float(frame["tokens_trained"].sum())
    manifest = {
        "experiment": info["experiment"],
        "checkpoint_steps": steps,
        "final_step": steps[-1],
        "stop_step": info["stop_step"],
        "max_steps": info["max_steps"],
        "epoch_steps": info["epoch_steps"],
        "stop_reason": (sessions[-1]["stop_reason"] if sessions else None) or "stop_step",
        "wall_seconds": round(wall, 3),
        "n_sessions": len(sessions),
        "device": info["device"],
        "device_name": info["device_name"],
        "n_gpus": gpus,
        "gpu_hours": round(wall * gpus / 3600, 6),
        "device_hours": round(wall * max(gpus, 1) / 3600, 6),
        "peak_rss_mb": max((s["peak_rss_mb"] for s in sessions), default=None),
        "peak_gpu_memory_mb": max(gpu_peaks) if gpu_peaks else None,
        "prompts_per_step": info["prompts_per_step"],
        "completions_per_step": info["completions_per_step"],
        "logged_steps": n_steps,
        "tokens_generated_total": generated,
        "tokens_trained_total": trained,
        "tokens_generated_per_step": generated / n_steps,
        "tokens_trained_per_step": trained / n_steps,
    }
    write_json(out_dir / paths.MANIFEST, manifest)
    return manifest


def device_name(device: str, n_gpus: int) -> str:
    if device == "cuda":
        import torch

        return f"{n_gpus} x {torch.cuda.get_device_name(0)}"
    return f"cpu ({os.cpu_count()} cores)"
