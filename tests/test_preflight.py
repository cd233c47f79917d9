"""The workflow's one use of Snakemake internals (tina_repro.config.preflight.planned_jobs), run
through a real Snakemake DAG: an upgrade that renames or reshapes what it reads fails here."""

import json
import subprocess
import sys

import pytest
from helpers import ROOT

# A workflow of three jobs, one declaring a GPU, whose onstart records what planned_jobs saw.
SNAKEFILE = f"""
import json, sys
sys.path.insert(0, {str(ROOT / "scripts")!r})
from tina_repro.config.preflight import planned_jobs

rule all:
    input: "trained/7.txt", "prepared.txt"

rule train:
    output: "trained/{{step}}.txt"
    resources: gpu=1
    shell: "touch {{output}}"

rule prepare:
    output: "prepared.txt"
    shell: "touch {{output}}"

onstart:
    with open("planned.json", "w") as handle:
        json.dump(planned_jobs(workflow), handle)
"""


def run(workdir, *args):
    (workdir / "Snakefile").write_text(SNAKEFILE)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "--directory", str(workdir)]
        + ["--snakefile", str(workdir / "Snakefile"), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((workdir / "planned.json").read_text())


@pytest.mark.slow
def test_planned_jobs_are_read_from_a_real_dag(tmp_path):
    planned = run(tmp_path)
    assert sorted(planned) == [["all", {}, 0], ["prepare", {}, 0], ["train", {"step": "7"}, 1]]
    (tmp_path / "prepared.txt").unlink()
    # only what needs to run is planned
    assert sorted(run(tmp_path)) == [["all", {}, 0], ["prepare", {}, 0]]


@pytest.mark.slow
def test_touch_runs_no_job_here(tmp_path):
    assert run(tmp_path, "--touch") is None
