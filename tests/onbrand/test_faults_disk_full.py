"""A full disk during a write (issue 17, group 3): an index publish, an adapter publish or promotion, and a
spot-check verdict each fail with one clear line naming the file, and the previous state keeps serving,
whole. The disk fills at every step of each write in turn (OSError(ENOSPC) injected where core.atomic
makes a file durable, tests/conftest.py `disk_full`; SQLite's own "database or disk is full" for the
verdict store, which does its own I/O).

    .venv/bin/python -m pytest tests/onbrand/test_faults_disk_full.py -q -s    # -s prints the figures
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from core import atomic
from core.config import Settings
from core.errors import UserError
from core.generation import Generator
from core.model import load_base_model
from onbrand.assistant import Assistant
from onbrand.cli import main
from onbrand.spotchecks import SpotCheckError, SpotChecks, Verdict
from rag.index_store import build_index, current_version, load_index, rollback, versions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SURVIVED: dict[str, int] = {}  # write -> faults injected and survived, printed by the last test


def _hidden(folder):
    """Leftovers a failed write could leave: hidden temp files and folders (the lock file is expected)."""
    return sorted(p.name for p in folder.rglob(".*") if p.name != ".lock")


def _one_line(e: BaseException) -> str:
    text = str(e)
    assert "\n" not in text and "Traceback" not in text, text
    return text


@pytest.fixture()
def serving(tiny_index, tiny_kit, embedder, talkative_lm_dir, distinct_registry, tmp_path, monkeypatch):
    """An assistant serving the tiny index and quokka (promoted v0002) on the talkative tiny LM."""
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    root, name, _ = tiny_index
    lm = load_base_model(str(talkative_lm_dir), tmp_path / "cache", device="cpu")
    a = Assistant(Settings(home=tmp_path, index_name=name, max_new_tokens=10),
                  load_index(root, name, embedder.info), embedder, Generator(lm), tiny_kit, distinct_registry)
    a.default_adapter = a.load_adapter("quokka")
    return a


QUESTION = "how much is the dome?"


def test_a_full_disk_during_an_index_publish_leaves_the_previous_version_serving(serving, tiny_index, tiny_catalog,
                                                                                 tiny_kit, embedder, disk_full,
                                                                                 capsys):
    root, name, v1 = tiny_index
    before = serving.answer(QUESTION).text
    assert before
    steps = disk_full(root)  # count the durable writes of one publish first
    build_index(tiny_catalog, embedder, root, name, kit=tiny_kit)
    n = len(steps.calls)
    assert n >= 6, steps.calls  # manifest, the four staged files, CURRENT
    steps.stop()
    rollback(root, name, to=v1, embedder=embedder.info)  # serve v1 again; the loop publishes after it
    for at in range(1, n + 1):
        published = versions(root, name)
        disk_full(root, at=at)
        with pytest.raises(atomic.DiskFull) as err:
            build_index(tiny_catalog, embedder, root, name, kit=tiny_kit)
        message = _one_line(err.value)
        assert "the disk is full" in message and str(root) in message
        disk_full.stop()
        assert current_version(root, name) == v1  # CURRENT never moved
        new = [v for v in versions(root, name) if v not in published]
        assert new == [] or steps.calls[at - 1].startswith(".CURRENT"), (at, new)  # only a whole, unserved version
        for v in versions(root, name):
            load_index(root, name, embedder.info, version=v)  # every version on disk is whole
        assert _hidden(root / name) == []  # the failed write cleaned up after itself
        assert not serving.follow_current() and serving.index.version == v1
        assert serving.answer(QUESTION).text == before  # still serving, the same answer
    # the CLI says it in one line, no traceback
    disk_full(root, at=1)
    assert main(["--home", str(root.parent), "index", "build", "--catalog", str(FIXTURES / "tiny_catalog.jsonl"),
                 "--brand-kit", str(FIXTURES / "tiny_brand_kit.yaml"), "--index-name", name]) == 2
    disk_full.stop()
    err = capsys.readouterr().err
    [line] = [x for x in err.splitlines() if x.startswith("error:")]
    assert "the disk is full" in line and "Traceback" not in err and current_version(root, name) == v1
    SURVIVED["index publish"] = n + 1
    # room again: the next publish works and the running assistant follows it
    v_next = build_index(tiny_catalog, embedder, root, name, kit=tiny_kit)
    assert serving.follow_current() and serving.index.version == v_next


def test_a_full_disk_during_an_adapter_publish_or_promotion_leaves_the_promoted_version_serving(
        serving, distinct_registry, talkative_lm_dir, tmp_path, disk_full, random_adapter):
    publish_random_adapter = random_adapter
    reg = distinct_registry
    folder = reg.root / "quokka"
    before = serving.answer(QUESTION, adapter="quokka").text
    assert before and reg.promoted("quokka") == "v0002"
    steps = disk_full(reg.root)
    ref = publish_random_adapter(reg, talkative_lm_dir, "quokka", 7, tmp_path / "cache")
    n = len(steps.calls)
    steps.stop()
    assert n >= 3, steps.calls  # the manifest, then the staged folder's files
    reg.rm("quokka", ref.version)
    known = reg.versions("quokka")
    for at in range(1, n + 1):
        disk_full(reg.root, at=at)
        with pytest.raises(atomic.DiskFull) as err:
            publish_random_adapter(reg, talkative_lm_dir, "quokka", 7, tmp_path / "cache")
        assert "the disk is full" in _one_line(err.value) and str(folder) in str(err.value)
        disk_full.stop()
        assert reg.versions("quokka") == known and reg.promoted("quokka") == "v0002"
        assert _hidden(folder) == []
        reg.verify(reg.get("quokka"))
        assert serving.answer(QUESTION, adapter="quokka").text == before
    # a forced promotion writes the version's manifest (its record), then PROMOTED.json: either failing
    # changes nothing
    unforced = reg.get("quokka", "v0001").manifest
    for at, file in [(1, "manifest.json"), (2, "PROMOTED.json")]:
        disk_full(reg.root, at=at)
        with pytest.raises(atomic.DiskFull, match=file):
            reg.promote("quokka", "v0001", force=True, reason="disk full test")
        disk_full.stop()
        state = json.loads((folder / "PROMOTED.json").read_text())  # whole JSON, the old promotion
        assert state["version"] == "v0002" and reg.promoted("quokka") == "v0002"
        assert reg.get("quokka", "v0001").manifest == unforced  # no record of a promotion that did not happen
        assert _hidden(folder) == []
    fresh = Assistant(serving.settings, serving.index, serving.embedder,
                      Generator(load_base_model(str(talkative_lm_dir), tmp_path / "cache", device="cpu")),
                      serving.kit, reg)
    assert fresh.load_adapter("quokka") == "quokka@v0002"  # a restart serves the promoted version
    assert fresh.answer(QUESTION, adapter="quokka").text == before
    SURVIVED["adapter publish"] = n
    SURVIVED["adapter promotion"] = 2


def _verdict(i: int, big: bool = False) -> Verdict:
    return Verdict(question=f"how much is the dome? ({i})", retrieved_ids=("QK-TNT-01",), judged="adapter",
                   base_answer=None, adapter_answer=("The Quokka Dome 2 Tent is $249.00. " * (80 if big else 1)),
                   adapter="quokka", adapter_version="v0002", index_name="tiny", index_version="v0001",
                   verdict="approve", reason=None, note=f"n{i}", reviewer="ana")


def test_a_full_disk_during_a_verdict_write_keeps_every_earlier_verdict(tmp_path, monkeypatch):
    """SQLite reports a full disk as SQLITE_FULL; capping the file at its current size (max_page_count)
    makes the next write that needs a page fail exactly so."""
    store = SpotChecks.open(tmp_path / "spot.sqlite3")
    kept = [store.record(_verdict(i)) for i in range(20)]
    real = sqlite3.connect

    def full_disk(*args, **kwargs):
        con = real(*args, **kwargs)
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        con.execute(f"PRAGMA max_page_count = {pages}")
        return con

    monkeypatch.setattr(sqlite3, "connect", full_disk)
    failures = 0
    for i in range(20, 40):
        try:
            kept.append(store.record(_verdict(i, big=True)))
        except SpotCheckError as e:
            message = _one_line(e)
            assert str(store.path) in message and "the verdict was not stored (the disk is full)" in message
            assert isinstance(e, UserError)  # the app shows it as one error line under the form
            failures += 1
        assert [v.id for v in store.verdicts()] == [v.id for v in reversed(kept)]  # nothing lost, nothing half
    assert failures >= 10, failures
    monkeypatch.undo()
    assert SpotChecks.open(store.path).verdicts() == list(reversed(kept))  # reopens: verified, whole
    kept.append(store.record(_verdict(99)))  # room again: the store takes verdicts again
    assert len(store.verdicts()) == len(kept)
    SURVIVED["verdict write"] = failures


def test_zz_print_the_figures():
    """Run last in this file (-s shows it): the faults injected and survived per write."""
    print(f"disk-full faults injected and survived: {SURVIVED} (total {sum(SURVIVED.values())})")
