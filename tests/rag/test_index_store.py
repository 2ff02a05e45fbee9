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


# --- the CLI bad-input probe (issue 17): index names and CURRENT stay inside their own index ------------

BAD_NAMES = ["../escape", "ABSOLUTE", "a/b", "..", ".", ".hidden", "x" * 65, "", "a\x00b", "sp ace", "a\\b",
             "\u0430bc"]  # the last: a Cyrillic 'а'


@pytest.mark.parametrize("name", BAD_NAMES)
def test_index_names_are_plain_names(tmp_path, tiny_catalog, embedder, name):
    from rag.index_store import IndexNameError, prune, rollback, version_rows

    root = tmp_path / "root" / "indexes"
    name = str(tmp_path / "abs-index") if name == "ABSOLUTE" else name
    for call in (lambda: build_index(tiny_catalog, embedder, root, name), lambda: load_index(root, name),
                 lambda: current_version(root, name), lambda: versions(root, name),
                 lambda: version_rows(root, name), lambda: rollback(root, name), lambda: prune(root, name, 1)):
        with pytest.raises(IndexNameError, match="index name .*letters, digits"):
            call()
    assert not (tmp_path / "root" / "escape").exists() and not [p for p in tmp_path.rglob("*") if p.is_file()]


@pytest.mark.parametrize("name", ["sample", "coffee-gear_2", "a.b", "x" * 64, "9lives"])
def test_plain_index_names_are_accepted(tmp_path, name):
    assert current_version(tmp_path, name) is None and versions(tmp_path, name) == []


def test_current_pointing_into_another_index_is_refused(tiny_index, tiny_catalog, tiny_kit, embedder):
    """A CURRENT holding '../../other/versions/v0001' made one index serve another merchant's data."""
    from rag.index_store import rollback, version_rows

    root, name, v1 = tiny_index
    build_index(tiny_catalog, embedder, root, "other", kit=tiny_kit)
    pointer = root / name / "CURRENT"
    for bad in ("../../other/versions/v0001", "/etc", "v0001/../../../other/versions/v0001", "v1", "latest"):
        pointer.write_text(bad + "\n")
        with pytest.raises(IndexLoadError) as e:
            load_index(root, name, embedder.info)
        msg = str(e.value)
        assert str(pointer) in msg and repr(bad) in msg and "onbrand index rollback --to" in msg
        with pytest.raises(IndexLoadError):
            current_version(root, name)
    assert [r["version"] for r in version_rows(root, name)] == [v1]  # `index versions` still lists them
    # the way back the message names: rollback --to repairs the pointer
    assert rollback(root, name, to=v1, embedder=embedder.info) == (None, v1)
    assert load_index(root, name, embedder.info).version == v1


def test_version_argument_cannot_leave_the_index(tiny_index, tiny_catalog, tiny_kit, embedder):
    from rag.index_store import rollback

    root, name, _ = tiny_index
    build_index(tiny_catalog, embedder, root, "other", kit=tiny_kit)
    with pytest.raises(IndexLoadError, match="not a version id"):
        load_index(root, name, embedder.info, version="../../other/versions/v0001")
    with pytest.raises(IndexLoadError):
        rollback(root, name, to="../../other/versions/v0001", embedder=embedder.info)


def test_version_folder_linked_outside_the_index_is_refused(tiny_index, tiny_catalog, tiny_kit, embedder):
    root, name, v1 = tiny_index
    build_index(tiny_catalog, embedder, root, "other", kit=tiny_kit)
    (root / name / "versions" / "v0002").symlink_to(root / "other" / "versions" / "v0001")
    (root / name / "CURRENT").write_text("v0002\n")
    with pytest.raises(IndexLoadError, match="outside"):
        load_index(root, name, embedder.info)
