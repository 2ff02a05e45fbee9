"""Dataset builder on the tiny Quokka fixtures (real retriever) and the sample catalog (stub retriever):
deterministic, held-out, lint-clean, on-brand targets, prompts identical to served prompts, sha256-guarded.

    .venv/bin/python -m pytest tests/tuning/test_dataset.py -q
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from core.config import Retrieval
from core.errors import UserError
from corpus import SAMPLE_BRAND_KIT, SAMPLE_CATALOG, load_brand_kit, load_catalog
from corpus.checks import find_deprecated, product_disclaimers
from corpus.variants import group_variants
from rag.fields import fill_text, price_text
from rag.index_store import build_index, load_index
from rag.prompting import CLOSE, OPEN, build_messages
from rag.retrieval import Hit, ProductHits, Retriever
from tuning.dataset import (NOT_FOUND, VAGUE, _tails, DatasetConfig, build_dataset, overlap_report, read_dataset,
                            split_products, write_dataset)
from tuning.lint import lint_dataset

CFG = DatasetConfig(seed=0)


@pytest.fixture(scope="module")
def retriever(tmp_path_factory, tiny_catalog, tiny_kit, embedder):
    """The real retriever over a freshly built tiny index (built once for the module)."""
    root = tmp_path_factory.mktemp("indexes")
    build_index(tiny_catalog, embedder, root, "tiny", kit=tiny_kit)
    return Memo(Retriever(load_index(root, "tiny", embedder.info), embedder))


@pytest.fixture(scope="module")
def examples(tiny_catalog, tiny_kit, retriever):
    return build_dataset(tiny_catalog, tiny_kit, retriever, CFG)


@pytest.fixture(scope="module")
def rows(examples):
    return [e.to_json() for e in examples]


class Memo:
    """The real retriever, remembering answers: the module asks the same questions several times, and
    retrieval is deterministic (embedding a query is the slow part on a busy CPU)."""

    def __init__(self, retriever):
        self.retriever, self.seen = retriever, {}

    def retrieve(self, query, **kwargs):
        key = (query, tuple(sorted(kwargs.items())))
        if key not in self.seen:
            self.seen[key] = self.retriever.retrieve(query, **kwargs)
        return self.seen[key]


class Everything:
    """A stub retriever that returns every product: every wanted product is always in the context, so every
    intent (comparisons and sizing included) produces a real target."""

    def __init__(self, catalog, kit):
        self.ctx = [ProductHits(p.id, kit.approved_name(p.id, p.name), 1.0,
                                (Hit(i, p.id, "overview", f"Price: {price_text(p)}", 1.0),))
                    for i, p in enumerate(catalog.products)]

    def retrieve(self, query, **kwargs):
        return self.ctx


class Without:
    """The real retriever with one product removed from every result."""

    def __init__(self, retriever, product_id):
        self.retriever, self.product_id = retriever, product_id

    def retrieve(self, query, **kwargs):
        return [ph for ph in self.retriever.retrieve(query, **kwargs) if ph.product_id != self.product_id]


@pytest.fixture(scope="module")
def sample():
    catalog, kit = load_catalog(SAMPLE_CATALOG), load_brand_kit(SAMPLE_BRAND_KIT)
    return catalog, kit, [e.to_json() for e in build_dataset(catalog, kit, Everything(catalog, kit), CFG)]


def target(row: dict) -> str:
    return row["messages"][-1]["content"]


def shown(row: dict, catalog, kit) -> str:
    """The target as a shopper sees it: references filled from the products in its context."""
    by_id = catalog.by_id()
    return fill_text(target(row), [by_id[i] for i in context_ids(row) if i in by_id], catalog.products, kit)[0]


def context_ids(row: dict) -> list[str]:
    return re.findall(r"^Product: .* \(id ([^)]+)\)$", row["messages"][1]["content"], re.M)


# --- determinism and the held-out split ------------------------------------------------------------------

def test_same_seed_same_dataset_other_seed_differs(tiny_catalog, tiny_kit, retriever, rows):
    def dump(r):
        return json.dumps(r, sort_keys=True)

    again = [e.to_json() for e in build_dataset(tiny_catalog, tiny_kit, retriever, DatasetConfig(seed=0))]
    other = [e.to_json() for e in build_dataset(tiny_catalog, tiny_kit, retriever, DatasetConfig(seed=1))]
    assert dump(again) == dump(rows)
    assert dump(other) != dump(rows)


@pytest.mark.parametrize("which", ["tiny", "sample"])
def test_split_puts_every_collection_with_two_products_in_both_halves(which, tiny_catalog):
    catalog = tiny_catalog if which == "tiny" else load_catalog(SAMPLE_CATALOG)
    train, held = split_products(catalog, CFG)
    assert train.isdisjoint(held) and train | held == set(catalog.by_id())
    assert split_products(catalog, CFG) == (train, held)
    lines: dict[str, set[str]] = {}
    for p in catalog.products:
        lines.setdefault(p.collection, set()).add(p.id)
    checked = 0
    for line, ids in lines.items():
        if len(ids) >= 2:
            checked += 1
            assert ids & train and ids & held, f"collection {line!r} is not in both splits"
    assert checked >= 1


def test_no_overlap_between_train_and_eval(rows, sample):
    for data in (rows, sample[2]):
        report = overlap_report(data)
        assert report["train"] > 0 and report["eval"] > 0
        assert (report["prompt_overlap"], report["template_overlap"], report["product_overlap"]) == (0, 0, 0)
    # the shopper's trailing asides (generic ones and the kit's occasions) are split too; some questions
    # carry one, most don't
    kit = sample[1]
    tails = _tails(kit)
    assert any(t.endswith(o) for o in kit.occasions for t in tails[0]) and any(
        t.endswith(o) for o in kit.occasions for t in tails[1])
    for split, mine in (("train", tails[0]), ("eval", tails[1])):
        questions = [r["question"] for r in sample[2] if r["split"] == split]
        tailed = [q for q in questions if q.endswith(tuple(mine))]
        assert 0.15 < len(tailed) / len(questions) < 0.45
        other = tails[split == "train"]
        assert not [q for q in questions if q.endswith(tuple(other))]


# --- targets ---------------------------------------------------------------------------------------------

def test_every_target_is_lint_clean(rows, tiny_kit, tiny_catalog, sample):
    assert [str(f) for f in lint_dataset(rows, tiny_kit, tiny_catalog.by_id()) if f.severity == "error"] == []
    catalog, kit, sample_rows = sample
    assert {r["intent"] for r in sample_rows} >= {"compare", "sizing", "missing", "injection"}
    assert [str(f) for f in lint_dataset(sample_rows, kit, catalog.by_id()) if f.severity == "error"] == []


def test_targets_use_approved_names_never_deprecated_ones(rows, tiny_kit, sample):
    for data, kit in ((rows, tiny_kit), (sample[2], sample[1])):
        assert any(r["product_ids"] for r in data)
        for r in data:
            assert find_deprecated(target(r), kit) == [], (r["id"], target(r))
            for pid in r["product_ids"]:
                assert kit.products[pid] in target(r), (r["id"], target(r))


def test_price_targets_reference_the_price_and_show_the_catalog_price(rows, tiny_catalog, tiny_kit, sample):
    """The target holds a reference, never the value (a value in the weights becomes a habit); filled from
    the context's record it reads the catalog price."""
    for data, catalog, kit in ((rows, tiny_catalog, tiny_kit), (sample[2], sample[0], sample[1])):
        by_id = catalog.by_id()
        priced = [r for r in data if r["intent"] in ("price", "injection", "competitor")
                  and r["has_context"] and r["product_ids"]]
        assert priced
        for r in priced:
            p = by_id[r["product_ids"][0]]
            assert p.id in context_ids(r)
            assert "[[price]]" in target(r) and price_text(p) not in target(r), (r["id"], target(r))
            assert price_text(p) in shown(r, catalog, kit), (r["id"], target(r))
    # a product on sale reads its sale price and the regular one (the tiny tent: $329.00 on sale from $389.00)
    catalog, kit, data = sample
    by_id = catalog.by_id()
    sale = [r for r in data if r["intent"] == "price" and r["has_context"] and r["product_ids"]
            and by_id[r["product_ids"][0]].sale_price is not None]
    assert sale
    for r in sale:
        p = by_id[r["product_ids"][0]]
        assert f"${p.sale_price:,.2f} on sale (regular ${p.price:,.2f})" in shown(r, catalog, kit), r["id"]
    tent = next(p for p in tiny_catalog.products if p.id == "QK-TNT-02")
    assert fill_text("The Quokka tent is [[price]].", [tent], tiny_catalog.products, tiny_kit)[0] == \
        "The Quokka tent is $329.00 on sale (regular $389.00)."


def test_one_product_answers_close_with_price_and_stock_and_spec_asks_list_the_specs(sample):
    """A wrong guess at the asked field must not leave a price or stock ask unanswered (v0008 answered 43 of
    146 held-out asks with another field): every one-product target with context names the price and the
    stock state, then the record at a glance: price, stock, spec and size asks list the record's colours, sizes
    and all of its specs through one `[[details]]` reference, never one key the model would have to guess from a paraphrase ("how many lumens"),
    nor a sizes sentence for a product that has none (v0011: "comes in sizes (not in the catalog data)")."""
    catalog, kit, data = sample
    one = [r for r in data if r["has_context"] and len(r["product_ids"]) == 1
           and r["intent"] not in ("compare", "missing", "vague")
           and not target(r).startswith(("I could only find", NOT_FOUND))]
    assert len(one) > 100
    for r in one:
        assert "[[price]]" in target(r) and "[[stock]]" in target(r), (r["id"], target(r))
        if r["intent"] not in ("colours", "stock_colours"):  # price, stock, spec and size asks: one shape
            assert "At a glance: [[details]]." in target(r) and "comes in sizes" not in target(r), (r["id"], target(r))
    asks = {r["intent"] for r in one}
    assert {"price", "stock", "spec", "colours", "size_list", "sizing"} <= asks, asks


def test_comparison_targets_table_both_products(sample):
    catalog, kit, data = sample
    compares = [r for r in data if r["intent"] == "compare" and r["product_ids"]]
    assert compares
    for r in compares:
        assert len(r["product_ids"]) == 2 and "| Product | Price | Key spec | Stock |" in target(r)
        for pid in r["product_ids"]:
            assert f"| {kit.products[pid]} | [[price]] |" in target(r)
            assert f"| {kit.products[pid]} | {price_text(catalog.by_id()[pid])} |" in shown(r, catalog, kit)


def test_comparison_tables_take_the_kits_columns(sample):
    catalog, kit, _ = sample
    table = next(f for f in kit.formats if f.style == "markdown_table")
    kit2 = replace(kit, formats=tuple(replace(f, columns=("Product", "Price", "Key features", "Availability"))
                                      if f is table else f for f in kit.formats))
    rows = [e.to_json() for e in build_dataset(catalog, kit2, Everything(catalog, kit2), CFG)]
    compares = [r for r in rows if r["intent"] == "compare" and len(r["product_ids"]) == 2]
    assert compares
    for r in compares:
        assert "| Product | Price | Key features | Availability |" in target(r) and "Key spec" not in target(r)
        a = kit.products[r["product_ids"][0]]
        assert f"| {a} | [[price]] | [[specs]] | [[stock]] |" in target(r)
        filled = shown(r, catalog, kit2)
        assert "in_stock" not in filled and "out_of_stock" not in filled  # values as a person writes them


def test_context_targets_only_talk_about_products_in_the_context(rows):
    for r in rows:
        if r["has_context"]:
            assert set(r["product_ids"]) <= set(context_ids(r)), r["id"]
            if not r["product_ids"]:
                assert target(r).startswith(NOT_FOUND) or (r["intent"] == "vague" and target(r) == VAGUE)
    assert all(target(r) == NOT_FOUND for r in rows if r["intent"] == "missing")


def test_a_product_missing_from_the_context_gets_not_found(tiny_catalog, tiny_kit, retriever, rows):
    gone = "QK-STV-01"
    without = [e.to_json() for e in build_dataset(tiny_catalog, tiny_kit, Without(retriever, gone), CFG)]
    assert [r["question"] for r in without] == [r["question"] for r in rows]
    affected = [i for i, r in enumerate(rows) if r["has_context"] and gone in r["product_ids"]]
    assert affected, "the tiny dataset should ask about the stove with context"
    for i, (before, after) in enumerate(zip(rows, without)):
        if i in affected:
            assert gone not in context_ids(after)
            assert "$59.50" not in target(after) and "Quokka Blaze Mini Stove" not in target(after)
            others = [pid for pid in before["product_ids"] if pid != gone]
            if before["intent"] == "compare" and set(others) <= set(context_ids(after)):
                # the other product of a comparison is still there: answer for it
                assert after["product_ids"] == others, after["id"]
                assert target(after).startswith("I could only find the "), target(after)
                assert "|" not in target(after)  # no one-row table
            else:
                assert after["product_ids"] == [] and target(after).startswith(NOT_FOUND), target(after)
        elif gone not in before["product_ids"]:
            assert target(after) == target(before) or target(after).startswith(NOT_FOUND)


def test_a_comparison_with_one_product_missing_answers_for_the_other(sample):
    """No refusal when half a comparison is in the context: the target says which product it found and
    gives that one's facts (v0003 learnt 'refuse comparisons' from such refusals)."""
    catalog, kit, data = sample
    compares = [r for r in data if r["intent"] == "compare" and len(r["product_ids"]) == 2]
    gone = compares[0]["product_ids"][1]
    rows = [e.to_json() for e in build_dataset(catalog, kit, Without(Everything(catalog, kit), gone), CFG)]
    partial = [(b, a) for b, a in zip(data, rows) if b["intent"] == "compare" and gone in b["product_ids"]]
    assert partial
    for before, after in partial:
        (kept,) = [pid for pid in before["product_ids"] if pid != gone]
        p = catalog.by_id()[kept]
        assert after["product_ids"] == [kept]
        name, other = kit.approved_name(kept, p.name), kit.approved_name(gone, catalog.by_id()[gone].name)
        assert target(after).startswith(f"I could only find the {name} in our catalog"), target(after)
        assert price_text(p) in shown(after, catalog, kit) and other not in target(after)
        assert "| Product |" not in target(after)
        for d in product_disclaimers(p, kit):  # its notes still close the answer
            assert f"[[note:{d.id}]]" in target(after) and d.text in shown(after, catalog, kit)


# --- prompts ---------------------------------------------------------------------------------------------

def test_prompts_are_the_served_prompts(rows, retriever, tiny_kit):
    assert {r["has_context"] for r in rows} == {True, False}
    for r in rows:
        prompt = r["messages"][:-1]
        assert [m["role"] for m in prompt] == ["system", "user"] and r["messages"][-1]["role"] == "assistant"
        assert (OPEN in prompt[1]["content"]) == r["has_context"] == (CLOSE in prompt[1]["content"])
        ctx = None
        if r["has_context"]:
            ctx = retriever.retrieve(r["question"], settings=Retrieval(CFG.k, CFG.chunks_per_product, CFG.score_gap))
        assert prompt == build_messages(r["question"], ctx, tiny_kit), r["id"]


# --- the file --------------------------------------------------------------------------------------------

def test_write_read_round_trip_and_tamper_refused(examples, rows, tmp_path):
    path = tmp_path / "data" / "brand.jsonl"
    path.parent.mkdir()
    sha = write_dataset(examples, path)
    side = path.with_name("brand.jsonl.sha256")
    assert side.read_text().split() == [sha, "brand.jsonl"]
    back, read_sha = read_dataset(path)
    assert back == rows and read_sha == sha

    data = path.read_bytes()
    path.write_bytes(data.replace(b"$249.00", b"$149.00", 1))
    assert path.read_bytes() != data
    with pytest.raises(UserError, match="sha256"):
        read_dataset(path)


def test_shipped_dataset_targets_state_no_catalog_value_and_pass_lint():
    """Facts come from retrieval: a context-bearing target of the committed dataset states no price, stock
    state, colour, size or spec value of its own (outside the disclaimer texts); every value is a field
    reference. And the dataset lints clean: every reference fills from the context's records and the filled
    target contradicts no record (tuning/lint.py)."""
    import json

    from corpus import SAMPLE_DATASET
    from tuning.dataset import ref

    catalog, kit = load_catalog(SAMPLE_CATALOG), load_brand_kit(SAMPLE_BRAND_KIT)
    by_id = catalog.by_id()
    rows = [json.loads(line) for line in SAMPLE_DATASET.read_text(encoding="utf-8").splitlines()]
    offenders = []
    for row in rows:
        if not row["has_context"]:
            continue
        text = target(row)
        for d in kit.disclaimers:
            text = text.replace(d.text, "")
        for pid in row["product_ids"]:  # "Belay Dynamic Rope 9.8 mm x 60 m" holds values in its name
            text = text.replace(kit.approved_name(pid, by_id[pid].name), "")
        if re.search(r"\$\d|\b(?:in|out of|low) stock\b|preorder", text, re.I):
            offenders.append((row["id"], text))
        for pid in row["product_ids"]:
            p = by_id[pid]
            values = [*p.colors, *[v for v in p.specs.values() if re.search(r"\d", v) and len(v) >= 4]]
            offenders += [(row["id"], v) for v in values if v in text]
    assert not offenders, offenders[:5]
    assert sum(ref("stock") in target(r) for r in rows) > 50
    # disclaimers are note references too: the kit's text is filled in, never spelt out by the model
    assert sum("[[note:" in target(r) for r in rows) > 200
    assert not [r["id"] for r in rows for d in kit.disclaimers if d.text in target(r)]
    assert [str(f) for f in lint_dataset(rows, kit, by_id) if f.severity == "error"] == []


def test_the_builder_holds_no_merchant_words():
    """Everything merchant-specific comes from the catalog and the kit: none of the sample's (or the second
    merchant's) brand, line, competitor, occasion or not-carried words is in the builder's code."""
    from pathlib import Path

    import tuning.dataset as builder

    source = Path(builder.__file__).read_text(encoding="utf-8").lower()
    kits = [load_brand_kit(SAMPLE_BRAND_KIT)]
    second = Path(builder.__file__).parents[1] / "corpus" / "kitewell" / "brand_kit.yaml"
    if second.exists():
        kits.append(load_brand_kit(second))
    for kit in kits:
        words = {kit.brand, *kit.competitors, *kit.occasions, *kit.not_carried,
                 *(g.use_instead for g in kit.generic_terms), *(t.mark for t in kit.trademarks)}
        assert kit.competitors and kit.occasions and kit.not_carried
        found = sorted(w for w in words if w.lower() in source)
        assert not found, found


def test_an_old_name_of_several_products_is_answered_for_each(sample):
    catalog, kit, _ = sample
    train, held = split_products(catalog, CFG)
    a, b = [p for p in catalog.products if p.id in train][:2]
    c = next(p for p in catalog.products if p.id in held)
    names = (kit.approved_name(a.id, a.name), kit.approved_name(b.id, b.name))
    straddling = (names[0], kit.approved_name(c.id, c.name))
    kit2 = replace(kit, shared_aliases={"Trailblazer Classic": names, "Old Faithful": straddling})
    rows = [e.to_json() for e in build_dataset(catalog, kit2, Everything(catalog, kit2), CFG)]
    shared = [r for r in rows if r["intent"] == "shared_alias"]
    assert len(shared) == CFG.shared_alias_phrasings  # none for the alias whose products straddle the split
    assert overlap_report(rows)["product_overlap"] == 0
    for r in shared:
        assert "trailblazer classic" in r["messages"][-2]["content"].lower()
        assert sorted(r["product_ids"]) == sorted([a.id, b.id]) and r["asks"] == ["price", "stock"]
        assert "Trailblazer" not in target(r) and all(f"The {n} is [[price]]" in target(r) for n in names)


def test_variant_rows_are_one_product_in_the_dataset(sample):
    catalog, kit, _ = sample
    a = catalog.products[0]
    red = replace(a, id=a.id + "-RED", colors=("Red",))
    catalog2 = replace(catalog, products=catalog.products + (red,))
    kit2 = replace(kit, products={**kit.products, red.id: kit.approved_name(a.id, a.name)})
    rows = [e.to_json() for e in build_dataset(catalog2, kit2, Everything(group_variants(catalog2, kit2), kit2), CFG)]
    ids = {pid for r in rows for pid in r["product_ids"]}
    assert a.id in ids and red.id not in ids  # the grouped product, under its first variant's id
    colours = [r for r in rows if r["product_ids"] == [a.id] and context_ids(r)
               and ("[[colours]]" in target(r) or "[[details]]" in target(r))]
    assert colours
    for r in colours:  # every variant's colour, from the one record
        assert "Red" in shown(r, group_variants(catalog2, kit2), kit2)


def test_a_model_the_store_does_not_have_is_refused(sample):
    from tuning.dataset import near_miss_name
    catalog, kit, data = sample
    products = list(catalog.products)
    assert near_miss_name("Pulse 40 Watch", products, kit) == "Pulse 50 Watch"
    for quantity in ("Haul Bladder 1.5 L", "Surge Drink Mix 500 g", "Stride 5-Inch Short", "Flat Tarp 2x3", "Trail Cap"):
        assert near_miss_name(quantity, products, kit) is None, quantity
    names = {kit.approved_name(p.id, p.name).lower() for p in products}
    near = [r for r in data if r["intent"] == "near_miss"]
    assert near and all(target(r) == NOT_FOUND and r["product_ids"] == [] for r in near)
    for r in near:  # the model asked about is none of the store's, but its line's products are in the context
        question = r["messages"][-2]["content"].rsplit("Question:", 1)[-1].strip().lower()
        assert not any(n in question for n in names), question
    # drawn last, from their own generator: the rows before them do not change
    without = [e.to_json() for e in build_dataset(catalog, kit, Everything(catalog, kit), replace(CFG, near_miss_share=0.0))]
    assert [r for r in data if r["intent"] != "near_miss"] == without
