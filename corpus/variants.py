"""Variant SKUs -> one product as a shopper sees it.

Real exports sell a colour or a size as its own row ("KW-GLD-001-STOG", "KW-GLD-001-VOLL"); the brand kit's
`variants` says which rows are one product. What reaches the model, the sources and the filled answers is one
record per product (`group_variants`), so that:

- retrieval spends its top-k on products, not on three colours of one shoe (a comparison finds both shoes);
- "which colours?" is answered with every colour, "sizes" with every size, from one record;
- a value that differs between variants is said per variant: `variant_price_text` gives
  "$139.00; Volt Lime $110.95 on sale (regular $139.00)", `variant_stock_text` gives
  "in stock in Storm Grey and Volt Lime; out of stock in Midnight Navy".

The product record keeps its members in `Product.variants` (each a plain record of the export), so every
claim is still checked against the row it is true of (`corpus.claims` expands a product into its variants).
The product's id is its first variant's id in kit order, so a question about any variant finds it by id
through `family_ids`. Catalogs without variants come back unchanged (the same object).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Sequence

from corpus.brandkit import BrandKit
from corpus.schema import Catalog, Product, Stock

# stock states best first: a product is as available as its most available variant
_ORDER = (Stock.IN_STOCK, Stock.LOW_STOCK, Stock.PREORDER, Stock.OUT_OF_STOCK)
# a stock state said of some variants ("only a few left in M/L"); the full sentence forms are rag.fields'
SHORT_STOCK = {Stock.IN_STOCK: "in stock", Stock.LOW_STOCK: "only a few left", Stock.OUT_OF_STOCK: "out of stock",
               Stock.PREORDER: "available for preorder"}


def group_variants(catalog: Catalog, kit: BrandKit | None) -> Catalog:
    """One record per product: the kit's variant ids (several ids under one approved name) merged into one
    record, in the catalog order of their first id; every other product unchanged."""
    if kit is None:
        return catalog
    groups: dict[str, list[str]] = {}
    for pid, name in kit.products.items():
        groups.setdefault(name, []).append(pid)
    by_id = catalog.by_id()
    families = {}
    for ids in groups.values():
        members = [by_id[i] for i in ids if i in by_id]
        if len(members) > 1:
            families[members[0].id] = members
    if not families:
        return catalog
    absorbed = {m.id for members in families.values() for m in members[1:]}
    products = tuple(merge(families[p.id]) if p.id in families else p
                     for p in catalog.products if p.id not in absorbed)
    return replace(catalog, products=products, source_sha256=catalog.sha256())


def merge(members: Sequence[Product]) -> Product:
    """Variant records -> one product record: the first's name, line and text; every colour and size; specs
    that differ said per variant (the spec the variants are told apart by, "flavour", as a list of its
    values); the lowest price as its price; the best stock state; the members kept."""
    first = members[0]
    labels = variant_labels(members)
    by = _told_apart_by(members)
    specs: dict[str, str] = {}
    for key in dict.fromkeys(k for m in members for k in m.specs):
        values = {m.id: m.specs[key] for m in members if key in m.specs}
        if len(set(values.values())) == 1:
            specs[key] = next(iter(values.values()))
        elif key == by:
            specs[key] = spoken_list(list(dict.fromkeys(values.values())))
        else:
            specs[key] = "; ".join(f"{v} ({labels[i]})" for i, v in values.items())
    cheapest = min(members, key=lambda m: (m.current_price, m.price))
    return replace(first, price=cheapest.price, sale_price=cheapest.sale_price, specs=specs,
                   colors=tuple(dict.fromkeys(c for m in members for c in m.colors)),
                   sizes=tuple(dict.fromkeys(z for m in members for z in m.sizes)),
                   stock=min((m.stock for m in members), key=_ORDER.index),
                   skus=tuple(dict.fromkeys(s for m in members for s in m.skus)),
                   variants=tuple(replace(m, variants=()) for m in members))


def _told_apart_by(members: Sequence[Product]) -> str | None:
    """The spec key that tells variants apart when their colours and sizes do not ("flavour"), else None."""
    if any(len({getattr(m, a) for m in members}) > 1 for a in ("colors", "sizes")):
        return None
    return next((k for k in dict.fromkeys(k for m in members for k in m.specs)
                 if all(k in m.specs for m in members) and len({m.specs[k] for m in members}) == len(members)),
                None)


def variant_labels(members: Sequence[Product]) -> dict[str, str]:
    """id -> what tells a variant from the others: its colours when they differ, its sizes when they differ
    ("Storm Grey", "M/L", "Black, M/L"), else the value of the spec that does ("Salted Caramel"); its id when
    nothing does."""
    def differ(attr: str) -> bool:
        return len({getattr(m, attr) for m in members}) > 1
    by_colour, by_size, by_spec = differ("colors"), differ("sizes"), _told_apart_by(members)
    out = {}
    for m in members:
        parts = ([", ".join(m.colors)] if by_colour and m.colors else []) + \
            ([", ".join(m.sizes)] if by_size and m.sizes else []) + ([m.specs[by_spec]] if by_spec else [])
        out[m.id] = ", ".join(parts) or m.id
    return out


def _grouped(members: Sequence[Product], text) -> list[tuple[str, list[str]]]:
    """[(text, [label, ...])] of the members grouped by `text(member)`, the largest group first."""
    labels = variant_labels(members)
    groups: dict[str, list[str]] = {}
    for m in members:
        groups.setdefault(text(m), []).append(labels[m.id])
    return sorted(groups.items(), key=lambda kv: -len(kv[1]))  # stable: a tie keeps the first variant's first


def spoken_list(values: Sequence[str]) -> str:
    """"A", "A and B", "A, B and C": a list as a person says it (also rag.fields' colours and sizes)."""
    values = list(values)
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} and {values[-1]}"


def variant_price_text(p: Product, price_text) -> str:
    """The price of a product whose variants cost the same, else the most common price and each other one
    with its variants: "$139.00; Volt Lime $110.95 on sale (regular $139.00)". price_text: one record's."""
    if not p.variants:
        return price_text(p)
    groups = _grouped(sorted(p.variants, key=lambda m: m.sale_price is not None), price_text)  # a tie: list price first
    if len(groups) == 1:
        return groups[0][0]
    return "; ".join([groups[0][0], *(f"{spoken_list(labels)} {text}" for text, labels in groups[1:])])


def variant_stock_text(p: Product, stock_text: dict) -> str:
    """The stock state of a product whose variants share it (`stock_text[state]`), else each state with its
    variants: "in stock in Storm Grey and Volt Lime; out of stock in Midnight Navy"."""
    if not p.variants or len({m.stock for m in p.variants}) == 1:
        return stock_text[p.stock]
    groups = _grouped(p.variants, lambda m: m.stock)
    groups.sort(key=lambda kv: _ORDER.index(kv[0]))
    return "; ".join(f"{SHORT_STOCK[state]} in {spoken_list(labels)}" for state, labels in groups)


def expand(records: Iterable[Product]) -> list[Product]:
    """Each product as the export's rows: a grouped product's variants, any other product itself."""
    return [v for p in records for v in (p.variants or (p,))]


def family_ids(records: Iterable[Product]) -> dict[str, str]:
    """Every variant id -> the id of the product record it is grouped into (a plain product: its own id)."""
    return {v.id: p.id for p in records for v in (p.variants or (p,))}
