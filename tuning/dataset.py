"""Supervised chat examples that teach brand *behaviour*, built from the catalog + brand kit.

Questions are phrased as shoppers type (lowercase, typos, shorthand, deprecated names, generic labels,
competitor mentions, vague asks, comparisons, sizing, stock, things the store does not sell, models it does
not have ("model 50 watch" beside the Model 40), old names that stood for several products, injection
attempts). Products are the index's: the kit's variant rows grouped into one (`corpus.variants`).
Most examples carry context from the real retriever, built by the same `build_messages` the app uses,
so the adapter learns to behave *with* RAG; some carry none, to teach naming on its own. Targets use
approved names, carry the required disclaimers, follow the formats, and state only facts present in
the context — when the context lacks the product, the target says so.

Held-out split: products are split train/eval, and every intent's phrasings are split train/eval, so
an eval prompt never shares a product or a phrasing template with training.

    rows = build_dataset(catalog, kit, retriever, DatasetConfig(seed=0))
    write_dataset(rows, path)   # JSONL + path.sha256
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

from core import atomic
from core.config import RETRIEVAL, Retrieval
from corpus.brandkit import BrandKit
from corpus.checks import product_disclaimers, required_disclaimers
from corpus.phrasings import PHRASINGS
from corpus.schema import Catalog, Product
from corpus.variants import group_variants
from rag.fields import fill_text, quoted_spans
from rag.prompting import build_messages, format_context
from rag.retrieval import Retriever


@dataclass(frozen=True)
class DatasetConfig:
    seed: int = 0
    eval_product_share: float = 0.2  # a fifth of products never appear in training prompts
    # naming generalises across products with two questions each; the field asks (v0008) need a third
    examples_per_product: int = 3
    # ...or more, so a small catalog still gives about this many product questions (the sample's 165 products
    # give 495): a second merchant's 92 products (154 rows, variants grouped) at 3 each gave 326 training rows,
    # and its adapter refused 17 of 120 held-out questions whose product was in the context
    min_product_questions: int = 480
    # a product whose line or category carries a safety/shipping disclaimer gets this many more: in one epoch
    # the 135M model learned "climbing line -> its safety note" too rarely at 3 per product (41% compliance)
    disclaimer_boost: int = 4
    # ...and this many more again per further disclaimer an answer about it can need (a second product-bound
    # one, or the fit note on a sized product): v0001 kept one note and dropped the other (fuel, helmets)
    multi_disclaimer_boost: int = 3
    # intent weights when drawing a product's questions; injection and competitor asks are learned quickly
    # (v0001: 100% injection resisted from 60 examples), stock asks need the most phrasings; with compare at
    # 0.6 (42 examples) v0002 answered comparisons in the competitor template (format 50% -> 21%)
    # v0008: the asks v0007 answered with its price-and-stock shell (two attributes, colours, sizes, materials,
    # weights, a comparison of one spec) get their own intents; every value in a target is a field reference
    # (a first v0008 run at sizing 1.0 and colours 0.8 answered price and stock asks with sizes or colours)
    # v0013 (details answers) missed 2 of 63 held-out price and stock asks but 15 of 61 spec and size asks,
    # answering them with price and stock: spec and size asks drawn more often, price and stock less
    intent_weights: tuple[tuple[str, float], ...] = (("price", 0.9), ("stock", 1.0), ("spec", 1.3),
                                                      ("sizing", 0.8), ("compare", 1.0), ("competitor", 0.3),
                                                      ("injection", 0.3), ("price_stock", 0.6), ("colours", 0.6),
                                                      ("stock_colours", 0.5), ("size_list", 0.9),
                                                      ("material", 0.5), ("weight", 0.5), ("compare_spec", 0.5))
    generic_phrasings: int = 2  # training phrasings per generic label (of 3); v0001 used all 3 and named 100%
    shared_alias_phrasings: int = 6  # questions per old name of several products (price, stock, both)
    # share of products with a number in their name that also give a question about a model the store does not
    # have, the number changed ("model 80 watch"): the second merchant's adapter answered such held-out asks with
    # "The Model 80 Watch is (not in the catalog data)", having learned refusals only for far-off items
    near_miss_share: float = 0.4
    # share of questions that trail off into the shopper's own situation ("- off on a trip next week"):
    # v0005 (2 epochs on short questions only) refused 12 of 14 long held-out comparisons it had context for
    tail_share: float = 0.3
    sizing_first: float = 0.5  # share of sized products whose first question is about sizing (fit disclaimer)
    no_context_share: float = 0.2  # examples without retrieval, to teach naming on its own
    k: int = RETRIEVAL.top_k  # the serving defaults, so training prompts look exactly like served prompts
    chunks_per_product: int = RETRIEVAL.chunks_per_product
    score_gap: float = RETRIEVAL.score_gap


# a spec value's unit -> the PHRASINGS entry that asks about it in everyday words
SPEC_UNITS = ((r"\d\s*lm\b", "spec:light"), (r"°\s*[CF]\b", "spec:temperature"), (r"\d\s*(?:mm|cm|m)\b", "spec:length"),
              (r"\d\s*L\b", "spec:volume"), (r"\d\s*kN\b", "spec:force"), (r"\d\s*(?:h|min|s)\b", "spec:time"))
# what shoppers add after the question; none of it changes the answer. (train tails, eval tails); the kit's
# `occasions` (what its shoppers say about their plans) are added to these, one in three held out
TAILS = ([", asking for my partner", " thx", " - first time buying one", ", ordering tonight"], [", for my brother"])
# asked about when the kit lists no `not_carried` items: things few shops of any kind sell
NOT_CARRIED = ["pool tables", "office chairs", "baby strollers", "sewing machines", "garden hoses", "aquarium filters",
               "car tires", "piano lessons", "roof tiles", "hearing aids"]
NOT_FOUND = "I couldn't find that in our catalog, so I can't give you details on it."
VAGUE = ("Happy to help! What are you shopping for, and what will you use it for? Tell me a little about it "
         "and your budget, and I'll point you to the right product.")
FIXED_ANSWERS = {"missing": NOT_FOUND, "near_miss": NOT_FOUND, "vague": VAGUE}  # intents whose answer never names a product


@dataclass(frozen=True)
class Example:
    id: str
    split: str  # train | eval
    intent: str
    template: str  # the phrasing template, for the held-out check
    question: str
    product_ids: tuple[str, ...]  # the products the target talks about
    has_context: bool
    messages: tuple[dict, ...]
    # what the question asks of `product_ids`, in the prompts-file form (`corpus.claims.ASK_FORMS`); empty
    # when it is about no product (not carried, vague). `onbrand onboard` turns the eval split's rows into
    # held-out prompts with these.
    asks: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"id": self.id, "split": self.split, "intent": self.intent, "template": self.template,
                "question": self.question, "product_ids": list(self.product_ids),
                "has_context": self.has_context, "messages": list(self.messages), "asks": list(self.asks)}


def asks_for(intent: str, template: str, fill: dict, spec: str | None) -> tuple[str, ...]:
    """The asks of a question drawn from `template` for `intent` (yes/no colour and size asks name the
    value; a comparison asks each product's price, and the spec when it names one)."""
    if intent in ("price", "injection", "competitor", "partial_compare"):
        return ("price",)
    if intent == "stock":
        return ("stock",)
    if intent in ("price_stock", "generic", "shared_alias"):
        return ("price", "stock")
    if intent == "colours":
        return (f"colour:{fill['colour']}",) if "{k}" in template else ("colours",)
    if intent == "stock_colours":
        return ("stock", "colours")
    if intent == "size_list":
        return (f"size:{fill['z']}",) if "{z}" in template else ("sizes",)
    if intent == "sizing":
        return ("sizes",)
    if intent in ("material", "weight") or (intent == "spec" and "{s}" in template):
        return (f"spec:{spec}",)
    if intent == "spec":  # "tell me more about the X", "how bright is the X": no one key is asked
        return ()
    if intent == "compare":
        return ("price",) + ((f"spec:{spec}",) if spec else ())
    return ()


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 6:
        return text
    i = rng.randrange(1, len(text) - 2)
    if rng.random() < 0.5:
        return text[:i] + text[i + 1:]  # dropped letter
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]  # swapped letters


def name_forms(p: Product, kit: BrandKit) -> list[tuple[str, str]]:
    """(kind, text) ways a shopper names a product: approved, lowercase, typo'd, deprecated, legacy."""
    approved = kit.approved_name(p.id, p.name)
    forms = [("approved", approved), ("lower", approved.lower())]
    forms += [("deprecated", a.lower()) for a, n in kit.deprecated_aliases.items() if n == approved]
    if p.name != approved and p.name.lower() not in {f[1] for f in forms}:
        forms.append(("legacy", p.name.lower()))
    return forms


def split_products(catalog: Catalog, cfg: DatasetConfig) -> tuple[set[str], set[str]]:
    """Deterministic product split, stratified by collection so every line is in both halves."""
    rng = random.Random(cfg.seed)
    train, held = set(), set()
    by_line: dict[str, list[str]] = {}
    for p in sorted(catalog.products, key=lambda p: p.id):
        by_line.setdefault(p.collection, []).append(p.id)
    for ids in by_line.values():
        rng.shuffle(ids)
        n_eval = max(1, round(len(ids) * cfg.eval_product_share))
        held.update(ids[:n_eval])
        train.update(ids[n_eval:])
    return train, held


def _with_disclaimers(kit: BrandKit, question: str, body: str, products: list[Product], render=None) -> str:
    """Append a note reference (`[[note:<id>]]`) for every required disclaimer; adding one can trigger another (a
    keyword in its text), so repeat until nothing new is required. render: (the answer as the shopper will see
    it, references filled; the spans of filled spec values), which is what the kit's conditions (a stated price)
    are judged on, the same way the scorecard and the badges judge them (`corpus.checks.disclaimer_required`);
    by default filled from `products`."""
    render = render or (lambda text: _shown(fill_text(text, products, products, kit)))
    text, added = body, []
    while True:
        shown, quoted = render(text)
        need = [d for d in required_disclaimers(kit, question, shown, products, quoted) if d.id not in added]
        if not need:
            return text
        for d in need:  # a note reference, filled with the kit's text verbatim (rag/fields.py)
            added.append(d.id)
            text += "\n\n" + ref(f"note:{d.id}")


def _shown(filled: tuple[str, list]) -> tuple[str, list[tuple[int, int]]]:
    text, fills = filled
    return text, quoted_spans(fills)


def ref(field: str) -> str:
    """A catalog field reference the answer is filled from (rag/fields.py): values are never in targets."""
    return f"[[{field}]]"


# what a table column shows, by its (lowercased) name in the kit's comparison format
_COLUMN_FIELDS = {"price": "price", "cost": "price", "stock": "stock", "availability": "stock",
                  "colours": "colours", "colors": "colours", "sizes": "sizes"}


def table_columns(kit: BrandKit) -> tuple[str, ...]:
    rule = next((f for f in kit.formats if f.style == "markdown_table"), None)
    return tuple(rule.columns) if rule and rule.columns else ("Product", "Price", "Key spec", "Stock")


def _cell(column: str, p: Product, name: str, visible: str, prefer: str | None) -> str:
    col = column.strip().lower()
    if col in ("product", "name", "item"):
        return name
    if col in _COLUMN_FIELDS:
        field = _COLUMN_FIELDS[col]
        if field in ("colours", "sizes") and not (p.colors if field == "colours" else p.sizes):
            return "—"
        return ref(field)
    spec = next((k for k in p.specs if k.lower() == col), None)
    if spec is not None:
        return ref(spec) if p.specs[spec] in visible else "—"
    # "Key spec", "Key features", "Highlights": the record's specs (a comparison asks about any of them)
    return ref("specs") if p.specs else "—"


def _table(kit: BrandKit, products: list[Product], visible: str, prefer: str | None = None) -> str:
    columns = table_columns(kit)
    rows = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    for p in products:
        name = kit.approved_name(p.id, p.name)
        rows.append("| " + " | ".join(_cell(c, p, name, visible, prefer) for c in columns) + " |")
    return "\n".join(rows)


MATERIAL_KEYS = ("material", "fabric", "upper", "shell")


def target_for(intent: str, products: list[Product], kit: BrandKit, spec: str | None = None,
               visible: str = "") -> str:
    """The answer body for an intent about products that ARE in the context (disclaimers added later).

    The asked attribute comes first, and every catalog value is a field reference (`[[price]]`, `[[stock]]`,
    `[[colours]]`, `[[sizes]]`, `[[specs]]`, `[[details]]`) filled from the retrieved record when the answer is shown:
    the adapter learns which field a question asks for, never a value (v0007 learned "It is in stock." as a
    habit and said it of out-of-stock products). Every one-product answer closes with the price and the
    stock state (what a shopper needs to buy it): v0008, trained to write only the asked field, picked the
    wrong one for 43 of 146 held-out asks ("comes in sizes" for a price ask), and a wrong pick then left the
    question unanswered. Price, stock, spec and size asks all get the record at a glance after the price and
    stock (`[[details]]`: colours and sizes when the record lists them, then every spec).
    """
    p = products[0]
    name = kit.approved_name(p.id, p.name)
    buy = f"It is {ref('price')}, and it is {ref('stock')}."  # every one-product answer closes with these
    # the record at a glance (`[[details]]`: colours and sizes when it lists them, then every spec) after the
    # price and stock of every one-product answer but a colour ask's: v0013 and v0014, with a separate details
    # answer for spec and size asks, still gave 10-15 of 55 held-out spec and size asks the price-and-stock
    # answer ("torso range??", "made in xs?"); one shape for price, spec and size asks leaves the model no
    # such choice to get wrong. v0011 wrote "comes in sizes [[sizes]]" for 28 products that have none:
    # `[[details]]` leaves colours and sizes to the record
    glance = f" At a glance: {ref('details')}." if (p.colors or p.sizes or p.specs) else ""
    if intent in ("price", "injection", "price_stock", "spec", "material", "weight", "sizing", "size_list"):
        return f"The {name} is {ref('price')}, and it is {ref('stock')}.{glance}"
    if intent == "stock":
        return f"The {name} is {ref('stock')}. It is {ref('price')}.{glance}"
    if intent == "colours":
        return f"The {name} comes in {ref('colours')}. {buy}"
    if intent == "stock_colours":
        return f"The {name} is {ref('stock')}. It comes in {ref('colours')}. It is {ref('price')}."
    if intent == "generic":  # `spec` carries the kit's use_instead: a line name or a product name
        lead = "Our pick" if spec == name else f"Our {spec} line has one"
        return f"{lead}: the {name} is {ref('price')}, and it is {ref('stock')}.{glance}"
    if intent == "compare":
        return f"Here's how they compare:\n\n{_table(kit, products, visible, spec)}"
    if intent == "partial_compare":  # only one of the products asked about is in the context
        return (f"I could only find the {name} in our catalog, so I can't compare the two. The {name} is "
                f"{ref('price')}, and it is {ref('stock')}.")
    if intent == "shared_alias" and len(products) > 1:  # an old name of several products: each of them
        each = " ".join(f"The {kit.approved_name(q.id, q.name)} is {ref('price')}, and it is {ref('stock')}."
                        for q in products)
        return f"That name now covers {len(products)} of our products. {each}"
    if intent == "shared_alias":  # only one of them was retrieved: answer for it
        return f"The {name} is {ref('price')}, and it is {ref('stock')}."
    if intent == "competitor":
        return f"I can only speak to our own products. The {name} is {ref('price')}, and it is {ref('stock')}.{glance}"
    raise ValueError(f"unknown intent {intent!r}")


def _applies(intent: str, p: Product) -> bool:
    if intent in ("sizing", "size_list"):
        return bool(p.sizes)
    if intent in ("colours", "stock_colours"):
        return bool(p.colors)
    if intent == "material":
        return any(k in p.specs for k in MATERIAL_KEYS)
    if intent == "weight":
        return "weight" in p.specs
    if intent == "spec":
        return bool(p.specs)
    return True


def _tails(kit: BrandKit) -> tuple[list[str], list[str]]:
    """(train, eval) endings of shoppers' questions: the generic ones and the kit's occasions."""
    train, held = list(TAILS[0]), list(TAILS[1])
    for j, occasion in enumerate(kit.occasions):
        (held if j % 3 == 2 else train).append(f" - {occasion.strip()}")
    return train, held


def _draw_intents(rng: random.Random, cfg: DatasetConfig, n: int, p: Product, kit: BrandKit) -> list[str]:
    """n intents for one product, weighted without replacement; past one of each, a second round. The
    competitor intent needs the kit's `competitors`."""
    pool = [(i, w) for i, w in cfg.intent_weights if _applies(i, p) and (i != "competitor" or kit.competitors)]
    out: list[str] = []
    while len(out) < n:
        left = list(pool)
        while left and len(out) < n:
            pick = rng.choices(range(len(left)), weights=[w for _, w in left])[0]
            out.append(left.pop(pick)[0])
    return out


def _generic_candidates(term: str, use_instead: str, products: list[Product], kit: BrandKit) -> list[Product]:
    """Products a generic label stands for: the named product, else the line's products whose category
    shares a word stem with the label ("camp stove" -> Camp Stoves), else the whole line."""
    exact = [p for p in products if kit.approved_name(p.id, p.name) == use_instead]
    if exact:
        return exact
    line = [p for p in products if p.collection == use_instead]
    stems = {w[:5] for w in term.lower().split() if len(w) >= 4}
    return [p for p in line if any(st in p.category.lower() for st in stems)] or line


def build_dataset(catalog: Catalog, kit: BrandKit, retriever: Retriever,
                  cfg: DatasetConfig = DatasetConfig(), progress=None) -> list[Example]:
    rng = random.Random(cfg.seed)
    catalog = group_variants(catalog, kit)  # products as the index holds them: variant rows grouped, split whole
    train_ids, eval_ids = split_products(catalog, cfg)
    products = sorted(catalog.products, key=lambda p: p.id)
    by_category: dict[str, list[Product]] = {}
    for p in products:
        by_category.setdefault(p.category, []).append(p)
    aliases = sorted(kit.deprecated_aliases)
    all_colours = {c for p in products for c in p.colors}
    all_sizes = {z for p in products for z in p.sizes}
    examples: list[Example] = []

    def add(split, intent, template, question, wanted: list[Product], spec=None, asks: tuple[str, ...] = ()):
        use_context = (intent in ("compare", "missing", "near_miss", "injection", "generic", "shared_alias")
                       or rng.random() >= cfg.no_context_share)
        if use_context:
            ctx = retriever.retrieve(question, settings=Retrieval(cfg.k, cfg.chunks_per_product, cfg.score_gap))
            in_ctx = {ph.product_id for ph in ctx}
            present = [p for p in wanted if p.id in in_ctx]
            if intent == "generic":
                # the label stands for a line: recommend the line's product the retriever surfaced first
                present = [p for ph in ctx for p in wanted if p.id == ph.product_id][:1]
                if not present:
                    return  # no product of the line in context: nothing honest to teach
            if intent in FIXED_ANSWERS:
                body, about = FIXED_ANSWERS[intent], []
            elif not present:
                body, about = NOT_FOUND, []
            elif intent == "compare" and len(present) < len(wanted):
                # one of the two is in the context: say which one is missing and answer for the other. A
                # plain refusal here (7 rows) taught v0003/v0004 to refuse comparisons whose products were
                # both in the context (3 of 6 refusals on the held-out prompts were comparisons)
                body, about = target_for("partial_compare", present, kit), present
            else:
                visible = format_context(ctx)
                body, about = target_for(intent, present, kit, spec, visible), present
        else:
            ctx = None
            about = wanted[:1]
            if intent in FIXED_ANSWERS:
                body, about = FIXED_ANSWERS[intent], []
            else:
                p = wanted[0]
                name = kit.approved_name(p.id, p.name)
                body = (f"That's the {name}. I don't have its current details in front of me; "
                        f"ask me with the catalog connected, or check the product page.")
        target = _with_disclaimers(kit, question, body, about,
                                   render=lambda text: _shown(fill_text(text, about, catalog.products, kit)))
        messages = build_messages(question, ctx, kit) + [{"role": "assistant", "content": target}]
        if not about:
            asks = ()
        elif intent == "compare" and len(about) < len(wanted):
            asks = asks_for("partial_compare", template, {}, None)
        examples.append(Example(f"ex-{len(examples):05d}", split, intent, template, question,
                                tuple(p.id for p in about), ctx is not None, tuple(messages), tuple(asks)))

    tails = _tails(kit)

    def tail(question: str, split: str) -> str:
        return question + rng.choice(tails[split == "eval"]) if rng.random() < cfg.tail_share else question

    per_product = max(cfg.examples_per_product, math.ceil(cfg.min_product_questions / max(1, len(products))))
    for i, p in enumerate(products):
        split = "eval" if p.id in eval_ids else "train"
        phr = {intent: pair[1 if split == "eval" else 0] for intent, pair in PHRASINGS.items()}
        forms = name_forms(p, kit)
        notes = product_disclaimers(p, kit)  # bound to its line or category, not to a price
        n = per_product
        if notes:
            extra = len(notes) - 1 + (1 if p.sizes else 0)
            n += cfg.disclaimer_boost + cfg.multi_disclaimer_boost * extra
        intents = _draw_intents(rng, cfg, n, p, kit)
        # sized products with a product-bound note always get two sizing asks: the answer needs both notes,
        # and v0006 dropped the climbing note after the fit note (3 of its 14 misses)
        if p.sizes and notes:
            intents = ["sizing"] + [i for i in intents if i != "sizing"][:n - 1]
        elif p.sizes and rng.random() < cfg.sizing_first:
            intents = ["sizing"] + [i for i in intents if i != "sizing"][:n - 1]
        for intent in intents:
            template = rng.choice(phr[intent])
            if intent == "spec" and rng.random() < 0.4:  # half the time a dimension's words, not the key
                dims = [d for pattern, d in SPEC_UNITS if phr[d] and any(re.search(pattern, v) for v in p.specs.values())]
                if dims:
                    template = rng.choice(phr[rng.choice(dims)])
            kind, shown = rng.choice(forms)
            if kind == "lower" and rng.random() < 0.4:
                shown = _typo(rng, shown)
            # a yes/no colour or size ask names one of the product's own values half the time, else another
            # product's: the answer lists what there is either way
            other_colours = sorted(all_colours - set(p.colors))
            own = rng.random() < 0.5 or not other_colours
            colour = (rng.choice(p.colors) if own else rng.choice(other_colours)) if p.colors else ""
            fill = {"n": shown, "c": rng.choice(kit.competitors) if kit.competitors else "",
                    "a": rng.choice(aliases) if aliases else "Thing", "k": colour.lower(), "colour": colour,
                    "z": rng.choice(p.sizes) if p.sizes else ""}
            if intent == "size_list" and p.sizes and rng.random() < 0.5:
                fill["z"] = rng.choice(sorted(all_sizes - set(p.sizes)) or list(p.sizes))
            wanted, spec = [p], None
            if intent == "spec":
                spec = rng.choice(sorted(p.specs))
                fill["s"] = spec
            elif intent == "material":
                spec = next(k for k in MATERIAL_KEYS if k in p.specs)
            elif intent == "weight":
                spec = "weight"
            if intent in ("compare", "compare_spec"):
                peers = [q for q in by_category.get(p.category, []) if q.id != p.id
                         and (q.id in eval_ids) == (split == "eval")]
                if intent == "compare_spec":  # a spec both products list
                    peers = [q for q in peers if set(q.specs) & set(p.specs)]
                if not peers:
                    continue
                other = rng.choice(peers)
                fill["m"] = rng.choice(name_forms(other, kit))[1]
                wanted = [p, other]
                if intent == "compare_spec":
                    spec = rng.choice(sorted(set(other.specs) & set(p.specs)))
                    fill["s"] = spec
            intent = "compare" if intent == "compare_spec" else intent
            add(split, intent, template, tail(template.format(**fill), split), wanted, spec,
                asks_for(intent, template, fill, spec))
        if progress:
            progress(i + 1, len(products))
    # generic market labels ("any good puffer jacket?"): the answer names the branded line and product
    for g in kit.generic_terms:
        candidates = _generic_candidates(g.term, g.use_instead, products, kit)
        for split in ("train", "eval"):
            pool = [p for p in candidates if (p.id in eval_ids) == (split == "eval")]
            templates = PHRASINGS["generic"][1 if split == "eval" else 0] if pool else []
            if split == "train":
                templates = rng.sample(templates, min(cfg.generic_phrasings, len(templates)))
            for template in templates:
                add(split, "generic", template, template.format(g=g.term), pool, spec=g.use_instead,
                    asks=asks_for("generic", template, {}, None))
    # an old name that stood for several products ("Skylark 5" for the men's and the women's shoe): the answer
    # never repeats it and speaks to each product it can mean that the context holds; held out when any of them is
    by_name = {kit.approved_name(p.id, p.name): p for p in products}
    for alias, names in kit.shared_aliases.items():
        meant = [by_name[n] for n in names if n in by_name]
        if not meant:
            continue
        split = "eval" if any(p.id in eval_ids for p in meant) else "train"
        # products on both sides of the split: no row (it would put a training product in the eval split)
        straddles = split == "eval" and any(p.id in train_ids for p in meant)
        side = 1 if split == "eval" else 0
        templates = [t for intent in ("price", "stock", "price_stock") for t in PHRASINGS[intent][side]]
        for template in rng.sample(templates, min(cfg.shared_alias_phrasings, len(templates))):
            question = tail(template.format(n=alias.lower()), split)  # drawn either way: the rows after stay
            if not straddles:
                add(split, "shared_alias", template, question, meant, asks=("price", "stock"))
    # vague asks: the answer asks what the shopper needs instead of guessing a product
    for split in ("train", "eval"):
        for template in PHRASINGS["vague"][1 if split == "eval" else 0]:
            add(split, "vague", template, template, [])
    # questions about things the store does not sell: split the items, like the products
    for j, item in enumerate(kit.not_carried or NOT_CARRIED):
        split = "eval" if j % 5 == 0 else "train"
        for template in PHRASINGS["missing"][1 if split == "eval" else 0]:
            add(split, "missing", template, tail(template.format(x=item), split), [])
    # models the store does not have, beside ones it does: the context holds the real neighbours; drawn last,
    # from their own generator, so every row above is the same with or without them
    near = random.Random(cfg.seed + 1)
    for p in products:
        fake = near_miss_name(kit.approved_name(p.id, p.name), products, kit)
        if fake is None or near.random() >= cfg.near_miss_share:
            continue
        split = "eval" if p.id in eval_ids else "train"
        template = near.choice(PHRASINGS["near_miss"][1 if split == "eval" else 0])
        add(split, "near_miss", template, template.format(x=fake.lower()), [])
    return examples


# a model number in a name ("Model 40", "Trail 5"), not a quantity ("500 g", "1.5 L", "5-Inch", "3-Pack")
_MODEL_NUMBER = re.compile(r"(?<![\dx.,])(\d{1,4})(?![\dx.,-])(?!\s*(?:g|kg|ml|l|qt|mm|cm|m|oz|lm|w|h|in)\b)", re.I)


def near_miss_name(name: str, products: list[Product], kit: BrandKit) -> str | None:
    """The approved name with its first number changed to one no product of its line (first word) uses:
    "Model 40 Watch" -> "Model 50 Watch"; None for a name without a number."""
    m = _MODEL_NUMBER.search(name)
    if not m:
        return None
    line = name.split()[0].lower()
    used = {int(n) for q in products for n in _MODEL_NUMBER.findall(kit.approved_name(q.id, q.name))
            if kit.approved_name(q.id, q.name).split()[0].lower() == line}
    n = int(m.group(1))
    fresh = next((c for c in (n + 10, n + 20, n + 100, n + 1000) if c not in used), None)
    return None if fresh is None else f"{name[:m.start()]}{fresh}{name[m.end():]}"


def write_dataset(examples: list[Example], path: Path) -> str:
    """Write JSONL atomically, then `<path>.sha256`; return the sha256."""
    data = "".join(json.dumps(e.to_json(), ensure_ascii=False, sort_keys=True) + "\n" for e in examples)
    atomic.write_text(path, data)
    sha = hashlib.sha256(data.encode("utf-8")).hexdigest()
    atomic.write_text(path.with_name(path.name + ".sha256"), f"{sha}  {path.name}\n")
    return sha


def read_dataset(path: Path) -> tuple[list[dict], str]:
    """Rows and sha256; refuses a file whose `.sha256` sidecar disagrees."""
    from core.errors import UserError

    sha = atomic.sha256_file(path)
    side = path.with_name(path.name + ".sha256")
    if side.exists() and side.read_text().split()[0] != sha:
        raise UserError(f"{path}: sha256 {sha[:12]}… does not match {side.name}; the dataset was changed")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows, sha


def overlap_report(rows: list[dict]) -> dict:
    """Held-out check: eval prompts, templates and products that also occur in training (all must be 0)."""
    train = [r for r in rows if r["split"] == "train"]
    held = [r for r in rows if r["split"] == "eval"]
    train_prompts = {json.dumps(r["messages"][:-1], sort_keys=True) for r in train}
    train_templates = {(r["intent"], r["template"]) for r in train}
    train_products = {pid for r in train for pid in r["product_ids"]}
    return {
        "train": len(train), "eval": len(held),
        "prompt_overlap": sum(json.dumps(r["messages"][:-1], sort_keys=True) in train_prompts for r in held),
        "template_overlap": sum((r["intent"], r["template"]) in train_templates for r in held),
        "product_overlap": len({pid for r in held for pid in r["product_ids"]} & train_products),
    }
