"""The offline tiny model: reloadable, R1-style tokenizer and template, deterministic per seed."""

import json
import os

import pytest

from tina_repro.demo.tiny_model import (
    BOS,
    EOS,
    GENERATION_PROMPT,
    SIZES,
    THINK_CLOSE,
    build_tiny_model,
    synthetic_corpus,
)

os.environ["HF_HUB_OFFLINE"] = "1"  # set before transformers is first imported (lazily below)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0, size="test")


@pytest.fixture(scope="module")
def tokenizer(tiny_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_dir)


@pytest.fixture(scope="module")
def model(tiny_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_dir)


def test_reload_offline_gives_qwen2_float32_with_tied_embeddings(tiny_dir, tokenizer, model):
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert model.dtype.is_floating_point and str(model.dtype) == "torch.float32"
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert len(tokenizer) <= model.config.vocab_size
    assert model.config.vocab_size % 64 == 0
    assert tokenizer.padding_side == "left"
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == (BOS, EOS, "<|pad|>")
    generation = model.generation_config
    assert generation.bos_token_id == tokenizer.bos_token_id
    assert generation.eos_token_id == tokenizer.eos_token_id
    assert generation.pad_token_id == tokenizer.pad_token_id


def test_tiny_model_json_records_the_build(tiny_dir, tokenizer, model):
    info = json.loads((tiny_dir / "tiny_model.json").read_text())
    assert info["seed"] == 0 and info["size"] == "test"
    assert info["n_parameters"] == model.num_parameters()
    assert info["vocab_size"] == model.config.vocab_size
    assert info["tokenizer_len"] == len(tokenizer)


def test_reloaded_tokenizer_matches_the_trained_one(tiny_dir, tokenizer):
    from tokenizers import Tokenizer

    trained = Tokenizer.from_file(str(tiny_dir / "tokenizer.json"))
    text = "Tom has 4 bags.<｜Assistant｜><think>\nunits: 12-8=4\n</think> $\\boxed{4}$"
    assert tokenizer(text, add_special_tokens=False).input_ids == trained.encode(text).ids


def test_digits_are_single_tokens(tokenizer):
    assert tokenizer.tokenize("1234567890") == list("1234567890")
    assert len(tokenizer("62-38=24", add_special_tokens=False).input_ids) == 8


def test_think_close_survives_decoding_without_special_tokens(tokenizer):
    text = "units: 12-8=4\n</think>\nThe answer is $\\boxed{4}$."
    ids = tokenizer(text, add_special_tokens=False).input_ids
    assert tokenizer.convert_tokens_to_ids(THINK_CLOSE) in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    # while real special tokens are dropped by that decode
    wrapped = [tokenizer.bos_token_id, *ids, tokenizer.eos_token_id]
    assert tokenizer.decode(wrapped, skip_special_tokens=True) == text


def test_chat_template_generation_prompt(tokenizer):
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is $47+38$?"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert prompt == BOS + "<｜User｜>What is $47+38$?" + GENERATION_PROMPT
    assert prompt.startswith(BOS) and prompt.endswith("<｜Assistant｜><think>\n")


def test_chat_template_system_and_history_drop_reasoning(tokenizer):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "<think>\nscratch\n</think>\nA1"},
        {"role": "user", "content": "Q2"},
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert text == BOS + "Be brief.<｜User｜>Q1<｜Assistant｜>\nA1" + EOS + "<｜User｜>Q2"


def test_chat_template_rejects_unknown_roles(tokenizer):
    from jinja2.exceptions import TemplateError

    with pytest.raises(TemplateError, match="unsupported chat role: tool"):
        tokenizer.apply_chat_template([{"role": "tool", "content": "x"}], tokenize=False)


def test_greedy_generation_from_left_padded_chat_prompts(tokenizer, model):
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
        )
        for question in ("What is $4+5$?", "Tom has 4 bags with 6 pens each. How many pens?")
    ]
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    assert batch.input_ids[0, 0] == tokenizer.pad_token_id  # shorter prompt is left-padded
    output = model.generate(**batch, max_new_tokens=8, min_new_tokens=8, do_sample=False)
    assert output.shape == (2, batch.input_ids.shape[1] + 8)
    assert int(output.max()) < model.config.vocab_size
    completions = tokenizer.batch_decode(
        output[:, batch.input_ids.shape[1] :], skip_special_tokens=True
    )
    assert all(isinstance(c, str) for c in completions)


def test_same_seed_is_byte_identical_and_seeds_differ(tmp_path, tiny_dir):
    again = build_tiny_model(tmp_path / "again", seed=0, size="test")
    other = build_tiny_model(tmp_path / "other", seed=1, size="test")
    for name in ("model.safetensors", "tokenizer.json", "config.json", "tiny_model.json"):
        assert (again / name).read_bytes() == (tiny_dir / name).read_bytes(), name
    weights = (tiny_dir / "model.safetensors").read_bytes()
    assert (other / "model.safetensors").read_bytes() != weights


def test_build_leaves_the_global_torch_rng_alone(tmp_path):
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny_model(tmp_path / "m", seed=5, size="test")
    assert torch.equal(torch.rand(3), expected)


def test_parameter_counts_of_both_sizes(tmp_path, model):
    from transformers import AutoModelForCausalLM

    demo_dir = build_tiny_model(tmp_path / "demo", seed=0, size="demo")
    demo = AutoModelForCausalLM.from_pretrained(demo_dir)
    assert demo.config.hidden_size == SIZES["demo"]["hidden_size"]
    assert demo.config.num_hidden_layers == SIZES["demo"]["num_hidden_layers"]
    assert abs(demo.num_parameters() - 0.84e6) <= 0.084e6  # the demo's 0.84 M-parameter model
    assert json.loads((demo_dir / "tiny_model.json").read_text())["n_parameters"] == (
        demo.num_parameters()
    )
    assert model.num_parameters() < 150_000  # "test" stays tiny for fast unit tests


def test_synthetic_corpus_is_seeded_math_text():
    corpus = synthetic_corpus(3, 50)
    assert corpus == synthetic_corpus(3, 50) and corpus != synthetic_corpus(4, 50)
    text = "".join(corpus)
    for fragment in ("units: ", "tens: ", "\\boxed{", "</think>", "<｜Assistant｜><think>\n"):
        assert fragment in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"size": "huge"}, "unknown tiny model size"), ({"seed": -1}, "non-negative integer")],
)
def test_bad_arguments_fail_clearly(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_tiny_model(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()
