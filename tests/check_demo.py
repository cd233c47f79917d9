"""Check a finished CPU demo run (CI runs this after `snakemake --profile profiles/demo all`).

Asserts what the demo claims, from the files a user sees: every table has its rows, every figure
is a non-empty PNG and PDF, the report exists, and the main run's final checkpoint beats the base
model by at least 5 points of mean accuracy (mean over 4 samples per problem, averaged over the
demo benchmarks) with the paired-bootstrap 95% CI of the gain above zero.

    python tests/check_demo.py [WORKDIR]
"""

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from tina_repro.workflow_config import load_files  # noqa: E402

MIN_GAIN = 5.0


def check(workdir: Path) -> list[str]:
    wc = load_files(ROOT / "config" / "config.yaml", ROOT / "config" / "demo" / "config.yaml")
    benchmarks = list(wc.benchmarks)
    main_runs = wc.experiments_in("main")
    problems = []
    tables = workdir / "results" / "tables"

    def table(name: str) -> pd.DataFrame:
        path = tables / f"{name}.csv"
        if not path.is_file() or not (tables / f"{name}.md").is_file():
            problems.append(f"missing table {path} (or its .md)")
            return pd.DataFrame()
        return pd.read_csv(path)

    main = table("main")
    expected = {(m, b) for m in [*wc.baselines, *main_runs] for b in [*benchmarks, "average"]}
    if not main.empty and set(zip(main["model"], main["benchmark"], strict=True)) != expected:
        problems.append(f"main.csv rows differ from {sorted(expected)}")
    ablations = table("ablations")
    if not ablations.empty:
        missing = set(wc.experiments) - set(ablations["model"])
        if missing:
            problems.append(f"ablations.csv lacks runs {sorted(missing)}")
    checkpoints = table("checkpoints")
    if not checkpoints.empty:
        for name in wc.experiments:
            steps = checkpoints.loc[checkpoints["run"] == name, "step"].nunique()
            if steps < 4:
                problems.append(f"checkpoints.csv has {steps} checkpoints of {name}, expected >= 4")
    for name in ("costs", "flops"):
        if table(name).empty:
            problems.append(f"{name}.csv is empty")

    figures = sorted((workdir / "results" / "figures").rglob("*.p*"))
    if len(figures) < 2 * (4 + 2 * len(wc.experiments)):
        problems.append(f"only {len(figures)} figure files")
    problems += [f"empty figure {f}" for f in figures if f.stat().st_size == 0]
    report = workdir / "results" / "report.html"
    if not report.is_file() or report.stat().st_size == 0:
        problems.append(f"missing report {report}")

    for run in main_runs:
        final = wc.experiments[run]["stop_step"]
        row = main[(main["model"] == run) & (main["benchmark"] == "average")]
        if row.empty:
            problems.append(f"no average row of {run} in main.csv")
            continue
        row = row.iloc[0]
        print(
            f"{run} step {row['step']:.0f} vs base: average {row['reproduced']:.2f} "
            f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}], gain {row['gain_vs_base']:+.2f} "
            f"[{row['gain_ci_low']:+.2f}, {row['gain_ci_high']:+.2f}], format rate "
            f"{row['format_rate']:.1f}%, "
            f"accuracy among formatted {row['accuracy_given_formatted']:.2f}"
        )
        if row["step"] != final:
            problems.append(f"{run}: reported step {row['step']} is not the final step {final}")
        if not (row["gain_vs_base"] >= MIN_GAIN and row["gain_ci_low"] > 0):
            problems.append(
                f"{run}: gain {row['gain_vs_base']:.2f} with CI low {row['gain_ci_low']:.2f} "
                f"(need >= {MIN_GAIN} and > 0)"
            )
    return problems


def main() -> None:
    workdir = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    problems = check(workdir)
    for problem in problems:
        print("FAIL:", problem)
    print("demo check:", "FAILED" if problems else "passed")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
