"""A synthetic finished results workspace whose scores ARE the paper's published numbers
(test_results.py checks the tables on it; test_reruns.py plans reruns on it).

For the 15 paper runs of config/experiments.tsv and the 6 baselines it holds: graded.jsonl and
score.json (scored with the real ``tina_repro.eval.scoring``) per checkpoint and benchmark,
Snakemake timing files, manifests and log_history.csv per run. Each run has three checkpoints
(tests/fixtures/results/cost_runs.csv); the selected one scores exactly the paper's values (as
k/n fractions of the benchmark sizes), the others 10 points less.
"""

import json
from pathlib import Path

import pandas as pd
import yaml
from helpers import ROOT

from tina_repro.config import load
from tina_repro.eval import scoring
from tina_repro.results.collect import collect_scores

PAPER = ROOT / "config" / "paper_results"
FIXTURES = ROOT / "tests" / "fixtures" / "results"
BASE_MODEL = FIXTURES / "deepseek_r1_distill_qwen_1.5b"
SIZES = {"aime24": 30, "aime25": 30, "amc23": 40, "math_500": 500, "gpqa_diamond": 198}
SIZES["minerva"] = 272
BENCHMARKS = list(SIZES)
PAPER_COLUMN = {"math_500": "math500"}
MEAN_LENGTH, PROMPT_LENGTH = 1000, 100


def paper_config(**selection) -> dict:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for key in ("experiments", "datasets", "benchmarks", "baselines", "paper_results"):
        config[key] = str(ROOT / config[key])
    config["selection"].update(selection)
    return config


def published_scores() -> dict[str, dict[str, float]]:
    """run or baseline -> {benchmark: the paper's value}."""
    out = {}
    for name, key in [("baselines", "baseline"), ("ablations", "experiment")]:
        out.update(_rows(pd.read_csv(PAPER / f"{name}.csv"), key))
    out.update(_rows(pd.read_csv(PAPER / "tina_models.csv"), "experiment"))
    return out


def _rows(frame: pd.DataFrame, key: str) -> dict:
    return {
        row[key]: {b: float(row[PAPER_COLUMN.get(b, b)]) for b in BENCHMARKS}
        for _, row in frame.iterrows()
    }


def write_point(root: Path, run: str, point: str, accuracy: dict, hours: float) -> list[Path]:
    """graded.jsonl, score.json and timing of one evaluated model; returns the score paths
    (graded.jsonl lies beside each, the timing file under benchmarks/)."""
    paths = []
    for benchmark, value in accuracy.items():
        n = SIZES[benchmark]
        k = round(max(value, 0.0) * n / 100)
        graded = [
            {
                "problem_id": f"{benchmark}-{i}",
                "sample_index": 0,
                "correct": i < k,
                "timeout": False,
                "unparsed": False,
                "formatted": True,
                "correct_after_think": i < k,
                "correct_math_verify": i < k,
            }
            for i in range(n)
        ]
        folder = root / "results" / "eval" / run / point / benchmark
        folder.mkdir(parents=True)
        (folder / "graded.jsonl").write_text("".join(json.dumps(r) + "\n" for r in graded))
        (folder / "score.json").write_text(json.dumps(scoring.score(graded)))
        paths.append(folder / "score.json")
    timing = root / "benchmarks" / "generate_samples" / run / f"{point}.tsv"
    timing.parent.mkdir(parents=True, exist_ok=True)
    timing.write_text(f"s\th:m:s\n{hours * 3600}\t0\n")
    record = {"merge_retention_bf16": retention_of(point) if run != "baseline" else None}
    (root / "results" / "eval" / run / point / "generation.json").write_text(json.dumps(record))
    return paths


def retention_of(point: str) -> dict:
    """A checkpoint's (made-up) bf16 merge retention, from its step."""
    step = int(point.removeprefix("step-"))
    return {"overall": 1 - step / 1e4, "by_layer_type": {"q_proj": 0.5, "v_proj": step / 1e4}}


def timing_of(score: Path) -> Path:
    """The generation timing file of the job behind a score.json."""
    *_, run, point, _benchmark, _name = score.parts
    root = score.parents[5]
    return root / "benchmarks" / "generate_samples" / run / f"{point}.tsv"


def build_workspace(root: Path, experiments: dict) -> dict[str, list[str]]:
    """Write the workspace; returns the inputs every table rule of results.smk declares."""
    paper = published_scores()
    scores_dir = root / "results" / "scores"
    scores_dir.mkdir(parents=True)
    baseline_files = []
    for name in paper:
        if name.endswith("_full") or name == "base":
            baseline_files += write_point(root, "baseline", name, paper[name], hours=1.0)
    # A released adapter scores exactly the paper's number of the run it came from.
    for name, row in load(paper_config()).baselines.items():
        if row.compared_with:
            scores = paper[row.compared_with]
            baseline_files += write_point(root, "baseline", name, scores, hours=0.25)
    collect_scores(baseline_files, scores_dir / "baselines.csv")
    manifests, tables, logs, score_files = [], [], [], list(baseline_files)
    for row in pd.read_csv(FIXTURES / "cost_runs.csv").itertuples(index=False):
        steps = [int(s) for s in row.checkpoint_steps.split()]
        others = (row.eval_hours - row.selected_eval_hours) / (len(steps) - 1)
        files = []
        for step in steps:
            selected = step == row.selected_step
            accuracy = {b: v - (0 if selected else 10) for b, v in paper[row.experiment].items()}
            hours = row.selected_eval_hours if selected else others
            files += write_point(root, row.experiment, f"step-{step}", accuracy, hours)
        tables.append(scores_dir / f"{row.experiment}.csv")
        collect_scores(files, tables[-1])
        score_files += files
        spec = experiments[row.experiment]
        completions = spec.prompts_per_step * spec.num_generations
        train = root / "results" / "train" / row.experiment
        train.mkdir(parents=True)
        log = pd.DataFrame({"step": steps, "completions/mean_length": float(MEAN_LENGTH)})
        log["num_tokens"] = log["step"] * completions * (PROMPT_LENGTH + MEAN_LENGTH)
        log.to_csv(train / "log_history.csv", index=False)
        logs.append(train / "log_history.csv")
        manifest = {
            "experiment": row.experiment,
            "checkpoint_steps": steps,
            "final_step": row.final_step,
            "epoch_steps": row.epoch_steps,
            "device": row.device,
            "device_name": row.device_name,
            "n_gpus": 2,
            "device_hours": row.device_hours,
            "completions_per_step": completions,
        }
        (train / "manifest.json").write_text(json.dumps(manifest))
        manifests.append(train / "manifest.json")
    return {
        "runs": [str(p) for p in tables],
        "baselines": str(scores_dir / "baselines.csv"),
        "manifests": [str(p) for p in manifests],
        "graded": [str(p.with_name("graded.jsonl")) for p in score_files],
        "timings": sorted({str(timing_of(p)) for p in score_files}),
        "records": sorted({str(p.parents[1] / "generation.json") for p in score_files}),
        "log_history": [str(p) for p in logs],
    }
