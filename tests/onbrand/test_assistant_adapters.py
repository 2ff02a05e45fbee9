"""The assistant serves the promoted version of the adapter name asked for, per request, and seeds the
registry from adapters shipped in the repository. The base and the adapters are the talkative tiny LM and
random LoRAs (tests/conftest.py): each writes its own text, so a crossed answer cannot pass."""

from __future__ import annotations

import json
import shutil

import pytest

from core.config import Settings
from core.generation import Generator
from core.model import load_base_model
from onbrand.assistant import Assistant, seed_shipped_adapters
from rag.index_store import load_index
from tuning.registry import Registry


def _lm(lm_dir, cache, monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    return load_base_model(str(lm_dir), cache, device="cpu")


@pytest.fixture()
def registry(distinct_registry):
    """Two names, three versions: quokka v0001 (promoted, then superseded), quokka v0002, wombat v0001."""
    return distinct_registry


def _assistant(tiny_index, tiny_kit, embedder, lm_dir, tmp_path, monkeypatch, reg):
    root, name, _ = tiny_index
    gen = Generator(_lm(lm_dir, tmp_path / "cache", monkeypatch))
    return Assistant(Settings(home=tmp_path, index_name=name, max_new_tokens=12), load_index(root, name, embedder.info),
                     embedder, gen, tiny_kit, reg)


def test_serves_the_promoted_version_of_the_name_asked_for(registry, tiny_index, tiny_kit, embedder,
                                                           talkative_lm_dir, tmp_path, monkeypatch):
    a = _assistant(tiny_index, tiny_kit, embedder, talkative_lm_dir, tmp_path, monkeypatch, registry)
    assert a.load_adapter("quokka") == "quokka@v0002"
    assert a.load_adapter("wombat") == "wombat@v0001"
    assert a.load_adapter("quokka@v0001") == "quokka@v0001"
    assert sorted(a.adapters.loaded) == ["quokka@v0001", "quokka@v0002", "wombat@v0001"]  # one base, three adapters
    registry.rollback("quokka")
    assert a.load_adapter("quokka") == "quokka@v0001"
    reply = a.answer("dome?", adapter="wombat")
    assert reply.adapter == "wombat@v0001"
    assert a.answer("dome?", adapter=None).adapter is None
    # the name now serves v0001's own text, not v0002's
    assert a.answer("dome?", adapter="quokka").text == a.answer("dome?", adapter="quokka@v0001").text
    assert a.answer("dome?", adapter="quokka@v0001").text != a.answer("dome?", adapter="quokka@v0002").text


def test_requests_choose_adapters_without_touching_each_other(registry, tiny_index, tiny_kit, embedder,
                                                              talkative_lm_dir, tmp_path, monkeypatch):
    a = _assistant(tiny_index, tiny_kit, embedder, talkative_lm_dir, tmp_path, monkeypatch, registry)
    a.default_adapter = a.load_adapter("quokka")
    before = {k: a.answer("dome?", adapter=k).text for k in ("quokka@v0002", None)}
    other = a.answer("dome?", adapter="wombat").text  # another request, another adapter
    # three different, non-empty answers: had wombat's request changed what the others get, it would show
    assert all(before.values()) and other and len({*before.values(), other}) == 3, (before, other)
    after = {k: a.answer("dome?", adapter=k).text for k in ("quokka@v0002", None)}
    assert before == after
    assert a.answer("dome?").adapter == "quokka@v0002"  # the default is unchanged
    assert a.answer("dome?").text == before["quokka@v0002"]


def test_shipped_adapters_are_seeded_once_and_promoted(registry, tmp_path):
    shipped = tmp_path / "shipped"
    src = registry.get("wombat", "v0001")
    shutil.copytree(src.path, shipped / "wombat" / "v0001")
    fresh = Registry(tmp_path / "fresh")
    assert seed_shipped_adapters(fresh, shipped) == ["wombat@v0001"]
    assert fresh.promoted("wombat") == "v0001"
    assert seed_shipped_adapters(fresh, shipped) == []  # idempotent
    history = json.loads((fresh.root / "wombat" / "PROMOTED.json").read_text())["history"]
    assert history[0]["forced"] is True and "shipped" in history[0]["reason"]


def test_a_shipped_verdict_not_bound_to_a_scorecard_is_not_trusted(registry, tmp_path):
    """A manifest that only says the gate passed (no scorecard bound by hash) is seeded, but promoted as a
    forced promotion with its reason recorded, never through the gate (tests/tuning/test_registry.py covers
    a bound scorecard promoted through it)."""
    shipped = tmp_path / "shipped"
    folder = shipped / "wombat" / "v0001"
    shutil.copytree(registry.get("wombat", "v0001").path, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["evaluation"] = {"gate": {"passed": True, "checks": []}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    fresh = Registry(tmp_path / "fresh")
    assert seed_shipped_adapters(fresh, shipped) == ["wombat@v0001"]
    assert fresh.promoted("wombat") == "v0001"
    history = json.loads((fresh.root / "wombat" / "PROMOTED.json").read_text())["history"]
    assert history[0]["forced"] is True and "without a passing gate" in history[0]["reason"]


def test_a_tampered_shipped_adapter_is_not_seeded(registry, tmp_path):
    from tuning.registry import RegistryError

    shipped = tmp_path / "shipped"
    shutil.copytree(registry.get("wombat", "v0001").path, shipped / "wombat" / "v0001")
    weights = shipped / "wombat" / "v0001" / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="adapter_model.safetensors"):
        seed_shipped_adapters(Registry(tmp_path / "fresh"), shipped)


def test_the_newest_of_several_shipped_versions_is_the_one_promoted(registry, tmp_path):
    shipped = tmp_path / "shipped"
    for v in ("v0001", "v0002"):
        shutil.copytree(registry.get("quokka", v).path, shipped / "quokka" / v)
    fresh = Registry(tmp_path / "fresh")
    assert seed_shipped_adapters(fresh, shipped) == ["quokka@v0001", "quokka@v0002"]
    assert fresh.promoted("quokka") == "v0002"
    history = json.loads((fresh.root / "quokka" / "PROMOTED.json").read_text())["history"]
    assert [h["version"] for h in history] == ["v0002"]  # one promotion, straight to the newest


def test_the_naming_comparison_answers_through_the_pipeline(registry, tiny_index, tiny_kit, embedder,
                                                           talkative_lm_dir, tmp_path, monkeypatch):
    """eval-naming's base and adapter answers are the app's answers to the same questions (retrieval, prompt,
    decoding, fills), counted per answer, with the run's snapshot."""
    from evaluation.naming import compare_naming

    a = _assistant(tiny_index, tiny_kit, embedder, talkative_lm_dir, tmp_path, monkeypatch, registry)
    rows = [{"question": q, "product_ids": [pid], "intent": "price"}
            for q, pid in [("how much is the quokka dome 2 tent?", "QK-TNT-01"),
                           ("is the sparky stove in stock?", "QK-STV-01"), ("what does the lantern weigh?", "QK-LMP-01")]]
    got = compare_naming(a, "wombat@v0001", rows, max_new_tokens=12, prompts_per_batch=2)
    assert got["base"]["answers"] == got["adapter"]["answers"] == 3 and got["adapter"]["price_questions"] == 3
    assert got["snapshot"]["adapter"]["key"] == "wombat@v0001" and got["snapshot"]["index"]["version"] == "v0001"
    for ex in got["examples"]:
        assert ex["base"] == a.answer(ex["question"], adapter=None, max_new_tokens=12).text
        assert ex["adapter"] == a.answer(ex["question"], adapter="wombat@v0001", max_new_tokens=12).text
    assert any(ex["base"] != ex["adapter"] for ex in got["examples"])  # two models, two texts


def test_warm_builds_what_the_first_answers_need(registry, tiny_index, tiny_kit, embedder, talkative_lm_dir, tmp_path,
                                                 monkeypatch):
    """Assistant.warm (the app and `onbrand serve` call it once at start): the default adapter's and the bare
    base's decoding weights and the retrieval prompt's system turn are built then, so the first answers of each
    build nothing while a shopper waits."""
    root, name, _ = tiny_index
    gen = Generator(_lm(talkative_lm_dir, tmp_path / "cache", monkeypatch), int8_rows=8)
    a = Assistant(Settings(home=tmp_path, index_name=name, max_new_tokens=12), load_index(root, name, embedder.info),
                  embedder, gen, tiny_kit, registry)
    a.default_adapter = a.load_adapter("quokka")
    assert not gen.merged_adapters and not len(gen._int8)
    a.warm()
    built = (list(gen.merged_adapters), len(gen._int8), len(gen._prefixes))
    assert built[0] == ["quokka@v0002"] and built[1] == 2  # the merged copy's int8 weights, the base's own
    prefixes = gen.engine_steps["shared_prefix"]
    assert built[2] == prefixes == 2  # the system turn, per adapter
    for adapter in ("quokka", None):
        assert a.answer("is the dome in stock?", adapter=adapter).text
    assert (list(gen.merged_adapters), len(gen._int8), len(gen._prefixes)) == built
    assert gen.engine_steps["shared_prefix"] == prefixes and gen.engine_steps["prefix_cache_hit"] >= 2
