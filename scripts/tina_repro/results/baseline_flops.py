"""Training FLOPs of the full-parameter RL baselines, estimated from their published recipes.

Their authors published recipes and training curves, not token logs, so each estimate rests on
the numbers of a row of ``config/paper_results/baseline_recipes.csv`` (docs/paper.md#flops): steps,
prompts per step, rollouts per prompt, mean prompt and completion tokens, and which passes the
trainer makes. Each row says where every number comes from (``source``) and which are assumed
(``assumptions``, in short ``assumption_label``); the FLOPs table and figure carry both.

Per step, with ``C`` = prompts_per_step x rollouts_per_prompt completions and ``T`` =
C x (mean_prompt_tokens + mean_completion_tokens) tokens seen, in the terms of
:mod:`tina_repro.results.flops`:

- rollout ``2·N·T``: every completion's prompt prefilled on its own (no prefix sharing assumed;
  prompts are a few percent of the tokens);
- log-prob passes ``2·N·T`` each: the frozen reference (``reference_pass``) and, for trainers
  that score the rollouts with the old policy before the update (OpenRLHF, verl), one more
  (``old_policy_pass``);
- full-parameter training ``6·N·T`` per pass over the batch (``update_epochs``).

``N`` is the matmul weights of the base model (all three baselines fine-tune
DeepSeek-R1-Distill-Qwen-1.5B, so it has their shape). The FLOPs ``to_selected`` stop at the
released checkpoint (``released_step``), the model that was evaluated, as a Tina run's stop at
its selected checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd

from tina_repro.results.flops import FULL_TRAIN_PER_TOKEN, LOGPROB_PER_TOKEN, ROLLOUT_PER_TOKEN

BASELINE_KIND = "full_parameter_baseline"


@dataclass(frozen=True)
class Recipe:
    """One row of baseline_recipes.csv (the columns the estimate uses; the rest are text)."""

    baseline: str
    steps: int
    released_step: int
    prompts_per_step: int
    rollouts_per_prompt: float
    mean_prompt_tokens: float
    mean_completion_tokens: float
    update_epochs: int
    reference_pass: int
    old_policy_pass: int
    source: str
    assumption_label: str
    assumptions: str

    @property
    def tokens_per_step(self) -> float:
        completions = self.prompts_per_step * self.rollouts_per_prompt
        return completions * (self.mean_prompt_tokens + self.mean_completion_tokens)

    def flops_per_step(self, n_params: int) -> dict[str, float]:
        tokens = self.tokens_per_step
        logprob_passes = self.reference_pass + self.old_policy_pass
        return {
            "rollout_flops": ROLLOUT_PER_TOKEN * n_params * tokens,
            "logprob_flops": LOGPROB_PER_TOKEN * n_params * tokens * logprob_passes,
            "full_ft_flops": FULL_TRAIN_PER_TOKEN * n_params * tokens * self.update_epochs,
        }


def read_recipes(path: str | Path) -> list[Recipe]:
    """The recipes of ``path``, checked: every column present, numbers positive, the released
    step within the run."""
    frame = pd.read_csv(path, dtype={"baseline": str})
    columns = [f.name for f in fields(Recipe)]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: lacks column(s) {missing}")
    recipes = []
    for line, row in enumerate(frame[columns].itertuples(index=False), start=2):
        values = row._asdict()
        numbers = [f.name for f in fields(Recipe) if f.type in ("int", "float")]
        bad = [n for n in numbers if pd.isna(values[n]) or values[n] < 0]
        if bad:
            raise ValueError(f"{path} line {line}: {bad} must be numbers >= 0")
        recipe = Recipe(
            **{
                f.name: int(values[f.name]) if f.type == "int" else values[f.name]
                for f in fields(Recipe)
            }
        )
        if not 0 < recipe.released_step <= recipe.steps:
            raise ValueError(
                f"{path} line {line}: released_step {recipe.released_step} is outside the "
                f"run's 1..{recipe.steps}"
            )
        recipes.append(recipe)
    return recipes


def baseline_flops_rows(
    recipes: list[Recipe],
    n_params: int,
    averages: dict[str, float],
    published: dict[str, float],
) -> list[dict]:
    """One FLOPs-table row per recipe: totals over ``steps``, FLOPs up to the released step,
    our average of the baseline (``averages``, NaN when not evaluated) and the paper's."""
    rows = []
    for recipe in recipes:
        per_step = recipe.flops_per_step(n_params)
        full_per_step = sum(per_step.values())
        completions = recipe.prompts_per_step * recipe.rollouts_per_prompt
        rows.append(
            {
                "model": recipe.baseline,
                "kind": BASELINE_KIND,
                "steps": recipe.steps,
                "completions": completions * recipe.steps,
                "prompt_tokens": completions * recipe.mean_prompt_tokens * recipe.steps,
                "completion_tokens": completions * recipe.mean_completion_tokens * recipe.steps,
                "rollout_flops": per_step["rollout_flops"] * recipe.steps,
                "logprob_flops": per_step["logprob_flops"] * recipe.steps,
                "full_ft_flops": full_per_step * recipe.steps,
                "n_params": n_params,
                "selected_step": recipe.released_step,
                "best_average": averages.get(recipe.baseline, float("nan")),
                "published_average": published.get(recipe.baseline, float("nan")),
                "full_ft_flops_to_selected": full_per_step * recipe.released_step,
                "assumption_label": recipe.assumption_label,
                "assumptions": recipe.assumptions,
                "source": recipe.source,
            }
        )
    return rows
