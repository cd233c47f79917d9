"""Planning at paper scale: dry-run of every table with all paper checkpoints present.

Builds a working directory in which the paper runs have finished training (manifest.json,
log_history.csv and checkpoint-N/ folders every save_steps up to the stop step; one-epoch runs use
the paper's dataset sizes) and the data and models are present, then times `snakemake -n all`,
which has to plan every checkpoint x benchmark evaluation. Target (issue #8): under 30 s on 2
cores.

With ``--evaluated``, every checkpoint and baseline is also evaluated already: adapters of
``--adapter-mb`` MB (sparse files: their bytes cost hashing time, not disk) with their config, per
model a generation record and timing, and per (model, benchmark) a samples.jsonl linked to the
store file of its current content identity and a score.json that graded it. The DAG then
fingerprints every evaluated model's weights; the dry-run is timed twice, with an empty hash cache
(every adapter read once) and with the cache the first one left (one stat per file).

    python tests/bench/bench_planning.py [--keep DIR] [--evaluated [--adapter-mb MB]]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for helpers

from helpers import ROOT  # noqa: E402

from tina_repro import paths  # noqa: E402
from tina_repro.config import BASELINE_RUN, load_files  # noqa: E402
from tina_repro.eval import store  # noqa: E402
from tina_repro.eval.points import evaluated_dirs  # noqa: E402
from tina_repro.files import write_json, write_text  # noqa: E402

DATA_FILES = ("parquet", "report.json")


def make_workdir(work: Path) -> int:
    shutil.copytree(ROOT / "config", work / "config")
    os.chdir(work)
    wc = load_files("config/config.yaml")
    old = time.time() - 3600
    inputs = [f"resources/datasets/{d}.{ext}" for d in wc.datasets for ext in DATA_FILES]
    inputs += [f"resources/benchmarks/{b}.{ext}" for b in wc.benchmarks for ext in DATA_FILES]
    inputs += [f"resources/models/{slug}/manifest.json" for slug in wc.hub_repositories()]
    for path in map(Path, inputs):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("fixture")
        os.utime(path, (old, old))
    checkpoints = 0
    for name, row in wc.experiments.items():
        epoch = -(-wc.datasets[row.dataset].paper_size // row.prompts_per_step)
        last = row.stop_step or row.max_steps or epoch
        steps = list(range(row.save_steps, last + 1, row.save_steps))
        run = work / "results" / "train" / name
        for step in steps:
            (run / f"checkpoint-{step}").mkdir(parents=True)
            (run / f"checkpoint-{step}" / "adapter_model.safetensors").write_text("fixture")
        (run / "manifest.json").write_text(json.dumps({"checkpoint_steps": steps}))
        (run / "log_history.csv").write_text("step\n" + "".join(f"{s}\n" for s in steps))
        checkpoints += len(steps)
    return checkpoints


def write_adapter(folder: Path, megabytes: int, tag: str) -> None:
    """A sparse adapter file of ``megabytes`` MB, distinct by its first bytes, and its config."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "adapter_model.safetensors").open("wb") as handle:
        handle.write(tag.encode())
        handle.truncate(megabytes << 20)
    write_json(folder / "adapter_config.json", {"r": 32, "target_modules": ["q_proj", "v_proj"]})


def finish_evaluations(work: Path, adapter_mb: int) -> int:
    """Evaluate every checkpoint and baseline (see the module docstring); returns how many
    (model, benchmark) evaluations."""
    wc = load_files("config/config.yaml")
    points = [(BASELINE_RUN, name) for name in wc.baselines]
    for run in wc.experiments:
        run_dir = work / paths.RUN_DIR.format(experiment=run)
        steps = json.loads((run_dir / paths.MANIFEST).read_text())["checkpoint_steps"]
        points += [(run, paths.step_point(step)) for step in steps]
    evaluations = 0
    for run, point in points:
        dirs = evaluated_dirs(wc, run, point)
        model = work / dirs["model"]
        manifest = {"files": [{"path": "model.safetensors", "sha256": "0" * 64}]}
        write_json(model / paths.MANIFEST, manifest)
        if dirs["adapter"]:
            write_adapter(work / dirs["adapter"], adapter_mb, f"{run}/{point}")
        write_json(work / paths.GENERATION_RECORD.format(run=run, point=point), {})
        write_text(work / paths.GENERATION_TIMING.format(run=run, point=point), "s\n1.0\n")
        sampling = wc.evaluation.sampling_identity(bool(dirs["adapter"]))
        for name, benchmark in wc.benchmarks.items():
            parquet = paths.BENCHMARK_PARQUET.format(benchmark=name)
            identity = store.samples_identity(
                parquet, dirs["model"], dirs["adapter"], sampling, benchmark.gold_format
            )
            samples = work / paths.SAMPLES.format(run=run, point=point, benchmark=name)
            target = write_text(store.store_path(samples, identity), "{}\n")
            store.link(samples, target)
            score = {"identity": {"samples_store": target.name}}
            write_json(work / paths.SCORE.format(run=run, point=point, benchmark=name), score)
            write_text(work / paths.GRADED.format(run=run, point=point, benchmark=name), "")
            evaluations += 1
    return evaluations


def dry_run(work: Path) -> tuple[float, dict[str, str]]:
    """Seconds of `snakemake -n all` in ``work`` and the jobs it plans."""
    cmd = [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules"]
    cmd += ["--directory", str(work), "--snakefile", str(ROOT / "Snakefile")]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    counts = dict(re.findall(r"^([a-z_]+)\s+(\d+)$", proc.stdout + proc.stderr, re.MULTILINE))
    return seconds, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="build the working directory here and keep it")
    parser.add_argument("--evaluated", action="store_true", help="every evaluation finished")
    parser.add_argument("--adapter-mb", type=int, default=64, help="size of each adapter")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="tina-plan-"))
    checkpoints = make_workdir(work)
    print(f"runs: {len(load_files('config/config.yaml').experiments)}, checkpoints: {checkpoints}")
    if args.evaluated:
        evaluations = finish_evaluations(work, args.adapter_mb)
        shutil.rmtree(work / paths.HASH_CACHE)  # the first dry-run reads every adapter
        print(f"evaluations finished: {evaluations}, adapters of {args.adapter_mb} MB")
    seconds, counts = dry_run(work)
    print("planned jobs:", ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"dry-run wall time: {seconds:.1f} s (target < 30 s on 2 cores)")
    if args.evaluated:
        seconds, _ = dry_run(work)
        print(f"again, with the hashes cached: {seconds:.1f} s")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
