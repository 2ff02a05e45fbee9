"""Catalog ingest: JSONL, plain CSV with a field mapping, Shopify export; validation and limits.

    .venv/bin/python -m pytest tests/corpus/test_ingest.py
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from corpus import SAMPLE_CATALOG
from corpus.errors import CatalogError
from corpus.ingest import load_catalog, load_mapping
from corpus.schema import Limits, Product, Stock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY_CATALOG = FIXTURES / "tiny_catalog.jsonl"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")  # keep "\r\n" as written
    return path


def jsonl(*rows: dict | str) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


def problems_of(excinfo) -> list[tuple]:
    return [(p.line, p.field, p.value) for p in excinfo.value.problems]


GOOD = {"id": "QK-1", "name": "Quokka Dome 2", "collection": "Quokka Shelter", "category": "Tents", "price": 249}


# --- JSONL ----------------------------------------------------------------------------------------

def test_jsonl_parses_every_field():
    cat = load_catalog(TINY_CATALOG)
    assert cat.fmt == "jsonl" and len(cat) == 5
    assert [p.id for p in cat.products] == ["QK-TNT-01", "QK-TNT-02", "QK-STV-01", "QK-BOT-01", "QK-LMP-01"]
    dome4 = cat.by_id()["QK-TNT-02"]
    assert dome4 == Product(
        id="QK-TNT-02", name="Quokka Dome 4", collection="Quokka Shelter", category="Tents", price=389.0,
        sale_price=329.0, currency="USD", specs={"weight": "3.6 kg", "sleeps": "4"}, sizes=(),
        colors=("Moss", "Sand"), stock=Stock.LOW_STOCK,
        description="A four-person family dome tent with a large vestibule.", url="", skus=())
    boot = cat.by_id()["QK-BOT-01"]
    assert boot.sizes == ("8", "9", "10", "11") and boot.sale_price is None and boot.stock is Stock.IN_STOCK
    assert cat.by_id()["QK-STV-01"].price == 59.5
    assert cat.by_id()["QK-STV-01"].specs == {"output": "2,800 W", "boil time": "3.5 min"}
    assert cat.by_id()["QK-STV-01"].stock is Stock.OUT_OF_STOCK
    assert cat.by_id()["QK-LMP-01"].stock is Stock.PREORDER


def test_jsonl_defaults_and_coercions(tmp_path):
    row = {**GOOD, "price": "$1,249.50", "stock": "Sold Out", "specs": {"sleeps": 2}, "sizes": [" S ", "M"]}
    p = load_catalog(write(tmp_path, "c.jsonl", jsonl(row))).products[0]
    assert p.price == 1249.5 and p.currency == "USD" and p.stock is Stock.OUT_OF_STOCK
    assert p.specs == {"sleeps": "2"} and p.sizes == ("S", "M") and p.description == ""


def test_jsonl_several_bad_rows_all_reported(tmp_path):
    path = write(tmp_path, "bad.jsonl", jsonl(
        GOOD,                                                   # 1 ok
        {**GOOD, "id": "QK-2", "name": ""},                     # 2 missing name
        {**GOOD, "id": "QK-3", "price": "abc"},                 # 3 not a number
        {**GOOD, "id": "QK-4", "price": -5},                    # 4 negative
        {**GOOD, "id": "QK-5", "price": 100, "sale_price": 100},  # 5 sale not below price
        {**GOOD, "id": "QK-6", "stock": "maybe"},               # 6 unknown stock
        {**GOOD, "id": "QK-7"},                                 # 7 ok
    ))
    with pytest.raises(CatalogError) as e:
        load_catalog(path)
    assert problems_of(e) == [(2, "name", None), (3, "price", "abc"), (4, "price", "-5"),
                              (5, "sale_price", "100"), (6, "stock", "maybe")]
    rules = [p.rule for p in e.value.problems]
    assert rules[0] == "required field is missing or empty"
    assert rules[1] == "must be a number"
    assert rules[2] == "must be a finite number >= 0"
    assert rules[3] == "sale price must be below the price (100.00)"
    assert rules[4].startswith("must be one of in_stock, low_stock, out_of_stock, preorder")
    assert {p.file for p in e.value.problems} == {str(path)}
    # str() gives one readable line per problem: file:line: field value: rule
    lines = str(e.value).splitlines()
    assert len(lines) == 5
    assert lines[1] == f"{path}:3: field 'price' value 'abc': must be a number"


def test_jsonl_parse_problems_all_reported(tmp_path):
    path = write(tmp_path, "bad.jsonl", jsonl(
        GOOD,                                 # 1 ok
        {**GOOD, "id": "QK-2", "colour": "red"},  # 2 unknown field
        "",                                   # 3 blank lines are skipped
        '{"id": "QK-4", "name": ',            # 4 invalid JSON
        '["QK-5"]',                           # 5 not an object
    ))
    with pytest.raises(CatalogError) as e:
        load_catalog(path)
    assert [(p.line, p.field) for p in e.value.problems] == [(2, "colour"), (4, None), (5, None)]
    assert e.value.problems[0].rule.startswith("unknown field; known fields: id, name")
    assert e.value.problems[1].rule.startswith("not valid JSON:")
    assert e.value.problems[1].value == '{"id": "QK-4", "name": '
    assert e.value.problems[2].rule == "each line must be a JSON object"


def test_jsonl_parse_and_value_problems_reported_together(tmp_path):
    path = write(tmp_path, "bad.jsonl", jsonl(
        {**GOOD, "name": ""},                    # 1 missing name
        {**GOOD, "id": "QK-2", "price": "abc"},  # 2 not a number
        {**GOOD, "id": "QK-3", "price": -1},     # 3 negative
        {**GOOD, "id": "QK-4", "price": 10, "sale_price": 12},  # 4 sale above price
        {**GOOD, "id": "QK-5", "stock": "soon"},  # 5 bad stock
        {**GOOD, "id": "QK-6", "colour": "red"},  # 6 unknown field
        '{"id": "QK-7",',                         # 7 invalid JSON
    ))
    with pytest.raises(CatalogError) as e:
        load_catalog(path)
    assert [(p.line, p.field) for p in e.value.problems] == [
        (1, "name"), (2, "price"), (3, "price"), (4, "sale_price"), (5, "stock"), (6, "colour"), (7, None)]


def test_jsonl_wrong_types_named(tmp_path):
    row = {**GOOD, "name": 5, "sizes": "S", "colors": [1], "specs": ["a"], "price": True}
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "c.jsonl", jsonl(row)))
    got = {p.field: p.rule for p in e.value.problems}
    assert got == {"name": "must be a string", "price": "must be a number", "colors": "must be a list of strings",
                   "specs": "must be an object of key -> value"}


def test_bad_id_and_currency(tmp_path):
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "c.jsonl", jsonl({**GOOD, "id": "-x y", "currency": "usd"})))
    assert [(p.field, p.value) for p in e.value.problems] == [("id", "-x y"), ("currency", "usd")]


def test_duplicate_id_names_both_lines(tmp_path):
    path = write(tmp_path, "dup.jsonl", jsonl(GOOD, {**GOOD, "id": "QK-2"}, {**GOOD, "name": "Other"}))
    with pytest.raises(CatalogError) as e:
        load_catalog(path)
    [p] = e.value.problems
    assert (p.line, p.field, p.value) == (3, "id", "QK-1")
    assert p.rule == "duplicate id (first seen at line 1)"


def test_empty_catalog_refused(tmp_path):
    with pytest.raises(CatalogError, match="catalog has no products"):
        load_catalog(write(tmp_path, "c.jsonl", "\n\n"))


# --- encoding -------------------------------------------------------------------------------------

def test_non_utf8_names_byte_offset_and_line(tmp_path):
    data = b"id,name\nab,Caf\xe9\ncd,ok\nef,\xe2\x82x\n"  # Latin-1 e-acute at 14, truncated euro sign at 25
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "c.csv", data))
    assert [(p.line, p.value) for p in e.value.problems] == [(2, "e9"), (4, "e2 82")]
    assert e.value.problems[0].rule == "not valid UTF-8 at byte offset 14; re-export the file as UTF-8"
    assert "byte offset 25" in e.value.problems[1].rule


def test_utf8_bom_is_accepted(tmp_path):
    data = "\ufeffid,name,collection,category,price\nQK-1,Dome,Shelter,Tents,9\n".encode()
    assert load_catalog(write(tmp_path, "c.csv", data)).products[0].id == "QK-1"


# --- limits ---------------------------------------------------------------------------------------

def test_file_too_large(tmp_path):
    path = write(tmp_path, "c.jsonl", jsonl(GOOD))
    size = path.stat().st_size
    with pytest.raises(CatalogError) as e:
        load_catalog(path, limits=Limits(max_file_bytes=size - 1))
    [p] = e.value.problems
    assert p.value == f"{size} bytes" and p.rule == f"file too large: limit is {size - 1} bytes"
    assert len(load_catalog(path, limits=Limits(max_file_bytes=size))) == 1


def test_too_many_rows(tmp_path):
    path = write(tmp_path, "c.jsonl", jsonl(GOOD, {**GOOD, "id": "QK-2"}, {**GOOD, "id": "QK-3"}))
    with pytest.raises(CatalogError) as e:
        load_catalog(path, limits=Limits(max_rows=2))
    [p] = e.value.problems
    assert p.value == "3" and p.rule == "too many rows: limit is 2"
    assert len(load_catalog(path, limits=Limits(max_rows=3))) == 3


def test_field_too_long(tmp_path):
    path = write(tmp_path, "c.jsonl", jsonl({**GOOD, "description": "x" * 101}))
    with pytest.raises(CatalogError) as e:
        load_catalog(path, limits=Limits(max_field_chars=100))
    [p] = e.value.problems
    assert (p.line, p.field) == (1, "description")
    assert p.rule == "too long: 101 characters, limit is 100"
    assert "limit is 100" in str(e.value)


def test_name_and_list_item_limits(tmp_path):
    path = write(tmp_path, "c.jsonl", jsonl({**GOOD, "name": "n" * 21, "sizes": ["s" * 21]}))
    with pytest.raises(CatalogError) as e:
        load_catalog(path, limits=Limits(max_name_chars=20))
    assert [(p.field, p.rule) for p in e.value.problems] == [
        ("name", "too long: 21 characters, limit is 20"), ("sizes", "item too long: 21 characters, limit is 20")]


# --- plain CSV with a field mapping ---------------------------------------------------------------

MAPPED_CSV = (
    "SKU,Product Name,Line,Type,Cost,Sale,Sizes,Colours,Specs,Availability,Blurb\r\n"
    'QK-BOT-01,Wallaby Trail Boot,Quokka Feet,Hiking Boots,$179.00,149,8; 9;10,Brown,'
    '"weight: 1.2 kg pair; drop: 10 mm",Low Stock,"Waterproof, ""grippy"" boots.\r\nRuns small."\r\n'
    "QK-LMP-01,Glowworm 200,Quokka Light,Headlamps,34,,,Black; Teal,,,\r\n"
)
FULL_MAPPING = {"id": "SKU", "name": "Product Name", "collection": "Line", "category": "Type", "price": "Cost",
                "sale_price": "Sale", "sizes": "Sizes", "colors": "Colours", "specs": "Specs",
                "stock": "Availability", "description": "Blurb"}


def test_csv_with_mapping_parses_every_field(tmp_path):
    cat = load_catalog(write(tmp_path, "c.csv", MAPPED_CSV), mapping=FULL_MAPPING)
    assert cat.fmt == "csv"
    boot, lamp = cat.products
    assert boot == Product(
        id="QK-BOT-01", name="Wallaby Trail Boot", collection="Quokka Feet", category="Hiking Boots",
        price=179.0, sale_price=149.0, specs={"weight": "1.2 kg pair", "drop": "10 mm"}, sizes=("8", "9", "10"),
        colors=("Brown",), stock=Stock.LOW_STOCK, description='Waterproof, "grippy" boots.\r\nRuns small.')
    assert lamp.price == 34.0 and lamp.sale_price is None and lamp.colors == ("Black", "Teal")
    assert lamp.specs == {} and lamp.sizes == () and lamp.stock is Stock.IN_STOCK


def test_load_mapping_inline(tmp_path):
    mapping = load_mapping("name=Product Name,price=Cost")
    assert mapping == {"name": "Product Name", "price": "Cost"}
    text = "id,Product Name,collection,category,Cost\nQK-1,Quokka Dome 2,Quokka Shelter,Tents,249.00\n"
    [p] = load_catalog(write(tmp_path, "c.csv", text), mapping=mapping).products
    assert (p.id, p.name, p.price) == ("QK-1", "Quokka Dome 2", 249.0)


def test_load_mapping_json_file(tmp_path):
    spec = write(tmp_path, "map.json", json.dumps(FULL_MAPPING))
    mapping = load_mapping(str(spec))
    assert mapping == FULL_MAPPING
    assert len(load_catalog(write(tmp_path, "c.csv", MAPPED_CSV), mapping=mapping)) == 2


@pytest.mark.parametrize("spec", ["name", "name=,price=Cost", "=Title"])
def test_load_mapping_rejects_malformed_pairs(spec):
    with pytest.raises(CatalogError, match="use field=Column pairs"):
        load_mapping(spec)


def test_load_mapping_rejects_bad_json(tmp_path):
    with pytest.raises(CatalogError, match="mapping is not valid JSON"):
        load_mapping(str(write(tmp_path, "map.json", "{name: Title}")))
    with pytest.raises(CatalogError, match="mapping must be an object"):
        load_mapping(str(write(tmp_path, "list.json", '["name"]')))


def test_mapping_to_unknown_field_refused(tmp_path):
    path = write(tmp_path, "c.csv", "id,name,collection,category,price\nQK-1,Dome,Shelter,Tents,9\n")
    with pytest.raises(CatalogError) as e:
        load_catalog(path, mapping={"title": "Name"})
    assert [(p.field, p.value) for p in e.value.problems] == [("title", "Name")]


def test_csv_several_bad_rows_all_reported(tmp_path):
    text = ("id,name,collection,category,price,sale_price,stock\n"
            "QK-1,Dome,Shelter,Tents,10,,\n"          # 2 ok
            "QK-2,,Shelter,Tents,10,,\n"              # 3 missing name
            "QK-3,Dome,Shelter,Tents,abc,,\n"         # 4 not a number
            "QK-4,Dome,Shelter,Tents,-1,,\n"          # 5 negative
            "QK-5,Dome,Shelter,Tents,10,10.00,\n"     # 6 sale not below price
            "QK-6,Dome,Shelter,Tents,10,,maybe\n"     # 7 unknown stock
            "QK-1,Dome,Shelter,Tents,10,,\n")         # 8 duplicate of line 2
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "c.csv", text))
    assert problems_of(e) == [(3, "name", None), (4, "price", "abc"), (5, "price", "-1"),
                              (6, "sale_price", "10.00"), (7, "stock", "maybe"), (8, "id", "QK-1")]
    assert e.value.problems[-1].rule == "duplicate id (first seen at line 2)"


def test_csv_line_numbers_count_quoted_newlines(tmp_path):
    text = ('id,name,collection,category,price,description\n'
            'QK-1,Dome,Shelter,Tents,10,"two\nlines"\n'   # lines 2-3
            'QK-1,Dome,Shelter,Tents,10,\n')               # line 4
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "c.csv", text))
    [p] = e.value.problems
    assert p.line == 4 and p.rule == "duplicate id (first seen at line 2)"


def test_csv_line_numbers_after_blank_line(tmp_path):
    text = "id,name,collection,category,price\nQK-1,Dome,Shelter,Tents,1\n\nQK-2,Dome,Shelter,Tents,abc\n"
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "c.csv", text))
    assert problems_of(e) == [(4, "price", "abc")]


def test_csv_row_with_extra_cells(tmp_path):
    text = "id,name,collection,category,price\nQK-1,Dome,Shelter,Tents,9\nQK-2,Dome,Shelter,Tents,9,extra\n"
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "c.csv", text))
    [p] = e.value.problems
    assert p.line == 3 and p.rule == "row has 6 cells, header has 5"


def test_csv_missing_required_column_names_mapped_column(tmp_path):
    text = "id,Product Name,collection,category,Price\nQK-1,Dome,Shelter,Tents,9\n"
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "c.csv", text), mapping={"name": "Product Name", "price": "Cost"})
    [p] = e.value.problems
    assert (p.line, p.field, p.value, p.rule) == (1, "price", "Cost", "required column missing from header")
    assert "'Cost'" in str(e.value)


def test_csv_bad_spec_cell(tmp_path):
    text = "id,name,collection,category,price,specs\nQK-1,Dome,Shelter,Tents,9,weight: 2 kg; sleeps two\n"
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "c.csv", text))
    assert problems_of(e) == [(2, "specs", "sleeps two")]


def test_unknown_format_refused(tmp_path):
    with pytest.raises(CatalogError, match="unknown format"):
        load_catalog(write(tmp_path, "c.jsonl", jsonl(GOOD)), fmt="xml")


# --- Shopify export -------------------------------------------------------------------------------

SHOPIFY_COLUMNS = ["Handle", "Title", "Body (HTML)", "Vendor", "Type", "Tags", "Published", "Option1 Name",
                   "Option1 Value", "Option2 Name", "Option2 Value", "Variant SKU", "Variant Inventory Qty",
                   "Variant Price", "Variant Compare At Price", "Image Src", "Image Position", "Status"]


def shopify_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=SHOPIFY_COLUMNS)
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


SHOPIFY_ROWS = [
    # one product: three size variants and an image-only row
    {"Handle": "wallaby-boot", "Title": "Wallaby Trail Boot", "Vendor": "Quokka", "Type": "Hiking Boots",
     "Body (HTML)": "<p>Waterproof &amp; grippy.</p><br><p>Runs <b>small</b>.</p><script>alert('x')</script>",
     "Tags": "waterproof, collection:Quokka Feet, sale", "Published": "TRUE", "Option1 Name": "Size",
     "Option1 Value": "8", "Variant SKU": "QK-BOT-8", "Variant Inventory Qty": "2", "Variant Price": "149.00",
     "Variant Compare At Price": "179.00", "Image Src": "https://cdn.example/boot-1.jpg", "Image Position": "1",
     "Status": "active"},
    {"Handle": "wallaby-boot", "Option1 Value": "9", "Variant SKU": "QK-BOT-9", "Variant Inventory Qty": "1",
     "Variant Price": "149.00", "Variant Compare At Price": "179.00"},
    {"Handle": "wallaby-boot", "Option1 Value": "10", "Variant SKU": "QK-BOT-10", "Variant Inventory Qty": "1",
     "Variant Price": "149.00", "Variant Compare At Price": "179.00"},
    {"Handle": "wallaby-boot", "Image Src": "https://cdn.example/boot-2.jpg", "Image Position": "2"},
    # colours, no collection tag (collection falls back to Type), quantities 4 + 2 sum past the low-stock line
    {"Handle": "dome-2", "Title": "Quokka Dome 2", "Body (HTML)": "Two doors", "Type": "Tents", "Tags": "family",
     "Option1 Name": "Color", "Option1 Value": "Moss", "Variant SKU": "QK-TNT-M", "Variant Inventory Qty": "4",
     "Variant Price": "249.00", "Variant Compare At Price": "249.00", "Status": "active"},
    {"Handle": "dome-2", "Option1 Value": "Sand", "Variant SKU": "QK-TNT-S", "Variant Inventory Qty": "2",
     "Variant Price": "259.00"},
    # a draft is a preorder whatever its quantity
    {"Handle": "glowworm", "Title": "Glowworm 200", "Type": "Headlamps", "Tags": "collection: Quokka Light",
     "Option1 Name": "Title", "Option1 Value": "Default Title", "Variant Inventory Qty": "0",
     "Variant Price": "34", "Status": "draft"},
    # nothing left
    {"Handle": "blaze-mini", "Title": "Blaze Mini", "Type": "Camp Stoves", "Tags": "collection:Quokka Flame",
     "Option1 Name": "Title", "Option1 Value": "Default Title", "Variant Inventory Qty": "0",
     "Variant Price": "59.50", "Status": "active"},
]


def test_shopify_export_parses_products(tmp_path):
    cat = load_catalog(write(tmp_path, "products_export.csv", shopify_csv(SHOPIFY_ROWS)))
    assert cat.fmt == "shopify"
    assert [p.id for p in cat.products] == ["wallaby-boot", "dome-2", "glowworm", "blaze-mini"]
    boot, dome, lamp, stove = cat.products
    assert boot == Product(
        id="wallaby-boot", name="Wallaby Trail Boot", collection="Quokka Feet", category="Hiking Boots",
        price=179.0, sale_price=149.0, sizes=("8", "9", "10"), stock=Stock.LOW_STOCK,
        description="Waterproof & grippy. Runs small.", skus=("QK-BOT-8", "QK-BOT-9", "QK-BOT-10"))
    # the cheapest variant sets the price; a compare-at equal to it is no sale
    assert (dome.price, dome.sale_price) == (249.0, None)
    assert dome.collection == "Tents" and dome.category == "Tents"
    assert dome.colors == ("Moss", "Sand") and dome.sizes == () and dome.stock is Stock.IN_STOCK
    assert lamp.collection == "Quokka Light" and lamp.stock is Stock.PREORDER and lamp.price == 34.0
    assert lamp.sizes == () and lamp.colors == ()
    assert stove.stock is Stock.OUT_OF_STOCK and stove.price == 59.5 and stove.skus == ()


def test_shopify_html_body_stripped(tmp_path):
    body = "<div><h2>Fit</h2><p>Roomy&nbsp;toe &lt;box&gt;<br/>line two</p><style>p{}</style><ul><li>a</li></ul></div>"
    row = {"Handle": "h", "Title": "T", "Type": "Boots", "Body (HTML)": body, "Variant Price": "1"}
    [p] = load_catalog(write(tmp_path, "s.csv", shopify_csv([row]))).products
    assert p.description == "Fit Roomy toe <box> line two a"  # &nbsp; folds like any whitespace


def test_shopify_untracked_inventory_defaults_to_in_stock(tmp_path):
    row = {"Handle": "h", "Title": "T", "Type": "Boots", "Variant Price": "1"}
    [p] = load_catalog(write(tmp_path, "s.csv", shopify_csv([row]))).products
    assert p.stock is Stock.IN_STOCK


def test_shopify_bad_values_reported_with_first_row_line(tmp_path):
    rows = [{"Handle": "ok", "Title": "T", "Type": "Boots", "Variant Price": "1"},
            {"Handle": "no-type", "Title": "T", "Variant Price": "1"},                     # line 3
            {"Handle": "bad-qty", "Title": "T", "Type": "Boots", "Variant Price": "1",
             "Variant Inventory Qty": "lots"},                                              # line 4
            {"Handle": "bad-price", "Title": "T", "Type": "Boots", "Variant Price": "free"},  # line 5
            {"Title": "Orphan", "Variant Price": "1"}]                                      # line 6: no handle
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "s.csv", shopify_csv(rows)))
    assert problems_of(e) == [(3, "collection", None), (3, "category", None), (4, "stock", "lots"),
                              (5, "price", "free"), (6, "id", None), (6, "name", None), (6, "collection", None),
                              (6, "category", None), (6, "price", None)]


def test_shopify_missing_columns(tmp_path):
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "s.csv", "Handle,Title\nh,T\n"), fmt="shopify")
    assert [(p.line, p.field) for p in e.value.problems] == [(1, "Variant Price")]


# --- format independence and the sample -----------------------------------------------------------

TINY_AS_CSV = (
    "id,name,collection,category,price,sale_price,currency,specs,sizes,colors,stock,description,url\n"
    'QK-TNT-01,Quokka Dome 2,Quokka Shelter,Tents,249.00,,USD,weight: 2.1 kg; sleeps: 2,,Moss,in_stock,'
    "A two-person dome tent with two doors and a quick-pitch frame.,\n"
    'QK-TNT-02,Quokka Dome 4,Quokka Shelter,Tents,389,329,USD,weight: 3.6 kg; sleeps: 4,,Moss; Sand,low stock,'
    "A four-person family dome tent with a large vestibule.,\n"
    'QK-STV-01,Blaze Mini,Quokka Flame,Camp Stoves,59.50,,USD,"output: 2,800 W; boil time: 3.5 min",,Orange,'
    'out_of_stock,"Formerly the Sparky. A compact canister stove that boils a litre in three and a half minutes.",\n'
    'QK-BOT-01,Wallaby Trail Boot,Quokka Feet,Hiking Boots,179,,USD,weight: 1.2 kg pair; drop: 10 mm,8;9;10;11,'
    "Brown,in_stock,Waterproof leather hiking boots with a grippy lug sole. Runs half a size small.,\n"
    'QK-LMP-01,Glowworm 200,Quokka Light,Headlamps,34,,USD,output: 200 lumens; battery: AAA x3,,Black; Teal,'
    "Pre-order,A light headlamp with a red night mode for reading in the tent.,\n"
)


def test_sha256_is_format_independent(tmp_path):
    from_jsonl = load_catalog(TINY_CATALOG)
    from_csv = load_catalog(write(tmp_path, "tiny.csv", TINY_AS_CSV))
    assert from_csv.products == from_jsonl.products
    assert from_csv.sha256() == from_jsonl.sha256()
    reordered = write(tmp_path, "rev.jsonl", "".join(reversed(TINY_CATALOG.read_text().splitlines(True))))
    assert load_catalog(reordered).sha256() == from_jsonl.sha256()
    changed = write(tmp_path, "changed.csv", TINY_AS_CSV.replace("389,329", "389,319"))
    assert load_catalog(changed).sha256() != from_jsonl.sha256()


def test_sample_catalog_loads():
    cat = load_catalog(SAMPLE_CATALOG)
    assert len(cat) >= 150
    assert len({p.collection for p in cat.products}) >= 6
    assert len(cat.by_id()) == len(cat)


# --- hostile JSONL that must still end in a CatalogError (regressions found while testing) -------

def _load_or_problems(path: Path):
    try:
        cat = load_catalog(path)
    except CatalogError as e:
        return e.problems
    cat.sha256()  # the index hashes every product; a catalog that loads must hash
    return cat


def test_huge_integer_price_is_a_catalog_error(tmp_path):
    path = write(tmp_path, "c.jsonl", json.dumps(GOOD).replace('"price": 249', '"price": 1' + "0" * 400) + "\n")
    problems = _load_or_problems(path)
    assert [(p.line, p.field) for p in problems] == [(1, "price")]


def test_over_long_integer_literal_is_a_catalog_error(tmp_path):
    path = write(tmp_path, "c.jsonl", '{"id": "a", "price": 1' + "0" * 5000 + "}\n")
    problems = _load_or_problems(path)
    assert [p.line for p in problems] == [1]


def test_deeply_nested_json_is_a_catalog_error(tmp_path):
    path = write(tmp_path, "c.jsonl", "[" * 100_000 + "]" * 100_000 + "\n")
    problems = _load_or_problems(path)
    assert [p.line for p in problems] == [1]


def test_lone_surrogate_escape_is_a_catalog_error(tmp_path):
    path = write(tmp_path, "c.jsonl", json.dumps({**GOOD, "name": "Dome \ud800"}) + "\n")
    problems = _load_or_problems(path)
    assert [(p.line, p.field) for p in problems] == [(1, "name")]


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85"])
def test_jsonl_unicode_line_separator_inside_string(tmp_path, sep):
    text = json.dumps({**GOOD, "description": f"line one{sep}line two"}, ensure_ascii=False) + "\n"
    [p] = load_catalog(write(tmp_path, "c.jsonl", text)).products
    assert p.description == f"line one{sep}line two"


# --- the CLI bad-input probe (issue 17): each case failed before its fix -------------------------------

def test_size_limit_enforced_while_reading_a_pipe(tmp_path):
    """A FIFO (like /dev/stdin under `cat big | onbrand ingest /dev/stdin`) reports size 0: the limit must
    hold while reading, naming the file and the limit once, not after reading everything."""
    import os
    import threading

    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    line = (json.dumps(GOOD) + "\n").encode()

    def feed():
        try:
            with open(fifo, "wb") as f:
                for _ in range(2_000):  # ~170 kB, far past the limit below
                    f.write(line)
        except BrokenPipeError:  # the reader stopped at the limit, as it should
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    with pytest.raises(CatalogError) as e:
        load_catalog(fifo, fmt="jsonl", limits=Limits(max_file_bytes=4096))
    writer.join(10)
    [p] = e.value.problems
    assert (p.file, p.value, p.rule) == (str(fifo), "more than 4096 bytes", "file too large: limit is 4096 bytes")


def test_size_limit_stops_reading_dev_zero():
    """`onbrand ingest /dev/zero` read until the OOM killer came (24 GB). It must stop at the default limit
    (64 MiB + 1 byte). Run in a child under a 1 GiB address-space cap, so a regression fails instead of
    exhausting the machine."""
    import subprocess
    import sys

    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
            "from onbrand.cli import main; raise SystemExit(main(['ingest', '/dev/zero', '--format', 'jsonl']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [
        "error: /dev/zero: value 'more than 67108864 bytes': file too large: limit is 67108864 bytes"]


def test_catalog_path_that_is_a_directory(tmp_path):
    with pytest.raises(CatalogError) as e:
        load_catalog(tmp_path)
    [p] = e.value.problems
    assert p.file == str(tmp_path) and p.rule == "cannot read file: it is a folder, not a catalog file"


def price_of(tmp_path, raw, mapping=None, name="c.csv") -> list:
    """Load a one-product CSV whose price cell is `raw`; the product's price, or the problems found."""
    text = f'id,name,collection,category,price\nQK-1,Dome,Shelter,Tents,"{raw}"\n'
    try:
        return load_catalog(write(tmp_path, name, text), mapping=mapping).products[0].price
    except CatalogError as e:
        return [(p.line, p.field, p.value) for p in e.problems]


@pytest.mark.parametrize("raw", [
    "12,34",      # a European decimal comma: was read as 1234.00
    "0,50",       # ditto, and a leading group cannot start with 0
    "1,2,3",      # commas anywhere
    "1,23.45",    # a group of two
    "12,3456",
    "1_000",      # Python's float() accepts digit underscores
    "\u0661\u0662",       # Arabic-Indic digits, accepted by float()
    "\uff11\uff12",       # fullwidth digits
    "1e3", "inf", "nan", "0x10", "", "$",
])
def test_price_strings_are_parsed_strictly(tmp_path, raw):
    assert price_of(tmp_path, raw) == [(2, "price", raw or None)]


def test_decimal_comma_error_says_how_to_declare_it(tmp_path):
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "c.jsonl", jsonl({**GOOD, "price": "12,34"})))
    [p] = e.value.problems
    assert p.value == "12,34" and "price_decimal=comma" in p.rule


@pytest.mark.parametrize("raw, price", [
    ("$1,249.50", 1249.5), ("1,234,567.00", 1234567.0), ("1234.5", 1234.5), ("$ 12", 12.0), (".99", 0.99),
    ("249", 249.0), ("0", 0.0),
])
def test_valid_price_strings_still_parse(tmp_path, raw, price):
    assert price_of(tmp_path, raw) == price


@pytest.mark.parametrize("raw, price", [
    ("12,34", 12.34), ("1.234,50", 1234.5), ("1.234.567", 1234567.0), ("249", 249.0), ("$0,99", 0.99),
])
def test_declared_decimal_comma(tmp_path, raw, price):
    assert price_of(tmp_path, raw, mapping={"price_decimal": "comma"}) == price
    assert price_of(tmp_path, raw, mapping=load_mapping("price_decimal=comma"), name="d.csv") == price


@pytest.mark.parametrize("raw", ["1,234.50", "12.34", "1.23,4", "0.500"])
def test_declared_decimal_comma_is_strict_too(tmp_path, raw):
    assert price_of(tmp_path, raw, mapping={"price_decimal": "comma"}) == [(2, "price", raw)]


def test_price_decimal_option_applies_to_jsonl_and_names_a_bad_value(tmp_path):
    path = write(tmp_path, "c.jsonl", jsonl({**GOOD, "price": "1.249,50", "sale_price": "999,00"}))
    [p] = load_catalog(path, mapping={"price_decimal": "comma"}).products
    assert (p.price, p.sale_price) == (1249.5, 999.0)
    with pytest.raises(CatalogError) as e:
        load_catalog(path, mapping={"price_decimal": "german"})
    [p] = e.value.problems
    assert (p.field, p.value) == ("price_decimal", "german") and "comma" in p.rule and "point" in p.rule


@pytest.mark.parametrize("raw", [-0.0, "-0.00", "-0", "$-0.0"])
def test_negative_zero_price_is_normalised(tmp_path, raw):
    import math

    [p] = load_catalog(write(tmp_path, "c.jsonl", jsonl({**GOOD, "price": raw}))).products
    assert p.price == 0.0 and math.copysign(1.0, p.price) == 1.0
    assert '"price": 0.0' in json.dumps(p.to_json())


def test_negative_price_still_refused(tmp_path):
    assert price_of(tmp_path, "-5") == [(2, "price", "-5")]
    assert price_of(tmp_path, "-0.01") == [(2, "price", "-0.01")]


def test_shopify_quantity_overflow_is_a_problem_not_a_traceback(tmp_path):
    rows = [{"Handle": "a", "Title": "T", "Type": "Boots", "Variant Price": "1", "Variant Inventory Qty": "inf"},
            {"Handle": "b", "Title": "T", "Type": "Boots", "Variant Price": "1", "Variant Inventory Qty": "1e400"},
            {"Handle": "c", "Title": "T", "Type": "Boots", "Variant Price": "1", "Variant Inventory Qty": "nan"},
            {"Handle": "d", "Title": "T", "Type": "Boots", "Variant Price": "1", "Variant Inventory Qty": "3"}]
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "s.csv", shopify_csv(rows)))
    assert problems_of(e) == [(2, "stock", "inf"), (3, "stock", "1e400"), (4, "stock", "nan")]
    assert all("Variant Inventory Qty" in p.rule for p in e.value.problems)


def test_shopify_draft_with_a_bad_quantity_is_reported(tmp_path):
    row = {"Handle": "h", "Title": "T", "Type": "Boots", "Variant Price": "1", "Variant Inventory Qty": "lots",
           "Status": "draft"}
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "s.csv", shopify_csv([row])))
    assert problems_of(e) == [(2, "stock", "lots")]


@pytest.mark.parametrize("invisible", ["\u200b", "\u200b\u200d\u2060", "\u202e\u2066\u2069", "\ufeff\u200e",
                                       "\u200f \u200b"])
def test_names_of_only_invisible_characters_refused(tmp_path, invisible):
    row = {**GOOD, "name": invisible, "collection": invisible, "category": "Tents", "colors": ["Moss", invisible]}
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "c.jsonl", jsonl(row)))
    assert [(p.field, p.rule) for p in e.value.problems] == [
        ("name", "has no visible characters (only zero-width, bidi-control or space characters)"),
        ("collection", "has no visible characters (only zero-width, bidi-control or space characters)"),
        ("colors", "item has no visible characters (only zero-width, bidi-control or space characters)")]


def test_names_with_invisible_characters_inside_still_load(tmp_path):
    [p] = load_catalog(write(tmp_path, "c.jsonl", jsonl({**GOOD, "name": "Dome\u200b 2"}))).products
    assert p.name == "Dome\u200b 2"


def test_unterminated_csv_quote_reported_where_the_record_starts(tmp_path):
    text = ("id,name,collection,category,price,description\n"
            "QK-1,Dome,Shelter,Tents,10,fine\n"
            'QK-2,Dome,Shelter,Tents,10,"never closed\n'   # line 3: the quote opens here
            "QK-3,Dome,Shelter,Tents,10,more\n"
            "QK-4,Dome,Shelter,Tents,10,more\n")
    with pytest.raises(CatalogError) as e:
        load_catalog(write(tmp_path, "c.csv", text))
    [p] = e.value.problems
    assert p.line == 3 and p.rule.startswith("malformed CSV in the record that starts on this line")
    assert str(p).startswith(f"{tmp_path / 'c.csv'}:3: malformed CSV")


def test_problem_without_field_or_value_has_no_empty_slot():
    from core.errors import Problem

    assert str(Problem("c.csv", 3, None, None, "malformed CSV")) == "c.csv:3: malformed CSV"
    assert str(Problem("c.csv", None, None, None, "catalog has no products")) == "c.csv: catalog has no products"
    assert str(Problem("c.csv", 2, "", None, "r")) == "c.csv:2: r"
    assert str(Problem("c.csv", 2, None, "x", "r")) == "c.csv:2: value 'x': r"
    assert str(Problem("c.csv", 2, "price", "x", "r")) == "c.csv:2: field 'price' value 'x': r"


def test_mapping_file_that_is_a_directory(tmp_path):
    folder = tmp_path / "map.json"
    folder.mkdir()
    with pytest.raises(CatalogError, match="cannot read file"):
        load_mapping(str(folder))


def test_sample_and_fixture_catalogs_hash_as_before():
    """The strict price parser must not change a committed catalog: these hashes are what the shipped index
    and adapter manifests were made from."""
    second = FIXTURES / "second_merchant"
    assert load_catalog(SAMPLE_CATALOG).sha256() == "431b6eedf4037fea315fed43c3446fad6ece41d4f2581bc840ecb24233334eaf"
    assert load_catalog(TINY_CATALOG).sha256() == "a77640563e9fa199f72810217454409b381be602ea266f30efa5c1ff948845e5"
    assert load_catalog(second / "products.csv", mapping=load_mapping(str(second / "mapping.json"))).sha256() == (
        "3b139e0ff878a37356770a160622e1447f063669736c3bb78566a1bf290cf16c")


def test_html_descriptions_become_text_in_every_format(tmp_path):
    body = "<p>Waterproof &amp; grippy.</p><ul><li>Weight: 1.2 kg</li></ul>"
    csv_text = "id,name,collection,category,price,description\nQK-1,Boot,Feet,Boots,10,\"" + body + "\"\n"
    jsonl = json.dumps({"id": "QK-1", "name": "Boot", "collection": "Feet", "category": "Boots", "price": 10,
                        "description": body}) + "\n"
    for name, text in (("c.csv", csv_text), ("c.jsonl", jsonl)):
        [p] = load_catalog(write(tmp_path, name, text)).products
        assert p.description == "Waterproof & grippy. Weight: 1.2 kg", name
    # text that only looks like a comparison is not markup
    [p] = load_catalog(write(tmp_path, "d.csv", "id,name,collection,category,price,description\n"
                                                 "QK-1,Boot,Feet,Boots,10,fits sizes < 9 and > 7\n")).products
    assert p.description == "fits sizes < 9 and > 7"


def test_a_description_with_other_markup_is_left_for_lint(tmp_path):
    body = "<p>Nice.</p><script>alert(1)</script>"
    [p] = load_catalog(write(tmp_path, "c.csv", "id,name,collection,category,price,description\n"
                                                "QK-1,Boot,Feet,Boots,10,\"" + body + "\"\n")).products
    assert p.description == body  # not silently cleaned: lint reports the markup, the app shows it as text
