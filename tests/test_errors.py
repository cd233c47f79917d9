"""Every user error is one line, in every entry point: the workflow (Snakemake, at parse time, in
the pre-flight check and in a job) and the ``tina-repro`` command. Never a traceback; the file
and the row are named where there is one."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, set_cell, snakemake

from tina_repro import cli

MALFORMED = ROOT / "tests" / "fixtures" / "hub" / "still3_malformed.jsonl"


@pytest.fixture(autouse=True)
def cpu_host(monkeypatch):
    """A CPU host, whatever this machine has."""
    monkeypatch.setenv("TINA_GPU_COUNT", "0")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.fixture
def workdir(tmp_path):
    """A working directory with a copy of the paper config, to break."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    return tmp_path


def edit_sheet(path: Path, edit) -> None:
    with path.open(newline="") as handle:
        header, *rows = list(csv.reader(handle, delimiter="\t"))
    edit(header, rows)
    with path.open("w", newline="") as handle:
        csv.writer(handle, delimiter="\t", lineterminator="\n").writerows([header, *rows])


def assert_one_line(text: str, *expected: str) -> str:
    """The error line of ``text`` (a process's output): exactly one, holding every ``expected``
    fragment, and no traceback anywhere."""
    assert "Traceback" not in text and 'File "' not in text, text
    errors = [line for line in text.splitlines() if "error:" in line or "configuration:" in line]
    assert len(errors) == 1, text
    for fragment in expected:
        assert fragment in errors[0], text
    return errors[0]


def run_cli(capsys, argv: list[str], *expected: str) -> str:
    """``tina-repro ARGV`` fails with exit status 2 and one line on stderr."""
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1, captured.err
    return assert_one_line(captured.err, *expected)


def dry_run(workdir: Path, *args: str) -> str:
    proc = snakemake(workdir, "-n", *args, timeout=300)
    assert proc.returncode != 0
    return proc.stdout + proc.stderr


# ---- sheets and config: the same line from Snakemake and from tina-repro ------------------------
# The line a row appended to the experiment sheet lands on.
APPENDED_LINE = len((ROOT / "config/experiments.tsv").read_text().splitlines()) + 1
SHEET_CASES = {
    "unknown dataset": (
        "experiments.tsv",
        set_cell("limr", "dataset", "limr2"),
        ["config/experiments.tsv line 9 (name=limr)", "'limr2' is not a row"],
    ),
    "duplicate name": (
        "experiments.tsv",
        lambda header, rows: rows.append(list(rows[0])),
        [
            f"config/experiments.tsv line {APPENDED_LINE} (name=still)",
            "duplicate name 'still'",
            "line 2",
        ],
    ),
    "blank line": (
        "benchmarks.tsv",
        lambda header, rows: rows.insert(3, []),
        ["config/benchmarks.tsv line 5: blank line"],
    ),
    "nan learning rate": (
        "experiments.tsv",
        set_cell("still", "learning_rate", "nan"),
        ["config/experiments.tsv line 2 (name=still)", "key 'learning_rate'", "'nan'"],
    ),
    "infinite temperature": (
        "experiments.tsv",
        set_cell("open_rs3", "temperature", "inf"),
        ["config/experiments.tsv line 6 (name=open_rs3)", "key 'temperature'", "finite"],
    ),
}


@pytest.mark.parametrize("case", SHEET_CASES)
def test_sheet_error_is_one_line_in_snakemake(workdir, case):
    sheet, edit, expected = SHEET_CASES[case]
    edit_sheet(workdir / "config" / sheet, edit)
    assert_one_line(dry_run(workdir, "results/tables/main.csv"), *expected)


@pytest.mark.parametrize("case", SHEET_CASES)
def test_sheet_error_is_one_line_in_tina_repro(workdir, capsys, case):
    sheet, edit, expected = SHEET_CASES[case]
    edit_sheet(workdir / "config" / sheet, edit)
    run_cli(capsys, ["validate", "--directory", str(workdir)], *expected)


def test_non_finite_config_number_is_one_line(workdir, capsys):
    override = workdir / "nan.yaml"
    override.write_text("evaluation:\n  temperature: .nan\n")
    expected = ["key 'evaluation/temperature'", "nan is not a finite number"]
    output = dry_run(workdir, "results/tables/main.csv", "--configfile", str(override))
    assert_one_line(output, *expected)
    argv = ["validate", "--directory", str(workdir), "--configfile", str(override)]
    run_cli(capsys, argv, *expected)


def test_yaml_syntax_error_names_file_and_line(workdir, capsys):
    broken = workdir / "broken.yaml"
    broken.write_text("evaluation:\n  temperature: [0.6\n  top_p: 0.95\n")
    run_cli(
        capsys,
        ["validate", "--directory", str(workdir), "--configfile", str(broken)],
        f"{broken} line ",
        "YAML syntax error",
    )


@pytest.mark.parametrize(
    ("command", "sheet"),
    [
        (["train", "nope", "--dataset", "d", "--base-model", "m", "--out-dir", "o"], "experiments"),
        (["prepare-benchmark", "nope"], "benchmarks"),
        (["prepare-dataset", "nope"], "datasets"),
    ],
)
def test_unknown_name_is_one_line_in_tina_repro(workdir, capsys, command, sheet):
    run_cli(
        capsys,
        [*command, "--directory", str(workdir)],
        f"'nope' is not a row of config/{sheet}.tsv",
    )


def test_unknown_selection_benchmark_is_one_line_in_snakemake(workdir):
    override = workdir / "selection.yaml"
    override.write_text("selection:\n  selection_benchmarks: [aime42]\n")
    output = dry_run(workdir, "results/tables/main.csv", "--configfile", str(override))
    assert_one_line(output, "selection/selection_benchmarks", "unknown 'aime42'")


# ---- a GPU row on a CPU host -------------------------------------------------------------------
def test_gpu_row_on_a_cpu_host_is_refused_before_any_job(workdir):
    proc = snakemake(workdir, "--cores", "1", "results/train/still/manifest.json", timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert_one_line(
        output,
        "config/experiments.tsv line 2 (name=still)",
        "trains on 2 GPU(s) but this host has 0",
        "config/demo/config.yaml",
    )
    assert not (workdir / "resources").exists() and not (workdir / "logs").exists()
    # Snakemake's lock is released: the next command is not refused for it
    assert "cannot be locked" not in snakemake(workdir, "-n", "--unlock").stderr


def test_gpu_row_on_a_cpu_host_is_one_line_in_tina_repro(workdir, capsys):
    out_dir = str(workdir / "o")  # the run's writer lock lands there, not in the repository
    argv = ["train", "still", "--dataset", "d", "--base-model", "m", "--out-dir", out_dir]
    run_cli(capsys, [*argv, "--directory", str(workdir)], "needs 2 GPU(s)", "CPU demo config")


# ---- errors inside a job -----------------------------------------------------------------------
def run_job_script(tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess, str]:
    """A job-like script: logs.setup(LOG) then ``body``; returns the process and its log."""
    log = tmp_path / "job.log"
    script = f"from tina_repro import logs\nlogs.setup({str(log)!r})\n{body}"
    env = {"PYTHONPATH": str(ROOT / "scripts"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    return proc, log.read_text()


def test_gpu_lease_timeout_in_a_job_is_one_line(tmp_path):
    import fcntl

    locks = tmp_path / "locks"
    locks.mkdir()
    body = (
        "import os\n"
        "os.environ['TINA_GPU_COUNT'] = '1'\n"
        "from tina_repro import gpu_lease\n"
        f"with gpu_lease.lease(1, lock_dir={str(locks)!r}, timeout_s=0.5, poll_s=0.1):\n"
        "    pass\n"
    )
    with (locks / "gpu-0.lock").open("w") as handle:  # device 0, held by this test
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        proc, log = run_job_script(tmp_path, body)
    assert proc.returncode == 1 and proc.stderr == ""  # all of it went to the job's log
    assert_one_line(log, "no 1 free GPU(s)", "after waiting")


def test_a_bug_keeps_its_traceback(tmp_path):
    proc, log = run_job_script(tmp_path, "raise KeyError('bug')\n")
    assert proc.returncode == 1
    assert "Traceback" in log and "KeyError" in log


def malformed_still3(workdir: Path) -> None:
    """still3 read from a local file whose bad rows are too many."""
    shutil.copy(MALFORMED, workdir / "still3.jsonl")
    edit_sheet(
        workdir / "config" / "datasets.tsv", set_cell("still3", "source", "local:still3.jsonl")
    )


def test_data_error_in_a_job_is_one_line_and_its_report_survives(workdir):
    malformed_still3(workdir)
    proc = snakemake(workdir, "--cores", "1", "resources/datasets/still3.parquet", timeout=300)
    assert proc.returncode != 0
    report = "logs/prepare_dataset/still3.report.json"
    line = assert_one_line(proc.stderr, "1 of 10 rows dropped", f"(report: {report})")  # shown log
    log = (workdir / "logs" / "prepare_dataset" / "still3.log").read_text()
    assert line.strip() in log and "Traceback" not in log
    kept = json.loads((workdir / report).read_text())
    assert kept["status"] == "failed" and kept["drop_examples"]["problem_not_text"] == [3]
    # Snakemake deleted the failed job's declared outputs, not the report in logs/
    assert not (workdir / "resources" / "datasets" / "still3.report.json").exists()


def test_data_error_is_one_line_in_tina_repro(workdir, capsys, monkeypatch):
    malformed_still3(workdir)
    monkeypatch.chdir(workdir)  # local: sources are read from the current directory
    out = workdir / "out"
    run_cli(
        capsys,
        ["prepare-dataset", "still3", "--directory", str(workdir), "--out-dir", str(out)],
        "1 of 10 rows dropped",
        f"(report: {out / 'still3.report.json'})",
    )
    assert json.loads((out / "still3.report.json").read_text())["status"] == "failed"
