"""Planning at paper scale: dry-run of every table with all paper checkpoints present.

Builds a working directory in which the 15 paper runs have finished training (manifest.json and
checkpoint-N/ folders every save_steps up to the stop step; one-epoch runs use the paper's dataset
sizes) and the data and models are present, then times `snakemake -n all`, which has to plan every
checkpoint x benchmark evaluation. Target (issue #8): under 30 s on 2 cores.

    python tests/bench/bench_planning.py [--keep DIR]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from tina_repro.config import is_local, load_files, model_slug  # noqa: E402

DATA_FILES = ("parquet", "report.json")


def make_workdir(work: Path) -> int:
    shutil.copytree(ROOT / "config", work / "config")
    os.chdir(work)
    wc = load_files("config/config.yaml")
    old = time.time() - 3600
    inputs = [f"resources/datasets/{d}.{ext}" for d in wc.datasets for ext in DATA_FILES]
    inputs += [f"resources/benchmarks/{b}.{ext}" for b in wc.benchmarks for ext in DATA_FILES]
    models = [(wc.config["base_model"]["source"], wc.config["base_model"]["revision"])]
    models += [(r["model"], r["revision"]) for r in wc.baselines.values()]
    inputs += [
        f"resources/models/{model_slug(s, r)}/manifest.json" for s, r in models if not is_local(s)
    ]
    for path in map(Path, inputs):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("fixture")
        os.utime(path, (old, old))
    checkpoints = 0
    for name, row in wc.experiments.items():
        epoch = -(-wc.datasets[row["dataset"]]["paper_size"] // row["prompts_per_step"])
        last = row["stop_step"] or row["max_steps"] or epoch
        steps = list(range(row["save_steps"], last + 1, row["save_steps"]))
        run = work / "results" / "train" / name
        for step in steps:
            (run / f"checkpoint-{step}").mkdir(parents=True)
            (run / f"checkpoint-{step}" / "adapter_model.safetensors").write_text("fixture")
        (run / "manifest.json").write_text(json.dumps({"checkpoint_steps": steps}))
        checkpoints += len(steps)
    return checkpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="build the working directory here and keep it")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="tina-plan-"))
    checkpoints = make_workdir(work)
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--quiet",
        "rules",
        "--directory",
        str(work),
        "--snakefile",
        str(ROOT / "Snakefile"),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    counts = dict(re.findall(r"^([a-z_]+)\s+(\d+)$", proc.stdout + proc.stderr, re.MULTILINE))
    print(f"runs: 15, checkpoints present: {checkpoints}")
    print("planned jobs:", ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"dry-run wall time: {seconds:.1f} s (target < 30 s on 2 cores)")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
