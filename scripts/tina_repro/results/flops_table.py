"""The FLOPs table (rule flops_table): every training run counted from its logged tokens
(:mod:`tina_repro.results.flops`), then the full-parameter baselines estimated from their
published recipes (:mod:`tina_repro.results.baseline_flops`), each row with the average it
reached and where its numbers come from."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tina_repro.results import baseline_flops
from tina_repro.results.collect import as_paths, read_manifests
from tina_repro.results.flops import ModelShape, run_flops
from tina_repro.results.stats import AVERAGE
from tina_repro.results.tables import Tables, published_values

FLOPS_COLUMNS = [
    "model",
    "kind",
    "steps",
    "completions",
    "prompt_tokens",
    "completion_tokens",
    "rollout_flops",
    "logprob_flops",
    "lora_train_flops",
    "total_lora_flops",
    "full_ft_flops",
    "n_params",
    "n_lora_params",
    "selected_step",
    "best_average",
    "published_average",
    "total_lora_flops_to_selected",
    "full_ft_flops_to_selected",
    "assumption_label",
    "assumptions",
    "source",
]
TINA_KIND = "tina"
TINA_SOURCE = "the run's log_history.csv (logged prompt and completion tokens)"


def flops_table(t: Tables) -> pd.DataFrame:
    """Training FLOPs of every run from its log_history (the module docstring), with the
    selected checkpoint's average accuracy when scores are inputs; then the full-parameter
    baselines estimated from their recipes (:mod:`tina_repro.results.baseline_flops`) when the
    recipes are an input."""
    shape = ModelShape.from_file(t.inputs["base_model"])
    frame = pd.DataFrame([*run_flops_rows(t, shape), *recipe_flops_rows(t, shape)])
    frame = frame.reindex(columns=FLOPS_COLUMNS)
    frame["selected_step"] = frame["selected_step"].astype("Int64")
    return frame


def recipe_flops_rows(t: Tables, shape: ModelShape) -> list[dict]:
    """Rows of the full-parameter baselines of baselines.tsv that have a recipe, with our
    average of each (its baseline scores) and the paper's (its Table 2)."""
    if not t.has("recipes"):
        return []
    recipes = baseline_flops.read_recipes(t.inputs["recipes"])
    unknown = [r.baseline for r in recipes if r.baseline not in t.workflow_config.baselines]
    if unknown:
        raise ValueError(f"{t.inputs['recipes']}: {unknown} are not rows of the baselines sheet")
    averages, published = {}, {}
    if t.has("baselines"):
        scores = t.baselines()
        reported = scores[scores["benchmark"].isin(t.reported)]
        averages = reported.groupby("point")["accuracy"].mean().to_dict()
    if t.has("published_baselines"):
        paper = t.published("published_baselines", "baseline").set_index("baseline")
        published = {
            name: published_values(paper.loc[name], t.reported)[AVERAGE] for name in paper.index
        }
    return baseline_flops.baseline_flops_rows(recipes, shape.matmul_params(), averages, published)


def run_flops_rows(t: Tables, shape: ModelShape) -> list[dict]:
    """One row per training run (the manifests), counted from its log_history."""
    selected, scores = None, None
    if t.has("runs"):
        scores = t.scores()
        selected = t.select(scores).set_index("run")
    rows = []
    logs = {Path(p).parent.name: p for p in as_paths(t.inputs["log_history"])}
    for path in as_paths(t.inputs["manifests"]):
        experiment, manifest = next(iter(read_manifests([path]).items()))
        if experiment not in t.workflow_config.experiments:
            raise ValueError(f"{path}: experiment {experiment!r} is not in experiments.tsv")
        if experiment not in logs:
            raise ValueError(f"{path}: no log_history input for experiment {experiment!r}")
        log = pd.read_csv(logs[experiment])
        result = run_flops(
            log, shape, t.workflow_config.experiments[experiment], manifest["completions_per_step"]
        )
        tokens, per_step = result["tokens"], result["flops"]
        row = {
            "model": experiment,
            "kind": TINA_KIND,
            "steps": int(tokens["step"].iloc[-1]),
            "completions": int(tokens["completions"].sum()),
            "prompt_tokens": float(tokens["prompt_tokens"].sum()),
            "completion_tokens": float(tokens["completion_tokens"].sum()),
            **{c: float(per_step[c].sum()) for c in per_step.columns if c != "step"},
            "n_params": result["n_params"],
            "n_lora_params": result["n_lora_params"],
            "source": TINA_SOURCE,
        }
        if selected is not None and experiment in selected.index:
            step = int(selected.loc[experiment, "step"])
            at_step = scores[(scores["run"] == experiment) & (scores["step"] == step)]
            upto = per_step[per_step["step"] <= step]
            row.update(
                selected_step=step,
                best_average=float(
                    at_step[at_step["benchmark"].isin(t.reported)]["accuracy"].mean()
                ),
                total_lora_flops_to_selected=float(upto["total_lora_flops"].sum()),
                full_ft_flops_to_selected=float(upto["full_ft_flops"].sum()),
            )
        rows.append(row)
    return rows
