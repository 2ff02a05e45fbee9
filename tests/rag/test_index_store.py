import json

import pytest

from corpus.ingest import load_catalog
from rag.embedding import EmbedderInfo
from rag.index_store import IndexLoadError, build_index, current_version, load_index, versions


def test_manifest_describes_the_index(tiny_index, tiny_catalog, embedder):
    root, name, version = tiny_index
    idx = load_index(root, name, embedder.info)
    m = idx.manifest
    assert m["embedding"] == {"model_id": embedder.info.model_id, "weights_sha256": embedder.info.weights_sha256,
                              "dim": 384, "normalized": True}
    assert m["metric"] == "inner_product"
    assert m["catalog"]["sha256"] == tiny_catalog.sha256()
    assert m["catalog"]["products"] == 5 and m["chunks"] == 15 == idx.index.ntotal
    assert set(m["files"]) == {"index.faiss", "chunks.jsonl", "catalog.jsonl"}
    assert idx.created.tzinfo is not None
    assert idx.products["QK-TNT-02"].sale_price == 329.0


def test_publish_is_versioned_and_leaves_no_temp_dirs(tiny_index, tiny_catalog, tiny_kit, embedder):
    root, name, v1 = tiny_index
    v2 = build_index(tiny_catalog, embedder, root, name, kit=tiny_kit)
    assert (v1, v2) == ("v0001", "v0002")
    assert versions(root, name) == ["v0001", "v0002"] and current_version(root, name) == "v0002"
    assert not [p for p in (root / name / "versions").iterdir() if p.name.startswith(".")]
    assert load_index(root, name, embedder.info, version="v0001").version == "v0001"


def test_tampered_file_is_refused(tiny_index, embedder):
    root, name, version = tiny_index
    chunks = root / name / "versions" / version / "chunks.jsonl"
    chunks.write_text(chunks.read_text().replace("Quokka", "Wombat"))
    with pytest.raises(IndexLoadError, match="chunks.jsonl sha256 .* does not match"):
        load_index(root, name, embedder.info)


def test_missing_file_is_refused(tiny_index, embedder):
    root, name, version = tiny_index
    (root / name / "versions" / version / "index.faiss").unlink()
    with pytest.raises(IndexLoadError, match="index.faiss is missing"):
        load_index(root, name, embedder.info)


def test_other_embedder_is_refused_naming_the_difference(tiny_index, embedder):
    root, name, _ = tiny_index
    other = EmbedderInfo(model_id="some/other-model", weights_sha256="0" * 64, dim=768)
    with pytest.raises(IndexLoadError) as e:
        load_index(root, name, other)
    msg = str(e.value)
    assert "model_id: index has 'bundled:all-MiniLM-L6-v2', embedder in use has 'some/other-model'" in msg
    assert "dim: index has 384, embedder in use has 768" in msg


def test_manifest_count_mismatch_is_refused(tiny_index, embedder):
    root, name, version = tiny_index
    mpath = root / name / "versions" / version / "manifest.json"
    m = json.loads(mpath.read_text())
    m["chunks"] = 99
    mpath.write_text(json.dumps(m))
    with pytest.raises(IndexLoadError, match="manifest says 99"):
        load_index(root, name, embedder.info)


def test_no_index_gives_a_clear_message(tmp_path, embedder):
    with pytest.raises(IndexLoadError, match="no index named 'nope'.*onbrand index build"):
        load_index(tmp_path, "nope", embedder.info)


def test_failed_build_leaves_previous_version_current(tiny_index, tiny_catalog, embedder, monkeypatch):
    root, name, v1 = tiny_index
    before = {p.name: p.read_bytes() for p in (root / name / "versions" / v1).iterdir()}

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("faiss.write_index", boom)
    with pytest.raises(OSError):
        build_index(tiny_catalog, embedder, root, name)
    assert current_version(root, name) == v1 and versions(root, name) == [v1]
    assert {p.name: p.read_bytes() for p in (root / name / "versions" / v1).iterdir()} == before
    assert [p.name for p in (root / name / "versions").iterdir()] == [v1]  # staging dir cleaned up
