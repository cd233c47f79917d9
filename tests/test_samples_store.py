"""The samples store: identities of content, whether grades are current, dangling links, and the
sample schema a partial file's rows must pass."""

import json
import shutil

import pytest

from tina_repro.eval import store
from tina_repro.eval.requests import Completion, Request, sample_row, sample_row_problem

SAMPLING = {"temperature": 0.6, "samples_per_problem": 2}


@pytest.fixture
def evaluated(tmp_path):
    """A model folder, an adapter folder and a benchmark file."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"base weights")
    adapter = tmp_path / "run" / "checkpoint-40"
    adapter.mkdir(parents=True)
    (adapter / "adapter_model.safetensors").write_bytes(b"step 40")
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 8, "target_modules": ["q"]}))
    parquet = tmp_path / "bench.parquet"
    parquet.write_bytes(b"problems")
    return model, adapter, parquet


def identity_of(model, adapter, parquet, **sampling):
    return store.samples_identity(parquet, model, adapter, {**SAMPLING, **sampling}, "expr")


def test_identity_is_of_content_not_place(evaluated, tmp_path):
    model, adapter, parquet = evaluated
    first = identity_of(model, adapter, parquet)
    copy = tmp_path / "elsewhere" / "checkpoint-9"
    shutil.copytree(adapter, copy)
    assert identity_of(model, copy, parquet) == first
    (adapter / "adapter_model.safetensors").write_bytes(b"step 10")  # replaced in place
    assert identity_of(model, adapter, parquet) != first
    assert identity_of(model, None, parquet) != first
    assert identity_of(model, copy, parquet, temperature=1.0) != first
    with pytest.raises(FileNotFoundError, match="checkpoint-3: no model to evaluate"):
        identity_of(model, tmp_path / "checkpoint-3", parquet)


def graded(folder, identity):
    """A finished, graded evaluation in ``folder`` of samples of ``identity``."""
    folder.mkdir(parents=True, exist_ok=True)
    samples = folder / "samples.jsonl"
    stored = store.store_path(samples, identity)
    stored.write_text("{}\n")
    store.link(samples, stored)
    score = folder / "score.json"
    score.write_text(json.dumps({"identity": {"samples_store": stored.name}}))
    return samples, score


def test_grades_are_current_while_they_graded_the_samples_of_the_current_identity(
    evaluated, tmp_path
):
    model, adapter, parquet = evaluated
    samples, score = graded(tmp_path / "eval", identity_of(model, adapter, parquet))

    def current():
        return store.grades_are_current(samples, score, parquet, model, adapter, SAMPLING, "expr")

    assert current()
    (adapter / "adapter_model.safetensors").write_bytes(b"replaced in place")
    assert not current()
    samples, score = graded(tmp_path / "eval", identity_of(model, adapter, parquet))
    assert current()
    score.write_text(json.dumps({"identity": {"samples_store": "samples.other.jsonl"}}))
    assert not current()  # the grades are of other samples
    score.write_text("{not json")
    assert not current()
    samples, score = graded(tmp_path / "eval", identity_of(model, adapter, parquet))
    assert not store.is_dangling(samples)
    samples.resolve().unlink()  # the store file is deleted
    assert store.is_dangling(samples) and not current()


REQUEST = Request(
    problem_id=3,
    sample_index=1,
    seed=77,
    prompt_hash="ab",
    prompt_ids=(1, 2),
    max_tokens=8,
    gold="5",
    task="math",
    gold_format="expr",
)
ROW = sample_row(REQUEST, Completion("so \\boxed{5}", 6, "stop"))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({}, None),
        ({"completion": None}, "completion is not text"),
        ({"seed": 78}, "seed 78 is not its request's 77"),
        ({"problem_id": "3"}, "problem_id '3' is not its request's 3"),
        ({"n_tokens": 9}, "n_tokens 9 is not a count up to 8"),
        ({"n_tokens": True}, "n_tokens True is not a count up to 8"),
        ({"finish_reason": "abort"}, "finish_reason 'abort' is not one of"),
        ({"extra": 1}, "fields"),
    ],
)
def test_sample_schema(change, problem):
    found = sample_row_problem({**ROW, **change}, REQUEST)
    assert found == problem if problem is None else found.startswith(problem)


def test_sample_schema_wants_every_field():
    row = {key: value for key, value in ROW.items() if key != "gold"}
    assert sample_row_problem(row, REQUEST).startswith("fields")
    assert sample_row_problem([ROW], REQUEST) == "not a JSON object"
