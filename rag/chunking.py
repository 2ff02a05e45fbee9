"""Products -> chunks with provenance (product id, field).

Each product gives an `overview` chunk (names, line, price, stock, sizes, colours), a `specs` chunk and
one or more `description` chunks. `text` is what the model reads; `embed_text` adds the product's
deprecated aliases so a shopper who types an old name still finds it, without putting the old name in
front of the model. The overview also carries the brand kit's disclaimers bound to the product's line or
category as "Note:" lines (read by the model, not embedded): the disclaimer's wording stays in the kit and
reaches answers through retrieval, while the adapter learns the habit of including it.
"""

from __future__ import annotations

from dataclasses import dataclass

from corpus.brandkit import BrandKit
from corpus.checks import product_disclaimers
from corpus.schema import Product, Stock
from corpus.variants import variant_stock_text
from rag.fields import price_text


@dataclass(frozen=True)
class ChunkConfig:
    description_words: int = 120  # well under MiniLM's 256 word-piece window, so nothing is truncated
    overlap_words: int = 20  # a sentence cut at a window edge still appears whole in one chunk
    # product-bound disclaimers as "Note:" lines in the overview: a 135M model copies a note it can see far
    # more reliably than it recalls which of five disclaimers a category needs (issue 4 notes)
    notes: bool = True


@dataclass(frozen=True)
class Chunk:
    product_id: str
    field: str  # overview | specs | description
    text: str
    embed_text: str
    collection: str
    in_stock: bool
    approved_name: str
    aliases: tuple[str, ...] = ()  # deprecated names and a legacy catalog name, for name matching

    def to_json(self) -> dict:
        return {"product_id": self.product_id, "field": self.field, "text": self.text,
                "collection": self.collection, "in_stock": self.in_stock, "approved_name": self.approved_name,
                "aliases": list(self.aliases)}


def chunk_product(p: Product, kit: BrandKit | None = None, cfg: ChunkConfig = ChunkConfig()) -> list[Chunk]:
    approved = kit.approved_name(p.id, p.name) if kit else p.name
    aliases = kit.aliases_for(approved) if kit else []  # an old name of several products finds each of them
    if p.name != approved:
        aliases.append(p.name)
    aliases = list(dict.fromkeys(aliases))
    alias_text = f" Also searched as: {', '.join(aliases)}." if aliases else ""

    # "Key: value" lines: a small model copies a price from "Price: $59.50" far more reliably than
    # from prose (measured on SmolLM2-135M; see the grounded-answers issue notes)
    head = f"Product: {approved}"
    overview = [head, f"Line: {p.collection} ({p.category})", f"Price: {price_text(p)}",
                f"Stock: {variant_stock_text(p, {s: s.label for s in Stock})}"]
    if p.sizes:
        overview.append(f"Sizes: {', '.join(p.sizes)}")
    if p.colors:
        overview.append(f"Colours: {', '.join(p.colors)}")
    notes = [f"Note: {d.text}" for d in product_disclaimers(p, kit)] if kit and cfg.notes else []
    chunks = [_make(p, approved, "overview", "\n".join(overview), alias_text, tuple(aliases), notes)]
    if p.specs:
        specs = [f"{k[:1].upper()}{k[1:]}: {v}" for k, v in p.specs.items()]
        chunks.append(_make(p, approved, "specs", "\n".join([head, *specs]), alias_text))
    words = p.description.split()
    step = max(1, cfg.description_words - cfg.overlap_words)
    for start in range(0, len(words), step):
        window = " ".join(words[start:start + cfg.description_words])
        chunks.append(_make(p, approved, "description", f"{head}\nDescription: {window}", alias_text))
        if start + cfg.description_words >= len(words):
            break
    return chunks


def _make(p: Product, approved: str, field: str, text: str, alias_text: str,
          aliases: tuple[str, ...] = (), notes: list[str] = ()) -> Chunk:
    shown = "\n".join([text, *notes])
    return Chunk(product_id=p.id, field=field, text=shown, embed_text=text.replace("\n", ". ") + alias_text,
                 collection=p.collection, in_stock=p.in_stock, approved_name=approved, aliases=aliases)


def chunk_catalog(products, kit: BrandKit | None = None, cfg: ChunkConfig = ChunkConfig()) -> list[Chunk]:
    return [c for p in products for c in chunk_product(p, kit, cfg)]
