"""Deterministic brand checks on a piece of text, shared by lint, the dataset builder, the evaluation
metrics and the app's guardrail badges — one definition of "deprecated", "generic", "misspelt",
"disclaimer required".

Matching rules:
- names, aliases and generic terms match case-insensitively on word boundaries;
- an alias inside an approved name ("Summit 30 Pack" in "TrailForm Summit 30 Pack") is not a hit;
- "formerly (the) <alias>" / "previously (the) <alias>" is allowed: the kit's tone rules permit naming an
  old name to say the product was renamed;
- an alias that stood for several products (`kit.shared_aliases`) is a hit like any other; its mention's
  canonical text names every product it can mean ("A or B");
- trademark misspellings match case-sensitively ("Hydrolock" is wrong, "HydroLock" is right);
- the approved name is the truth: a misspelling that is part of an approved name (a legacy spelling kept in a
  real product name, "Glide Aerospring Classic") is not a hit inside that name, nor in a short form of it
  made of the misspelling and the name's word right before or after it ("the Aerospring Classic"), both
  case-sensitive; elsewhere ("an Aerospring midsole") it still is;
- a generic term is excused only when its branded replacement appears with its capitals ("Belay", not
  "belay loop").

Grounding rules (`ungrounded_numbers`, `unknown_products`):
- a stated number is a run of digits ("59.50", "1,299.00", "2,800"), optionally with a currency
  ("$59.50", "59.50 USD", "50 bucks") and/or a known unit right after it ("1.2 kg", "28L", "800-fill",
  "60 days"; `_UNITS` lists them, with spelling variants folded: "litres" = "L", "lumens" = "lm"). A range
  ("40–53 cm", "5 to 10 kg") is two numbers sharing the unit. Values compare as decimals, so "$1,299.00" =
  "$1299" and "59.5" = "59.50"; the sign is ignored ("-7 °C" is 7 °C); words ("two") are not numbers;
  digits glued to letters in front ("x3", "AB12") are part of a code, not a number;
- a price is grounded when the sources state that value as a price; a number with a unit when the sources
  state that value with the same unit; a bare number when the sources state that value at all;
- not checked: numbers inside an approved name, a deprecated alias, or a short form of one found in the
  answer ("TrailForm 28" of "TrailForm 28 Daypack"); values that appear in the question (the shopper said
  them); numbers the kit's disclaimer texts state, with the same unit (kit policy: "within 60 days"); ordered-
  list markers ("1. ") at the start of a line; values filled verbatim from a retrieved record (`skip`);
- a product-like name is a phrase that starts with one of the merchant's line names (each generic term's
  `use_instead`, the first word of every approved name, and a first word two or more catalog names share;
  capitalised, at least 3 letters), matched case-sensitively, followed by capitalised words or numbers on the same
  line (up to a lowercase word, a common function word, or sentence punctuation). It is known when every one
  of its tokens (case-insensitive, numbers by value, brackets and "'s" dropped) appears in one approved name,
  alias or catalog name, so a short form ("the Storm Jacket", "the TrailForm 28") is fine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Sequence

from corpus.brandkit import BrandKit, Disclaimer
from corpus.schema import Product

_PRICE = re.compile(r"(?:[$€£]\s?\d[\d,]*(?:\.\d+)?)|(?:\b\d[\d,]*(?:\.\d{2})?\s?(?:usd|eur|gbp|dollars?)\b)"
                    r"|(?:\b(?:usd|eur|gbp)\s?\d[\d,]*(?:\.\d+)?)", re.I)
_RENAMED = re.compile(r"(?:formerly|previously|once called|renamed from)\s+(?:known as\s+)?(?:the\s+)?$", re.I)


@dataclass(frozen=True)
class Mention:
    term: str  # as found in the text
    canonical: str  # the approved name / replacement / trademark it stands for
    start: int


def _pattern(term: str, flags=re.I) -> re.Pattern:
    # a hyphen is a boundary: "Trekker 28-litre" and "Hydrolock-lined" still name the thing
    return re.compile(r"(?<!\w)" + re.escape(term) + r"(?!\w)", flags)


_COMPILED: dict[int, tuple[BrandKit, dict]] = {}  # id -> (kit, patterns); the kit is held so ids stay unique


def _c(kit: BrandKit) -> dict:
    hit = _COMPILED.get(id(kit))
    if hit is None or hit[0] is not kit:
        if len(_COMPILED) > 32:
            _COMPILED.clear()
        hit = _COMPILED[id(kit)] = (kit, _compile(kit))
    return hit[1]


def _compile(kit: BrandKit) -> dict:
    approved = sorted(dict.fromkeys(kit.products.values()), key=len, reverse=True)  # variants share a name: once
    aliases = sorted(kit.alias_targets().items(), key=lambda x: -len(x[0]))
    misspellings = [m for t in kit.trademarks for m in t.misspellings]
    return {
        "approved": [(_pattern(n), n) for n in approved],
        "aliases": [(_pattern(a), a, " or ".join(names)) for a, names in aliases],
        "generic": [(_pattern(g.term), g) for g in kit.generic_terms],
        "misspelt": [(_pattern(m, 0), m, t.mark) for t in kit.trademarks for m in t.misspellings],
        "kept": _kept_forms(approved, misspellings),
        "shared": _shared_bases(approved),
    }


_QUALIFIER = re.compile(r"\s*\([^()]*\)\s*$")  # "(Men's)", "(Regular)": what tells siblings apart


def _shared_bases(approved: list[str]) -> list[tuple[re.Pattern, str, tuple[str, ...]]]:
    """Names two or more approved names share once their trailing qualifier is cut, longest first, each
    with the names it stands for ("Ridgeline Storm Jacket": "... (Men's)", "... (Women's)")."""
    bases: dict[str, list[str]] = {}
    for name in approved:
        base = _QUALIFIER.sub("", name)
        if base != name:
            bases.setdefault(base, []).append(name)
    return [(_pattern(b), b, tuple(ns)) for b, ns in sorted(bases.items(), key=lambda x: -len(x[0]))
            if len(ns) > 1]


def _kept_forms(approved: list[str], misspellings: list[str]) -> list[re.Pattern]:
    """Short forms of approved names that keep a misspelt mark: the misspelling with the name's word right
    before or after it, case-sensitive ("Aerospring Classic" of "Glide Aerospring Classic")."""
    out = []
    for name in approved:
        for wrong in misspellings:
            for m in _pattern(wrong, 0).finditer(name):
                before, after = name[:m.start()].split(), name[m.end():].split()
                if before:
                    out.append(_pattern(f"{before[-1]} {wrong}", 0))
                if after:
                    out.append(_pattern(f"{wrong} {after[0]}", 0))
    return out


def _spans(pattern: re.Pattern, text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


def find_approved(text: str, kit: BrandKit) -> list[Mention]:
    """Approved product names in the text, longest first, non-overlapping."""
    taken: list[tuple[int, int]] = []
    out = []
    for pat, name in _c(kit)["approved"]:
        for s, e in _spans(pat, text):
            if not any(s < te and ts < e for ts, te in taken):
                taken.append((s, e))
                out.append(Mention(text[s:e], name, s))
    return sorted(out, key=lambda m: m.start)


def find_deprecated(text: str, kit: BrandKit, allow_renamed: bool = True) -> list[Mention]:
    """Deprecated aliases used in the text (not inside an approved name, not in "formerly the X")."""
    approved_spans = [(m.start, m.start + len(m.term)) for m in find_approved(text, kit)]
    taken: list[tuple[int, int]] = []
    out = []
    for pat, alias, name in _c(kit)["aliases"]:
        for s, e in _spans(pat, text):
            if any(as_ <= s and e <= ae for as_, ae in approved_spans):
                continue
            if any(s < te and ts < e for ts, te in taken):
                continue
            if allow_renamed and _RENAMED.search(text[max(0, s - 40):s]):
                continue
            taken.append((s, e))
            out.append(Mention(text[s:e], name, s))
    return sorted(out, key=lambda m: m.start)


def find_generic(text: str, kit: BrandKit) -> list[Mention]:
    """Generic labels standing in for a branded line: the term appears and the line/product it should
    have been ("use_instead") does not appear anywhere in the text."""
    out = []
    for pat, g in _c(kit)["generic"]:
        if _pattern(g.use_instead, 0).search(text):  # case-sensitive: "Belay" the line, not "belay loop"
            continue
        out += [Mention(text[s:e], g.use_instead, s) for s, e in _spans(pat, text)]
    return sorted(out, key=lambda m: m.start)


def find_incomplete_names(text: str, kit: BrandKit) -> list[Mention]:
    """A name that sibling products share, written without the qualifier that tells them apart ("The
    Ridgeline Storm Jacket is out of stock" where the kit approves "Ridgeline Storm Jacket (Men's)" and
    "(Women's)"; "Summit Sole Highpass Boot Men's"): not an approved name, and a shopper cannot tell which
    product is meant. Not inside an approved name; canonical lists the names it could stand for."""
    taken = [(m.start, m.start + len(m.term)) for m in find_approved(text, kit)]
    out = []
    for pat, _base, names in _c(kit)["shared"]:
        for s, e in _spans(pat, text):
            if not any(s < te and ts < e for ts, te in taken):
                taken.append((s, e))
                out.append(Mention(text[s:e], " or ".join(names), s))
    return sorted(out, key=lambda m: m.start)


def find_misspelt_trademarks(text: str, kit: BrandKit) -> list[Mention]:
    """Misspelt trademarks, except inside an approved name or its short form (see the module notes)."""
    compiled = _c(kit)
    out = []
    kept: list[tuple[int, int]] | None = None
    for pat, wrong, mark in compiled["misspelt"]:
        for s, e in _spans(pat, text):
            if kept is None:  # only where a misspelling occurs at all
                kept = [(m.start, m.start + len(m.term)) for m in find_approved(text, kit)]
                kept += [span for p in compiled["kept"] for span in _spans(p, text)]
            if not any(ks <= s and e <= ke for ks, ke in kept):
                out.append(Mention(text[s:e], mark, s))
    return sorted(out, key=lambda m: m.start)


def mentions_price(text: str) -> bool:
    return bool(_PRICE.search(text))


def prices_in(text: str) -> list[str]:
    return [m.group(0) for m in _PRICE.finditer(text)]


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def without_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The text with each (start, end) span blanked (same length, so later offsets still hold)."""
    chars = list(text)
    for a, b in spans:
        chars[a:b] = " " * (min(b, len(chars)) - a)
    return "".join(chars)


def disclaimer_required(d: Disclaimer, question: str, answer: str, products: list[Product],
                        quoted: Sequence[tuple[int, int]] = ()) -> bool:
    """The disclaimer's `when` is an OR of: a price stated in the answer; a product of a listed
    category/collection among those the answer concerns; a keyword in the question or the answer.
    quoted: spans of the answer that are catalog spec values filled in verbatim (`rag.fields.quoted_spans`);
    a keyword there ("size 196 x 66 cm" in a pad's specs) is the record's wording, not sizing advice, and
    does not require the note: the model cannot see what a `[[specs]]` reference will hold."""
    answer = without_spans(answer, quoted)
    if d.mentions_price and mentions_price(answer):
        return True
    if any(_bound_to(d, p) for p in products):
        return True
    both = f"{question}\n{answer}"
    return any(_pattern(k).search(both) for k in d.keywords)


def _bound_to(d: Disclaimer, p: Product) -> bool:
    """The disclaimer names the product's category or collection."""
    return (p.category.lower() in {c.lower() for c in d.categories}
            or p.collection.lower() in {c.lower() for c in d.collections})


def product_disclaimers(p: Product, kit: BrandKit) -> list[Disclaimer]:
    """The kit's disclaimers every answer about this product needs: those bound to its category or line."""
    return [d for d in kit.disclaimers if _bound_to(d, p)]


def required_disclaimers(kit: BrandKit, question: str, answer: str, products: list[Product],
                         quoted: Sequence[tuple[int, int]] = ()) -> list[Disclaimer]:
    return [d for d in kit.disclaimers if disclaimer_required(d, question, answer, products, quoted)]


def disclaimer_present(d: Disclaimer, answer: str) -> bool:
    return _normalise(d.text) in _normalise(answer)


def missing_disclaimers(kit: BrandKit, question: str, answer: str, products: list[Product],
                        quoted: Sequence[tuple[int, int]] = ()) -> list[Disclaimer]:
    return [d for d in required_disclaimers(kit, question, answer, products, quoted)
            if not disclaimer_present(d, answer)]


def unneeded_disclaimers(kit: BrandKit, question: str, answer: str, products: list[Product],
                         quoted: Sequence[tuple[int, int]] = ()) -> list[Disclaimer]:
    """Kit disclaimers the answer carries although their condition does not hold for it: a climbing note on a
    rain jacket. The condition is judged on the answer without the kit's disclaimer texts (the sizing note's
    own word "size" does not make it required)."""
    present = [d for d in kit.disclaimers if disclaimer_present(d, answer)]
    body = without_spans(answer, quoted)
    for d in kit.disclaimers:
        body = re.sub(re.escape(d.text), " ", body, flags=re.I)
    return [d for d in present if not disclaimer_required(d, question, body, products)]


# --- grounding: stated numbers against the retrieved sources, product names against the catalog ---------

# unit as written (lowercase) -> one spelling; only these count as a number's unit. Left out on purpose: "in"
# ("size 10 in the boot"), '"' (a quoted "Trekker 28"), a bare "s" ("the 1990s")
_UNITS = {
    **dict.fromkeys(["g", "gram", "grams"], "g"), **dict.fromkeys(["kg", "kgs", "kilo", "kilos", "kilogram",
                                                                  "kilograms"], "kg"),
    **dict.fromkeys(["lb", "lbs", "pound", "pounds"], "lb"), **dict.fromkeys(["oz", "ounce", "ounces"], "oz"),
    **dict.fromkeys(["l", "litre", "litres", "liter", "liters"], "l"),
    **dict.fromkeys(["ml", "millilitre", "millilitres", "milliliter", "milliliters"], "ml"),
    **dict.fromkeys(["qt", "quart", "quarts"], "qt"),
    **dict.fromkeys(["mm", "millimetre", "millimetres", "millimeter", "millimeters"], "mm"),
    **dict.fromkeys(["cm", "centimetre", "centimetres", "centimeter", "centimeters"], "cm"),
    **dict.fromkeys(["m", "metre", "metres", "meter", "meters"], "m"),
    **dict.fromkeys(["km", "kilometre", "kilometres", "kilometer", "kilometers"], "km"),
    **dict.fromkeys(["inch", "inches"], "in"), **dict.fromkeys(["ft", "foot", "feet"], "ft"),
    **dict.fromkeys(["sec", "secs", "second", "seconds"], "s"),
    **dict.fromkeys(["min", "mins", "minute", "minutes"], "min"),
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours"], "h"), **dict.fromkeys(["day", "days"], "day"),
    **dict.fromkeys(["week", "weeks"], "week"), **dict.fromkeys(["month", "months"], "month"),
    **dict.fromkeys(["year", "years", "yr", "yrs"], "year"),
    **dict.fromkeys(["w", "watt", "watts"], "w"), **dict.fromkeys(["kw"], "kw"),
    **dict.fromkeys(["lm", "lumen", "lumens"], "lm"), **dict.fromkeys(["mah"], "mah"),
    **dict.fromkeys(["v", "volt", "volts"], "v"), **dict.fromkeys(["kn"], "kn"),
    **dict.fromkeys(["°c", "ºc", "° c"], "°c"), **dict.fromkeys(["°f", "ºf", "° f"], "°f"),
    **dict.fromkeys(["%", "percent", "per cent"], "%"), **dict.fromkeys(["fill"], "fill"),
    **dict.fromkeys(["bar"], "bar"), **dict.fromkeys(["psi"], "psi"), **dict.fromkeys(["ppm"], "ppm"),
    **dict.fromkeys(["cup", "cups"], "cup"), **dict.fromkeys(["shot", "shots"], "shot"),
    **dict.fromkeys(["rpm"], "rpm"), **dict.fromkeys(["gb"], "gb"),
}
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_UNIT_RX = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_CUR_AFTER = r"usd|eur|gbp|dollars?|bucks|euros?|pounds sterling"
_NUMBER = re.compile(
    rf"(?<![\w.,])(?<![A-Za-z]-)(?P<cur>[$€£]\s?|(?:usd|eur|gbp)\s?)?(?P<a>{_NUM})"
    rf"(?:\s*(?:[-–—]|to)\s*(?:[$€£]\s?)?(?P<b>{_NUM}))?"
    rf"(?:\s?(?P<after>{_CUR_AFTER})(?!\w)|\s?-?\s?(?P<unit>{_UNIT_RX})(?!\w))?", re.I)


@dataclass(frozen=True)
class Quantity:
    """A number stated in a text: its value as a canonical decimal string, unit, whether it is a price."""

    text: str  # as written, with its currency and unit
    value: str  # "1299", "59.5"
    unit: str | None  # canonical unit, None for a bare number or a price
    price: bool
    start: int  # where its digits start
    end: int  # where the whole mention (unit included) ends


def _value(num: str) -> str:
    """'1,299.00' -> '1299', '59.50' -> '59.5': the number, not its spelling."""
    return format(Decimal(num.replace(",", "")).normalize(), "f")


def quantities(text: str) -> list[Quantity]:
    """Every number stated in the text (a range gives two), with its unit or currency; see module notes."""
    out = []
    for m in _NUMBER.finditer(text):
        price = bool(m.group("cur") or m.group("after"))
        unit = None if price or not m.group("unit") else _UNITS[m.group("unit").lower()]
        for g in ("a", "b"):
            if m.group(g):
                out.append(Quantity(m.group(0).strip(), _value(m.group(g)), unit, price, m.start(g), m.end()))
    return out


def _list_marker(text: str, q: Quantity) -> bool:
    """'1. Pack a layer' / '2) ...' at the start of a line: numbering, not a stated fact."""
    line_start = text.rfind("\n", 0, q.start) + 1
    return (not text[line_start:q.start].strip() and q.unit is None and not q.price
            and text[q.end:q.end + 2] in (". ", ") ", ".\n", ")\n"))


def _grounded(q: Quantity, sources: list[Quantity]) -> bool:
    if q.price:
        return any(s.price and s.value == q.value for s in sources)
    if q.unit:
        return any(s.unit == q.unit and s.value == q.value for s in sources)
    return any(s.value == q.value for s in sources)


_STOP = frozenset({"a", "an", "and", "are", "at", "but", "by", "for", "from", "has", "i", "if", "in", "is", "it",
                   "its", "of", "on", "or", "our", "so", "that", "the", "this", "to", "we", "with", "yes", "no",
                   "you", "your"})
_TOKEN_EDGE = "()[]{}\"'“”‘’*_,.;:!?"


def _norm_token(tok: str) -> str:
    t = tok.strip(_TOKEN_EDGE).lower().replace("’", "'")
    if t.endswith("'s"):
        t = t[:-2]
    num = re.match(_NUM, t)
    return _value(num.group(0)) if num else t


def _name_tokens(names: Iterable[str]) -> list[frozenset[str]]:
    return [frozenset(filter(None, (_norm_token(t) for t in n.split()))) for n in names]


def line_names(kit: BrandKit, catalog_names: Iterable[str] = ()) -> list[str]:
    """The merchant's line names, longest first: each generic term's replacement, the first word of every
    approved name, and the first word that two or more catalog names share (a one-off legacy name such as
    "Camp Kitchen 2" does not make "Camp" a line)."""
    def first(name: str) -> str:
        word = name.split()[0].strip(_TOKEN_EDGE) if name.split() else ""
        return word if len(word) >= 3 and word[:1].isupper() and word.lower() not in _STOP else ""

    shared: dict[str, int] = {}
    for name in set(catalog_names):
        shared[first(name)] = shared.get(first(name), 0) + 1
    lines = {g.use_instead for g in kit.generic_terms} | {first(n) for n in kit.products.values()}
    lines |= {w for w, n in shared.items() if n >= 2}
    return sorted(lines - {""}, key=lambda w: (-len(w), w))


_NEXT_WORD = re.compile(r"[ \t]+(\S+)")
_CLOSERS = ")]}\"'’”*"


def _product_phrases(text: str, lines: list[str]) -> list[tuple[int, int, list[str]]]:
    """(start, end, normalised tokens) of each line name followed by capitalised words or numbers."""
    taken: list[tuple[int, int]] = []
    out = []
    for line in lines:
        for m in _pattern(line, 0).finditer(text):
            if any(s <= m.start() < e for s, e in taken):
                continue
            toks = [_norm_token(t) for t in line.split()]
            end = m.end()
            while True:
                w = _NEXT_WORD.match(text, end)
                core = w.group(1).strip(_TOKEN_EDGE) if w else ""
                if not core or not (core[:1].isupper() or core[:1].isdigit()) or core.lower() in _STOP:
                    break
                toks.append(_norm_token(w.group(1)))
                end = w.end()
                if w.group(1).rstrip(_CLOSERS)[-1:] in tuple(".,;:!?"):
                    break
            if len(toks) > len(line.split()):
                taken.append((m.start(), end))
                out.append((m.start(), end, [t for t in toks if t]))
    return sorted(out)


def _known(tokens: list[str], names: list[frozenset[str]]) -> bool:
    need = set(tokens)
    return any(need <= n for n in names)


def _kit_names(kit: BrandKit) -> list[str]:
    return [*dict.fromkeys(kit.products.values()), *kit.alias_targets()]


def unknown_products(answer: str, kit: BrandKit, catalog_names: Iterable[str]) -> list[str]:
    """Product-like names in the answer that no approved name, deprecated alias or catalog name contains
    (see the module notes); each phrase as written, once."""
    catalog_names = list(catalog_names)
    names = _name_tokens([*_kit_names(kit), *catalog_names])
    found = []
    for s, e, toks in _product_phrases(answer, line_names(kit, catalog_names)):
        if not _known(toks, names):
            phrase = answer[s:e].rstrip(".,;:!?")
            if phrase.count(")") > phrase.count("("):
                phrase = phrase.rstrip(")")
            if phrase not in found:
                found.append(phrase)
    return found


def ungrounded_numbers(answer: str, sources_text: str, question: str = "", kit: BrandKit | None = None,
                       skip: Sequence[tuple[int, int]] = ()) -> list[str]:
    """Prices and numbers stated in the answer that the sources text does not state (see the module notes);
    each as written in the answer, once. skip: (start, end) spans of values filled verbatim from a retrieved
    record (`rag.fields.filled_spans`), grounded in retrieval by construction."""
    sources = quantities(sources_text or "")
    asked = {q.value for q in quantities(question)}
    policy = {(q.value, q.unit, q.price) for d in (kit.disclaimers if kit else ()) for q in quantities(d.text)}
    names: list[tuple[int, int]] = list(skip)
    if kit is not None:
        names += [(m.start, m.start + len(m.term)) for m in find_approved(answer, kit)]
        names += [(m.start, m.start + len(m.term)) for m in find_deprecated(answer, kit, allow_renamed=False)]
        known = _name_tokens(_kit_names(kit))
        names += [(s, e) for s, e, toks in _product_phrases(answer, line_names(kit)) if _known(toks, known)]
    out = []
    for q in quantities(answer):
        if q.value in asked or (q.value, q.unit, q.price) in policy or _list_marker(answer, q):
            continue
        if any(s <= q.start < e for s, e in names):  # "28" of "TrailForm 28 Daypack"
            continue
        if not _grounded(q, sources) and q.text not in out:
            out.append(q.text)
    return out

