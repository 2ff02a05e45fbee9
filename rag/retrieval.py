"""Query -> top products, each with its best chunks and scores; optional metadata filters.

    hits = Retriever(index, embedder).retrieve("how much is the trailform 28?", k=3, in_stock=True)

A question that sets limits on a recommendation ("budget ~100", "2 person tent under 1 kilo") and names no
product retrieves among the products whose records meet them, when any does (`Retrieval.honour_limits`).
One that asks for an extreme ("cheapest tent", "lightest 2 person tent") retrieves the product with the
extreme value out of the category the search finds first (`corpus.limits.Order`): the embeddings know a tent
from a stove, not the cheapest tent from the dearest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from core.config import RETRIEVAL, Retrieval
from corpus.limits import Limit, Order, bounds_and_order, fits, in_order, request_limits
from rag.embedding import Embedder
from rag.index_store import LoadedIndex


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    product_id: str
    field: str
    text: str
    score: float  # cosine similarity in [-1, 1]


@dataclass(frozen=True)
class ProductHits:
    product_id: str
    approved_name: str
    score: float  # ranking score: the best chunk's cosine, plus the name-match boost if the query names it
    hits: tuple[Hit, ...]


_TOKEN = re.compile(r"[a-z0-9]+")
# how shoppers type a name's possessive cut: "mens" and "men's" are the name's "(Men's)"
_FOLD = {"mens": "men", "womens": "women", "kids": "kid", "childrens": "children"}


def tokens(text: str) -> list[str]:
    """Lowercase word and number tokens; "men's"/"mens" -> "men" (the possessive "s" dropped)."""
    return [_FOLD.get(t, t) for t in _TOKEN.findall(text.lower().replace("'s", "").replace("’s", ""))]


class NameMatcher:
    """Lexical product-name matching, beside the embeddings.

    MiniLM puts "TrailForm 28 Daypack" and "TrailForm 36 Daypack" almost on top of each other; a
    shopper who types the name (or an old name) means that product. A name matches when at least two
    of its tokens (or its only token) and every one of its numbers appear in the query; the match
    strength is the share of the name's tokens present.
    """

    def __init__(self, names: dict[str, list[str]]):
        self.names = [(pid, frozenset(tokens(n))) for pid, ns in names.items() for n in ns if tokens(n)]

    def match(self, query: str) -> dict[str, float]:
        return {pid: share for pid, (share, _) in self._best(query).items()}

    def less_specific(self, query: str) -> set[str]:
        """Products whose matched words all belong to another product's fully matched name: "swiftfoot w"
        matches the men's "Swiftfoot" too, but names the women's "Swiftfoot W"."""
        best = self._best(query)
        full = [common for share, common in best.values() if share == 1.0]
        return {pid for pid, (_, common) in best.items() if any(common < f for f in full)}

    def _best(self, query: str) -> dict[str, tuple[float, frozenset]]:
        q = set(tokens(query))
        best: dict[str, tuple[float, frozenset]] = {}
        for pid, name in self.names:
            common = name & q
            numbers = {t for t in name if t.isdigit()}
            if not numbers <= q or len(common) < min(2, len(name)):
                continue
            share = len(common) / len(name)
            if share > best.get(pid, (0.0,))[0]:
                best[pid] = (share, common)
        return best


class Retriever:
    name_boost: float = 0.3  # a full name match outranks any embedding-only neighbour (cosines differ <0.3)
    min_name_share: float = 0.6  # "trailform 28" (2 of 3 tokens) counts; "trailform" alone does not

    def __init__(self, index: LoadedIndex, embedder: Embedder):
        self.index = index
        self.embedder = embedder
        self.collections = sorted({c["collection"] for c in index.chunks})
        self._overview = {c["product_id"]: i for i, c in enumerate(index.chunks) if c["field"] == "overview"}
        names: dict[str, list[str]] = {}
        for c in index.chunks:
            if c["field"] == "overview":
                names[c["product_id"]] = [c["approved_name"], *c.get("aliases", ())]
        self.names = NameMatcher(names)
        self._approved = {pid: ns[0] for pid, ns in names.items()}

    def _selector(self, collection: str | None, in_stock: bool | None):
        if collection is None and not in_stock:
            return None
        import faiss

        ids = [i for i, c in enumerate(self.index.chunks)
               if (collection is None or c["collection"].lower() == collection.lower())
               and (not in_stock or c["in_stock"])]
        return faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64))

    def search(self, query_vec: np.ndarray, n_chunks: int, collection: str | None = None,
               in_stock: bool | None = None) -> list[Hit]:
        """query_vec: float32 [dim] -> up to n_chunks hits, best first."""
        import faiss

        sel = self._selector(collection, in_stock)
        params = faiss.SearchParameters(sel=sel) if sel is not None else None
        n = min(n_chunks, self.index.index.ntotal)
        scores, ids = self.index.index.search(query_vec.reshape(1, -1), n, params=params)
        hits = []
        for score, cid in zip(scores[0], ids[0]):
            if cid < 0:
                continue
            c = self.index.chunks[int(cid)]
            hits.append(Hit(int(cid), c["product_id"], c["field"], c["text"], float(score)))
        return hits

    def retrieve(self, query: str, k: int | None = None, collection: str | None = None,
                 in_stock: bool | None = None, settings: Retrieval = RETRIEVAL) -> list[ProductHits]:
        """Top-k products for a query (k: settings.top_k unless given), each with up to
        `settings.chunks_per_product` of its best chunks, keeping only products whose best score is within
        `settings.score_gap` of the top product's. The defaults are the app's (`core.config.RETRIEVAL`)."""
        k = settings.top_k if k is None else k
        chunks_per_product, max_gap = settings.chunks_per_product, settings.score_gap
        # 8 chunks per wanted product: a product has ~3 chunks, so this leaves room for runners-up
        qvec = self.embedder.encode_query(query)
        shares = {pid: share for pid, share in self.names.match(query).items()
                  if share >= self.min_name_share and self._passes(pid, collection, in_stock)}
        # a recommendation within limits ("2 person tent under 1 kilo", "budget ~100"): a wider search, then
        # the products that meet them, if any does. A question that names a product asks about it; a part of
        # a name that breaks the limits is a coincidence ("Pole Tent 1" in "tent under 1 kilo"), not a name.
        # An order ("cheapest tent") takes its extreme from the best match's category; a part of a name is not a
        # name there ("cheapest rain jacket" asks for the cheapest, not for the "Packlite Rain Jacket").
        limits = request_limits(query) if settings.honour_limits else []
        limits, order = bounds_and_order(limits)
        if order is not None:
            shares = {pid: share for pid, share in shares.items() if share == 1.0}
        if limits or order is not None:
            shares = {pid: share for pid, share in shares.items()
                      if share == 1.0 or pid not in self.index.products or fits(self.index.products[pid], limits)}
            limits, order = ([], None) if shares else (limits, order)
        # the most specific name ranks first; its siblings stay named (kept in the context beside it: without
        # them the adapter cut the qualifier from the name it copied, "The Ridgeline Storm Jacket")
        vaguer = self.names.less_specific(query)
        boosts = {pid: self.name_boost * share * (0.5 if pid in vaguer else 1.0) for pid, share in shares.items()}
        hits = self.search(qvec, n_chunks=max(8 * k, 16) * (4 if limits else 1), collection=collection,
                           in_stock=in_stock)
        grouped: dict[str, list[Hit]] = {}
        for h in hits:
            grouped.setdefault(h.product_id, []).append(h)
        if limits:
            fitting = {pid: hs for pid, hs in grouped.items()
                       if pid in self.index.products and fits(self.index.products[pid], limits)}
            grouped = fitting or grouped
        for pid in boosts:
            grouped.setdefault(pid, [self._overview_hit(pid, qvec)])
        score = {pid: hs[0].score + boosts.get(pid, 0.0) for pid, hs in grouped.items()}
        ranked = sorted(grouped, key=lambda pid: -score[pid])[:k]
        if order is not None and ranked and ranked[0] in self.index.products:
            ranked = self._in_order(order, limits, ranked[0], collection, in_stock) or ranked
            for pid in ranked:
                grouped.setdefault(pid, [self._overview_hit(pid, qvec)])
                score.setdefault(pid, grouped[pid][0].score)
        elif max_gap is not None and ranked:
            # a product the shopper named stays, however far below the best it scores: "the X or the Y?" needs
            # both in the context (a comparison lost its second product to the gap on the second merchant)
            ranked = [pid for pid in ranked if score[pid] >= score[ranked[0]] - max_gap or pid in boosts]
        out = []
        for pid in ranked:
            hs = grouped[pid][:chunks_per_product]
            if all(h.field != "overview" for h in hs):
                hs.append(self._overview_hit(pid, qvec))  # price and stock always travel along
            out.append(ProductHits(pid, self.index.chunks[hs[0].chunk_id]["approved_name"], score[pid], tuple(hs)))
        return out

    def _in_order(self, order: Order, limits: list[Limit], first: str, collection: str | None,
                  in_stock: bool | None) -> list[str]:
        """The product of `first`'s category (the best match's: "cheapest tent" finds a tent) that passes the
        filters and meets the limits with the order's extreme value, out of every one of them, not only the
        search's neighbours (which need not hold the cheapest). The score gap does not apply: it is chosen
        by the value, not by the text."""
        category = self.index.products[first].category
        records = [p for pid, p in self.index.products.items()
                   if p.category == category and pid in self._overview and self._passes(pid, collection, in_stock)]
        # the extreme alone: given the next ones too, the adapter described the second of three in 5 of 14 such
        # questions ("priciest tent": the Canopy Ultra 2), and given an out-of-stock extreme with the next one
        # in stock, it described that one in 1 of 2, as if it were the extreme
        return [p.id for p in in_order(order, records, limits, lambda p: self._approved[p.id])[:1]]

    def _passes(self, product_id: str, collection: str | None, in_stock: bool | None) -> bool:
        c = self.index.chunks[self._overview[product_id]]
        return ((collection is None or c["collection"].lower() == collection.lower())
                and (not in_stock or c["in_stock"]))

    def _overview_hit(self, product_id: str, qvec: np.ndarray) -> Hit:
        cid = self._overview[product_id]
        c = self.index.chunks[cid]
        score = float(self.index.index.reconstruct(cid) @ qvec)
        return Hit(cid, product_id, c["field"], c["text"], score)
