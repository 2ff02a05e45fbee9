"""The second merchant (corpus/kitewell): its generators reproduce the committed files, the files carry the
mess a real export has, and the real loaders (ingest, lint, load_cases, the CLI) accept them.

    .venv/bin/python -m pytest tests/corpus/test_second_merchant.py -q
"""

from __future__ import annotations

import json
import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from corpus import load_brand_kit, load_catalog
from corpus.checks import find_deprecated, find_misspelt_trademarks, _pattern
from corpus.errors import CatalogError
from corpus.kitewell import make_eval_prompts, make_kitewell
from evaluation.metrics import load_cases
from onbrand.cli import main as cli
from tuning.lint import lint

HERE = Path(make_kitewell.__file__).resolve().parent
CATALOG, RAW, KIT, PROMPTS = (HERE / n for n in ("products.csv", "products_raw.csv", "brand_kit.yaml",
                                                 "eval_prompts.jsonl"))
GENERATED = ("products.csv", "products_raw.csv", "brand_kit.yaml")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG)


@pytest.fixture(scope="module")
def kit():
    return load_brand_kit(KIT)


# --- the generators are deterministic and the committed files are theirs ------------------------------------

def test_generators_reproduce_the_committed_files(tmp_path):
    make_kitewell.write(tmp_path)
    for name in GENERATED:
        assert (tmp_path / name).read_bytes() == (HERE / name).read_bytes(), name
    rows, errs = make_eval_prompts.generate(tmp_path)
    assert errs == []
    assert "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) == PROMPTS.read_text(encoding="utf-8")


def test_a_second_run_writes_the_same_bytes(tmp_path):
    make_kitewell.write(tmp_path / "a")
    make_kitewell.write(tmp_path / "b")
    for name in GENERATED:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


# --- the mess --------------------------------------------------------------------------------------------

def test_catalog_size_lines_and_stock_mix(catalog):
    assert len(catalog) >= 150
    assert catalog.fmt == "csv"
    assert len({p.collection for p in catalog.products}) >= 10
    states = Counter(p.stock.value for p in catalog.products)
    assert states["out_of_stock"] / len(catalog) >= 0.10
    assert states["low_stock"] >= 10 and states["preorder"] >= 5
    assert sum(p.sale_price is not None for p in catalog.products) >= 10


def test_variants_are_separate_skus_under_one_approved_name(catalog, kit):
    groups = Counter(kit.products[p.id] for p in catalog.products)
    variant_names = [n for n, count in groups.items() if count > 1]
    assert len(variant_names) >= 20
    assert sum(groups[n] for n in variant_names) >= 60  # SKUs sold as a variant
    by_id = catalog.by_id()
    kinds = Counter()
    for name in variant_names:
        skus = [by_id[i] for i in kit.product_ids(name)]
        if all(len(p.colors) == 1 for p in skus) and len({p.colors for p in skus}) == len(skus):
            kinds["colour"] += 1
        elif all(len(p.sizes) == 1 for p in skus) and len({p.sizes for p in skus}) == len(skus):
            kinds["size"] += 1
        elif len({p.specs.get("flavour") for p in skus}) == len(skus):
            kinds["flavour"] += 1
    assert kinds["colour"] >= 10 and kinds["size"] >= 5 and kinds["flavour"] >= 3, kinds


def test_raw_export_reports_each_bundle_without_a_price(catalog):
    with pytest.raises(CatalogError) as e:
        load_catalog(RAW)
    problems = e.value.problems
    assert len(problems) == 3
    lines = RAW.read_text(encoding="utf-8").splitlines()
    for p in problems:
        assert (p.field, p.rule) == ("price", "required field is missing or empty")
        assert ",Bundles," in lines[p.line - 1] and lines[p.line - 1].startswith("KW-BND-")
    assert len(lines) - 1 == len(catalog) + 3  # the clean export is the raw one without those rows


def test_descriptions_carry_html_old_names_and_misspelt_marks(catalog, kit):
    with CATALOG.open(encoding="utf-8", newline="") as f:
        raw = {r["id"]: r["description"] for r in csv.DictReader(f)}
    html = [pid for pid, body in raw.items() if re.search(r"<(?:p|ul|li)>", body)]
    assert len(html) >= 0.5 * len(catalog)
    assert any("&amp;" in body for body in raw.values())
    # ingest turns an HTML body into text in every format, not only Shopify's: no tags reach the sources
    by_id = catalog.by_id()
    assert not any(re.search(r"</?(?:p|ul|li)>", p.description) for p in catalog.products)
    assert all("&amp;" not in by_id[pid].description for pid in html)
    assert any("&" in by_id[pid].description for pid in html if "&amp;" in raw[pid])
    old = [p for p in catalog.products if find_deprecated(p.description, kit)]
    assert len(old) >= 12
    shared_in_copy = {m.term for p in catalog.products for m in find_deprecated(p.description, kit)
                      if m.term in kit.shared_aliases}
    assert shared_in_copy == set(kit.shared_aliases)
    assert sum(bool(find_misspelt_trademarks(p.description, kit)) for p in catalog.products) >= 8


def test_old_names_in_the_name_column(catalog, kit):
    legacy = [p for p in catalog.products if find_deprecated(p.name, kit)]
    assert len(legacy) >= 10
    labelled = [p for p in catalog.products if p.name.startswith(kit.products[p.id] + " - ")]
    assert len(labelled) >= 10  # a variant's colour or size in its export name


def test_approved_names_keep_a_legacy_mark_spelling(catalog, kit):
    misspellings = [m for t in kit.trademarks for m in t.misspellings]
    kept = {n for n in kit.products.values() if any(_pattern(m, 0).search(n) for m in misspellings)}
    assert len(kept) >= 2
    assert all(find_misspelt_trademarks(n, kit) == [] for n in kept)
    assert find_misspelt_trademarks("an Aerospring midsole", kit)


def test_kit_uses_every_extension_and_its_own_formats(kit):
    assert len({n for n in kit.products.values() if len(kit.product_ids(n)) > 1}) >= 20
    assert len(kit.shared_aliases) >= 3 and all(len(v) == 2 for v in kit.shared_aliases.values())
    assert len(kit.deprecated_aliases) >= 15
    table = next(f for f in kit.formats if f.style == "markdown_table")
    assert table.columns == ("Product", "Price", "Key features")
    sample = load_brand_kit(HERE.parent / "sample" / "brand_kit.yaml")
    assert table.columns != next(f for f in sample.formats if f.style == "markdown_table").columns
    assert {d.text for d in kit.disclaimers}.isdisjoint({d.text for d in sample.disclaimers})
    assert set(kit.tone).isdisjoint(sample.tone)
    assert {g.term for g in kit.generic_terms} and {t.mark for t in kit.trademarks}.isdisjoint(
        {t.mark for t in sample.trademarks})


# --- the real loaders ------------------------------------------------------------------------------------

def test_lint_has_no_errors_only_the_catalogs_mess(kit):
    report = lint(CATALOG, KIT)
    assert report.errors == [], [str(f) for f in report.errors]
    codes = Counter(f.code for f in report.warnings)
    assert all(c.startswith("catalog.") for c in codes), codes  # the export's mess; nothing about the kit
    for code in ("catalog.name-mismatch", "catalog.deprecated-name", "catalog.deprecated-alias",
                 "catalog.misspelt-trademark"):
        assert codes[code], (code, codes)
    # a legacy spelling inside an approved name is never a misspelt trademark
    assert not [f for f in report.warnings if f.code == "catalog.misspelt-trademark" and f.location.endswith(".name")]


def test_cli_ingest_and_lint(capsys, catalog):
    assert cli(["ingest", str(CATALOG)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["format"], out["products"], out["sha256"]) == ("csv", len(catalog), catalog.sha256())
    assert cli(["ingest", str(RAW)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all("field 'price': required field is missing or empty" in line for line in err)
    assert cli(["lint", "--catalog", str(CATALOG), "--brand-kit", str(KIT)]) == 0
    assert json.loads(capsys.readouterr().out)["errors"] == 0


def test_prompts_load_and_cover_every_kind(catalog, kit):
    cases = load_cases(PROMPTS, kit=kit, catalog=catalog)
    assert len(cases) >= 80
    kinds = Counter(c.kind for c in cases)
    assert set(kinds) == set(make_eval_prompts.KINDS), kinds
    for c in cases:
        assert c.asks or c.not_in_catalog, c.id
        assert (c.format == "table") == (c.kind == "compare"), c.id
        assert list(c.approved_names) == [kit.products[p] for p in c.product_ids], c.id
    by_id = catalog.by_id()
    stock = [by_id[p].stock.value for c in cases if "stock" in c.asks for p in c.product_ids]
    for state in ("out_of_stock", "low_stock", "preorder"):
        assert stock.count(state) / len(stock) >= 0.10, (state, Counter(stock))
    shared = [c for c in cases if set(c.must_not_use) & set(kit.shared_aliases)]
    assert len(shared) >= 4 and all(len(c.product_ids) == 2 for c in shared if c.kind == "deprecated_name")


def test_prompts_are_written_as_shoppers_type_and_held_out(catalog):
    cases = load_cases(PROMPTS)
    assert sum(c.question == c.question.lower() for c in cases) >= 0.8 * len(cases)
    templates = [t for pair in make_eval_prompts.phrasings().values() for half in pair for t in half]
    spec_keys = {k.lower() for p in catalog.products for k in p.specs}
    from evaluation.heldout import template_hits

    assert [c.id for c in cases if template_hits(c.question, templates, spec_keys)] == []

