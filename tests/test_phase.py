"""The phase-transition finder on noisy curves with and without a turning point."""

import logging

import numpy as np
import pandas as pd
import pytest

from tina_repro.figures import phase

STEPS = np.arange(1, 851)


def curves(turn=450, seed=0, length_noise=150.0, format_noise=0.08):
    """An 850-step log: length falls to a minimum at ``turn`` then grows; format reward rises to
    its peak there then falls. Noise is several times the per-step change."""
    rng = np.random.default_rng(seed)
    distance = np.abs(STEPS - turn) / 850
    return pd.DataFrame(
        {
            "step": STEPS,
            "completions/mean_length": 1500 + 3000 * distance + rng.normal(0, length_noise, 850),
            "rewards/format/mean": 0.9 - 0.8 * distance + rng.normal(0, format_noise, 850),
        }
    )


def test_default_window_is_a_tenth_odd_and_at_least_five():
    assert phase.default_window(850) == 85
    assert phase.default_window(860) == 87
    assert phase.default_window(20) == 5


def test_finds_the_turning_point_through_noise():
    assert phase.find_transition(curves()) == 455
    for seed in range(5):
        found = phase.find_transition(curves(turn=300, seed=seed))
        assert found is not None and abs(found - 300) <= 20


def test_a_one_step_spike_does_not_move_it():
    log = curves()
    log.loc[99, "completions/mean_length"] = 0.0  # one degenerate step (all completions empty)
    assert phase.find_transition(log) == 455
    # Unsmoothed, the spike is the length minimum, far from the format peak.
    assert phase.find_transition(log, window=1) is None


def test_monotone_curves_have_no_transition(caplog):
    # LIMR-like: length keeps falling and format reward keeps rising.
    rng = np.random.default_rng(1)
    log = pd.DataFrame(
        {
            "step": STEPS,
            "completions/mean_length": 3000 - 2 * STEPS + rng.normal(0, 150, 850),
            "rewards/format/mean": 0.2 + STEPS / 1000 + rng.normal(0, 0.08, 850),
        }
    )
    with caplog.at_level(logging.INFO, logger="tina_repro.figures.phase"):
        assert phase.find_transition(log) is None
    assert "no dip" in caplog.text


def test_length_dip_far_from_the_format_peak_is_no_transition():
    log = curves()
    log["rewards/format/mean"] = curves(turn=150)["rewards/format/mean"]
    assert phase.find_transition(log) is None
    assert phase.find_transition(log, max_gap=0.5) == 455


def test_runs_without_format_reward_or_too_short():
    assert phase.find_transition(curves().drop(columns="rewards/format/mean")) is None
    assert phase.find_transition(curves().head(100), window=51) is None
    with pytest.raises(ValueError, match="completions/mean_length"):
        phase.find_transition(curves().drop(columns="completions/mean_length"))
