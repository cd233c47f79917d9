"""A training run's identity and the fate of a run folder: resumed, trained, or moved aside."""

import json
import logging
import re

import pytest
from helpers import tiny_context, tiny_row, write_rows

from tina_repro import paths
from tina_repro.config.rows import as_params
from tina_repro.train import identity
from tina_repro.train.identity import FRESH, RESUME, SUPERSEDE, claim, decide, run_inputs


def inputs_of(tmp_path, row=None, rows=8, model_bytes=b"weights"):
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "model.safetensors").write_bytes(model_bytes)
    parquet = write_rows(tmp_path / f"rows{rows}.parquet", n=rows)
    settings = {"grpo": {"learning_rate": 1e-3}, "lora": {"r": 8}, "rewards": []}
    return run_inputs(
        row or tiny_row(), as_params(tiny_context()), "cpu", 0, settings, parquet, model
    )


def record_of(inputs, finished_step=None):
    return {
        "identity": identity.identity_of(inputs),
        "inputs": inputs,
        "finished": None if finished_step is None else {"step": finished_step},
    }


def test_the_identity_covers_content_and_settings_not_comment_stop_or_place(tmp_path):
    base = inputs_of(tmp_path)
    assert identity.identity_of(base) == identity.identity_of(inputs_of(tmp_path))
    same = [tiny_row(comment="a note"), tiny_row(stop_step=15)]
    for row in same:
        assert identity.identity_of(inputs_of(tmp_path, row)) == identity.identity_of(base)
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    assert identity.identity_of(inputs_of(moved)) == identity.identity_of(base)  # same bytes

    changed = {
        "row.learning_rate": inputs_of(tmp_path, tiny_row(learning_rate=5e-4)),
        "dataset_sha256": inputs_of(tmp_path, rows=9),
        "base_model": inputs_of(tmp_path, model_bytes=b"other weights"),
    }
    for name, inputs in changed.items():
        assert identity.identity_of(inputs) != identity.identity_of(base)
        assert identity.changed_inputs(base, inputs) == [name]


@pytest.mark.parametrize(
    ("record", "stop", "files", "action", "reason"),
    [
        (None, 10, False, FRESH, "nothing trained yet"),
        (None, 10, True, SUPERSEDE, "it records no identity"),
        ("other", 10, True, SUPERSEDE, r"its inputs changed \(row.learning_rate\)"),
        ("same", 10, True, RESUME, "same identity, not finished"),
        ("same@10", 10, True, SUPERSEDE, "it finished at step 10 and is asked to train again"),
        ("same@10", 20, True, RESUME, "it finished at step 10; stop_step is now 20"),
        ("same@20", 10, True, RESUME, "same identity"),  # the trainer refuses it in one line
    ],
)
def test_decide(tmp_path, record, stop, files, action, reason):
    inputs = inputs_of(tmp_path)
    records = {
        None: None,
        "other": record_of(inputs_of(tmp_path, tiny_row(learning_rate=5e-4))),
        "same": record_of(inputs),
        "same@10": record_of(inputs, finished_step=10),
        "same@20": record_of(inputs, finished_step=20),
    }
    decision = decide(records[record], inputs, stop, files)
    assert decision.action == action
    assert re.match(reason, decision.reason)


def fill_run_folder(out):
    (out / "checkpoint-5").mkdir(parents=True)
    (out / "checkpoint-5" / "adapter_model.safetensors").write_bytes(b"GPU-days")
    (out / "train_sessions.json").write_text("{}")
    (out / paths.WRITER_LOCK).write_text("1234 host\n")


def test_claim_moves_another_run_aside_and_records_this_one(tmp_path, caplog, monkeypatch):
    out = tmp_path / "results" / "train" / "tiny"
    fill_run_folder(out)
    inputs = inputs_of(tmp_path)
    (out / paths.RUN_IDENTITY).write_text(
        json.dumps(record_of(inputs_of(tmp_path, tiny_row(learning_rate=5e-4))))
    )
    with caplog.at_level(logging.WARNING, logger="tina_repro.train.identity"):
        decision = claim(out, inputs, stop_step=10)
    assert decision.action == SUPERSEDE
    (aside,) = tmp_path.glob("results/train/tiny.superseded-*")
    assert re.fullmatch(r"tiny\.superseded-\d{8}T\d{6}Z", aside.name)
    assert (aside / "checkpoint-5" / "adapter_model.safetensors").read_bytes() == b"GPU-days"
    assert json.loads((aside / paths.RUN_IDENTITY).read_text())["inputs"]["row"]["learning_rate"]
    assert sorted(p.name for p in out.iterdir()) == [paths.WRITER_LOCK, paths.RUN_IDENTITY]
    record = json.loads((out / paths.RUN_IDENTITY).read_text())
    assert (record["identity"], record["finished"]) == (identity.identity_of(inputs), None)
    (line,) = caplog.messages  # one line names the folder and why
    assert f"moved it aside to {aside}" in line and "row.learning_rate" in line

    # The same run again: resumed, nothing moved. Finished at its stop step and asked again:
    # moved aside (a second time within the second gets its own folder).
    assert claim(out, inputs, stop_step=10).action == RESUME
    identity.mark_finished(out, {"final_step": 10})
    fill_run_folder(out)
    monkeypatch.setattr(identity, "_now", lambda: identity.datetime.datetime(2001, 1, 2, 3, 4, 5))
    assert claim(out, inputs, stop_step=10).action == SUPERSEDE
    fill_run_folder(out)
    identity.mark_finished(out, {"final_step": 10})
    assert claim(out, inputs, stop_step=10).action == SUPERSEDE
    names = sorted(p.name for p in tmp_path.glob("results/train/tiny.superseded-2001*"))
    assert names == ["tiny.superseded-20010102T030405Z", "tiny.superseded-20010102T030405Z-2"]


def test_a_multi_gpu_worker_refuses_an_unclaimed_folder(tmp_path):
    inputs = inputs_of(tmp_path)
    with pytest.raises(identity.UnclaimedRunError, match="not claimed for this run"):
        identity.check_claimed(tmp_path / "run", inputs)
    claim(tmp_path / "run", inputs, stop_step=10)
    identity.check_claimed(tmp_path / "run", inputs)
