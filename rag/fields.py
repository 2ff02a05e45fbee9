"""Catalog field references in answers: the model names a field, the value comes verbatim from the record.

The adapter is trained to write values it would otherwise copy from the context as references:

    "The Canopy Flat Tarp 2x3 is [[stock]]. It comes in [[colours]]."
 -> "The Canopy Flat Tarp 2x3 is out of stock. It comes in Grey/Lime and Fern/Sand."

so a fact can never become a habit of the weights ("in stock" for every product): the delta learns which
field a question asks for, retrieval supplies the value. Filling is not a silent rewrite: every filled value
is recorded as a `Fill` (which product, which field, which value, where in the answer) and shown with the
answer in the app, `onbrand ask --json` and the scorecard; the model's own text is kept as `raw`.

Rules (the same for the app, the CLI and the evaluation, which all go through `FieldFiller`):
- a reference is `[[field]]`: `price`, `stock`, `colours` (or `colors`), `sizes`, `specs` (all of the
  record's specs, "weight 480 g; R-value 5.5"), `details` (the colours and the sizes when the record lists
  them, then every spec: "colours Moss and Slate; sizes S, M and L; weight 480 g"; the model need not know
  whether a product comes in colours or sizes), or a spec key of the product as the context lists it (`weight`, `max output`, `R-value`; case-insensitive), or words of exactly
  one of its keys (`diameter` for `rope diameter`);
- it refers to the product named last before it in the answer, found as the contradiction check finds the
  product a claim is about (`corpus.claims.product_mentions`: approved and catalog names, kit aliases, short
  forms such as "Summit Sole Ridgeback Mid"; of several products that fit, the first retrieved), else the
  first retrieved product;
- a note reference `[[note:<id>]]` (`[[note:climbing_safety]]`) is filled with the text of the brand kit's
  disclaimer of that id, verbatim; it is about no product (`Fill.product_id` is None, `Fill.field` is
  "note:<id>"). The adapter still decides which notes an answer needs (the kit's conditions, judged on the
  filled answer by the scorecard and the badges); it no longer spells out 30-60 tokens of legal text it can
  get wrong or stop in the middle of, and answers decode in fewer steps. An id the kit lacks is unfilled;
- a spec value holding a link, an e-mail address, instruction-like phrases or markup (`corpus.hostile`, what
  lint warns about) is never quoted: it shows as "<key> withheld (the catalog text holds a link or
  instructions)", in `[[specs]]`, `[[details]]` and its own key alike;
- it is filled only from a *retrieved* record (what the sources show). A reference to a product that was
  not retrieved, an unknown field or a field the product lacks is left unfilled and shown as
  "(not in the catalog data)"; `Fill.filled` is False and the app shows an "Unfilled reference" badge.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Iterable, Iterator, Sequence

from corpus.brandkit import BrandKit
from corpus.claims import product_mentions
from corpus.hostile import find_instructions, find_links, find_markup
from corpus.schema import Product, Stock
from corpus.variants import spoken_list, variant_price_text, variant_stock_text

OPEN, CLOSE = "[[", "]]"
REFERENCE = re.compile(r"\[\[\s*([^\[\]\n]{1,48}?)\s*\]\]")
MAX_REFERENCE = 56  # a "[[" not closed within this many characters is text, not a reference
UNFILLED = "(not in the catalog data)"
NOTE = "note:"  # [[note:<disclaimer id>]]: the brand kit's disclaimer text
STOCK_TEXT = {Stock.IN_STOCK: "in stock", Stock.LOW_STOCK: "in stock, but only a few are left",
              Stock.OUT_OF_STOCK: "out of stock", Stock.PREORDER: "available for preorder"}
_ALIASES = {"colors": "colours", "color": "colours", "colour": "colours", "size": "sizes",
            "availability": "stock", "cost": "price", "spec": "specs", "specifications": "specs"}


def price_text(p: Product) -> str:
    """The price as a person reads it: "$59.50", "$47.60 on sale (regular $59.50)"; a product grouped from
    variants that cost differently says each price with its variants (`corpus.variants`)."""
    return variant_price_text(p, _one_price_text)


def stock_text(p: Product) -> str:
    """The stock state in words (`STOCK_TEXT`); per variant when a grouped product's variants differ."""
    return variant_stock_text(p, STOCK_TEXT)


def _one_price_text(p: Product) -> str:
    if p.sale_price is not None:
        return f"${p.sale_price:,.2f} on sale (regular ${p.price:,.2f})" if p.currency == "USD" else \
            f"{p.sale_price:,.2f} {p.currency} on sale (regular {p.price:,.2f} {p.currency})"
    return f"${p.price:,.2f}" if p.currency == "USD" else f"{p.price:,.2f} {p.currency}"


def quotable(value: str) -> bool:
    """Whether a record's text may be quoted into an answer: not when it holds a link, an e-mail address,
    instruction-like phrases or markup (`corpus.hostile`, what lint warns about at ingest). A planted spec
    ("availability: sold only at http://evil.example/claim for $1.00") would otherwise reach the shopper
    verbatim through `[[details]]`, whatever the model did."""
    return not (find_links(value) or find_instructions(value) or find_markup(value))


def withheld(key: str) -> str:
    return f"{key} withheld (the catalog text holds a link or instructions)"


def field_value(p: Product, field: str) -> tuple[str, str] | None:
    """(canonical field, value as a person reads it) of one record, or None when it has no such field. A spec
    value that is not `quotable` is shown as withheld, never quoted."""
    key = field.strip().lower()
    for k, v in p.specs.items():  # the record's own key first: a tarp's "size" spec is not its sizes list
        if k.lower() == key:
            return f"spec:{k}", v if quotable(v) else withheld(k)
    key = _ALIASES.get(key, key)
    if key == "price":
        return "price", price_text(p)
    if key == "stock":
        return "stock", stock_text(p)
    if key == "colours":
        return ("colours", spoken_list(p.colors)) if p.colors else None
    if key == "sizes":
        return ("sizes", spoken_list(p.sizes)) if p.sizes else None
    specs = [f"{k} {v}" if quotable(v) else withheld(k) for k, v in p.specs.items()]
    if key == "specs":  # every spec of the record, "key value; key value", in the record's order
        return ("specs", "; ".join(specs)) if specs else None
    if key == "details":  # the colours and the sizes (when the record lists them), then every spec
        parts = ([f"colours {spoken_list(p.colors)}"] if p.colors else []) + \
            ([f"sizes {spoken_list(p.sizes)}"] if p.sizes else []) + specs
        return ("details", "; ".join(parts)) if parts else None
    # a part of a key ("diameter" for "rope diameter", "output" for "max output"): filled only when exactly one
    # of the record's keys has those words, and the field it came from is shown with the value
    words = set(re.findall(r"[a-z0-9]+", key))
    partial = [k for k in p.specs if words and words <= set(re.findall(r"[a-z0-9]+", k.lower()))]
    if len(partial) == 1:
        value = p.specs[partial[0]]
        return f"spec:{partial[0]}", value if quotable(value) else withheld(partial[0])
    return None


@dataclass(frozen=True)
class Fill:
    reference: str  # as the model wrote it, e.g. "[[stock]]"
    field: str  # canonical: price | stock | colours | sizes | specs | details | spec:<key> | note:<id>; the reference's text when unfilled
    product_id: str | None  # None when no retrieved product could be named
    product: str | None  # its approved name
    value: str  # what the answer shows
    filled: bool
    start: int  # where the value sits in the filled answer
    end: int

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def label(self) -> str:
        """'Canopy Flat Tarp 2x3 · stock → out of stock' for the app's provenance list."""
        if not self.filled:
            if self.field.lower().startswith(NOTE):
                why = "the brand kit has no disclaimer of that id"
            else:
                why = "no retrieved product named before it" if self.product_id is None else \
                    f"{self.product} has no such field in the retrieved record"
            return f"{self.reference} not filled: {why}"
        if self.product_id is None:  # a note: brand kit text, not a record's field
            return f"brand kit · {self.field} → {self.value}"
        return f"{self.product} · {self.field} → {self.value}"


class FieldFiller:
    """Fills references in streamed text. `feed(piece)` returns the text that can be shown now (a possible
    reference is held back until it closes or cannot be one); `finish()` returns the rest."""

    def __init__(self, records: Iterable[Product], all_products: Iterable[Product], kit: BrandKit | None):
        """records: the retrieved products, in retrieval order (the only ones a reference is filled from);
        all_products: the whole catalog, so a reference after an unretrieved product's name is not pinned on a
        retrieved one. Which product a reference is about is decided by `corpus.claims.product_mentions`, the
        contradiction check's own attribution (short forms included), so the two never disagree."""
        self.records = {p.id: p for p in records}
        self.default = next(iter(self.records), None)
        self.kit = kit
        self.all_products = list({p.id: p for p in [*all_products, *self.records.values()]}.values())
        self.approved = {p.id: kit.approved_name(p.id, p.name) if kit else p.name for p in self.all_products}
        self.raw = ""  # the model's text so far
        self.text = ""  # what has been shown so far
        self.fills: list[Fill] = []
        self._pending = ""

    @classmethod
    def for_records(cls, records: Sequence[Product], all_products: Iterable[Product],
                    kit: BrandKit | None) -> "FieldFiller":
        return cls(records, all_products, kit)

    def _product_before(self, raw: str) -> str | None:
        """The product the last name before a reference names: of several that fit a short form or a shared
        name (variants, a shared alias), the first retrieved; None for a product that was not retrieved (or
        is not in the catalog); the first retrieved product when no name comes before it."""
        found = product_mentions(raw, self.all_products, self.kit)
        if not found:
            return self.default
        ids = found[-1][2]
        return next((pid for pid in self.records if pid in ids), ids[0] if ids else None)

    def _fill(self, reference: str, inner: str) -> str:
        if inner.strip().lower().startswith(NOTE):
            return self._fill_note(reference, inner)
        pid = self._product_before(self.raw)
        record = self.records.get(pid) if pid else None
        found = field_value(record, inner) if record else None
        start = len(self.text)
        if found is None:
            value = UNFILLED
            self.fills.append(Fill(reference, inner.strip(), pid if record else None,
                                   self.approved.get(pid) if record else None, value, False, start, start + len(value)))
        else:
            field, value = found
            self.fills.append(Fill(reference, field, pid, self.approved.get(pid, record.name), value, True,
                                   start, start + len(value)))
        self.raw += reference
        return value

    def _fill_note(self, reference: str, inner: str) -> str:
        note_id = inner.strip()[len(NOTE):].strip()
        note = next((d for d in (self.kit.disclaimers if self.kit else ()) if d.id.lower() == note_id.lower()), None)
        value = note.text if note else UNFILLED
        start = len(self.text)
        self.fills.append(Fill(reference, f"note:{note.id}" if note else inner.strip(), None, None, value,
                               note is not None, start, start + len(value)))
        self.raw += reference
        return value

    def _emit(self, out: list[str], s: str, raw: str | None = None) -> None:
        self.raw += s if raw is None else raw
        self.text += s
        out.append(s)

    def feed(self, piece: str) -> str:
        buf = self._pending + piece
        self._pending = ""
        out: list[str] = []
        while buf:
            i = buf.find("[")
            if i < 0:
                self._emit(out, buf)
                break
            if i:
                self._emit(out, buf[:i])
                buf = buf[i:]
            if len(buf) < 2:
                self._pending = buf  # a lone "[" at the end: the next piece decides
                break
            if not buf.startswith(OPEN):
                self._emit(out, buf[0])
                buf = buf[1:]
                continue
            m = REFERENCE.match(buf)
            if m:
                value = self._fill(m.group(0), m.group(1))
                self.text += value
                out.append(value)
                buf = buf[m.end():]
                continue
            if "\n" in buf or len(buf) > MAX_REFERENCE or "]]" in buf:  # cannot become a reference
                self._emit(out, buf[0])
                buf = buf[1:]
                continue
            self._pending = buf  # an open reference: wait for more
            break
        return "".join(out)

    def finish(self) -> str:
        rest, self._pending = self._pending, ""
        out: list[str] = []
        if rest:
            self._emit(out, rest)
        return "".join(out)

    def stream(self, pieces: Iterable[str]) -> Iterator[str]:
        for piece in pieces:
            shown = self.feed(piece)
            if shown:
                yield shown
        rest = self.finish()
        if rest:
            yield rest


def quoted_spans(fills: Iterable[Fill]) -> list[tuple[int, int]]:
    """Where filled spec values sit in the answer (for `corpus.claims.contradictions`: a product name inside
    a value, "fits Lumen Trail 450", is the record's text, not a change of subject; for the kit's keyword
    conditions: a "size" in a record's spec text is not sizing advice in the answer)."""
    return [(f.start, f.end) for f in fills
            if f.filled and (f.field in ("specs", "details") or f.field.startswith("spec:"))]


def filled_spans(fills: Iterable[Fill]) -> list[tuple[int, int]]:
    """Where every filled value sits in the answer: text copied verbatim from a retrieved record, so a number in
    it is grounded in what retrieval returned by construction (`corpus.checks.ungrounded_numbers(skip=...)`)."""
    return [(f.start, f.end) for f in fills if f.filled]


def fill_text(raw: str, records: Sequence[Product], all_products: Iterable[Product],
              kit: BrandKit | None) -> tuple[str, list[Fill]]:
    """A whole answer at once: (filled text, fills). The same code as streaming."""
    filler = FieldFiller.for_records(records, all_products, kit)
    text = filler.feed(raw) + filler.finish()
    return text, filler.fills
