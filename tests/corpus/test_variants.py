"""Variant SKUs grouped into one product (corpus/variants.py): what the index, the fills and the checks see."""

import json

from corpus.brandkit import BrandKit
from corpus.claims import contradictions
from corpus.ingest import RawRecord, validate_records
from corpus.schema import Catalog, Product, Stock
from corpus.variants import expand, family_ids, group_variants
from rag.chunking import chunk_product
from rag.fields import fill_text, price_text, stock_text


def _shoe(pid, colour, *, sale=None, stock=Stock.IN_STOCK, name="Glide 5 Road Shoe"):
    return Product(id=pid, name=name, collection="Glide", category="Road Shoes", price=139.0, sale_price=sale,
                   colors=(colour,), sizes=("US 8", "US 9"), stock=stock, specs={"drop": "8 mm"})


GREY = _shoe("G-STOG", "Storm Grey")
LIME = _shoe("G-VOLL", "Volt Lime", sale=110.95, name="Glide 5 Road Shoe - Volt Lime")
NAVY = _shoe("G-MIDN", "Midnight Navy", stock=Stock.OUT_OF_STOCK)
TARP = Product(id="T-1", name="Flat Tarp", collection="Canopy", category="Tarps", price=59.5)
KIT = BrandKit(brand="B", version=1, products={"G-STOG": "Glide 5 Road Shoe (Men's)",
                                               "G-VOLL": "Glide 5 Road Shoe (Men's)",
                                               "G-MIDN": "Glide 5 Road Shoe (Men's)", "T-1": "Canopy Flat Tarp"},
               deprecated_aliases={})
CATALOG = Catalog((GREY, TARP, LIME, NAVY), "c.csv", "csv")


def test_variants_become_one_product_and_the_rest_stays():
    grouped = group_variants(CATALOG, KIT)
    assert [p.id for p in grouped.products] == ["G-STOG", "T-1"]
    shoe, tarp = grouped.products
    assert tarp is TARP
    assert shoe.colors == ("Storm Grey", "Volt Lime", "Midnight Navy")
    assert shoe.sizes == ("US 8", "US 9")
    assert shoe.stock == Stock.IN_STOCK  # as available as its most available variant
    assert [v.id for v in shoe.variants] == ["G-STOG", "G-VOLL", "G-MIDN"]
    assert expand(grouped.products) == [GREY, LIME, NAVY, TARP]
    assert family_ids(grouped.products) == {"G-STOG": "G-STOG", "G-VOLL": "G-STOG", "G-MIDN": "G-STOG", "T-1": "T-1"}
    # the same catalog file: an index built from the grouped view is built from this catalog
    assert grouped.sha256() == CATALOG.sha256()
    assert group_variants(Catalog((GREY, TARP), "c.csv", "csv"),
                          BrandKit("B", 1, {"T-1": "Canopy Flat Tarp"}, {})).products == (GREY, TARP)


def test_a_value_that_differs_between_variants_is_said_per_variant():
    shoe = group_variants(CATALOG, KIT).products[0]
    assert price_text(shoe) == "$139.00; Volt Lime $110.95 on sale (regular $139.00)"
    assert stock_text(shoe) == "in stock in Storm Grey and Volt Lime; out of stock in Midnight Navy"
    assert price_text(TARP) == "$59.50" and stock_text(TARP) == "in stock"
    filled, fills = fill_text("The Glide 5 Road Shoe (Men's) is [[price]]. It is [[stock]] and comes in [[colours]].",
                              [shoe], [shoe], KIT)
    assert filled == ("The Glide 5 Road Shoe (Men's) is $139.00; Volt Lime $110.95 on sale (regular $139.00). It is "
                      "in stock in Storm Grey and Volt Lime; out of stock in Midnight Navy and comes in Storm Grey, "
                      "Volt Lime and Midnight Navy.")
    assert {f.product_id for f in fills} == {"G-STOG"}
    overview = chunk_product(shoe, KIT)[0].text
    assert "Price: $139.00; Volt Lime $110.95 on sale (regular $139.00)" in overview
    assert "Stock: in stock in Storm Grey and Volt Lime; out of stock in Midnight Navy" in overview
    assert "Colours: Storm Grey, Volt Lime, Midnight Navy" in overview


def test_variants_told_apart_by_a_spec_are_labelled_by_it():
    gels = [Product(id=f"S-{f[:3].upper()}", name="Surge Gel", collection="Surge", category="Fuel", price=2.75,
                    specs={"flavour": f, "carbs": "25 g"}, stock=s)
            for f, s in (("Citrus", Stock.PREORDER), ("Apple", Stock.IN_STOCK), ("Cola", Stock.IN_STOCK))]
    kit = BrandKit("B", 1, {p.id: "Surge Gel 25" for p in gels}, {})
    [gel] = group_variants(Catalog(tuple(gels), "c.csv", "csv"), kit).products
    assert gel.specs == {"flavour": "Citrus, Apple and Cola", "carbs": "25 g"}
    assert stock_text(gel) == "in stock in Apple and Cola; available for preorder in Citrus"


def test_a_grouped_product_survives_the_index_round_trip():
    shoe = group_variants(CATALOG, KIT).products[0]
    row = json.loads(json.dumps(shoe.to_json()))
    [back] = validate_records([RawRecord(1, row)], "catalog.jsonl")
    assert back == shoe and back.content_hash() == shoe.content_hash()
    assert "variants" not in TARP.to_json()  # a one-row product's JSON, and hash, as before variants existed


def test_claims_about_a_grouped_product_are_checked_against_its_rows():
    shoe = group_variants(CATALOG, KIT).products[0]
    ok = "The Glide 5 Road Shoe (Men's) is $110.95 in Volt Lime. It is out of stock in Midnight Navy."
    assert contradictions(ok, [shoe], kit=KIT) == []
    wrong = contradictions("The Glide 5 Road Shoe (Men's) is $99.00.", [shoe], kit=KIT)
    assert [c.field for c in wrong] == ["price"]
    # one variant row's own export name names the product, so its sibling rows count too
    assert contradictions("The Glide 5 Road Shoe - Volt Lime comes in Storm Grey.", [GREY, LIME, NAVY], kit=KIT) == []
