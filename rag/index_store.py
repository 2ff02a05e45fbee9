"""Versioned FAISS index folders with a JSON manifest, published atomically and verified on load.

Layout under the index root (one per catalog name):

    <root>/<name>/CURRENT              text: the published version, e.g. "v0003"
    <root>/<name>/.lock                advisory lock: one writer (build, refresh, rollback, prune) at a time
    <root>/<name>/versions/v0003/      index.faiss, chunks.jsonl, catalog.jsonl, manifest.json

A build writes a hidden temp folder, fsyncs it and renames it into `versions/`, then swaps CURRENT
atomically; a failed or killed build leaves CURRENT and every published version untouched (the next
writer removes the hidden leftovers).

Stable ids (format 2): every vector carries an id that names one embedded text for good. Each row of
chunks.jsonl holds its `id`, the sha256 of the product record it came from (`product_sha256`) and of the
text that was embedded (`embed_sha256`), so `rag/refresh.py` can copy unchanged vectors from one version
to the next and embed only what changed. In memory the ids are row numbers into `chunks` (what the
retriever indexes by); the stable id of row i is `chunks[i]["id"]`. Format 1 indexes (ids = rows,
no hashes) still load.

    version = build_index(catalog, embedder, root, "sample", kit=kit)
    idx = load_index(root, "sample", embedder.info)      # verifies hashes and the embedder
    rollback(root, "sample")                              # CURRENT back to the version it replaced
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from core import atomic
from core.config import index_name_problem
from core.errors import UserError
from corpus.brandkit import BrandKit
from corpus.ingest import RawRecord, validate_records
from corpus.schema import Catalog, Product
from corpus.variants import group_variants
from rag.chunking import Chunk, ChunkConfig, chunk_catalog
from rag.embedding import Embedder, EmbedderInfo

log = logging.getLogger(__name__)

INDEX_FORMAT = 2  # 2: stable vector ids and per-chunk content hashes (refreshable); 1: ids are row numbers
READABLE_FORMATS = (1, 2)
METRIC = "inner_product"
FILES = ("index.faiss", "chunks.jsonl", "catalog.jsonl")
_VERSION_RE = re.compile(r"^v([0-9]{4,})\Z")  # ASCII digits, no trailing newline: CURRENT holds no path
_LEFTOVER_RE = re.compile(r"^\.(v\d{4,}\..*\.tmp|v\d{4,}\.rm\..*|CURRENT\..*\.tmp)$")
# the keys a refresh needs, read from a chunks.jsonl row as json_line wrote it (sorted keys; a quote inside a
# string value is always escaped, so the pattern only matches real keys); 15x faster than json.loads per row
_ROW_KEYS = re.compile(r'"id": (\d+), "in_stock": (?:true|false), "product_id": "([^"\\]*)", '
                       r'"product_sha256": "([0-9a-f]{64})"')

Stage = Callable[[str], None]  # called with a stage name between the steps of a publish (tests, progress)


class IndexLoadError(UserError):
    pass


class IndexNameError(UserError):
    """An index name that is not one plain folder name (it could reach outside the index root)."""


def index_dir(root: Path, name: str) -> Path:
    """<root>/<name>, once `name` is known to be a plain name: every path of an index starts here."""
    problem = index_name_problem(name)
    if problem:
        raise IndexNameError(f"index name {problem}")
    return root / name


def _version_dir(root: Path, name: str, version: str) -> Path:
    """<root>/<name>/versions/<version>, refusing a version id that is not vNNNN (it could be a path)."""
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        shown = version[:40] if isinstance(version, str) else version
        raise IndexLoadError(f"index {name}: {shown!r} is not a version id such as v0003")
    return index_dir(root, name) / "versions" / version


@dataclass
class LoadedIndex:
    name: str
    version: str
    path: Path
    manifest: dict
    index: object  # faiss.IndexIDMap2 over an IndexFlatIP; ids are row numbers into `chunks`
    chunks: list[dict]
    products: dict[str, Product]

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.manifest["created"])

    def age_seconds(self) -> float:
        return (datetime.now(timezone.utc) - self.created).total_seconds()


@dataclass(frozen=True)
class StoredVersion:
    """A published version as a refresh reads it: no catalog validation, vectors in row order."""

    version: str
    manifest: dict
    vectors: np.ndarray  # float32 [n_chunks, dim], row i belongs to chunk_lines[i]
    ids: np.ndarray  # int64 [n_chunks], the stable id of each row
    chunk_lines: list[str]  # chunks.jsonl as written, one JSON object per line
    product_ids: list[str]  # per row
    product_sha256: list[str] | None  # per row: the content hash of its product; None for a format-1 index

    def row(self, i: int) -> dict:
        return json.loads(self.chunk_lines[i])


def _faiss():
    try:
        import faiss
    except ImportError:
        raise RuntimeError("faiss is not installed: pip install 'onbrand[cpu]' (or [gpu] on CUDA)") from None
    return faiss


def text_sha256(text: str) -> str:
    """Identifies an embedded text; 32 hex digits (128 bits) are plenty and keep chunks.jsonl small."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def versions(root: Path, name: str) -> list[str]:
    vdir = index_dir(root, name) / "versions"
    if not vdir.is_dir():
        return []
    return sorted((p.name for p in vdir.iterdir() if p.is_dir() and _VERSION_RE.match(p.name)),
                  key=lambda v: int(v[1:]))


def current_version(root: Path, name: str) -> str | None:
    """The version CURRENT names, None before the first publish. CURRENT must hold a version id of this
    index (vNNNN), never a path: '../../other/versions/v0001' would serve another catalog's index."""
    pointer = index_dir(root, name) / "CURRENT"
    try:
        with open(pointer, "rb") as f:
            raw = f.read(65)  # "v0003\n"; anything longer is not a version id
    except FileNotFoundError:
        return None
    except OSError as e:
        raise IndexLoadError(f"{pointer}: cannot read ({e.strerror or e})") from None
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        return None
    if not _VERSION_RE.match(text):
        known = versions(root, name)
        raise IndexLoadError(
            f"{pointer} holds {text[:64]!r}, which is not a version of index {name!r}; point it at one with "
            f"`onbrand index rollback --to VERSION --index-name {name}` (versions: {', '.join(known) or 'none'})")
    return text


def writer_lock(root: Path, name: str):
    """Serialise writers of one index between processes (POSIX flock; the kernel drops it if we die)."""
    return atomic.folder_lock(index_dir(root, name))


def clean_leftovers(root: Path, name: str) -> list[str]:
    """Remove what a killed writer left behind (hidden staging folders, half-deleted versions, pointer
    temp files). Call under `writer_lock`: only a dead writer's files can be there then."""
    removed = []
    for folder in (index_dir(root, name), index_dir(root, name) / "versions"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if not _LEFTOVER_RE.match(p.name):
                continue
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p.name)
    if removed:
        log.info("index %s: removed leftovers of an interrupted write: %s", name, ", ".join(sorted(removed)))
    return removed


def chunk_row(chunk: Chunk, chunk_id: int, product_sha256: str) -> dict:
    return {**chunk.to_json(), "id": int(chunk_id), "product_sha256": product_sha256,
            "embed_sha256": text_sha256(chunk.embed_text)}


def json_line(row: dict) -> str:
    """One JSONL row as every index file writes it (sorted keys, UTF-8 kept)."""
    return json.dumps(row, ensure_ascii=False, sort_keys=True)


def product_lines(products) -> tuple[list[str], dict[str, str]]:
    """catalog.jsonl rows and product id -> content hash, each product serialised once.

    A row is `json_line(p.to_json())`, serialised straight from the dataclass's fields (json writes
    tuples as lists and the str-based Stock enum as its value) without `dataclasses.asdict`'s deep copies:
    10x faster on 10k products. Its sha256 is `p.content_hash()`. If the first product shows that
    `to_json` has moved away from the plain fields, every row falls back to `to_json`.
    """
    lines = [json_line(p.to_json()) if p.variants else json_line(_fields(p)) for p in products]
    if lines and lines[0] != json_line(products[0].to_json()):
        lines = [json_line(p.to_json()) for p in products]
    return lines, {p.id: hashlib.sha256(line.encode("utf-8")).hexdigest() for p, line in zip(products, lines)}


def _fields(p: Product) -> dict:
    """A one-row product's fields as `to_json` writes them (no `variants` key), without deep copies."""
    row = dict(vars(p))
    del row["variants"]
    return row


def build_index(catalog: Catalog, embedder: Embedder, root: Path, name: str = "default",
                kit: BrandKit | None = None, cfg: ChunkConfig = ChunkConfig(),
                show_progress_bar: bool = False, progress=None, on_stage: Stage | None = None) -> str:
    """Chunk, embed and publish a new version from scratch; return its version id. CURRENT moves only on
    success. Stable ids start at 0 in catalog order."""
    with writer_lock(root, name):
        clean_leftovers(root, name)
        return build_version(catalog, embedder, root, name, kit, cfg, show_progress_bar, progress, on_stage)


def build_version(catalog: Catalog, embedder: Embedder, root: Path, name: str, kit: BrandKit | None = None,
                  cfg: ChunkConfig = ChunkConfig(), show_progress_bar: bool = False, progress=None,
                  on_stage: Stage | None = None) -> str:
    """`build_index` for a caller that already holds `writer_lock`."""
    t0 = time.perf_counter()
    catalog = group_variants(catalog, kit)  # one record per product: the kit's variant rows grouped
    chunks = chunk_catalog(catalog.products, kit, cfg)
    vectors = embedder.encode([c.embed_text for c in chunks], show_progress_bar=show_progress_bar,
                              progress=progress)
    embed_s = time.perf_counter() - t0
    if on_stage:
        on_stage("embedded")
    catalog_lines, hashes = product_lines(catalog.products)
    lines = [json_line(chunk_row(c, i, hashes[c.product_id])) for i, c in enumerate(chunks)]
    return publish_version(root, name, vectors=vectors, ids=np.arange(len(chunks), dtype=np.int64),
                           chunk_lines=lines, catalog=catalog, catalog_lines=catalog_lines, info=embedder.info,
                           kit=kit, cfg=cfg,
                           extra={"kind": "build", "parent": None, "next_id": len(chunks),
                                  "build_seconds": round(embed_s, 3)},
                           on_stage=on_stage)


def publish_version(root: Path, name: str, *, vectors: np.ndarray, ids: np.ndarray, chunk_lines: list[str],
                    catalog: Catalog, info: EmbedderInfo, kit: BrandKit | None, cfg: ChunkConfig,
                    extra: dict, catalog_lines: list[str] | None = None, on_stage: Stage | None = None) -> str:
    """Write one complete version beside the others and point CURRENT at it. Hold `writer_lock`.

    vectors[i] (float32 [n, dim]) has stable id ids[i] and belongs to chunk_lines[i]. catalog_lines:
    `product_lines(catalog.products)[0]` if the caller has them. extra: manifest keys of the caller
    (kind, parent, next_id, refresh counts, timings). Returns the version id.
    """
    if catalog_lines is None:
        catalog_lines, _ = product_lines(catalog.products)
    faiss = _faiss()
    stage = on_stage or (lambda _: None)
    if not (len(vectors) == len(ids) == len(chunk_lines)):
        raise ValueError(f"{len(vectors)} vectors, {len(ids)} ids, {len(chunk_lines)} chunk rows")
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(info.dim))
    if len(vectors):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    base = index_dir(root, name) / "versions"
    existing = versions(root, name)
    number = int(existing[-1][1:]) + 1 if existing else 1
    version = f"v{number:04d}"
    with atomic.staging_dir(base / version) as tmp:
        stage("staging")
        faiss.write_index(index, str(tmp / "index.faiss"))
        stage("index.faiss")
        _write_lines(tmp / "chunks.jsonl", chunk_lines)
        stage("chunks.jsonl")
        _write_lines(tmp / "catalog.jsonl", catalog_lines)
        stage("catalog.jsonl")
        manifest = {
            "format": INDEX_FORMAT,
            "name": name,
            "version": version,
            "previous": current_version(root, name),  # what CURRENT pointed at before: the rollback target
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "embedding": {"model_id": info.model_id, "weights_sha256": info.weights_sha256,
                          "dim": info.dim, "normalized": info.normalized},
            "metric": METRIC,
            "faiss_version": faiss.__version__,
            "catalog": {"sha256": catalog.source_sha256 or catalog_sha256(catalog_lines, catalog.products), "source": catalog.source,
                        "format": catalog.fmt, "products": len(catalog.products)},
            "brand_kit_sha256": kit.sha256 if kit else None,
            "chunks": len(chunk_lines),
            "chunking": asdict(cfg),
            **extra,
            "files": {f: {"sha256": atomic.sha256_file(tmp / f), "bytes": (tmp / f).stat().st_size} for f in FILES},
        }
        atomic.write_json(tmp / "manifest.json", manifest)
        stage("manifest.json")
    stage("renamed")
    atomic.write_text(index_dir(root, name) / "CURRENT", version + "\n")
    stage("published")
    log.info("published index %s/%s: %d products, %d chunks", name, version, len(catalog.products),
             len(chunk_lines))
    return version


def catalog_sha256(lines: list[str], products) -> str:
    """`Catalog.sha256()` (content hashes sorted by product id) from rows that `product_lines` made."""
    h = hashlib.sha256()
    for _, line in sorted(zip((p.id for p in products), lines)):
        h.update(hashlib.sha256(line.encode("utf-8")).hexdigest().encode())
    return h.hexdigest()


def _write_lines(path: Path, lines) -> None:
    with path.open("w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


def way_back(name: str) -> str:
    """What to run when a published version cannot be served: the command that serves the one before it."""
    return (f"serve the version before it with `onbrand index rollback --index-name {name}` "
            "(or `--to VERSION`), or publish a new one with `onbrand index build`")


def read_manifest(root: Path, name: str, version: str) -> dict:
    path = _version_dir(root, name, version)
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexLoadError(f"index {name}/{version}: manifest.json is missing in {path}; {way_back(name)}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise IndexLoadError(f"index {name}/{version}: {path / 'manifest.json'} is not valid JSON "
                             f"({getattr(e, 'msg', e)}); {way_back(name)}") from None
    if manifest.get("format") not in READABLE_FORMATS:
        raise IndexLoadError(f"index {name}/{version}: format {manifest.get('format')!r}, "
                             f"this onbrand reads formats {READABLE_FORMATS}; rebuild the index")
    return manifest


def _verified(root: Path, name: str, version: str | None, embedder: EmbedderInfo | None) -> tuple[str, Path, dict]:
    version = version or current_version(root, name)
    if version is None:
        raise IndexLoadError(f"no index named {name!r} under {root}; build one with `onbrand index build`")
    path = _version_dir(root, name, version)
    inside = (index_dir(root, name) / "versions").resolve()
    if path.resolve().parent != inside:  # a version folder linked to another index or anywhere else
        raise IndexLoadError(f"index {name}/{version}: {path} leads outside the index (to {path.resolve()}); "
                             f"remove it and point CURRENT back with `onbrand index rollback --to VERSION`")
    manifest = read_manifest(root, name, version)
    for fname in FILES:
        expected = manifest["files"][fname]["sha256"]
        try:
            actual = atomic.sha256_file(path / fname)
        except FileNotFoundError:
            raise IndexLoadError(f"index {name}/{version}: {fname} is missing from {path}; {way_back(name)}") from None
        if actual != expected:
            raise IndexLoadError(f"index {name}/{version}: {fname} sha256 {actual[:12]}… does not match "
                                 f"the manifest's {expected[:12]}…; {path / fname} was changed or truncated: "
                                 f"{way_back(name)}")
    if embedder is not None:
        check_embedder(manifest, embedder, f"index {name}/{version}")
    return version, path, manifest


def _read_vectors(path: Path, name: str, version: str, manifest: dict, n_rows: int):
    """-> (faiss index, stable ids int64 [n]) after checking counts and dimension."""
    faiss = _faiss()
    index = faiss.read_index(str(path / "index.faiss"))
    if index.ntotal != n_rows or index.ntotal != manifest["chunks"]:
        raise IndexLoadError(f"index {name}/{version}: {index.ntotal} vectors, {n_rows} chunks, "
                             f"manifest says {manifest['chunks']}")
    if index.d != manifest["embedding"]["dim"]:
        raise IndexLoadError(f"index {name}/{version}: vectors have dim {index.d}, "
                             f"manifest says {manifest['embedding']['dim']}")
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    return index, ids


def _check_ids(name: str, version: str, ids: np.ndarray, rows: list[dict]) -> None:
    expected = np.fromiter((r.get("id", i) for i, r in enumerate(rows)), dtype=np.int64, count=len(rows))
    if not np.array_equal(ids, expected):
        bad = int(np.flatnonzero(ids != expected)[0])
        raise IndexLoadError(f"index {name}/{version}: vector {bad} has id {ids[bad]}, chunks.jsonl row "
                             f"{bad + 1} says {expected[bad]}; the files do not belong together")


def load_index(root: Path, name: str = "default", embedder: EmbedderInfo | None = None,
               version: str | None = None) -> LoadedIndex:
    """Load the published (or given) version, verifying files against the manifest and the embedder."""
    faiss = _faiss()
    version, path, manifest = _verified(root, name, version, embedder)
    chunks = [json.loads(line) for line in (path / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
    index, ids = _read_vectors(path, name, version, manifest, len(chunks))
    _check_ids(name, version, ids, chunks)
    # the retriever addresses chunks by row; stable ids stay in the rows (and on disk)
    faiss.copy_array_to_vector(np.arange(len(chunks), dtype=np.int64), index.id_map)
    index.construct_rev_map()
    rows = [RawRecord(i + 1, json.loads(line)) for i, line in
            enumerate((path / "catalog.jsonl").read_text(encoding="utf-8").splitlines())]
    products = {p.id: p for p in validate_records(rows, str(path / "catalog.jsonl"))}
    return LoadedIndex(name=name, version=version, path=path, manifest=manifest, index=index,
                       chunks=chunks, products=products)


def read_version(root: Path, name: str, version: str, embedder: EmbedderInfo) -> StoredVersion:
    """What a refresh needs from its parent: verified files, vectors in row order, raw chunk lines."""
    version, path, manifest = _verified(root, name, version, embedder)
    lines = (path / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    index, ids = _read_vectors(path, name, version, manifest, len(lines))
    keys = [_ROW_KEYS.search(line) for line in lines]
    if all(keys):
        row_ids = np.fromiter((int(k[1]) for k in keys), dtype=np.int64, count=len(keys))
        product_ids, shas = [k[2] for k in keys], [k[3] for k in keys]
    else:  # format 1 (no ids, no hashes) or rows written another way: parse them
        rows = [json.loads(line) for line in lines]
        row_ids = np.fromiter((r.get("id", i) for i, r in enumerate(rows)), dtype=np.int64, count=len(rows))
        product_ids = [r["product_id"] for r in rows]
        shas = [r.get("product_sha256") for r in rows]
        shas = None if None in shas else shas
    if not np.array_equal(ids, row_ids):
        bad = int(np.flatnonzero(ids != row_ids)[0])
        raise IndexLoadError(f"index {name}/{version}: vector {bad} has id {ids[bad]}, chunks.jsonl row "
                             f"{bad + 1} says {row_ids[bad]}; the files do not belong together")
    vectors = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), np.float32)
    return StoredVersion(version=version, manifest=manifest, vectors=vectors, ids=ids, chunk_lines=lines,
                         product_ids=product_ids, product_sha256=shas)


def read_catalog_rows(root: Path, name: str, version: str) -> list[Product]:
    """The products stored in a version (validated); used for format-1 parents that lack chunk hashes."""
    path = _version_dir(root, name, version) / "catalog.jsonl"
    rows = [RawRecord(i + 1, json.loads(line)) for i, line in enumerate(path.read_text(encoding="utf-8").splitlines())]
    return validate_records(rows, str(path))


def check_embedder(manifest: dict, info: EmbedderInfo, what: str) -> None:
    built = manifest["embedding"]
    diffs = [f"{key}: index has {built[key]!r}, embedder in use has {getattr(info, key)!r}"
             for key in ("model_id", "dim", "weights_sha256", "normalized") if built.get(key) != getattr(info, key)]
    if diffs:
        raise IndexLoadError(f"{what} was built with another embedder — " + "; ".join(diffs)
                             + ". Rebuild the index with this embedder or configure the one it was built with.")


# --- versions: list, roll back, prune ---------------------------------------------------------------------


def version_rows(root: Path, name: str) -> list[dict]:
    """One row per version folder, oldest first: what made it and whether CURRENT points at it."""
    try:
        current = current_version(root, name)
    except IndexLoadError:  # a broken CURRENT: still list the versions it could point at
        current = None
    rows = []
    for v in versions(root, name):
        try:
            m = read_manifest(root, name, v)
        except IndexLoadError as e:
            rows.append({"version": v, "current": v == current, "error": str(e)})
            continue
        rows.append({"version": v, "current": v == current, "created": m.get("created"),
                     "kind": m.get("kind", "build"), "parent": m.get("parent"), "previous": m.get("previous"),
                     "products": m["catalog"]["products"], "chunks": m["chunks"],
                     "catalog_sha256": m["catalog"]["sha256"], "catalog_source": m["catalog"].get("source"),
                     "refresh": m.get("refresh")})
    return rows


def set_current(root: Path, name: str, version: str, embedder: EmbedderInfo | None = None) -> None:
    """Point CURRENT at an existing version after verifying it loads (under the writer lock)."""
    with writer_lock(root, name):
        load_index(root, name, embedder, version=version)
        atomic.write_text(index_dir(root, name) / "CURRENT", version + "\n")
    log.info("index %s: CURRENT is now %s", name, version)


def rollback(root: Path, name: str, to: str | None = None, embedder: EmbedderInfo | None = None
             ) -> tuple[str | None, str]:
    """Point CURRENT back at `to`, by default the version that was current before this one was
    published. Returns (from, to). The target is verified first; nothing is deleted. With `to`, this also
    repairs a CURRENT that names no version of this index (from is then None)."""
    try:
        current = current_version(root, name)
    except IndexLoadError:
        if to is None:
            raise
        current = None
    else:
        if current is None:
            raise IndexLoadError(f"no index named {name!r} under {root}; nothing to roll back")
    known = versions(root, name)
    if to is None:
        to = read_manifest(root, name, current).get("previous")
        if to is None:
            older = [v for v in known if int(v[1:]) < int(current[1:])]
            if not older:
                raise IndexLoadError(f"index {name}: nothing to roll back to; {current} is the oldest version")
            to = older[-1]
    if to not in known:
        raise IndexLoadError(f"index {name}: version {to!r} is not there (pruned?); known versions: "
                             f"{', '.join(known)}; pass one with --to")
    if to == current:
        raise IndexLoadError(f"index {name}: {to} is already the current version")
    set_current(root, name, to, embedder)
    return current, to


def prune(root: Path, name: str, keep: int) -> list[str]:
    """Delete all but the newest `keep` versions; never CURRENT nor its rollback target. Returns the
    deleted versions. A version is renamed to a hidden name first, so it never appears half-deleted."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    with writer_lock(root, name):
        known = versions(root, name)
        current = current_version(root, name)
        protected = set(known[-keep:])
        if current is not None:
            protected.add(current)
            try:
                previous = read_manifest(root, name, current).get("previous")
            except IndexLoadError:
                previous = None
            older = [v for v in known if int(v[1:]) < int(current[1:])]
            protected.update(v for v in (previous, older[-1] if older else None) if v)
        removed = []
        for v in known:
            if v in protected:
                continue
            folder = _version_dir(root, name, v)
            trash = folder.parent / f".{v}.rm.{uuid.uuid4().hex[:12]}"
            os.rename(folder, trash)
            atomic.fsync_dir(folder.parent)
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(v)
    if removed:
        log.info("index %s: pruned %s (keeping %d)", name, ", ".join(removed), keep)
    return removed
