"""Versioned FAISS index folders with a JSON manifest, published atomically and verified on load.

Layout under the index root (one per catalog name):

    <root>/<name>/CURRENT              text: the published version, e.g. "v0003"
    <root>/<name>/versions/v0003/      index.faiss, chunks.jsonl, catalog.jsonl, manifest.json

A build writes a hidden temp folder, fsyncs it and renames it into `versions/`, then swaps CURRENT
atomically; a failed build leaves CURRENT and every published version untouched.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from corpus.brandkit import BrandKit
from corpus.errors import UserError
from corpus.ingest import RawRecord, validate_records
from corpus.schema import Catalog, Product
from onbrand import atomic
from rag.chunking import ChunkConfig, chunk_catalog
from rag.embedding import Embedder, EmbedderInfo

log = logging.getLogger(__name__)

INDEX_FORMAT = 1
METRIC = "inner_product"
FILES = ("index.faiss", "chunks.jsonl", "catalog.jsonl")
_VERSION_RE = re.compile(r"^v(\d{4,})$")


class IndexLoadError(UserError):
    pass


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


def _faiss():
    try:
        import faiss
    except ImportError:
        raise RuntimeError("faiss is not installed: pip install 'onbrand[cpu]' (or [gpu] on CUDA)") from None
    return faiss


def versions(root: Path, name: str) -> list[str]:
    vdir = root / name / "versions"
    if not vdir.is_dir():
        return []
    return sorted((p.name for p in vdir.iterdir() if p.is_dir() and _VERSION_RE.match(p.name)),
                  key=lambda v: int(v[1:]))


def current_version(root: Path, name: str) -> str | None:
    pointer = root / name / "CURRENT"
    if not pointer.exists():
        return None
    return pointer.read_text(encoding="utf-8").strip() or None


def build_index(catalog: Catalog, embedder: Embedder, root: Path, name: str = "default",
                kit: BrandKit | None = None, cfg: ChunkConfig = ChunkConfig(),
                show_progress_bar: bool = False, progress=None) -> str:
    """Chunk, embed and publish a new version; return its version id. CURRENT moves only on success."""
    faiss = _faiss()
    t0 = time.perf_counter()
    chunks = chunk_catalog(catalog.products, kit, cfg)
    vectors = embedder.encode([c.embed_text for c in chunks], show_progress_bar=show_progress_bar,
                              progress=progress)
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(embedder.info.dim))
    index.add_with_ids(vectors, np.arange(len(chunks), dtype=np.int64))
    embed_s = time.perf_counter() - t0

    base = root / name / "versions"
    existing = versions(root, name)
    number = int(existing[-1][1:]) + 1 if existing else 1
    version = f"v{number:04d}"
    with atomic.staging_dir(base / version) as tmp:
        faiss.write_index(index, str(tmp / "index.faiss"))
        _write_jsonl(tmp / "chunks.jsonl", (c.to_json() for c in chunks))
        _write_jsonl(tmp / "catalog.jsonl", (p.to_json() for p in catalog.products))
        manifest = {
            "format": INDEX_FORMAT,
            "name": name,
            "version": version,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "embedding": {"model_id": embedder.info.model_id, "weights_sha256": embedder.info.weights_sha256,
                          "dim": embedder.info.dim, "normalized": embedder.info.normalized},
            "metric": METRIC,
            "faiss_version": faiss.__version__,
            "catalog": {"sha256": catalog.sha256(), "source": catalog.source, "format": catalog.fmt,
                        "products": len(catalog.products)},
            "brand_kit_sha256": kit.sha256 if kit else None,
            "chunks": len(chunks),
            "chunking": {"description_words": cfg.description_words, "overlap_words": cfg.overlap_words},
            "build_seconds": round(embed_s, 3),
            "files": {f: {"sha256": atomic.sha256_file(tmp / f), "bytes": (tmp / f).stat().st_size} for f in FILES},
        }
        atomic.write_json(tmp / "manifest.json", manifest)
    atomic.write_text(root / name / "CURRENT", version + "\n")
    log.info("published index %s/%s: %d products, %d chunks", name, version, len(catalog.products), len(chunks))
    return version


def _write_jsonl(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def load_index(root: Path, name: str = "default", embedder: EmbedderInfo | None = None,
               version: str | None = None) -> LoadedIndex:
    """Load the published (or given) version, verifying files against the manifest and the embedder."""
    faiss = _faiss()
    version = version or current_version(root, name)
    if version is None:
        raise IndexLoadError(f"no index named {name!r} under {root}; build one with `onbrand index build`")
    path = root / name / "versions" / version
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexLoadError(f"index {name}/{version}: manifest.json is missing in {path}") from None
    except json.JSONDecodeError as e:
        raise IndexLoadError(f"index {name}/{version}: manifest.json is not valid JSON ({e.msg})") from None
    if manifest.get("format") != INDEX_FORMAT:
        raise IndexLoadError(f"index {name}/{version}: format {manifest.get('format')!r}, "
                             f"this onbrand reads format {INDEX_FORMAT}; rebuild the index")
    for fname in FILES:
        expected = manifest["files"][fname]["sha256"]
        try:
            actual = atomic.sha256_file(path / fname)
        except FileNotFoundError:
            raise IndexLoadError(f"index {name}/{version}: {fname} is missing") from None
        if actual != expected:
            raise IndexLoadError(f"index {name}/{version}: {fname} sha256 {actual[:12]}… does not match "
                                 f"the manifest's {expected[:12]}…; the file was changed or truncated")
    if embedder is not None:
        check_embedder(manifest, embedder, f"index {name}/{version}")
    index = faiss.read_index(str(path / "index.faiss"))
    chunks = [json.loads(line) for line in (path / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
    if index.ntotal != len(chunks) or index.ntotal != manifest["chunks"]:
        raise IndexLoadError(f"index {name}/{version}: {index.ntotal} vectors, {len(chunks)} chunks, "
                             f"manifest says {manifest['chunks']}")
    if index.d != manifest["embedding"]["dim"]:
        raise IndexLoadError(f"index {name}/{version}: vectors have dim {index.d}, "
                             f"manifest says {manifest['embedding']['dim']}")
    rows = [RawRecord(i + 1, json.loads(line)) for i, line in
            enumerate((path / "catalog.jsonl").read_text(encoding="utf-8").splitlines())]
    products = {p.id: p for p in validate_records(rows, str(path / "catalog.jsonl"))}
    return LoadedIndex(name=name, version=version, path=path, manifest=manifest, index=index,
                       chunks=chunks, products=products)


def check_embedder(manifest: dict, info: EmbedderInfo, what: str) -> None:
    built = manifest["embedding"]
    diffs = [f"{key}: index has {built[key]!r}, embedder in use has {getattr(info, key)!r}"
             for key in ("model_id", "dim", "weights_sha256", "normalized") if built.get(key) != getattr(info, key)]
    if diffs:
        raise IndexLoadError(f"{what} was built with another embedder — " + "; ".join(diffs)
                             + ". Rebuild the index with this embedder or configure the one it was built with.")
