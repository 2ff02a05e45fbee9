"""The limits a shopper's question sets on a recommendation, and the products an answer names that break them
(corpus/limits.py), on the sample catalog."""

from __future__ import annotations

from decimal import Decimal

import pytest

from corpus import SAMPLE_BRAND_KIT, SAMPLE_CATALOG, load_brand_kit, load_catalog
from corpus.limits import Limit, misfits, names_a_product, request_limits


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
    ("what's the lightest tent you have?", []),
    ("does the pack hold 45 L?", []),  # a number, but no limit on a recommendation
])
def test_request_limits(question, limits):
    assert [(x.kind, str(x.bound), x.said) for x in request_limits(question)] == limits


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
