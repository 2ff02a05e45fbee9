"""Brand checks on hand-made answers: approved names, deprecated aliases, generic labels, misspelt marks,
prices and disclaimers, against the sample (Fernhollow) and tiny (Quokka) kits.

    .venv/bin/python -m pytest tests/corpus/test_checks.py -q
"""

from __future__ import annotations

import pytest

from corpus import SAMPLE_BRAND_KIT, load_brand_kit
from corpus.checks import (disclaimer_present, find_approved, find_deprecated, find_generic,
                           find_misspelt_trademarks, mentions_price, missing_disclaimers, prices_in,
                           required_disclaimers)
from corpus.schema import Product


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
