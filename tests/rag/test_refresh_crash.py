"""Crash safety: SIGKILL a refresh at random points; a complete old or new version must always load.

Each trial forks a child that refreshes the index (old catalog <-> new catalog, alternately) with a fast
deterministic embedder and a hook that pauses between the steps of a publish. The parent waits until
the child reaches a chosen step (every step is covered), waits a random part of a pause more (so the kill
lands inside the pause or inside the next write) and kills it. Then the published version must be
exactly the old or exactly the new catalog, every version folder must load, and the next refresh must
work (leftover staging folders are cleaned).
"""

import dataclasses
import hashlib
import os
import random
import signal
import sys
import time
import traceback

import numpy as np
import pytest

from corpus.schema import Catalog, Product, Stock
from rag.chunking import chunk_catalog
from rag.embedding import EmbedderInfo
from rag.index_store import build_index, current_version, load_index, versions
from rag.refresh import refresh_index

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

TRIALS = 24
PAUSE_S = 0.01  # between publish steps in the child; the kill lands in [0, 1.5 pauses) after a step
STAGES = ("locked", "diffed", "embedded", "staging", "index.faiss", "chunks.jsonl", "catalog.jsonl",
          "manifest.json", "renamed", "published", "done")


class FakeEmbedder:
    info = EmbedderInfo("test:fake", "0" * 64, 8)

    def vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.info.dim)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def encode(self, texts, show_progress_bar=False, progress=None):
        return np.stack([self.vector(t) for t in texts]) if texts else np.zeros((0, self.info.dim), np.float32)


def other_catalog(catalog: Catalog) -> Catalog:
    """A price, a stock status, a removed product and a new one: every kind of change at once."""
    products = [dataclasses.replace(p, price=p.price + 10, sale_price=None) if p.id == "QK-TNT-01" else
                dataclasses.replace(p, stock=Stock.OUT_OF_STOCK) if p.id == "QK-BOT-01" else p
                for p in catalog.products if p.id != "QK-LMP-01"]
    products.append(Product(id="QK-LMP-02", name="Glowworm 400", collection="Quokka Light", category="Headlamps",
                            price=54.0, description="A brighter headlamp."))
    return Catalog(tuple(products), source="new.jsonl", fmt="jsonl")


def check_complete(root, version, catalogs, kit, emb) -> str:
    """Load `version` (verifying hashes); it must hold exactly one of `catalogs`. Returns that sha256."""
    idx = load_index(root, "crash", emb.info, version=version)
    sha = idx.manifest["catalog"]["sha256"]
    assert sha in catalogs, f"{version} holds catalog {sha[:12]}, neither the old nor the new one"
    catalog = catalogs[sha]
    assert idx.products == catalog.by_id()
    chunks = chunk_catalog(catalog.products, kit)
    assert [c["text"] for c in idx.chunks] == [c.text for c in chunks]
    np.testing.assert_array_equal(idx.index.reconstruct_n(0, idx.index.ntotal),
                                  np.stack([emb.vector(c.embed_text) for c in chunks]))
    return sha


def run_child(target, root, kit, marker) -> None:
    """In the forked child: refresh with a pause after each step; never returns."""
    code = 1
    try:
        def on_stage(stage):
            with open(marker, "a") as f:
                f.write(stage + "\n")
            time.sleep(PAUSE_S)

        refresh_index(target, FakeEmbedder(), root, "crash", kit=kit, keep=3, on_stage=on_stage)
        code = 0
    except BaseException:
        traceback.print_exc(file=sys.stderr)
    finally:
        os._exit(code)


def reached(marker, stage) -> bool:
    try:
        return stage in marker.read_text().split()
    except FileNotFoundError:
        return False


def test_killed_refreshes_leave_a_complete_version(tmp_path, tiny_catalog, tiny_kit):
    rng = random.Random(6)
    emb, root = FakeEmbedder(), tmp_path / "indexes"
    old, new = tiny_catalog, other_catalog(tiny_catalog)
    catalogs = {old.sha256(): old, new.sha256(): new}
    build_index(old, emb, root, "crash", kit=tiny_kit)
    served = old.sha256()
    outcomes = {"old": 0, "new": 0, "staging left behind": 0, "unpublished version": 0}
    for trial in range(TRIALS):
        target = new if served == old.sha256() else old
        stage = STAGES[trial % len(STAGES)]
        marker = tmp_path / f"stages-{trial}.txt"
        pid = os.fork()
        if pid == 0:
            run_child(target, root, tiny_kit, marker)
        deadline = time.monotonic() + 300  # bounds a hang only: the loop waits on the marker file
        finished = None
        while not reached(marker, stage):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                finished = status
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"trial {trial}: the child never reached {stage!r} in 300 s")
            time.sleep(0.0005)
        if finished is None:
            time.sleep(rng.uniform(0, 1.5 * PAUSE_S))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, finished = os.waitpid(pid, 0)
        if not os.WIFSIGNALED(finished):  # it finished before the kill: it must have succeeded
            assert os.WEXITSTATUS(finished) == 0, f"trial {trial}: the refresh failed on its own"

        vdir = root / "crash" / "versions"
        outcomes["staging left behind"] += any(p.name.startswith(".") for p in vdir.iterdir())
        outcomes["unpublished version"] += versions(root, "crash")[-1] != current_version(root, "crash")
        sha = check_complete(root, None, catalogs, tiny_kit, emb)
        assert sha in (served, target.sha256())
        outcomes["new" if sha == target.sha256() else "old"] += 1
        for v in versions(root, "crash"):  # an unpublished but renamed version is complete too
            check_complete(root, v, catalogs, tiny_kit, emb)
        served = sha

    # killed before CURRENT moved -> old; after -> new; some kills hit a half-written staging folder
    assert outcomes["old"] >= 5 and outcomes["new"] >= 2 and outcomes["staging left behind"] >= 3, outcomes
    print("kill outcomes:", outcomes)
    # the next refresh cleans what the killed ones left and publishes normally
    final = dataclasses.replace(old, products=old.products[:3])
    r = refresh_index(final, emb, root, "crash", kit=tiny_kit)
    assert r.published and current_version(root, "crash") == r.version
    check_complete(root, None, {**catalogs, final.sha256(): final}, tiny_kit, emb)
    assert not [p.name for p in (root / "crash" / "versions").iterdir() if p.name.startswith(".")]
    assert not [p.name for p in (root / "crash").iterdir() if p.name.startswith(".CURRENT")]
