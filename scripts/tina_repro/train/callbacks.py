"""The trainer callback: the paper's stop rule, a wall-clock budget, a NaN guard, accounting."""

from __future__ import annotations

import math
import time


class TrainingDivergedError(RuntimeError):
    """The loss or the reward became NaN/inf (or no completion could be scored) at a step."""


def run_control_callback(stop_step, max_wall_seconds, sessions, started, is_main):
    """Build the TrainerCallback (transformers is imported lazily, like everything heavy)."""
    from transformers import TrainerCallback

    class RunControl(TrainerCallback):
        """Stops at stop_step (the schedule still spans max_steps) or when the wall-clock budget
        is spent, and saves a checkpoint there; raises on NaN/inf loss or reward."""

        def __init__(self) -> None:
            self.stop_reason: str | None = None
            self.accelerator = None  # set once the trainer exists; syncs the wall-clock stop

        def _over_budget(self) -> bool:
            if max_wall_seconds is None:
                return False
            over = time.perf_counter() - started >= max_wall_seconds
            if self.accelerator is not None and self.accelerator.num_processes > 1:
                import torch

                flag = torch.tensor([float(over)], device=self.accelerator.device)
                over = bool(self.accelerator.reduce(flag, reduction="sum").item() > 0)
            return over

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= stop_step:
                self.stop_reason = "stop_step"
            elif self._over_budget():
                self.stop_reason = "wall_time"
            if self.stop_reason:
                control.should_save = True
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            for key in ("loss", "reward"):
                if key in logs and (logs[key] is None or not math.isfinite(logs[key])):
                    raise TrainingDivergedError(
                        f"{key} is {logs[key]} at step {state.global_step} (None means no "
                        "completion of the step could be scored); stopping"
                    )
            if is_main and "loss" in logs:
                sessions.update(state.global_step, self.stop_reason)
            return control

    return RunControl()
