"""The ``tina-repro`` command: each workflow stage by hand, outside Snakemake.

Stages read the same validated configuration as the workflow (``--configfile`` may be repeated,
later files override earlier ones, exactly like Snakemake's option).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tina_repro import logs
from tina_repro.config import WorkflowConfig, load_files
from tina_repro.errors import UserError, is_user_error, one_line

DEFAULT_CONFIG = "config/config.yaml"


def _config(args) -> WorkflowConfig:
    # As the workflow: config/config.yaml first, then each --configfile on top of it; relative
    # paths are relative to the workflow's working directory (--directory, as Snakemake's).
    return load_files(*(args.configfile or []), root=args.directory)


def _row(wc: WorkflowConfig, sheet: str, name: str):
    rows = getattr(wc, sheet)
    if name not in rows:
        raise wc.unknown(sheet, name)
    return rows[name]


def cmd_validate(args) -> None:
    wc = _config(args)
    print(
        f"configuration valid: {len(wc.replicates)} experiments ({len(wc.experiments)} training "
        f"runs), {len(wc.datasets)} datasets, "
        f"{len(wc.benchmarks)} benchmarks, {len(wc.baselines)} baselines"
    )


def cmd_build_tiny_model(args) -> None:
    from tina_repro.demo.tiny_model import build_tiny_model

    out = build_tiny_model(args.out, seed=args.seed, size=args.size)
    print(json.dumps(json.loads((Path(out) / "tiny_model.json").read_text()), indent=2))


def cmd_prepare_dataset(args) -> None:
    from tina_repro.data.prepare import prepare_training_dataset

    wc = _config(args)
    out = Path(args.out_dir)
    report = prepare_training_dataset(
        _row(wc, "datasets", args.dataset),
        out / f"{args.dataset}.parquet",
        out / f"{args.dataset}.report.json",
    )
    print(json.dumps(report, indent=2))


def cmd_prepare_benchmark(args) -> None:
    from tina_repro.data.prepare import prepare_benchmark

    wc = _config(args)
    out = Path(args.out_dir)
    report = prepare_benchmark(
        _row(wc, "benchmarks", args.benchmark),
        wc.config["prompt_templates"],
        wc.evaluation.seed,
        out / f"{args.benchmark}.parquet",
        out / f"{args.benchmark}.report.json",
    )
    print(json.dumps(report, indent=2))


def cmd_download_model(args) -> None:
    from tina_repro.data.models import download_model

    print(json.dumps(download_model(args.source, args.revision, args.out_dir), indent=2))


def cmd_train(args) -> None:
    from tina_repro.train.context import TrainingContext, TrainingJob
    from tina_repro.train.launch import run_leased

    wc = _config(args)
    job = TrainingJob(
        row=_row(wc, "experiments", args.experiment),
        context=TrainingContext.of(wc, args.experiment),
        dataset_parquet=Path(args.dataset),
        base_model_dir=Path(args.base_model),
        out_dir=Path(args.out_dir),
    )
    manifest = run_leased(job)
    print(json.dumps(manifest, indent=2))


def cmd_resolve(args) -> None:
    from tina_repro.train.resolve import resolve_experiment

    wc = _config(args)
    row = _row(wc, "experiments", args.experiment)
    plan = resolve_experiment(wc, row, n_gpus=args.gpus, dataset_parquet=args.dataset)
    print(json.dumps(plan, indent=2))


def cmd_generate(args) -> None:
    from tina_repro.eval.generate import generate_benchmark

    wc = _config(args)
    out = generate_benchmark(
        args.benchmark_parquet,
        args.model,
        args.adapter,
        wc.evaluation,
        args.out,
        gold_format=_row(wc, "benchmarks", args.benchmark).gold_format,
    )
    print(out)


def cmd_score(args) -> None:
    from tina_repro.eval.grading import STEP_TIMEOUT_S
    from tina_repro.eval.score import grade_and_score

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    score = grade_and_score(
        args.samples,
        args.benchmark_parquet,
        out / "graded.jsonl",
        out / "score.json",
        processes=args.processes,
        timeout_s=args.timeout_s or STEP_TIMEOUT_S,
    )
    print(json.dumps(score, indent=2))


def _add_timeout(cmd) -> None:
    cmd.add_argument(
        "--timeout-s",
        type=int,
        help="seconds for each parse and comparison (evaluation.grading_timeout_s; default: "
        "lighteval's 5)",
    )


def cmd_grade(args) -> None:
    from tina_repro.eval.grading import STEP_TIMEOUT_S
    from tina_repro.eval.workers import grade_file

    timeout_s = args.timeout_s or STEP_TIMEOUT_S
    summary = grade_file(args.input, args.output, processes=args.processes, timeout_s=timeout_s)
    print(json.dumps(summary, indent=2))


def cmd_status(args) -> None:
    from tina_repro.results.status import format_status

    wc = _config(args)
    print(format_status(wc, wc.root))


def cmd_hub_lock(args) -> None:
    from tina_repro import hub_lock
    from tina_repro.data.sources import DataError, hub_resolver

    lock = Path(args.lock) if args.lock else hub_lock.lock_file()
    try:
        if args.update:
            moved = hub_lock.update_repo(args.update, lock, resolver=hub_resolver(args.update))
            print(f"{lock}: {args.update} now locked at:")
        else:
            moved = {key: entry.commit for key, entry in hub_lock.read_lock(lock).items()}
    except (hub_lock.HubLockError, DataError) as error:
        raise ValueError(str(error)) from None
    for (repo_type, repo_id, requested), commit in sorted(moved.items()):
        print(f"{repo_type}\t{repo_id}@{requested}\t{commit}")


def cmd_plan(args) -> None:
    from tina_repro.results.plan import format_plan, plan

    wc = _config(args)
    rates_from = Path(args.rates_from) if args.rates_from else None
    print(format_plan(plan(wc, wc.root, rates_from=rates_from)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tina-repro", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, func, help_text, config=False):
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.set_defaults(func=func)
        if config:
            cmd.add_argument(
                "--configfile",
                action="append",
                help=f"config file merged over {DEFAULT_CONFIG}, as Snakemake's (repeatable)",
            )
            cmd.add_argument(
                "--directory",
                help="the workflow's working directory (default: the current directory if it "
                "holds config/config.yaml, else the checkout the first --configfile is in)",
            )
        return cmd

    add("validate", cmd_validate, "check config.yaml and every sheet", config=True)

    cmd = add("build-tiny-model", cmd_build_tiny_model, "build the tiny offline Qwen2 model")
    cmd.add_argument("out", help="output folder")
    cmd.add_argument("--seed", type=int, default=0)
    cmd.add_argument("--size", default="test", help="test or demo")

    cmd = add("prepare-dataset", cmd_prepare_dataset, "load, map and check one training set", True)
    cmd.add_argument("dataset", help="a name from the datasets sheet")
    cmd.add_argument("--out-dir", default="resources/datasets")

    cmd = add("prepare-benchmark", cmd_prepare_benchmark, "load and render one benchmark", True)
    cmd.add_argument("benchmark", help="a name from the benchmarks sheet")
    cmd.add_argument("--out-dir", default="resources/benchmarks")

    cmd = add("download-model", cmd_download_model, "snapshot a Hub model or adapter")
    cmd.add_argument("source", help="Hub id or local:PATH")
    cmd.add_argument("out_dir")
    cmd.add_argument("--revision", default="main")

    cmd = add("train", cmd_train, "LoRA-GRPO training of one experiment row", config=True)
    cmd.add_argument("experiment", help="a name from the experiments sheet")
    cmd.add_argument("--dataset", required=True, help="normalized training Parquet")
    cmd.add_argument("--base-model", required=True, help="base model folder")
    cmd.add_argument("--out-dir", required=True, help="run folder (resumes if it has checkpoints)")

    cmd = add(
        "resolve",
        cmd_resolve,
        "print, without training, the GRPOConfig arguments and paper-to-TRL mapping of one row",
        config=True,
    )
    cmd.add_argument("experiment", help="a name from the experiments sheet")
    cmd.add_argument("--gpus", type=int, help="training GPUs (0 = CPU; default: the row's gpus)")
    cmd.add_argument(
        "--dataset",
        help="normalized training Parquet (default: the workflow's prepared one; its row count "
        "sets one-epoch schedules)",
    )

    cmd = add("generate", cmd_generate, "sample completions of one model on a benchmark", True)
    cmd.add_argument("benchmark", help="a name from the benchmarks sheet (for its gold format)")
    cmd.add_argument("--benchmark-parquet", required=True, help="prepared benchmark Parquet")
    cmd.add_argument("--model", required=True, help="base model folder")
    cmd.add_argument("--adapter", help="LoRA adapter folder (a checkpoint-N)")
    cmd.add_argument(
        "--out",
        required=True,
        help="samples.jsonl, a link to its store file (resumes from its .partial)",
    )

    cmd = add("score", cmd_score, "grade samples.jsonl and write graded.jsonl + score.json")
    cmd.add_argument("--samples", required=True)
    cmd.add_argument("--benchmark-parquet", required=True)
    cmd.add_argument("--out-dir", required=True)
    cmd.add_argument("--processes", type=int, default=1)
    _add_timeout(cmd)

    cmd = add(
        "grade",
        cmd_grade,
        "grade completions (JSONL in, JSONL out): rows with completion, gold, task (math or gpqa) "
        "and optionally gold_format (latex or expr; none: LaTeX, then plain expressions)",
    )
    cmd.add_argument("--input", required=True)
    cmd.add_argument("--output", required=True)
    cmd.add_argument("--processes", type=int, default=1)
    _add_timeout(cmd)

    cmd = add("hub-lock", cmd_hub_lock, "list the Hub lock, or accept a moved revision")
    cmd.add_argument("--update", metavar="REPO", help="re-resolve every locked revision of REPO")
    cmd.add_argument(
        "--lock", help="the lock file (default: $TINA_HUB_LOCK or config/hub.lock.tsv)"
    )

    add("status", cmd_status, "per experiment: trained steps, evaluated checkpoints", True)

    cmd = add("plan", cmd_plan, "evaluations pending, engine starts, GPU-hours and dollars", True)
    cmd.add_argument(
        "--rates-from",
        help="working directory whose generation records give tokens/s and engine start time "
        "(e.g. the GPU check's); default: this workflow's own, else the stated defaults",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        logs.setup()
    try:
        args.func(args)
    except (UserError, ValueError, OSError) as error:
        # outside Snakemake, a bad argument (ValueError) or a missing file is the user's to fix
        if not (is_user_error(error) or isinstance(error, ValueError | FileNotFoundError)):
            raise
        print(f"tina-repro {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
