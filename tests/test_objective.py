"""The objective TRL 1.16 optimises under our mapping is the paper's, checked inside a real
GRPOTrainer on the tiny model: log-probs of the raw logits while sampling keeps the row's
temperature, Tina's "Dr.GRPO" loss (Σ token losses / Σ tokens of one prompt group) as TRL's
``bnpo``, rollouts sampled after two BOS tokens while the loss keeps one, and a None reward
(an unparseable gold) summed away as Tina's trainer did."""

import inspect
import math
import os

import pandas as pd
import pytest
import torch
from helpers import tiny_context, tiny_row, with_r1_tokenizer_flags, write_rows

from tina_repro import rewards
from tina_repro.demo.tiny_model import build_tiny_model
from tina_repro.train import rollouts
from tina_repro.train.prompts import load_tokenizer, prepare_prompts, read_training_rows
from tina_repro.train.provenance import resolve_run

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0, size="test")


def build_trainer(tiny_dir, tmp_path, row, rows=None, context=None, **grpo_overrides):
    """A GRPOTrainer built exactly as training builds it from ``row`` (CPU, float32), on the
    normalized training table ``rows`` (default: :func:`write_rows`'s), in ``context`` (default:
    :func:`tiny_context`)."""
    from peft import LoraConfig
    from trl import GRPOConfig

    tmp_path.mkdir(parents=True, exist_ok=True)
    context = context or tiny_context()
    tokenizer = load_tokenizer(tiny_dir, context)
    table, _ = read_training_rows(rows or write_rows(tmp_path / "rows.parquet"))
    dataset, _ = prepare_prompts(table, tokenizer, context.system_prompt, row.max_prompt_length)
    resolution = resolve_run(row, context, 0, "cpu", len(table))
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"), **{**resolution["settings"]["grpo"], **grpo_overrides}
    )
    trainer = rollouts.build_trainer(
        rollouts.rollout_affixes(tokenizer, tiny_dir, context.rollout_prompt_tokens),
        model=str(tiny_dir),
        reward_funcs=[
            rewards.build(s["name"], **s["params"]) for s in resolution["settings"]["rewards"]
        ],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=LoraConfig(**resolution["settings"]["lora"]),
    )
    return trainer, tokenizer, dataset


def prompt_ids(tokenizer, dataset, copies: int) -> torch.Tensor:
    ids = tokenizer.apply_chat_template(
        dataset[0]["prompt"], add_generation_prompt=True, return_dict=True, return_tensors="pt"
    )["input_ids"]
    return ids.repeat(copies, 1)


def raw_logps(model, input_ids, attention_mask, n_completion: int) -> torch.Tensor:
    """log_softmax of the model's raw logits at each completion token (the paper's trainer)."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    logits = logits[:, -n_completion - 1 : -1].float()
    targets = input_ids[:, -n_completion:].unsqueeze(-1)
    return torch.log_softmax(logits, dim=-1).gather(-1, targets).squeeze(-1)


def randomise_lora_b(model, seed: int) -> None:
    """LoRA B starts at zero (adapter = base model); move it so the policy differs from the
    reference and every term of the loss is live."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(0.05 * torch.randn(param.shape, generator=generator))


@pytest.mark.slow
def test_loss_log_probs_are_the_raw_logits_while_sampling_keeps_the_rows_temperature(
    tmp_path, tiny_dir
):
    row = tiny_row(temperature=0.7, top_p=0.95, max_completion_length=12)
    trainer, tokenizer, dataset = build_trainer(tiny_dir, tmp_path / "a", row)
    # transformers generation samples with the row's settings (vLLM gets the same
    # generation_kwargs; see train/mapping.py)
    config = trainer.generation_config
    assert (config.do_sample, config.temperature, config.top_p) == (True, 0.7, 0.95)

    model = trainer.model.eval()  # no dropout: the two forward passes must see the same net
    randomise_lora_b(model, seed=1)
    prompts = prompt_ids(tokenizer, dataset, copies=4)
    torch.manual_seed(0)
    with torch.no_grad():
        sampled = model.generate(
            input_ids=prompts,
            attention_mask=torch.ones_like(prompts),
            generation_config=config,
        )
        n_completion = sampled.size(1) - prompts.size(1)
        mask = torch.ones_like(sampled)
        used, _, _ = trainer._get_per_token_logps_and_entropies(model, sampled, mask, n_completion)
        raw = raw_logps(model, sampled, mask, n_completion)
    assert n_completion > 0
    torch.testing.assert_close(used, raw, rtol=0, atol=1e-5)

    # Control: with GRPOConfig.temperature at the sampling temperature (TRL's own reading),
    # the loss would use log_softmax(logits / 0.7), which this test tells apart.
    hot, _, _ = build_trainer(tiny_dir, tmp_path / "b", row, temperature=0.7)
    hot_model = hot.model.eval()
    randomise_lora_b(hot_model, seed=1)
    with torch.no_grad():
        hot_used, _, _ = hot._get_per_token_logps_and_entropies(
            hot_model, sampled, mask, n_completion
        )
        logits = hot_model(input_ids=sampled, attention_mask=mask).logits
        scaled = torch.log_softmax(logits[:, -n_completion - 1 : -1].float() / 0.7, dim=-1)
        scaled = scaled.gather(-1, sampled[:, -n_completion:].unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(hot_used, scaled, rtol=0, atol=1e-5)
    assert (hot_used - raw).abs().max() > 1e-2


def tina_drgrpo_loss(model, batch: dict, beta: float) -> torch.Tensor:
    """Tina's compute_loss with scale_rewards=False (tina/post_train_hf/grpo_trainer.py at
    077329b), written out: Σ token losses / Σ tokens over the micro-batch."""
    input_ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    attention_mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    logps = raw_logps(model, input_ids, attention_mask, batch["completion_ids"].size(1))
    ref = batch["ref_per_token_logps"]
    kl = torch.exp(ref - logps) - (ref - logps) - 1
    per_token = torch.exp(logps - logps.detach()) * batch["advantages"].unsqueeze(1)
    per_token = -(per_token - beta * kl)
    mask = batch["completion_mask"]
    return (per_token * mask).sum() / mask.sum()


def lora_grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.slow
def test_tinas_drgrpo_loss_is_trls_bnpo_over_one_prompt_group(tmp_path, tiny_dir):
    # As open_rs3_drgrpo_tina: bnpo, no std scaling; no dropout so both passes see one network.
    row = tiny_row(loss_type="bnpo", scale_rewards="none", lora_dropout=0.0)
    trainer, tokenizer, dataset = build_trainer(tiny_dir, tmp_path, row)
    args = trainer.args
    group = row.num_generations
    # one prompt group per micro-batch, generated on its own
    assert (args.per_device_train_batch_size, args.steps_per_generation) == (group, 1)
    accumulation = args.gradient_accumulation_steps
    assert accumulation == row.prompts_per_step

    model = trainer.model.train()
    randomise_lora_b(model, seed=2)
    prompts = prompt_ids(tokenizer, dataset, copies=group)
    generator = torch.Generator().manual_seed(3)
    length = 9
    completions = torch.randint(0, tokenizer.vocab_size, (group, length), generator=generator)
    lengths = torch.tensor([9, 2, 6, 4])  # unequal: the normalisations differ
    completion_mask = (torch.arange(length) < lengths.unsqueeze(1)).long()
    rewards_ = torch.tensor([1.0, 0.0, 3.0, 0.5])
    batch = {
        "prompt_ids": prompts,
        "prompt_mask": torch.ones_like(prompts),
        "completion_ids": completions,
        "completion_mask": completion_mask,
        "advantages": rewards_ - rewards_.mean(),  # scale_rewards "none"
    }
    with torch.no_grad(), model.disable_adapter():
        input_ids = torch.cat([prompts, completions], dim=1)
        attention = torch.cat([batch["prompt_mask"], completion_mask], dim=1)
        batch["ref_per_token_logps"] = raw_logps(model, input_ids, attention, length)

    tina = tina_drgrpo_loss(model, batch, row.beta)
    tina.backward()
    expected_grads = lora_grads(model)
    model.zero_grad()

    # TRL divides each micro-batch loss by the accumulation steps itself, as Tina's HF Trainer
    # did (model_accepts_loss_kwargs False there), so the step's gradient is the same mean.
    trainer.current_gradient_accumulation_steps = accumulation
    trl_loss = trainer._compute_loss(model, dict(batch))
    torch.testing.assert_close(trl_loss * accumulation, tina.detach(), rtol=1e-5, atol=1e-7)
    (trl_loss * accumulation).backward()
    got_grads = lora_grads(model)
    model.zero_grad()
    assert expected_grads.keys() == got_grads.keys() and expected_grads
    for name, grad in expected_grads.items():
        torch.testing.assert_close(got_grads[name], grad, rtol=1e-4, atol=1e-7, msg=name)
    assert max(g.abs().max() for g in expected_grads.values()) > 0

    # Neither TRL's per-sequence mean (grpo) nor its Dr.GRPO (constant divisor) is Tina's loss.
    for other in ("grpo", "dr_grpo"):
        trainer.loss_type = other
        with torch.no_grad():
            value = trainer._compute_loss(model, dict(batch)) * accumulation
        assert abs(value - tina.detach()) > 1e-3 * abs(tina.detach()), other


def test_the_rollout_override_fits_the_pinned_trl():
    from trl import GRPOTrainer

    parameters = tuple(inspect.signature(GRPOTrainer._generate_single_turn).parameters)
    assert parameters == rollouts.GENERATE_SINGLE_TURN_PARAMETERS


def generated_and_loss_prompts(trainer, dataset, monkeypatch) -> tuple[list, list]:
    """(prompt ids the rollouts were sampled on, prompt ids the loss takes) of one generation
    step over the first prompt group, both without padding."""
    sampled_on = []
    model = trainer.model
    original = model.generate

    def recording(*args, **kwargs):
        ids, mask = kwargs["input_ids"], kwargs["attention_mask"]
        sampled_on.extend(row[m.bool()].tolist() for row, m in zip(ids, mask, strict=True))
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "generate", recording)
    group = [dataset[0]] * trainer.num_generations
    torch.manual_seed(0)
    batch = trainer._generate_and_score_completions(group)
    loss_prompts = [
        row[m.bool()].tolist()
        for row, m in zip(batch["prompt_ids"], batch["prompt_mask"], strict=True)
    ]
    return sampled_on, loss_prompts


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "rollout_bos"), [("vllm_text", 2), ("chat_template", 1)])
def test_rollouts_sample_after_two_bos_tokens_while_the_loss_keeps_one(
    mode, rollout_bos, tmp_path, tiny_dir, monkeypatch
):
    """The paper's vLLM rollouts on the transformers path: the same override serves both."""
    bos_dir = with_r1_tokenizer_flags(tiny_dir, tmp_path / "model")
    row = tiny_row(max_completion_length=4)
    context = tiny_context(rollout_prompt_tokens=mode)
    trainer, tokenizer, dataset = build_trainer(bos_dir, tmp_path / "run", row, context=context)
    bos = tokenizer.bos_token_id
    template_ids = tokenizer.apply_chat_template(
        dataset[0]["prompt"], add_generation_prompt=True, return_dict=True
    )["input_ids"]
    assert template_ids[0] == bos and template_ids[1] != bos
    sampled_on, loss_prompts = generated_and_loss_prompts(trainer, dataset, monkeypatch)
    assert sampled_on == [[bos] * (rollout_bos - 1) + template_ids] * row.num_generations
    assert loss_prompts == [template_ids] * row.num_generations


@pytest.mark.slow
def test_trl_nansums_a_none_accuracy_as_tinas_trainer_did(tmp_path, tiny_dir):
    """A prompt whose gold does not parse: accuracy returns None for every completion, TRL 1.16
    makes it NaN and sums the weighted rewards with nansum (as Tina's trainer, grpo_trainer.py
    :628-649 at 077329b), so the total is the length reward alone (which counts the completions
    correct) and the group's advantages are its std-scaled deviations."""
    rows = tmp_path / "rows.parquet"
    # Two prompts (one optimizer step of tiny_row), both with a gold that does not parse.
    pd.DataFrame(
        {"problem": ["Name the empty box.", "Say hi."], "solution": ["$\\boxed{}$", ""]}
    ).to_parquet(rows)
    row = tiny_row(rewards="length:1,accuracy:2", max_completion_length=6)
    trainer, _, dataset = build_trainer(tiny_dir, tmp_path / "run", row, rows=rows)
    group = [dataset[0]] * row.num_generations
    torch.manual_seed(0)
    batch = trainer._generate_and_score_completions(group)
    per_reward = trainer._logs["rewards"]
    assert all(math.isnan(value) for value in per_reward["accuracy"])
    total = torch.tensor(per_reward["length"])  # 1 x length + 2 x NaN, nansum-ed
    assert total.std() > 0  # completions of different lengths: the advantages are not all 0
    expected = (total - total.mean()) / (total.std() + 1e-4)
    torch.testing.assert_close(batch["advantages"], expected)
