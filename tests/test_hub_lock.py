"""The Hub lock file, against a fake Hub patched in at the huggingface_hub boundary."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pandas as pd
import pytest
from helpers import hub_cache_with_model

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


# ---- the downloads themselves: models, adapters, datasets and benchmarks -------------------------


@pytest.fixture
def online(hub, monkeypatch, hub_lock_file):
    """The fake Hub, reachable: snapshot_download and load_dataset record what they were asked."""
    import datasets
    from huggingface_hub import constants

    import tina_repro.data.models  # noqa: F401  (huggingface_hub is imported lazily there)

    hub.fetched = []

    def snapshot_download(repo_id, *, revision, local_dir, token=None, **kwargs):
        hub.fetched.append(("model", repo_id, revision))
        (Path(local_dir) / "config.json").write_text(revision)
        return str(local_dir)

    def load_dataset(path, *, revision, **kwargs):
        hub.fetched.append(("dataset", path, revision))
        return datasets.Dataset.from_pandas(pd.DataFrame({"problem": ["1+1"], "answer": ["2"]}))

    monkeypatch.setattr(constants, "is_offline_mode", lambda: False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return hub


def _benchmark():
    from helpers import paper_config

    return paper_config().benchmarks["aime24"]  # HuggingFaceH4/aime_2024 at main


def test_first_downloads_record_their_commits_and_reruns_read_them(online, hub_lock_file, tmp_path):
    from tina_repro.data import models, sources

    aime = _benchmark()
    online.heads[("model", "org/base", "main")] = OLD
    online.heads[("dataset", aime.source, "main")] = DATA

    manifest = models.download_model("org/base", "main", tmp_path / "base")
    frame = sources.load_source(aime)
    assert manifest["revision_resolved"] == OLD and frame.attrs["revision_resolved"] == DATA
    assert online.fetched == [("model", "org/base", OLD), ("dataset", aime.source, DATA)]
    assert {key: row.commit for key, row in read_lock(hub_lock_file).items()} == {
        ("model", "org/base", "main"): OLD,
        ("dataset", aime.source, "main"): DATA,
    }

    # months later both branches moved: a rerun still reads the locked commits
    online.heads[("model", "org/base", "main")] = NEW
    online.heads[("dataset", aime.source, "main")] = NEW
    online.calls.clear()
    before = hub_lock_file.read_text()
    assert models.download_model("org/base", "main", tmp_path / "again")["revision_resolved"] == OLD
    assert sources.load_source(aime).attrs["revision_resolved"] == DATA
    assert online.calls == []  # no branch was resolved again
    assert online.fetched[2:] == [("model", "org/base", OLD), ("dataset", aime.source, DATA)]
    assert hub_lock_file.read_text() == before


def test_a_download_that_read_another_commit_stops_in_one_line(
    hub_lock_file, tmp_path, monkeypatch
):
    """Offline, datasets falls back to the newest cached copy: not the locked commit, refused."""
    import datasets

    from tina_repro.data import sources

    aime = _benchmark()
    check_resolved(aime.source, "dataset", "main", OLD, hub_lock_file)  # an earlier download
    cached = tmp_path / "cache" / NEW
    datasets.Dataset.from_pandas(pd.DataFrame({"problem": ["1+1"], "answer": ["2"]})).save_to_disk(
        cached
    )
    asked = []

    def newest_cached(path, *, revision, **kwargs):
        asked.append(revision)
        return datasets.Dataset.from_file(str(next(cached.glob("*.arrow"))))

    monkeypatch.setattr(datasets, "load_dataset", newest_cached)
    with pytest.raises(sources.DataError) as caught:
        sources.load_source(aime)
    assert asked == [OLD]  # the locked commit was asked for
    assert str(caught.value) == (
        f"aime24: dataset {aime.source}@main resolved to {NEW} but {hub_lock_file} locks {OLD}; "
        "to accept the change deliberately set TINA_HUB_LOCK_UPDATE=1 "
        f"(or run: tina-repro hub-lock --update {aime.source})"
    )
    assert read_lock(hub_lock_file)[("dataset", aime.source, "main")].commit == OLD


def test_accepting_a_moved_revision_deliberately(online, hub_lock_file, tmp_path, monkeypatch):
    from tina_repro.data import models
    from tina_repro.ops import cli

    online.heads[("model", "org/adapter", "main")] = OLD
    models.download_model("org/adapter", "main", tmp_path / "a")
    online.heads[("model", "org/adapter", "main")] = NEW

    monkeypatch.setenv("TINA_HUB_LOCK_UPDATE", "1")  # for one run
    assert models.download_model("org/adapter", "main", tmp_path / "b")["revision_resolved"] == NEW
    assert read_lock(hub_lock_file)[("model", "org/adapter", "main")].commit == NEW
    monkeypatch.delenv("TINA_HUB_LOCK_UPDATE")

    online.heads[("model", "org/adapter", "main")] = DATA  # or with the command, once
    assert cli.main(["hub-lock", "--update", "org/adapter"]) == 0
    assert read_lock(hub_lock_file)[("model", "org/adapter", "main")].commit == DATA
    assert models.download_model("org/adapter", "main", tmp_path / "c")["revision_resolved"] == DATA
    assert online.fetched == [("model", "org/adapter", c) for c in (OLD, NEW, DATA)]


def test_hub_lock_command_fails_in_one_line_for_an_unlocked_repo(hub_lock_file, capsys):
    from tina_repro.ops import cli

    assert cli.main(["hub-lock", "--update", "org/unknown"]) == 2
    assert capsys.readouterr().err == (
        f"tina-repro hub-lock: error: {hub_lock_file} has no row for org/unknown\n"
    )


def test_an_offline_cache_without_the_locked_model_commit_is_drift(
    hub_lock_file, tmp_path, monkeypatch
):
    """The cache holds only a newer snapshot of main: refused, and nothing is linked."""
    from huggingface_hub import constants

    from tina_repro.data import models, sources

    cache = hub_cache_with_model(tmp_path / "hub", "org/tiny", NEW, "{}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    check_resolved("org/tiny", "model", "main", OLD, hub_lock_file)  # an earlier download

    with pytest.raises(sources.DataError) as caught:
        models.download_model("org/tiny", "main", tmp_path / "out")
    assert str(caught.value) == (
        f"org/tiny: model org/tiny@main resolved to {NEW} but {hub_lock_file} locks {OLD}; "
        "to accept the change deliberately set TINA_HUB_LOCK_UPDATE=1 "
        "(or run: tina-repro hub-lock --update org/tiny)"
    )
    assert list((tmp_path / "out").iterdir()) == []

    monkeypatch.setenv("TINA_HUB_LOCK_UPDATE", "1")  # accepted deliberately: the cache's commit
    assert models.download_model("org/tiny", "main", tmp_path / "out")["revision_resolved"] == NEW
    assert read_lock(hub_lock_file)[("model", "org/tiny", "main")].commit == NEW
