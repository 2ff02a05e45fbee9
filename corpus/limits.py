"""What a shopper's question limits a recommendation to, and which products an answer names break it.

"best 2 person backpacking tent under 1 kilo?", "gift for my dad, budget ~100?", "helmet under 250 g?": the
product an answer offers has to fit. The claims check (corpus.claims) tests what an answer says against the
catalog; "The TrailForm 80 is $349.00" for a ~$100 budget says nothing false, and only this check sees it.

    limits = request_limits("gift for my dad he likes hiking, budget ~100?")   # [Limit("price", 125, ...)]
    misfits(answer, limits, catalog.products, kit)
    # ["TrailForm Expedition 80 (FH-TRL-017): $349.00, against 'budget ~100'"]

What a question states (English phrasings; a question with none of them has no limits):
- a price ceiling: "under / below / less than / no more than / at most / max / up to / within" a price
  ("$50", "50 bucks", "50 dollars"), or "budget (of) X" with or without a currency. "~X", "about X",
  "around X", "roughly X", "X-ish" allow 25% over X; a plain budget 10%; "under $X" nothing.
- a weight ceiling: one of those words before a mass ("1 kilo", "250 g", "2 lb"), against the record's
  "trail weight" spec, else its "weight", else another weight ("packed weight"); its first mass: "215 g
  (S/M)" is 215 g.
- a number of people: "2 person", "two-person", "2 people", "sleeps 3", against a "capacity" spec that counts
  people ("1 person", "3 people") or a "sleeps" spec ("2"): at least that many.
- an order (`Order`): the cheapest / least expensive / lowest-priced / most affordable, the most expensive /
  priciest, the lightest, the heaviest, the brightest (lumens), the warmest (the lowest temperature rating),
  the biggest / largest / roomiest (the people it sleeps, else the litres it holds). It asks for the product
  with the lowest (highest) value of its kind (the current price; the mass as above) among the catalog's products of one category that meet the
  question's other limits: "cheapest tent" is the cheapest of the catalog's Tents, not of everything it
  sells. Retrieval ranks that category's products by the value (rag/retrieval.py); `misfits` judges the first
  product an answer names against the others of its own category.

A product whose record lacks the value (no weight spec, a capacity in litres) is not judged on that limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Sequence

from corpus.brandkit import BrandKit
from corpus.checks import quantities
from corpus.claims import product_mentions
from corpus.schema import Product

_GRAMS = {"g": Decimal(1), "kg": Decimal(1000), "oz": Decimal("28.349523125"), "lb": Decimal("453.59237")}
_CEILING = re.compile(r"\b(?:under|below|less than|lighter than|cheaper than|no more than|not over|at most|"
                      r"max(?:imum)?|up to|within)\s*(?:about|around|roughly|approx\.?|~|≈)?\s*$", re.I)
_BUDGET = re.compile(r"\bbudget\b(?:\s+(?:of|is|around|about|roughly|approx\.?|like|max|maximum))*\s*[~≈]?\s*$",
                     re.I)
_ROUGH = re.compile(r"(?:[~≈]|\babout|\baround|\broughly|\bapprox)\s*$", re.I)
_CURRENCY_BEFORE = re.compile(r"(?:[$€£]|\b(?:usd|eur|gbp))\s?$", re.I)
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_PEOPLE = re.compile(r"\b(?P<n>\d+|one|two|three|four|five|six)[\s-]*(?:person|people|man|persons)\b"
                     r"|\bsleeps\s+(?P<s>\d+|one|two|three|four|five|six)\b", re.I)
_CAPACITY_PEOPLE = re.compile(r"\b(\d+)\s*(?:people|persons?)\b", re.I)
_ALLOWANCE = {"strict": Decimal(0), "budget": Decimal("0.10"), "rough": Decimal("0.25")}


@dataclass(frozen=True)
class Limit:
    """One limit a question sets: on the price (max), the weight in grams (max) or the people (min)."""

    kind: str  # "price" | "mass" | "people"
    bound: Decimal  # the most a product may have (price, mass, allowance included), or the least (people)
    said: str  # as the question puts it: "budget ~100", "under 1 kilo", "2 person"


@dataclass(frozen=True)
class Order:
    """The question asks for the product with the lowest (or highest) value: price, mass, lumens, temperature
    rating or size."""

    kind: str  # "price" | "mass" | "light" (lumens) | "warmth" (a temperature rating, °C) | "size" (people, else litres)
    lowest: bool
    said: str  # as the question puts it: "cheapest", "most expensive", "lightest"
    audience: str | None = None  # "women" | "men" | "kid": whose products, when the question says ("for my kid")


_ORDERS = [(re.compile(pattern, re.I), kind, lowest) for pattern, kind, lowest in [
    (r"\b(?:cheapest|least expensive|least costly|lowest[- ]priced?|lowest[- ]cost|(?:the )?lowest price|"
     r"most (?:affordable|budget[- ]friendly|inexpensive))\b", "price", True),
    (r"\b(?:most expensive|priciest|highest[- ]priced?|(?:the )?highest price|most costly)\b", "price", False),
    (r"\b(?:lightest|least heavy|lowest[- ]weight|most lightweight)\b", "mass", True),
    (r"\bheaviest\b", "mass", False),
    (r"\b(?:brightest|most lumens)\b", "light", False),
    (r"\bwarmest\b", "warmth", True),  # the lowest temperature rating
    (r"\b(?:biggest|largest|roomiest|most spacious)\b", "size", False),
]]
# a minus sign only where no digit comes before it: "20-30 °F" is a range, not -30 °F
_TEMPERATURE = re.compile(r"(?<![\d.])([-−]?\d+(?:\.\d+)?)\s?[°º]\s?([cf])\b", re.I)


# whose products a question asks about, and the names that are theirs ("Drizzle Jacket (Women's)", "Kids 14")
_ASKED_FOR = {"women": r"\b(?:wom[ae]n(?:'?s)?|ladies|female)\b", "men": r"\b(?:men(?:'?s)?|male)\b",
              "kid": r"\b(?:kids?(?:'?s)?|child(?:ren)?(?:'?s)?|toddlers?|youth|son|daughter)\b"}
_NAMED_FOR = {"women": r"\bwom[ae]n(?:'?s)?\b", "men": r"\bmen(?:'?s)?\b", "kid": r"\b(?:kids?'?s?|child|youth)\b"}


def request_order(question: str) -> Order | None:
    """The first order the question asks for ("cheapest", "lightest"), or None; with whose products it asks
    for when it says ("cheapest rain jacket for my kid": the kids' jackets)."""
    found = [(m.start(), kind, lowest, m.group(0)) for pattern, kind, lowest in _ORDERS
             if (m := pattern.search(question))]
    if not found:
        return None
    _, kind, lowest, said = min(found)
    audience = next((a for a, pattern in _ASKED_FOR.items() if re.search(pattern, question, re.I)), None)
    return Order(kind, lowest, said, audience)


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word.lower()]


def request_limits(question: str) -> list[Limit | Order]:
    """The limits the question states, in order, then the order it asks for, if any (see the module notes)."""
    out: list[Limit | Order] = []
    for q in quantities(question):
        start = max(0, q.start - 40)
        before = _CURRENCY_BEFORE.sub("", question[start:q.start])  # "budget $" -> "budget "
        value = Decimal(q.value)
        rough = bool(_ROUGH.search(before)) or question[q.end:q.end + 4].lower().startswith(("-ish", "ish"))
        budget, ceiling = _BUDGET.search(before), _CEILING.search(before)
        if budget and q.unit is None:
            allowance = _ALLOWANCE["rough" if rough else "budget"]
            out.append(Limit("price", value * (1 + allowance), question[start + budget.start():q.end]))
        elif ceiling and q.price:
            allowance = _ALLOWANCE["rough" if rough else "strict"]
            out.append(Limit("price", value * (1 + allowance), question[start + ceiling.start():q.end]))
        elif ceiling and q.unit in _GRAMS:
            allowance = _ALLOWANCE["rough" if rough else "strict"]
            out.append(Limit("mass", value * _GRAMS[q.unit] * (1 + allowance), question[start + ceiling.start():q.end]))
    for m in _PEOPLE.finditer(question):
        out.append(Limit("people", Decimal(_count(m.group("n") or m.group("s"))), m.group(0)))
    order = request_order(question)
    return out + [order] if order is not None else out


def record_value(p: Product, kind: str) -> Decimal | None:
    """The record's value a limit of this kind is checked against (None: the record does not say)."""
    if kind == "price":
        return Decimal(str(p.sale_price if p.sale_price is not None else p.price))
    specs = {k.lower(): v for k, v in p.specs.items()}
    if kind == "mass":
        keys = ["trail weight", "weight", *sorted(k for k in specs if "weight" in k)]  # then "packed weight"...
        for key in keys:
            masses = [q for q in quantities(specs.get(key, "")) if q.unit in _GRAMS]
            if masses:
                return Decimal(masses[0].value) * _GRAMS[masses[0].unit]
        return None
    if kind == "light":  # lumens, from the spec that says them ("max output": "1,200 lm")
        for key in sorted(specs, key=lambda k: ("output" not in k and "lumen" not in k, k)):
            lumens = [q for q in quantities(specs[key]) if q.unit == "lm"]
            if lumens:
                return Decimal(lumens[0].value)
        return None
    if kind == "warmth":  # the temperature rating's first °C figure ("0 °F / -18 °C (comfort ...)": -18), else
        for key in sorted(k for k in specs if "temp" in k):  # its first °F figure in °C
            found = [(m.group(2).lower(), Decimal(m.group(1).replace("−", "-")))
                     for m in _TEMPERATURE.finditer(specs[key])]
            celsius = [v for unit, v in found if unit == "c"]
            if celsius:
                return celsius[0]
            if found:
                return ((found[0][1] - 32) * 5 / 9).quantize(Decimal("0.1"))
        return None
    if kind == "size":  # how many people it sleeps, else how many litres it holds
        people = record_value(p, "people")
        litres = [q for q in quantities(specs.get("capacity", "")) if q.unit == "l"]
        return people if people is not None else Decimal(litres[0].value) if litres else None
    m = _CAPACITY_PEOPLE.search(specs.get("capacity", ""))
    if m:
        return Decimal(m.group(1))
    sleeps = re.fullmatch(r"\s*(\d+)(?:\s*(?:people|persons?))?\s*", specs.get("sleeps", ""), re.I)
    return Decimal(sleeps.group(1)) if sleeps else None


def _breaks(value: Decimal, limit: Limit) -> bool:
    return value < limit.bound if limit.kind == "people" else value > limit.bound


def bounds_and_order(limits: Sequence[Limit | Order]) -> tuple[list[Limit], Order | None]:
    """A question's limits apart from the order it asks for (`request_limits` gives at most one)."""
    return ([x for x in limits if isinstance(x, Limit)], next((x for x in limits if isinstance(x, Order)), None))


def fits(p: Product, limits: Sequence[Limit | Order]) -> bool:
    """Whether the record meets every limit whose value it states (retrieval keeps such products first); an
    order is not a limit a record can break on its own."""
    return not any(isinstance(limit, Limit) and (v := record_value(p, limit.kind)) is not None
                   and _breaks(v, limit) for limit in limits)


def in_order(order: Order, records: Sequence[Product], limits: Sequence[Limit | Order] = (),
             name: Callable[[Product], str] = lambda p: p.name) -> list[Product]:
    """The records that state the order's value and meet the limits, the asked-for extreme first (a tie keeps
    the records' order); only those named for the order's audience ("Kids", "(Women's)") when any is, and
    none named for kids when the question does not ask for kids and others are there (the cheapest headlamp
    is not the kids' one)."""
    if order.audience is not None:
        theirs = [p for p in records if re.search(_NAMED_FOR[order.audience], name(p), re.I)]
    else:
        theirs = [p for p in records if not re.search(_NAMED_FOR["kid"], name(p), re.I)]
    records = theirs or records
    valued = [(v, i, p) for i, p in enumerate(records)
              if (v := record_value(p, order.kind)) is not None and fits(p, limits)]
    valued.sort(key=lambda t: (t[0] if order.lowest else -t[0], t[1]))
    return [p for _, _, p in valued]


def _shown(p: Product, kind: str, value: Decimal) -> str:
    if kind == "price":
        return f"{'$' if p.currency == 'USD' else ''}{value:,.2f}{'' if p.currency == 'USD' else ' ' + p.currency}"
    if kind == "mass":
        return f"{value.normalize():f} g"
    if kind == "light":
        return f"{value.normalize():f} lm"
    if kind == "warmth":
        return f"{value.normalize():f} °C"
    if kind == "size" and record_value(p, "people") is None:
        return f"{value.normalize():f} L"
    return f"{value} {'person' if value == 1 else 'people'}"


def misfits(answer: str, limits: Sequence[Limit | Order], records: Sequence[Product],
            kit: BrandKit | None) -> list[str]:
    """Each product the answer names that breaks one of the limits, in words. A name that stands for several
    records (a product's variants) breaks a limit only when every one of them does. An order is broken by the
    first product the answer names when another of its category that meets the other limits has a lower
    (higher) value: "Canopy Basecamp 6 Tent (FH-CNP-010): $424.95, against 'cheapest': the Canopy Trail 2
    Tent is $149.99". Later names are the answer's alternatives (an in-stock one beside the cheapest)."""
    by_id = {p.id: p for p in records}
    bounds, order = bounds_and_order(limits)
    out: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for _, _, ids in sorted(product_mentions(answer, records, kit)):
        if not ids or ids in seen:
            continue
        named = [by_id[i] for i in ids if i in by_id]
        for limit in bounds:
            values = [(p, record_value(p, limit.kind)) for p in named]
            judged = [(p, v) for p, v in values if v is not None]
            if judged and all(_breaks(v, limit) for _, v in judged):
                p, v = judged[0]
                out.append(f"{_name(p, kit)} ({p.id}): {_shown(p, limit.kind, v)}, against '{limit.said}'")
        if not seen and order is not None and (miss := _out_of_order(named, order, records, bounds, kit)):
            out.append(miss)
        seen.add(ids)
    return out


def _name(p: Product, kit: BrandKit | None) -> str:
    return kit.approved_name(p.id, p.name) if kit is not None else p.name


def _out_of_order(named: list[Product], order: Order, records: Sequence[Product], limits: Sequence[Limit],
                  kit: BrandKit | None) -> str | None:
    """Why the named product (a name's records: the best of them counts) is not the order's extreme of its
    category, or None when it is (or its record does not state the value)."""
    ranked = in_order(order, named)
    if not ranked:
        return None
    p = ranked[0]
    best = in_order(order, [r for r in records if r.category == p.category], limits, lambda r: _name(r, kit))
    v, top = record_value(p, order.kind), best[0] if best else None
    if top is None or record_value(top, order.kind) == v or top.id in {q.id for q in named}:
        return None
    return (f"{_name(p, kit)} ({p.id}): {_shown(p, order.kind, v)}, against '{order.said}': the "
            f"{_name(top, kit)} is {_shown(top, order.kind, record_value(top, order.kind))}")


def names_a_product(text: str, records: Sequence[Product], kit: BrandKit | None) -> bool:
    """Whether the text names a catalog product."""
    return any(ids for _, _, ids in product_mentions(text, records, kit))


def recommendation_limits(question: str, records: Sequence[Product],
                          kit: BrandKit | None) -> list[Limit | Order]:
    """The limits a question sets on the products an answer offers: none when it names a product itself (a
    question about one product asks about it, whatever its price: "is the canopy ridge 2 footprint under 50
    bucks?"). The scorecard's fits_request and the app's misfit badge both start here."""
    return [] if names_a_product(question, records, kit) else request_limits(question)

