"""Incremental catalog refresh: diff a new export against the indexed catalog, embed only what changed,
publish a new index version atomically. Prices and stock live here, never in the adapter.

    result = refresh_index(load_catalog("export.csv"), Embedder.load(), root, "sample", kit=kit, keep=5)
    result.to_json()   # version, parent, added / changed / removed / unchanged, chunks embedded vs copied

Products are matched by id and compared by `Product.content_hash()`. An unchanged product's chunk rows and
vectors are copied from the parent version as they are (same stable ids). A new or changed product is
chunked again; each of its chunks whose embedded text the parent already has (same product, same text
hash: a price change leaves the specs and description chunks as they were) keeps that vector and id, the
rest are embedded and get fresh ids. A different brand kit or chunking config, or chunk rows that this
onbrand writes differently from the parent (probed on a few unchanged products), makes every product count
as changed (said in `all_changed_reason`); a different embedder is refused. Crash safety comes from
`index_store.publish_version`: the new version is staged, fsynced and renamed before CURRENT moves.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from core.errors import UserError
from corpus.brandkit import BrandKit
from corpus.schema import Catalog
from corpus.variants import group_variants
from rag.chunking import ChunkConfig, chunk_product
from rag.embedding import Embedder
from rag.index_store import (Stage, build_version, chunk_row, clean_leftovers, current_version, json_line,
                             product_lines, prune, publish_version, read_catalog_rows, read_manifest, read_version,
                             text_sha256, writer_lock)

log = logging.getLogger(__name__)


class RefreshError(UserError):
    pass


@dataclass(frozen=True)
class CatalogDiff:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]
    all_changed_reason: str | None = None  # set when every product is treated as changed, and why

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


@dataclass(frozen=True)
class RefreshResult:
    index: str
    version: str  # the published version (the parent when nothing changed)
    parent: str | None
    published: bool  # False when the export matched the index exactly: no new version
    added: int
    changed: int
    removed: int
    unchanged: int
    embedded_chunks: int  # chunks sent to the embedder
    copied_chunks: int  # chunks whose vector was copied from the parent
    all_changed_reason: str | None
    seconds: dict[str, float]  # read, diff, embed, write (staging + fsync + rename + CURRENT), total
    pruned: tuple[str, ...] = ()
    changed_ids: tuple[str, ...] = field(default=(), repr=False)  # added + changed + removed, at most 50

    def to_json(self) -> dict:
        d = asdict(self)
        d["pruned"], d["changed_ids"] = list(self.pruned), list(self.changed_ids)
        return d


def diff_catalog(old_hashes: dict[str, str], new_hashes: dict[str, str], all_changed_reason: str | None = None
                 ) -> CatalogDiff:
    """Compare product id -> content hash maps. Order follows the new catalog (removed: the old one)."""
    added = tuple(pid for pid in new_hashes if pid not in old_hashes)
    removed = tuple(pid for pid in old_hashes if pid not in new_hashes)
    both = [pid for pid in new_hashes if pid in old_hashes]
    if all_changed_reason:
        return CatalogDiff(added, tuple(both), removed, (), all_changed_reason)
    changed = tuple(pid for pid in both if new_hashes[pid] != old_hashes[pid])
    unchanged = tuple(pid for pid in both if new_hashes[pid] == old_hashes[pid])
    return CatalogDiff(added, changed, removed, unchanged)


def refresh_index(catalog: Catalog, embedder: Embedder, root: Path, name: str = "default",
                  kit: BrandKit | None = None, cfg: ChunkConfig = ChunkConfig(), keep: int | None = None,
                  replace: bool = False, show_progress_bar: bool = False, on_stage: Stage | None = None
                  ) -> RefreshResult:
    """Publish a new version of index `name` holding exactly `catalog`, embedding only what changed.

    keep: prune to this many versions afterwards (CURRENT and its rollback target always stay).
    replace: allow a catalog that shares no product id with the indexed one (else refused as "another
    catalog"). on_stage: called with a stage name between steps (used by the crash tests).
    With no published version yet this is a full build.
    """
    stage = on_stage or (lambda _: None)
    t0 = time.perf_counter()
    with writer_lock(root, name):
        clean_leftovers(root, name)
        stage("locked")
        parent = current_version(root, name)
        if parent is None:
            version = build_version(catalog, embedder, root, name, kit, cfg, show_progress_bar, on_stage=stage)
            n_chunks = read_manifest(root, name, version)["chunks"]
            result = RefreshResult(name, version, None, True, len(catalog.products), 0, 0, 0, n_chunks, 0,
                                   "no index yet: full build", {"total": round(time.perf_counter() - t0, 3)})
        else:
            result = _refresh(catalog, embedder, root, name, parent, kit, cfg, replace, show_progress_bar,
                              stage, t0)
    pruned = tuple(prune(root, name, keep)) if keep and result.published else ()
    if pruned:
        result = dataclasses.replace(result, pruned=pruned)
    stage("done")
    return result


def _refresh(catalog, embedder, root, name, parent, kit, cfg, replace, show_progress_bar, stage, t0
             ) -> RefreshResult:
    catalog = group_variants(catalog, kit)  # as build_version stores it: one record per product
    old = read_version(root, name, parent, embedder.info)  # refuses another embedder or dimension
    m = old.manifest
    t_read = time.perf_counter()

    # per product of the parent: content hash and its rows; format 1 rows carry no hashes
    old_rows: dict[str, list[int]] = {}
    for i, pid in enumerate(old.product_ids):
        old_rows.setdefault(pid, []).append(i)
    legacy = old.product_sha256 is None  # format 1
    if legacy:
        old_hashes = {p.id: p.content_hash() for p in read_catalog_rows(root, name, parent)}
    else:
        old_hashes = {pid: old.product_sha256[rows[0]] for pid, rows in old_rows.items()}
    catalog_lines, new_hashes = product_lines(catalog.products)
    if old_hashes and not replace and not (old_hashes.keys() & new_hashes.keys()):
        raise RefreshError(f"{catalog.source} shares no product id with index {name}/{parent} "
                           f"({m['catalog']['products']} products from {m['catalog'].get('source')}); it looks "
                           f"like another catalog: index it under its own name (`onbrand index build "
                           f"--index-name NAME`) or pass --replace")
    reason = _all_changed_reason(m, kit, cfg)
    if reason is None and not legacy:
        reason = _rows_changed_reason(catalog, old, old_rows, old_hashes, new_hashes, kit, cfg)
    diff = diff_catalog(old_hashes, new_hashes, reason)
    t_diff = time.perf_counter()

    if diff.empty:
        stage("unchanged")
        log.info("index %s/%s already holds this catalog: nothing to publish", name, parent)
        return RefreshResult(name, parent, parent, False, 0, 0, 0, len(diff.unchanged), 0, 0, None,
                             _timings(t0, t_read, t_diff, t_diff, t_diff))

    unchanged = set(diff.unchanged)
    # chunk again what changed; a chunk whose embedded text the parent has for this product keeps its vector
    reusable: dict[tuple[str, str], list[int]] = {}
    for pid in diff.changed:
        for i in old_rows[pid]:
            sha = old.row(i).get("embed_sha256")
            if sha:
                reusable.setdefault((pid, sha), []).append(i)
    next_id = int(m.get("next_id", len(old.ids)))
    old_ids = old.ids
    lines: list[str] = []  # the new chunks.jsonl, in new catalog order
    src: list[int] = []  # per row: the parent row whose vector it takes, or -1 - k for to_embed[k]
    to_embed: list[str] = []
    for p in catalog.products:
        if p.id in unchanged and not legacy:
            lines.extend(old.chunk_lines[i] for i in old_rows[p.id])  # copied as written
            src.extend(old_rows[p.id])
            continue
        if p.id in unchanged:  # a format-1 row lacks its hashes: same content and kit, so the same chunks
            chunks = chunk_product(p, kit, cfg)
            if len(chunks) == len(old_rows[p.id]):
                for c, i in zip(chunks, old_rows[p.id]):
                    lines.append(json_line(chunk_row(c, int(old_ids[i]), new_hashes[p.id])))
                    src.append(i)
                continue
        for c in chunk_product(p, kit, cfg):
            rows = reusable.get((p.id, text_sha256(c.embed_text)))
            if rows:
                i = rows.pop(0)
                lines.append(json_line(chunk_row(c, int(old_ids[i]), new_hashes[p.id])))
                src.append(i)
            else:
                lines.append(json_line(chunk_row(c, next_id + len(to_embed), new_hashes[p.id])))
                src.append(-1 - len(to_embed))
                to_embed.append(c.embed_text)
    stage("diffed")

    fresh = embedder.encode(to_embed, show_progress_bar=show_progress_bar)
    t_embed = time.perf_counter()
    stage("embedded")

    src_arr = np.asarray(src, dtype=np.int64)
    copied = src_arr >= 0
    vectors = np.empty((len(src), embedder.info.dim), dtype=np.float32)
    ids = np.empty(len(src), dtype=np.int64)
    vectors[copied] = old.vectors[src_arr[copied]]
    ids[copied] = old_ids[src_arr[copied]]
    k = -1 - src_arr[~copied]
    if len(k):
        vectors[~copied] = fresh[k]
    ids[~copied] = next_id + k

    counts = {"added": len(diff.added), "changed": len(diff.changed), "removed": len(diff.removed),
              "unchanged": len(diff.unchanged), "embedded_chunks": len(to_embed),
              "copied_chunks": int(copied.sum())}
    version = publish_version(
        root, name, vectors=vectors, ids=ids, chunk_lines=lines, catalog=catalog, info=embedder.info, kit=kit,
        cfg=cfg, catalog_lines=catalog_lines,
        extra={"kind": "refresh", "parent": parent, "next_id": next_id + len(to_embed),
               "refresh": {**counts, "all_changed_reason": diff.all_changed_reason}},
        on_stage=stage)
    t_write = time.perf_counter()
    touched = (*diff.added, *(() if diff.all_changed_reason else diff.changed), *diff.removed)
    log.info("index %s: %s published from %s: %d added, %d changed, %d removed, %d unchanged; "
             "%d chunks embedded, %d copied", name, version, parent, *counts.values())
    return RefreshResult(name, version, parent, True, **counts, all_changed_reason=diff.all_changed_reason,
                         seconds=_timings(t0, t_read, t_diff, t_embed, t_write), changed_ids=touched[:50])


def _timings(t0, t_read, t_diff, t_embed, t_write) -> dict[str, float]:
    return {"read": round(t_read - t0, 3), "diff": round(t_diff - t_read, 3), "embed": round(t_embed - t_diff, 3),
            "write": round(t_write - t_embed, 3), "total": round(t_write - t0, 3)}


def _all_changed_reason(manifest: dict, kit: BrandKit | None, cfg: ChunkConfig) -> str | None:
    built_kit = manifest.get("brand_kit_sha256")
    kit_sha = kit.sha256 if kit else None
    if built_kit != kit_sha:
        return (f"brand kit changed (index built with {_short(built_kit)}, now {_short(kit_sha)}): "
                "approved names and aliases shape every chunk, so every product is re-chunked")
    built_cfg = manifest.get("chunking", {})
    now_cfg = asdict(cfg)
    if built_cfg != now_cfg:
        return f"chunking changed ({built_cfg} -> {now_cfg}): every product is re-chunked"
    return None


def _rows_changed_reason(catalog, old, old_rows, old_hashes, new_hashes, kit, cfg, probes: int = 64
                         ) -> str | None:
    """Unchanged products' rows are copied as written, so check that this onbrand still writes them so:
    chunk up to `probes` unchanged products (spread over the catalog) again and compare byte for byte. A
    new chunk format (a new line in the overview, a new row key) fails every probe; then every product is
    re-chunked (vectors of unchanged embedded texts are still reused)."""
    same = [p for p in catalog.products if old_hashes.get(p.id) == new_hashes[p.id]]
    for p in same[::max(1, len(same) // probes)][:probes]:
        rows = old_rows[p.id]
        chunks = chunk_product(p, kit, cfg)
        written = [json_line(chunk_row(c, int(old.ids[i]), new_hashes[p.id])) for c, i in zip(chunks, rows)]
        if len(chunks) != len(rows) or written != [old.chunk_lines[i] for i in rows]:
            return (f"chunk rows changed (product {p.id} is unchanged but this onbrand chunks it differently "
                    f"from version {old.version}): every product is re-chunked")
    return None


def _short(sha: str | None) -> str:
    return f"{sha[:12]}…" if sha else "no brand kit"


def catalog_status(manifest: dict, catalog: Catalog) -> dict:
    """Is the index built from this catalog? {up_to_date, indexed_sha256, catalog_sha256, message}."""
    indexed = manifest["catalog"]["sha256"]
    sha = catalog.sha256()
    ok = sha == indexed
    msg = None if ok else (f"stale: index {manifest['name']}/{manifest['version']} was built from catalog "
                           f"{indexed[:12]}… ({manifest['catalog'].get('source')}), but {catalog.source} is "
                           f"{sha[:12]}…; run `onbrand refresh {catalog.source}`")
    return {"up_to_date": ok, "catalog_file": catalog.source, "catalog_sha256": sha, "indexed_sha256": indexed,
            "message": msg}


def watch(path: Path, refresh: Callable[[], object], interval: float = 2.0,
          sleep: Callable[[float], None] = time.sleep, stop: Callable[[], bool] = lambda: False,
          on_result: Callable[[object], None] = lambda r: None) -> None:
    """Refresh now, then whenever `path` changes and has stayed the same for one more poll (an export
    still being written is not indexed half-way). A refresh that fails (a bad export) is logged and the
    current version keeps serving; the next change is tried again."""
    def fingerprint():
        try:
            st = path.stat()
            return (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            return None

    def attempt():
        try:
            on_result(refresh())
        except UserError as e:
            log.error("refresh of %s failed; still serving the current version: %s", path, e)

    done = fingerprint()
    attempt()
    seen = done
    while not stop():
        sleep(interval)
        now = fingerprint()
        if now is not None and now == seen and now != done:
            done = now
            attempt()
        seen = now
