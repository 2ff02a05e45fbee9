"""A corrupted index or adapter file is refused at load with a message naming the file and the way back
(`onbrand index rollback`, `onbrand adapters rollback`), the running assistant keeps serving what it had,
and the way back works (issue 17, group 3).

    .venv/bin/python -m pytest tests/onbrand/test_faults_corrupt.py -q
"""

from __future__ import annotations

import json

import pytest

from core.config import Settings
from core.generation import Generator
from core.model import load_base_model
from onbrand.assistant import Assistant
from onbrand.cli import main
from rag.index_store import IndexLoadError, build_index, current_version, load_index
from tuning.loading import AdapterRefused

QUESTION = "how much is the dome?"


def flip_last_bytes(path, n: int = 4) -> None:
    data = bytearray(path.read_bytes())
    for i in range(1, n + 1):
        data[-i] ^= 0xFF
    path.write_bytes(bytes(data))


def _error_lines(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.startswith("error:")]


@pytest.fixture()
def home(tmp_path, tiny_index, distinct_registry):
    """tmp_path as an onbrand home: indexes/tiny (v0001) and adapters/ (quokka v0002 promoted, wombat)."""
    assert tiny_index[0] == tmp_path / "indexes" and distinct_registry.root == tmp_path / "adapters"
    return tmp_path


def _assistant(home, embedder, tiny_kit, lm_dir, registry, monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    lm = load_base_model(str(lm_dir), home / "cache", device="cpu")
    return Assistant(Settings(home=home, index_name="tiny", max_new_tokens=10),
                     load_index(home / "indexes", "tiny", embedder.info), embedder, Generator(lm), tiny_kit, registry)


@pytest.mark.parametrize("fname", ["index.faiss", "chunks.jsonl", "catalog.jsonl"])
def test_a_corrupted_index_file_is_refused_naming_it_and_the_rollback(home, tiny_catalog, tiny_kit, embedder,
                                                                      talkative_lm_dir, distinct_registry, fname,
                                                                      monkeypatch, capsys):
    root = home / "indexes"
    a = _assistant(home, embedder, tiny_kit, talkative_lm_dir, distinct_registry, monkeypatch)
    before = a.answer(QUESTION).text
    v2 = build_index(tiny_catalog, embedder, root, "tiny", kit=tiny_kit)
    damaged = root / "tiny" / "versions" / v2 / fname
    flip_last_bytes(damaged)
    with pytest.raises(IndexLoadError) as err:
        load_index(root, "tiny", embedder.info)
    message = str(err.value)
    assert str(damaged) in message and "onbrand index rollback --index-name tiny" in message
    # the running assistant refuses the damaged version once and keeps serving v0001
    assert not a.follow_current() and a.index.version == "v0001"
    assert a.answer(QUESTION).text == before
    # the CLI says it in one line, and the way back it names works
    assert main(["--home", str(home), "index", "show", "--index-name", "tiny"]) == 2
    [line] = _error_lines(capsys.readouterr().err)
    assert fname in line and "onbrand index rollback" in line
    assert main(["--home", str(home), "index", "rollback", "--index-name", "tiny"]) == 0
    assert json.loads(capsys.readouterr().out) == {"index": "tiny", "from": v2, "current": "v0001"}
    assert current_version(root, "tiny") == "v0001" and load_index(root, "tiny", embedder.info).version == "v0001"


@pytest.mark.parametrize("fname", ["adapter_model.safetensors", "adapter_config.json"])
def test_a_corrupted_adapter_file_is_refused_naming_it_and_the_rollback(home, tiny_kit, embedder, talkative_lm_dir,
                                                                        distinct_registry, fname, monkeypatch,
                                                                        capsys):
    reg = distinct_registry
    a = _assistant(home, embedder, tiny_kit, talkative_lm_dir, reg, monkeypatch)
    v1 = a.answer(QUESTION, adapter="quokka@v0001").text
    served = a.load_adapter("quokka")  # v0002, promoted, loaded while whole
    v2 = a.answer(QUESTION, adapter=served).text
    assert v1 and v2 and v1 != v2
    folder = reg.get("quokka", "v0002").path
    flip_last_bytes(folder / fname)
    # a fresh process (a restart, `onbrand ask`) refuses the damaged promoted version, naming file, folder, way back
    fresh = _assistant(home, embedder, tiny_kit, talkative_lm_dir, reg, monkeypatch)
    with pytest.raises(AdapterRefused) as err:
        fresh.load_adapter("quokka")
    message = str(err.value)
    assert fname in message and str(folder) in message and "onbrand adapters rollback quokka" in message
    assert "\n" not in message
    # the running assistant keeps serving what it verified at load time
    assert a.answer(QUESTION, adapter=served).text == v2
    # the way back it names works: the version promoted before serves again, with its own answers
    assert main(["--home", str(home), "adapters", "rollback", "quokka"]) == 0
    assert json.loads(capsys.readouterr().out) == {"promoted": "quokka@v0001"}
    assert fresh.load_adapter("quokka") == "quokka@v0001"
    assert fresh.answer(QUESTION, adapter="quokka").text == v1
