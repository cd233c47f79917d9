"""Merge a LoRA checkpoint the way the paper did, and measure how much of the update survives.

Tina evaluated every checkpoint by merging its adapter into a bf16 copy of the base
(``merge_and_unload``) and serving the merged weights. At lr 1e-6 an update
ΔW = scaling · B·A is close to bf16's rounding step of the base weights, so storing
W + ΔW in bf16 can round part (or all) of the update away. ``merge_retention`` compares the
update that was realised in the merged weights with the exact one, module by module.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import torch
from peft import PeftModel
from safetensors import safe_open
from transformers import AutoModelForCausalLM

# evaluation.merge_dtype's values (the schema allows no other)
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
_PREFIX = "base_model.model."


def load_merged(model_dir, adapter_dir, dtype: str):
    """Return the base in ``dtype`` with the adapter merged in, in memory only.

    Mirrors the paper's merge script: ``from_pretrained(base, dtype)``,
    ``PeftModel.from_pretrained(base, ckpt)`` (peft's default ``autocast_adapter_dtype=True``
    upcasts bf16/fp16 adapter weights to float32), ``merge_and_unload()``. peft computes the
    merge in ``peft/tuners/lora/layer.py`` ``Linear.merge``:
    ``base_layer.weight.data += self.get_delta_weight(adapter)`` — an in-place add of the
    float32 ΔW, so W + ΔW is formed in float32 and rounded once into the weight's own dtype:
    with a bf16 base every merged entry is rounded to bf16. Nothing is written to disk.
    """
    base = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=DTYPES[dtype])
    model = PeftModel.from_pretrained(base, str(adapter_dir))
    merged = model.merge_and_unload()
    merged.eval()
    return merged


def _adapter_tensors(adapter_dir: Path) -> dict[str, torch.Tensor]:
    """The adapter's saved tensors (safetensors, or the legacy ``adapter_model.bin``)."""
    path = adapter_dir / "adapter_model.safetensors"
    if path.exists():
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    return torch.load(adapter_dir / "adapter_model.bin", map_location="cpu", weights_only=True)


def _pattern_value(pattern: dict, module: str, default):
    """peft's ``get_pattern_key``: the first key that matches the end of the module name."""
    for key, value in (pattern or {}).items():
        if re.match(rf"(.*\.)?({key})$", module):
            return value
    return default


def _scaling(config: dict, module: str, rank: int) -> float:
    """The LoRA scaling peft applies: alpha / r, or alpha / sqrt(r) with rsLoRA."""
    r = _pattern_value(config.get("rank_pattern"), module, config["r"])
    if r != rank:
        raise ValueError(f"{module}: adapter A has rank {rank}, config says {r}")
    alpha = _pattern_value(config.get("alpha_pattern"), module, config["lora_alpha"])
    return alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r


def _lora_pairs(adapter_dir: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Map each targeted module name (as in the base model) to its (A, B) tensors."""
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in _adapter_tensors(adapter_dir).items():
        m = re.fullmatch(r"(.+)\.lora_([AB])(?:\.[^.]+)?\.weight", key)
        if m is None:
            continue
        name = m.group(1).removeprefix(_PREFIX)
        pairs.setdefault(name, {})[m.group(2)] = tensor
    missing = [n for n, p in pairs.items() if set(p) != {"A", "B"}]
    if missing:
        raise ValueError(f"adapter lacks lora_A or lora_B for {missing}")
    return {n: (p["A"], p["B"]) for n, p in sorted(pairs.items())}


class _BaseWeights:
    """Read one base tensor at a time from the (possibly sharded) safetensors checkpoint."""

    def __init__(self, model_dir: Path):
        index = model_dir / "model.safetensors.index.json"
        if index.exists():
            weight_map = json.loads(index.read_text())["weight_map"]
            self.files = {k: model_dir / v for k, v in weight_map.items()}
        else:
            single = model_dir / "model.safetensors"
            with safe_open(str(single), framework="pt") as f:
                self.files = {k: single for k in f.keys()}

    def get(self, key: str) -> torch.Tensor:
        if key not in self.files:
            raise KeyError(f"{key} not found in the base checkpoint")
        with safe_open(str(self.files[key]), framework="pt") as f:
            return f.get_tensor(key)


def _summary(acc: dict) -> dict:
    """Turn summed squares into ratios; ``None`` where the exact update is zero."""
    d2 = acc["delta_sq"]
    ratio = (lambda x: math.sqrt(x / d2)) if d2 > 0 else (lambda x: None)
    nonzero = acc["nonzero"]
    return {
        "retention": ratio(acc["realised_sq"]),
        "error": ratio(acc["error_sq"]),
        "zero_fraction": acc["rounded_away"] / nonzero if nonzero else None,
        "delta_norm": math.sqrt(d2),
        "realised_norm": math.sqrt(acc["realised_sq"]),
        "n_entries": acc["n_entries"],
        "n_modules": acc["n_modules"],
    }


def merge_retention(model_dir, adapter_dir, dtype: str = "bfloat16") -> dict:
    """How much of each LoRA update survives a merge in ``dtype``.

    For every targeted linear module: the exact update ΔW = scaling · B·A in float32 (from the
    adapter file and ``adapter_config.json``) against the realised update
    R = float32(merged) − float32(base cast to ``dtype``), where ``merged`` comes from
    ``load_merged`` (peft's own merge). Per layer type and overall:
    ``retention`` = ||R||_F / ||ΔW||_F, ``error`` = ||R − ΔW||_F / ||ΔW||_F (both as sqrt of
    summed squares over modules) and ``zero_fraction``, the share of non-zero ΔW entries whose
    realised update is exactly 0. Only one model copy is held; base weights are read per module.
    """
    model_dir, adapter_dir = Path(model_dir), Path(adapter_dir)
    torch_dtype = DTYPES[dtype]
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    if config.get("use_dora") or config.get("lora_bias"):
        raise ValueError("DoRA and lora_bias adapters are not supported")
    pairs = _lora_pairs(adapter_dir)
    if not pairs:
        raise ValueError(f"no LoRA A/B tensors found in {adapter_dir}")
    merged = load_merged(model_dir, adapter_dir, dtype)
    base = _BaseWeights(model_dir)
    fields = ("delta_sq", "realised_sq", "error_sq", "nonzero", "rounded_away", "n_entries")
    acc: dict[str, dict] = {}
    for name, (a, b) in pairs.items():
        delta = (b.float() @ a.float()) * _scaling(config, name, a.shape[0])
        if config.get("fan_in_fan_out"):
            delta = delta.T
        w_merged = merged.get_submodule(name).weight.detach().float()
        w_base = base.get(f"{name}.weight").to(torch_dtype).float()
        if w_merged.shape != delta.shape:
            raise ValueError(f"{name}: ΔW {tuple(delta.shape)} vs weight {tuple(w_merged.shape)}")
        realised = w_merged - w_base
        changed = delta != 0
        stats = {
            "delta_sq": delta.double().square().sum().item(),
            "realised_sq": realised.double().square().sum().item(),
            "error_sq": (realised.double() - delta.double()).square().sum().item(),
            "nonzero": int(changed.sum()),
            "rounded_away": int((changed & (realised == 0)).sum()),
            "n_entries": delta.numel(),
        }
        for group in (name.rsplit(".", 1)[-1], "overall"):
            slot = acc.setdefault(group, dict.fromkeys(fields, 0) | {"n_modules": 0})
            for k, v in stats.items():
                slot[k] += v
            slot["n_modules"] += 1
        del delta, w_merged, w_base, realised, changed
    del merged
    overall = acc.pop("overall")
    return {
        "dtype": dtype,
        "overall": _summary(overall),
        "by_layer_type": {k: _summary(v) for k, v in sorted(acc.items())},
        "n_modules": overall["n_modules"],
    }
