"""merge_retention on a real tiny Qwen2 with hand-set weights, so bf16 rounding is predictable.

The projections of the base are filled with 1.0 (exact in bf16). Above 1.0 bf16's spacing is
2^-7, below it 2^-8, so any |ΔW| < 2^-10 rounds back to exactly 1.0 (the half-steps are 2^-8
and 2^-9); a ΔW about as large as the weight loses at most bf16's unit roundoff 2^-8 of |W + ΔW|.
"""

import math

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from peft.tuners.lora import LoraLayer
from transformers import AutoModelForCausalLM, Qwen2Config, Qwen2ForCausalLM

from tina_repro.eval.merge import load_merged, merge_retention

PROJ = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
BF16_U = 2.0**-8  # bf16 unit roundoff: |bf16(x) - x| <= 2^-8 |x|
FP32_U = 2.0**-24


def _base(path, fill):
    torch.manual_seed(0)
    config = Qwen2Config(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=256,
    )
    model = Qwen2ForCausalLM(config)
    if fill is not None:
        with torch.no_grad():
            for name, module in model.named_modules():
                if name.rsplit(".", 1)[-1] in PROJ:
                    module.weight.fill_(fill)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def ones_base(tmp_path_factory):
    return _base(tmp_path_factory.mktemp("ones_base"), 1.0)


@pytest.fixture(scope="module")
def random_base(tmp_path_factory):
    return _base(tmp_path_factory.mktemp("random_base"), None)


def tiny_delta(layer_type, shape_a, shape_b):
    """Dyadic A, B with scaling 4: ΔW = ±s·2^-16, 4 <= s <= 60, so 0 < |ΔW| < 2^-10."""
    (r, n_in), (n_out, _) = shape_a, shape_b
    k, j, i = torch.arange(r), torch.arange(n_in), torch.arange(n_out)
    a = (-1.0) ** j[None, :] * ((j[None, :] + k[:, None]) % 5 + 1) * 2.0**-10
    b = (-1.0) ** i[:, None] * ((i[:, None] + k[None, :]) % 3 + 1) * 2.0**-8
    return a, b


def grid_delta(layer_type, shape_a, shape_b):
    """Dyadic A, B with scaling 4: ΔW = ±m·2^-7 with 4 <= m <= 60, so W + ΔW = 1 ± m·2^-7 lies
    on bf16's grid (spacing 2^-7 in [1, 2), 2^-8 in [0.5, 1)): the merge is exact."""
    (r, n_in), (n_out, _) = shape_a, shape_b
    k, j, i = torch.arange(r), torch.arange(n_in), torch.arange(n_out)
    a = (-1.0) ** j[None, :] * ((j[None, :] + k[:, None]) % 5 + 1) * 2.0**-4
    b = (-1.0) ** i[:, None] * ((i[:, None] + k[None, :]) % 3 + 1) * 2.0**-5
    return a, b


def large_delta(layer_type, shape_a, shape_b):
    """Random A, B with scaling 4, r 4: ΔW entries ~ N(0, 1), as large as the weights."""
    g = torch.Generator().manual_seed(sum(map(ord, layer_type)))
    sigma = 64.0**-0.25
    return torch.randn(shape_a, generator=g) * sigma, torch.randn(shape_b, generator=g) * sigma


def zero_delta(layer_type, shape_a, shape_b):
    return torch.ones(shape_a), torch.zeros(shape_b)


def _adapter(base_dir, out_dir, values, **lora_kwargs):
    """Save a LoRA adapter on ``base_dir`` whose A, B are ``values(layer_type, ...)``."""
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    config = LoraConfig(r=4, lora_alpha=16, lora_dropout=0.0, target_modules=list(PROJ))
    for key, value in lora_kwargs.items():
        setattr(config, key, value)
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, module in peft_model.named_modules():
            if isinstance(module, LoraLayer):
                lora_a, lora_b = module.lora_A["default"].weight, module.lora_B["default"].weight
                a, b = values(name.rsplit(".", 1)[-1], tuple(lora_a.shape), tuple(lora_b.shape))
                lora_a.copy_(a)
                lora_b.copy_(b)
    peft_model.save_pretrained(out_dir)
    return out_dir


def _exact_deltas(values, scaling=4.0):
    """ΔW per layer type, rebuilt in float64 from the same recipe, for bounds."""
    shapes = {"q_proj": (64, 64), "k_proj": (32, 64), "v_proj": (32, 64), "o_proj": (64, 64)}
    shapes |= {"gate_proj": (128, 64), "up_proj": (128, 64), "down_proj": (64, 128)}
    out = {}
    for t, (n_out, n_in) in shapes.items():
        a, b = values(t, (4, n_in), (n_out, 4))
        out[t] = (b.double() @ a.double()) * scaling
    return out


def test_update_far_below_bf16_step_is_rounded_away(ones_base, tmp_path):
    adapter = _adapter(ones_base, tmp_path / "a", tiny_delta)
    deltas = _exact_deltas(tiny_delta)
    assert max(d.abs().max().item() for d in deltas.values()) < 2.0**-10
    assert min(d.abs().min().item() for d in deltas.values()) > 0

    bf16 = merge_retention(ones_base, adapter, "bfloat16")
    assert bf16["dtype"] == "bfloat16" and bf16["n_modules"] == 14
    assert set(bf16["by_layer_type"]) == set(PROJ)
    for stats in [bf16["overall"], *bf16["by_layer_type"].values()]:
        assert stats["retention"] == 0.0
        assert stats["realised_norm"] == 0.0
        assert stats["zero_fraction"] == 1.0
        assert stats["error"] == 1.0
    expected_norm = math.sqrt(2 * sum(d.square().sum().item() for d in deltas.values()))
    assert bf16["overall"]["delta_norm"] == pytest.approx(expected_norm, rel=1e-12)

    fp32 = merge_retention(ones_base, adapter, "float32")
    assert abs(fp32["overall"]["retention"] - 1.0) < 1e-5
    # Every ΔW here is s·2^-16 with s <= 60, so 1 + ΔW is exact in float32: nothing is lost.
    assert fp32["overall"]["error"] == 0.0
    assert fp32["overall"]["zero_fraction"] == 0.0
    for stats in fp32["by_layer_type"].values():
        assert stats["retention"] == 1.0 and stats["zero_fraction"] == 0.0


def test_update_on_bf16_steps_survives_exactly(ones_base, tmp_path):
    adapter = _adapter(ones_base, tmp_path / "g", grid_delta)
    deltas = _exact_deltas(grid_delta)
    steps = torch.cat([d.flatten() for d in deltas.values()]) / 2.0**-7
    assert (
        steps.abs().min() >= 4 and steps.abs().max() <= 60 and bool((steps == steps.round()).all())
    )
    bf16 = merge_retention(ones_base, adapter, "bfloat16")
    for stats in [bf16["overall"], *bf16["by_layer_type"].values()]:
        assert (stats["retention"], stats["error"], stats["zero_fraction"]) == (1.0, 0.0, 0.0)
    expected_norm = math.sqrt(2 * sum(d.square().sum().item() for d in deltas.values()))
    assert bf16["overall"]["realised_norm"] == pytest.approx(expected_norm, rel=1e-12)


def test_update_far_above_bf16_step_survives(ones_base, tmp_path):
    adapter = _adapter(ones_base, tmp_path / "b", large_delta)
    deltas = _exact_deltas(large_delta)
    bf16 = merge_retention(ones_base, adapter, "bfloat16")
    overall = bf16["overall"]
    assert abs(overall["retention"] - 1.0) < 0.01
    # Rounding W + ΔW (W = 1) to bf16 moves each entry by at most 2^-8 |1 + ΔW|.
    bound = BF16_U * math.sqrt(sum(2 * (1 + d).square().sum().item() for d in deltas.values()))
    assert 0 < overall["error"] <= bound / overall["delta_norm"]
    assert abs(overall["retention"] - 1.0) <= overall["error"]  # triangle inequality
    for t, stats in bf16["by_layer_type"].items():
        assert abs(stats["retention"] - 1.0) < 0.01, t
        # Only entries with |ΔW| below bf16's half-step at 1.0 (<= 2^-8) can round to 1.0.
        could_vanish = (deltas[t].abs() <= 2.0**-8).double().mean().item()
        assert stats["zero_fraction"] <= could_vanish, t


def test_retention_is_reported_per_layer_type(ones_base, tmp_path):
    def mixed(t, shape_a, shape_b):
        recipe = {"q_proj": large_delta, "v_proj": tiny_delta}.get(t, zero_delta)
        return recipe(t, shape_a, shape_b)

    adapter = _adapter(ones_base, tmp_path / "c", mixed)
    res = merge_retention(ones_base, adapter, "bfloat16")
    by = res["by_layer_type"]
    assert by["q_proj"]["n_modules"] == 2 and res["n_modules"] == 14
    assert abs(by["q_proj"]["retention"] - 1.0) < 0.01
    assert by["v_proj"]["retention"] == 0.0 and by["v_proj"]["zero_fraction"] == 1.0
    for t in set(PROJ) - {"q_proj", "v_proj"}:
        assert by[t]["delta_norm"] == 0.0 and by[t]["realised_norm"] == 0.0
        assert by[t]["retention"] is None and by[t]["zero_fraction"] is None
    q, v = by["q_proj"], by["v_proj"]
    expected = q["realised_norm"] / math.hypot(q["delta_norm"], v["delta_norm"])
    assert res["overall"]["retention"] == pytest.approx(expected, rel=1e-12)


def test_scaling_follows_rslora_and_patterns(ones_base, tmp_path):
    # rsLoRA: alpha / sqrt(r); q_proj alpha 8 -> 4, k_proj rank 2 -> 16 / sqrt(2), others 8.
    # A wrong scaling would leave a relative error of 30% or more; float32 rounding ~1e-7.
    adapter = _adapter(
        ones_base,
        tmp_path / "e",
        large_delta,
        use_rslora=True,
        alpha_pattern={"q_proj": 8},
        rank_pattern={"k_proj": 2},
    )
    res = merge_retention(ones_base, adapter, "float32")
    for t, stats in res["by_layer_type"].items():
        assert stats["error"] < 1e-6, t
        assert abs(stats["retention"] - 1.0) < 1e-6, t


def test_load_merged_float32_matches_unmerged_peft(random_base, tmp_path):
    def modest(t, shape_a, shape_b):
        a, b = large_delta(t, shape_a, shape_b)
        return a, b * 0.05

    adapter = _adapter(random_base, tmp_path / "d", modest)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    ids = torch.randint(0, 256, (2, 12), generator=torch.Generator().manual_seed(1))

    base = AutoModelForCausalLM.from_pretrained(str(random_base), dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(base, str(adapter)).eval()
    with torch.no_grad():
        ref = peft_model(input_ids=ids).logits
        plain = AutoModelForCausalLM.from_pretrained(str(random_base)).eval()(input_ids=ids)

    merged = load_merged(random_base, adapter, "float32")
    assert not any(isinstance(m, LoraLayer) for m in merged.modules())
    assert {p.dtype for p in merged.parameters()} == {torch.float32}
    with torch.no_grad():
        out = merged(input_ids=ids).logits
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert (out - plain.logits).abs().max() > 1e-3  # the adapter really changes the output

    bf16 = load_merged(random_base, adapter, "bfloat16")
    assert {p.dtype for p in bf16.parameters()} == {torch.bfloat16}
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # merged in memory only
