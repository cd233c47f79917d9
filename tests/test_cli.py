"""The tina-repro command runs stages by hand, with the workflow's own validation."""

import json
import subprocess
import sys
from pathlib import Path

from tina_repro import cli

ROOT = Path(__file__).resolve().parents[1]


def test_validate_reports_the_paper_config(capsys):
    assert cli.main(["validate", "--directory", str(ROOT)]) == 0
    assert "15 experiments, 7 datasets, 6 benchmarks, 6 baselines" in capsys.readouterr().out


def test_validate_from_another_directory_finds_the_workflow(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    demo = ROOT / "config" / "demo" / "config.yaml"
    assert cli.main(["validate", "--configfile", str(demo)]) == 0
    assert "4 experiments, 1 datasets, 3 benchmarks, 1 baselines" in capsys.readouterr().out


def test_validate_fails_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("evaluation:\n  temprature: 0.6\n")
    args = ["validate", "--configfile", str(bad), "--directory", str(ROOT)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "tina-repro validate: error: config: unknown key 'evaluation/temprature' (allowed here: "
        "adapter_mode, backend, batch_size, grading_processes, max_model_len, max_new_tokens, "
        "merge_dtype, samples_per_problem, seed, temperature, top_p, vllm_gpu_memory_utilization)"
    )


def test_build_tiny_model_command(tmp_path, capsys):
    assert cli.main(["build-tiny-model", str(tmp_path / "m"), "--seed", "3"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["seed"] == 3
    assert (tmp_path / "m" / "model.safetensors").is_file()


def test_stages_by_hand_prepare_generate_score(tmp_path, capsys):
    """prepare-benchmark -> generate -> score on the tiny model, outside Snakemake."""
    fixture = ROOT / "tests" / "fixtures" / "hub" / "aime24.jsonl"
    n = sum(1 for _ in fixture.open())
    sheet = (ROOT / "config" / "benchmarks.tsv").read_text().splitlines()
    sheet = [sheet[0], sheet[1].replace("HuggingFaceH4/aime_2024", f"local:{fixture}")]
    sheet[1] = sheet[1].replace("\t30\t", f"\t{n}\t")
    (tmp_path / "benchmarks.tsv").write_text("\n".join(sheet) + "\n")
    override = tmp_path / "override.yaml"
    override.write_text(
        f"benchmarks: {tmp_path / 'benchmarks.tsv'}\n"
        "evaluation: {backend: transformers, max_new_tokens: 8, samples_per_problem: 2}\n"
    )
    config = ["--configfile", str(override), "--directory", str(ROOT)]
    assert cli.main(["build-tiny-model", str(tmp_path / "model")]) == 0
    prepared = tmp_path / "bench"
    assert cli.main(["prepare-benchmark", "aime24", "--out-dir", str(prepared), *config]) == 0
    samples = tmp_path / "samples.jsonl"
    parquet = str(prepared / "aime24.parquet")
    args = [
        "generate",
        "aime24",
        "--benchmark-parquet",
        parquet,
        "--model",
        str(tmp_path / "model"),
    ]
    assert cli.main([*args, "--out", str(samples), *config]) == 0
    assert len(samples.read_text().splitlines()) == 2 * n
    capsys.readouterr()
    scored = ["score", "--samples", str(samples), "--benchmark-parquet", parquet]
    assert cli.main([*scored, "--out-dir", str(tmp_path / "scored")]) == 0
    score = json.loads(capsys.readouterr().out)
    assert score["n_problems"] == n
    assert score["samples_per_problem"] == 2
    assert (tmp_path / "scored" / "graded.jsonl").is_file()


def test_job_log_takes_prints_and_log_records(tmp_path):
    """A rule's job writes everything to its log: the Trainer prints its per-step metrics."""
    log = tmp_path / "job.log"
    code = (
        "import logging; from tina_repro import logs; "
        f"logs.setup({str(log)!r}); print({{'loss': 0.25}}); "
        "logging.getLogger('tina_repro.train').info('step 1 done')"
    )
    scripts = Path(__file__).resolve().parents[1] / "scripts"
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
