"""LoRA-GRPO training: batch geometry, the paper-to-TRL-1.16 mapping, input checks, and real CPU
runs of ``train`` on the tiny model (checkpoints, logs, resolved config, manifest, stop rule)."""

import json
import math
import os

import pandas as pd
import pytest
from helpers import SEVEN, paper_config, tiny_context, tiny_job, tiny_row, write_rows

from tina_repro import rewards
from tina_repro.demo.tiny_model import build_tiny_model
from tina_repro.files import roundtrip
from tina_repro.train.callbacks import TrainingDivergedError
from tina_repro.train.checkpoints import CHECKPOINT_FILES, complete_checkpoints
from tina_repro.train.launch import launch_command
from tina_repro.train.mapping import batch_geometry, grpo_settings, reward_settings
from tina_repro.train.prompts import (
    _prompt_length,
    load_tokenizer,
    prepare_prompts,
    read_training_rows,
    target_lengths,
)
from tina_repro.train.provenance import resolve_run
from tina_repro.train.trainer import train

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is first imported (lazily)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0, size="test")


@pytest.fixture(scope="module")
def paper():
    return paper_config()


# --- batch geometry -----------------------------------------------------------------------------


def test_batch_geometry_keeps_the_papers_global_batch():
    # paper: 2 GPUs x 4 accumulation x 1 prompt group (G completions) per micro-batch
    assert batch_geometry(8, 6, 2) == {
        "per_device_train_batch_size": 6,
        "gradient_accumulation_steps": 4,
        "n_processes": 2,
        "prompts_per_step": 8,
        "prompts_per_micro_batch": 1,
        "completions_per_step": 48,
    }
    for n_gpus, accumulation in ((0, 8), (1, 8), (4, 2), (8, 1)):
        geometry = batch_geometry(8, 4, n_gpus)
        assert geometry["per_device_train_batch_size"] == 4
        assert geometry["gradient_accumulation_steps"] == accumulation
        assert accumulation * geometry["n_processes"] == 8


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((8, 4, 3), "cannot be split evenly over 3"),
        ((8, 1, 2), "num_generations must be an integer >= 2"),
        ((0, 4, 2), "prompts_per_step must be an integer >= 1"),
        ((8, 4, -1), "n_gpus must be an integer >= 0"),
    ],
)
def test_batch_geometry_rejects_impossible_layouts(args, message):
    with pytest.raises(ValueError, match=message):
        batch_geometry(*args)


# --- the paper-to-TRL-1.16 mapping --------------------------------------------------------------

PAPER_COMMON = {
    "num_iterations": 1,
    "epsilon": 0.2,
    "epsilon_high": None,
    "delta": None,
    "importance_sampling_level": "token",
    "use_bias_correction_kl": False,
    "vllm_importance_sampling_correction": False,
    "mask_truncated_completions": False,
    "multi_objective_aggregation": "sum_then_normalize",
    "top_entropy_quantile": 1.0,
    "entropy_coef": 0.0,
    "off_policy_mask_threshold": None,
    "disable_dropout": False,
    "shuffle_dataset": True,
    "temperature": 1.0,  # log-probs of the raw logits, as the paper's trainer
    "generation_kwargs": {"temperature": 0.7, "top_p": 1.0},  # what the rollouts sample with
    "top_p": 1.0,
    "top_k": 0,
    "min_p": None,
    "repetition_penalty": 1.0,
    "beta": 0.04,
    "learning_rate": 1e-6,
    "lr_scheduler_type": "cosine_with_min_lr",
    "lr_scheduler_kwargs": {"min_lr_rate": 0.1},
    "optim": "adamw_torch",
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
    "save_strategy": "steps",
    "save_total_limit": None,
    "save_only_model": False,
    "logging_steps": 1,
    "logging_nan_inf_filter": False,
    "report_to": "none",
    "log_completions": False,
    "seed": 42,
    "trust_remote_code": False,
    "remove_unused_columns": False,
    "max_completion_length": 3584,
}
GPU_COMMON = {
    "bf16": True,
    "use_cpu": False,
    "gradient_checkpointing": True,
    "gradient_checkpointing_kwargs": {"use_reentrant": False},
    "model_init_kwargs": {"dtype": "bfloat16", "attn_implementation": "sdpa"},
    "use_vllm": True,
    "vllm_mode": "colocate",
    "vllm_gpu_memory_utilization": 0.4,
    "vllm_tensor_parallel_size": 1,
    "vllm_enable_sleep_mode": False,
    "vllm_max_model_length": 4608,
}


def test_open_rs2_on_two_gpus_maps_to_exact_grpo_config(paper):
    kwargs, mapping = grpo_settings(paper.experiments["open_rs2"], "bfloat16", 2, "cuda")
    assert kwargs == {
        **PAPER_COMMON,
        **GPU_COMMON,
        "per_device_train_batch_size": 6,
        "gradient_accumulation_steps": 4,
        "steps_per_generation": 4,
        "num_generations": 6,
        "loss_type": "grpo",
        "scale_rewards": "group",
        "reward_weights": [1.0, 2.0],
        "warmup_steps": 150,  # ceil(0.1 x 1500), as transformers 4.x derived warmup_ratio
        "max_steps": 1500,
        "save_steps": 50,
    }
    by_field = {entry["field"]: entry for entry in mapping}
    assert set(kwargs) <= set(by_field)  # every value we set is explained
    for field, trl_default in (
        ("beta", 0.0),
        ("loss_type", "dapo"),
        ("temperature", 1.0),
        ("use_bias_correction_kl", True),
        ("vllm_importance_sampling_correction", True),
        ("logging_steps", 10),
        ("vllm_gpu_memory_utilization", 0.3),
    ):
        assert by_field[field]["trl_default"] == trl_default, field
        assert by_field[field]["value"] == kwargs[field]
    assert by_field["temperature"]["why"].startswith("log-prob temperature")
    assert by_field["generation_kwargs"]["value"] == {"temperature": 0.7, "top_p": 1.0}
    assert by_field["max_prompt_length"]["trl_default"] == "removed"
    assert by_field["max_prompt_length"]["paper"] == 512
    assert "dataset preparation" in by_field["max_prompt_length"]["why"]
    assert all(entry["why"] for entry in mapping)


def test_drgrpo_rows_as_released_as_tina_meant_and_trls(paper):
    def settings(name):
        return grpo_settings(paper.experiments[name], "bfloat16", 2, "cuda")

    open_rs3, _ = settings("open_rs3")
    released, mapping = settings("open_rs3_drgrpo")
    # The typo was dropped by TRL 0.15.2: the published run had Open-RS3's recipe.
    assert released == open_rs3
    assert (released["loss_type"], released["scale_rewards"]) == ("grpo", "group")

    tina, mapping = settings("open_rs3_drgrpo_tina")
    assert tina == {
        **open_rs3,
        "loss_type": "bnpo",
        "scale_rewards": "none",
        # one generation per micro-batch: each micro-batch is one whole prompt group
        "steps_per_generation": 1,
    }
    by_field = {entry["field"]: entry for entry in mapping}
    assert "micro-batch" in by_field["loss_type"]["paper"]
    assert "mix prompt groups" in by_field["steps_per_generation"]["why"]
    assert by_field["reward parameters"]["value"] == {"format": {}, "cosine": {"max_len": 3584}}

    trl_drgrpo, mapping = settings("open_rs3_drgrpo_trl")
    assert trl_drgrpo == {**open_rs3, "loss_type": "dr_grpo", "scale_rewards": "none"}
    loss = next(entry for entry in mapping if entry["field"] == "loss_type")
    assert loss["paper"] == "not available in TRL 0.15.2 nor in Tina's trainer"


def test_a_table_field_the_installed_trl_lacks_raises(paper):
    from tina_repro.train.mapping import REMOVED_FIELDS, Setting, resolve_table, run_layout

    layout = run_layout(paper.experiments["open_rs2"], "bfloat16", 2, "cuda")
    renamed = (Setting("vllm_max_model_len", 4608, 4608, "renamed in TRL 1.x"),)
    with pytest.raises(ValueError, match="TRL 1.16.0 has no field 'vllm_max_model_len'"):
        resolve_table(layout, renamed)
    # A field listed as removed is kept in the mapping, never passed to GRPOConfig.
    assert "max_prompt_length" in REMOVED_FIELDS
    kwargs, mapping = resolve_table(layout, (Setting("max_prompt_length", 512, None, "removed"),))
    assert "max_prompt_length" not in kwargs
    assert mapping[0]["trl_default"] == "removed"


def test_cpu_settings_build_a_grpo_config_and_one_epoch_rows_need_the_dataset_size(paper):
    from trl import GRPOConfig

    row = paper.experiments["open_r1"]  # no max_steps: the schedule spans one epoch
    with pytest.raises(ValueError, match="pass n_prompts"):
        grpo_settings(row, "bfloat16", 0, "cpu")
    kwargs, _ = grpo_settings(row, "bfloat16", 0, "cpu", n_prompts=93700)
    assert kwargs["max_steps"] == 93700 // 8
    assert kwargs["warmup_steps"] == math.ceil(0.1 * (93700 // 8))
    assert kwargs["per_device_train_batch_size"] == 8
    assert kwargs["gradient_accumulation_steps"] == 8  # one CPU process takes all 8 prompts
    assert (kwargs["bf16"], kwargs["use_cpu"], kwargs["gradient_checkpointing"]) == (
        False,
        True,
        False,
    )
    assert kwargs["use_vllm"] is False
    assert not any(
        key.startswith("vllm_") and key != "vllm_importance_sampling_correction" for key in kwargs
    )
    assert kwargs["model_init_kwargs"]["dtype"] == "float32"
    config = GRPOConfig(output_dir="unused", **kwargs)  # every key is a real TRL 1.16 field
    assert config.generation_batch_size == 8 * 8
    assert config.get_warmup_steps(config.max_steps) == kwargs["warmup_steps"]


def test_reward_parameters_follow_the_row():
    specs = reward_settings(tiny_row(rewards="length:1,cosine:2", cosine_max_len=3584))
    assert specs == [
        {"name": "length", "weight": 1.0, "params": {"group_size": 4}},
        {"name": "cosine", "weight": 2.0, "params": {"max_len": 3584}},
    ]
    # the L1 rewards also compare a prompt group's lengths (all equal: 0), one call per group
    assert reward_settings(tiny_row(rewards="length_l1_max:1")) == [
        {"name": "length_l1_max", "weight": 1.0, "params": {"group_size": 4}}
    ]


def test_launch_command_runs_this_module_under_accelerate(tmp_path):
    argv = launch_command(tmp_path / "args.json", 2, main_process_port=29511)
    assert argv[1:3] == ["-m", "accelerate.commands.launch"]
    joined = " ".join(argv)
    for part in (
        "--num_processes 2",
        "--multi_gpu",
        "--mixed_precision bf16",
        "--main_process_port 29511",
        f"-m tina_repro.train.launch --args {tmp_path}",
    ):
        assert part in joined
    with pytest.raises(ValueError):
        launch_command("args.json", 0)


# --- data preparation and input checks ----------------------------------------------------------


def test_read_training_rows_keeps_tinas_rows_skips_non_text_and_rejects_bad_tables(tmp_path):
    path = tmp_path / "rows.parquet"
    pd.DataFrame(
        {"problem": ["1+1?", " ", "2+2?", None], "solution": ["$2$", "$0$", "", "$1$"]}
    ).to_parquet(path)
    # a blank problem and an empty (unparseable) gold are rows Tina trained on
    table, skipped = read_training_rows(path)
    assert skipped == 1 and table["problem"].tolist() == ["1+1?", " ", "2+2?"]
    assert table["row_id"].tolist() == [0, 1, 2]

    pd.DataFrame({"problem": ["1+1?"], "answer": ["2"]}).to_parquet(path)
    with pytest.raises(ValueError, match="missing column.*solution"):
        read_training_rows(path)
    pd.DataFrame({"problem": [None], "solution": ["$2$"]}).to_parquet(path)
    with pytest.raises(ValueError, match="no usable training rows"):
        read_training_rows(path)


def test_prepare_prompts_left_truncates_long_problems_only(tiny_dir):
    tokenizer = load_tokenizer(tiny_dir, tiny_context())
    system = "Think, then answer."
    long_problem = "Add these numbers: " + " + ".join(str(n) for n in range(200)) + ". Total?"
    table = pd.DataFrame(
        {
            "problem": ["What is $2+3$?", long_problem],
            "solution": ["$5$", "$19900$"],
            "row_id": [0, 1],
        }
    )
    dataset, stats = prepare_prompts(table, tokenizer, system, max_prompt_length=96)
    assert stats["n_truncated_prompts"] == 1
    assert stats["max_prompt_tokens_before_truncation"] > 96
    short, cut = dataset["prompt"]
    assert short == [
        {"role": "system", "content": system},
        {"role": "user", "content": "What is $2+3$?"},
    ]
    assert cut[0]["content"] == system  # the system prompt survives the cut
    assert long_problem.endswith(cut[1]["content"])  # the tail of the problem is kept
    assert _prompt_length(tokenizer, cut) <= 96
    assert dataset["solution"] == ["$5$", "$19900$"]
    with pytest.raises(ValueError, match="alone take"):
        prepare_prompts(table, tokenizer, system, max_prompt_length=4)


def test_target_lengths_are_tinas_draws_after_set_seed():
    # make_conv_for_grpo_l1 right after set_seed(42): random.seed(42), then one randint(100,
    # 4000) per row in dataset order (values of CPython's Mersenne Twister, fixed since 3.2).
    assert target_lengths([0, 1, 2, 3, 4, 5], 100, 4000, 42) == [2719, 556, 202, 3137, 1226, 1103]
    # a row dropped at preparation (row_id 1 and 3 missing) leaves the others' budgets alone
    assert target_lengths([0, 2, 4, 5], 100, 4000, 42) == [2719, 202, 1226, 1103]
    assert target_lengths([0, 1, 2], 100, 4000, 43) == [257, 1271, 2951]  # a replicate's seed
    assert target_lengths([], 100, 4000, 42) == []
    with pytest.raises(ValueError, match="need 1 <= low <= high"):
        target_lengths([0], 400, 100, 42)


def test_prepare_prompts_appends_each_budget_and_keeps_it_as_a_column(tiny_dir):
    tokenizer = load_tokenizer(tiny_dir, tiny_context())
    table = pd.DataFrame(
        {"problem": ["What is $2+3$?", "What is $4+4$?"], "solution": ["$5$", "$8$"]}
    ).assign(row_id=[0, 3])
    dataset, stats = prepare_prompts(table, tokenizer, "\nSystem.\n", 96, budgets=[2719, 3137])
    assert [prompt[0]["content"] for prompt in dataset["prompt"]] == [
        "\nSystem.\n\nThink for 2719 tokens.",
        "\nSystem.\n\nThink for 3137 tokens.",
    ]
    assert dataset["target_length"] == [2719, 3137]
    assert stats["target_length_min_max"] == [2719, 3137]
    plain, _ = prepare_prompts(table, tokenizer, "System.", 96)
    assert "target_length" not in plain.column_names
    with pytest.raises(ValueError, match="1 target lengths for 2 rows"):
        prepare_prompts(table, tokenizer, "System.", 96, budgets=[100])


@pytest.mark.parametrize(
    ("row_overrides", "table", "error", "message"),
    [
        ({"rewards": "format:1,speed:2"}, None, ValueError, "unknown reward 'speed'"),
        ({}, {"problem": ["1+1?"], "answer": ["2"]}, ValueError, "solution"),
        ({}, {"problem": [], "solution": []}, ValueError, "no usable training rows"),
        ({"gpus": 2}, None, RuntimeError, "config/demo/config.yaml"),
        ({"prompts_per_step": 3}, None, ValueError, "fewer than one optimizer step"),
        ({"stop_step": 30}, None, ValueError, "beyond max_steps"),
    ],
)
def test_bad_inputs_fail_before_any_model_is_loaded(tmp_path, row_overrides, table, error, message):
    parquet = tmp_path / "rows.parquet"
    if table is None:
        write_rows(parquet, n=2)
    else:
        pd.DataFrame(table, dtype=object).to_parquet(parquet)
    out = tmp_path / "out"
    with pytest.raises(error, match=message):
        train(tiny_job(tiny_row(**row_overrides), parquet, tmp_path / "no-model", out))
    assert not out.exists()  # nothing was built or written


# --- real CPU runs on the tiny model --------------------------------------------------------------


def cosine_lr(row, step: int) -> float:
    """transformers' cosine_with_min_lr factor at scheduler step ``step`` over max_steps."""
    warmup = math.ceil(row.warmup_ratio * row.max_steps)
    if step < warmup:
        return row.learning_rate * step / max(1, warmup)
    progress = (step - warmup) / max(1, row.max_steps - warmup)
    factor = 0.5 * (1 + math.cos(math.pi * progress))
    return row.learning_rate * (factor * (1 - row.min_lr_rate) + row.min_lr_rate)


@pytest.mark.slow
def test_ten_step_cpu_run_saves_logs_and_stops_at_stop_step(tmp_path, tiny_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    row = tiny_row()  # max_steps 20 (schedule), stop_step 10, save_steps 5
    out = tmp_path / "train" / "tiny"
    manifest = train(tiny_job(row, write_rows(tmp_path / "rows.parquet"), tiny_dir, out))

    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-10", "checkpoint-5"]
    for step in (5, 10):
        files = {p.name for p in (out / f"checkpoint-{step}").iterdir()}
        assert set(CHECKPOINT_FILES) | {"rng_state.pth"} <= files
    base = AutoModelForCausalLM.from_pretrained(tiny_dir)
    adapted = PeftModel.from_pretrained(base, out / "checkpoint-10")
    lora_b = [p for n, p in adapted.named_parameters() if "lora_B" in n]
    assert any(p.abs().sum() > 0 for p in lora_b)  # the adapter moved away from its zero init

    log = pd.read_csv(out / "log_history.csv")
    assert log["step"].tolist() == list(range(1, 11))
    for column in (
        "loss",
        "reward",
        "reward_std",
        "rewards/format/mean",
        "rewards/length/mean",
        "completions/mean_length",
        "completions/clipped_ratio",
        "kl",
        "entropy",
        "learning_rate",
        "grad_norm",
        "num_tokens",
        "step_time",
        "tokens_generated",
        "tokens_trained",
    ):
        assert column in log.columns and log[column].notna().all(), column
    # the schedule spans max_steps=20 although training stopped at 10: the lr logged at step s
    # is the one its update used, the schedule value after s-1 scheduler steps
    for step, lr in zip(log["step"], log["learning_rate"], strict=True):
        assert lr == pytest.approx(cosine_lr(row, step - 1), rel=1e-6)
    assert log["learning_rate"].iloc[-1] > row.learning_rate * row.min_lr_rate * 1.5
    assert (log["tokens_generated"] <= 8 * row.max_completion_length).all()

    resolved = json.loads((out / "resolved_config.json").read_text())
    # what `tina-repro resolve` prints is what the run wrote
    resolution = roundtrip(resolve_run(row, tiny_context(), 0, "cpu", 8))
    assert {key: resolved[key] for key in resolution if key != "settings"} == {
        key: value for key, value in resolution.items() if key != "settings"
    }
    settings = resolution["settings"]
    assert {key: resolved["settings"][key] for key in settings} == settings
    grpo = resolved["grpo_config"]
    assert (grpo["max_steps"], grpo["warmup_steps"], grpo["beta"], grpo["loss_type"]) == (
        20,
        2,
        0.04,
        "grpo",
    )
    assert grpo["temperature"] == 1.0 and grpo["generation_kwargs"]["temperature"] == 0.7
    assert grpo["use_bias_correction_kl"] is False and grpo["bf16"] is False
    assert grpo["per_device_train_batch_size"] == 4 and grpo["gradient_accumulation_steps"] == 2
    assert resolved["lora_config"]["r"] == 8
    # in the row's order, in every checkpoint (PEFT would list a set in a random order)
    assert resolved["lora_config"]["target_modules"] == SEVEN.split(",")
    for step in (5, 10):
        config = json.loads((out / f"checkpoint-{step}" / "adapter_config.json").read_text())
        assert config["target_modules"] == SEVEN.split(",")
    assert resolved["row"]["name"] == "tiny" and resolved["schedule"]["stop_step"] == 10
    assert {e["field"] for e in resolved["mapping"]} >= {"beta", "loss_type", "max_prompt_length"}
    assert resolved["versions"]["trl"] == "1.16.0"
    assert resolved["dataset"]["n_prompts"] == 8 and resolved["dataset"]["skipped_rows"] == 0
    assert "commit" in resolved["git"]

    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["checkpoint_steps"] == [5, 10] and manifest["final_step"] == 10
    assert (manifest["stop_step"], manifest["max_steps"], manifest["epoch_steps"]) == (10, 20, 4)
    assert manifest["stop_reason"] == "stop_step" and manifest["n_sessions"] == 1
    assert manifest["device"] == "cpu" and manifest["n_gpus"] == 0
    assert manifest["gpu_hours"] == 0 and manifest["device_hours"] > 0
    assert manifest["peak_rss_mb"] > 100 and manifest["peak_gpu_memory_mb"] is None
    assert manifest["tokens_generated_total"] == pytest.approx(log["tokens_generated"].sum())
    assert manifest["tokens_trained_total"] == log["num_tokens"].iloc[-1]
    assert manifest["tokens_trained_per_step"] == pytest.approx(log["num_tokens"].iloc[-1] / 10)


@pytest.mark.slow
def test_l1_reward_trains_on_each_prompts_target_length(tmp_path, tiny_dir):
    # An L1 row end to end on CPU: the budgets reach the prompts and, through TRL's reward
    # kwargs, the reward; a missing column would stop training with an error.
    row = tiny_row(rewards="length_l1_exact:1", max_steps=4, stop_step=2, save_steps=2)
    context = tiny_context(target_length=(5, 20))
    out = tmp_path / "train" / "l1"
    parquet = write_rows(tmp_path / "rows.parquet")
    manifest = train(tiny_job(row, parquet, tiny_dir, out, context=context))
    assert manifest["checkpoint_steps"] == [2]
    log = pd.read_csv(out / "log_history.csv")
    assert log["rewards/length_l1_exact/mean"].notna().all()
    resolved = json.loads((out / "resolved_config.json").read_text())
    budgets = target_lengths(list(range(8)), 5, 20, row.seed)
    assert resolved["dataset"]["target_length_min_max"] == [min(budgets), max(budgets)]
    assert resolved["context"]["target_length"] == [5, 20]


@pytest.mark.slow
def test_nan_reward_stops_with_an_error_naming_the_step(tmp_path, tiny_dir, monkeypatch):
    def unscorable(completions, **kwargs):
        return [None] * len(completions)

    unscorable.__name__ = "format"
    real_build = rewards.build
    monkeypatch.setattr(
        rewards,
        "build",
        lambda name, **params: unscorable if name == "format" else real_build(name, **params),
    )
    out = tmp_path / "out"
    with pytest.raises(TrainingDivergedError, match="reward is None at step 1"):
        train(
            tiny_job(
                tiny_row(rewards="format:1"), write_rows(tmp_path / "r.parquet"), tiny_dir, out
            )
        )
    assert not (out / "manifest.json").exists()
    assert not list(out.glob("checkpoint-*"))
    assert (out / "log_history.csv").is_file()  # the failing step's metrics are kept


@pytest.mark.slow
def test_wall_clock_budget_stops_early_with_a_checkpoint(tmp_path, tiny_dir):
    out = tmp_path / "out"
    parquet = write_rows(tmp_path / "rows.parquet")
    manifest = train(tiny_job(tiny_row(), parquet, tiny_dir, out, max_wall_seconds=0.0))
    assert manifest["stop_reason"] == "wall_time"
    assert manifest["final_step"] == 1 and manifest["checkpoint_steps"] == [1]
    assert manifest["stop_step"] == 10  # the row's stop is recorded, not reached
    assert complete_checkpoints(out).keys() == {1}
