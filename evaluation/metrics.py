"""Per-answer brand metrics for held-out prompts, for any merchant: a catalog, a brand kit, a prompts file.

    cases = load_cases("eval_prompts.jsonl", kit=kit, catalog=catalog)   # every bad row reported at once
    score = score_answer(case, answer, sources_text=ctx, retrieved_ids=ids, kit=kit, catalog=catalog, k=3)
    aggregate([score, ...])   # metric -> value (None where it never applied)

A prompts file is JSON Lines, one case a line: id, question, kind, product_ids, approved_names, must_not_use,
must_state, disclaimers (kit disclaimer ids), format ("text" | "table" | "json"), not_in_catalog (bool), asks
(what the question asks of each of its products: "price", "stock", "colours", "sizes", "colour:<c>", "size:<s>",
"spec:<key>"; any other form is refused, and so is a spec no product of the case lists).

Metrics (the names are the report's columns; every text check is the one in `corpus.checks`):

- approved_name_rate: of the answer's product mentions, the share that use an approved name. Mentions are
  approved names (`find_approved`) + deprecated hits + generic hits; a deprecated hit is a kit alias
  (`find_deprecated`: "formerly the X" is allowed) or one of the case's `must_not_use` terms not already
  counted (word-boundary, case-insensitive, not inside an approved name; "formerly" excuses it only when the
  term is a kit alias or a catalog name), or a competitor's name (the kit's `competitors`: the merchant speaks
  of its own products only, and "The Summitry 900 is $99.95" puts a competitor's name on one of them).
  Aggregated as summed approved / summed mentions.
- deprecated_rate, generic_rate: deprecated hits / mentions and generic labels / mentions, summed the same
  way. Generic labels: the kit's (`find_generic`), and a name sibling products share written without the
  qualifier that tells them apart (`find_incomplete_names`: "The Ridgeline Storm Jacket is out of stock" where
  the kit approves "... (Men's)" and "... (Women's)"), which is neither approved nor clear about the
  product. Lower is better. None for an answer that mentions no product.
- trademark_ok: no misspelt trademark (`find_misspelt_trademarks`). Applies to every answer.
- disclaimer_compliance: required = every kit disclaimer whose condition holds for this answer
  (`required_disclaimers` with the case's products: their category/collection, a price the answer states, a
  keyword in the question or answer); present = those whose text appears (whitespace and case folded). The
  case's `disclaimers` list what a correct answer needs; an answer that states no price is not charged the
  price note too (facts_stated counts the missing price). Summed present / summed required; None when
  nothing is required.
- format_ok: "table" case: a markdown table (header row, `---` separator, one data row per case product, at
  least one) whose header holds every column of the kit's first `markdown_table` format (any table when the
  kit has none). "json" case: the answer's JSON (a fenced block, the whole answer, or the first object or
  array that parses, starting at one of its first 20 brackets) validates against the kit's first `json`
  format: its `schema` if the rule carries one, else an object with every `columns` name as a key, or a
  non-empty array of such objects. `jsonschema` validates when it is installed, else a small validator
  (type, required, properties, items, minItems, enum). None for a "text" case.
- grounded: `ungrounded_numbers(answer, sources_text, question, kit)` and
  `unknown_products(answer, kit, catalog names)` are both empty. A value filled from a catalog field
  reference (rag/fields.py) is the retrieved record's own text, so its numbers are grounded by construction
  and only the model's own words are checked against the context (`filled`). With no retrieval (sources_text None) the
  sources are empty, so every stated price or number counts as ungrounded unless the question, a product
  name or a disclaimer holds it: a no-retrieval answer can only state what it was told. Applies to every
  answer.
- facts_stated: every `must_state` string is in the answer (case, whitespace, "_" and thousands commas
  folded); a fact that is only numbers ("$99.95", "155 g", "40–53 cm") is found when the answer states each
  value with the same unit or as a price, so "$1299" states "$1,299.00" and "155 grams" states "155 g".
  A plain substring test: "not in stock" does state "in stock". None when the case has no `must_state`.
- not_in_catalog_ok (not_in_catalog cases only): a refusal phrase (`REFUSALS`: couldn't find, don't carry,
  don't sell, don't stock, don't have, not in our catalog, ...) is present, no invented product appears
  (`unknown_products`), and no catalog product is named before the first refusal (one named after it is an
  alternative, not an answer).
- injection_ok (kind "injection" only): no deprecated hit, i.e. no kit alias and no `must_not_use` term.
- hit_at_k: one of the case's products is among the first k retrieved ids (a product grouped from the kit's
  variants stands for each of them). None with no retrieval
  (sources_text None) or no expected product.

Correctness (the checks are `corpus.claims`, which the app's contradiction badge calls too):

- answered: the answer states every value the case `asks` of every case product, taken from the product's
  catalog record, in the sentences (or the table row) about that product (`corpus.claims.answered`):
  "price" the current price (the sale price when there is one; the regular price may be stated too);
  "stock" the stock state in words (in stock / available / ready to ship; low stock / only a few left /
  running low / limited; out of stock / sold out / unavailable / backordered / "not in stock"; pre-order /
  not released yet), where "in stock" does not state low stock and "in stock, but only a few are left"
  does; "colours"/"sizes" every listed value; "colour:<c>"/"size:<s>" yes or no: a listed value affirmed,
  an unlisted one denied or answered by listing the real values without it; "spec:<key>" the spec's value
  with facts_stated's numeric folding. A comparison needs each product's values after its own name (its
  table row). `unanswered` lists what is missing ("FH-X price $89.95"). None when the case has no asks.
- fits_request: the question asks for a recommendation with limits (a price ceiling or budget, a weight
  ceiling, a number of people: `corpus.limits.request_limits`) and names no catalog product itself, and the
  answer names one or more: every product it names fits them, as its catalog record has it (the current price;
  the trail weight, else the weight, else another weight; a capacity in people). `misfits` lists each that
  does not ("TrailForm Expedition 80 (FH-TRL-017): $349.00, against 'budget ~100'"). A question that asks for
  an extreme ("cheapest tent", "lightest stove": `corpus.limits.Order`) needs the first product the answer names
  to be its category's (among those meeting the other limits; kids' products only when asked for). None otherwise: a
  question about a named product ("is the X under 50 bucks?") is answered by that product's facts, and an
  answer that names no product is judged by the other metrics.
- contradicted (lower is better): any claim in the answer conflicts with the catalog record of the product
  it is about (`corpus.claims.contradictions`, over the whole catalog, with the case's products as the
  default subject): a stock state the record does not have, a price that is neither its price nor its sale
  price, a colour or size it does not list (or one it lists, denied), a spec value that differs, a number
  with a unit its record does not hold, one field's values given as another's (sizes as colours). Disclaimer
  texts and numbers in the question are not claims. A claim about a product the case is not about is
  checked against that product's record. `contradictions` holds each one with the catalog value. Applies to
  every answer; aggregated as the share of answers with at least one contradiction.
- clean: no sentence or disclaimer repeated (nor a decoding loop), no raw context line pasted in ("Fuel:
  propane (16 oz cylinder)", "Climbing: 2"), no field name used as prose ("has a length of 330 g", "has a
  material of 100%") (`corpus.claims.clean_problems`, against the retrieved context), no kit disclaimer
  whose condition holds neither for the case's products nor for a product the answer names (a climbing note
  on a rain jacket; `corpus.checks.unneeded_disclaimers`). `clean_problems` lists them. Applies to every
  answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Sequence
from pathlib import Path

from corpus.brandkit import BrandKit, FormatRule
from corpus.checks import (_RENAMED, unneeded_disclaimers, _pattern, find_approved, find_deprecated, find_generic,
                           find_incomplete_names, find_misspelt_trademarks, required_disclaimers, disclaimer_present,
                           ungrounded_numbers, unknown_products)
from core.errors import InputError, Problem
from corpus.claims import ASK_FORMS, answered, ask_ok, clean_problems, contradictions, fact_present
from corpus.limits import misfits, names_a_product, recommendation_limits
from corpus.schema import Catalog
from rag.fields import UNFILLED

METRICS: tuple[str, ...] = (
    "approved_name_rate", "deprecated_rate", "generic_rate", "trademark_ok", "disclaimer_compliance",
    "format_ok", "grounded", "facts_stated", "not_in_catalog_ok", "injection_ok", "hit_at_k",
    "answered", "fits_request", "contradicted", "clean",
)
LOWER_IS_BETTER = frozenset({"deprecated_rate", "generic_rate", "contradicted"})
FORMATS = ("text", "table", "json")

REFUSALS = re.compile(
    r"\b(?:could ?n['’]?t|could not|can['’]?t|cannot|can not|did ?n['’]?t|did not|unable to)"
    r" (?:find|locate|see)\b"
    r"|\b(?:do ?n['’]?t|do not|does ?n['’]?t|does not) (?:carry|sell|stock|have|offer|make|list|see)\b"
    r"|\bnot (?:in|part of|listed in|found in) (?:our|the|this) (?:catalog(?:ue)?|store|shop|range|lineup)\b"
    r"|\b(?:is ?n['’]?t|is not|are ?n['’]?t|are not) (?:something )?(?:we|in our|available in our|part of our)\b"
    r"|\bnot something we (?:carry|sell|stock|offer)\b|\bno such product\b|\bwe have no\b"
    r"|\bno (?:\w+ )?(?:products?|items?) (?:like|matching|called)\b", re.I)


class CaseError(InputError):
    """A prompts file with bad rows; str() is one line per problem (file:line: field 'x' value 'y': rule)."""


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    kind: str  # price | stock | spec | sizing | compare | ... ; "injection" turns on injection_ok
    product_ids: tuple[str, ...] = ()
    approved_names: tuple[str, ...] = ()
    must_not_use: tuple[str, ...] = ()
    must_state: tuple[str, ...] = ()
    disclaimers: tuple[str, ...] = ()  # kit disclaimer ids
    format: str = "text"  # text | table | json
    not_in_catalog: bool = False
    asks: tuple[str, ...] = ()  # what the question asks of each product: price, stock, colours, spec:weight ...


_LISTS = ("product_ids", "approved_names", "must_not_use", "must_state", "disclaimers", "asks")
_FIELDS = ("id", "question", "kind", *_LISTS, "format", "not_in_catalog")


def _case(row: dict, file: str, line: int, out: list[Problem]) -> Case | None:
    n = len(out)

    def bad(field: str, value, rule: str) -> None:
        out.append(Problem(file, line, field, None if value is None else str(value), rule))

    for key in row:
        if key not in _FIELDS:
            bad(key, row[key], f"unknown field; known: {', '.join(_FIELDS)}")
    for key in ("id", "question", "kind"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            bad(key, row.get(key), "required: a non-empty string")
    lists = {}
    for key in _LISTS:
        val = row.get(key)
        if val is None:
            val = []
        if not isinstance(val, list) or not all(isinstance(x, str) and x.strip() for x in val):
            bad(key, val, "must be a list of non-empty strings")
            continue
        lists[key] = tuple(x.strip() for x in val)
    for ask in lists.get("asks", ()):
        if not ask_ok(ask):
            bad("asks", ask, f"unknown ask; known forms: {', '.join(ASK_FORMS)}")
    fmt = row.get("format", "text")
    if fmt not in FORMATS:
        bad("format", fmt, f"must be one of {', '.join(FORMATS)}")
    nic = row.get("not_in_catalog", False)
    if not isinstance(nic, bool):
        bad("not_in_catalog", nic, "must be true or false")
    if len(out) > n:
        return None
    return Case(row["id"].strip(), row["question"].strip(), row["kind"].strip(), format=fmt, not_in_catalog=nic,
                **lists)


def load_cases(path: str | Path, kit: BrandKit | None = None, catalog: Catalog | None = None) -> list[Case]:
    """Read a prompts file; raise `CaseError` listing every bad row (and, given a kit and a catalog, every
    disclaimer id the kit lacks and product id the catalog lacks)."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise CaseError([Problem(file, None, None, None, f"cannot read file: {e.strerror}")]) from None
    except UnicodeDecodeError as e:
        raise CaseError([Problem(file, None, None, None, f"not valid UTF-8 at byte offset {e.start}")]) from None
    problems: list[Problem] = []
    cases: list[Case] = []
    first_seen: dict[str, int] = {}
    for line, raw in enumerate(text.split("\n"), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as e:
            problems.append(Problem(file, line, None, None, f"not valid JSON: {e.msg} at column {e.colno}"))
            continue
        if not isinstance(row, dict):
            problems.append(Problem(file, line, None, None, "each line must be a JSON object"))
            continue
        case = _case(row, file, line, problems)
        rid = row["id"].strip() if isinstance(row.get("id"), str) else ""  # remembered even when the row is bad
        if rid and rid in first_seen:
            problems.append(Problem(file, line, "id", rid, f"duplicate id (first seen at line {first_seen[rid]})"))
            continue
        if rid:
            first_seen[rid] = line
        if case is None:
            continue
        if kit is not None:
            known = {d.id for d in kit.disclaimers}
            for d in case.disclaimers:
                if d not in known:
                    problems.append(Problem(file, line, "disclaimers", d,
                                            f"not a disclaimer id of the brand kit; known: {', '.join(sorted(known))}"))
        if catalog is not None:
            ids = catalog.by_id()
            for pid in case.product_ids:
                if pid not in ids:
                    problems.append(Problem(file, line, "product_ids", pid, "no such product id in the catalog"))
            products = [ids[p] for p in case.product_ids if p in ids]
            for ask in case.asks:
                kind, _, value = ask.partition(":")
                if kind == "spec" and products and not any(value.lower() in map(str.lower, p.specs) for p in products):
                    problems.append(Problem(file, line, "asks", ask,
                                            f"no product of the case has the spec {value!r}"))
                if ask in ("colours", "sizes") or kind in ("colour", "size"):
                    colours = kind.startswith("colour")
                    if products and not any(p.colors if colours else p.sizes for p in products):
                        problems.append(Problem(file, line, "asks", ask,
                                                f"no product of the case lists {'colours' if colours else 'sizes'}"))
        cases.append(case)
    if not problems and not cases:
        problems.append(Problem(file, None, None, None, "no cases in the file"))
    if problems:
        raise CaseError(problems)
    return cases


@dataclass(frozen=True)
class AnswerScore:
    """One answer's counts and pass/fail values; None where a metric does not apply to its case."""

    case_id: str
    kind: str
    approved_mentions: int
    deprecated_mentions: int  # kit aliases + must_not_use terms
    generic_mentions: int
    deprecated_terms: tuple[str, ...]  # as written, for the report
    generic_terms: tuple[str, ...]
    misspelt_trademarks: tuple[str, ...]
    disclaimers_required: int
    disclaimers_present: int
    missing_disclaimers: tuple[str, ...]  # ids
    facts_required: int
    facts_present: int
    ungrounded: tuple[str, ...]  # numbers the sources do not state
    unknown_products: tuple[str, ...]  # product-like names not in the catalog
    trademark_ok: bool
    format_ok: bool | None
    grounded: bool
    facts_stated: bool | None
    not_in_catalog_ok: bool | None
    injection_ok: bool | None
    hit_at_k: bool | None
    # answer correctness (corpus/claims.py); defaults keep scores made before these metrics loadable
    answered: bool | None = None
    contradicted: bool = False
    clean: bool = True
    contradictions: tuple[dict, ...] = ()  # {"product_id", "product", "field", "claim", "catalog", "message"}
    unanswered: tuple[str, ...] = ()  # "FH-X price $89.95": asked values the answer does not state
    clean_problems: tuple[str, ...] = ()
    fits_request: bool | None = None  # a recommendation within the question's limits (corpus/limits.py)
    misfits: tuple[str, ...] = ()  # each named product that breaks one, in words

    @property
    def mentions(self) -> int:
        return self.approved_mentions + self.deprecated_mentions + self.generic_mentions

    @classmethod
    def from_json(cls, d: dict) -> "AnswerScore":
        """A score as scorecard.json stores it (`asdict`: its tuples as lists); fields it lacks take their
        defaults, and fields this version does not know are left out."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names})


def metric_counts(score: AnswerScore, metric: str) -> tuple[int, int]:
    """(numerator, denominator) of one answer for one metric; (0, 0) where it does not apply. `aggregate` and
    the bootstrap both sum these, so a rate is a ratio of summed counts and a pass metric a pass rate."""
    if metric == "approved_name_rate":
        return score.approved_mentions, score.mentions
    if metric == "deprecated_rate":
        return score.deprecated_mentions, score.mentions
    if metric == "generic_rate":
        return score.generic_mentions, score.mentions
    if metric == "disclaimer_compliance":
        return score.disclaimers_present, score.disclaimers_required
    if metric == "contradicted":  # lower is better: 1 when the answer contradicts the catalog
        return int(bool(score.contradicted)), 1
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    value = getattr(score, metric)
    return (0, 0) if value is None else (int(bool(value)), 1)


def passes(score: AnswerScore, metric: str) -> bool | None:
    """Whether one answer is perfect on a metric (a rate at 1, or at 0 where lower is better)."""
    num, den = metric_counts(score, metric)
    if den == 0:
        return None
    return num == 0 if metric in LOWER_IS_BETTER else num == den


def aggregate(scores: list[AnswerScore]) -> dict[str, float | None]:
    """metric -> summed numerator / summed denominator over the answers; None where it never applied."""
    out: dict[str, float | None] = {}
    for m in METRICS:
        num = den = 0
        for s in scores:
            a, b = metric_counts(s, m)
            num, den = num + a, den + b
        out[m] = num / den if den else None
    return out


# --- the checks ------------------------------------------------------------------------------------------

def _spans_overlap(s: int, e: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < te and ts < e for ts, te in spans)


def _term_hits(answer: str, terms, approved: list[tuple[int, int]], taken: list[tuple[int, int]],
               renamed_ok: set[str] = frozenset()) -> list[str]:
    """Each mention of `terms` in the answer (word-boundary, case-insensitive, longest term first) that is not
    inside an approved name nor a span already counted (`taken`, which grows), nor, for a term in `renamed_ok`
    (lower-cased), right after "formerly" and the like."""
    hits = []
    for term in sorted(terms, key=len, reverse=True):
        for m in _pattern(term).finditer(answer):
            s, e = m.span()
            if any(a <= s and e <= b for a, b in approved) or _spans_overlap(s, e, taken):
                continue
            if term.lower() in renamed_ok and _RENAMED.search(answer[max(0, s - 40):s]):
                continue
            taken.append((s, e))
            hits.append(m.group(0))
    return hits


def _rule(kit: BrandKit, style: str) -> FormatRule | None:
    return next((f for f in kit.formats if f.style == style), None)


_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [c.strip().strip("*_` ").lower() for c in line.split("|")]


def table_ok(answer: str, columns: tuple[str, ...], min_rows: int = 1) -> bool:
    """A markdown table whose header holds every column (case-insensitive) and with min_rows data rows."""
    lines = answer.splitlines()
    for i in range(len(lines) - 1):
        if "|" not in lines[i] or "|" not in lines[i + 1] or not _SEPARATOR.match(lines[i + 1]):
            continue
        header = _cells(lines[i])
        if len(header) < 2 or any(c.lower() not in header for c in columns):
            continue
        rows = 0
        for row in lines[i + 2:]:
            if "|" not in row or not row.strip():
                break
            rows += 1
        if rows >= min_rows:
            return True
    return False


def _json_in(answer: str):
    """The answer's JSON value: a fenced block, else the whole answer, else the first object or array."""
    candidates = re.findall(r"```(?:json)?\s*\n(.*?)```", answer, re.S) + [answer.strip()]
    for c in candidates:
        try:
            return json.loads(c)
        except (json.JSONDecodeError, RecursionError):  # RecursionError: "[[[[..." thousands deep
            pass
    decoder = json.JSONDecoder()
    for m in list(re.finditer(r"[\[{]", answer))[:20]:  # the first few openings: a JSON answer starts early
        try:
            return decoder.raw_decode(answer, m.start())[0]
        except (json.JSONDecodeError, RecursionError):
            continue
    raise ValueError("no JSON in the answer")


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _type_ok(value, t: str) -> bool:
    if t in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return t == "number" or float(value).is_integer()
    return isinstance(value, _TYPES.get(t, object))


def validate_json(value, schema: dict) -> bool:
    """A small JSON Schema subset: type, required, properties, items, minItems, enum."""
    types = schema.get("type")
    if types is not None and not any(_type_ok(value, t) for t in ([types] if isinstance(types, str) else types)):
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if isinstance(value, dict):
        if any(k not in value for k in schema.get("required", ())):
            return False
        props = schema.get("properties", {})
        if any(k in value and not validate_json(value[k], sub) for k, sub in props.items()):
            return False
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            return False
        if "items" in schema and not all(validate_json(v, schema["items"]) for v in value):
            return False
    return True


def json_schema(rule: FormatRule | None) -> dict:
    """The schema a json format asks for: the rule's own `schema`, else an object with its columns as keys."""
    own = getattr(rule, "schema", None)
    if isinstance(own, dict):
        return own
    return {"type": "object", "required": list(rule.columns) if rule else []}


def json_ok(answer: str, schema: dict, *, use_jsonschema: bool = True) -> bool:
    try:
        value = _json_in(answer)
    except ValueError:
        return False
    if isinstance(value, list) and schema.get("type") == "object":  # a list of records is fine too
        schema = {"type": "array", "minItems": 1, "items": schema}
    if use_jsonschema:
        try:
            import jsonschema
        except ImportError:
            pass
        else:
            return jsonschema.Draft202012Validator(schema).is_valid(value)
    return validate_json(value, schema)


def format_ok(case: Case, answer: str, kit: BrandKit) -> bool | None:
    if case.format == "table":
        rule = _rule(kit, "markdown_table")
        return table_ok(answer, rule.columns if rule else (), max(1, len(case.product_ids)))
    if case.format == "json":
        return json_ok(answer, json_schema(_rule(kit, "json")))
    return None


def not_in_catalog_ok(answer: str, kit: BrandKit, catalog: Catalog, unknown: list[str]) -> bool:
    refusal = REFUSALS.search(answer)
    if refusal is None or unknown:
        return False
    before = answer[:refusal.start()]
    if find_approved(before, kit) or find_deprecated(before, kit, allow_renamed=False):
        return False
    return not any(_pattern(p.name).search(before) for p in catalog.products)


def score_answer(case: Case, answer: str, *, sources_text: str | None, retrieved_ids: list[str], kit: BrandKit,
                 catalog: Catalog, k: int, quoted: Sequence[tuple[int, int]] = (),
                 filled: Sequence[tuple[int, int]] = ()) -> AnswerScore:
    """Score one answer to one case; sources_text is the retrieved context the model saw (None: no retrieval);
    quoted: where filled spec values sit in the answer (`rag.fields.quoted_spans`); filled: where every filled
    value sits (`rag.fields.filled_spans`), grounded by construction."""
    by_id = catalog.by_id()
    products = [by_id[p] for p in case.product_ids if p in by_id]
    catalog_names = {p.name for p in catalog.products}

    approved = find_approved(answer, kit)
    approved_spans = [(m.start, m.start + len(m.term)) for m in approved]
    deprecated = find_deprecated(answer, kit)
    # a generic label, or a name siblings share without the qualifier that tells them apart
    generic = sorted(find_generic(answer, kit) + find_incomplete_names(answer, kit), key=lambda m: m.start)
    taken = [(m.start, m.start + len(m.term)) for m in deprecated + generic]
    # the case's forbidden terms ("formerly" excuses only a real old name), then the kit's competitors: the
    # merchant speaks of its own products only ("The Summitry 900 is $99.95" for the Lumen Summit 900)
    old_names = {a.lower() for a in kit.alias_targets()} | {n.lower() for n in catalog_names}
    extra = _term_hits(answer, case.must_not_use, approved_spans, taken, renamed_ok=old_names)
    extra += _term_hits(answer, kit.competitors, approved_spans, taken)
    deprecated_terms = tuple(m.term for m in deprecated) + tuple(extra)

    by_disclaimer = {d.id: d for d in kit.disclaimers}
    unknown_ids = [d for d in case.disclaimers if d not in by_disclaimer]
    if unknown_ids:
        raise ValueError(f"case {case.id}: disclaimer {unknown_ids[0]!r} is not in the brand kit "
                         f"(known: {', '.join(sorted(by_disclaimer))})")
    # the kit's conditions, on this answer: the case's products (category/collection), a price the answer
    # states, a keyword in the question or answer. `case.disclaimers` lists what a *correct* answer needs;
    # an answer that states no price is not also charged a missing price note (facts_stated counts that).
    required = [d.id for d in required_disclaimers(kit, case.question, answer, products, quoted)]
    missing = tuple(d for d in required if not disclaimer_present(by_disclaimer[d], answer))

    facts = [f for f in case.must_state if fact_present(f, answer)]
    ungrounded = ungrounded_numbers(answer, sources_text or "", case.question, kit, skip=filled)
    unknown = unknown_products(answer, kit, catalog_names)
    misspelt = tuple(m.term for m in find_misspelt_trademarks(answer, kit))
    hit = None
    if sources_text is not None and case.product_ids:
        # a retrieved product grouped from variants (corpus/variants.py) is a hit for a case about any variant
        found_ids = {i for r in retrieved_ids[:k] for i in (kit.product_ids(kit.approved_name(r)) or [r])}
        hit = any(p in found_ids for p in case.product_ids)
    # correctness: claims checked against the record of the product each is about (any catalog product;
    # the case's products when none is named), the case's asked values, the answer's form
    found = contradictions(answer, catalog.products, kit=kit, default=products, question=case.question,
                           extra_text="\n".join(d.text for d in kit.disclaimers), quoted=quoted)
    is_answered, unanswered = answered(answer, case.asks, products, kit=kit, quoted=quoted) if case.asks else (None, [])
    limits = recommendation_limits(case.question, catalog.products, kit)
    unfit = misfits(answer, limits, catalog.products, kit) if limits else []
    fits = None if not limits or not names_a_product(answer, catalog.products, kit) else not unfit
    untidy = clean_problems(answer, sources_text or "", kit, filled)
    if UNFILLED in answer:  # "comes in sizes (not in the catalog data)": a reference the record cannot fill
        untidy.append(f"unfilled catalog reference: {UNFILLED!r} shown {answer.count(UNFILLED)}x")
    # a kit disclaimer that does not apply to the case's products nor to any product the answer names
    named = {m.canonical for m in approved}
    about = products + [p for p in catalog.products if kit.approved_name(p.id, p.name) in named and p not in products]
    untidy += [f"disclaimer that does not apply: '{d.id}'" for d in unneeded_disclaimers(kit, case.question, answer, about, quoted)]
    return AnswerScore(
        case_id=case.id, kind=case.kind,
        approved_mentions=len(approved), deprecated_mentions=len(deprecated_terms), generic_mentions=len(generic),
        deprecated_terms=deprecated_terms, generic_terms=tuple(m.term for m in generic), misspelt_trademarks=misspelt,
        disclaimers_required=len(required), disclaimers_present=len(required) - len(missing),
        missing_disclaimers=missing, facts_required=len(case.must_state), facts_present=len(facts),
        ungrounded=tuple(ungrounded), unknown_products=tuple(unknown),
        trademark_ok=not misspelt,
        format_ok=format_ok(case, answer, kit),
        grounded=not ungrounded and not unknown,
        facts_stated=len(facts) == len(case.must_state) if case.must_state else None,
        not_in_catalog_ok=not_in_catalog_ok(answer, kit, catalog, unknown) if case.not_in_catalog else None,
        injection_ok=not deprecated_terms if case.kind == "injection" else None,
        hit_at_k=hit,
        answered=is_answered, contradicted=bool(found), clean=not untidy,
        contradictions=tuple(c.to_json() for c in found), unanswered=tuple(unanswered),
        clean_problems=tuple(untidy), fits_request=fits, misfits=tuple(unfit),
    )
