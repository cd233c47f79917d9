"""tina-repro plan: evaluations pending, engine starts, device-hours and dollars of a config."""

import json

import pytest
from helpers import ROOT, demo_config, paper_config

from tina_repro import paths
from tina_repro.ops import cli
from tina_repro.ops.plan import DEFAULT_RATES, format_plan, plan, planned_steps

# The demo: 5 runs x 4 checkpoints + 1 baseline = 21 models, 3 benchmarks of 200 problems, 4
# samples each.
DEMO_MODELS, DEMO_BENCHMARKS, DEMO_SAMPLES_PER_EVAL = 21, 3, 800


def write_record(workdir, run, point, **values):
    path = paths.fill(paths.GENERATION_RECORD, workdir, run=run, point=point)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))


def record(device, start, seconds, tokens, samples):
    return {
        "device": device,
        "engine_start_seconds": start,
        "generation_seconds": seconds,
        "generated_tokens": tokens,
        "samples": samples,
        "tokens_per_second": tokens / seconds,
        "benchmarks": ["demo_l1"],
        "backend": "transformers",
        "adapter_mode": "merged",
    }


def test_planned_steps_save_every_save_steps_and_at_the_stop_step():
    wc = paper_config()
    assert planned_steps(wc, "open_rs2") == list(range(50, 851, 50))
    # rank ablations save every 50 steps and stop at 180, where training saves too
    assert planned_steps(wc, "limr_rank64") == [50, 100, 150, 180]


def test_a_fresh_demo_plans_one_engine_per_model_from_the_defaults(tmp_path):
    p = plan(demo_config(), tmp_path)
    assert p.device == "cpu" and p.rates == DEFAULT_RATES
    assert p.total("models_pending") == DEMO_MODELS
    assert p.total("evaluations_pending") == DEMO_MODELS * DEMO_BENCHMARKS
    assert p.total("samples_pending") == DEMO_MODELS * DEMO_BENCHMARKS * DEMO_SAMPLES_PER_EVAL
    hours = p.device_hours()
    evaluations = DEMO_MODELS * DEMO_BENCHMARKS
    # defaults: a fifth of the 64-token budget per sample
    assert hours["tokens"] == pytest.approx(evaluations * DEMO_SAMPLES_PER_EVAL * 0.2 * 64)
    assert hours["startup"] == pytest.approx(DEMO_MODELS * 60 / 3600)
    per_pair = p.device_hours(engine_starts=evaluations)
    assert per_pair["startup"] - hours["startup"] == pytest.approx(
        (evaluations - DEMO_MODELS) * 60 / 3600
    )


def test_finished_samples_and_measured_records_change_the_plan(tmp_path):
    wc = demo_config()
    manifest = paths.fill(paths.RUN_MANIFEST, tmp_path, experiment="demo")
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"checkpoint_steps": [20, 40, 60, 80]}))
    for benchmark in wc.benchmarks:  # step-20 fully generated, step-40 on one benchmark
        for point in ["step-20"] + (["step-40"] if benchmark == "demo_l1" else []):
            samples = paths.fill(
                paths.SAMPLES, tmp_path, run="demo", point=point, benchmark=benchmark
            )
            samples.parent.mkdir(parents=True, exist_ok=True)
            samples.write_text("")
    write_record(tmp_path, "demo", "step-20", **record("cpu", 4.0, 10.0, 30000, 2400))
    write_record(tmp_path, "demo", "step-40", **record("cpu", 6.0, 20.0, 60000, 800))
    write_record(
        tmp_path, "other", "step-1", **record("NVIDIA H100 80GB HBM3", 50.0, 1.0, 1, 1)
    )  # other device

    p = plan(wc, tmp_path)
    demo = next(run for run in p.runs if run.run == "demo")
    assert (demo.models, demo.models_pending, demo.evaluations_pending) == (4, 3, 8)
    assert p.total("models_pending") == DEMO_MODELS - 1
    assert p.rates.tokens_per_second == pytest.approx(90000 / 30)
    assert p.rates.engine_start_seconds == pytest.approx(5.0)
    assert p.rates.tokens_per_sample == pytest.approx(90000 / 3200)
    assert p.rates.source["tokens_per_sample"] == "measured (2 generation records)"


def test_rates_from_another_workdir_keep_this_configs_sample_length(tmp_path):
    gpu_check = tmp_path / "gpu-check"
    write_record(gpu_check, "open_rs2", "step-2", **record("cpu", 30.0, 2.0, 5000, 100))
    p = plan(demo_config(), tmp_path / "workdir", rates_from=gpu_check)
    assert p.rates.tokens_per_second == pytest.approx(2500)
    assert p.rates.engine_start_seconds == pytest.approx(30)
    assert p.rates.tokens_per_sample is None  # 50 tokens/sample at 64 max_new_tokens is not ours
    assert "default: 0.2 x max_new_tokens" in format_plan(p)


def test_cli_plan_prints_both_engine_layouts(tmp_path, capsys):
    (tmp_path / "config").symlink_to(ROOT / "config")
    argv = [
        "plan",
        "--directory",
        str(tmp_path),
        "--configfile",
        str(ROOT / "config/demo/config.yaml"),
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    evaluations = DEMO_MODELS * DEMO_BENCHMARKS
    assert f"one engine per model: {DEMO_MODELS} engine starts" in out
    assert f"one engine per (model, benchmark): {evaluations} engine starts" in out
    assert out.splitlines()[-1] == (
        f"pending: {evaluations} evaluations of {DEMO_MODELS} models, "
        f"{evaluations * DEMO_SAMPLES_PER_EVAL} samples"
    )
