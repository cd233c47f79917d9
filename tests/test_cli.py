"""The tina-repro command: what no Snakemake target gives, with the workflow's own validation."""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from helpers import ROOT

from tina_repro.ops import cli


def test_readme_lists_every_subcommand_and_no_other():
    """README's section on the command names each subcommand the parser has, as a list item."""
    section = (ROOT / "README.md").read_text().split("### The `tina-repro` command", 1)[1]
    section = section.split("\n#", 1)[0]
    listed = re.findall(r"^- `tina-repro ([a-z-]+)", section, flags=re.MULTILINE)
    parser = cli.build_parser()
    (subcommands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert listed == list(subcommands.choices)


def test_validate_reports_the_paper_config(capsys):
    assert cli.main(["validate", "--directory", str(ROOT)]) == 0
    assert (
        "25 experiments (25 training runs), 10 datasets, 6 benchmarks, 8 baselines"
        in capsys.readouterr().out
    )


def test_validate_from_another_directory_finds_the_workflow(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    demo = ROOT / "config" / "demo" / "config.yaml"
    assert cli.main(["validate", "--configfile", str(demo)]) == 0
    assert (
        "5 experiments (5 training runs), 1 datasets, 3 benchmarks, 1 baselines"
        in capsys.readouterr().out
    )


def test_validate_fails_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("evaluation:\n  temprature: 0.6\n")
    args = ["validate", "--configfile", str(bad), "--directory", str(ROOT)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "tina-repro validate: error: config: unknown key 'evaluation/temprature' (allowed here: "
        "adapter_mode, backend, batch_size, grading_processes, grading_timeout_s, max_model_len, "
        "max_new_tokens, merge_dtype, prompt_tokens, sample_seeds, samples_per_problem, seed, "
        "temperature, top_p, vllm_device, vllm_dtype, vllm_enforce_eager, "
        "vllm_gpu_memory_utilization)"
    )


def test_job_log_takes_prints_and_log_records(tmp_path):
    """A rule's job writes everything to its log: the Trainer prints its per-step metrics."""
    log = tmp_path / "job.log"
    code = (
        "import logging; from tina_repro import logs; "
        f"logs.setup({str(log)!r}); print({{'loss': 0.25}}); "
        "logging.getLogger('tina_repro.train').info('step 1 done')"
    )
    scripts = ROOT / "scripts"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(scripts)},
    )
    assert proc.stdout == proc.stderr == ""
    text = log.read_text()
    assert "{'loss': 0.25}" in text
    assert "INFO tina_repro.train: step 1 done" in text


def _job(log: Path, body: str, keep_sessions: bool) -> subprocess.Popen:
    """A job-like process: logs.setup(LOG, keep_sessions) then ``body``."""
    code = (
        f"from tina_repro import logs; logs.setup({str(log)!r}, keep_sessions={keep_sessions})\n"
        + body
    )
    scripts = ROOT / "scripts"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(scripts)},
    )


def test_a_training_log_keeps_every_session_and_what_an_orphan_wrote(tmp_path):
    """A rerun as Snakemake runs it (the rule's log deleted first) beside an orphan of the first
    session that writes on: nothing is lost, and each session starts with its header."""
    log = tmp_path / "logs" / "train_grpo" / "run.log"
    log.parent.mkdir(parents=True)
    orphan = _job(log, "print('step 1'); input(); print('orphan: step 2')", keep_sessions=True)
    wait_for(lambda: log.exists() and "step 1" in log.read_text())
    log.unlink()  # Snakemake removes a job's log before running it again
    rerun = _job(log, "print('second session: waiting for the run folder')", keep_sessions=True)
    assert rerun.wait(timeout=60) == 0
    orphan.communicate("\n", timeout=60)
    assert orphan.returncode == 0
    kept = tmp_path / "logs" / "train_grpo" / "run.sessions.log"
    assert log.is_symlink() and log.resolve() == kept.resolve()
    lines = kept.read_text().splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("==== session: pid ")]
    assert len(headers) == 2 and headers[0] == 0
    assert f"pid {orphan.pid} on {socket.gethostname()}, started 20" in lines[0]
    assert f"pid {rerun.pid} on" in lines[headers[1]]
    assert lines.index("step 1") < headers[1]
    assert {"second session: waiting for the run folder", "orphan: step 2"} <= set(lines)


def test_a_rebuilding_job_log_holds_its_last_session_only(tmp_path):
    log = tmp_path / "grade.log"
    for word in ("first", "second"):
        assert _job(log, f"print({word!r})", keep_sessions=False).wait(timeout=60) == 0
    header, *rest = log.read_text().splitlines()
    assert header.startswith("==== session: pid ") and "second" in rest and "first" not in rest
    assert not log.is_symlink()


def wait_for(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _grade_cli(tmp_path, rows: list[dict]) -> subprocess.CompletedProcess:
    """``tina-repro grade`` as a user runs it, on ``rows`` written as in.jsonl."""
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    command = [sys.executable, "-m", "tina_repro.ops.cli", "grade", "--input", str(source)]
    return subprocess.run(
        [*command, "--output", str(tmp_path / "graded.jsonl")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")},
        timeout=120,
    )


# (final answer, gold without a gold_format, correct). Plain golds parse as math-verify's
# parse(gold) parses them by default; as raw text the first four would all be wrong.
PLAIN_AND_LATEX_GOLDS = [
    ("\\boxed{\\frac{10}{9}}", "10/9", True),
    ("\\boxed{10/9}", "10/9", True),
    ("\\boxed{1.22}", "1,22", True),  # a decimal comma
    ("\\boxed{1000}", "1000", True),
    ("\\boxed{10/8}", "10/9", False),
    ("\\boxed{1000}", "100", False),
    ("\\boxed{0.5}", "$\\frac{1}{2}$", True),
    ("\\boxed{0.5}", "The answer is $\\boxed{\\frac{1}{2}}$.", True),
    ("\\boxed{0.4}", "$\\frac{1}{2}$", False),
]


def test_grade_parses_plain_and_latex_golds_without_gold_format(tmp_path):
    rows = [
        {"completion": f"Hmm.\n</think>\nSo {answer}", "gold": gold, "task": "math"}
        for answer, gold, _ in PLAIN_AND_LATEX_GOLDS
    ]
    proc = _grade_cli(tmp_path, rows)
    assert proc.returncode == 0, proc.stderr
    graded = [json.loads(line) for line in (tmp_path / "graded.jsonl").read_text().splitlines()]
    assert [row["correct"] for row in graded] == [c for _, _, c in PLAIN_AND_LATEX_GOLDS]
    assert graded[2]["extracted"] == "1.22"
    summary = json.loads(proc.stdout)
    assert (summary["rows"], summary["correct"]) == (9, 6)


def test_grade_refuses_a_lone_surrogate_in_one_line(tmp_path):
    good = {"completion": "Hmm.\n</think>\n\\boxed{2}", "gold": "2", "task": "math"}
    proc = _grade_cli(tmp_path, [good, {**good, "completion": "Hmm \ud800 \\boxed{2}"}])
    assert proc.returncode == 2
    assert proc.stderr == (
        f"tina-repro grade: error: {tmp_path / 'in.jsonl'} line 2: key 'completion' holds "
        "'\\ud800', which is not Unicode text (a lone surrogate) and cannot be written as UTF-8; "
        "fix or drop the row\n"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]  # nothing written
