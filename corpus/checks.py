"""Deterministic brand checks on a piece of text, shared by lint, the dataset builder, the evaluation
metrics and the app's guardrail badges — one definition of "deprecated", "generic", "misspelt",
"disclaimer required".

Matching rules:
- names, aliases and generic terms match case-insensitively on word boundaries;
- an alias inside an approved name ("Summit 30 Pack" in "TrailForm Summit 30 Pack") is not a hit;
- "formerly (the) <alias>" / "previously (the) <alias>" is allowed: the kit's tone rules permit naming an
  old name to say the product was renamed;
- trademark misspellings match case-sensitively ("Hydrolock" is wrong, "HydroLock" is right);
- a generic term is excused only when its branded replacement appears with its capitals ("Belay", not
  "belay loop").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    approved = sorted(kit.products.values(), key=len, reverse=True)
    return {
        "approved": [(_pattern(n), n) for n in approved],
        "aliases": [(_pattern(a), a, n) for a, n in sorted(kit.deprecated_aliases.items(), key=lambda x: -len(x[0]))],
        "generic": [(_pattern(g.term), g) for g in kit.generic_terms],
        "misspelt": [(_pattern(m, 0), m, t.mark) for t in kit.trademarks for m in t.misspellings],
    }


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


def find_misspelt_trademarks(text: str, kit: BrandKit) -> list[Mention]:
    out = []
    for pat, wrong, mark in _c(kit)["misspelt"]:
        out += [Mention(text[s:e], mark, s) for s, e in _spans(pat, text)]
    return sorted(out, key=lambda m: m.start)


def mentions_price(text: str) -> bool:
    return bool(_PRICE.search(text))


def prices_in(text: str) -> list[str]:
    return [m.group(0) for m in _PRICE.finditer(text)]


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def disclaimer_required(d: Disclaimer, question: str, answer: str, products: list[Product]) -> bool:
    """The disclaimer's `when` is an OR of: a price stated in the answer; a product of a listed
    category/collection among those the answer concerns; a keyword in the question or the answer."""
    if d.mentions_price and mentions_price(answer):
        return True
    cats = {c.lower() for c in d.categories}
    cols = {c.lower() for c in d.collections}
    if any(p.category.lower() in cats or p.collection.lower() in cols for p in products):
        return True
    both = f"{question}\n{answer}"
    return any(_pattern(k).search(both) for k in d.keywords)


def required_disclaimers(kit: BrandKit, question: str, answer: str, products: list[Product]) -> list[Disclaimer]:
    return [d for d in kit.disclaimers if disclaimer_required(d, question, answer, products)]


def disclaimer_present(d: Disclaimer, answer: str) -> bool:
    return _normalise(d.text) in _normalise(answer)


def missing_disclaimers(kit: BrandKit, question: str, answer: str, products: list[Product]) -> list[Disclaimer]:
    return [d for d in required_disclaimers(kit, question, answer, products) if not disclaimer_present(d, answer)]
