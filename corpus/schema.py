"""The canonical product record every ingest format is turned into, and the limits on input."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from enum import Enum


class Stock(str, Enum):
    IN_STOCK = "in_stock"
    LOW_STOCK = "low_stock"
    OUT_OF_STOCK = "out_of_stock"
    PREORDER = "preorder"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


@dataclass(frozen=True)
class Limits:
    """Bounds on untrusted catalog and brand-kit input; each refusal names the limit and the value."""

    max_file_bytes: int = 64 * 1024 * 1024  # a 100k-product export with descriptions is ~40 MB
    max_rows: int = 100_000  # the largest catalog we index in memory on a 2-core box
    max_field_chars: int = 20_000  # a long HTML product body after stripping
    max_name_chars: int = 200  # names longer than this are descriptions in the wrong column
    max_id_chars: int = 64
    max_kit_bytes: int = 1024 * 1024  # a brand kit is hand-written YAML; the sample's 165 products take 16 kB
    max_kit_nodes: int = 100_000  # YAML nodes after alias expansion (the sample: 707); stops alias bombs


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    collection: str
    category: str
    price: float
    sale_price: float | None = None
    currency: str = "USD"
    specs: dict[str, str] = field(default_factory=dict)
    sizes: tuple[str, ...] = ()
    colors: tuple[str, ...] = ()
    stock: Stock = Stock.IN_STOCK
    description: str = ""
    url: str = ""
    skus: tuple[str, ...] = ()
    # the export's rows this product was grouped from (colour/size SKUs the kit lists under `variants`;
    # corpus/variants.py); empty for a product sold as one row
    variants: tuple["Product", ...] = ()

    @property
    def in_stock(self) -> bool:
        return self.stock in (Stock.IN_STOCK, Stock.LOW_STOCK)

    @property
    def current_price(self) -> float:
        return self.sale_price if self.sale_price is not None else self.price

    def to_json(self) -> dict:
        d = asdict(replace(self, variants=()))
        d["stock"] = self.stock.value
        d["sizes"], d["colors"], d["skus"] = list(self.sizes), list(self.colors), list(self.skus)
        del d["variants"]
        if self.variants:  # absent for a one-row product: its JSON (and content hash) as before variants existed
            d["variants"] = [v.to_json() for v in self.variants]
        return d

    def content_hash(self) -> str:
        """Hash of everything indexed about the product; a refresh re-embeds only when it changes."""
        blob = json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class Catalog:
    products: tuple[Product, ...]
    source: str  # the file it was read from, for messages and the index manifest
    fmt: str  # jsonl | csv | shopify
    # set on a catalog whose variant rows were grouped into products (corpus/variants.py): the hash of the
    # rows it was grouped from, so an index built from it is "built from this catalog file"
    source_sha256: str | None = None

    def __len__(self) -> int:
        return len(self.products)

    def by_id(self) -> dict[str, Product]:
        return {p.id: p for p in self.products}

    def sha256(self) -> str:
        """Format-independent hash: the same products read from JSONL or CSV hash the same."""
        if self.source_sha256:
            return self.source_sha256
        h = hashlib.sha256()
        for p in sorted(self.products, key=lambda p: p.id):
            h.update(p.content_hash().encode())
        return h.hexdigest()
