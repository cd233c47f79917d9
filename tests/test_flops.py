"""Parameter counts and training FLOPs from logged tokens, checked against hand arithmetic and
against real transformers/PEFT models."""

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest
from helpers import ROOT, tiny_row

from tina_repro.results import baseline_flops, flops

FIXTURES = Path(__file__).parent / "fixtures" / "results"
BASE = FIXTURES / "deepseek_r1_distill_qwen_1.5b"
TINA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "down_proj", "up_proj", "gate_proj"]
# Per layer of DeepSeek-R1-Distill-Qwen-1.5B: q, o 1536x1536; k, v 1536x256; three MLP 1536x8960.
LAYER_MATMUL = 2 * 1536 * 1536 + 2 * 1536 * 256 + 3 * 1536 * 8960
N = 28 * LAYER_MATMUL + 151936 * 1536
N_LORA = 28 * 32 * (2 * (1536 + 1536) + 2 * (1536 + 256) + 3 * (1536 + 8960))


def test_base_model_counts():
    shape = flops.ModelShape.from_file(BASE)
    assert shape.matmul_params() == N == 1_543_569_408
    # 1.78 B on the model card: layers, biases, norms and two untied 151,936 x 1536 embeddings.
    assert shape.total_params() == 1_777_088_000
    # r=32 on the seven projections of the 28 Qwen2-1.5B layers is about 36.9 M.
    assert shape.lora_params(32, TINA_TARGETS) == N_LORA == 36_929_536
    assert shape.lora_params(4, TINA_TARGETS) == N_LORA // 8


def test_counts_match_real_transformers_and_peft_models():
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=300,
        tie_word_embeddings=True,
    )
    model = Qwen2ForCausalLM(config)
    shape = flops.ModelShape.from_config(config.to_dict())
    assert shape.total_params() == model.num_parameters()
    peft_model = get_peft_model(model, LoraConfig(r=8, target_modules=TINA_TARGETS[:4]))
    trainable, _ = peft_model.get_nb_trainable_parameters()
    assert shape.lora_params(8, TINA_TARGETS[:4]) == trainable


def test_unknown_target_module_is_named():
    shape = flops.ModelShape.from_file(BASE)
    with pytest.raises(ValueError, match="lm_head"):
        shape.lora_params(8, ["q_proj", "lm_head"])


def token_log():
    """Two steps of 32 completions (8 prompts x G=4), 100 prompt tokens per completion."""
    return pd.DataFrame(
        {
            "step": [1, 2],
            "completions/mean_length": [1000.0, 500.0],
            "num_tokens": [32 * 1100, 32 * 1100 + 32 * 600],
        }
    )


def test_step_tokens():
    tokens = flops.step_tokens(token_log(), completions_per_step=32)
    assert tokens["completions"].tolist() == [32, 32]
    assert tokens["completion_tokens"].tolist() == [32_000.0, 16_000.0]
    assert tokens["prompt_tokens"].tolist() == [3_200.0, 3_200.0]


def test_flops_of_a_token_log():
    row = tiny_row(lora_r=32, lora_target_modules=tuple(TINA_TARGETS), num_generations=4, gpus=1)
    row = dataclasses.replace(row, beta=0.04, use_vllm=True)
    result = flops.run_flops(token_log(), flops.ModelShape.from_file(BASE), row, 32)
    total = result["flops"].drop(columns="step").sum()
    seen = 48_000 + 6_400
    # vLLM prefills each prompt once for its 4 samples: 6,400 / 4 prompt tokens.
    assert total["rollout_flops"] == 2 * N * (6_400 / 4 + 48_000) == 99_200 * N
    assert total["logprob_flops"] == 2 * N * seen
    assert total["lora_train_flops"] == (4 * N + 6 * N_LORA) * seen
    assert total["total_lora_flops"] == 99_200 * N + 2 * N * seen + (4 * N + 6 * N_LORA) * seen
    assert total["full_ft_flops"] == 99_200 * N + 2 * N * seen + 6 * N * seen
    assert total["total_lora_flops"] == 668_996_940_595_200  # 6.69e14
    # Without vLLM every completion prefills its prompt; beta 0 drops the reference pass.
    row = dataclasses.replace(row, use_vllm=False, beta=0.0)
    total = flops.run_flops(token_log(), flops.ModelShape.from_file(BASE), row, 32)["flops"]
    assert total["rollout_flops"].sum() == 2 * N * seen
    assert total["logprob_flops"].sum() == 0


def test_rows_covering_several_steps_and_bad_logs():
    log = pd.DataFrame(
        {"step": [2, 4], "completions/mean_length": [10.0, 20.0], "num_tokens": [80, 200]}
    )
    tokens = flops.step_tokens(log, completions_per_step=2)
    assert tokens["completions"].tolist() == [4, 4]
    assert tokens["prompt_tokens"].tolist() == [40.0, 40.0]
    with pytest.raises(ValueError, match="num_tokens must grow"):
        flops.step_tokens(log.assign(num_tokens=[10, 20]), completions_per_step=2)
    with pytest.raises(ValueError, match="lacks column"):
        flops.step_tokens(log.drop(columns="num_tokens"), completions_per_step=2)


RECIPES = ROOT / "config" / "paper_results" / "baseline_recipes.csv"


def test_a_recipe_counts_rollout_log_prob_passes_and_full_training():
    recipes = {r.baseline: r for r in baseline_flops.read_recipes(RECIPES)}
    deepscaler = recipes["deepscaler_full"]
    tokens = 128 * 11.2457 * (110 + 5817)
    assert deepscaler.tokens_per_step == pytest.approx(tokens)
    per_step = deepscaler.flops_per_step(N)
    # verl: reference and old-policy log-prob passes, then one full-parameter update.
    assert per_step == {
        "rollout_flops": 2 * N * deepscaler.tokens_per_step,
        "logprob_flops": 2 * N * deepscaler.tokens_per_step * 2,
        "full_ft_flops": 6 * N * deepscaler.tokens_per_step,
    }
    [row] = baseline_flops.baseline_flops_rows([deepscaler], N, {}, {"deepscaler_full": 48.74})
    assert row["full_ft_flops"] == pytest.approx(12 * N * tokens * 1750)
    assert math.isnan(row["best_average"]) and row["published_average"] == 48.74
    assert row["kind"] == "full_parameter_baseline"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"released_step": 300}, "line 2: released_step 300 is outside the run's 1..240"),
        ({"mean_completion_tokens": -1}, r"line 2: \['mean_completion_tokens'\] must be numbers"),
        ({"old_policy_pass": None}, r"line 2: \['old_policy_pass'\] must be numbers"),
    ],
)
def test_bad_recipes_name_the_line_and_the_column(tmp_path, change, message):
    frame = pd.read_csv(RECIPES).head(1)
    for column, value in change.items():
        frame[column] = value
    frame.to_csv(tmp_path / "recipes.csv", index=False)
    with pytest.raises(ValueError, match=message):
        baseline_flops.read_recipes(tmp_path / "recipes.csv")
    frame.drop(columns="assumption_label").to_csv(tmp_path / "recipes.csv", index=False)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['assumption_label'\]"):
        baseline_flops.read_recipes(tmp_path / "recipes.csv")
