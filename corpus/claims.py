"""Claims an answer makes about catalog products, checked against the products' records. Pure and
deterministic (no model): the scorecard's `answered`, `contradicted` and `clean` metrics
(evaluation/metrics.py) and the app's guardrail badge call the same functions.

    found = contradictions(answer, catalog.products, kit=kit, default=[product], question=q)
    [c.message for c in found]   # ["says in stock; catalog: out of stock"]
    ok, missing = answered(answer, ["price", "stock"], [product], kit=kit)
    clean_problems(answer, sources_text, kit)   # [] when clean

Attribution (which product a claim is about):
- the answer is split into units: markdown table rows (a row's cells are checked under their column header)
  and, elsewhere, sentences (split after . ! ? and at line breaks);
- product mentions are the approved names, kit aliases and catalog names of `records` (case-insensitive,
  whole words, longest match wins), then short forms: a line name followed by capitalised words or numbers
  whose words all appear in one or more of those names ("the Lumen 1000 Flashlight"; "Mens" = "Men's").
  "formerly (the) X" is not a mention. A name the kit knows but `records` lack (another product) makes what
  follows it unchecked, as does a product-like name nobody knows;
- a claim belongs to the product named closest before it in its unit; names joined only by "and", "or",
  "," or "vs" ("the A and the B are both in stock") form a group; a unit with no name before the claim takes
  the last product named in the previous unit ("It is out of stock."), else `default`. A table row belongs
  to the product named in it, and a sentence after a table does not inherit its last row;
- where a claim has several candidate products (a group, a short form that fits two names, several
  defaults) it is a contradiction only when it contradicts every one of them; a colour or size list after a
  name variants share (the kit's `variants`) is checked against all their colours or sizes together.

Claims (see `contradictions`):
- stock states (`STOCK_PHRASES`): "in stock, but only a few are left" is low stock; a negation ("not in
  stock", "unavailable") is out of stock and also fits a pre-order product; "in stock" fits a low-stock
  product (true, though `answered` wants the low stock said); conditionals ("if it's out of stock") and
  questions are not claims;
- prices ($, "dollars", "bucks"): the price or the sale price; "under $60"/"around $50" are compared as such,
  a saving ("save $9", "$9 off", "15% off" within a point) and a multiple in "two for a total of $101.90"
  are not unit prices;
- colours: the items after "colours"/"colors"/"comes in"/"available in" that look like colours (a catalog
  colour, a basic colour word, a capitalised name), and a catalog colour value written with its capitals
  anywhere else (one-word ones that are also a material or name word, "Titanium", only after a cue); a part
  of a listed value is fine ("Blue" of "Dusk Blue"), a denied listed value is not;
- sizes: the items after "sizes", a size-like item after "size", size-like items after "comes in"; "XS to
  XXL" and "US 10" = "10" fold; a spec named "... size" ("head size of 48–54 cm") is a spec, not a size;
- spec values: "has/with a <key> of <value>", "<key>: <value>", "<key> is <number>", "weighs <number>" for
  the keys the product's record has (a whole-word part of the key counts: "diameter" names "rope
  diameter", "max output" names "output"); the value agrees when it states the catalog value, or its
  numbers and words are the catalog's (`value_agrees`), also when cut at a comma; "has a length of 330 g",
  a value of another dimension under a name the record lacks, is a contradiction too;
- any other number with a unit that the product's record (specs, names, sizes, description) does not hold,
  with g/kg, mm/cm/m, ml/L and min/h folded; spans of days, weeks, months or years only when the record
  holds one.
Values of one field given as another's (sizes as colours, the max output as the beam distance) are
contradictions that say so (`Contradiction.as_field`). Never claims: disclaimer texts (the kit's and
`extra_text`'s sentences, also cut off at the end of the answer), numbers the question or `extra_text`
states (a price or bare number as any price or bare number, a number with a unit with that unit), numbers
inside product names (also written loosely: "canopy ridge 2 foot print").
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Iterable, Sequence

from corpus.brandkit import BrandKit
from corpus.checks import _RENAMED, _UNITS, Quantity, _norm_token, _product_phrases, line_names, quantities
from corpus.schema import Product, Stock
from corpus.variants import expand

# --- what the answer says about stock ----------------------------------------------------------------------

# state -> phrases (regex, matched case-insensitively on whole words). Order matters where two could match
# at one place: pre-order before "available", negations before the plain phrase.
_IS_NOT = r"(?:is ?n't|is not|are ?n't|are not|not)"
STOCK_PHRASES: dict[str, tuple[str, ...]] = {
    "preorder": (r"available (?:for|on|to) pre-?order", r"pre-?order(?:s|ed|ing)?(?: only)?",
                 r"(?:is ?n't|is not|are ?n't|are not|has ?n't been|has not been|not) (?:been )?(?:yet )?released"
                 r"(?: yet)?", r"not out yet", r"coming soon"),
    # a negation; "not available in XL" denies a size, not stock
    "not_in_stock": (_IS_NOT + r" (?:currently |yet |available )?(?:in stock|available|on the shelf|on hand)(?! in\b)",
                     r"unavailable(?! in\b)", r"no longer (?:in stock|available)(?! in\b)",
                     r"(?:do ?n't|do not|does ?n't|does not) have (?:it|them|any|one)"
                     r"(?: in stock| right now| at the moment| on hand)"),
    "out_of_stock": (r"out of stock", r"out-of-stock", r"sold out", r"back-?ordered", r"on back-?order",
                     r"(?:will|should|would) be back in stock", r"restock(?:ed|ing)?",
                     r"(?:we are|we're|we have|we've) (?:currently )?(?:run )?out", r"none left"),
    "low_stock": (r"low (?:on )?stock", r"low-stock",
                  r"(?:only|just) (?:a )?(?:few|couple|handful|\d+)(?: of (?:them|those))?(?: \w+)? (?:are |is )?left",
                  r"a few (?:are |is )?left", r"running low", r"selling (?:out )?fast", r"almost (?:gone|sold out)",
                  r"limited (?:stock|quantit(?:y|ies)|availability|supply)", r"last (?:few|ones?) (?:in stock|left)"),
    "in_stock": (r"in stock", r"in-stock", r"ready to ship", r"ships (?:today|now|right away|immediately)",
                 r"available (?:now|today|right now|to (?:ship|order|buy)|for (?:immediate )?(?:shipping|delivery|"
                 r"purchase))(?!\s+pre)",
                 r"(?:is|are) (?:still )?available(?=\s*(?:[.!,;)]|$|and\b|but\b))", r"on (?:the )?shelf", r"on hand"),
}
_STOCK_RX = re.compile("|".join(f"(?P<{state}>" + "|".join(rf"\b{p}\b" for p in phrases) + ")"
                                for state, phrases in STOCK_PHRASES.items()), re.I)
_CONDITIONAL = re.compile(r"\b(?:if|when|whether|once|until|unless|in case)\b", re.I)
_LABEL = {"in_stock": "in stock", "low_stock": "low stock", "out_of_stock": "out of stock", "preorder": "pre-order",
          "not_in_stock": "not in stock"}
_STOCK_OK = {"in_stock": {Stock.IN_STOCK, Stock.LOW_STOCK}, "low_stock": {Stock.LOW_STOCK},
             "out_of_stock": {Stock.OUT_OF_STOCK}, "not_in_stock": {Stock.OUT_OF_STOCK, Stock.PREORDER},
             "preorder": {Stock.PREORDER}}


def stock_states(text: str) -> list[tuple[str, int, int, str]]:
    """(state, start, end, phrase) of each stock claim in one sentence; "in stock" beside a low-stock phrase
    is low stock; phrases after if/when/whether and in a question are left out."""
    text = text.replace("_", " ").replace("’", "'")
    if text.rstrip(" *_)\"'").endswith("?"):
        return []
    out = []
    for m in _STOCK_RX.finditer(text):
        if _CONDITIONAL.search(text[:m.start()].rsplit(",", 1)[-1]):
            continue
        out.append((m.lastgroup, m.start(), m.end(), m.group(0)))
    states = {s for s, *_ in out}
    if {"in_stock", "low_stock"} <= states:
        out = [o for o in out if o[0] != "in_stock"]
    return out


def _catalog_stock(p: Product) -> str:
    return _LABEL[p.stock.value]


# --- numbers -------------------------------------------------------------------------------------------

_BASE = {"kg": ("g", 1000), "mm": ("mm", 1), "cm": ("mm", 10), "m": ("mm", 1000), "km": ("mm", 1_000_000),
         "ml": ("ml", 1), "l": ("ml", 1000), "min": ("min", 1), "h": ("min", 60)}


def _canon(q: Quantity) -> tuple[str | None, Decimal, bool]:
    value = Decimal(q.value)
    if q.price:
        return None, value, True
    unit, factor = _BASE.get(q.unit or "", (q.unit, 1))
    return unit, (value * factor).normalize(), False


def _price_text(p: Product) -> str:
    cur = "$" if p.currency == "USD" else ""
    tail = "" if cur else f" {p.currency}"
    if p.sale_price is not None:
        return f"{cur}{p.sale_price:,.2f}{tail} on sale (regular {cur}{p.price:,.2f}{tail})"
    return f"{cur}{p.price:,.2f}{tail}"


def _norm(text: str) -> str:
    text = text.lower().replace("’", "'").replace("_", " ")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    return re.sub(r"\s+", " ", text).strip()


def fact_present(fact: str, answer: str) -> bool:
    """A fact string in the answer: case, whitespace, "_" and thousands commas folded; a fact that is only
    numbers ("$99.95", "155 g", "40–53 cm") is found when the answer states each value with the same unit or
    as a price, so "$1299" states "$1,299.00" and "155 grams" states "155 g"."""
    if _norm(fact) in _norm(answer):
        return True
    qs = quantities(fact)
    rest = fact
    for q in sorted({q.text for q in qs}, key=len, reverse=True):
        rest = rest.replace(q, " ")
    if not qs or re.sub(r"[\s,;/()x×-]", "", rest):
        return False  # not a purely numeric fact
    said = quantities(answer)
    return all(any(a.value == q.value and a.price == q.price and (q.unit is None or a.unit == q.unit)
                   for a in said) for q in qs)


_FILLER = frozenset("a an the of and or with up to about around approx approximately roughly per each max maximum "
                    "min minimum total only just rated at in on for is it its x by nearly".split())
_UNIT_WORDS = frozenset(_UNITS) | {"lm", "mah", "kn", "btu", "c", "f"}


def _words(text: str) -> set[str]:
    for q in sorted({q.text for q in quantities(text)}, key=len, reverse=True):
        text = text.replace(q, " ")
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in _FILLER and w not in _UNIT_WORDS}


def _same_quantity(a: Quantity, b: Quantity) -> bool:
    return _canon(a) == _canon(b) or (a.unit is None and not a.price and a.value == b.value)


def value_agrees(claim: str, catalog: str) -> bool:
    """Whether a stated value fits the catalog's: the whole value is stated (`fact_present`), or each number
    of the claim is the catalog's (with its unit) and each word of it is one of the catalog's words, and a
    bare number does not stand for a value made of words ("100%" is not "100% silk"; "480 g" is "480 g
    (regular)")."""
    claim = claim.strip(" .,;:*\"'`")
    if not claim:
        return True
    cq, kq = quantities(claim), quantities(catalog)
    # the whole value stated, words around it allowed; a bare "1" (doors) is not stated by "1 Tent"
    if fact_present(catalog, claim) and (_words(catalog) or len(kq) > 1 or any(q.unit or q.price for q in kq)):
        return True
    if not all(any(_same_quantity(a, b) for b in kq) for a in cq):
        return False
    cw = _words(claim)
    if cw - _words(catalog):
        return False
    if cq and not cw and all(q.unit in (None, "%") for q in cq) and _words(re.sub(r"\([^)]*\)", " ", catalog)):
        return False
    return True


# canonical unit (`corpus.checks._UNITS`) -> what it measures
_DIMENSION = {"g": "mass", "kg": "mass", "lb": "mass", "oz": "mass", "mm": "length", "cm": "length", "m": "length",
              "km": "length", "in": "length", "ft": "length", "l": "volume", "ml": "volume", "qt": "volume",
              "s": "time", "min": "time", "h": "time", "day": "time", "°c": "temperature", "°f": "temperature",
              "lm": "light", "w": "power", "kw": "power", "%": "share", "mah": "charge"}
# a field name's last words -> what it measures ("a length of 330 g" names a length and gives a mass)
_PHRASE_DIMENSION = {
    "battery": "charge", "length": "length", "height": "length", "width": "length", "depth": "length",
    "diameter": "length", "distance": "length", "torso": "length", "inseam": "length", "weight": "mass",
    "load": "mass", "capacity": "volume", "volume": "volume", "runtime": "time", "time": "time", "duration": "time",
    "temperature": "temperature", "brightness": "light", "lumens": "light"}


def _dimensions(phrase: str) -> set[str]:
    return {_PHRASE_DIMENSION[w] for w in re.findall(r"[a-z]+", phrase.lower()) if w in _PHRASE_DIMENSION}


def _wrong_dimension(phrase: str, value: str) -> bool:
    """"a length of 330 g": the phrase names a length, weight, volume, time ... and the value's unit is not one."""
    want = _dimensions(phrase)
    got = {_DIMENSION.get(q.unit or "") for q in quantities(value) if q.unit} - {None}
    return bool(want and got and not (want & got))


# --- colours and sizes ---------------------------------------------------------------------------------

_BASIC_COLOURS = frozenset("black white grey gray red blue green orange yellow purple pink brown tan navy olive teal "
                           "beige cream khaki maroon burgundy silver gold charcoal lime turquoise violet".split())
_SIZE_WORDS = {"small": "s", "medium": "m", "large": "l", "extra large": "xl", "extra-large": "xl", "x-large": "xl",
               "xx-large": "xxl", "extra small": "xs", "extra-small": "xs", "x-small": "xs"}
_SIZE_LIKE = re.compile(
    r"(?:x{0,3}s|m|x{0,3}l|\d+(?:\.\d+)?\s?[ky]?|(?:us|eu|uk)\s?\d+(?:\.\d+)?|one size|regular|long|short"
    r"|wide(?: long)?|petite|tall|youth|kids|small|medium|large|extra[- ]large|extra[- ]small|x{1,2}-(?:large|small))"
    r"(?:\s?/\s?(?:x{0,3}s|m|x{0,3}l|\d+(?:\.\d+)?[ky]?))*(?:\s*\([^)]*\))?", re.I)


def _size_key(s: str) -> str:
    s = re.sub(r"\s*\([^)]*\)", "", s.lower()).strip()
    s = _SIZE_WORDS.get(s, s)
    return re.sub(r"^(?:us|eu|uk)\s?", "", s).replace(" ", "")


def _size_listed(item: str, sizes: Sequence[str]) -> bool:
    key = _size_key(item)
    keys = [_size_key(s) for s in sizes]
    if key in keys or any(key in k.split("/") for k in keys):
        return True
    lead = re.match(r"(\S+)\s+[\d(]", item.strip())  # "S/M 50–57 cm": a listed size with its measurements
    if lead and _size_key(lead.group(1)) in keys:
        return True
    ends = re.fullmatch(r"(\S+)\s*(?:to|through|–|—|-)\s*(\S+)", item.strip())
    return bool(ends) and all(_size_key(e) in keys for e in ends.groups())


def _colour_listed(item: str, colours: Sequence[str]) -> bool:
    item = item.lower().strip()
    for c in colours:
        c = c.lower()
        if item == c or item in re.split(r"\s*/\s*|\s+", c) or item == c.replace("/", " / "):
            return True
    return False


# --- the product index (names, vocabularies), cached per kit and records --------------------------------

_OTHER = "\0other"  # a product the kit names that `records` do not hold: its claims are not checked
_SEX = {"mens": "men", "men": "men", "womens": "women", "women": "women", "w": "women", "wmns": "women"}


@dataclass
class _Index:
    by_id: dict[str, Product]
    display: dict[str, str]  # id -> approved name
    names: re.Pattern | None
    by_name: dict[str, frozenset[str]]  # lower name -> ids
    tokens: list[tuple[frozenset[str], str]]
    lines: list[str]
    colours: dict[str, str]  # lower -> as written, every record's colours
    standalone: re.Pattern | None  # colour values that stand out as colours wherever they appear
    sizes: frozenset[str]  # `_size_key` of every record's sizes
    size_specs: frozenset[str]  # spec keys that end in "size": "head size", "packed size" (not the sizes list)
    name_numbers: frozenset[tuple[str, str]]  # (word, number) pairs in names: ("ridge", "2"), ("summit", "900")
    disclaimers: tuple[str, ...]
    # id -> every id sold under its approved name (the kit's variants; itself alone for any other product)
    family: dict[str, tuple[str, ...]] = field(default_factory=dict)


# (kit id, record ids) -> ((kit, records), index); the objects are held so their ids stay theirs. Least
# recently used first: the scorer alternates the whole catalog's index with one per case.
_CACHE: OrderedDict[tuple, tuple[tuple, _Index]] = OrderedDict()


def _index(records: Sequence[Product], kit: BrandKit | None) -> _Index:
    key = (id(kit), tuple(id(p) for p in records))
    hit = _CACHE.get(key)
    if hit is not None and hit[0][0] is kit and all(a is b for a, b in zip(hit[0][1], records)):
        _CACHE.move_to_end(key)
        return hit[1]
    idx = _build(records, kit)
    _CACHE[key] = ((kit, tuple(records)), idx)
    while len(_CACHE) > 32:
        _CACHE.popitem(last=False)
    return idx


def _build(records: Sequence[Product], kit: BrandKit | None) -> _Index:
    by_id = {p.id: p for p in records}
    display = {p.id: kit.approved_name(p.id, p.name) if kit else p.name for p in by_id.values()}
    same_name: dict[str, list[str]] = {}
    for pid in by_id:
        same_name.setdefault(display[pid], []).append(pid)
    # id -> every id sold under its approved name: the kit's variants (without a kit, each product alone)
    family = {pid: tuple(same_name[display[pid]]) if kit is not None else (pid,) for pid in by_id}
    by_name: dict[str, set[str]] = {}
    for pid, p in by_id.items():
        for n in {display[pid], p.name}:
            by_name.setdefault(n.lower(), set()).add(pid)
    if kit is not None:
        approved_to_ids: dict[str, list[str]] = {}  # variants: several ids under one name
        for pid, n in kit.products.items():
            approved_to_ids.setdefault(n, []).append(pid)
        for alias, names in kit.alias_targets().items():  # a shared alias is a mention of every product it meant
            for pid in [i for n in names for i in approved_to_ids.get(n, ())] or [None]:
                by_name.setdefault(alias.lower(), set()).add(pid if pid in by_id else _OTHER)
        for pid, n in kit.products.items():
            if pid not in by_id:
                by_name.setdefault(n.lower(), set()).add(_OTHER)
        # a variant row's own catalog name ("Stride 7-Inch Trail Short Mens" on one colour's row) names the
        # product, so every variant sold under its approved name
        for ids in by_name.values():
            ids |= {s for i in list(ids) if i in display for s in family[i]}
    names = sorted(by_name, key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, names)) + r")(?!\w)", re.I) if names else None
    tokens = []
    for name, ids in by_name.items():
        toks = frozenset(_SEX.get(t, t) for t in (_norm_token(w) for w in name.split()) if t)
        tokens += [(toks, pid) for pid in ids]
    catalog_names = [p.name for p in by_id.values()] + list(display.values())
    lines = line_names(kit, catalog_names) if kit is not None else sorted(
        {n.split()[0] for n in catalog_names if n.split() and len(n.split()[0]) >= 3 and n[:1].isupper()},
        key=lambda w: (-len(w), w))
    colours = {c.lower(): c for p in by_id.values() for c in p.colors}
    # a one-word colour that is also a material or a name word ("Titanium") counts only after a colour cue
    other_words = {w.lower() for p in by_id.values() for text in (*p.specs.values(), p.name, display[p.id], *p.sizes)
                   for w in re.findall(r"[A-Za-z]+", text)}
    loud = sorted((c for c in colours.values() if " " in c or "/" in c or c.lower() not in other_words),
                  key=len, reverse=True)
    standalone = re.compile(r"(?<![\w/])(?:" + "|".join(re.escape(c) for c in loud) + r")(?![\w/])") if loud else None
    sizes = frozenset(_size_key(s) for p in by_id.values() for s in p.sizes)
    size_specs = frozenset(k.lower() for p in by_id.values() for k in p.specs if re.search(r"\bsizes?$", k.lower()))
    name_numbers = set()
    for name in by_name:
        words = name.split()
        for a, b in zip(words, words[1:]):
            num = re.fullmatch(r"\d+(?:\.\d+)?", b)
            if num and re.fullmatch(r"[a-z][\w'-]*", a):
                name_numbers.add((a, _norm_token(b)))
    disclaimers = tuple(d.text for d in kit.disclaimers) if kit else ()
    return _Index(by_id, display, pattern, {k: frozenset(v) for k, v in by_name.items()}, tokens, lines, colours,
                  standalone, sizes, size_specs, frozenset(name_numbers), disclaimers, family)


# --- units, mentions, segments --------------------------------------------------------------------------

_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')*_]*\s+")


@dataclass
class _Seg:
    start: int
    end: int
    products: tuple[str, ...]  # candidate ids; () = not attributable
    column: str = ""  # a table cell's header, lowercased
    question: bool = False


def _cell_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, s = [], start
    for i in range(start, end + 1):
        if i == end or text[i] == "|":
            if text[s:i].strip():
                spans.append((s, i))
            s = i + 1
    return spans


def _units(text: str) -> list[tuple[str, list[tuple[int, int]], list[str]]]:
    """(kind, spans, headers): kind "sentence" (one span), "row" (one span per cell, with the header's
    names), "header" or "table_end"."""
    units: list[tuple[str, list[tuple[int, int]], list[str]]] = []
    lines, pos = [], 0
    for line in text.split("\n"):
        lines.append((pos, pos + len(line)))
        pos += len(line) + 1
    header: list[str] | None = None
    for i, (s, e) in enumerate(lines):
        line = text[s:e]
        nxt = text[lines[i + 1][0]:lines[i + 1][1]] if i + 1 < len(lines) else ""
        if _SEPARATOR.match(line) and header is not None:
            continue
        if line.count("|") >= 1 and _SEPARATOR.match(nxt) and "|" in nxt:
            header = [text[a:b].strip().strip("*_` ").lower() for a, b in _cell_spans(text, s, e)]
            units.append(("header", [(s, e)], header))
            continue
        if header is not None and line.count("|") >= 1 and line.strip():
            cells = _cell_spans(text, s, e)
            if cells:
                units.append(("row", cells, header))
            continue
        if header is not None:
            units.append(("table_end", [], []))
            header = None
        start = s
        for m in _SENTENCE_END.finditer(line):
            units.append(("sentence", [(start, s + m.start())], []))
            start = s + m.end()
        if text[start:e].strip():
            units.append(("sentence", [(start, e)], []))
    return units


def _blank(chars: list[str], s: int, e: int) -> None:
    for i in range(s, e):
        if chars[i] != "\n":
            chars[i] = " "


def _mask_disclaimers(text: str, chars: list[str], texts: Iterable[str]) -> None:
    """Blank every copy of a disclaimer, of one of its sentences, and a cut-off start of one at the end."""
    pieces = set()
    for t in texts:
        t = t.strip()
        if not t:
            continue
        pieces.add(t)
        pieces.update(p for p in re.split(r"(?<=[.!?:])\s+", t) if len(p.split()) >= 4)
    low = text.lower()
    for p in sorted(pieces, key=len, reverse=True):
        if p.split()[0].lower() not in low:
            continue
        for m in _piece_pattern(p).finditer(text):
            _blank(chars, m.start(), m.end())
    # a cut-off copy at the very end: the answer's last words are a disclaimer's first words (the last one
    # perhaps cut mid-word)
    spans = [m.span() for m in re.finditer(r"\S+", text)][-80:]
    said = [text[a:b].lower() for a, b in spans]
    for t in texts:
        words = t.lower().split()
        for n in range(min(len(words) - 1, len(said)), 3, -1):
            tail = said[-n:]
            if tail[:-1] == words[:n - 1] and words[n - 1].startswith(tail[-1].rstrip(".,;:!?")):
                _blank(chars, spans[-n][0], spans[-1][1])
                break


_PIECES: dict[str, re.Pattern] = {}


def _piece_pattern(piece: str) -> re.Pattern:
    rx = _PIECES.get(piece)
    if rx is None:
        if len(_PIECES) > 256:
            _PIECES.clear()
        rx = _PIECES[piece] = re.compile(r"\s+".join(re.escape(w) for w in piece.split()), re.I)
    return rx


def _mentions(text: str, masked: str, idx: _Index, chars: list[str],
              quoted: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, candidate ids) of each product mention; blanks the names in `chars`. A name inside a
    `quoted` span (a record's value filled verbatim: a battery's "fits: Lumen Trail 450") is blanked but does
    not change which product the text is about."""
    out = []
    if idx.names is not None:
        for m in idx.names.finditer(masked):
            s, e = m.span()
            _blank(chars, s, e)
            if _RENAMED.search(text[max(0, s - 40):s]) or any(a <= s < b for a, b in quoted):
                continue
            out.append((s, e, tuple(sorted(idx.by_name[m.group(0).lower()]))))
    rest = "".join(chars)
    for s, e, toks in _product_phrases(rest, idx.lines):
        toks = {_SEX.get(t, t) for t in toks}
        ids = sorted({pid for names, pid in idx.tokens if toks <= names})
        _blank(chars, s, e)
        if _RENAMED.search(text[max(0, s - 40):s]) or any(a <= s < b for a, b in quoted):
            continue
        out.append((s, e, tuple(ids) if ids else (_OTHER,)))
    return sorted(out)


def product_mentions(text: str, records: Sequence[Product], kit: BrandKit | None) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, candidate ids) of each product named in `text`, found the way `contradictions` finds the
    product a claim is about: approved and catalog names, kit aliases (not after "formerly"), and short forms
    (a line name and the capitalised words after it whose tokens fit one or more names: "Summit Sole Ridgeback
    Mid" for "Summit Sole Ridgeback Mid (Men's)"); kit disclaimer texts are not searched. ids are () for a
    name of a product that is not among `records`. `rag.fields.FieldFiller` uses it, so a filled value and the
    contradiction check agree on which product a reference is about."""
    idx = _index(list(records), kit)
    chars = list(text.replace("’", "'").replace("_", " "))
    _mask_disclaimers(text, chars, idx.disclaimers)
    masked = "".join(chars)
    return [(s, e, tuple(i for i in ids if i != _OTHER)) for s, e, ids in _mentions(text, masked, idx, chars)]


_CONNECTOR = re.compile(r"^[\s,&*_]*(?:(?:and|or|vs\.?|versus|plus|the|both|either)[\s,&*_]+)*$", re.I)


def _segments(text: str, masked: str, mentions, idx: _Index, default: tuple[str, ...]) -> list[_Seg]:
    segs: list[_Seg] = []
    carried: tuple[str, ...] | None = None  # None: nothing named yet; (): a product the records lack

    def narrow(ids: tuple[str, ...]) -> tuple[str, ...]:
        if _OTHER in ids and len(ids) == 1:
            return ()
        ids = tuple(i for i in ids if i != _OTHER)
        if len(ids) > 1:  # a short form that fits several names: the defaults or the last one named decide
            for pref in (default, carried or ()):
                both = tuple(i for i in ids if i in pref)
                if both:
                    return both
        return ids

    for kind, spans, header in _units(text):
        if kind == "header":
            continue
        if kind == "table_end":
            carried = None
            continue
        if kind == "row":
            s0, e0 = spans[0][0], spans[-1][1]
            named = [narrow(ids) for s, e, ids in mentions if s0 <= s < e0]
            products = named[0] if named else ()
            for (s, e), col in zip(spans, header + [""] * len(spans)):
                segs.append(_Seg(s, e, products, col))
            carried = products if named else carried
            continue
        (s0, e0), = spans
        question = text[s0:e0].rstrip(" *_)\"'").endswith("?")
        inside = [(s, e, narrow(ids)) for s, e, ids in mentions if s0 <= s < e0]
        current = default if carried is None else carried
        pos = s0
        group: tuple[str, ...] = ()
        last_end = None
        for s, e, ids in inside:
            if pos < s:
                segs.append(_Seg(pos, s, current, question=question))
            joined = last_end is not None and _CONNECTOR.match(masked[last_end:s])
            group = tuple(dict.fromkeys((*group, *ids))) if joined else ids
            current = group
            pos, last_end = s, e
        segs.append(_Seg(pos, e0, current, question=question))
        if inside:
            carried = current
    return segs


# --- claims ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Contradiction:
    product_id: str
    product: str  # approved name
    field: str  # "stock" | "price" | "colours" | "sizes" | "spec:<key>" | "number"
    claim: str  # what the answer says, as written
    catalog: str  # what the catalog says, as a person would read it
    as_field: str = ""  # the field whose values the claim gives instead ("sizes" in "gives sizes as colours")

    @property
    def message(self) -> str:
        what = self.field.split(":", 1)[1] if self.field.startswith("spec:") else self.field
        if self.as_field:
            return f"gives {self.as_field} as {what}: {self.claim}; catalog {what}: {self.catalog}"
        if self.field in ("stock", "price", "number"):
            return f"says {self.claim}; catalog: {self.catalog}"
        return f"says {what} {self.claim}; catalog {what}: {self.catalog}"

    def to_json(self) -> dict:
        return {"product_id": self.product_id, "product": self.product, "field": self.field, "claim": self.claim,
                "catalog": self.catalog, "message": self.message}


@dataclass(frozen=True)
class _Claim:
    field: str  # stock | price | colours | sizes | spec | number
    text: str
    start: int
    end: int
    value: object = None
    negated: bool = False
    as_field: str = ""  # a list given under the wrong field name: "sizes" for sizes after "colours:"


_NEG_BEFORE = re.compile(r"(?:\bnot|n't|\bno longer|\bnever|\bno)\b[^.;:]{0,25}$", re.I)
_LIST_END = re.compile(
    r"[.!?](?=\s|$)|(?<!\d)[.!?](?!\d)|;|\n|\s[-–—]\s(?=[A-Za-z])|,?\s+(?:but|so|which|with|for|if|because|though|"
    r"while|at|it|they|is|are|was|has|costs?|weighs?|and\s+(?:it|is|are|they|costs?|weighs?|has|the|a))\b", re.I)
_COLOUR_CUE = re.compile(r"\b(?:colou?r(?:s|ways?)?|shades?)(?:\s+(?:options?|choices?))?"
                         r"(?:,?\s+(?:are|is|include|including|available|offered|on offer|such as|like))*"
                         r"\s*[:\-–—]?\s*", re.I)
_SIZE_CUE = re.compile(r"\b(?P<w>sizes|size)\b(?!\s+(?:chart|guide|up|down|range|wise|of the|for|to)\b)"
                       r"(?:\s+(?:options?|available|offered))?(?:\s+(?:are|is|include|including|of))*"
                       r"\s*[:\-–—]?\s*", re.I)
_COMES_IN = re.compile(r"\b(?:comes?|came|coming|available|offered|sold|stocked|have (?:it|them)|has it"
                       r"|get (?:it|them))\s+in\s+(?:(?:both|either|a|an|the|two|three|four|five|six|several|many|\d+)"
                       r"\s+)?", re.I)
_ITEM_SPLIT = re.compile(r"\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|&|plus)\s+", re.I)


def _items(masked: str, start: int, end: int) -> list[tuple[str, int, int]]:
    stop = _LIST_END.search(masked, start, end)
    stop_at = stop.start() if stop else end
    out, pos = [], start
    for m in list(_ITEM_SPLIT.finditer(masked, start, stop_at)) + [None]:
        e = m.start() if m else stop_at
        raw = masked[pos:e]
        lead = re.match(r"\s*(?:(?:the|a|an|in|both|either|sizes?|colou?rs?|including|include|such as|like|plus|"
                        r"as well as)\s+)*[\"'*`]*", raw, re.I).end()
        item = raw[lead:].rstrip(" \"'*`:")
        if item.strip():
            out.append((item.strip(), pos + lead, pos + lead + len(item)))
        if m:
            pos = m.end()
    return out


def _colour_like(item: str, idx: _Index) -> bool:
    low = item.lower()
    return (low in idx.colours or any(_colour_listed(low, [c]) for c in idx.colours)
            or any(w in _BASIC_COLOURS for w in re.findall(r"[a-z]+", low)))


def _size_like(item: str, idx: _Index) -> bool:
    return _size_key(item) in idx.sizes or bool(_SIZE_LIKE.fullmatch(item.strip()))


def _list_claims(masked: str, s0: int, e0: int, idx: _Index, column: str, given: set[tuple]) -> list[_Claim]:
    out: list[_Claim] = []
    taken: list[tuple[int, int]] = []

    def add(field: str, items, negated: bool, as_field: str = "") -> None:
        if field == "sizes":  # "for your size 11 shoe": the shopper's own size, not one the product comes in
            items = [i for i in items if not (re.fullmatch(r"(?:us\s?)?\d+(?:\.\d+)?", i[0], re.I)
                                              and any(_given(q, given) for q in quantities(i[0])))]
        if not items:
            return
        s, e = items[0][1], items[-1][2]
        out.append(_Claim(field, masked[s:e], s, e, tuple(i for i, _, _ in items), negated, as_field))
        taken.append((s, e))

    def negated_at(pos: int) -> bool:
        return bool(_NEG_BEFORE.search(masked[max(s0, pos - 40):pos]))

    if column in ("colours", "colors", "colour", "color"):
        add("colours", _items(masked, s0, e0), False)
        return out
    if column in ("sizes", "size"):
        add("sizes", _items(masked, s0, e0), False)
        return out
    for m in _COLOUR_CUE.finditer(masked, s0, e0):
        items = _items(masked, m.end(), e0)
        neg = negated_at(m.start())
        sizes = [i for i in items if _size_like(i[0], idx) and not _colour_like(i[0], idx)]
        # a colour: a known one, a basic colour word, or a capitalised name ("Red", "Storm Green")
        colours = [i for i in items if i not in sizes
                   and (_colour_like(i[0], idx) or re.fullmatch(r"[A-Z][\w/-]*(?: [A-Z][\w/-]*)*", i[0]))]
        add("colours", sizes, neg, "sizes")
        add("colours", colours, neg)
    for m in _SIZE_CUE.finditer(masked, s0, e0):
        if any(a <= m.start() < b for a, b in taken):
            continue
        prev = re.search(r"(\w+)\s+$", masked[max(s0, m.start() - 30):m.start()])
        if prev and f"{prev.group(1).lower()} size" in {k.rstrip("s") for k in idx.size_specs}:
            continue  # "head size of 48–54 cm" is a spec, read as one
        items = _items(masked, m.end(), e0)
        if not items:
            continue
        neg = negated_at(m.start())
        if m.group("w").lower() == "size":
            if prev and prev.group(1).lower() in ("half", "a", "one", "full", "whole", "true", "your", "my"):
                continue  # "runs a half size small", "true to size": fit, not a size the product comes in
            items = items[:1] if _size_like(items[0][0], idx) else []
            add("sizes", items, neg)
            continue
        if not re.match(r"[\dA-Z]", items[0][0]) and not _size_like(items[0][0], idx):
            continue  # "sizes run small"
        colours = [i for i in items if _colour_like(i[0], idx) and not _size_like(i[0], idx)]
        add("sizes", colours, neg, "colours")
        add("sizes", [i for i in items if i not in colours], neg)
    for m in _COMES_IN.finditer(masked, s0, e0):
        if re.match(r"\s*(?:\w+\s+)?(?:colou?rs?|sizes?|shades?)\b", masked[m.end():e0], re.I):
            continue  # "comes in sizes ...": the field word's own cue reads it
        if any(a <= m.end() < b for a, b in taken):
            continue
        items = _items(masked, m.end(), e0)
        neg = negated_at(m.start())
        add("colours", [i for i in items if _colour_like(i[0], idx) and not _size_like(i[0], idx)], neg)
        add("sizes", [i for i in items if _size_like(i[0], idx) and not _colour_like(i[0], idx)], neg)
    if idx.standalone is not None:
        for m in idx.standalone.finditer(masked, s0, e0):
            if any(a <= m.start() < b for a, b in taken) or not masked[s0:m.start()].strip(" *_-\"'"):
                continue
            add("colours", [(m.group(0), m.start(), m.end())], negated_at(m.start()))
    return out


# "a range of", "a lot of": quantities, not field names
_NOT_FIELDS = frozenset("range variety lot number selection couple bit set pair choice mix total amount level kind "
                        "host ton bunch handful sort".split())


def _spec_phrase_keys(phrase: str, specs: dict[str, str]) -> list[str]:
    """The record's spec keys a phrase names: the same words, or one a whole-word end or start of the other,
    with "max"/"maximum"/"approx." and a plural s folded ("max output" names "output", "weight" names
    "trail weight")."""
    def norm(s: str) -> str:
        s = re.sub(r"^(?:max(?:imum)?|min(?:imum)?|approx\.?|approximate|total|overall|current)\s+", "",
                   s.lower().strip())
        return re.sub(r"(?<=[a-z]{3})s$", "", s)

    p = norm(phrase)
    if p in _NOT_FIELDS:
        return []
    out = []
    for k in specs:
        n = norm(k)
        if p == n or n.endswith(" " + p) or p.endswith(" " + n) or n.startswith(p + " ") or p.startswith(n + " "):
            out.append(k)
    return out


_HAS_A = re.compile(r"\b(?:has|have|had|with|features?|offers?|boasts?|gets?)\s+(?:an?|the)\s+"
                    r"(?P<key>[^\W\d][\w'’/-]*(?:\s+[^\W\d][\w'’/-]*){0,3}?)\s+of\s+", re.I)
_VALUE_END = re.compile(r"[.!?](?=\s|$)|(?<!\d)[.!?](?!\d)|;|\n|\s[-–—]\s|,?\s+(?:but|which|so|while|though|"
                        r"and\s+(?:it|is|its|comes?|has|costs?|weighs?|the|a))\b|,\s+(?:\w+ing|meaning|perfect|ideal|"
                        r"great|that|and|with)\b", re.I)


def _value_span(masked: str, start: int, end: int) -> tuple[int, int]:
    stop = _VALUE_END.search(masked, start, end)
    e = stop.start() if stop else end
    while e > start and masked[e - 1] in " ,*\"'`":
        e -= 1
    return start, e


_ABOUT = r"(?:about |around |approx\.? |roughly |just |only )?"


def _spec_claims(masked: str, s0: int, e0: int, products: list[Product], column: str) -> list[_Claim]:
    keys = sorted({k for p in products for k in p.specs}, key=len, reverse=True)
    out: list[_Claim] = []
    if column and column not in ("product", "price", "stock", "key spec", "colours", "colors", "sizes"):
        if any(_spec_phrase_keys(column, p.specs) for p in products):
            s, e = _value_span(masked, s0, e0)
            s += len(masked[s:e]) - len(masked[s:e].lstrip())
            return [_Claim("spec", masked[s:e], s, e, column)]
    for m in _HAS_A.finditer(masked, s0, e0):
        s, e = _value_span(masked, m.end(), e0)
        phrase = m.group("key")
        if any(_spec_phrase_keys(phrase, p.specs) for p in products) or _wrong_dimension(phrase, masked[s:e]):
            out.append(_Claim("spec", masked[s:e], s, e, phrase))
    for k in keys:  # "<key>: <value>" (any value), "<key> is <number>"
        ek = re.escape(k)
        for rx, needs_digit in ((rf"(?<![\w-]){ek}\s*:\s*", False),
                                (rf"(?<![\w-]){ek}\s+(?:is|are|of|rated at|rated to)\s+{_ABOUT}", True)):
            for m in re.finditer(rx, masked[:e0], re.I):
                if m.start() < s0 or any(c.start <= m.end() < c.end or m.start() <= c.start < m.end() for c in out):
                    continue
                s, e = _value_span(masked, m.end(), e0)
                if e > s and (not needs_digit or re.match(r"[-−~$€£]?\d", masked[s:e])):
                    out.append(_Claim("spec", masked[s:e], s, e, k))
    for m in re.finditer(rf"\bweigh(?:s|ing)?\s+{_ABOUT}", masked[:e0], re.I):
        if m.start() < s0 or any(c.start <= m.end() < c.end for c in out):
            continue
        s, e = _value_span(masked, m.end(), e0)
        if quantities(masked[s:e]):
            out.append(_Claim("spec", masked[s:e], s, e, "weight"))
    return out


_COMPARATOR = re.compile(r"(?P<op>under|below|less than|cheaper than|up to|over|above|more than|around|about|roughly|"
                         r"approximately|approx\.?|nearly|almost|~)\s*$", re.I)
_DISCOUNT = re.compile(r"(?:save|saving|saves|savings of|discount of|knocks?|marked down by)\s*$", re.I)
_MULTIPLE = re.compile(r"\b(?:total|for (?:\d+|two|three|four|five|six|ten)|x\s?\d|×\s?\d|\d\s?x\b|\d\s?×)", re.I)


def _price_ok(q: Quantity, p: Product, before: str, after: str, segment: str) -> bool:
    v = Decimal(q.value)
    prices = [Decimal(str(x)).quantize(Decimal("0.01")) for x in (p.price, p.sale_price) if x is not None]
    if any(v == x for x in prices):
        return True
    if _DISCOUNT.search(before) or re.match(r"\s*(?:off|discount|saving)\b", after, re.I):
        return True  # a saving, not a price
    op = _COMPARATOR.search(before)
    if op:
        word = op.group("op").lower()
        if word in ("under", "below", "less than", "cheaper than", "up to"):
            return min(prices) <= v
        if word in ("over", "above", "more than"):
            return max(prices) >= v
        return any(abs(x - v) <= v / 10 for x in prices)
    if _MULTIPLE.search(segment):
        return any(v == x * k for x in prices for k in range(2, 21))
    return False


_CALENDAR = frozenset({"day", "week", "month", "year"})


def _record_quantities(p: Product, display: str) -> set[tuple[str | None, Decimal, bool]]:
    texts = [*p.specs.values(), p.name, display, *p.sizes, p.description]
    out = {_canon(q) for t in texts for q in quantities(t) if not q.price}
    # "2 min 20 s": a bare "s" is not one of the shared units ("the 1990s"), but in a record it is seconds
    out |= {("s", Decimal(m.group(1)).normalize(), False)
            for t in texts for m in re.finditer(r"(\d+(?:\.\d+)?)\s?s\b", t)}
    return out


# --- the public checks ----------------------------------------------------------------------------------

def _prepare(answer: str, idx: _Index, default: tuple[str, ...], extra_text: str,
             quoted: Sequence[tuple[int, int]] = ()):
    chars = list(answer.replace("’", "'").replace("_", " "))
    pieces = [*idx.disclaimers, *(p for p in re.split(r"\n+|(?<=[.!?])\s+", extra_text) if p.strip())]
    _mask_disclaimers(answer, chars, pieces)
    masked = "".join(chars)
    mentions = _mentions(answer, masked, idx, chars, quoted)
    masked = "".join(chars)
    return masked, _segments(answer, masked, mentions, idx, default)


def _claims(masked: str, seg: _Seg, idx: _Index, given: set[tuple]) -> list[_Claim]:
    s0, e0 = seg.start, seg.end
    products = [idx.by_id[i] for i in seg.products if i in idx.by_id]
    out: list[_Claim] = []
    if seg.question:  # "Is it in stock?", "Want it in Moss?": asked, not claimed
        return out
    out += [_Claim("stock", phrase, s0 + s, s0 + e, state) for state, s, e, phrase in stock_states(masked[s0:e0])]
    lists = _list_claims(masked, s0, e0, idx, seg.column, given)
    specs = _spec_claims(masked, s0, e0, products, seg.column)
    out += lists + [c for c in specs if not _echoes(c.text, given)]
    taken = [(c.start, c.end) for c in lists + specs]
    for q in quantities(masked[s0:e0]):
        qs, qe = s0 + q.start, s0 + q.end
        if _given(q, given) or any(a <= qs < b for a, b in taken) or _in_a_name(masked, s0, q, idx):
            continue
        sign = "-" if masked[max(s0, qs - 1):qs] in ("-", "−") and (qs - 1 == s0 or masked[qs - 2] in " (~") else ""
        if q.price:
            out.append(_Claim("price", q.text, qs, qe, q))
        elif q.unit:
            out.append(_Claim("number", sign + q.text, qs, qe, q))
    return out


def _in_a_name(masked: str, s0: int, q: Quantity, idx: _Index) -> bool:
    """A number right after a word it follows in a product name, written loosely ("the canopy ridge 2 foot
    print" for the Canopy Ridge 2 Footprint): part of a name, not a measurement."""
    prev = re.search(r"([A-Za-z][\w'-]*)\s*$", masked[max(0, s0 + q.start - 40):s0 + q.start])
    return bool(prev) and (prev.group(1).lower(), q.value) in idx.name_numbers


def _given_numbers(texts: Iterable[str], idx: _Index) -> set[tuple]:
    """The numbers the shopper (or a disclaimer) stated, as `_canon` tuples, numbers inside product names left
    out ("the lumen beacon 1000 flashlight" gives no 1000)."""
    out = set()
    for text in texts:
        if idx.names is not None:
            text = idx.names.sub(" ", text)
        out |= {_canon(q) for q in quantities(text)}
    return out


def _given(q: Quantity, given: set[tuple]) -> bool:
    """A stated number the question or a disclaimer already holds: a price as a price or a bare number ("under
    50 bucks", "is like 190"), a number with a unit with the same unit ("my head is 57 cm")."""
    unit, value, price = _canon(q)
    if (unit, value, price) in given:
        return True
    return (price or unit is None) and ((None, value, False) in given or (None, value, True) in given)


def _echoes(value: str, given: set[tuple]) -> bool:
    """A spec value whose numbers all come from the question (or a disclaimer), with no words of its own."""
    qs = quantities(value)
    return bool(qs) and all(_given(q, given) for q in qs) and not _words(value)


def _check(c: _Claim, p: Product, idx: _Index, masked: str, seg: _Seg) -> Contradiction | None:
    """The contradiction a claim makes with one product's record, if any."""
    if c.field == "stock":
        wrong = None if p.stock in _STOCK_OK[c.value] else ("stock", c.text, _catalog_stock(p), "")
    elif c.field == "price":
        before = re.sub(r"(?:[$€£]|usd|eur|gbp)\s*$", "", masked[max(seg.start, c.start - 25):c.start], flags=re.I)
        ok = _price_ok(c.value, p, before, masked[c.end:c.end + 15], masked[seg.start:seg.end])
        wrong = None if ok else ("price", c.text, _price_text(p), "")
    elif c.field in ("colours", "sizes"):
        wrong = _list_wrong(c, p)
    elif c.field == "spec":
        wrong = _spec_wrong(c, p)
    else:
        wrong = _number_wrong(c, p, idx, masked)
    if wrong is None:
        return None
    field, claim, catalog, as_field = wrong
    claim = re.sub(r"\s+", " ", claim).strip()
    if len(claim) > 80:  # a decoding loop of sizes: enough to see it
        claim = claim[:79].rstrip(" ,") + "…"
    return Contradiction(p.id, idx.display[p.id], field, claim, catalog, as_field)


# each returns (field, claim, catalog value, as_field) of a contradiction, or None

def _list_wrong(c: _Claim, p: Product) -> tuple[str, str, str, str] | None:
    listed = p.colors if c.field == "colours" else p.sizes
    ok = _colour_listed if c.field == "colours" else _size_listed
    shown = ", ".join(listed) or "none listed"
    if c.as_field:  # sizes after "colours:" (or the reverse): wrong unless they are this field's values too
        wrong = [i for i in c.value if not ok(i, listed)]
        return (c.field, ", ".join(wrong), shown, c.as_field) if wrong else None
    if c.negated:
        denied = [i for i in c.value if ok(i, listed)]
        return (c.field, "not " + ", ".join(denied), shown, "") if denied else None
    if c.field == "sizes" and not p.sizes and all(_size_key(i) == "onesize" for i in c.value):
        return None
    wrong = [i for i in c.value if not ok(i, listed)]
    if not wrong:
        return None
    return c.field, (c.text if len(wrong) == len(c.value) else ", ".join(wrong)), shown, ""


def _spec_wrong(c: _Claim, p: Product) -> tuple[str, str, str, str] | None:
    keys = _spec_phrase_keys(c.value, p.specs)
    if not keys:  # "has a length of 330 g": a value of another dimension under a name the record lacks
        if not _wrong_dimension(c.value, c.text):
            return None
        other = next((k for k in p.specs if quantities(c.text) and value_agrees(c.text, p.specs[k])), "")
        dims = _dimensions(c.value)
        same = [f"{k} {v}" for k, v in p.specs.items() if dims & _dimensions(k)] or [
            f"{k} {v}" for k, v in p.specs.items() if dims & {_DIMENSION.get(q.unit or "") for q in quantities(v)}]
        return f"spec:{c.value.lower()}", c.text, "; ".join(same) or "not listed", other
    # "a head size of 50–57 cm, a weight reduction of 3%": the value may end at any comma
    cuts = [c.text[:m.start()] for m in re.finditer(r",\s", c.text)] + [c.text]
    if any(value_agrees(t, p.specs[k]) for k in keys for t in cuts if t.strip()):
        return None
    other = next((k for k in p.specs if k not in keys and quantities(c.text) and value_agrees(c.text, p.specs[k])),
                 "")
    if not other and p.sizes and all(_size_listed(i, p.sizes) for i in _ITEM_SPLIT.split(c.text) if i.strip()):
        other = "sizes"
    return f"spec:{keys[0]}", c.text, p.specs[keys[0]], other


def _number_wrong(c: _Claim, p: Product, idx: _Index, masked: str) -> tuple[str, str, str, str] | None:
    record = _record_quantities(p, idx.display[p.id])
    if _canon(c.value) in record:
        return None
    if c.value.unit in _CALENDAR and not any(u in _CALENDAR for u, _, _ in record):
        return None  # "a 5-day trip", "within 30 days": no record field a span of days could contradict
    if c.value.unit == "%" and p.sale_price is not None and re.match(r"\s*off\b", masked[c.end:c.end + 6], re.I):
        off = (Decimal(str(p.price)) - Decimal(str(p.sale_price))) / Decimal(str(p.price)) * 100
        if abs(off - Decimal(c.value.value)) <= 1:  # "15% off": the saving, rounded
            return None
    same = [f"{k} {v}" for k, v in p.specs.items()
            if any(_canon(q)[0] == _canon(c.value)[0] for q in quantities(v) if not q.price)]
    return "number", c.text, "; ".join(same) if same else f"no {c.text} in the record", ""


def contradictions(answer: str, records: Sequence[Product], *, kit: BrandKit | None = None,
                   default: Sequence[Product] = (), question: str = "", extra_text: str = "",
                   quoted: Sequence[tuple[int, int]] = ()) -> list[Contradiction]:
    """Claims in the answer that conflict with the record of the product they are about (see the module
    notes for attribution and for what counts as a claim); one entry per conflicting claim, in answer order.
    records: every product a claim may be about; default: the product(s) a claim is about when no product
    name precedes it; question, extra_text: their numbers (and extra_text's sentences) are never claims;
    quoted: (start, end) spans holding a record's spec values verbatim (`rag.fields.quoted_spans`), where a
    product name is part of a value and does not change what the text is about."""
    default = expand(default)  # a product grouped from variants is checked as its rows (corpus/variants.py)
    records = list({p.id: p for p in [*expand(records), *default]}.values())
    idx = _index(records, kit)
    default_ids = tuple(p.id for p in default)
    masked, segs = _prepare(answer, idx, default_ids, extra_text, quoted)
    skip = _given_numbers([question, extra_text, *idx.disclaimers], idx)
    out: list[Contradiction] = []
    for seg in segs:
        # a product sold as variant rows is each of its rows: a claim is wrong only when no row bears it out
        # ("out of stock" of the one colour that is), whichever row the segment was attributed to
        products = [idx.by_id[j] for j in dict.fromkeys(j for i in seg.products if i in idx.by_id
                                                          for j in idx.family.get(i, (i,)))]
        if not products:
            continue
        for c in _claims(masked, seg, idx, skip):
            found = [_check(c, p, idx, masked, seg) for p in products]
            if all(found) and c.field in ("colours", "sizes") and len({idx.display[p.id] for p in products}) == 1:
                found = [_check(c, _variants_of(products), idx, masked, seg)]  # one name: all its variants' values
            if all(found) and found[0] not in out:
                out.append(found[0])
    return out


def _variants_of(products: list[Product]) -> Product:
    """Variants sold under one approved name (a colour or a size per id) as one record listing every colour and
    size: "the X comes in Brown and Black" is right when one variant is brown and another black."""
    return replace(products[0], colors=tuple(dict.fromkeys(c for p in products for c in p.colors)),
                   sizes=tuple(dict.fromkeys(z for p in products for z in p.sizes)))


# --- answered -------------------------------------------------------------------------------------------

ASK_FORMS = ("price", "stock", "colours", "sizes", "colour:<value>", "size:<value>", "spec:<key>")


def ask_ok(ask: str) -> bool:
    """Whether an `asks` string has a known form (`ASK_FORMS`)."""
    if ask in ("price", "stock", "colours", "sizes"):
        return True
    kind, _, value = ask.partition(":")
    return kind in ("colour", "size", "spec") and bool(value.strip())


def _mentioned(value: str, text: str, case_sensitive: bool = False) -> list[int]:
    """Where a value is written, on whole words ("S" is not inside "S/M" or "Men's")."""
    rx = r"(?<![\w'/])" + r"\s*".join(re.escape(w) for w in value.split()) + r"(?![\w/])"
    return [m.start() for m in re.finditer(rx, text, 0 if case_sensitive else re.I)]


def _says_value(value: str, text: str, size: bool) -> tuple[bool, bool]:
    """(affirmed, denied): the value written without / with a negation before it in its sentence."""
    spots = _mentioned(value, text, case_sensitive=size and len(value) <= 3)
    if size:
        key = _size_key(value)
        for word, short in _SIZE_WORDS.items():
            if short == key:
                spots += _mentioned(word, text)
        if re.fullmatch(r"(?:us|eu|uk)\s?\d+(?:\.\d+)?", value.strip(), re.I):
            spots += [m.start(1) for m in re.finditer(r"\bsize\s+(" + re.escape(key) + r")(?!\d|\.\d)", text, re.I)]
    affirmed = denied = False
    for pos in spots:
        if _NEG_BEFORE.search(text[max(0, pos - 40):pos]):
            denied = True
        else:
            affirmed = True
    return affirmed, denied


def answered(answer: str, asks: Sequence[str], products: Sequence[Product], *,
             kit: BrandKit | None = None, quoted: Sequence[tuple[int, int]] = ()) -> tuple[bool, list[str]]:
    """Whether the answer states every asked value of every product, in the sentences (or the table row)
    about that product; and the missing ones, as "<id> <ask> <catalog value>" strings. quoted: as for
    `contradictions` (a name inside a filled spec value does not change what the text is about).

    price: the current price (the sale price when there is one; stating the regular price too is fine).
    stock: the stock state with its usual phrasings (`STOCK_PHRASES`); in stock needs an in-stock phrase,
    low stock a low-stock one ("in stock, but only a few are left"), out of stock a sold-out phrase or a
    negation ("not in stock"), pre-order a pre-order phrase.
    colours, sizes: every listed value. colour:<c>, size:<s>: yes/no: a listed value must be affirmed (written
    without a negation before it); an unlisted one denied (written after a negation, or "not"/"no"/"only"
    with no affirmation of it) or answered by listing every real value without it.
    spec:<key>: the spec's value, with the numeric folding of `fact_present` (not asked of a product whose
    record lacks the key)."""
    products = list(products)
    idx = _index(products, kit)
    default = tuple(p.id for p in products) if len(products) == 1 else ()
    masked, segs = _prepare(answer, idx, default, "", quoted)
    missing: list[str] = []
    for p in products:
        mine = [s for s in segs if p.id in s.products]
        text = "\n".join(masked[s.start:s.end] for s in mine)
        claims = [c for s in mine for c in _claims(masked, s, idx, set())]
        for ask in asks:
            if ask.startswith("spec:") and _spec_key(ask[5:], p) is None:
                continue  # a comparison may ask a spec that only some of its products list
            if not _ask_stated(ask, p, text, claims):
                missing.append(f"{p.id} {ask} {_expected(ask, p)}")
    return not missing, missing


# the stock phrases that state a catalog state (saying "in stock" of a low-stock product is true, but does not
# tell the shopper that only a few are left; "not in stock" of a pre-order product does not say it can be ordered)
_STATES_STATING = {Stock.IN_STOCK: {"in_stock"}, Stock.LOW_STOCK: {"low_stock"},
                   Stock.OUT_OF_STOCK: {"out_of_stock", "not_in_stock"}, Stock.PREORDER: {"preorder"}}
_DENIAL = re.compile(r"(?:\b(?:no|not|only)\b|n't\b)[^.;]{0,40}?\b(?:colou?rs?|sizes?|comes?|available in|offered in|"
                     r"made in|in)\b(?!\s+stock)", re.I)


def _expected(ask: str, p: Product) -> str:
    kind, _, value = ask.partition(":")
    if ask == "price":
        return _price_text(p)
    if ask == "stock":
        return _catalog_stock(p)
    if ask in ("colours", "sizes"):
        return ", ".join(p.colors if ask == "colours" else p.sizes) or "none listed"
    if kind in ("colour", "size"):
        listed = p.colors if kind == "colour" else p.sizes
        yes = (_colour_listed if kind == "colour" else _size_listed)(value, listed)
        return f"{'yes' if yes else 'no'} ({kind}s: {', '.join(listed) or 'none listed'})"
    return p.specs.get(_spec_key(value, p) or "", "(no such spec)")


def _spec_key(key: str, p: Product) -> str | None:
    return next((k for k in p.specs if k.lower() == key.strip().lower()), None)


def _ask_stated(ask: str, p: Product, text: str, claims: list[_Claim]) -> bool:
    kind, _, value = ask.partition(":")
    if ask == "price":
        want = Decimal(str(p.current_price)).quantize(Decimal("0.01"))
        return any(c.field == "price" and Decimal(c.value.value) == want for c in claims)
    if ask == "stock":
        return bool({c.value for c in claims if c.field == "stock"} & _STATES_STATING[p.stock])
    if ask == "colours":
        return all(_says_value(c, text, False)[0] for c in p.colors)
    if ask == "sizes":
        return all(_says_value(s, text, True)[0] for s in p.sizes)
    if kind in ("colour", "size"):
        listed = p.colors if kind == "colour" else p.sizes
        is_size = kind == "size"
        if (_size_listed if is_size else _colour_listed)(value, listed):
            names = [v for v in listed if (_size_listed if is_size else _colour_listed)(value, [v])]
            return any(_says_value(v, text, is_size)[0] for v in [value, *names])
        affirmed, denied = _says_value(value, text, is_size)
        if affirmed:
            return False
        if denied or _DENIAL.search(text):
            return True
        return bool(listed) and all(_says_value(v, text, is_size)[0] for v in listed)
    if kind == "spec":
        key = _spec_key(value, p)
        return key is not None and fact_present(p.specs[key], text)
    return False


# --- clean ----------------------------------------------------------------------------------------------

_PROSE_WORDS = frozenset("the a an is are was my your our this that here answer it its yes no so i we you "
                         "sure ok okay tip".split())  # "The answer is: 9.8" is prose, "Climbing: 2" is a pasted line
_CONTEXT_KEYS = frozenset({"product", "line", "price", "stock", "sizes", "colours", "colors", "note", "description"})
_KEY_LINE = re.compile(r"^(?P<key>[A-Z][\w'’()/.-]*(?:[ ][\w'’()/.-]+){0,3}):[ \t]+(?P<value>\S.*?)\s*$")


def _sources(sources_text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in sources_text.splitlines():
        m = _KEY_LINE.match(line.strip())
        if m and m.group("key").lower() not in ("product", "description", "note"):
            out.setdefault(m.group("key").lower(), []).append(m.group("value"))
    return out


def _sentences(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        if line.count("|") >= 2 or _SEPARATOR.match(line):
            continue
        out += [s.strip() for s in re.split(r"(?<=[.!?])\s+", line) if s.strip()]
    return out


def _quote(s: str, n: int = 80) -> str:
    s = re.sub(r"\s+", " ", s).strip()
    return f"'{s}'" if len(s) <= n else f"'{s[:n - 1].rstrip()}…'"


def clean_problems(answer: str, sources_text: str = "", kit: BrandKit | None = None,
                   filled: Sequence[tuple[int, int]] = ()) -> list[str]:
    """What makes an answer unclean, one short string per problem; [] when clean.

    - "repeats": a sentence of five or more words (a disclaimer too) written twice, a cut-off copy of an
      earlier sentence at the end, or a run of four words three times in one sentence (a decoding loop; not
      counted inside `filled` spans, values filled from the catalog, nor when the sources repeat it too);
    - "copies context line": a bare line "Key: value" (not a bullet, no sentence end) whose key is a context
      field (Price, Stock, Note, ...), a key of the sources, or that copies a source line, or any such short
      line ("Climbing: 2");
    - "field name as prose": "has a <field> of <value>" where the value is not that field's in the sources,
      names no field and matches no source value, or has a unit of another dimension ("a length of 330 g").
    """
    problems: list[str] = []
    sentences = _sentences(answer)
    norm = [re.sub(r"[\s.!?]+$", "", re.sub(r"\s+", " ", s.lower())) for s in sentences]
    disclaimers = [d.text for d in kit.disclaimers] if kit else []
    reported: set[str] = set()
    for i, (s, n) in enumerate(zip(sentences, norm)):
        if len(n.split()) >= 5 and n in norm[:i] and n not in reported:
            # one problem per repeated disclaimer, however many of its sentences come back
            whole = next((d.lower() for d in disclaimers if n in re.sub(r"\s+", " ", d.lower())), n)
            if whole not in reported:
                problems.append(f"repeats: {_quote(s)}")
            reported |= {n, whole}
    if sentences and not re.search(r"[.!?\"')]$", sentences[-1]) and len(norm[-1].split()) >= 5:
        if any(earlier.startswith(norm[-1]) and earlier != norm[-1] for earlier in norm[:-1]):
            problems.append(f"repeats: {_quote(sentences[-1])} (cut off)")
    # a run the sources themselves repeat is the catalog's wording, quoted ("size guide S fits US men's 4-6.5,
    # M fits US men's 7-9.5, L fits US men's 10-12.5"), not a decoding loop
    src_words = re.findall(r"\w+", sources_text.lower())
    src_grams = Counter(" ".join(src_words[i:i + 4]) for i in range(len(src_words) - 3))
    unfilled = list(answer)
    for start, end in filled:  # a filled value is the catalog's text, quoted: blanked for the loop check
        unfilled[start:end] = " " * (end - start)
    for s in _sentences("".join(unfilled)):
        words = re.findall(r"\w+", s.lower())
        grams = [" ".join(words[i:i + 4]) for i in range(len(words) - 3)]
        loop = next((g for g in dict.fromkeys(grams) if grams.count(g) >= 3 and src_grams[g] < 3), None)
        if loop:
            problems.append(f"repeats: {_quote(loop)} (a loop)")
    src = _sources(sources_text)
    source_lines = {re.sub(r"\s+", " ", ln.strip().lower()) for ln in sources_text.splitlines() if ln.strip()}
    for line in answer.splitlines():
        m = _KEY_LINE.match(line.strip())
        if not m or "|" in line:
            continue
        key, value = m.group("key").lower(), m.group("value")
        short = len(value.split()) <= 8 and not re.search(r"[.!?]$", value)
        field_like = len(key.split()) <= 3 and not set(re.findall(r"[a-z']+", key)) & _PROSE_WORDS
        if re.sub(r"\s+", " ", line.strip().lower()) in source_lines or (short and (
                key in _CONTEXT_KEYS or key in src or field_like)):
            problems.append(f"copies context line: {_quote(line.strip())}")
    # values a made-up field name may carry: the specs', not the overview's ("a roomy toe box of US 7, US 7.5")
    values = [v for k, vs in src.items() if k not in _CONTEXT_KEYS for v in vs]
    notes = disclaimers + [m.group(1) for m in re.finditer(r"^Note:\s*(.+)$", sources_text, re.M)]
    overview = [v for k, vs in src.items() if k in ("sizes", "colours", "colors") for v in vs]
    for m in _HAS_A.finditer(answer):
        s, e = _value_span(answer, m.end(), len(answer))
        value, phrase = answer[s:e], m.group("key")
        if not value.strip() or not re.match(r"ha[sv]e?\s+an?\s", m.group(0), re.I) or phrase.lower() in _NOT_FIELDS:
            continue  # the template is "has a <field> of <value>"; "with a lot of", "offers a range of" are prose
        said = answer[m.start():e]
        if _is_note(answer[s:], notes):  # "has a pattern of 'Prices may change; ...'": a note as a value
            problems.append(f"field name as prose: {_quote(said)}")
            continue
        if (not re.match(r"[-−~$€£]?\d", value) and not _spec_phrase_keys(phrase, dict.fromkeys(src, ""))
                and not _is_listed(value, overview)):
            continue  # "has a different brand of light source": words about no field
        keys = _spec_phrase_keys(phrase, dict.fromkeys(src, ""))
        if keys:  # a field of the sources: its value, or one item of a list field
            fits = any(value_agrees(value, v) or all(value_agrees(i, v) for i in _ITEM_SPLIT.split(value) if i.strip())
                       for k in keys for v in src[k])
        elif _wrong_dimension(phrase, value):
            fits = False
        else:  # a name the sources lack: fine when it carries one of their spec values
            fits = not src or any(value_agrees(value, v) for v in values)
        if not fits:
            problems.append(f"field name as prose: {_quote(said)}")
    return list(dict.fromkeys(problems))


def _is_listed(value: str, lists: list[str]) -> bool:
    """Every item of the value is an item of one of the lists ("US 7, US 7.5" of the sizes)."""
    items = [i.strip().lower() for i in _ITEM_SPLIT.split(value) if i.strip()]
    return bool(items) and any(set(items) <= {x.strip().lower() for x in _ITEM_SPLIT.split(lst)} for lst in lists)


def _is_note(text: str, notes: list[str]) -> bool:
    """The text starts with (four words or more of) a disclaimer or note, quoted or not."""
    def words(t: str) -> list[str]:
        return re.findall(r"\w+(?:['’]\w+)*", t.lower())

    head = words(text)[:4]  # four whole words: a note cut off mid-word still counts
    return len(head) == 4 and any(words(n)[:4] == head for n in notes)
