"""The limits a shopper's question sets on a recommendation, and the products an answer names that break them
(corpus/limits.py), on the sample catalog."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from corpus import SAMPLE_BRAND_KIT, SAMPLE_CATALOG, load_brand_kit, load_catalog
from corpus.limits import Limit, Order, misfits, names_a_product, request_limits, request_order


@pytest.fixture(scope="module")
def sample():
    return load_brand_kit(SAMPLE_BRAND_KIT), load_catalog(SAMPLE_CATALOG)


@pytest.mark.parametrize("question, limits", [
    ("gift for my dad he likes hiking, budget ~100?", [("price", "125.00", "budget ~100")]),
    ("a budget of $80 for a headlamp", [("price", "88.00", "budget of $80")]),
    ("any stove under $60?", [("price", "60", "under $60")]),
    ("rain jacket for less than 200 bucks", [("price", "200", "less than 200 bucks")]),
    ("something up to about $150", [("price", "187.50", "up to about $150")]),
    ("climbing helmet thats super light, under 250 g?", [("mass", "250", "under 250 g")]),
    ("best 2 person backpacking tent under 1 kilo?", [("mass", "1000", "under 1 kilo"), ("people", "2", "2 person")]),
    ("a two-person tent lighter than 2 lb", [("mass", "907.18474", "lighter than 2 lb"),
                                             ("people", "2", "two-person")]),
    ("a tent that sleeps three for under $400", [("price", "400", "under $400"), ("people", "3", "sleeps three")]),
    ("does the pack hold 45 L?", []),  # a number, but no limit on a recommendation
    ("cheap rain jacket for my kid", []),  # "cheap" is no order: the cheapest is
])
def test_request_limits(question, limits):
    assert [(x.kind, str(x.bound), x.said) for x in request_limits(question)] == limits


@pytest.mark.parametrize("question, order", [
    ("what's the lightest tent you have?", Order("mass", True, "lightest")),
    ("whats the cheapest tent you have", Order("price", True, "cheapest")),
    ("which headlamp is least expensive", Order("price", True, "least expensive")),
    ("your lowest-priced sleeping pad?", Order("price", True, "lowest-priced")),
    ("most affordable 4 person tent", Order("price", True, "most affordable")),
    ("what's your priciest tent", Order("price", False, "priciest")),
    ("the most expensive sleeping bag you sell", Order("price", False, "most expensive")),
    ("which is the heaviest pack?", Order("mass", False, "heaviest")),
    ("cheapest womens rain jacket", Order("price", True, "cheapest", "women")),
    ("lightest mens hiking boot", Order("mass", True, "lightest", "men")),
    ("cheapest sleeping bag for a child, the lightest one", Order("price", True, "cheapest", "kid")),
    ("a 2 man tent, cheapest", Order("price", True, "cheapest")),  # "man" counts people, not an audience
    ("cheap rain jacket", None),
    ("brightest headlamp u sell, how many lumens", Order("light", False, "brightest")),
    ("warmest sleeping bag you carry", Order("warmth", True, "warmest")),
    ("roomiest tent for a family", Order("size", False, "roomiest")),
    ("largest backpack you sell", Order("size", False, "largest")),
])
def test_request_order(question, order):
    assert request_order(question) == order
    assert [x for x in request_limits(question) if isinstance(x, Order)] == ([order] if order else [])


def test_an_order_is_broken_by_the_first_named_product_when_its_category_has_a_better_one(sample):
    kit, catalog = sample
    cheapest = request_limits("whats the cheapest tent you have")
    # Canopy Trail 2 Tent (FH-CNP-008) is the catalog's cheapest tent at $149.99
    assert misfits("The Canopy Basecamp 6 Tent is $424.95.", cheapest, catalog.products, kit) == [
        "Canopy Basecamp 6 Tent (FH-CNP-010): $424.95, against 'cheapest': the Canopy Trail 2 Tent is $149.99"]
    assert misfits("The Canopy Trail 2 Tent is $149.99.", cheapest, catalog.products, kit) == []
    # later names are alternatives: the cheapest first, then a dearer one, is fine
    both = "The Canopy Trail 2 Tent is $149.99. The Canopy Hollow 2 Tent is $199.95."
    assert misfits(both, cheapest, catalog.products, kit) == []
    # other limits narrow the field: the cheapest tent for 4 is the Canopy Hollow 4 Tent ($279.00)
    for4 = request_limits("cheapest 4 person tent")
    assert misfits("The Canopy Hollow 4 Tent is $279.00.", for4, catalog.products, kit) == []
    assert misfits("The Canopy Trail 2 Tent is $149.99.", for4, catalog.products, kit) == [
        "Canopy Trail 2 Tent (FH-CNP-008): 2 people, against '4 person'",
        "Canopy Trail 2 Tent (FH-CNP-008): $149.99, against 'cheapest': the Canopy Hollow 4 Tent is $279.00"]
    # the lightest: by the record's trail weight, else its weight (the Spirit Burner, 34 g, among the stoves)
    lightest = request_limits("lightest stove?")
    assert misfits("The Emberlite Pocket Alcohol Stove weighs 34 g.", lightest, catalog.products, kit) == []
    assert misfits("The Emberlite Flash Ti Stove weighs 56 g.", lightest, catalog.products, kit) == [
        "Emberlite Flash Ti Stove (FH-EMB-002): 56 g, against 'lightest': the Emberlite Pocket Alcohol Stove is 34 g"]


def test_an_order_for_an_audience_is_judged_among_its_products(sample):
    kit, catalog = sample
    # the kids' rain jacket is the cheapest rain jacket, but a question that does not ask for kids is not
    # answered with it; one that does is
    adult = request_limits("cheapest rain jacket?")
    assert misfits("The Ridgeline Drizzle Jacket (Men's) is $103.95.", adult, catalog.products, kit) == []
    kid = request_limits("cheapest rain jacket for my daughter")
    assert misfits("The Ridgeline Drizzle Jacket (Men's) is $103.95.", kid, catalog.products, kit) == [
        "Ridgeline Drizzle Jacket (Men's) (FH-RDG-003): $103.95, against 'cheapest': the Ridgeline Kids Drizzle "
        "Jacket is $48.95"]
    women = request_limits("cheapest womens rain jacket")
    assert misfits("The Ridgeline Drizzle Jacket (Women's) is $124.95.", women, catalog.products, kit) == []


def test_misfits_name_each_product_that_breaks_a_limit(sample):
    kit, catalog = sample
    limits = request_limits("best 2 person backpacking tent under 1 kilo?")
    answer = "Try the Canopy Trekking Pole Shelter 1 (0.68 kg) or the Canopy Ultra 2 Tent (0.98 kg)."
    assert misfits(answer, limits, catalog.products, kit) == [
        "Canopy Trekking Pole Shelter 1 (FH-CNP-011): 1 person, against '2 person'"]
    assert misfits("The Canopy Ultra 2 Tent is $549.00.", limits, catalog.products, kit) == []
    # a product whose record does not state the value is not judged on it (a helmet has no capacity in people)
    helmet = "The Belay Ultralight Helmet is $119.00."
    assert names_a_product(helmet, catalog.products, kit)
    assert misfits(helmet, [Limit("people", Decimal(2), "2 person")], catalog.products, kit) == []


def test_a_sale_price_is_the_price_a_budget_is_held_to(sample):
    kit, catalog = sample
    on_sale = next(p for p in catalog.products if p.sale_price is not None)
    between = Limit("price", Decimal(str((on_sale.sale_price + on_sale.price) / 2)), "budget")
    assert misfits(f"The {on_sale.name}.", [between], catalog.products, kit) == []
    below = Limit("price", Decimal(str(on_sale.sale_price)) - 1, "under")
    assert len(misfits(f"The {on_sale.name}.", [below], catalog.products, kit)) == 1


def test_a_question_about_a_named_product_is_not_a_recommendation(sample):
    kit, catalog = sample
    assert names_a_product("quick q: the canopy ridge 2 footprint, is it under 50 bucks?", catalog.products, kit)
    assert not names_a_product("best 2 person backpacking tent under 1 kilo?", catalog.products, kit)


def test_an_order_on_a_catalog_sold_as_skus_judges_each_name_by_its_best_sku():
    """The second merchant sells one approved name as several SKUs, each with its own price: a name is as cheap
    as its cheapest SKU, and the category's extreme is found over every SKU."""
    from corpus.variants import group_variants

    here = Path(__file__).resolve().parents[2] / "corpus" / "kitewell"
    kit = load_brand_kit(here / "brand_kit.yaml")
    skus = load_catalog(here / "products.csv")
    socks = request_limits("cheapest running socks")
    for records in (skus.products, group_variants(skus, kit).products):
        assert misfits("The Cadence No-Show Sock is $14.00.", socks, records, kit) == []
        [miss] = misfits("The Cadence Light Crew Sock is $16.00.", socks, records, kit)
        assert miss.startswith("Cadence Light Crew Sock (KW-CAD-001-") and miss.endswith(
            "$16.00, against 'cheapest': the Cadence No-Show Sock is $14.00")


def test_brightest_warmest_and_biggest_read_lumens_a_temperature_rating_and_people_or_litres(sample):
    kit, catalog = sample
    # the Lumen Summit 1200 (1,200 lm) among the headlamps
    bright = request_limits("brightest headlamp")
    assert misfits("The Lumen Summit 1200 is $129.00.", bright, catalog.products, kit) == []
    assert misfits("The Lumen Summit 900 is $99.95.", bright, catalog.products, kit) == [
        "Lumen Summit 900 (FH-LUM-004): 900 lm, against 'brightest': the Lumen Summit 1200 is 1200 lm"]
    # the rating's °C figure: "0 °F / -18 °C (comfort 10 °F / -12 °C)" is -18 °C
    warm = request_limits("warmest sleeping bag")
    assert misfits("The Driftwood Summit 0 Bag is $429.00.", warm, catalog.products, kit) == []
    assert misfits("The Driftwood Summit 15 Bag is $339.00.", warm, catalog.products, kit) == [
        "Driftwood Summit 15 Bag (FH-DRF-002): -9 °C, against 'warmest': the Driftwood Summit 0 Bag is -18 °C"]
    # a minus sign is one only where no digit comes before it: "20-30 °F" reads 30 °F, not -30 °F
    from corpus.limits import record_value
    bag = next(p for p in catalog.products if p.id == "FH-DRF-003")
    for rating, celsius in (("0 °F / -18 °C", "-18"), ("20-30 °F", "-1.1"), ("−5 °C", "-5"), ("41 °F", "5.0")):
        assert str(record_value(replace(bag, specs={"temperature rating": rating}), "warmth")) == celsius
    # a tent by the people it sleeps, a pack by its litres
    big = request_limits("biggest tent")
    assert misfits("The Canopy Basecamp 6 Tent is $424.95.", big, catalog.products, kit) == []
    assert misfits("The Canopy Basecamp 4 Tent is $389.00.", big, catalog.products, kit) == [
        "Canopy Basecamp 4 Tent (FH-CNP-009): 4 people, against 'biggest': the Canopy Basecamp 6 Tent is 6 people"]
    assert misfits("The TrailForm Traverse 65 is $279.00.", request_limits("largest backpack"), catalog.products,
                   kit) == ["TrailForm Traverse 65 (FH-TRL-007): 65 L, against 'largest': the TrailForm Expedition 80 "
                            "is 80 L"]
