"""The Hub lock file, against a fake Hub patched in at the huggingface_hub boundary."""

from __future__ import annotations

import multiprocessing
from types import SimpleNamespace

import huggingface_hub
import pytest

from tina_repro import hub_lock
from tina_repro.hub_lock import HubLockError, check_resolved, read_lock, resolve

OLD = "a" * 40
NEW = "b" * 40
DATA = "c" * 40


class FakeHub:
    """Branch heads per (repo_type, repo_id, revision); counts every info call."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.heads: dict[tuple[str, str, str], str] = {}
        self.calls: list[tuple[str, str, str | None]] = []
        monkeypatch.setattr(huggingface_hub.HfApi, "model_info", self._info("model"))
        monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", self._info("dataset"))

    def _info(self, repo_type: str):
        def info(api, repo_id, *, revision=None, token=None, **kwargs):
            self.calls.append((repo_type, repo_id, revision))
            return SimpleNamespace(sha=self.heads[(repo_type, repo_id, revision or "main")])

        return info


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    monkeypatch.delenv(hub_lock.UPDATE_ENV, raising=False)
    return FakeHub(monkeypatch)


@pytest.fixture
def lock(tmp_path):
    return tmp_path / "config" / "hub.lock.tsv"


def test_first_download_records_the_commit(hub, lock):
    hub.heads[("model", "org/base", "main")] = OLD
    hub.heads[("dataset", "org/data", "main")] = DATA

    assert resolve("org/base", "model", "main", lock) == OLD
    assert resolve("org/data", "dataset", "main", lock) == DATA

    assert hub.calls == [("model", "org/base", "main"), ("dataset", "org/data", "main")]
    rows = read_lock(lock)
    assert rows[("model", "org/base", "main")].commit == OLD
    assert rows[("dataset", "org/data", "main")].commit == DATA
    lines = lock.read_text().splitlines()
    assert lines[0] == "repo_type\trepo_id\trequested\tcommit\trecorded_at"
    assert lines[1:] == sorted(lines[1:])  # dataset before model: stable, sorted rows


def test_matching_rerun_reads_the_lock_without_the_hub(hub, lock):
    hub.heads[("model", "org/base", "main")] = OLD
    resolve("org/base", "model", "main", lock)
    before = lock.read_text()
    hub.calls.clear()

    assert resolve("org/base", "model", "main", lock) == OLD
    check_resolved("org/base", "model", "main", OLD, lock)

    assert hub.calls == []
    assert lock.read_text() == before


def test_hub_moving_main_does_not_change_what_a_later_run_reads(hub, lock):
    hub.heads[("model", "org/base", "main")] = OLD
    resolve("org/base", "model", "main", lock)
    hub.heads[("model", "org/base", "main")] = NEW  # months later, main moved

    assert resolve("org/base", "model", "main", lock) == OLD
    assert read_lock(lock)[("model", "org/base", "main")].commit == OLD


def test_drift_after_download_raises_one_line(hub, lock):
    check_resolved("org/base", "model", "main", OLD, lock)  # first download records it
    assert read_lock(lock)[("model", "org/base", "main")].commit == OLD

    with pytest.raises(HubLockError) as caught:
        check_resolved("org/base", "model", "main", NEW, lock)

    message = str(caught.value)
    assert "\n" not in message
    assert "org/base" in message and OLD in message and NEW in message
    assert "TINA_HUB_LOCK_UPDATE=1" in message
    assert "tina-repro hub-lock --update org/base" in message
    assert read_lock(lock)[("model", "org/base", "main")].commit == OLD  # nothing rewritten


def test_accept_update_argument_rewrites_the_row(hub, lock, caplog):
    hub.heads[("model", "org/base", "main")] = OLD
    resolve("org/base", "model", "main", lock)
    hub.heads[("model", "org/base", "main")] = NEW

    with caplog.at_level("WARNING", logger="tina_repro.hub_lock"):
        assert resolve("org/base", "model", "main", lock, accept_update=True) == NEW
    assert read_lock(lock)[("model", "org/base", "main")].commit == NEW
    assert "accepted" in caplog.text and OLD in caplog.text and NEW in caplog.text

    check_resolved("org/base", "model", "main", OLD, lock, accept_update=True)
    assert read_lock(lock)[("model", "org/base", "main")].commit == OLD
    assert resolve("org/base", "model", "main", lock) == OLD


def test_env_var_accepts_the_update(hub, lock, monkeypatch, caplog):
    check_resolved("org/data", "dataset", "v1.0", OLD, lock)
    monkeypatch.setenv("TINA_HUB_LOCK_UPDATE", "1")
    assert hub_lock.accept_update_from_env()

    with caplog.at_level("WARNING", logger="tina_repro.hub_lock"):
        check_resolved("org/data", "dataset", "v1.0", NEW, lock)
    assert read_lock(lock)[("dataset", "org/data", "v1.0")].commit == NEW
    assert "accepted" in caplog.text

    hub.heads[("dataset", "org/data", "v1.0")] = DATA
    assert resolve("org/data", "dataset", "v1.0", lock) == DATA
    assert hub.calls == [("dataset", "org/data", "v1.0")]
    assert read_lock(lock)[("dataset", "org/data", "v1.0")].commit == DATA

    monkeypatch.setenv("TINA_HUB_LOCK_UPDATE", "0")
    assert not hub_lock.accept_update_from_env()
    with pytest.raises(HubLockError):
        check_resolved("org/data", "dataset", "v1.0", OLD, lock)


def test_pinned_commit_bypasses_the_lock(hub, lock):
    assert resolve("org/base", "model", NEW, lock) == NEW
    check_resolved("org/base", "model", NEW, OLD, lock)  # nothing to compare against a pin
    assert hub.calls == []
    assert not lock.exists()


def test_bad_arguments_are_refused(hub, lock):
    with pytest.raises(HubLockError, match="not model or dataset"):
        resolve("org/base", "space", "main", lock)
    with pytest.raises(HubLockError, match="cannot go in the lock"):
        check_resolved("org/base", "model", "ma\tin", OLD, lock)
    hub.heads[("model", "org/base", "main")] = "not-a-sha"
    with pytest.raises(HubLockError, match="not a 40-hex sha"):
        resolve("org/base", "model", "main", lock)
    assert not lock.exists()


def test_update_repo_rewrites_moved_rows(hub, lock):
    hub.heads[("model", "org/base", "main")] = OLD
    hub.heads[("model", "org/base", "v2")] = DATA
    resolve("org/base", "model", "main", lock)
    resolve("org/base", "model", "v2", lock)
    hub.heads[("model", "org/base", "main")] = NEW

    moved = hub_lock.update_repo("org/base", lock)

    assert moved == {("model", "org/base", "main"): NEW, ("model", "org/base", "v2"): DATA}
    assert read_lock(lock)[("model", "org/base", "main")].commit == NEW
    assert read_lock(lock)[("model", "org/base", "v2")].commit == DATA
    with pytest.raises(HubLockError, match="no row for org/other"):
        hub_lock.update_repo("org/other", lock)


HEADER = "repo_type\trepo_id\trequested\tcommit\trecorded_at\n"
ROW_A = f"model\torg/a\tmain\t{OLD}\t2025-01-01\n"


@pytest.mark.parametrize(
    ("body", "line", "what"),
    [
        ("repo\tid\n", 1, "header"),
        (HEADER + ROW_A + "model\torg/b\tmain\tnot-a-sha\t2025-01-01\n", 3, "40-hex"),
        (HEADER + ROW_A + f"model\torg/a\tmain\t{NEW}\t2025-01-02\n", 3, "duplicate"),
        (HEADER + f"space\torg/a\tmain\t{OLD}\t2025-01-01\n", 2, "repo_type"),
        (HEADER + f"model\torg/a\tmain\t{OLD}\n", 2, "fields"),
        (HEADER + f"model\torg/a\tmain\t{OLD}\tyesterday\n", 2, "ISO date"),
    ],
)
def test_malformed_lock_names_the_line(hub, lock, body, line, what):
    lock.parent.mkdir(parents=True)
    lock.write_text(body)

    with pytest.raises(HubLockError) as caught:
        read_lock(lock)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{lock}:{line}:") and what in message
    with pytest.raises(HubLockError):
        resolve("org/a", "model", "main", lock)


def _record_many(prefix: str, lock_path: str, start) -> None:
    start.wait()
    for i in range(20):
        resolve(f"{prefix}/repo-{i}", "model", "main", lock_path)


def test_concurrent_writers_keep_both_rows(hub, lock):
    for prefix in ("alice", "bob"):
        for i in range(20):
            hub.heads[("model", f"{prefix}/repo-{i}", "main")] = f"{i:040x}"
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(2)
    workers = [
        ctx.Process(target=_record_many, args=(prefix, str(lock), start))
        for prefix in ("alice", "bob")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    rows = read_lock(lock)
    assert len(rows) == 40
    assert rows[("model", "alice/repo-7", "main")].commit == f"{7:040x}"
    assert rows[("model", "bob/repo-19", "main")].commit == f"{19:040x}"
