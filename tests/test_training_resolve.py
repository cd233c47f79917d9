"""``tina-repro resolve``: a row's GRPOConfig arguments and paper-to-TRL mapping without
training, computed by the same function a run writes resolved_config.json with."""

import dataclasses
import json
import math
import shutil

import pytest
from helpers import ROOT, paper_config, write_rows

from tina_repro.config.rows import as_params
from tina_repro.data.prepare import prepare_training_dataset
from tina_repro.files import roundtrip
from tina_repro.ops import cli
from tina_repro.ops.resolve import resolve_experiment
from tina_repro.train.context import TrainingContext
from tina_repro.train.provenance import resolve_run


def resolve(capsys, *args: str) -> dict:
    assert cli.main(["resolve", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_open_rs2_takes_log_probs_at_1_and_samples_at_0_7(capsys, tmp_path):
    rows = write_rows(tmp_path / "rows.parquet", n=40)
    out = resolve(capsys, "open_rs2", "--directory", str(ROOT), "--dataset", str(rows))
    paper = paper_config()
    context = TrainingContext.of(paper, "open_rs2")
    assert out.pop("evaluation") == {"prompt_tokens": "lighteval"}
    assert out == roundtrip(resolve_run(paper.experiments["open_rs2"], context, 2, "cuda", 40))
    grpo = out["settings"]["grpo"]
    assert grpo["temperature"] == 1.0
    assert grpo["generation_kwargs"] == {"temperature": 0.7, "top_p": 1.0}
    mapping = {entry["field"]: entry for entry in out["mapping"]}
    assert mapping["temperature"]["value"] == 1.0
    assert mapping["generation_kwargs"]["value"]["temperature"] == 0.7
    assert (out["device"], out["n_gpus"], grpo["use_vllm"]) == ("cuda", 2, True)
    assert out["schedule"] == {"max_steps": 1500, "stop_step": 850, "epoch_steps": 5}


def test_one_epoch_row_on_cpu_stops_at_its_stop_step(capsys, tmp_path):
    rows = write_rows(tmp_path / "rows.parquet", n=16000)
    args = ["open_r1", "--gpus", "0", "--directory", str(ROOT), "--dataset", str(rows)]
    out = resolve(capsys, *args)
    # no max_steps: the schedule spans the epoch of 16000/8 steps, training stops at 1900
    assert out["schedule"] == {"max_steps": 2000, "stop_step": 1900, "epoch_steps": 2000}
    grpo = out["settings"]["grpo"]
    assert (grpo["max_steps"], grpo["warmup_steps"]) == (2000, 200)
    assert (out["device"], grpo["use_vllm"], grpo["gradient_accumulation_steps"]) == (
        "cpu",
        False,
        8,
    )


def test_unprepared_dataset_counts_the_epoch_from_paper_size(capsys, caplog, tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    out = resolve(capsys, "open_thoughts", "--directory", str(tmp_path))
    assert out["schedule"] == {"max_steps": 66100 // 8, "stop_step": 2800, "epoch_steps": 8262}
    assert "curated_thoughts.parquet is not prepared yet" in caplog.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_run"], "'no_such_run' is not a row of config/experiments.tsv"),
        (["open_rs2", "--gpus", "-1"], "--gpus must be >= 0"),
    ],
)
def test_bad_requests_fail_with_one_line(capsys, args, message):
    assert cli.main(["resolve", *args, "--directory", str(ROOT)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_the_epoch_counts_the_rows_whose_gold_does_not_parse(tmp_path):
    """A one-epoch schedule (max_steps empty, as open_r1's) spans the rows Tina's data gave it,
    those no reward can grade included (data/normalize.py keeps them)."""
    source = tmp_path / "open_r1.jsonl"
    rows = [
        {"problem": f"Compute ${i}+1$.", "solution": f"$\\boxed{{{i + 1}}}$"} for i in range(1599)
    ]
    rows.insert(800, {"problem": "Name the empty box.", "solution": "\\boxed{}"})
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    paper = paper_config()
    spec = dataclasses.replace(paper.datasets["open_r1_math"], source=f"local:{source}")
    parquet = tmp_path / "open_r1.parquet"
    report = prepare_training_dataset(spec, parquet, tmp_path / "open_r1.report.json")
    assert report["kept_issues"]["gold_unparseable_accuracy"] == 1
    row = dataclasses.replace(paper.experiments["open_r1"], stop_step=None)
    assert row.max_steps is None
    resolution = resolve_experiment(paper, row, n_gpus=0, dataset_parquet=parquet)
    # 1600 prompts / 8 per step = 200 steps; without the kept row it would be 199
    assert resolution["schedule"] == {"max_steps": 200, "stop_step": 200, "epoch_steps": 200}
    assert resolution["settings"]["grpo"]["max_steps"] == 200


# The six recipes of the later commit, value for value as
# recipes/DeepSeek-R1-Distill-Qwen-1.5B/grpo/train_model_<recipe>.yaml reads at c6274cd (the
# "stop at" step from the max_steps comment; cosine_max_len from the launcher's --cosine_max_len;
# the Hub id from tina/utils/constant.py, commented out there for fastcurl and l1_*). Every recipe
# also sets lora_r 32, lora_alpha 128, lora_dropout 0.05, the seven projections, learning_rate
# 1e-6, cosine_with_min_lr with min_lr_rate 0.1, warmup_ratio 0.1, max_prompt_length 512,
# gradient_accumulation_steps 4, seed 42, temperature 0.7, bf16 and use_vllm, and none sets beta
# (the vendored default 0.04).
SHARED = {
    "lora_r": 32,
    "lora_alpha": 128,
    "lora_dropout": 0.05,
    "lora_target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "down_proj", "up_proj"]
    + ["gate_proj"],
    "learning_rate": 1e-6,
    "lr_scheduler_type": "cosine_with_min_lr",
    "min_lr_rate": 0.1,
    "warmup_ratio": 0.1,
    "max_prompt_length": 512,
    "gradient_accumulation_steps": 4,
    "seed": 42,
    "temperature": 0.7,
    "vllm_max_model_len": 4608,
}
# fastcurl, l1_exact and l1_max share DeepScaleR's recipe values and differ in data and rewards.
DEEPSCALER_LIKE = {
    "cosine_max_len": None,
    "num_generations": 4,
    "per_device_train_batch_size": 4,
    "max_completion_length": 3584,
    "max_steps": 11000,
    "stop_at": 5500,
    "save_steps": 100,
    "vllm_gpu_memory_utilization": 0.4,
    "scale_rewards": None,
}
RECIPES = {
    "open_rs3_format": {
        "recipe": "open_rs3_format_ablation",
        "hub": "knoveleng/open-rs",
        "rewards": ["format", "tag_count", "length", "reasoning_steps", "repetition_penalty"],
        "weights": [1.0, 1.0, 1.0, 1.0, 1.0],
        "cosine_max_len": None,
        "num_generations": 6,
        "per_device_train_batch_size": 6,
        "max_completion_length": 3584,
        "max_steps": 1500,
        "stop_at": 850,
        "save_steps": 50,
        "vllm_gpu_memory_utilization": 0.4,
        "scale_rewards": None,  # not set: GRPO as open_rs3
    },
    "open_rs3_long_completion": {
        "recipe": "open_rs3_long_completion_ablation",
        "hub": "knoveleng/open-rs",
        "rewards": ["format", "cosine"],
        "weights": [1.0, 2.0],
        "cosine_max_len": 3584,
        "num_generations": 6,
        "per_device_train_batch_size": 6,
        "max_completion_length": 8960,
        "max_steps": 1500,
        "stop_at": 850,
        "save_steps": 50,
        "vllm_gpu_memory_utilization": 0.7,
        "scale_rewards": "scale_reward: false",  # the typo: dropped, so GRPO as released
    },
    "ii_thought": {
        "recipe": "2thought",
        "hub": "Intelligent-Internet/II-Thought-RL-v0-Math-50K",
        "rewards": ["format", "accuracy"],
        "weights": [1.0, 2.0],
        "cosine_max_len": None,
        "num_generations": 4,
        "per_device_train_batch_size": 4,
        "max_completion_length": 3584,
        "max_steps": 13320,
        "stop_at": 6660,
        "save_steps": 100,
        "vllm_gpu_memory_utilization": 0.4,
        "scale_rewards": None,
    },
    "fastcurl": {
        **DEEPSCALER_LIKE,
        "recipe": "fastcurl",
        "hub": "Nickyang/FastCuRL",
        "rewards": ["format", "accuracy"],
        "weights": [1.0, 2.0],
    },
    "l1_exact": {
        **DEEPSCALER_LIKE,
        "recipe": "l1_exact",
        "hub": "agentica-org/DeepScaleR-Preview-Dataset",
        "rewards": ["length_l1_exact"],
        "weights": [1.0],
    },
    "l1_max": {
        **DEEPSCALER_LIKE,
        "recipe": "l1_max",
        "hub": "agentica-org/DeepScaleR-Preview-Dataset",
        "rewards": ["length_l1_max"],
        "weights": [1.0],
    },
}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_later_recipes_resolve_to_their_yaml_field_by_field(capsys, caplog, name):
    recipe = {**SHARED, **RECIPES[name]}
    wc = paper_config()
    row = wc.experiments[name]
    assert f"train_model_{recipe['recipe']}.yaml @c6274cd" in row.comment
    assert wc.datasets[row.dataset].source == recipe["hub"]
    out = resolve(capsys, name, "--directory", str(ROOT))  # on the row's 2 GPUs
    grpo, lora = out["settings"]["grpo"], out["settings"]["lora"]
    assert [r["name"] for r in out["settings"]["rewards"]] == recipe["rewards"]
    assert grpo["reward_weights"] == recipe["weights"]
    cosine = [r["params"]["max_len"] for r in out["settings"]["rewards"] if r["name"] == "cosine"]
    assert cosine == ([recipe["cosine_max_len"]] if recipe["cosine_max_len"] else [])
    assert (lora["r"], lora["lora_alpha"], lora["lora_dropout"]) == (
        recipe["lora_r"],
        recipe["lora_alpha"],
        recipe["lora_dropout"],
    )
    assert lora["target_modules"] == recipe["lora_target_modules"]
    for field in (
        "learning_rate",
        "lr_scheduler_type",
        "num_generations",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "max_completion_length",
        "max_steps",
        "save_steps",
        "seed",
        "vllm_gpu_memory_utilization",
    ):
        assert grpo[field] == recipe[field], field
    assert grpo["lr_scheduler_kwargs"] == {"min_lr_rate": recipe["min_lr_rate"]}
    assert grpo["warmup_steps"] == math.ceil(recipe["warmup_ratio"] * recipe["max_steps"])
    assert grpo["generation_kwargs"]["temperature"] == recipe["temperature"]
    assert grpo["vllm_max_model_length"] == recipe["vllm_max_model_len"]
    assert out["schedule"]["stop_step"] == recipe["stop_at"]
    mapping = {entry["field"]: entry for entry in out["mapping"]}
    assert mapping["max_prompt_length"]["paper"] == recipe["max_prompt_length"]
    # no recipe sets beta or a working scale_rewards: TRL 0.15.2's GRPO with beta 0.04
    assert (grpo["beta"], grpo["loss_type"], grpo["scale_rewards"]) == (0.04, "grpo", "group")


def test_long_completion_intended_reading_differs_only_in_the_loss(capsys):
    wc = paper_config()
    released = as_params(wc.experiments["open_rs3_long_completion"])
    intended = as_params(wc.experiments["open_rs3_long_completion_drgrpo_tina"])
    assert {k for k in released if released[k] != intended[k]} == {
        "name",
        "loss_type",
        "scale_rewards",
        "comment",
    }
    out = resolve(capsys, "open_rs3_long_completion_drgrpo_tina", "--directory", str(ROOT))
    grpo = out["settings"]["grpo"]
    # Tina's scale_rewards=False trainer, as open_rs3_drgrpo_tina (docs/paper.md#drgrpo-typo)
    assert (grpo["loss_type"], grpo["scale_rewards"], grpo["steps_per_generation"]) == (
        "bnpo",
        "none",
        1,
    )
