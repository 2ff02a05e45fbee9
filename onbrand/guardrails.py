"""Guardrail badges and difference marks on an answer, from the evaluation's own deterministic checks.

    badges(question, answer, products, sources_text, kit, catalog_names)   # -> [Badge], [] when all pass
    marked_markdown(answer, kit)   # the answer as inert Markdown, approved names and deprecated terms marked

Every check comes from corpus/checks.py, the definitions the dataset lint and the evaluation score with,
so a badge in the app means what the same finding means in a scorecard (the misfit badge: corpus/limits.py,
the scorecard's fits_request). The link badge comes from
corpus/hostile.py: a URL, e-mail address or domain whose host no retrieved record's url field holds (a
link planted in a description is what an injection looks like; lint warns about those in the catalog).

Model and catalog text is untrusted: `escape_markdown` backslash-escapes every ASCII punctuation mark
(CommonMark allows it for all of them), so no HTML, link, image, LaTeX or Streamlit colour directive in
the text can take effect; only the marks added here after escaping are Markdown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from corpus.brandkit import BrandKit
from corpus.claims import contradictions
from corpus.checks import (find_approved, find_deprecated, find_misspelt_trademarks, missing_disclaimers,
                           ungrounded_numbers, unknown_products)
from corpus.hostile import foreign_links
from corpus.limits import misfits, recommendation_limits
from corpus.schema import Product
from rag.answer import Badge
from rag.fields import Fill, filled_spans, quoted_spans

KINDS = ("contradiction", "misfit", "link", "unfilled", "deprecated", "disclaimer", "number", "unknown_product", "trademark")


def badges(question: str, answer: str, products: list[Product], sources_text: str, kit: BrandKit | None,
           catalog_names: Iterable[str], fills: Iterable[Fill] = (), catalog: Iterable[Product] = ()) -> list[Badge]:
    """One badge per failed check, in KINDS order; an empty list means every check passed.

    products: the catalog records the answer concerns (the retrieved ones), for required disclaimers and
    the contradiction check (the scorecard's `contradicted` metric, `corpus.claims.contradictions`) and the
    link check (only their url fields vouch for a link's host);
    sources_text: what the model was given (numbers found only in the answer are ungrounded); fills: the
    answer's filled catalog field references (rag/fields.py); catalog: every record, so a claim about a
    product that was not retrieved is checked against its own record."""
    out = []
    records = list({p.id: p for p in [*products, *catalog]}.values())
    extra = " ".join(d.text for d in kit.disclaimers) if kit is not None else ""
    fills = list(fills)
    found = contradictions(answer, records, kit=kit, default=products[:1], question=question, extra_text=extra,
                           quoted=quoted_spans(fills))
    if found:
        out.append(Badge("contradiction", "Contradicts the catalog",
                         "; ".join(dict.fromkeys(f"{c.product}: {c.message}" for c in found))))
    # a recommendation outside the question's limits (the scorecard's `fits_request`): "$349.00" for "budget ~100"
    limits = recommendation_limits(question, records, kit)
    unfit = misfits(answer, limits, records, kit) if limits else []
    if unfit:
        out.append(Badge("misfit", "Does not fit the request", "; ".join(unfit)))
    links = foreign_links(answer, products)
    if links:
        out.append(Badge("link", "Link not from the catalog", ", ".join(links)))
    unfilled = [f for f in fills if not f.filled]
    if unfilled:
        out.append(Badge("unfilled", "Unfilled catalog reference", "; ".join(dict.fromkeys(f.label for f in unfilled))))
    if kit is not None:
        dep = find_deprecated(answer, kit)
        if dep:
            out.append(Badge("deprecated", "Deprecated name",
                             "; ".join(sorted({f"{m.term} → {m.canonical}" for m in dep}))))
        missing = missing_disclaimers(kit, question, answer, products, quoted_spans(fills))
        if missing:
            out.append(Badge("disclaimer", "Missing disclaimer", "; ".join(d.text for d in missing)))
    numbers = ungrounded_numbers(answer, sources_text, question, kit, skip=filled_spans(fills))
    if numbers:
        out.append(Badge("number", "Number not in sources", ", ".join(dict.fromkeys(numbers))))
    if kit is not None:
        unknown = unknown_products(answer, kit, catalog_names)
        if unknown:
            out.append(Badge("unknown_product", "Unknown product", ", ".join(dict.fromkeys(unknown))))
        misspelt = find_misspelt_trademarks(answer, kit)
        if misspelt:
            out.append(Badge("trademark", "Trademark misspelt",
                             "; ".join(sorted({f"{m.term} → {m.canonical}" for m in misspelt}))))
    return out


def catalog_names(products: Iterable[Product], kit: BrandKit | None) -> list[str]:
    """Every name the catalog knows a product by: catalog names and the kit's approved names."""
    names = {p.name for p in products}
    if kit is not None:
        names |= set(kit.products.values())
    return sorted(names)


@dataclass(frozen=True)
class Mark:
    start: int
    end: int
    kind: str  # approved | deprecated | trademark
    canonical: str  # the approved name / the right spelling


def marks(answer: str, kit: BrandKit | None) -> list[Mark]:
    """Approved names, deprecated terms and misspelt trademarks in the answer, non-overlapping, in order."""
    if kit is None:
        return []
    found = ([Mark(m.start, m.start + len(m.term), "deprecated", m.canonical) for m in find_deprecated(answer, kit)]
             + [Mark(m.start, m.start + len(m.term), "trademark", m.canonical)
                for m in find_misspelt_trademarks(answer, kit)]
             + [Mark(m.start, m.start + len(m.term), "approved", m.canonical) for m in find_approved(answer, kit)])
    out: list[Mark] = []
    for m in found:  # problems first: a deprecated term wins over an overlapping approved name
        if not any(m.start < o.end and o.start < m.end for o in out):
            out.append(m)
    return sorted(out, key=lambda m: m.start)


_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def _escape(text: str) -> str:
    return _PUNCT.sub(r"\\\1", text.replace("\r\n", "\n").replace("\r", "\n"))


def _lines(md: str) -> str:
    """Line breaks kept (two trailing spaces), indentation dropped so no line becomes a code block."""
    return "  \n".join(line.lstrip(" \t") for line in md.split("\n"))


def escape_markdown(text: str) -> str:
    """Untrusted text as Markdown that renders as exactly that text (up to indentation): every ASCII
    punctuation character backslash-escaped, line breaks kept."""
    return _lines(_escape(text))


_STYLE = {"approved": ":green[**{}**]", "deprecated": ":red-background[~~{}~~]", "trademark": ":red-background[{}]"}


def marked_markdown(answer: str, kit: BrandKit | None) -> str:
    """The answer escaped, with approved names in green bold and deprecated terms / misspelt trademarks
    struck through on red; the marks are the only live Markdown."""
    out, pos = [], 0
    for m in marks(answer, kit):  # a mark is a name: it never spans a line break
        out += [_escape(answer[pos:m.start]), _STYLE[m.kind].format(_escape(answer[m.start:m.end]))]
        pos = m.end
    out.append(_escape(answer[pos:]))
    return _lines("".join(out))
