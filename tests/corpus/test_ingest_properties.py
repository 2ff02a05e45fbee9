"""Property tests for catalog ingest: any valid catalog survives JSONL, CSV and Shopify round trips, and no
input, however broken, escapes as anything but a `CatalogError`.

    .venv/bin/python -m pytest tests/corpus/test_ingest_properties.py
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.errors import CatalogError
from corpus.ingest import FIELDS, load_catalog
from corpus.schema import Catalog, Product, Stock

# derandomize: the same examples every run, so CI never flakes on a newly drawn case
SETTINGS = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

# Printable text in any script, line and paragraph separators (U+2028/U+2029) included.
_PRINTABLE = st.characters(blacklist_categories=("Cs", "Cc"))


def _visible(s: str) -> bool:
    """Ingest refuses text made only of zero-width, bidi-control or space characters (a name nobody sees)."""
    return any(unicodedata.category(c) not in ("Cf", "Cc", "Zs", "Zl", "Zp") for c in s)


def _clean(alphabet, max_size: int, forbid: str = "") -> st.SearchStrategy[str]:
    """Visible text with no surrounding whitespace (ingest strips cells) and none of `forbid`."""
    return (st.text(alphabet, min_size=1, max_size=max_size)
            .map(lambda s: "".join(c for c in s if c not in forbid).strip()).filter(_visible))


ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,20}", fullmatch=True)
names = _clean(_PRINTABLE | st.sampled_from(',"\';'), 40)
labels = _clean(_PRINTABLE | st.sampled_from('"\''), 30, forbid=",")  # Shopify tags are split on ','
descriptions = st.one_of(st.just(""), _clean(_PRINTABLE | st.sampled_from(',"\'\n;'), 120))
list_items = _clean(_PRINTABLE | st.sampled_from(",\"'"), 12, forbid=";")
spec_keys = _clean(_PRINTABLE, 15, forbid=";:")
spec_values = _clean(_PRINTABLE | st.just(":"), 20, forbid=";")


@st.composite
def products(draw) -> Product:
    cents = draw(st.integers(1, 10_000_000))
    sale = draw(st.one_of(st.none(), st.integers(0, cents - 1)))
    return Product(
        id=draw(ids), name=draw(names), collection=draw(labels), category=draw(labels), price=cents / 100,
        sale_price=None if sale is None else sale / 100, currency=draw(st.sampled_from(["USD", "EUR", "GBP"])),
        specs=draw(st.dictionaries(spec_keys, spec_values, max_size=3)),
        sizes=tuple(draw(st.lists(list_items, max_size=3, unique=True))),
        colors=tuple(draw(st.lists(list_items, max_size=3, unique=True))),
        stock=draw(st.sampled_from(list(Stock))), description=draw(descriptions),
        url=draw(st.sampled_from(["", "https://shop.example/p/1"])),
        skus=tuple(draw(st.lists(ids, max_size=2))))


catalogs = st.lists(products(), min_size=1, max_size=5, unique_by=lambda p: p.id)


_counter = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ingest-props")


def _write(folder: Path, suffix: str, content: str | bytes) -> Path:
    # hypothesis reruns the test body many times, so each example gets its own file
    path = folder / f"example-{next(_counter)}{suffix}"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def as_jsonl(items: list[Product]) -> str:
    return "".join(json.dumps(p.to_json(), ensure_ascii=False) + "\n" for p in items)


def as_csv(items: list[Product]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(FIELDS)
    for p in items:
        w.writerow([p.id, p.name, p.collection, p.category, f"{p.price:.2f}",
                    "" if p.sale_price is None else f"{p.sale_price:.2f}", p.currency,
                    "; ".join(f"{k}: {v}" for k, v in p.specs.items()), "; ".join(p.sizes), "; ".join(p.colors),
                    p.stock.value, p.description, p.url, "; ".join(p.skus)])
    return out.getvalue()


_QTY = {Stock.IN_STOCK: 6, Stock.LOW_STOCK: 5, Stock.OUT_OF_STOCK: 0, Stock.PREORDER: 9}  # 5 is the low-stock edge
SHOPIFY_COLUMNS = ["Handle", "Title", "Body (HTML)", "Vendor", "Type", "Tags", "Option1 Name", "Option1 Value",
                   "Option2 Name", "Option2 Value", "Variant SKU", "Variant Inventory Qty", "Variant Price",
                   "Variant Compare At Price", "Image Src", "Status"]


def as_shopify(items: list[Product]) -> str:
    """One row per size x colour variant, as Shopify exports it, plus an image-only row per product."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=SHOPIFY_COLUMNS)
    w.writeheader()
    for p in items:
        price, compare = (p.price, "") if p.sale_price is None else (p.sale_price, f"{p.price:.2f}")
        variants = [(s, c) for s in (p.sizes or ("",)) for c in (p.colors or ("",))]
        for i, (size, color) in enumerate(variants):
            row = {"Handle": p.id, "Variant SKU": f"{p.id}-v{i}", "Variant Price": f"{price:.2f}",
                   "Variant Compare At Price": compare, "Variant Inventory Qty": _QTY[p.stock] if i == 0 else 0,
                   "Option1 Value": size or color or "Default Title", "Option2 Value": color if size else ""}
            if i == 0:
                row.update({"Title": p.name, "Vendor": "Quokka", "Type": p.category,
                            "Body (HTML)": "<p>" + html.escape(p.description).replace("\n", "<br>") + "</p>",
                            "Tags": f"new, collection:{p.collection}, outdoor",
                            "Option1 Name": "Size" if p.sizes else "Color" if p.colors else "Title",
                            "Option2 Name": "Color" if p.sizes and p.colors else "",
                            "Status": "draft" if p.stock is Stock.PREORDER else "active"})
            w.writerow(row)
        w.writerow({"Handle": p.id, "Image Src": f"https://cdn.example/{p.id}.jpg"})
    return out.getvalue()


@SETTINGS
@given(catalogs)
def test_jsonl_round_trip(folder, items):
    cat = load_catalog(_write(folder, ".jsonl", as_jsonl(items)))
    assert cat.fmt == "jsonl"
    assert list(cat.products) == items


@SETTINGS
@given(catalogs)
def test_csv_round_trip(folder, items):
    cat = load_catalog(_write(folder, ".csv", as_csv(items)))
    assert cat.fmt == "csv"
    assert list(cat.products) == items
    assert cat.sha256() == Catalog(tuple(items), "", "jsonl").sha256()


@SETTINGS
@given(catalogs)
def test_shopify_round_trip(folder, items):
    cat = load_catalog(_write(folder, ".csv", as_shopify(items)))
    assert cat.fmt == "shopify"
    assert len(cat) == len(items)
    for got, want in zip(cat.products, items):
        # Shopify carries no specs, currency or url; the body is HTML, so whitespace folds
        assert (got.id, got.name, got.collection, got.category) == (want.id, want.name, want.collection,
                                                                   want.category)
        assert (got.price, got.sale_price) == (want.price, want.sale_price)
        assert (got.sizes, got.colors, got.stock) == (want.sizes, want.colors, want.stock)
        assert got.description == " ".join(want.description.split())
        n_variants = max(1, len(want.sizes)) * max(1, len(want.colors))
        assert got.skus == tuple(f"{want.id}-v{i}" for i in range(n_variants))
        assert (got.specs, got.currency, got.url) == ({}, "USD", "")


def _loads_or_catalog_error(path: Path) -> None:
    try:
        cat = load_catalog(path)
    except CatalogError as e:
        assert e.problems and all(p.rule for p in e.problems)
        return
    assert isinstance(cat, Catalog) and len(cat) >= 1
    cat.sha256()  # a catalog that loads must also hash (the index manifest needs it)


@settings(SETTINGS, max_examples=150)
@given(st.binary(max_size=400), st.sampled_from([".jsonl", ".csv"]))
def test_arbitrary_bytes_never_crash(folder, data, suffix):
    _loads_or_catalog_error(_write(folder, suffix, data))


@settings(SETTINGS, max_examples=150)
@given(st.text(max_size=400), st.sampled_from([".jsonl", ".csv"]))
def test_arbitrary_text_never_crashes(folder, text, suffix):
    _loads_or_catalog_error(_write(folder, suffix, text))


_CSV_HEADERS = "id,name,collection,category,price,sale_price,stock,sizes,specs\n"


@settings(SETTINGS, max_examples=150)
@given(st.text(st.sampled_from('ab1-;:,"\n\r $.x'), max_size=200))
def test_csv_shaped_text_never_crashes(folder, body):
    _loads_or_catalog_error(_write(folder, ".csv", _CSV_HEADERS + body))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**12) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8)


@settings(SETTINGS, max_examples=150)
@given(st.lists(st.dictionaries(st.sampled_from(FIELDS), json_values), min_size=1, max_size=4))
def test_json_records_with_any_values_never_crash(folder, rows):
    _loads_or_catalog_error(_write(folder, ".jsonl", "".join(json.dumps(r) + "\n" for r in rows)))
