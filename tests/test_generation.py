"""Sample generation on the tiny model (transformers backend), the vLLM path against a fake engine,
and grading plus scoring of a hand-written samples file."""

import hashlib
import json
import multiprocessing
import os
import socket
import sys
import types
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from helpers import ROOT, with_r1_tokenizer_flags

from tina_repro import locks
from tina_repro.config import ConfigError, EvaluationSettings, load_files
from tina_repro.demo.tiny_model import BOS, GENERATION_PROMPT, USER, build_tiny_model
from tina_repro.eval import store
from tina_repro.eval.backends import (
    TransformersBackend,
    VllmBackend,
    generation_gpus,
    vllm_lora_rank,
)
from tina_repro.eval.generate import BenchmarkTask, generate_benchmark, generate_model
from tina_repro.eval.grade_samples import grade_and_score
from tina_repro.eval.merge import load_merged, merge_retention
from tina_repro.eval.requests import (
    build_requests,
    prompt_affixes,
    render_prompt,
    sample_seed,
)

PROBLEMS = ["What is $2+3$?", "Compute $4\\times 5-6$.", "What is $17-9$?"]
GOLDS = ["5", "14", "8"]
SETTINGS = EvaluationSettings(
    temperature=0.6,
    top_p=0.95,
    max_new_tokens=8,
    samples_per_problem=2,
    seed=1234,
    backend="transformers",
    vllm_gpu_memory_utilization=0.5,
    max_model_len=2048,
    vllm_device="cuda",
    vllm_dtype="bfloat16",
    vllm_enforce_eager=False,
    batch_size=4,
    grading_processes=1,
    grading_timeout_s=5,
    adapter_mode="merged",
    merge_dtype="float32",
    prompt_tokens="lighteval",
)
ROW_KEYS = {
    "problem_id",
    "sample_index",
    "seed",
    "prompt_hash",
    "completion",
    "n_tokens",
    "finish_reason",
    "gold",
    "task",
    "gold_format",
}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0, size="test")


@pytest.fixture(scope="module")
def adapter_dir(tiny_dir, tmp_path_factory):
    """A LoRA adapter with non-zero B matrices, so it visibly changes the model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
    config = LoraConfig(
        r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    out = tmp_path_factory.mktemp("adapter") / "checkpoint-5"
    get_peft_model(model, config).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def benchmark_parquet(tmp_path_factory):
    template = "Solve this.\n\n{Question}"
    path = tmp_path_factory.mktemp("bench") / "tiny_math.parquet"
    pd.DataFrame(
        {
            "id": [0, 1, 2],
            "problem": PROBLEMS,
            "answer": GOLDS,
            "prompt": [template.format(Question=p) for p in PROBLEMS],
            "choices": [None] * 3,
            "correct_letter": [None] * 3,
        }
    ).to_parquet(path)
    return path


def run(benchmark_parquet, tiny_dir, out, adapter=None, **overrides):
    generate_benchmark(
        benchmark_parquet,
        tiny_dir,
        adapter,
        replace(SETTINGS, **overrides),
        out,
        gold_format="expr",
    )
    return [json.loads(line) for line in Path(out).read_text().splitlines()]


@pytest.fixture(scope="module")
def reference(benchmark_parquet, tiny_dir, adapter_dir, tmp_path_factory):
    """An uninterrupted run with the adapter: (path, rows)."""
    out = tmp_path_factory.mktemp("reference") / "samples.jsonl"
    return out, run(benchmark_parquet, tiny_dir, out, adapter=adapter_dir)


@pytest.mark.slow
def test_rows_carry_the_schema_seeds_and_prompt_hash(reference, tiny_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    out, rows = reference
    assert [(r["problem_id"], r["sample_index"]) for r in rows] == [
        (p, s) for p in range(3) for s in range(2)
    ]
    assert all(set(row) == ROW_KEYS for row in rows)
    # samples.jsonl links to its store file; nothing else is left beside them but the lock.
    (store,) = out.parent.glob("samples.*.jsonl")
    assert os.readlink(out) == store.name
    assert {p.name for p in out.parent.iterdir()} == {
        "samples.jsonl",
        store.name,
        store.name + ".lock",
    }
    for row in rows:
        # The model's own chat template, no system prompt, generation prompt appended: the
        # prompt hashed is what the tokenizer renders, and that is the tiny model's R1 layout.
        question = "Solve this.\n\n" + PROBLEMS[row["problem_id"]]
        chat = [{"role": "user", "content": question}]
        rendered = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        assert rendered == BOS + USER + question + GENERATION_PROMPT
        assert row["prompt_hash"] == hashlib.sha256(rendered.encode()).hexdigest()
        assert row["seed"] == sample_seed(1234, row["problem_id"], row["sample_index"])
        assert (row["gold"], row["task"], row["gold_format"]) == (
            GOLDS[row["problem_id"]],
            "math",
            "expr",
        )
        assert row["finish_reason"] in ("stop", "length")
        assert 1 <= row["n_tokens"] <= 8
        assert (row["n_tokens"] == 8) == (row["finish_reason"] == "length")
    assert len({row["seed"] for row in rows}) == 6
    assert len({row["completion"] for row in rows}) == 6  # distinct samples, not one repeated


@pytest.mark.slow
def test_samples_depend_on_seed_and_adapter_not_on_batching(
    reference, benchmark_parquet, tiny_dir, adapter_dir, tmp_path
):
    _, rows = reference
    one_by_one = run(benchmark_parquet, tiny_dir, tmp_path / "a.jsonl", adapter_dir, batch_size=1)
    assert one_by_one == rows
    other_seed = run(benchmark_parquet, tiny_dir, tmp_path / "b.jsonl", adapter_dir, seed=7)
    assert [r["completion"] for r in other_seed] != [r["completion"] for r in rows]
    no_adapter = run(benchmark_parquet, tiny_dir, tmp_path / "c.jsonl")
    assert [r["completion"] for r in no_adapter] != [r["completion"] for r in rows]


@pytest.mark.slow
def test_resume_generates_only_missing_samples(
    reference, benchmark_parquet, tiny_dir, adapter_dir, tmp_path, monkeypatch
):
    """A kill leaves a partial file; whatever else lands in it (a torn line, bytes that are not
    UTF-8, rows that fail the sample schema) is dropped and counted, never taken as finished."""
    reference_path, _ = reference
    original = TransformersBackend.generate
    generated_keys = []

    def interrupted(self, requests):
        if generated_keys:
            raise KeyboardInterrupt("killed after the first batch")
        generated_keys.extend(r.key for r in requests)
        return original(self, requests)

    out = tmp_path / "samples.jsonl"
    monkeypatch.setattr(TransformersBackend, "generate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(benchmark_parquet, tiny_dir, out, adapter_dir)
    assert not out.exists()
    (partial,) = tmp_path.glob("samples.*.jsonl.partial")
    lines = partial.read_text().splitlines()
    assert len(lines) == 1 + 4  # identity + first batch
    first_batch = set(generated_keys)
    every_key = {(problem, sample) for problem in range(3) for sample in range(2)}
    unfinished = sorted(every_key - first_batch)
    wrong_seed = {**json.loads(lines[1]), "problem_id": unfinished[1][0]}
    wrong_seed["sample_index"] = unfinished[1][1]  # a whole row, but another sample's seed
    with partial.open("ab") as handle:
        handle.write(b"\xff\xfe\x00 not UTF-8\n")
        handle.write(
            json.dumps({"problem_id": unfinished[0][0], "sample_index": unfinished[0][1]}).encode()
            + b"\n"
        )
        handle.write(json.dumps(wrong_seed).encode() + b"\n")
        handle.write(b'{"problem_id": 2, "sample_in')  # a line cut short by the kill

    def recording(self, requests):
        generated_keys.extend(r.key for r in requests)
        return original(self, requests)

    generated_keys.clear()
    monkeypatch.setattr(TransformersBackend, "generate", recording)
    task = BenchmarkTask("tiny_math", benchmark_parquet, "expr", out)
    record = generate_model(tiny_dir, adapter_dir, [task], SETTINGS, tmp_path / "generation.json")
    assert sorted(generated_keys) == unfinished  # the poisoned samples too
    assert record["partial_lines_dropped"] == 4
    assert out.read_bytes() == reference_path.read_bytes()
    assert not partial.exists()


@pytest.mark.slow
def test_partial_file_of_other_settings_is_not_resumed(
    benchmark_parquet, tiny_dir, tmp_path, monkeypatch
):
    out = tmp_path / "samples.jsonl"
    settings = replace(SETTINGS, samples_per_problem=1)
    identity = store.samples_identity(
        benchmark_parquet, tiny_dir, None, settings.sampling_identity(False), "expr"
    )
    partial = store.partial_path(store.store_path(out, identity))
    stale = {"problem_id": 0, "sample_index": 0, "completion": "stale"}
    partial.write_text(json.dumps({"identity": "other"}) + "\n" + json.dumps(stale) + "\n")
    rows = run(benchmark_parquet, tiny_dir, out, samples_per_problem=1)
    assert len(rows) == 3 and "stale" not in {r["completion"] for r in rows}
    assert not partial.exists()


@pytest.mark.slow
def test_ten_seed_evaluation_draws_sample_k_with_seed_k(benchmark_parquet, tiny_dir, tmp_path):
    # config/eval-10-seeds.yaml: lighteval's run k seeds every request with k (c6274cd)
    seeds = list(range(10))
    rows = run(
        benchmark_parquet,
        tiny_dir,
        tmp_path / "s.jsonl",
        samples_per_problem=10,
        sample_seeds=seeds,
    )
    assert len(rows) == 3 * 10
    assert all(row["seed"] == row["sample_index"] for row in rows)
    # the same seed on the same prompt gives the same sample: the rows are the runs' samples
    again = run(
        benchmark_parquet,
        tiny_dir,
        tmp_path / "t.jsonl",
        samples_per_problem=10,
        sample_seeds=seeds,
    )
    assert [r["completion"] for r in again] == [r["completion"] for r in rows]
    # an empty list changes nothing: the samples' identity (and so every finished file) stays
    assert "sample_seeds" not in replace(SETTINGS, sample_seeds=()).sampling_identity(False)
    ten_seeds = replace(SETTINGS, samples_per_problem=10, sample_seeds=tuple(seeds))
    assert ten_seeds.sampling_identity(False)["sample_seeds"] == seeds
    with pytest.raises(ConfigError, match="10 seeds for samples_per_problem 2"):
        run(benchmark_parquet, tiny_dir, tmp_path / "u.jsonl", sample_seeds=tuple(seeds))


def test_prompt_longer_than_the_context_is_refused(benchmark_parquet, tiny_dir, tmp_path):
    with pytest.raises(ValueError, match="problem 0: its prompt has .* no room left"):
        run(benchmark_parquet, tiny_dir, tmp_path / "s.jsonl", max_model_len=10)


def test_missing_adapter_is_named(benchmark_parquet, tiny_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint-9 is not a PEFT adapter"):
        run(benchmark_parquet, tiny_dir, tmp_path / "s.jsonl", adapter=tmp_path / "checkpoint-9")


# ---- prompt token ids: lighteval's two BOS, or the chat template's one ------------------------
# DeepSeek-R1-Distill-Qwen's tokenizer files in the Hub's schema (tokenizer_config.json as the
# model's: LlamaTokenizerFast, add_bos_token true, BOS written by the chat template; config.json
# model_type qwen2), over a tiny byte-level vocabulary (tests/fixtures/r1_distill_tokenizer).
R1_TOKENIZER = ROOT / "tests" / "fixtures" / "r1_distill_tokenizer"


def aime_prompt() -> pd.DataFrame:
    """The first AIME24 problem of the test fixture through the paper's math template."""
    template = load_files(root=ROOT).config["prompt_templates"]["math"]
    first = json.loads((ROOT / "tests/fixtures/hub/aime24.jsonl").read_text().splitlines()[0])
    return pd.DataFrame(
        {"id": [0], "prompt": [template.format(Question=first["problem"])], "answer": ["9"]}
    )


@pytest.mark.parametrize(("mode", "bos_tokens"), [("lighteval", 2), ("chat_template", 1)])
def test_an_aime_prompt_starts_with_two_bos_tokens_as_lighteval_made_it(mode, bos_tokens):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(R1_TOKENIZER)
    bos, user = tokenizer.convert_tokens_to_ids([BOS, USER])
    settings = replace(SETTINGS, samples_per_problem=1, prompt_tokens=mode)
    affixes = prompt_affixes(tokenizer, R1_TOKENIZER, mode)
    (request,) = build_requests(aime_prompt(), tokenizer, settings, "expr", affixes)
    assert list(request.prompt_ids[: bos_tokens + 1]) == [bos] * bos_tokens + [user]
    assert tokenizer.decode(request.prompt_ids).startswith(BOS * bos_tokens + USER + "Solve")


def test_transformers_5_adds_no_bos_where_lighteval_transformers_4_did():
    """Why lighteval mode adds the BOS itself: transformers 5.17 loads this tokenizer as
    Qwen2Tokenizer and ignores tokenizer_config.json's add_bos_token, which transformers 4.x's
    LlamaTokenizerFast turned into a post-processor adding BOS."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(R1_TOKENIZER)
    assert type(tokenizer).__name__ == "Qwen2Tokenizer"
    text = render_prompt(tokenizer, aime_prompt()["prompt"][0])
    with_special = tokenizer(text, add_special_tokens=True)["input_ids"]
    assert with_special == tokenizer(text, add_special_tokens=False)["input_ids"]
    assert with_special[:2] == tokenizer.convert_tokens_to_ids([BOS, USER])
    assert prompt_affixes(tokenizer, R1_TOKENIZER, "lighteval").prefix == (tokenizer.bos_token_id,)


@pytest.fixture(scope="module")
def bos_tiny_dir(tiny_dir, tmp_path_factory):
    """The tiny model with the real model's tokenizer flags: the Llama class, add_bos_token."""
    return with_r1_tokenizer_flags(tiny_dir, tmp_path_factory.mktemp("bos") / "model")


def prompts_sent(recorded_requests) -> list[tuple[int, ...]]:
    return sorted({ids for _, ids in recorded_requests})


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "bos_tokens"), [("lighteval", 2), ("chat_template", 1)])
def test_both_backends_take_the_modes_prompt_ids(
    mode, bos_tokens, benchmark_parquet, bos_tiny_dir, tmp_path, monkeypatch, fake_vllm
):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(bos_tiny_dir)
    template_ids = [
        tokenizer(render_prompt(tokenizer, f"Solve this.\n\n{p}"), add_special_tokens=False)[
            "input_ids"
        ]
        for p in PROBLEMS
    ]
    expected = sorted((tokenizer.bos_token_id,) * (bos_tokens - 1) + tuple(i) for i in template_ids)
    sent = []
    original = TransformersBackend.generate

    def recording(self, requests):
        sent.extend((r.key, r.prompt_ids) for r in requests)
        return original(self, requests)

    monkeypatch.setattr(TransformersBackend, "generate", recording)
    record = generate_model(
        bos_tiny_dir,
        None,
        tasks(tmp_path / "hf", benchmark_parquet),
        replace(SETTINGS, prompt_tokens=mode),
    )
    assert prompts_sent(sent) == expected
    assert record["prompt_tokens"] == mode
    assert record["prompt_leading_bos_tokens"] == bos_tokens
    assert record["prompt_special_tokens"] == {
        "prefix": [tokenizer.bos_token_id] * (bos_tokens - 1),
        "suffix": [],
    }
    generate_model(
        bos_tiny_dir,
        None,
        tasks(tmp_path / "vllm", benchmark_parquet),
        replace(SETTINGS, prompt_tokens=mode, backend="vllm"),
    )
    (call,) = fake_vllm["generate"]
    assert sorted({tuple(p["prompt_token_ids"]) for p in call[0]}) == expected


@pytest.mark.slow
def test_the_demo_tokenizer_gives_the_same_ids_in_both_modes(benchmark_parquet, tiny_dir, tmp_path):
    """The demo's tokenizer adds no special tokens of its own: one BOS either way, the same
    samples; only the samples' identity (which names the mode) differs."""
    records, rows = {}, {}
    for mode in ("lighteval", "chat_template"):
        out = tmp_path / mode / "samples.jsonl"
        records[mode] = generate_model(
            tiny_dir,
            None,
            [BenchmarkTask("tiny_math", benchmark_parquet, "expr", out)],
            SETTINGS.for_model(mode),
        )
        rows[mode] = out.read_text()
        assert records[mode]["prompt_leading_bos_tokens"] == 1
        assert records[mode]["prompt_special_tokens"] == {"prefix": [], "suffix": []}
    assert rows["lighteval"] == rows["chat_template"]
    identities = {
        mode: store.samples_identity(
            benchmark_parquet,
            tiny_dir,
            None,
            SETTINGS.for_model(mode).sampling_identity(False),
            "expr",
        )
        for mode in rows
    }
    assert identities["lighteval"] != identities["chat_template"]


# ---- one job per model: every benchmark through one backend start -----------------------------


@pytest.fixture(scope="module")
def other_parquet(tmp_path_factory):
    """A second benchmark (GPQA-style letters) for the same model."""
    path = tmp_path_factory.mktemp("bench") / "tiny_gpqa.parquet"
    pd.DataFrame(
        {
            "id": [0, 1],
            "problem": ["Pick A.", "Pick B."],
            "answer": ["A", "B"],
            "prompt": ["Pick A.\nA) 1\nB) 2", "Pick B.\nA) 1\nB) 2"],
            "choices": [None] * 2,
            "correct_letter": ["A", "B"],
        }
    ).to_parquet(path)
    return path


RECORD_KEYS = {
    "device",
    "engine_start_seconds",
    "generation_seconds",
    "generated_tokens",
    "samples",
    "tokens_per_second",
    "benchmarks",
    "backend",
    "adapter_mode",
    "generated_benchmarks",
    "partial_lines_dropped",
    "merge_retention_bf16",
    "prompt_tokens",
    "prompt_special_tokens",
    "prompt_leading_bos_tokens",
}


def tasks(root, math_parquet, gpqa_parquet=None):
    out = [BenchmarkTask("tiny_math", math_parquet, "expr", root / "tiny_math" / "samples.jsonl")]
    if gpqa_parquet is not None:
        samples = root / "tiny_gpqa" / "samples.jsonl"
        out.append(BenchmarkTask("tiny_gpqa", gpqa_parquet, "letter", samples))
    return out


@pytest.fixture
def recorded(monkeypatch):
    """Backend starts and the (problem, sample, prompt) of every generated request."""
    calls = {"starts": 0, "requests": []}
    init, generate = TransformersBackend.__init__, TransformersBackend.generate

    def counting_init(self, *args):
        calls["starts"] += 1
        init(self, *args)

    def recording(self, requests):
        calls["requests"].extend((r.gold_format, r.key) for r in requests)
        return generate(self, requests)

    monkeypatch.setattr(TransformersBackend, "__init__", counting_init)
    monkeypatch.setattr(TransformersBackend, "generate", recording)
    return calls


@pytest.mark.slow
def test_one_backend_start_serves_every_benchmark(
    reference, benchmark_parquet, other_parquet, tiny_dir, adapter_dir, tmp_path, recorded
):
    record_path = tmp_path / "generation.json"
    jobs = tasks(tmp_path, benchmark_parquet, other_parquet)
    record = generate_model(tiny_dir, adapter_dir, jobs, SETTINGS, record_path)
    assert recorded["starts"] == 1
    assert len(recorded["requests"]) == 6 + 4
    # A benchmark's samples do not depend on the other benchmarks sharing its batches.
    assert jobs[0].samples.read_bytes() == reference[0].read_bytes()
    rows = [json.loads(line) for line in jobs[1].samples.read_text().splitlines()]
    assert [(r["task"], r["gold_format"], r["gold"]) for r in rows] == [
        ("gpqa", "letter", gold) for gold in ("A", "A", "B", "B")
    ]
    assert json.loads(record_path.read_text()) == record
    assert set(record) == RECORD_KEYS
    tokens = sum(
        json.loads(line)["n_tokens"]
        for job in jobs
        for line in job.samples.read_text().splitlines()
    )
    assert (record["device"], record["backend"], record["adapter_mode"]) == (
        "cpu",
        "transformers",
        "merged",
    )
    assert (record["samples"], record["generated_tokens"]) == (10, tokens)
    assert record["tokens_per_second"] == tokens / record["generation_seconds"]
    assert record["engine_start_seconds"] > 0
    assert record["benchmarks"] == record["generated_benchmarks"] == ["tiny_math", "tiny_gpqa"]
    measured = merge_retention(tiny_dir, adapter_dir, "bfloat16")
    assert record["merge_retention_bf16"] == {
        "overall": measured["overall"]["retention"],
        "by_layer_type": {
            "q_proj": measured["by_layer_type"]["q_proj"]["retention"],
            "v_proj": measured["by_layer_type"]["v_proj"]["retention"],
        },
    }


def _targeted_weights(model) -> dict:
    return {
        name: param.detach().clone()
        for name, param in model.named_parameters()
        if name.endswith(("q_proj.weight", "v_proj.weight"))
    }


@pytest.mark.slow
def test_adapter_modes(tiny_dir, adapter_dir):
    """merged: the weights of a merge in merge_dtype (bf16 rounds them onto its grid), computed
    in fp32; lora: the adapter unmerged, its own layers in the model."""
    import torch
    from peft import PeftModel
    from peft.tuners.lora import LoraLayer

    bf16 = TransformersBackend(tiny_dir, adapter_dir, replace(SETTINGS, merge_dtype="bfloat16"))
    fp32 = TransformersBackend(tiny_dir, adapter_dir, SETTINGS)
    expected = _targeted_weights(load_merged(tiny_dir, adapter_dir, "bfloat16"))
    got, exact = _targeted_weights(bf16.model), _targeted_weights(fp32.model)
    assert set(got) == set(expected) and len(got) == 4  # q and v of both layers
    for name, weight in got.items():
        assert weight.dtype == torch.float32
        assert torch.equal(weight, expected[name].float())
        assert torch.equal(weight, weight.bfloat16().float())  # on bf16's grid
        assert not torch.equal(weight, exact[name])  # the fp32 merge kept what bf16 rounded
    assert not any(isinstance(m, LoraLayer) for m in bf16.model.modules())

    lora = TransformersBackend(tiny_dir, adapter_dir, replace(SETTINGS, adapter_mode="lora"))
    assert isinstance(lora.model, PeftModel)
    assert sum(isinstance(m, LoraLayer) for m in lora.model.modules()) == 4


@pytest.mark.slow
def test_adding_a_benchmark_generates_only_it(
    benchmark_parquet, other_parquet, tiny_dir, tmp_path, recorded
):
    (math_task,) = tasks(tmp_path, benchmark_parquet)
    generate_model(tiny_dir, None, [math_task], SETTINGS)
    store_file = math_task.samples.parent / os.readlink(math_task.samples)
    before = (store_file.read_bytes(), store_file.stat().st_mtime_ns)
    assert math_task.samples.lstat().st_mtime_ns == before[1]  # the link carries the store's age
    recorded["requests"].clear()
    math_task.samples.unlink()  # what Snakemake does to a rerun job's outputs
    record = generate_model(
        tiny_dir, None, tasks(tmp_path, benchmark_parquet, other_parquet), SETTINGS
    )
    assert {gold_format for gold_format, _ in recorded["requests"]} == {"letter"}
    assert len(recorded["requests"]) == 4
    assert record["generated_benchmarks"] == ["tiny_gpqa"] and record["samples"] == 4
    assert (record["adapter_mode"], record["merge_retention_bf16"]) == (None, None)
    assert os.readlink(math_task.samples) == store_file.name
    assert (store_file.read_bytes(), store_file.stat().st_mtime_ns) == before
    assert math_task.samples.lstat().st_mtime_ns == before[1]
    assert recorded["starts"] == 2  # the first run and the one that generated tiny_gpqa

    recorded["requests"].clear()
    record = generate_model(
        tiny_dir, None, tasks(tmp_path, benchmark_parquet, other_parquet), SETTINGS
    )
    assert recorded["requests"] == [] and recorded["starts"] == 2  # all reused: no engine start
    assert (record["samples"], record["device"], record["tokens_per_second"]) == (0, None, None)


# Spawned, not forked: a fork of a process whose torch thread pool has run can hang in it.
SPAWN = multiprocessing.get_context("spawn")


def _generate_blocked(root, parquet, model_dir, started, release, results):
    """Generate, pausing inside the first batch until ``release`` is set."""
    original = TransformersBackend.generate

    def paused(self, requests):
        started.set()
        release.wait(timeout=60)
        return original(self, requests)

    TransformersBackend.generate = paused
    generate_model(model_dir, None, tasks(root, parquet), SETTINGS)
    results.put(os.getpid())


@pytest.mark.slow
def test_a_second_writer_of_the_same_samples_stops_at_once(benchmark_parquet, tiny_dir, tmp_path):
    started, release, results = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue()
    first = SPAWN.Process(
        target=_generate_blocked,
        args=(tmp_path, benchmark_parquet, tiny_dir, started, release, results),
    )
    first.start()
    try:
        assert started.wait(timeout=60)
        with pytest.raises(locks.AlreadyRunningError) as refused:
            generate_model(tiny_dir, None, tasks(tmp_path, benchmark_parquet), SETTINGS)
    finally:
        release.set()
        first.join(timeout=60)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"samples {tmp_path / 'tiny_math'}/samples.")
    assert f"is being written by PID {first.pid} on host {socket.gethostname()}" in message
    assert first.exitcode == 0 and results.get(timeout=5) == first.pid
    # The first writer finished; the refused one left nothing behind.
    assert not list(tmp_path.glob("tiny_math/*.partial"))
    rows = [
        json.loads(line) for line in (tmp_path / "tiny_math/samples.jsonl").read_text().splitlines()
    ]
    assert len(rows) == 6


# ---- vLLM against a fake engine ----------------------------------------------------------------


@pytest.fixture
def fake_vllm(monkeypatch):
    """A stand-in ``vllm`` module recording engine arguments and requests."""
    calls = {"engines": [], "generate": [], "model_files": []}

    class LLM:
        def __init__(self, **kwargs):
            calls["engines"].append({**kwargs, "visible": os.environ.get("CUDA_VISIBLE_DEVICES")})
            calls["model_files"].append(sorted(p.name for p in Path(kwargs["model"]).iterdir()))

        def generate(self, prompts, sampling_params, lora_request=None, use_tqdm=True):
            calls["generate"].append((prompts, sampling_params, lora_request))
            outputs = []
            for params in sampling_params:
                text = f"<think>seed {params.seed}</think> \\boxed{{5}}"
                sample = types.SimpleNamespace(text=text, token_ids=[7] * 6, finish_reason="stop")
                outputs.append(types.SimpleNamespace(outputs=[sample]))
            return outputs

    class SamplingParams:
        def __init__(self, **kwargs):
            self.__dict__.update(kwargs)

    class LoRARequest:
        def __init__(self, name, int_id, path):
            self.name, self.int_id, self.path = name, int_id, path

    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = LLM, SamplingParams
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")
    request.LoRARequest = LoRARequest
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.lora", lora)
    monkeypatch.setitem(sys.modules, "vllm.lora.request", request)
    platforms = types.ModuleType("vllm.platforms")
    platforms.current_platform = types.SimpleNamespace(device_type="cuda")
    monkeypatch.setitem(sys.modules, "vllm.platforms", platforms)
    monkeypatch.setenv("TINA_GPU_COUNT", "1")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return calls


def test_vllm_serves_the_adapter_with_per_sample_seeds(
    fake_vllm, benchmark_parquet, tiny_dir, adapter_dir, tmp_path
):
    from transformers import AutoTokenizer

    rows = run(
        benchmark_parquet,
        tiny_dir,
        tmp_path / "s.jsonl",
        adapter_dir,
        backend="vllm",
        adapter_mode="lora",
    )
    (engine,) = fake_vllm["engines"]
    assert engine == {
        "model": str(tiny_dir),
        "tokenizer": str(tiny_dir),
        "seed": 1234,
        "gpu_memory_utilization": 0.5,
        "max_model_len": 2048,
        "dtype": "bfloat16",
        "enforce_eager": False,
        "enable_lora": True,
        "max_lora_rank": 8,  # rank 4 rounded up to a rank vLLM accepts
        "visible": "0",  # one leased GPU
    }
    (call,) = fake_vllm["generate"]  # every paper benchmark fits one chunk
    prompts, params, lora_request = call
    assert (lora_request.name, lora_request.int_id) == ("adapter", 1)
    assert lora_request.path == str(adapter_dir.resolve())
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    expected_ids = [
        tokenizer(render_prompt(tokenizer, f"Solve this.\n\n{p}"), add_special_tokens=False)[
            "input_ids"
        ]
        for p in PROBLEMS
        for _ in range(2)
    ]
    # Requests go in order of prompt length; each carries its own prompt and per-sample seed.
    sent = sorted(
        (p["prompt_token_ids"], sorted(vars(q).items()))
        for p, q in zip(prompts, params, strict=True)
    )
    lengths = [len(p["prompt_token_ids"]) for p in prompts]
    assert lengths == sorted(lengths)
    assert sent == sorted(
        (
            expected_ids[2 * pid + s],
            sorted(
                {
                    "n": 1,
                    "temperature": 0.6,
                    "top_p": 0.95,
                    "max_tokens": 8,
                    "seed": sample_seed(1234, pid, s),
                }.items()
            ),
        )
        for pid in range(3)
        for s in range(2)
    )
    assert [r["completion"] for r in rows] == [
        f"<think>seed {r['seed']}</think> \\boxed{{5}}" for r in rows
    ]
    assert {(r["n_tokens"], r["finish_reason"]) for r in rows} == {(6, "stop")}


def test_vllm_without_adapter_runs_the_plain_model(
    fake_vllm, benchmark_parquet, tiny_dir, tmp_path
):
    run(benchmark_parquet, tiny_dir, tmp_path / "s.jsonl", backend="vllm")
    (engine,) = fake_vllm["engines"]
    assert "enable_lora" not in engine and "max_lora_rank" not in engine
    assert fake_vllm["generate"][0][2] is None


def test_vllm_merged_mode_serves_a_merged_copy_it_removes(
    fake_vllm, benchmark_parquet, tiny_dir, adapter_dir, tmp_path
):
    run(
        benchmark_parquet,
        tiny_dir,
        tmp_path / "s.jsonl",
        adapter_dir,
        backend="vllm",
        adapter_mode="merged",
    )
    (engine,) = fake_vllm["engines"]
    assert "enable_lora" not in engine and fake_vllm["generate"][0][2] is None
    # the engine loaded a full model folder, gone once the engine held it
    assert {"config.json", "model.safetensors"} <= set(fake_vllm["model_files"][0])
    assert engine["model"] != str(tiny_dir) and not Path(engine["model"]).exists()
    assert engine["tokenizer"] == str(tiny_dir)


def test_vllm_on_cpu_holds_no_gpu_and_caps_the_context(
    fake_vllm, monkeypatch, benchmark_parquet, tiny_dir, tmp_path
):
    sys.modules["vllm.platforms"].current_platform.device_type = "cpu"
    settings = {"backend": "vllm", "vllm_device": "cpu", "vllm_dtype": "float32"}
    run(
        benchmark_parquet,
        tiny_dir,
        tmp_path / "s.jsonl",
        max_model_len=32768,
        **settings,
        vllm_enforce_eager=True,
    )
    (engine,) = fake_vllm["engines"]
    limit = json.loads((tiny_dir / "config.json").read_text())["max_position_embeddings"]
    assert limit < 32768 and engine["max_model_len"] == limit
    assert (engine["dtype"], engine["enforce_eager"]) == ("float32", True)
    assert engine["visible"] == ""  # lease(0): CUDA hidden, no GPU taken


def test_only_vllm_on_cuda_holds_a_gpu():
    cases = [("vllm", "cuda"), ("vllm", "cpu"), ("transformers", "cuda"), ("transformers", "cpu")]
    gpus = [generation_gpus(replace(SETTINGS, backend=b, vllm_device=d)) for b, d in cases]
    assert gpus == [1, 0, 0, 0]
    # the demo with vLLM on CPU (tests/vllm_cpu/config.yaml) is a valid config that leases none
    wc = load_files(
        ROOT / "config/demo/config.yaml", ROOT / "tests/vllm_cpu/config.yaml", root=ROOT
    )
    assert wc.evaluation.backend == "vllm"
    assert generation_gpus(wc.evaluation) == 0


def test_vllm_refuses_a_device_its_build_does_not_run_on(fake_vllm, tiny_dir):
    with pytest.raises(RuntimeError, match="vllm_device is 'cpu' but the installed vLLM runs on"):
        VllmBackend(str(tiny_dir), None, replace(SETTINGS, backend="vllm", vllm_device="cpu"))


@pytest.mark.parametrize(
    ("config", "expected"),
    [({"r": 4}, 8), ({"r": 32}, 32), ({"r": 64}, 64), ({"r": 16, "rank_pattern": {"q": 100}}, 128)],
)
def test_vllm_lora_rank_rounds_up(tmp_path, config, expected):
    (tmp_path / "adapter_config.json").write_text(json.dumps(config))
    assert vllm_lora_rank(tmp_path) == expected


# ---- grading and scoring -----------------------------------------------------------------------

GRADED_SAMPLES = [
    # problem 0 (gold 5): right and formatted, wrong and formatted
    (0, 0, "<think>2+3</think> The answer is $\\boxed{5}$.", "stop"),
    (0, 1, "<think>2+3=6</think> \\boxed{6}", "stop"),
    # problem 1 (gold 14): right and formatted, right without </think>
    (1, 0, "<think>20-6</think> Therefore $\\boxed{14}$.", "stop"),
    (1, 1, "20-6 = 14, so the answer is 14", "stop"),
    # problem 2 (gold 8): cut at the token cap, and a wrong formatted answer
    (2, 0, "<think>17-9 is", "length"),
    (2, 1, "<think>17-9</think> \\boxed{9}", "stop"),
]


@pytest.fixture
def samples_path(tmp_path):
    path = tmp_path / "samples.jsonl"
    with path.open("w") as out:
        for problem_id, sample_index, completion, finish_reason in GRADED_SAMPLES:
            row = {
                "problem_id": problem_id,
                "sample_index": sample_index,
                "seed": sample_seed(1234, problem_id, sample_index),
                "prompt_hash": "0" * 64,
                "completion": completion,
                "n_tokens": 8 if finish_reason == "length" else 4,
                "finish_reason": finish_reason,
                "gold": GOLDS[problem_id],
                "task": "math",
                "gold_format": "expr",
            }
            out.write(json.dumps(row) + "\n")
    return path


def test_grade_and_score_exact_numbers(samples_path, benchmark_parquet, tmp_path):
    graded_path, score_path = tmp_path / "graded.jsonl", tmp_path / "score.json"
    identity = {"run": "still", "point": "step-5", "benchmark": "tiny_math"}
    grade_and_score(
        samples_path, benchmark_parquet, graded_path, score_path, processes=2, identity=identity
    )
    graded = [json.loads(line) for line in graded_path.read_text().splitlines()]
    assert [g["correct"] for g in graded] == [True, False, True, True, False, False]
    assert [g["formatted"] for g in graded] == [True, True, True, False, False, True]
    assert [g["extracted"] for g in graded][:2] == ["5", "6"]
    score = json.loads(score_path.read_text())
    assert score["identity"]["run"] == "still" and score["identity"]["benchmark"] == "tiny_math"
    assert len(score["identity"]["samples_sha256"]) == 64
    assert score["pass_at_1"] == pytest.approx(100 * (0.5 + 1 + 0) / 3)
    assert score["accuracy_after_think"] == pytest.approx(100 * (0.5 + 1 + 0) / 3)  # same here
    assert score["accuracy_math_verify"] == pytest.approx(100 * (0.5 + 1 + 0) / 3)  # here too
    assert score["grading"] == {"reading": "lighteval-ed084813", "timeout_s": 5}
    assert score["pass_at_k"] == {"1": pytest.approx(50.0), "2": pytest.approx(200 / 3)}
    assert (score["n_problems"], score["samples_per_problem"], score["n_samples"]) == (3, 2, 6)
    assert (score["n_correct"], score["n_length"], score["n_timeouts"]) == (3, 1, 0)
    assert score["format_rate"] == pytest.approx(400 / 6)
    assert score["accuracy_given_formatted"] == pytest.approx(50.0)
    assert score["mean_n_tokens"] == pytest.approx((8 + 5 * 4) / 6)


def test_grading_refuses_samples_of_another_benchmark(samples_path, tmp_path):
    changed = tmp_path / "changed.parquet"
    pd.DataFrame({"id": [0, 1, 2], "answer": ["5", "15", "8"]}).to_parquet(changed)
    with pytest.raises(ValueError, match="problem 1 has gold '14' but the benchmark says '15'"):
        grade_and_score(samples_path, changed, tmp_path / "g", tmp_path / "s", 1)
    larger = tmp_path / "larger.parquet"
    pd.DataFrame({"id": [0, 1, 2, 3], "answer": [*GOLDS, "1"]}).to_parquet(larger)
    with pytest.raises(ValueError, match=r"1 benchmark problem\(s\) have no samples"):
        grade_and_score(samples_path, larger, tmp_path / "g", tmp_path / "s", 1)
    assert not (tmp_path / "s").exists()
