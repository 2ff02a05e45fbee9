"""Brand kit loading and validation: the sample and tiny kits load, broken kits name every problem.

    .venv/bin/python -m pytest tests/corpus/test_brandkit.py
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from corpus import SAMPLE_BRAND_KIT, SAMPLE_CATALOG
from corpus.brandkit import Disclaimer, FormatRule, GenericTerm, Trademark, load_brand_kit
from corpus.errors import BrandKitError
from corpus.ingest import load_catalog

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY_KIT = FIXTURES / "tiny_brand_kit.yaml"
TINY_CATALOG = FIXTURES / "tiny_catalog.jsonl"


def tiny_doc() -> dict:
    return yaml.safe_load(TINY_KIT.read_text(encoding="utf-8"))


def write_kit(tmp_path: Path, doc: dict | str) -> Path:
    path = tmp_path / "kit.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def kit_problems(path: Path) -> list[tuple]:
    with pytest.raises(BrandKitError) as e:
        load_brand_kit(path)
    return [(p.line, p.field, p.value, p.rule) for p in e.value.problems]


def test_sample_kit_names_every_catalog_product():
    kit = load_brand_kit(SAMPLE_BRAND_KIT)
    catalog = load_catalog(SAMPLE_CATALOG)
    assert kit.brand == "Fernhollow Outfitters" and kit.version == 1
    missing = sorted(set(catalog.by_id()) - set(kit.products))
    assert missing == []
    assert len(set(kit.products.values())) == len(kit.products)  # approved names are unique
    assert set(kit.deprecated_aliases.values()) <= set(kit.products.values())
    assert kit.deprecated_aliases["Trekker 28"] == "TrailForm 28 Daypack"
    assert kit.approved_name("FH-TRL-001") == "TrailForm 28 Daypack"
    assert {d.id for d in kit.disclaimers} >= {"price", "stove_safety", "climbing_safety", "sizing"}
    assert kit.sha256 == hashlib.sha256(SAMPLE_BRAND_KIT.read_bytes()).hexdigest()


def test_tiny_kit_loads_every_section():
    kit = load_brand_kit(TINY_KIT)
    assert kit.brand == "Quokka Gear" and kit.source == str(TINY_KIT)
    assert set(kit.products) == set(load_catalog(TINY_CATALOG).by_id())
    assert kit.products["QK-STV-01"] == "Quokka Blaze Mini Stove"
    assert kit.deprecated_aliases == {"Sparky": "Quokka Blaze Mini Stove", "Blaze Mini": "Quokka Blaze Mini Stove"}
    assert kit.generic_terms == (GenericTerm("hiking boots", "Quokka Feet"),)
    assert kit.trademarks == (Trademark("GlowCore", ("Glowcore", "Glow-Core")),)
    assert kit.disclaimers == (
        Disclaimer("price", "Prices can change; check the product page.", mentions_price=True),
        Disclaimer("stove_safety", "Use stoves outdoors only.", categories=("Camp Stoves",)))
    assert kit.tone == ("Friendly and brief.",)
    assert kit.formats == (FormatRule("comparison", "two or more products compared", "markdown_table",
                                      ("Product", "Price")),)
    assert kit.approved_name("nope", fallback="Tent") == "Tent"


def test_rules_text_mentions_aliases_and_disclaimers():
    text = load_brand_kit(TINY_KIT).rules_text()
    assert text.startswith("You answer for Quokka Gear.")
    assert "say 'Quokka Blaze Mini Stove' not 'Sparky'" in text
    assert "'Quokka Feet' not 'hiking boots'" in text
    assert "GlowCore" in text
    assert 'When you state a price, add: "Prices can change; check the product page."' in text
    assert 'When the answer concerns Camp Stoves, add: "Use stoves outdoors only."' in text
    assert "use markdown table with columns Product, Price." in text
    sample = load_brand_kit(SAMPLE_BRAND_KIT).rules_text()
    assert "say 'TrailForm 28 Daypack' not 'Trekker 28'" in sample
    assert all(d.text in sample for d in load_brand_kit(SAMPLE_BRAND_KIT).disclaimers)


def test_alias_must_point_to_an_approved_name(tmp_path):
    doc = tiny_doc()
    doc["deprecated_aliases"]["Sparky"] = "Blaze Mini Stove"
    assert kit_problems(write_kit(tmp_path, doc)) == [
        (None, "deprecated_aliases.Sparky", "Blaze Mini Stove", "must map to an approved product name")]


def test_two_products_cannot_share_an_approved_name_outside_variants(tmp_path):
    doc = tiny_doc()
    doc["products"]["QK-TNT-02"] = "Quokka Dome 2 Tent"
    assert kit_problems(write_kit(tmp_path, doc)) == [
        (None, "products.QK-TNT-02", "Quokka Dome 2 Tent", "approved name already used by QK-TNT-01; list the ids "
                                                           "sold as variants of one product under 'variants'")]


# --- variants: one approved name for several ids (colours or sizes sold as separate SKUs) -------------------

def variants_doc() -> dict:
    doc = tiny_doc()
    del doc["products"]["QK-BOT-01"]
    doc["variants"] = {"Quokka Wallaby Trail Boot": ["QK-BOT-01-BRN", "QK-BOT-01-BLK", "QK-BOT-01-W"]}
    doc["deprecated_aliases"]["Wallaby"] = "Quokka Wallaby Trail Boot"
    return doc


def test_variants_share_one_approved_name(tmp_path):
    kit = load_brand_kit(write_kit(tmp_path, variants_doc()))
    boot = "Quokka Wallaby Trail Boot"
    assert [kit.approved_name(i) for i in ("QK-BOT-01-BRN", "QK-BOT-01-BLK", "QK-BOT-01-W")] == [boot] * 3
    assert kit.product_ids(boot) == ["QK-BOT-01-BRN", "QK-BOT-01-BLK", "QK-BOT-01-W"]
    assert kit.product_ids("Quokka Dome 2 Tent") == ["QK-TNT-01"] and kit.product_ids("nope") == []
    assert len(kit.products) == 7 and "QK-BOT-01" not in kit.products
    assert kit.deprecated_aliases["Wallaby"] == boot and kit.aliases_for(boot) == ["Wallaby"]


def test_a_kit_may_have_only_variants(tmp_path):
    kit = load_brand_kit(write_kit(tmp_path, {"brand": "Q", "variants": {"Dome": ["A", "B"]}}))
    assert kit.products == {"A": "Dome", "B": "Dome"}


@pytest.mark.parametrize("variants, field, value, rule", [
    ({"Quokka Wallaby Trail Boot": ["QK-TNT-01"]}, "variants.Quokka Wallaby Trail Boot", "QK-TNT-01",
     "product id is also listed under products (as 'Quokka Dome 2 Tent'); list it once"),
    ({"Quokka Wallaby Trail Boot": ["B-1", "B-2"], "Quokka Wallaby Boot": ["B-2"]}, "variants.Quokka Wallaby Boot",
     "B-2", "product id is already listed under variants.Quokka Wallaby Trail Boot"),
    ({"Quokka Wallaby Trail Boot": []}, "variants.Quokka Wallaby Trail Boot", "[]",
     "must be a non-empty list of the product ids sold under this name"),
    ({"Quokka Wallaby Trail Boot": "B-1"}, "variants.Quokka Wallaby Trail Boot", "B-1",
     "must be a non-empty list of the product ids sold under this name"),
    ({"Quokka Wallaby Trail Boot": ["B-1", ""]}, "variants.Quokka Wallaby Trail Boot", "['B-1', '']",
     "must be a non-empty list of the product ids sold under this name"),
])
def test_bad_variant_groups_name_the_field(tmp_path, variants, field, value, rule):
    doc = variants_doc()
    doc["variants"] = variants
    problems = kit_problems(write_kit(tmp_path, doc))
    assert (None, field, value, rule) in problems, problems


def test_a_variant_name_cannot_also_be_a_products_name(tmp_path):
    doc = variants_doc()
    doc["products"]["QK-BOT-02"] = "Quokka Wallaby Trail Boot"
    assert kit_problems(write_kit(tmp_path, doc)) == [
        (None, "products.QK-BOT-02", "Quokka Wallaby Trail Boot", "approved name already used by variants.Quokka "
         "Wallaby Trail Boot; list the ids sold as variants of one product under 'variants'")]


def test_variants_must_be_a_mapping(tmp_path):
    doc = variants_doc()
    doc["variants"] = ["QK-BOT-01-BRN"]
    assert "variants" in [p[1] for p in kit_problems(write_kit(tmp_path, doc))]


# --- an alias that stood for several products -------------------------------------------------------------

def test_an_alias_may_name_several_products(tmp_path):
    doc = tiny_doc()
    doc["deprecated_aliases"]["Dome"] = ["Quokka Dome 2 Tent", "Quokka Dome 4 Tent"]
    doc["deprecated_aliases"]["Glowy"] = ["Quokka Glowworm 200 Headlamp"]  # a one-name list is a plain alias
    kit = load_brand_kit(write_kit(tmp_path, doc))
    assert kit.shared_aliases == {"Dome": ("Quokka Dome 2 Tent", "Quokka Dome 4 Tent")}
    assert kit.deprecated_aliases == {"Sparky": "Quokka Blaze Mini Stove", "Blaze Mini": "Quokka Blaze Mini Stove",
                                      "Glowy": "Quokka Glowworm 200 Headlamp"}  # single-product aliases only
    assert kit.alias_targets() == {"Sparky": ("Quokka Blaze Mini Stove",), "Blaze Mini": ("Quokka Blaze Mini Stove",),
                                   "Glowy": ("Quokka Glowworm 200 Headlamp",),
                                   "Dome": ("Quokka Dome 2 Tent", "Quokka Dome 4 Tent")}
    assert kit.aliases_for("Quokka Dome 4 Tent") == ["Dome"]
    assert kit.aliases_for("Quokka Blaze Mini Stove") == ["Sparky", "Blaze Mini"]
    text = kit.rules_text()
    assert "'Dome' ('Quokka Dome 2 Tent' or 'Quokka Dome 4 Tent')" in text
    assert "say 'Quokka Blaze Mini Stove' not 'Sparky'" in text


def test_an_alias_may_name_variants(tmp_path):
    doc = variants_doc()
    doc["deprecated_aliases"]["Trail Pair"] = ["Quokka Wallaby Trail Boot", "Quokka Dome 2 Tent"]
    kit = load_brand_kit(write_kit(tmp_path, doc))
    assert kit.aliases_for("Quokka Wallaby Trail Boot") == ["Wallaby", "Trail Pair"]


@pytest.mark.parametrize("value, bad_value, rule", [
    (["Quokka Dome 2 Tent", "Quokka Dome 3 Tent"], "Quokka Dome 3 Tent", "must map to an approved product name"),
    (["Quokka Dome 2 Tent", "Quokka Dome 2 Tent"], "['Quokka Dome 2 Tent', 'Quokka Dome 2 Tent']",
     "lists an approved name twice"),
    ([], "[]", "keys and values must be non-empty strings with visible characters (a value may be a list of the "
               "approved names an old name stood for)"),
    (["Quokka Dome 2 Tent", 4], "['Quokka Dome 2 Tent', 4]", "keys and values must be non-empty strings with "
     "visible characters (a value may be a list of the approved names an old name stood for)"),
])
def test_bad_shared_alias_names_the_field(tmp_path, value, bad_value, rule):
    doc = tiny_doc()
    doc["deprecated_aliases"]["Dome"] = value
    assert kit_problems(write_kit(tmp_path, doc)) == [(None, "deprecated_aliases.Dome", bad_value, rule)]


def test_shared_alias_cannot_be_an_approved_name(tmp_path):
    doc = tiny_doc()
    doc["deprecated_aliases"]["Quokka Dome 2 Tent"] = ["Quokka Dome 2 Tent", "Quokka Dome 4 Tent"]
    assert kit_problems(write_kit(tmp_path, doc)) == [
        (None, "deprecated_aliases.Quokka Dome 2 Tent", "Quokka Dome 2 Tent",
         "an alias cannot also be an approved name")]


def test_committed_kits_have_no_shared_aliases_and_unique_names():
    """The sample keeps its shape, so the shipped adapter's kit hash and behaviour are unchanged."""
    kit = load_brand_kit(SAMPLE_BRAND_KIT)
    assert kit.shared_aliases == {}
    assert kit.alias_targets() == {a: (n,) for a, n in kit.deprecated_aliases.items()}


def test_alias_cannot_be_an_approved_name(tmp_path):
    doc = tiny_doc()
    doc["deprecated_aliases"]["Quokka Dome 2 Tent"] = "Quokka Dome 4 Tent"
    assert kit_problems(write_kit(tmp_path, doc)) == [
        (None, "deprecated_aliases.Quokka Dome 2 Tent", "Quokka Dome 2 Tent",
         "an alias cannot also be an approved name")]


def test_bad_yaml_names_the_line(tmp_path):
    text = "brand: Quokka Gear\nproducts:\n  QK-1: Dome\ntone:\n  - Friendly.\n   bad: indent\n"
    [(line, field, value, rule)] = kit_problems(write_kit(tmp_path, text))
    assert (line, field) == (6, None)
    assert rule.startswith("not valid YAML:")


def test_disclaimer_without_when_names_the_field(tmp_path):
    doc = tiny_doc()
    del doc["disclaimers"][1]["when"]
    [(line, field, value, rule)] = kit_problems(write_kit(tmp_path, doc))
    assert field == "disclaimers[1].when"
    assert rule == "must be a mapping using ['categories', 'collections', 'keywords', 'mentions_price']"


def test_disclaimer_with_unknown_condition_refused(tmp_path):
    doc = tiny_doc()
    doc["disclaimers"][0]["when"] = {"mentions_prices": True}
    assert [p[1] for p in kit_problems(write_kit(tmp_path, doc))] == ["disclaimers[0].when"]


def test_every_problem_reported_at_once(tmp_path):
    doc = tiny_doc()
    doc["version"] = "one"
    doc["deprecated_aliases"]["Sparky"] = "Nope"
    doc["generic_terms"].append({"term": "tent"})
    doc["trademarks"][0]["misspellings"] = "Glowcore"
    doc["disclaimers"].append({"id": "x"})
    doc["formats"]["list"] = {"style": "bullets"}
    fields = [p[1] for p in kit_problems(write_kit(tmp_path, doc))]
    assert fields == ["version", "deprecated_aliases.Sparky", "generic_terms[1]", "trademarks[0].misspellings",
                      "disclaimers[2]", "formats.list"]


@pytest.mark.parametrize("doc, field", [
    ({"products": {"A": "Alpha"}}, "brand"),
    ({"brand": "X"}, "products"),
    ({"brand": "X", "products": ["Alpha"]}, "products"),
    ({"brand": "X", "products": {"A": ""}}, "products.A"),
    ({"brand": "X", "products": {"A": "Alpha"}, "formats": ["table"]}, "formats"),
    ({"brand": "X", "products": {"A": "Alpha"}, "disclaimers": {"id": "p"}}, "disclaimers"),
])
def test_missing_or_mistyped_sections(tmp_path, doc, field):
    assert field in [p[1] for p in kit_problems(write_kit(tmp_path, doc))]


def test_kit_must_be_a_mapping_and_utf8(tmp_path):
    assert kit_problems(write_kit(tmp_path, "- a\n- b\n")) == [(None, None, None, "brand kit must be a YAML mapping")]
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"brand: Caf\xe9\n")
    assert kit_problems(path) == [(None, None, None, "not valid UTF-8 at byte offset 10")]


def test_format_columns_must_be_a_list(tmp_path):
    doc = tiny_doc()
    doc["formats"]["comparison"]["columns"] = "Product, Price"
    assert [p[1] for p in kit_problems(write_kit(tmp_path, doc))] == ["formats.comparison.columns"]


# --- the CLI bad-input probe (issue 17): each case failed before its fix -------------------------------

@pytest.mark.parametrize("typo, meant", [("deprecated_alias", "deprecated_aliases"), ("disclaimer", "disclaimers"),
                                         ("Tone", "tone"), ("trademark", "trademarks")])
def test_misspelt_section_is_an_error_with_a_suggestion(tmp_path, typo, meant):
    doc = tiny_doc()
    doc[typo] = doc.pop(meant)
    problems = kit_problems(write_kit(tmp_path, doc))
    assert problems[0] == (None, typo, None, f"unknown section; did you mean '{meant}'?")


def test_unknown_section_without_a_close_match_lists_the_sections(tmp_path):
    [(_, field, _, rule)] = kit_problems(write_kit(tmp_path, {**tiny_doc(), "colour_scheme": {"a": "b"}}))
    assert field == "colour_scheme"
    assert rule == ("unknown section; known sections: brand, version, products, variants, deprecated_aliases, "
                    "generic_terms, trademarks, disclaimers, tone, formats, competitors, occasions, not_carried")


def test_non_string_tone_items_are_errors(tmp_path):
    doc = {**tiny_doc(), "tone": [1, "Friendly and brief.", {"be": "nice"}, None]}
    assert kit_problems(write_kit(tmp_path, doc)) == [
        (None, "tone[0]", "1", "must be a string"), (None, "tone[2]", "{'be': 'nice'}", "must be a string"),
        (None, "tone[3]", None, "must be a string")]


def test_kit_size_is_bounded_while_reading(tmp_path):
    from corpus.schema import Limits

    path = write_kit(tmp_path, tiny_doc())
    size = path.stat().st_size
    with pytest.raises(BrandKitError) as e:
        load_brand_kit(path, limits=Limits(max_kit_bytes=size - 1))
    [p] = e.value.problems
    assert (p.file, p.value, p.rule) == (str(path), f"{size} bytes", f"file too large: limit is {size - 1} bytes")
    assert load_brand_kit(path, limits=Limits(max_kit_bytes=size)).brand == "Quokka Gear"


def alias_bomb(levels: int = 7, width: int = 9) -> str:
    """The billion-laughs shape: each level lists the previous one `width` times (width**levels strings)."""
    lines = ["brand: Quokka Gear", "products: {QK-1: Dome}", 'l0: &l0 ["lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    lines.append(f"tone: *l{levels - 1}")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_before_it_expands(tmp_path):
    """9**7 entries cost 1.6 GB and 9 s (and a MemoryError beyond); now the composed node graph is measured
    before anything is built from it. tracemalloc bounds the memory the refusal took."""
    import tracemalloc

    path = write_kit(tmp_path, alias_bomb())
    tracemalloc.start()
    try:
        problems = kit_problems(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(problems) == 1
    assert problems[0][3].startswith("YAML aliases expand to more than 100000 nodes")
    assert peak < 20 * 2**20


def test_a_few_aliases_are_still_fine(tmp_path):
    text = ("brand: Quokka Gear\nproducts: {QK-1: Dome}\n"
            "disclaimers:\n  - {id: a, text: A, when: &w {keywords: [stove, fuel]}}\n  - {id: b, text: B, when: *w}\n")
    kit = load_brand_kit(write_kit(tmp_path, text))
    assert [d.keywords for d in kit.disclaimers] == [("stove", "fuel"), ("stove", "fuel")]


def test_recursive_alias_and_deep_nesting_are_kit_errors(tmp_path):
    [(_, _, _, rule)] = kit_problems(write_kit(tmp_path, "brand: X\nproducts: {A: B}\ntone: &t [*t]\n"))
    assert "refers to itself" in rule
    [(_, _, _, rule)] = kit_problems(write_kit(tmp_path, "brand: X\ntone: " + "[" * 50_000 + "]" * 50_000 + "\n"))
    assert "nested too deeply" in rule


def test_invisible_approved_name_refused(tmp_path):
    doc = tiny_doc()
    doc["products"]["QK-TNT-02"] = "\u200b\u202e"
    assert [p[1] for p in kit_problems(write_kit(tmp_path, doc))] == ["products.QK-TNT-02"]


def test_committed_kits_load_unchanged():
    second = FIXTURES / "second_merchant" / "brand_kit.yaml"
    kitewell = Path(__file__).resolve().parents[2] / "corpus" / "kitewell" / "brand_kit.yaml"
    for path, products in ((SAMPLE_BRAND_KIT, 165), (TINY_KIT, 5), (second, None), (kitewell, None)):
        kit = load_brand_kit(path)
        assert kit.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert products is None or len(kit.products) == products
        assert kit.tone and kit.disclaimers and kit.formats


def test_builder_lists_are_optional_strings_and_load(tmp_path):
    """competitors, occasions and not_carried: optional lists of strings for the dataset builder."""
    kit = load_brand_kit(write_kit(tmp_path, {**tiny_doc(), "competitors": ["Stridemark"],
                                              "occasions": ["for my morning 5k"], "not_carried": ["kayaks"]}))
    assert (kit.competitors, kit.occasions, kit.not_carried) == (("Stridemark",), ("for my morning 5k",), ("kayaks",))
    assert load_brand_kit(write_kit(tmp_path, tiny_doc())).competitors == ()
    problems = kit_problems(write_kit(tmp_path, {**tiny_doc(), "occasions": ["ok", 3, "  "]}))
    assert [(f, r) for _, f, _, r in problems] == [("occasions[1]", "must be a string"),
                                                    ("occasions[2]", "must not be empty")]
