"""The training "phase transition" the paper describes, found in a run's log_history.

The paper's training-dynamics figures (docs/paper.md#figures) show, for most runs, a turning point
where the format reward peaks while the completion length reaches its minimum; afterwards the
format reward falls and completions grow again, and the best checkpoint lies just before it.
LIMR shows no such point.

:func:`find_transition` looks for exactly that shape, after smoothing both curves with a centred
moving average: a window of ``window`` logged steps (default: a tenth of the run, odd, at least 5;
at one log row per step, 85 steps for an 850-step run). Per-step GRPO statistics of 32-64
completions are noisy, and a window this wide keeps single-step spikes from posing as turning
points while still placing a turning point within a few percent of the run. On the smoothed
curves it requires:

- a dip in completion length: its minimum is at least ``min_change`` (relative, default 10%)
  below the highest point both before and after it;
- a peak in format reward: its maximum is at least ``min_change`` x |peak| above the lowest point
  both before and after it;
- both at nearly the same time: at most ``max_gap`` (default 10%) of the run's steps apart.

It returns the step of the completion-length minimum, or None when any condition fails (no format
reward logged, a run shorter than two windows, a monotone curve, ...), logging why.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

STEP = "step"
LENGTH = "completions/mean_length"
FORMAT = "rewards/format/mean"
MIN_WINDOW = 5


def default_window(n_rows: int) -> int:
    """A tenth of the logged steps, odd (so the window is centred), at least MIN_WINDOW."""
    window = max(MIN_WINDOW, n_rows // 10)
    return window if window % 2 else window + 1


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average; near the ends it averages the points the window still covers."""
    series = pd.Series(np.asarray(values, dtype=float))
    return series.rolling(window, center=True, min_periods=1).mean().to_numpy()


def _turn(curve: np.ndarray, index: int, min_change: float, sign: int) -> bool:
    """Whether ``curve`` has a trough (sign=+1) or peak (sign=-1) at ``index`` of relative depth
    ``min_change`` on both sides."""
    depth = min_change * abs(curve[index])
    before, after = curve[: index + 1], curve[index:]
    if sign > 0:
        return before.max() - curve[index] >= depth and after.max() - curve[index] >= depth
    return curve[index] - before.min() >= depth and curve[index] - after.min() >= depth


def find_transition(
    log: pd.DataFrame,
    window: int | None = None,
    min_change: float = 0.1,
    max_gap: float = 0.1,
) -> int | None:
    """Step where the format reward peaks while the completion length bottoms out, or None.

    ``log`` is a log_history frame with ``step``, ``completions/mean_length`` and
    ``rewards/format/mean``; see the module docstring for the smoothing and the conditions.
    """
    for column in (STEP, LENGTH):
        if column not in log.columns:
            raise ValueError(f"log_history lacks column {column!r}")
    if FORMAT not in log.columns:
        logger.info("no %s logged (the run has no format reward): no transition", FORMAT)
        return None
    if min_change < 0 or not 0 <= max_gap <= 1 or (window is not None and window < 1):
        raise ValueError("need min_change >= 0, 0 <= max_gap <= 1 and window >= 1")
    frame = log[[STEP, LENGTH, FORMAT]].dropna().sort_values(STEP)
    window = window or default_window(len(frame))
    if len(frame) < 2 * window:
        logger.info(
            "%d logged steps are fewer than two windows of %d: no transition", len(frame), window
        )
        return None
    steps = frame[STEP].to_numpy()
    length = smooth(frame[LENGTH].to_numpy(), window)
    reward = smooth(frame[FORMAT].to_numpy(), window)
    trough, peak = int(np.argmin(length)), int(np.argmax(reward))
    if not _turn(length, trough, min_change, sign=+1):
        logger.info("completion length has no dip of %.0f%%: no transition", 100 * min_change)
        return None
    if not _turn(reward, peak, min_change, sign=-1):
        logger.info("format reward has no peak of %.0f%%: no transition", 100 * min_change)
        return None
    gap = abs(int(steps[trough]) - int(steps[peak]))
    if gap > max_gap * (steps[-1] - steps[0]):
        logger.info(
            "length minimum (step %d) and format peak (step %d) are %d steps apart: no transition",
            steps[trough],
            steps[peak],
            gap,
        )
        return None
    return int(steps[trough])
