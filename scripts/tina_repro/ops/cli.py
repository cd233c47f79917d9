"""The ``tina-repro`` command: what a person asks of the workflow besides running it.

Every stage runs through Snakemake (``snakemake TARGET``, one file or a named target); this command
keeps only what no target gives: checking the config (``validate``), what is done and what
evaluation still costs (``status``, ``plan``), what a training row resolves to without training
(``resolve``), accepting a moved Hub revision (``hub-lock``) and grading any JSONL file of
completions (``grade``). They read the same validated configuration as the workflow
(``--configfile`` may be repeated, later files override earlier ones, exactly like Snakemake's
option).
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


def cmd_validate(args) -> None:
    wc = _config(args)
    print(
        f"configuration valid: {len(wc.replicates)} experiments ({len(wc.experiments)} training "
        f"runs), {len(wc.datasets)} datasets, "
        f"{len(wc.benchmarks)} benchmarks, {len(wc.baselines)} baselines"
    )


def cmd_resolve(args) -> None:
    from tina_repro.ops.resolve import resolve_experiment

    wc = _config(args)
    if args.experiment not in wc.experiments:
        raise wc.unknown("experiments", args.experiment)
    row = wc.experiments[args.experiment]
    resolved = resolve_experiment(wc, row, n_gpus=args.gpus, dataset_parquet=args.dataset)
    print(json.dumps(resolved, indent=2))


def cmd_grade(args) -> None:
    from tina_repro.eval.grading import STEP_TIMEOUT_S
    from tina_repro.eval.grading_pool import grade_file

    timeout_s = args.timeout_s or STEP_TIMEOUT_S
    summary = grade_file(args.input, args.output, processes=args.processes, timeout_s=timeout_s)
    print(json.dumps(summary, indent=2))


def cmd_status(args) -> None:
    from tina_repro.ops.status import format_status

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
    from tina_repro.ops.plan import format_plan, plan

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

    add("status", cmd_status, "per experiment: trained steps, evaluated checkpoints", True)

    cmd = add("plan", cmd_plan, "evaluations pending, engine starts, GPU-hours and dollars", True)
    cmd.add_argument(
        "--rates-from",
        help="working directory whose generation records give tokens/s and engine start time "
        "(e.g. the GPU check's); default: this workflow's own, else the stated defaults",
    )

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

    cmd = add("hub-lock", cmd_hub_lock, "list the Hub lock, or accept a moved revision")
    cmd.add_argument("--update", metavar="REPO", help="re-resolve every locked revision of REPO")
    cmd.add_argument(
        "--lock", help="the lock file (default: $TINA_HUB_LOCK or config/hub.lock.tsv)"
    )

    cmd = add(
        "grade",
        cmd_grade,
        "grade completions (JSONL in, JSONL out): rows with completion, gold, task (math or gpqa) "
        "and optionally gold_format (latex or expr; none: LaTeX, then plain expressions)",
    )
    cmd.add_argument("--input", required=True)
    cmd.add_argument("--output", required=True)
    cmd.add_argument("--processes", type=int, default=1)
    cmd.add_argument(
        "--timeout-s",
        type=int,
        help="seconds for each parse and comparison (evaluation.grading_timeout_s; default: "
        "lighteval's 5)",
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
