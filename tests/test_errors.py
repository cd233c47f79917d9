"""Every user error is one line, in every entry point: the workflow (Snakemake, at parse time, in
the pre-flight check and in a job) and the ``tina-repro`` command. Never a traceback; the file
and the row are named where there is one."""

import errno
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import HUB, ROOT, edit_sheet, paper_row, set_cell, snakemake, write_jsonl, write_sheet

from tina_repro.errors import UserError, one_line
from tina_repro.ops import cli

MALFORMED = HUB / "still3_malformed.jsonl"


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


def failed_dry_run(workdir: Path, *args: str) -> str:
    """The output of a ``snakemake -n`` that must fail."""
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


@pytest.mark.slow
@pytest.mark.parametrize("case", SHEET_CASES)
def test_sheet_error_is_one_line_in_snakemake(workdir, case):
    sheet, edit, expected = SHEET_CASES[case]
    edit_sheet(workdir / "config" / sheet, edit)
    assert_one_line(failed_dry_run(workdir, "results/tables/main.csv"), *expected)


@pytest.mark.parametrize("case", SHEET_CASES)
def test_sheet_error_is_one_line_in_tina_repro(workdir, capsys, case):
    sheet, edit, expected = SHEET_CASES[case]
    edit_sheet(workdir / "config" / sheet, edit)
    run_cli(capsys, ["validate", "--directory", str(workdir)], *expected)


# Bytes a text editor hides: the same line from Snakemake and from tina-repro.
def with_bom(path: Path) -> None:
    """The sheet as a spreadsheet saves "UTF-8 with BOM"."""
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def latin1_cell(path: Path) -> int:
    """Line 3 of the sheet gets a Latin-1 e-acute at the start of its second cell (a sheet saved
    in a legacy encoding); returns the column an editor shows for it."""
    lines = path.read_bytes().split(b"\n")
    first, rest = lines[2].split(b"\t", 1)
    lines[2] = first + b"\t\xe9" + rest
    path.write_bytes(b"\n".join(lines))
    return len(first.decode()) + 2


@pytest.mark.slow
def test_non_utf8_sheet_names_file_line_and_column(workdir, capsys):
    column = latin1_cell(workdir / "config" / "datasets.tsv")
    expected = f"config/datasets.tsv line 3 column {column}: byte 0xe9 is not UTF-8"
    assert_one_line(failed_dry_run(workdir, "results/tables/main.csv"), expected)
    run_cli(capsys, ["validate", "--directory", str(workdir)], expected)


@pytest.mark.slow
def test_byte_order_mark_is_named(workdir, capsys):
    with_bom(workdir / "config" / "experiments.tsv")
    expected = ["config/experiments.tsv line 1", "byte-order mark (U+FEFF"]
    line = assert_one_line(failed_dry_run(workdir, "results/tables/main.csv"), *expected)
    assert "\ufeff" not in line  # said, not shown as an invisible character
    run_cli(capsys, ["validate", "--directory", str(workdir)], *expected)


def test_non_utf8_config_file_names_file_line_and_column(workdir, capsys):
    override = workdir / "latin1.yaml"
    override.write_bytes(b"selection:\n  rule: final  # r\xe9sum\xe9\n")
    argv = ["validate", "--directory", str(workdir), "--configfile", str(override)]
    run_cli(capsys, argv, f"{override} line 2 column 19: byte 0xe9 is not UTF-8")


@pytest.mark.slow
def test_unpriced_evaluation_device_is_refused_before_any_job(workdir, capsys):
    override = workdir / "device.yaml"
    override.write_text("cost:\n  evaluation_device: NVIDIA H100\n")
    expected = ["key 'cost/evaluation_device'", "'NVIDIA H100' has no price", "NVIDIA L40S"]
    output = failed_dry_run(workdir, "results/tables/costs.csv", "--configfile", str(override))
    assert_one_line(output, *expected)
    argv = ["validate", "--directory", str(workdir), "--configfile", str(override)]
    run_cli(capsys, argv, *expected)


@pytest.mark.slow
def test_non_finite_config_number_is_one_line(workdir, capsys):
    override = workdir / "nan.yaml"
    override.write_text("evaluation:\n  temperature: .nan\n")
    expected = ["key 'evaluation/temperature'", "nan is not a finite number"]
    output = failed_dry_run(workdir, "results/tables/main.csv", "--configfile", str(override))
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


def test_unknown_name_is_one_line_in_tina_repro(workdir, capsys):
    run_cli(
        capsys,
        ["resolve", "nope", "--directory", str(workdir)],
        "'nope' is not a row of config/experiments.tsv",
    )


@pytest.mark.slow
def test_unknown_selection_benchmark_is_one_line_in_snakemake(workdir):
    override = workdir / "selection.yaml"
    override.write_text("selection:\n  selection_benchmarks: [aime42]\n")
    output = failed_dry_run(workdir, "results/tables/main.csv", "--configfile", str(override))
    assert_one_line(output, "selection/selection_benchmarks", "unknown 'aime42'")


# ---- a GPU row on a CPU host -------------------------------------------------------------------
@pytest.mark.slow
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


def test_gpu_row_in_a_training_job_on_a_cpu_host_is_one_line(workdir):
    """A job the pre-flight check did not see (e.g. sent to a cluster node without GPUs) stops
    before training with the user error its log shows as one line."""
    from tina_repro.config import load_files
    from tina_repro.train.context import TrainingContext, TrainingJob
    from tina_repro.train.launch import run_leased

    wc = load_files(root=workdir)
    job = TrainingJob(
        row=wc.experiments["still"],
        context=TrainingContext.of(wc, "still"),
        dataset_parquet=workdir / "d",
        base_model_dir=workdir / "m",
        out_dir=workdir / "o",  # the run's writer lock lands there, not in the repository
    )
    with pytest.raises(UserError) as caught:
        run_leased(job)
    assert_one_line(f"error: {one_line(caught.value)}", "needs 2 GPU(s)", "CPU demo config")


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


@pytest.mark.slow
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


# ---- grading input and a full disk, in a job and in tina-repro ---------------------------------
SCORE = "results/eval/baseline/base/tiny_math/score.json"
SAMPLES = "results/eval/baseline/base/tiny_math/samples.jsonl"
GRADING_RULES = ["--allowed-rules", "prepare_benchmark", "grade_samples", "--"]


def sample_rows(benchmark: pd.DataFrame, samples: int = 4, length: int = 400) -> list[dict]:
    """``samples`` right answers per problem, each after ``length`` characters of reasoning."""
    return [
        {
            "problem_id": int(row.id),
            "sample_index": index,
            "completion": f"<think>{'x' * length}</think> \\boxed{{{row.answer}}}",
            "gold": row.answer,
            "task": "math",
            "n_tokens": 10,
        }
        for row in benchmark.itertuples()
        for index in range(samples)
    ]


@pytest.fixture
def grading_workdir(workdir):
    """The paper config with one local three-problem benchmark, already prepared, and a baseline
    whose samples.jsonl the test writes (grading is the only other rule allowed to run)."""
    data = workdir / "data"
    data.mkdir()
    source = write_jsonl(
        data / "math.jsonl",
        [{"problem": f"What is {n}+1?", "answer": str(n + 1)} for n in (1, 2, 3)],
    )
    benchmark = {
        **paper_row("benchmarks.tsv", "aime24"),
        "name": "tiny_math",
        "expected_size": "3",
        "source": f"local:{source}",
    }
    baseline = {**paper_row("baselines.tsv", "base"), "model": f"local:{data}"}
    override = {
        "benchmarks": write_sheet(data / "benchmarks.tsv", [benchmark]),
        "baselines": write_sheet(data / "baselines.tsv", [baseline]),
        "evaluation": {"grading_processes": 1},
    }
    (workdir / "override.yaml").write_text(yaml.safe_dump(override))
    parquet = "resources/benchmarks/tiny_math.parquet"
    proc = snakemake(workdir, "--cores", "1", *grading_config(workdir), *GRADING_RULES, parquet)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return workdir


def grading_config(workdir: Path) -> list[str]:
    return ["--configfile", str(workdir / "override.yaml")]


def benchmark_of(workdir: Path) -> pd.DataFrame:
    return pd.read_parquet(workdir / "resources" / "benchmarks" / "tiny_math.parquet")


def write_samples(workdir: Path, rows: list[dict], bad_line: bytes | None = None) -> Path:
    path = workdir / SAMPLES
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(row).encode() for row in rows]
    if bad_line is not None:
        lines.insert(2, bad_line)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


# Files of at most LIMIT bytes: room for every file Snakemake writes (its copies of the rules
# included), not for 12 graded samples of LONG characters each.
LIMIT = 64 * 1024
LONG = 8000


def file_size_limit(limit: int):
    """preexec_fn of a process whose files cannot grow beyond ``limit`` bytes: a write past it
    fails with EFBIG (Python ignores SIGXFSZ), as on a full disk, without root or a tiny mount."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


BAD_SAMPLE_LINES = {
    "not JSON": (b'{"problem_id": 0,', "line 3 column 18: invalid JSON"),
    "not UTF-8": (b'{"completion": "\xff"}', "line 3 column 17: byte 0xff is not UTF-8"),
    "missing keys": (b'{"problem_id": 0}', "line 3: missing key(s) "),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", BAD_SAMPLE_LINES)
def test_bad_samples_line_is_one_line_in_a_grading_job(grading_workdir, case):
    bad_line, expected = BAD_SAMPLE_LINES[case]
    write_samples(grading_workdir, sample_rows(benchmark_of(grading_workdir)), bad_line)
    proc = snakemake(
        grading_workdir, "--cores", "1", *grading_config(grading_workdir), *GRADING_RULES, SCORE
    )
    assert proc.returncode != 0
    assert_one_line(proc.stderr, f"{SAMPLES} {expected}")  # the job's log, shown


@pytest.mark.slow
@pytest.mark.parametrize("case", BAD_SAMPLE_LINES)
def test_bad_samples_line_is_one_line_in_tina_repro(grading_workdir, capsys, case):
    bad_line, expected = BAD_SAMPLE_LINES[case]
    samples = write_samples(grading_workdir, sample_rows(benchmark_of(grading_workdir)), bad_line)
    run_cli(
        capsys,
        ["grade", "--input", str(samples), "--output", str(grading_workdir / "graded.jsonl")],
        f"{samples} {expected}",
    )


def test_grading_an_empty_input_is_one_line(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    output = tmp_path / "graded.jsonl"
    run_cli(capsys, ["grade", "--input", str(empty), "--output", str(output)], "no rows to grade")
    assert not output.exists()


@pytest.mark.slow
def test_disk_full_in_a_grading_job_is_one_line_naming_the_file(grading_workdir):
    benchmark = benchmark_of(grading_workdir)
    write_samples(grading_workdir, sample_rows(benchmark, length=LONG))
    target = [*grading_config(grading_workdir), *GRADING_RULES, SCORE]
    proc = snakemake(
        grading_workdir, "--cores", "1", *target, preexec_fn=file_size_limit(LIMIT), timeout=300
    )
    assert proc.returncode != 0
    graded = Path(SAMPLES).with_name("graded.jsonl")
    assert_one_line(proc.stderr, f"error: cannot write {graded}: File too large")
    folder = grading_workdir / graded.parent
    assert sorted(p.name for p in folder.iterdir()) == ["samples.jsonl"]  # no *.tmp left behind


def test_disk_full_is_one_line_in_tina_repro(tmp_path):
    rows = [
        {"completion": f"{'x' * LONG} \\boxed{{{n}}}", "gold": str(n), "task": "math"}
        for n in range(12)
    ]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    output = tmp_path / "out" / "graded.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "tina_repro.ops.cli", "grade", "--input", str(source)]
        + ["--output", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")},
        preexec_fn=file_size_limit(LIMIT),
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert_one_line(proc.stderr, f"tina-repro grade: error: cannot write {output}: File too large")
    assert list(output.parent.iterdir()) == []  # the temporary file was removed


def test_a_write_without_room_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    table = tmp_path / "table.csv"
    table.write_text("old\n")
    body = (
        f"from tina_repro.files import write_text\nwrite_text({str(table)!r}, 'x' * {LIMIT + 1})\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", f"from tina_repro import logs\nlogs.setup()\n{body}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")},
        preexec_fn=file_size_limit(LIMIT),
    )
    assert proc.returncode == 1
    assert_one_line(proc.stderr, f"error: cannot write {table}: File too large")
    assert table.read_text() == "old\n" and list(tmp_path.iterdir()) == [table]


def test_a_full_device_names_the_file(tmp_path):
    """ENOSPC (a full disk) and EDQUOT (a quota) read as EFBIG does."""
    from tina_repro.files import DiskFullError, write_jsonl

    out = tmp_path / "graded.jsonl"

    def rows():
        yield {"a": 1}
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(DiskFullError, match=f"cannot write {out}: No space left on device"):
        write_jsonl(out, rows())
    assert list(tmp_path.iterdir()) == []
