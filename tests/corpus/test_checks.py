"""Brand checks on hand-made answers: approved names, deprecated aliases, generic labels, misspelt marks,
prices, disclaimers, and grounding (stated numbers vs the sources, product names vs the catalog), against the
sample (Fernhollow) and tiny (Quokka) kits.

    .venv/bin/python -m pytest tests/corpus/test_checks.py -q
"""

from __future__ import annotations

import pytest

from corpus import SAMPLE_BRAND_KIT, SAMPLE_CATALOG, load_brand_kit, load_catalog
from corpus.checks import (disclaimer_present, find_approved, find_deprecated, find_generic,
                           find_misspelt_trademarks, line_names, mentions_price, missing_disclaimers, prices_in,
                           required_disclaimers, ungrounded_numbers, unknown_products)
from corpus.schema import Product, Stock


@pytest.fixture(scope="module")
def kit():
    return load_brand_kit(SAMPLE_BRAND_KIT)


def product(pid: str, collection: str, category: str) -> Product:
    return Product(id=pid, name=pid, collection=collection, category=category, price=100.0)


DAYPACK = product("FH-TRL-001", "TrailForm", "Backpacks")
STOVE = product("FH-EMB-001", "Emberlite", "Camp Stoves")
FUEL = product("FH-EMB-013", "Emberlite", "Fuel")
HARNESS = product("FH-BLY-001", "Belay", "Harnesses")


def terms(mentions) -> list[tuple[str, str]]:
    return [(m.term, m.canonical) for m in mentions]


def ids(disclaimers) -> list[str]:
    return sorted(d.id for d in disclaimers)


# --- approved names --------------------------------------------------------------------------------------

def test_find_approved_prefers_the_longest_name_and_never_overlaps(kit):
    text = "The Emberlite Rapid Boil System 1.8 L is bigger than the emberlite rapid boil system."
    found = find_approved(text, kit)
    assert terms(found) == [("Emberlite Rapid Boil System 1.8 L", "Emberlite Rapid Boil System 1.8 L"),
                            ("emberlite rapid boil system", "Emberlite Rapid Boil System")]
    assert [m.start for m in found] == [4, text.index("emberlite")]


def test_find_approved_needs_whole_names(kit):
    assert find_approved("The TrailForm 28 Daypacks are here", kit) == []
    assert terms(find_approved("Ridgeline Storm Jacket (Men's), in stock", kit)) == [
        ("Ridgeline Storm Jacket (Men's)", "Ridgeline Storm Jacket (Men's)")]


# --- deprecated aliases ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("The Trekker 28 is in stock.", [("Trekker 28", "TrailForm 28 Daypack")]),
    ("the trekker 28 is in stock", [("trekker 28", "TrailForm 28 Daypack")]),  # case-insensitive
    ("Grab the Trekker 28-litre pack.", [("Trekker 28", "TrailForm 28 Daypack")]),  # a hyphen is a boundary
    ("The Trekker 28L is here.", [("Trekker 28L", "TrailForm 28 Daypack")]),  # the longer alias, once
    ("Stormbreaker Jacket W", [("Stormbreaker Jacket W", "Ridgeline Storm Jacket (Women's)")]),
    ("The Trekker 280 is not ours.", []),  # word boundary: a different number
    ("Trekker 28s", []),
    ("The TrailForm Summit 30 Pack is light.", []),  # alias inside its approved name
    ("The Summit 30 Pack is light.", [("Summit 30 Pack", "TrailForm Summit 30 Pack")]),
    ("The TrailForm 28 Daypack, formerly the Trekker 28, is in stock.", []),
    ("The TrailForm 28 Daypack (formerly known as the Trekker 28) is in stock.", []),
    ("It was previously Couloir Shell.", []),
])
def test_find_deprecated(kit, text, expected):
    assert terms(find_deprecated(text, kit)) == expected


def test_renamed_allowance_covers_only_the_renamed_mention(kit):
    text = "Formerly the Trekker 28; the Trekker 28 is now the TrailForm 28 Daypack."
    found = find_deprecated(text, kit)
    assert [(m.term, m.start) for m in found] == [("Trekker 28", text.rindex("Trekker 28"))]
    assert len(find_deprecated(text, kit, allow_renamed=False)) == 2


def test_alias_beside_its_approved_name_is_still_a_hit(kit):
    text = "Our TrailForm Summit 30 Pack (the Summit 30 Pack) is light."
    assert [(m.term, m.start) for m in find_deprecated(text, kit)] == [("Summit 30 Pack", text.rindex("Summit"))]


def test_tiny_kit_alias(tiny_kit):
    assert terms(find_deprecated("The blaze mini boils fast.", tiny_kit)) == [("blaze mini", "Quokka Blaze Mini Stove")]
    assert find_deprecated("The Quokka Blaze Mini Stove boils fast.", tiny_kit) == []


# --- generic labels --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("A good rain jacket for spring.", [("rain jacket", "Ridgeline")]),
    ("A good Rain Jacket for spring.", [("Rain Jacket", "Ridgeline")]),
    ("The Ridgeline rain jacket for spring.", []),  # the branded line appears with its capitals
    ("the ridgeline rain jacket for spring", [("rain jacket", "Ridgeline")]),  # lowercase does not excuse it
    ("A climbing harness with a belay loop.", [("climbing harness", "Belay")]),  # "belay loop" is not the line
    ("A Belay climbing harness.", []),
    ("A raincoat.", []),
])
def test_find_generic(kit, text, expected):
    assert terms(find_generic(text, kit)) == expected


def test_find_generic_in_the_tiny_kit(tiny_kit):
    assert terms(find_generic("Our hiking boots run small.", tiny_kit)) == [("hiking boots", "Quokka Feet")]
    assert find_generic("Quokka Feet hiking boots run small.", tiny_kit) == []


# --- trademarks ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("A Hydrolock membrane.", [("Hydrolock", "HydroLock")]),
    ("A HydroLock membrane.", []),
    ("A Hydro-Lock membrane and Embercore burner.", [("Hydro-Lock", "HydroLock"), ("Embercore", "EmberCore")]),
    ("A Hydrolock-lined shell.", [("Hydrolock", "HydroLock")]),
    ("A HydroLok shell.", [("HydroLok", "HydroLock")]),
])
def test_find_misspelt_trademarks_is_case_sensitive(kit, text, expected):
    assert terms(find_misspelt_trademarks(text, kit)) == expected


def test_tiny_kit_trademark(tiny_kit):
    assert terms(find_misspelt_trademarks("Glowcore LEDs", tiny_kit)) == [("Glowcore", "GlowCore")]
    assert find_misspelt_trademarks("GlowCore LEDs", tiny_kit) == []


# --- prices ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["It's $5.", "It costs 119.95 dollars.", "About 120 usd.", "USD 120 today.",
                                  "$1,299.00 on sale", "€49"])
def test_mentions_price(text):
    assert mentions_price(text)
    assert prices_in(text)


@pytest.mark.parametrize("text", ["Get size 10.", "It holds 28 L.", "It weighs 0.98 kg.", "Sleeps 4.",
                                  "Two dollars-worth of words", ""])
def test_does_not_mention_price(text):
    assert not mentions_price(text)
    assert prices_in(text) == []


# --- disclaimers -----------------------------------------------------------------------------------------

def test_price_disclaimer_only_when_the_answer_states_a_price(kit):
    assert ids(required_disclaimers(kit, "how much is it?", "The TrailForm 28 Daypack is $119.95.", [])) == ["price"]
    assert required_disclaimers(kit, "how much is it?", "I'll check the price for you.", []) == []


def test_category_and_collection_disclaimers_follow_the_products(kit):
    assert ids(required_disclaimers(kit, "q", "In stock.", [STOVE])) == ["stove_safety"]
    assert ids(required_disclaimers(kit, "q", "In stock.", [FUEL])) == ["fuel_shipping", "stove_safety"]
    assert ids(required_disclaimers(kit, "q", "In stock.", [HARNESS])) == ["climbing_safety"]
    assert required_disclaimers(kit, "q", "In stock.", [DAYPACK]) == []
    # the product list decides, not a name in the text
    assert required_disclaimers(kit, "q", "The Emberlite Flash Stove is in stock.", [DAYPACK]) == []


def test_keyword_disclaimer_from_question_or_answer(kit):
    assert ids(required_disclaimers(kit, "What size should I get?", "Go with the M.", [])) == ["sizing"]
    assert ids(required_disclaimers(kit, "Is it comfy?", "It runs small.", [])) == ["sizing"]
    assert required_disclaimers(kit, "Can I resize the straps?", "Yes.", []) == []  # word boundary


def test_a_keyword_inside_a_filled_spec_value_does_not_require_or_justify_a_note(kit):
    """The model cannot see what [[specs]] will hold: "size 196 x 66 cm" in a pad's specs is the record's
    wording, not sizing advice, so it neither requires the fit note nor makes one carried there needed."""
    from corpus.checks import unneeded_disclaimers

    sizing = next(d for d in kit.disclaimers if d.id == "sizing")
    answer = "The pad's specs: R-value 5.5; size 196 x 66 cm. It is in stock."
    value = answer.index("R-value"), answer.index(". It is")
    assert ids(required_disclaimers(kit, "warm enough?", answer, [])) == ["sizing"]  # plain text: required
    assert required_disclaimers(kit, "warm enough?", answer, [], [value]) == []
    noted = f"{answer}\n\n{sizing.text}"
    assert ids(unneeded_disclaimers(kit, "warm enough?", noted, [], [value])) == ["sizing"]
    assert unneeded_disclaimers(kit, "warm enough?", noted, []) == []
    # the question's own words still count
    assert ids(required_disclaimers(kit, "what size?", answer, [], [value])) == ["sizing"]


def test_disclaimer_present_ignores_whitespace_and_case(kit):
    price = next(d for d in kit.disclaimers if d.id == "price")
    body = "The TrailForm 28 Daypack is $119.95."
    assert [d.id for d in missing_disclaimers(kit, "q", body, [])] == ["price"]
    shouted = body + "\n\n" + "  ".join(price.text.upper().split(" ")).replace("CAN CHANGE;", "can\nchange;")
    assert disclaimer_present(price, shouted)
    assert missing_disclaimers(kit, "q", shouted, []) == []
    assert not disclaimer_present(price, body + " Prices and availability can change.")


def test_missing_disclaimers_lists_only_the_absent_ones(kit):
    stove, fuel = (next(d for d in kit.disclaimers if d.id == i) for i in ("stove_safety", "fuel_shipping"))
    answer = f"The Emberlite Isobutane Fuel 450 g is in stock.\n\n{stove.text}"
    assert [d.id for d in missing_disclaimers(kit, "q", answer, [FUEL])] == ["fuel_shipping"]
    assert missing_disclaimers(kit, "q", f"{answer}\n\n{fuel.text}", [FUEL]) == []


def test_tiny_kit_disclaimers(tiny_kit, tiny_catalog):
    stove = tiny_catalog.by_id()["QK-STV-01"]
    answer = "The Quokka Blaze Mini Stove is $59.50."
    assert ids(missing_disclaimers(tiny_kit, "price?", answer, [stove])) == ["price", "stove_safety"]
    full = answer + " prices can change;   check the product page. USE STOVES OUTDOORS ONLY."
    assert missing_disclaimers(tiny_kit, "price?", full, [stove]) == []


# --- grounding: numbers against the sources, product names against the catalog ---------------------------

SOURCES = ("<catalog>\nProduct: TrailForm 28 Daypack (id FH-TRL-001)\nPrice: $1,299.00\nCapacity: 28 L\n"
           "Weight: 0.98 kg\nTorso range: 40–53 cm\nFill: 800-fill\nSale: 59.50\n</catalog>")


@pytest.mark.parametrize("answer", [
    "It's $1299 and holds 28 litres.",  # thousands comma and cents folded; litres = L
    "It weighs 0.980 kg and costs 1,299.00 USD.",
    "For a 40-53 cm torso, with 800 fill down.",  # a range shares its unit; "800 fill" = "800-fill"
    "Now 59.5.",  # a bare number matches the value however it is written
])
def test_numbers_the_sources_state_are_grounded(kit, answer):
    assert ungrounded_numbers(answer, SOURCES, "", kit) == []


@pytest.mark.parametrize("answer, expected", [
    ("It's $119.95.", ["$119.95"]),  # invented price
    ("It holds 28 kg.", ["28 kg"]),  # the right number with the wrong unit
    ("It costs $28.", ["$28"]),  # the number is there, but not as a price
    ("About 1.2 kg, 20% off, 3 colours.", ["1.2 kg", "20%", "3"]),
    ("It's $12 and $12 again.", ["$12"]),  # once each
])
def test_numbers_the_sources_do_not_state_are_ungrounded(kit, answer, expected):
    assert ungrounded_numbers(answer, SOURCES, "", kit) == expected


def test_numbers_in_names_the_question_and_disclaimers_are_not_claims(kit):
    sizing = next(d for d in kit.disclaimers if d.id == "sizing")
    answer = ("The TrailForm 28 Daypack (formerly the Trekker 28) beats the TrailForm 36 Daypack; "
              f"the TrailForm 28 is under 50 bucks. {sizing.text}")
    assert ungrounded_numbers(answer, "", "is it under 50 bucks?", kit) == []
    assert ungrounded_numbers(answer, "", "is it cheap?", kit) == ["50 bucks"]  # the question decides
    assert ungrounded_numbers("Exchange within 60 days, or 60 weeks.", "", "", kit) == ["60 weeks"]  # policy's unit
    # without the kit, names and policy are not known: their numbers count
    assert "28" in ungrounded_numbers(answer, "", "is it under 50 bucks?", None)


def test_list_numbering_is_not_a_number_but_a_count_is(kit):
    assert ungrounded_numbers("1. Pack a layer\n2) Bring water", "", "", kit) == []
    assert ungrounded_numbers("Bring 2 layers.", "", "", kit) == ["2"]


def test_no_sources_means_every_stated_number_is_ungrounded(kit):
    assert ungrounded_numbers("The TrailForm 28 Daypack is $119.95 and holds 28 L.", "", "", kit) == ["$119.95", "28 L"]


@pytest.fixture(scope="module")
def catalog_names():
    return [p.name for p in load_catalog(SAMPLE_CATALOG).products]


def test_line_names_come_from_the_kit_and_shared_catalog_prefixes(kit, catalog_names, tiny_kit, tiny_catalog):
    lines = line_names(kit, catalog_names)
    assert {"TrailForm", "Ridgeline", "Summit Sole", "Emberlite", "Canopy", "Lumen", "Driftwood", "Belay"} <= set(lines)
    assert "Camp" not in lines  # one legacy name ("Camp Kitchen 2") is not a line
    assert set(line_names(tiny_kit, [p.name for p in tiny_catalog.products])) == {"Quokka", "Quokka Feet"}


@pytest.mark.parametrize("answer", [
    "The TrailForm 28 Daypack is great, and the TrailForm 28 is light.",  # a short form of a real name
    "The Ridgeline Storm Jacket (Men's), the Summit Sole Trail 300 (Men's) and the Trekker 28.",
    "TrailForm packs are great. Lumen lights too.",  # a line name alone is not a product name
    "Try the Lumen Summit 900. It is bright.",
    "",
])
def test_real_names_and_short_forms_are_known(kit, catalog_names, answer):
    assert unknown_products(answer, kit, catalog_names) == []


@pytest.mark.parametrize("answer, expected", [
    ("Try the TrailForm 30 Daypack.", ["TrailForm 30 Daypack"]),
    ("The Canopy Mega Tent, or the Lumen Ultra 5000!", ["Canopy Mega Tent", "Lumen Ultra 5000"]),
    ("the TrailForm 28 Ultralight", ["TrailForm 28 Ultralight"]),  # every token must be in one real name
    ("The Trekker 45 is new.", ["Trekker 45"]),  # a legacy family counts as a line
])
def test_invented_names_are_unknown(kit, catalog_names, answer, expected):
    assert unknown_products(answer, kit, catalog_names) == expected


def test_unknown_products_in_the_tiny_kit(tiny_kit, tiny_catalog):
    names = [p.name for p in tiny_catalog.products]
    assert unknown_products("The Quokka Dome 4 or the Quokka Blaze Mini.", tiny_kit, names) == []
    assert unknown_products("The Quokka Dome 6 Tent sleeps six.", tiny_kit, names) == ["Quokka Dome 6 Tent"]


# --- kit extensions: variants, an alias for several products, a mark kept inside an approved name ----------
# The same kit shape through every caller: the checks, lint (catalog, kit, dataset), the metrics, the badges,
# the contradiction check and the field filler.

LANTERN = "Quokka Glowcore Lantern"  # a real product name that keeps the mark's launch spelling
BOOT = "Quokka Wallaby Trail Boot"


@pytest.fixture(scope="module")
def ext_kit(tiny_kit):
    from corpus.brandkit import parse_brand_kit

    doc = {
        "brand": "Quokka Gear",
        "products": {**{k: v for k, v in tiny_kit.products.items() if k != "QK-BOT-01"}, "QK-LMP-02": LANTERN},
        "variants": {BOOT: ["QK-BOT-01-BRN", "QK-BOT-01-BLK"]},
        "deprecated_aliases": {**tiny_kit.deprecated_aliases, "Dome": ["Quokka Dome 2 Tent", "Quokka Dome 4 Tent"],
                               "Wallaby": BOOT},
        "generic_terms": [{"term": g.term, "use_instead": g.use_instead} for g in tiny_kit.generic_terms],
        "trademarks": [{"mark": "GlowCore", "misspellings": ["Glowcore", "Glow-Core"]}],
        "disclaimers": [{"id": d.id, "text": d.text, "when": {"mentions_price": True}} for d in tiny_kit.disclaimers[:1]],
        "formats": {"comparison": {"when": "two or more", "style": "markdown_table", "columns": ["Product", "Price"]}},
    }
    return parse_brand_kit(doc, "kit.yaml")


@pytest.fixture(scope="module")
def ext_products(tiny_catalog):
    boots = [Product(id="QK-BOT-01-BRN", name=f"{BOOT} - Brown", collection="Quokka Feet", category="Hiking Boots",
                     price=179.0, colors=("Brown",), sizes=("9", "10")),
             Product(id="QK-BOT-01-BLK", name=BOOT, collection="Quokka Feet", category="Hiking Boots", price=179.0,
                     colors=("Black",), sizes=("9", "10"), stock=Stock.OUT_OF_STOCK)]
    lantern = Product(id="QK-LMP-02", name=LANTERN, collection="Quokka Light", category="Lanterns", price=49.0,
                      specs={"output": "300 lm"}, description="A Glowcore lantern.")
    return [p for p in tiny_catalog.products if p.id != "QK-BOT-01"] + boots + [lantern]


@pytest.mark.parametrize("text, expected", [
    (f"The {LANTERN} is bright.", []),  # the approved name is the truth
    ("The Glowcore Lantern is bright.", []),  # a short form: the mark with the name's next word
    ("Our Quokka Glowcore is bright.", []),  # ... or with the word before it
    ("It has a Glowcore bulb.", [("Glowcore", "GlowCore")]),  # elsewhere it is still misspelt
    (f"The {LANTERN} has a Glow-Core bulb.", [("Glow-Core", "GlowCore")]),
    ("The Glowcore lantern.", [("Glowcore", "GlowCore")]),  # short forms are case-sensitive, as names are
])
def test_mark_inside_an_approved_name_is_not_misspelt(ext_kit, text, expected):
    assert terms(find_misspelt_trademarks(text, ext_kit)) == expected


def test_shared_alias_is_deprecated_and_names_every_product(ext_kit):
    assert terms(find_deprecated("Is the Dome in stock?", ext_kit)) == [
        ("Dome", "Quokka Dome 2 Tent or Quokka Dome 4 Tent")]
    assert find_deprecated("The Quokka Dome 4 Tent, formerly the Dome.", ext_kit) == []  # inside a name; renamed
    assert terms(find_deprecated("the wallaby", ext_kit)) == [("wallaby", BOOT)]


def test_variants_are_one_name_to_the_checks(ext_kit, ext_products):
    names = [p.name for p in ext_products]
    assert terms(find_approved(f"The {BOOT} in brown.", ext_kit)) == [(BOOT, BOOT)]
    assert unknown_products(f"The {BOOT} and the Quokka Glowcore Lantern.", ext_kit, names) == []
    assert unknown_products("The Quokka Wallaby Road Boot.", ext_kit, names) == ["Quokka Wallaby Road Boot"]


def test_lint_accepts_the_extensions_and_keeps_the_mark_rule(ext_kit, ext_products):
    from corpus.schema import Catalog
    from tuning.lint import lint_catalog, lint_dataset, lint_kit

    catalog = Catalog(products=tuple(ext_products), source="cat.jsonl", fmt="jsonl")
    assert [f for f in lint_kit(ext_kit, catalog) if f.severity == "error"] == []  # variants are not duplicates
    misspelt = [f for f in lint_catalog(catalog, ext_kit) if f.code == "catalog.misspelt-trademark"]
    assert [f.location for f in misspelt] == ["cat.jsonl: QK-LMP-02.description"]  # never its name
    by_id = {p.id: p for p in ext_products}

    def row(target: str) -> dict:
        return {"id": "ex-1", "question": "how bright is it", "product_ids": ["QK-LMP-02"],
                "messages": [{"role": "user", "content": "how bright is it"}, {"role": "assistant", "content": target}]}

    assert lint_dataset([row(f"The {LANTERN} gives 300 lm.")], ext_kit, by_id) == []
    codes = [f.code for f in lint_dataset([row("The Glowcore bulb gives 300 lm. Ask for the Dome.")], ext_kit, by_id)]
    assert codes == ["dataset.deprecated-alias", "dataset.misspelt-trademark"]


def test_metrics_count_the_mark_inside_an_approved_name_as_right(ext_kit, ext_products):
    from corpus.schema import Catalog
    from evaluation.metrics import Case, score_answer

    catalog = Catalog(products=tuple(ext_products), source="cat.jsonl", fmt="jsonl")
    case = Case("c1", "how bright is the glowcore lantern", "spec", product_ids=("QK-LMP-02",),
                approved_names=(LANTERN,), must_not_use=("Dome",), asks=("spec:output",))
    sources = f"Product: {LANTERN}\nOutput: 300 lm"

    def score(answer: str):
        return score_answer(case, answer, sources_text=sources, retrieved_ids=["QK-LMP-02"], kit=ext_kit,
                            catalog=catalog, k=3)

    right = score(f"The {LANTERN} gives 300 lm.")
    assert (right.trademark_ok, right.misspelt_trademarks, right.approved_mentions) == (True, (), 1)
    wrong = score(f"The {LANTERN} has a Glowcore bulb; the Dome is brighter.")
    assert (wrong.trademark_ok, wrong.misspelt_trademarks) == (False, ("Glowcore",))
    assert wrong.deprecated_terms == ("Dome",)


def test_badges_never_call_an_approved_name_misspelt(ext_kit, ext_products):
    from onbrand.guardrails import badges, marks

    names = [p.name for p in ext_products]
    lantern = ext_products[-1]
    ok = badges("how bright", f"The {LANTERN} gives 300 lm.", [lantern], "Output: 300 lm", ext_kit, names)
    assert [b.kind for b in ok] == []
    bad = badges("how bright", "The Glowcore bulb gives 300 lm. Or the Dome.", [lantern], "Output: 300 lm",
                 ext_kit, names)
    assert [b.kind for b in bad] == ["deprecated", "trademark"]
    assert "Dome → Quokka Dome 2 Tent or Quokka Dome 4 Tent" in bad[0].detail
    assert [(m.kind, m.canonical) for m in marks(f"The {LANTERN}, not the Glowcore.", ext_kit)] == [
        ("approved", LANTERN), ("trademark", "GlowCore")]


def test_claims_read_a_variant_name_and_a_shared_alias_as_each_product(ext_kit, ext_products):
    from corpus.claims import contradictions

    by_id = {p.id: p for p in ext_products}
    # a name the variants share: a claim true of one of them is no contradiction; false of both is
    assert contradictions(f"The {BOOT} comes in Brown and Black.", ext_products, kit=ext_kit) == []
    assert contradictions(f"The {BOOT} is out of stock.", ext_products, kit=ext_kit) == []
    found = contradictions(f"The {BOOT} costs $99.", ext_products, kit=ext_kit)
    assert [(c.field, c.product) for c in found] == [("price", BOOT)]
    # a shared alias is a mention of every product it stood for, like a variant name
    tents = [by_id["QK-TNT-01"], by_id["QK-TNT-02"]]
    assert contradictions(f"The Dome costs ${tents[1].price:.2f}.", ext_products, kit=ext_kit) == []
    assert [c.field for c in contradictions("The Dome costs $5.", ext_products, kit=ext_kit)] == ["price"]


def test_field_filler_fills_from_the_retrieved_variant_and_shared_alias(ext_kit, ext_products):
    from rag.fields import fill_text

    by_id = {p.id: p for p in ext_products}
    text, fills = fill_text(f"The {BOOT} is [[stock]].", [by_id["QK-BOT-01-BLK"]], ext_products, ext_kit)
    assert text == f"The {BOOT} is out of stock." and fills[0].product_id == "QK-BOT-01-BLK"
    text, fills = fill_text("The Dome is [[price]].", [by_id["QK-TNT-02"]], ext_products, ext_kit)
    assert fills[0].product_id == "QK-TNT-02" and fills[0].filled


def test_a_name_siblings_share_without_its_qualifier_is_an_incomplete_name():
    from corpus.checks import find_incomplete_names

    kit = load_brand_kit(SAMPLE_BRAND_KIT)
    [m] = find_incomplete_names("The Ridgeline Storm Jacket is out of stock.", kit)
    assert (m.term, m.start) == ("Ridgeline Storm Jacket", 4)
    assert set(m.canonical.split(" or ")) == {"Ridgeline Storm Jacket (Men's)", "Ridgeline Storm Jacket (Women's)"}
    assert [x.term for x in find_incomplete_names("The Summit Sole Highpass Boot Men's fits true.", kit)] == [
        "Summit Sole Highpass Boot"]  # the qualifier in other words is not the approved name either
    # the approved names themselves, and a name no sibling shares, are not incomplete
    assert find_incomplete_names("The Ridgeline Storm Jacket (Men's) and the Ridgeline Storm Jacket (Women's).",
                                 kit) == []
    assert find_incomplete_names("The TrailForm Expedition 80 is $349.00.", kit) == []
