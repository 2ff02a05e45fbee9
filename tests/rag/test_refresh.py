"""Incremental refresh: diff by id and content hash, embed only what changed, stable ids, versions,
rollback, retention, staleness, the assistant switching versions without a restart, the CLI."""

import dataclasses
import hashlib
import json
import logging

import numpy as np
import pytest

from corpus.schema import Catalog, Product, Stock
from rag.answer import IndexPin
from rag.chunking import chunk_catalog
from rag.embedding import EmbedderInfo
from rag.index_store import (IndexLoadError, build_index, catalog_sha256, current_version, json_line, load_index,
                             product_lines, prune, rollback, version_rows, versions)
from rag.refresh import RefreshError, catalog_status, diff_catalog, refresh_index, watch


class FakeEmbedder:
    """Deterministic unit vectors from a text's sha256; records every text it is asked to embed."""

    def __init__(self, dim: int = 8, model_id: str = "test:fake"):
        self.info = EmbedderInfo(model_id, "0" * 64, dim)
        self.seen: list[str] = []

    def vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.info.dim)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def encode(self, texts, show_progress_bar=False, progress=None):
        self.seen.extend(texts)
        return np.stack([self.vector(t) for t in texts]) if texts else np.zeros((0, self.info.dim), np.float32)

    def encode_query(self, query):
        return self.vector(query)


def edited(catalog: Catalog, *, prices=None, stock=None, drop=(), add=()) -> Catalog:
    products = []
    for p in catalog.products:
        if p.id in drop:
            continue
        if prices and p.id in prices:
            p = dataclasses.replace(p, price=prices[p.id], sale_price=None)
        if stock and p.id in stock:
            p = dataclasses.replace(p, stock=stock[p.id])
        products.append(p)
    return Catalog(tuple(products) + tuple(add), source=catalog.source, fmt=catalog.fmt)


NEW_LAMP = Product(id="QK-LMP-02", name="Glowworm 400", collection="Quokka Light", category="Headlamps",
                   price=54.0, specs={"output": "400 lumens"}, description="A brighter headlamp for night hikes.")


def assert_holds_exactly(root, name, catalog, kit, emb):
    """The published version equals a from-scratch build of `catalog`: products, rows, vectors."""
    idx = load_index(root, name, emb.info)
    assert idx.products == catalog.by_id()
    assert idx.manifest["catalog"]["sha256"] == catalog.sha256()
    chunks = chunk_catalog(catalog.products, kit)
    assert [{k: v for k, v in c.items() if k not in ("id", "product_sha256", "embed_sha256")} for c in idx.chunks] \
        == [c.to_json() for c in chunks]
    stored = idx.index.reconstruct_n(0, idx.index.ntotal)
    np.testing.assert_array_equal(stored, np.stack([emb.vector(c.embed_text) for c in chunks]))
    ids = [c["id"] for c in idx.chunks]
    assert len(set(ids)) == len(ids) and max(ids) < idx.manifest["next_id"]
    return idx


def test_refresh_embeds_only_new_and_changed_chunks(tmp_path, tiny_catalog, tiny_kit):
    emb, root = FakeEmbedder(), tmp_path / "idx"
    build_index(tiny_catalog, emb, root, "q", kit=tiny_kit)
    emb.seen.clear()
    new = edited(tiny_catalog, prices={"QK-TNT-01": 199.0}, drop={"QK-BOT-01"}, add=(NEW_LAMP,))
    r = refresh_index(new, emb, root, "q", kit=tiny_kit)
    assert (r.added, r.changed, r.removed, r.unchanged) == (1, 1, 1, 3)
    assert (r.version, r.parent, r.published) == ("v0002", "v0001", True)
    # the price lives in the overview chunk only: specs and description of the tent keep their vectors
    lamp_chunks = [c.embed_text for c in chunk_catalog([NEW_LAMP], tiny_kit)]
    assert len(emb.seen) == r.embedded_chunks == 1 + len(lamp_chunks)
    assert [t for t in emb.seen if "Price: $199.00" in t] == [emb.seen[0]] and emb.seen[1:] == lamp_chunks
    assert r.copied_chunks == 15 - 3 - 1  # every tiny product has 3 chunks: all but the boot's and the tent's overview
    assert sorted(r.changed_ids) == ["QK-BOT-01", "QK-LMP-02", "QK-TNT-01"]
    assert_holds_exactly(root, "q", new, tiny_kit, emb)


def test_ids_stay_with_their_text_and_new_text_gets_new_ids(tmp_path, tiny_catalog, tiny_kit):
    emb, root = FakeEmbedder(), tmp_path / "idx"
    build_index(tiny_catalog, emb, root, "q", kit=tiny_kit)
    before = {(c["product_id"], c["field"], c["text"]): c["id"] for c in load_index(root, "q", emb.info).chunks}
    refresh_index(edited(tiny_catalog, prices={"QK-TNT-01": 199.0}, drop={"QK-LMP-01"}), emb, root, "q",
                  kit=tiny_kit)
    idx = load_index(root, "q", emb.info)
    m = idx.manifest
    assert (m["kind"], m["parent"], m["previous"], m["format"]) == ("refresh", "v0001", "v0001", 2)
    assert m["next_id"] == 16 and m["refresh"]["embedded_chunks"] == 1
    for c in idx.chunks:
        key = (c["product_id"], c["field"], c["text"])
        if key in before:
            assert c["id"] == before[key]  # same text, same vector, same id
        else:
            assert c["field"] == "overview" and "$199.00" in c["text"] and c["id"] == 15
    assert not {c["product_id"] for c in idx.chunks} & {"QK-LMP-01"}
    # search results come back as rows of chunks (the retriever's contract) whatever the stable ids
    _, rows = idx.index.search(idx.index.reconstruct(3).reshape(1, -1), 1)
    assert rows[0][0] == 3


def test_unchanged_catalog_publishes_nothing(tmp_path, tiny_catalog, tiny_kit):
    emb, root = FakeEmbedder(), tmp_path / "idx"
    build_index(tiny_catalog, emb, root, "q", kit=tiny_kit)
    emb.seen.clear()
    r = refresh_index(tiny_catalog, emb, root, "q", kit=tiny_kit)
    assert (r.published, r.version, r.unchanged, r.embedded_chunks) == (False, "v0001", 5, 0)
    assert emb.seen == [] and versions(root, "q") == ["v0001"]


def test_first_refresh_is_a_full_build(tmp_path, tiny_catalog, tiny_kit):
    emb, root = FakeEmbedder(), tmp_path / "idx"
    r = refresh_index(tiny_catalog, emb, root, "q", kit=tiny_kit)
    assert (r.version, r.parent, r.added, r.embedded_chunks) == ("v0001", None, 5, 15)
    assert_holds_exactly(root, "q", tiny_catalog, tiny_kit, emb)


def test_brand_kit_change_counts_every_product_changed_and_says_why(tmp_path, tiny_catalog, tiny_kit):
    emb, root = FakeEmbedder(), tmp_path / "idx"
    build_index(tiny_catalog, emb, root, "q", kit=tiny_kit)
    r = refresh_index(tiny_catalog, emb, root, "q", kit=None)
    assert (r.added, r.changed, r.removed, r.unchanged, r.published) == (0, 5, 0, 0, True)
    assert r.all_changed_reason.startswith("brand kit changed (index built with ")
    assert load_index(root, "q", emb.info).manifest["refresh"]["all_changed_reason"] == r.all_changed_reason
    assert_holds_exactly(root, "q", tiny_catalog, None, emb)


def test_rows_written_by_another_chunker_are_all_rewritten(tmp_path, tiny_catalog, tiny_kit):
    """Unchanged rows are copied as written: an index whose rows an older onbrand wrote differently (here
    "Availability:" for "Stock:") must not keep them beside new-format rows of the changed products."""
    from core import atomic

    emb, root = FakeEmbedder(), tmp_path / "idx"
    build_index(tiny_catalog, emb, root, "q", kit=tiny_kit)
    folder = root / "q" / "versions" / "v0001"
    chunks = folder / "chunks.jsonl"
    chunks.write_text(chunks.read_text().replace("\\nStock: ", "\\nAvailability: "))
    m = json.loads((folder / "manifest.json").read_text())
    m["files"]["chunks.jsonl"]["sha256"] = atomic.sha256_file(chunks)
    (folder / "manifest.json").write_text(json.dumps(m))
    assert sum("Availability: " in c["text"] for c in load_index(root, "q", emb.info).chunks) == 5

    emb.seen.clear()
    new = edited(tiny_catalog, prices={"QK-TNT-01": 199.0})
    r = refresh_index(new, emb, root, "q", kit=tiny_kit)
    assert r.all_changed_reason.startswith("chunk rows changed (product QK-")
    assert (r.changed, r.unchanged, r.embedded_chunks) == (5, 0, 1)  # embedded texts unchanged: vectors kept
    assert_holds_exactly(root, "q", new, tiny_kit, emb)


def test_another_embedder_or_dimension_is_refused_naming_the_field(tmp_path, tiny_catalog, tiny_kit):
    root = tmp_path / "idx"
    build_index(tiny_catalog, FakeEmbedder(), root, "q", kit=tiny_kit)
    new = edited(tiny_catalog, prices={"QK-TNT-01": 199.0})
    with pytest.raises(IndexLoadError, match="dim: index has 8, embedder in use has 16"):
        refresh_index(new, FakeEmbedder(dim=16), root, "q", kit=tiny_kit)
    with pytest.raises(IndexLoadError, match="model_id: index has 'test:fake', embedder in use has 'test:other'"):
        refresh_index(new, FakeEmbedder(model_id="test:other"), root, "q", kit=tiny_kit)
    assert versions(root, "q") == ["v0001"]


def test_another_catalog_is_refused_unless_replace(tmp_path, tiny_catalog, tiny_kit):
    emb, root = FakeEmbedder(), tmp_path / "idx"
    build_index(tiny_catalog, emb, root, "q", kit=tiny_kit)
    other = Catalog((NEW_LAMP,), source="other.jsonl", fmt="jsonl")
    with pytest.raises(RefreshError, match="other.jsonl shares no product id with index q/v0001 .* --replace"):
        refresh_index(other, emb, root, "q", kit=tiny_kit)
    r = refresh_index(other, emb, root, "q", kit=tiny_kit, replace=True)
    assert (r.added, r.removed) == (1, 5)


def test_a_format_1_index_is_refreshed_without_reembedding(tmp_path, tiny_catalog, tiny_kit):
    """Indexes built before stable ids (ids = rows, no hashes) refresh like any other."""
    from core import atomic

    emb, root = FakeEmbedder(), tmp_path / "idx"
    build_index(tiny_catalog, emb, root, "q", kit=tiny_kit)
    folder = root / "q" / "versions" / "v0001"
    rows = [json.loads(line) for line in (folder / "chunks.jsonl").read_text().splitlines()]
    (folder / "chunks.jsonl").write_text("".join(
        json.dumps({k: v for k, v in r.items() if k not in ("id", "product_sha256", "embed_sha256")}) + "\n"
        for r in rows))
    m = json.loads((folder / "manifest.json").read_text())
    m["format"] = 1
    del m["next_id"]
    m["files"]["chunks.jsonl"]["sha256"] = atomic.sha256_file(folder / "chunks.jsonl")
    (folder / "manifest.json").write_text(json.dumps(m))
    assert [c.get("id") for c in load_index(root, "q", emb.info).chunks] == [None] * 15

    emb.seen.clear()
    new = edited(tiny_catalog, prices={"QK-STV-01": 49.5})
    r = refresh_index(new, emb, root, "q", kit=tiny_kit)
    assert (r.changed, r.unchanged, r.embedded_chunks) == (1, 4, 3)  # format-1 rows lack text hashes
    idx = assert_holds_exactly(root, "q", new, tiny_kit, emb)
    assert all("product_sha256" in c and "embed_sha256" in c for c in idx.chunks)


def test_versions_rollback_and_retention(tmp_path, tiny_catalog, tiny_kit):
    emb, root = FakeEmbedder(), tmp_path / "idx"
    build_index(tiny_catalog, emb, root, "q", kit=tiny_kit)
    for price in (200.0, 210.0, 220.0):
        refresh_index(edited(tiny_catalog, prices={"QK-TNT-01": price}), emb, root, "q", kit=tiny_kit)
    assert versions(root, "q") == ["v0001", "v0002", "v0003", "v0004"]
    rows = version_rows(root, "q")
    assert [(r["version"], r["kind"], r["parent"], r["current"]) for r in rows] == [
        ("v0001", "build", None, False), ("v0002", "refresh", "v0001", False),
        ("v0003", "refresh", "v0002", False), ("v0004", "refresh", "v0003", True)]

    assert rollback(root, "q", embedder=emb.info) == ("v0004", "v0003")
    assert rollback(root, "q", embedder=emb.info) == ("v0003", "v0002")
    assert load_index(root, "q", emb.info).products["QK-TNT-01"].price == 200.0
    assert rollback(root, "q", to="v0004", embedder=emb.info) == ("v0002", "v0004")
    with pytest.raises(IndexLoadError, match="version 'v0009' is not there"):
        rollback(root, "q", to="v0009")
    with pytest.raises(IndexLoadError, match="dim: index has 8, embedder in use has 16"):
        rollback(root, "q", to="v0001", embedder=FakeEmbedder(dim=16).info)
    assert current_version(root, "q") == "v0004"

    # keep=1 still keeps CURRENT and the version it replaced (its rollback target)
    assert prune(root, "q", keep=1) == ["v0001", "v0002"]
    assert versions(root, "q") == ["v0003", "v0004"]
    assert not [p for p in (root / "q" / "versions").iterdir() if p.name.startswith(".")]
    # a refresh prunes with its keep setting
    r = refresh_index(edited(tiny_catalog, prices={"QK-TNT-01": 230.0}), emb, root, "q", kit=tiny_kit, keep=2)
    assert r.pruned == ("v0003",) and versions(root, "q") == ["v0004", "v0005"]


def test_diff_and_catalog_hash_definitions(tiny_catalog):
    from corpus import SAMPLE_CATALOG
    from corpus.ingest import load_catalog

    for catalog in (tiny_catalog, load_catalog(SAMPLE_CATALOG)):  # the fast rows are to_json's, byte for byte
        lines, hashes = product_lines(catalog.products)
        assert lines == [json_line(p.to_json()) for p in catalog.products]
        assert hashes == {p.id: p.content_hash() for p in catalog.products}
        assert catalog_sha256(lines, catalog.products) == catalog.sha256()
    d = diff_catalog({"a": "1", "b": "2", "c": "3"}, {"b": "2", "c": "9", "d": "4"})
    assert (d.added, d.changed, d.removed, d.unchanged) == (("d",), ("c",), ("a",), ("b",))
    forced = diff_catalog({"a": "1"}, {"a": "1"}, all_changed_reason="kit")
    assert (forced.changed, forced.unchanged, forced.empty) == (("a",), (), False)


def test_catalog_status_reports_a_stale_index(tmp_path, tiny_catalog, tiny_kit):
    emb, root = FakeEmbedder(), tmp_path / "idx"
    build_index(tiny_catalog, emb, root, "q", kit=tiny_kit)
    m = load_index(root, "q", emb.info).manifest
    assert catalog_status(m, tiny_catalog)["up_to_date"] is True
    status = catalog_status(m, edited(tiny_catalog, prices={"QK-TNT-01": 1.0}))
    assert status["up_to_date"] is False
    assert status["message"].startswith("stale: index q/v0001 was built from catalog ")
    assert "run `onbrand refresh" in status["message"]


def test_watch_refreshes_once_a_changed_file_has_settled(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text("a")
    calls, polls = [], []
    script = {2: "bb", 3: "ccc"}  # written at polls 2 and 3: only the settled "ccc" is refreshed

    def sleep(_):
        polls.append(len(polls) + 1)
        if len(polls) in script:
            path.write_text(script[len(polls)])

    watch(path, lambda: calls.append(path.read_text()) or "ok", interval=0, sleep=sleep,
          stop=lambda: len(polls) >= 6)
    assert calls == ["a", "ccc"]


def test_watch_keeps_going_after_a_bad_export(tmp_path, caplog):
    from core.errors import UserError

    path = tmp_path / "export.jsonl"
    path.write_text("x")
    results = []

    def refresh():
        if path.read_text() == "x":
            raise UserError("export.jsonl:1: not valid JSON")
        return "published"

    polls = []

    def sleep(_):
        polls.append(1)
        if len(polls) == 1:
            path.write_text("fixed")

    with caplog.at_level(logging.ERROR):
        watch(path, refresh, interval=0, sleep=sleep, stop=lambda: len(polls) >= 3, on_result=results.append)
    assert results == ["published"]
    assert "still serving the current version" in caplog.text


# --- the assistant switches versions without a restart --------------------------------------------------


@pytest.fixture()
def fake_assistant(tmp_path, tiny_catalog, tiny_kit, tiny_lm_dir):
    from core.config import Settings
    from core.generation import Generator
    from core.model import load_base_model
    from onbrand.assistant import Assistant

    emb = FakeEmbedder()
    root = tmp_path / "indexes"
    build_index(tiny_catalog, emb, root, "q", kit=tiny_kit)
    gen = Generator(load_base_model(str(tiny_lm_dir), tmp_path, device="cpu"))
    return Assistant(Settings(home=tmp_path, index_name="q", max_new_tokens=4), load_index(root, "q", emb.info),
                     emb, gen, tiny_kit), root, emb


def _overview(assistant, pid):
    return next(c["text"] for c in assistant.index.chunks if c["product_id"] == pid and c["field"] == "overview")


def test_assistant_serves_a_refreshed_version_on_the_next_question(fake_assistant, tiny_catalog, tiny_kit):
    a, root, emb = fake_assistant
    retriever_before = a.retriever
    assert "Price: $249.00" in _overview(a, "QK-TNT-01")
    refresh_index(edited(tiny_catalog, prices={"QK-TNT-01": 199.0}, stock={"QK-TNT-01": Stock.OUT_OF_STOCK}),
                  emb, root, "q", kit=tiny_kit)
    reply = a.ask("how much is the quokka dome 2 tent?")
    list(reply.stream)
    assert a.index.version == "v0002" and a.retriever is not retriever_before
    assert "Price: $199.00\nStock: out of stock" in _overview(a, "QK-TNT-01")
    assert any("Price: $199.00" in m["content"] for m in reply.messages)
    assert reply.answer.snapshot.index == IndexPin("q", "v0002")  # the answer records the version it read
    # a rollback is followed the same way
    rollback(root, "q", embedder=emb.info)
    a.retrieve("tent")
    assert a.index.version == "v0001" and "Price: $249.00" in _overview(a, "QK-TNT-01")


def test_a_refresh_landing_mid_answer_changes_nothing_in_it(fake_assistant, tiny_catalog, tiny_kit):
    """A request is pinned before retrieval; another request following CURRENT to a refreshed version while this
    one streams leaves its fills, badges and snapshot on the version it retrieved from."""
    a, root, emb = fake_assistant
    question = "how much is the quokka dome 2 tent?"
    reply = a.ask(question)  # pinned and retrieved at v0001; generation not started
    refresh_index(edited(tiny_catalog, prices={"QK-TNT-01": 199.0}), emb, root, "q", kit=tiny_kit)
    a.retrieve("tent")  # another request meanwhile: the assistant now serves v0002
    assert a.index.version == "v0002"
    list(reply.stream)
    assert reply.answer.snapshot.index == IndexPin("q", "v0001")
    text, _ = a.fill("The Quokka Dome 2 Tent is [[price]].", reply.products, pin=reply.pin)
    assert "$249.00" in text  # the record the prompt showed, not the refreshed one
    said = "The Quokka Dome 2 Tent is $249.00."
    pinned = a.complete(reply.pin, question, reply.products, reply.messages, said, said, [], None)
    assert not [b for b in pinned.badges if b.kind == "contradiction"]
    current = a.complete(a.pin(None), question, reply.products, reply.messages, said, said, [], None)
    assert [b for b in current.badges if b.kind == "contradiction"]  # at v0002 the same words are wrong
    assert a.answer(question).snapshot.index == IndexPin("q", "v0002")  # the next request reads the new one


def test_assistant_keeps_serving_when_the_published_version_is_broken(fake_assistant, tiny_catalog, tiny_kit,
                                                                      caplog):
    a, root, emb = fake_assistant
    refresh_index(edited(tiny_catalog, prices={"QK-TNT-01": 199.0}), emb, root, "q", kit=tiny_kit)
    (root / "q" / "versions" / "v0002" / "index.faiss").write_bytes(b"broken")
    with caplog.at_level(logging.ERROR):
        assert a.follow_current() is False
        assert a.follow_current() is False  # refused once, not retried on every question
    assert a.index.version == "v0001" and len(a.retrieve("tent")) > 0
    assert caplog.text.count("index q/v0002 is published but cannot be loaded; still serving v0001") == 1


# --- the CLI ------------------------------------------------------------------------------------------------


def test_cli_refresh_versions_rollback_and_show(tmp_path, embedder, capsys, monkeypatch):
    """The real embedder (loaded once for the session) behind `onbrand refresh` and `onbrand index ...`."""
    from pathlib import Path

    from onbrand.cli import main

    monkeypatch.setattr("rag.embedding.Embedder.load", lambda *a, **k: embedder)
    fixtures = Path(__file__).parents[1] / "fixtures"
    tiny, kit = fixtures / "tiny_catalog.jsonl", fixtures / "tiny_brand_kit.yaml"
    home = ["--home", str(tmp_path / "home")]

    def run(*argv):
        code = main([*home, *argv])
        out = capsys.readouterr()
        return code, (json.loads(out.out) if code == 0 else out.err)

    assert run("index", "build", "--catalog", str(tiny), "--brand-kit", str(kit), "--index-name", "q")[0] == 0
    export = tmp_path / "export.jsonl"
    export.write_text(tiny.read_text().replace('"price": 59.5', '"price": 49.5'))
    code, out = run("refresh", str(export), "--brand-kit", str(kit), "--index-name", "q")
    assert code == 0
    assert (out["version"], out["parent"], out["changed"], out["unchanged"], out["embedded_chunks"]) == \
        ("v0002", "v0001", 1, 4, 1)
    code, out = run("index", "versions", "--index-name", "q")
    assert out["current"] == "v0002" and [r["kind"] for r in out["versions"]] == ["build", "refresh"]
    code, out = run("index", "show", "--index-name", "q", "--catalog", str(export))
    assert out["catalog_status"]["up_to_date"] is True
    code, out = run("index", "show", "--index-name", "q", "--catalog", str(tiny))
    assert out["catalog_status"]["up_to_date"] is False and out["catalog_status"]["message"].startswith("stale:")
    code, out = run("index", "rollback", "--index-name", "q")
    assert (code, out) == (0, {"index": "q", "from": "v0002", "current": "v0001"})

    bad = tmp_path / "bad.jsonl"
    bad.write_text(tiny.read_text().replace('"price": 59.5', '"price": "cheap"'))
    code, err = run("refresh", str(bad), "--brand-kit", str(kit), "--index-name", "q")
    assert code == 2 and "field 'price' value 'cheap': must be a number" in err
    code, err = run("refresh", str(export), "--index-name", "q", "--keep", "0")
    assert (code, err) == (2, "error: --keep must be at least 1, got 0\n")
    code, out = run("index", "versions", "--index-name", "q")
    assert out["current"] == "v0001" and len(out["versions"]) == 2
