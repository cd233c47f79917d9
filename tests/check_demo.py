"""Check a finished CPU demo run (CI runs this after `snakemake --profile profiles/demo all`).

Asserts what the demo claims, from the files a user sees:

- every table and figure the workflow declares for the demo config exists (the exact target
  names, from the same function as the Snakefile's ``all``), tables with their Markdown and HTML
  renderings and figures non-empty, plus the report, which shows every table inline (its HTML
  rendering with a row per CSV row) beside the CSV;
- every table has the rows it should (main: each model x benchmark, a row of several seeds once;
  ablations: every row, each row compared with another (the format-only test) with its paired
  difference; checkpoints: at least 4 per run);
- what holds on every machine (README, "the demo's numbers"; the numbers themselves differ
  between CPUs, as float kernels do and the toy RL amplifies): the main run learned the answer
  format (the training format reward of each of its seeds over the last 10 steps is above that
  over the first 10, and its evaluated format rate is above the base model's and at least 95%),
  and its final checkpoint beats the base model (mean accuracy over 4 samples per problem,
  averaged over the demo benchmarks) with the paired-bootstrap 95% CI of the gain above zero.

A missing or malformed file is reported as a failure, never raised.

    python tests/check_demo.py [WORKDIR]
"""

import io
import sys
from pathlib import Path

import pandas as pd
from helpers import ROOT, report_files

from tina_repro import paths
from tina_repro.config import load_files
from tina_repro.config.targets import figure_targets, table_targets

FORMAT_RATE_FLOOR = 95.0  # % of samples with an extractable answer after training
WINDOW = 10  # training steps averaged at each end of the format-reward curve
FORMAT_REWARD = "rewards/format/mean"


def _read(path: Path, problems: list[str], what: str) -> pd.DataFrame | None:
    if not path.is_file():
        problems.append(f"missing {what} {path}")
        return None
    try:
        return pd.read_csv(path)
    except (ValueError, OSError) as error:
        problems.append(f"unreadable {what} {path}: {error}")
        return None


def _average_row(table: pd.DataFrame | None, model: str, problems: list[str]) -> pd.Series | None:
    if table is None:
        return None
    needed = {"model", "benchmark"}
    if not needed <= set(table.columns):
        problems.append(f"main.csv lacks columns {sorted(needed - set(table.columns))}")
        return None
    rows = table[(table["model"] == model) & (table["benchmark"] == "average")]
    if rows.empty:
        problems.append(f"no average row of {model} in main.csv")
        return None
    return rows.iloc[0]


def check_targets(workdir: Path, wc) -> list[str]:
    problems = []
    for target in table_targets():
        path = workdir / target
        if not path.is_file() or path.stat().st_size == 0:
            problems.append(f"missing or empty table {path}")
    for target in figure_targets(wc):
        path = workdir / target
        if not path.is_file() or path.stat().st_size == 0:
            problems.append(f"missing or empty figure {path}")
    return problems


def check_report(workdir: Path) -> list[str]:
    """The report exists and shows every table inline: its HTML rendering, one row per CSV row,
    beside the CSV itself."""
    report = workdir / "results" / "report.html"
    if not report.is_file() or report.stat().st_size == 0:
        return [f"missing report {report}"]
    files = report_files(report.read_text(encoding="utf-8"))
    problems = []
    for name in paths.TABLES:
        csv, page = Path(paths.table(name)).name, Path(paths.table(name, "html")).name
        if csv not in files or page not in files:
            problems.append(f"the report lacks {csv} or {page}")
            continue
        rows = len(pd.read_csv(io.BytesIO(files[csv])))
        if files[page].decode("utf-8").count("<tr>") != rows + 1:
            problems.append(f"the report's {page} does not show the {rows} rows of {csv}")
    return problems


def check_rows(workdir: Path, wc) -> tuple[list[str], pd.DataFrame | None]:
    problems = []
    main_rows = wc.rows_in("main")  # a row of several seeds is one model of the table
    main = _read(workdir / paths.table("main"), problems, "table")
    if main is not None and {"model", "benchmark"} <= set(main.columns):
        expected = {
            (m, b) for m in [*wc.baselines, *main_rows] for b in [*wc.benchmarks, "average"]
        }
        if set(zip(main["model"], main["benchmark"], strict=True)) != expected:
            problems.append(f"main.csv rows differ from {sorted(expected)}")
    ablations = _read(workdir / paths.table("ablations"), problems, "table")
    if ablations is not None and "model" in ablations:
        missing = set(wc.replicates) - set(ablations["model"])
        if missing:
            problems.append(f"ablations.csv lacks rows {sorted(missing)}")
        compared = ablations[ablations["compared_with"].notna()]
        unpaired = compared[compared["difference_vs_reference"].isna()]
        if compared.empty or not unpaired.empty:
            problems.append(
                "ablations.csv: a row compared with another lacks its paired difference "
                f"({sorted(set(unpaired['model'])) or 'no compared row'})"
            )
    checkpoints = _read(workdir / paths.table("checkpoints"), problems, "table")
    if checkpoints is not None and {"run", "step"} <= set(checkpoints.columns):
        for name in wc.experiments:
            steps = checkpoints.loc[checkpoints["run"] == name, "step"].nunique()
            if steps < 4:
                problems.append(f"checkpoints.csv has {steps} checkpoints of {name}, expected >= 4")
    for name in ("costs", "flops"):
        table = _read(workdir / paths.table(name), problems, "table")
        if table is not None and table.empty:
            problems.append(f"{name}.csv is empty")
    return problems, main


def check_format_reward(workdir: Path, runs: list[str]) -> list[str]:
    """Each run's training format reward rose from its first to its last WINDOW steps."""
    problems = []
    for run in runs:
        log = _read(workdir / paths.RUN_LOG_HISTORY.format(experiment=run), problems, "log")
        if log is not None and FORMAT_REWARD in log and len(log) >= 2 * WINDOW:
            first = log[FORMAT_REWARD].head(WINDOW).mean()
            last = log[FORMAT_REWARD].tail(WINDOW).mean()
            print(
                f"{run} training format reward: first {WINDOW} steps {first:.3f}, last {last:.3f}"
            )
            if not last > first:
                problems.append(f"{run}: format reward did not rise ({first:.3f} -> {last:.3f})")
        elif log is not None:
            problems.append(f"{run}: log_history lacks {WINDOW * 2} steps of {FORMAT_REWARD}")
    return problems


def check_learning(workdir: Path, wc, main: pd.DataFrame | None) -> list[str]:
    problems = []
    base = _average_row(main, wc.base_model_point() or "base", problems)
    for run in wc.rows_in("main"):
        problems += check_format_reward(workdir, wc.replicates[run])
        row = _average_row(main, run, problems)
        if row is None:
            continue
        print(
            f"{run} step {row['step']:.0f} vs base: average {row['reproduced']:.2f} "
            f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}], gain {row['gain_vs_base']:+.2f} "
            f"[{row['gain_ci_low']:+.2f}, {row['gain_ci_high']:+.2f}], format rate "
            f"{row['format_rate']:.1f}%, "
            f"accuracy among formatted {row['accuracy_given_formatted']:.2f}"
        )
        final = wc.experiments[run].stop_step
        if row["step"] != final:
            problems.append(f"{run}: reported step {row['step']} is not the final step {final}")
        if base is not None and not row["format_rate"] > base["format_rate"]:
            problems.append(
                f"{run}: format rate {row['format_rate']:.1f}% is not above the base model's "
                f"{base['format_rate']:.1f}%"
            )
        if not row["format_rate"] >= FORMAT_RATE_FLOOR:
            problems.append(
                f"{run}: format rate {row['format_rate']:.1f}% is below {FORMAT_RATE_FLOOR}%"
            )
        if not (row["gain_vs_base"] > 0 and row["gain_ci_low"] > 0):
            problems.append(
                f"{run}: gain {row['gain_vs_base']:.2f} with CI low {row['gain_ci_low']:.2f} "
                "(need a gain whose 95% CI lies above zero)"
            )
    return problems


def check(workdir: Path) -> list[str]:
    wc = load_files(ROOT / "config" / "demo" / "config.yaml", root=ROOT)
    problems = check_targets(workdir, wc) + check_report(workdir)
    row_problems, main = check_rows(workdir, wc)
    return problems + row_problems + check_learning(workdir, wc, main)


def main() -> None:
    workdir = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    problems = check(workdir)
    for problem in problems:
        print("FAIL:", problem)
    print("demo check:", "FAILED" if problems else "passed")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
