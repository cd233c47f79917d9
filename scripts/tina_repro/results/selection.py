"""Which checkpoint of a training run is reported: the paper's rule, or an honest one.

The paper evaluated every saved checkpoint on the six test benchmarks and reported the one with the
best results on those same benchmarks (docs/paper.md#selection; the author in Tina issue #7). The
exact criterion is unstated; we take the unweighted six-benchmark average, as the paper's "Avg."
column, and break ties towards the earlier step (the cheaper checkpoint, and the first the paper
would have seen). Selecting on the test set inflates the reported score, so two honest rules exist:
``rule="heldout"`` selects on ``selection_benchmarks`` only and reports the remaining benchmarks,
which played no part in the choice; ``rule="final"`` reports the last checkpoint evaluated on every
benchmark, with no look at any score (the CPU demo uses it: its intermediate checkpoints swing by
several points).

Candidates. A run here always saves its stop step, so that it ends on a checkpoint; the paper's
runs saved every ``save_steps`` and were stopped by hand (docs/paper.md#schedule), so a stop step
off that grid (STILL's 3750 at save_steps 100, the rank ablations' 180 at 50) is a checkpoint the
paper never had. Under ``paper`` only the checkpoints on the save grid are candidates
(:func:`paper_candidate`): picking the best of more test-set scores than the paper had would bias
the reported score upward. The stop step is still evaluated and shown, marked as no candidate.
``heldout`` selects on benchmarks it does not report and ``final`` looks at no score, so every
evaluated checkpoint is theirs (``final`` reports the stop step: the model training produced).

Scores are tidy frames with at least the columns ``run``, ``step``, ``benchmark`` and
``accuracy`` (percent), as ``results/scores/{experiment}.csv``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import pandas as pd

logger = logging.getLogger(__name__)

RULES = ("paper", "heldout", "final")
# Averages that differ by less than this (in points) are ties: float sums of the same fractions
# taken in a different order must not decide which checkpoint is reported.
TIE_TOLERANCE = 1e-9


def split_benchmarks(
    benchmarks: Sequence[str], rule: str, selection_benchmarks: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """(benchmarks the checkpoint is selected on, benchmarks its scores are reported on)."""
    benchmarks = list(benchmarks)
    if rule in ("paper", "final"):
        return benchmarks, benchmarks
    if rule != "heldout":
        raise ValueError(f"unknown selection rule {rule!r}; valid: {', '.join(RULES)}")
    chosen = [b for b in benchmarks if b in set(selection_benchmarks)]
    unknown = sorted(set(selection_benchmarks) - set(benchmarks))
    if unknown:
        raise ValueError(f"selection benchmark(s) {unknown} are not among {benchmarks}")
    reported = [b for b in benchmarks if b not in set(chosen)]
    if not chosen or not reported:
        raise ValueError(
            "the heldout rule needs a non-empty proper subset of the benchmarks to select on, "
            f"got {list(selection_benchmarks)} of {benchmarks}"
        )
    return chosen, reported


def paper_candidate(step: int, save_steps: int) -> bool:
    """Whether the paper's run saved checkpoint ``step``: it is on the ``save_steps`` grid."""
    return int(step) % int(save_steps) == 0


def is_candidate(step: int, save_steps: int, rule: str) -> bool:
    """Whether ``rule`` may select checkpoint ``step`` (module docstring, "Candidates")."""
    return rule != "paper" or paper_candidate(step, save_steps)


def rule_label(rule: str, selection_benchmarks: Sequence[str] = ()) -> str:
    """How a table names the rule: ``paper``, ``final`` or ``heldout:aime24+amc23``."""
    return f"heldout:{'+'.join(selection_benchmarks)}" if rule == "heldout" else rule


def step_averages(scores: pd.DataFrame, benchmarks: Sequence[str]) -> pd.DataFrame:
    """Unweighted mean accuracy over ``benchmarks`` per (run, step): columns run, step, average.

    A step missing any of the benchmarks cannot be ranked fairly; it is left out, and the count is
    logged per run.
    """
    missing = {"run", "step", "benchmark", "accuracy"} - set(scores.columns)
    if missing:
        raise ValueError(f"scores lack column(s) {sorted(missing)}")
    frame = scores[scores["benchmark"].isin(benchmarks)]
    duplicated = frame.duplicated(["run", "step", "benchmark"])
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        raise ValueError(
            f"run {first['run']} step {first['step']} has {first['benchmark']} more than once"
        )
    if frame["accuracy"].isna().any():
        first = frame[frame["accuracy"].isna()].iloc[0]
        raise ValueError(
            f"run {first['run']} step {first['step']} {first['benchmark']}: accuracy is missing"
        )
    grouped = frame.groupby(["run", "step"], sort=True)["accuracy"]
    table = pd.DataFrame({"average": grouped.mean(), "n": grouped.size()}).reset_index()
    incomplete = table["n"] < len(benchmarks)
    for run, count in table[incomplete].groupby("run").size().items():
        logger.warning(
            "run %s: %d step(s) lack some of %s and are not ranked", run, count, list(benchmarks)
        )
    return table.loc[~incomplete, ["run", "step", "average"]].reset_index(drop=True)


def select_checkpoints(
    scores: pd.DataFrame,
    benchmarks: Sequence[str],
    rule: str,
    selection_benchmarks: Sequence[str],
    save_steps: Mapping[str, int],
) -> pd.DataFrame:
    """The selected step of every run in ``scores``; ``save_steps`` maps each run to its
    experiment row's save interval.

    Returns one row per run: ``run``, ``step``, ``selection_score`` (the step's unweighted
    average over the selection benchmarks, in percent) and ``candidates`` (how many checkpoints
    the rule chose among). ``rule="paper"`` takes the candidate (:func:`is_candidate`) with the
    highest average over all ``benchmarks`` (docs/paper.md#selection), ``"heldout"`` the step with
    the highest average over ``selection_benchmarks`` only, ties going to the earlier step;
    ``"final"`` takes the last step scored on all ``benchmarks``. A run with no candidate scored
    on every selection benchmark is an error.
    """
    chosen, _ = split_benchmarks(benchmarks, rule, selection_benchmarks)
    unknown = sorted(set(scores["run"]) - set(save_steps))
    if unknown:
        raise ValueError(f"no save_steps for run(s) {unknown}")
    candidate = [
        is_candidate(step, save_steps[run], rule)
        for run, step in zip(scores["run"], scores["step"], strict=True)
    ]
    averages = step_averages(scores[candidate], chosen)
    missing = sorted(set(scores["run"]) - set(averages["run"]))
    if missing:
        raise ValueError(
            f"run(s) {missing} have no candidate checkpoint scored on all of {chosen}"
            + (" (the paper rule takes the save grid's only)" if rule == "paper" else "")
        )
    rows = []
    for run, group in averages.groupby("run", sort=False):
        if rule == "final":
            pick = group.loc[group["step"].idxmax()]
        else:
            best = group["average"].max()
            tied = group[group["average"] >= best - TIE_TOLERANCE]
            pick = tied.loc[tied["step"].idxmin()]
        rows.append(
            {
                "run": run,
                "step": int(pick["step"]),
                "selection_score": pick["average"],
                "candidates": len(group),
            }
        )
    return pd.DataFrame(rows, columns=["run", "step", "selection_score", "candidates"])
