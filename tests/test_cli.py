"""The tina-repro command runs stages by hand, with the workflow's own validation."""

import json
from pathlib import Path

from tina_repro import cli

ROOT = Path(__file__).resolve().parents[1]


def test_validate_reports_the_paper_config(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert cli.main(["validate"]) == 0
    assert "15 experiments, 7 datasets, 6 benchmarks, 6 baselines" in capsys.readouterr().out


def test_validate_fails_with_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(ROOT)
    bad = tmp_path / "bad.yaml"
    bad.write_text("evaluation:\n  temprature: 0.6\n")
    args = ["validate", "--configfile", "config/config.yaml", "--configfile", str(bad)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "tina-repro validate: error: config: unknown key 'evaluation/temprature' (allowed here: "
        "backend, batch_size, grading_processes, max_model_len, max_new_tokens, "
        "samples_per_problem, seed, temperature, top_p, vllm_gpu_memory_utilization)"
    )


def test_build_tiny_model_command(tmp_path, capsys):
    assert cli.main(["build-tiny-model", str(tmp_path / "m"), "--seed", "3"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["seed"] == 3
    assert (tmp_path / "m" / "model.safetensors").is_file()
