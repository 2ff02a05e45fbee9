"""Lint: kit contradictions and training-target mistakes are errors; the catalog's mess is warnings.

    .venv/bin/python -m pytest tests/tuning/test_lint.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from corpus import SAMPLE_BRAND_KIT, SAMPLE_CATALOG
from corpus.brandkit import parse_brand_kit
from corpus.schema import Catalog, Product
from tuning.lint import (Finding, LintReport, lint, lint_catalog, lint_dataset, lint_kit, lint_kit_file)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY_KIT = FIXTURES / "tiny_brand_kit.yaml"
TINY_CATALOG = FIXTURES / "tiny_catalog.jsonl"

DOME = "Quokka Dome 2 Tent"
STOVE = "Quokka Blaze Mini Stove"
PRICE_NOTE = "Prices can change; check the product page."
STOVE_NOTE = "Use stoves outdoors only."


def kit_doc(**changes) -> dict:
    doc = yaml.safe_load(TINY_KIT.read_text(encoding="utf-8"))
    doc.update(changes)
    return doc


def make_kit(**changes):
    return parse_brand_kit(kit_doc(**changes), "kit.yaml")


def product(pid: str, name: str, collection: str = "Quokka Shelter", category: str = "Tents", **kw) -> Product:
    return Product(id=pid, name=name, collection=collection, category=category, price=100.0, **kw)


def catalog(*products: Product) -> Catalog:
    return Catalog(products=products, source="cat.jsonl", fmt="jsonl")


def only(findings: list[Finding], code: str) -> Finding:
    hits = [f for f in findings if f.code == code]
    assert len(hits) == 1, [str(f) for f in findings]
    return hits[0]


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


# --- the shipped sample ---------------------------------------------------------------------------------

def test_sample_has_no_errors_and_warns_about_its_legacy_names():
    report = lint(SAMPLE_CATALOG, SAMPLE_BRAND_KIT)
    assert report.errors == [], [str(f) for f in report.errors]
    assert report.warnings
    assert {f.severity for f in report.findings} == {"warning"}
    legacy = [f for f in report.warnings if f.code == "catalog.deprecated-name"]
    assert any(f.location.endswith("FH-TRL-001.name") and "'Trekker 28'" in f.message
               and "'TrailForm 28 Daypack'" in f.message for f in legacy)
    assert any(f.code == "catalog.deprecated-alias" and f.location.endswith(".description") for f in report.warnings)


def test_tiny_fixtures_have_no_errors(tiny_kit, tiny_catalog):
    assert [f for f in lint_kit(tiny_kit, tiny_catalog) if f.severity == "error"] == []
    assert all(f.severity == "warning" for f in lint_catalog(tiny_catalog, tiny_kit))


# --- brand kit ------------------------------------------------------------------------------------------

def test_kit_the_loader_refuses_becomes_one_error_per_problem_with_its_line(tmp_path):
    path = tmp_path / "kit.yaml"
    path.write_text("brand: Q\nproducts:\n  A: Dome\n  B: Dome\ndeprecated_aliases:\n  Old: Nothing\n",
                    encoding="utf-8")
    kit, findings = lint_kit_file(path)
    assert kit is None
    assert codes(findings) == ["kit.invalid", "kit.invalid"]
    assert {f.severity for f in findings} == {"error"}
    dup, alias = findings
    assert dup.location == f"{path}:4 (products.B)" and "'Dome'" in dup.message
    assert alias.location == f"{path}:6 (deprecated_aliases.Old)" and "'Nothing'" in alias.message


def test_kit_with_bad_yaml_reports_the_line_instead_of_raising(tmp_path):
    path = tmp_path / "kit.yaml"
    path.write_text("brand: Q\nproducts:\n  A: [unclosed\n", encoding="utf-8")
    kit, findings = lint_kit_file(path)
    assert kit is None
    f = only(findings, "kit.invalid")
    assert f.location.startswith(f"{path}:") and "YAML" in f.message


def test_kit_file_that_loads_has_no_findings():
    kit, findings = lint_kit_file(TINY_KIT)
    assert kit is not None and kit.brand == "Quokka Gear"
    assert findings == []


def test_alias_that_points_at_two_names_is_an_error():
    kit = make_kit(deprecated_aliases={"Sparky": STOVE, "sparky": DOME})
    f = only(lint_kit(kit), "kit.alias-conflict")
    assert f.severity == "error"
    assert f.location == "kit.yaml: deprecated_aliases.sparky"
    assert "'Sparky'" in f.message and repr(STOVE) in f.message and repr(DOME) in f.message


def test_aliases_differing_by_case_but_agreeing_are_fine():
    kit = make_kit(deprecated_aliases={"Sparky": STOVE, "SPARKY": STOVE})
    assert lint_kit(kit) == []


def test_alias_equal_to_an_approved_name_ignoring_case_is_an_error():
    kit = make_kit(deprecated_aliases={"quokka dome 2 tent": "Quokka Dome 4 Tent"})
    f = only(lint_kit(kit), "kit.alias-is-approved-name")
    assert f.severity == "error"
    assert f.location == "kit.yaml: deprecated_aliases.quokka dome 2 tent"
    assert "'quokka dome 2 tent'" in f.message and "QK-TNT-01" in f.message


def test_approved_names_differing_only_by_case_are_an_error():
    doc = kit_doc()
    doc["products"]["QK-TNT-02"] = "QUOKKA DOME 2  TENT"
    f = only(lint_kit(parse_brand_kit(doc, "kit.yaml")), "kit.duplicate-approved-name")
    assert f.severity == "error"
    assert f.location == "kit.yaml: products.QK-TNT-02"
    assert "'QUOKKA DOME 2  TENT'" in f.message and "QK-TNT-01" in f.message


def test_trademark_listing_itself_as_a_misspelling_is_an_error():
    kit = make_kit(trademarks=[{"mark": "GlowCore", "misspellings": ["Glowcore", "GlowCore"]}])
    f = only(lint_kit(kit), "kit.misspelling-is-mark")
    assert f.severity == "error"
    assert f.location == "kit.yaml: trademarks[0].misspellings" and "'GlowCore'" in f.message


def test_catalog_ids_missing_from_the_kit_are_errors_and_extra_kit_ids_warnings(tiny_catalog):
    extra = product("QK-NEW-01", "Quokka Nova Tent")
    cat = Catalog(products=tiny_catalog.products[1:] + (extra,), source="cat.jsonl", fmt="jsonl")
    findings = lint_kit(make_kit(), cat)
    missing = only(findings, "kit.product-missing")
    assert missing.severity == "error"
    assert "QK-NEW-01" in missing.location and "'Quokka Nova Tent'" in missing.message
    unknown = only(findings, "kit.unknown-product")
    assert unknown.severity == "warning"
    assert unknown.location == "kit.yaml: products.QK-TNT-01" and repr(DOME) in unknown.message


def test_generic_term_pointing_nowhere_is_a_warning_given_the_catalog(tiny_catalog):
    kit = make_kit(generic_terms=[{"term": "hiking boots", "use_instead": "Quokka Feet"},  # a collection
                                  {"term": "tent", "use_instead": DOME},  # an approved name
                                  {"term": "stove", "use_instead": "Quokka Cookware"}])  # neither
    f = only(lint_kit(kit, tiny_catalog), "kit.generic-target-unknown")
    assert f.severity == "warning"
    assert f.location == "kit.yaml: generic_terms[2].use_instead"
    assert "'stove'" in f.message and "'Quokka Cookware'" in f.message
    assert "kit.generic-target-unknown" not in codes(lint_kit(kit))  # collections unknown without a catalog


def test_generic_term_inside_an_approved_name_is_a_warning():
    kit = make_kit(generic_terms=[{"term": "mini stove", "use_instead": "Quokka Flame"}])
    f = only(lint_kit(kit), "kit.generic-in-approved-name")
    assert f.severity == "warning"
    assert f.location == "kit.yaml: products.QK-STV-01"
    assert repr(STOVE) in f.message and "'mini stove'" in f.message


def test_kit_findings_carry_the_yaml_line_when_the_kit_came_from_a_file(tmp_path):
    path = tmp_path / "kit.yaml"
    text = TINY_KIT.read_text(encoding="utf-8").replace("  Blaze Mini: Quokka Blaze Mini Stove",
                                                        "  Blaze Mini: Quokka Blaze Mini Stove\n  blaze mini: Quokka Dome 2 Tent")
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index("  blaze mini: Quokka Dome 2 Tent") + 1
    kit, findings = lint_kit_file(path)
    assert findings == []
    f = only(lint_kit(kit), "kit.alias-conflict")
    assert f.location == f"{path}:{line} (deprecated_aliases.blaze mini)"


# --- catalog --------------------------------------------------------------------------------------------

def test_catalog_name_that_is_a_deprecated_alias_is_a_warning():
    f = only(lint_catalog(catalog(product("QK-STV-01", "sparky", "Quokka Flame", "Camp Stoves")), make_kit()),
             "catalog.deprecated-name")
    assert f.severity == "warning"
    assert f.location == "cat.jsonl: QK-STV-01.name"
    assert "'sparky'" in f.message and repr(STOVE) in f.message


def test_catalog_name_containing_a_deprecated_alias_is_a_warning():
    f = only(lint_catalog(catalog(product("QK-STV-01", "Sparky Stove v2", "Quokka Flame")), make_kit()),
             "catalog.deprecated-name")
    assert "'Sparky Stove v2'" in f.message and "'Sparky'" in f.message


def test_catalog_name_differing_from_the_approved_name_is_a_warning():
    f = only(lint_catalog(catalog(product("QK-TNT-01", "Dome Two")), make_kit()), "catalog.name-mismatch")
    assert f.severity == "warning"
    assert f.location == "cat.jsonl: QK-TNT-01.name"
    assert "'Dome Two'" in f.message and repr(DOME) in f.message


def test_catalog_copy_using_a_deprecated_alias_is_a_warning_but_formerly_is_allowed():
    p = product("QK-STV-01", STOVE, "Quokka Flame", description="Formerly the Sparky. Lighter than the Sparky.",
                specs={"replaces": "Blaze Mini", "output": "2,800 W"})
    findings = lint_catalog(catalog(p), make_kit())
    assert codes(findings) == ["catalog.deprecated-alias", "catalog.deprecated-alias"]
    assert {f.severity for f in findings} == {"warning"}
    desc, spec = findings
    assert desc.location == "cat.jsonl: QK-STV-01.description" and "'Sparky'" in desc.message
    assert spec.location == "cat.jsonl: QK-STV-01.specs.replaces" and "'Blaze Mini'" in spec.message


@pytest.mark.parametrize("field", ["name", "description", "specs.lamp"])
def test_misspelt_trademark_in_the_catalog_is_a_warning(field):
    text = "Quokka Glowworm 200 Headlamp Glow-Core"
    kw = {"description": text} if field == "description" else {"specs": {"lamp": text}} if field != "name" else {}
    p = product("QK-LMP-01", text if field == "name" else "Quokka Glowworm 200 Headlamp", "Quokka Light", **kw)
    findings = [f for f in lint_catalog(catalog(p), make_kit()) if f.code == "catalog.misspelt-trademark"]
    assert [f.location for f in findings] == [f"cat.jsonl: QK-LMP-01.{field}"]
    assert findings[0].severity == "warning"
    assert "'Glow-Core'" in findings[0].message and "'GlowCore'" in findings[0].message


# --- dataset --------------------------------------------------------------------------------------------

def row(target: str | None, question: str = "how much is the dome 2?", ids=("QK-TNT-01",), rid: str = "ex-1",
        **extra) -> dict:
    messages = [{"role": "system", "content": "rules"}, {"role": "user", "content": question}]
    if target is not None:
        messages.append({"role": "assistant", "content": target})
    return {"id": rid, "messages": messages, "question": question, "product_ids": list(ids), **extra}


def lint_rows(tiny_kit, tiny_catalog, *rows: dict) -> list[Finding]:
    return lint_dataset(list(rows), tiny_kit, tiny_catalog.by_id(), source="data.jsonl")


def test_clean_row_has_no_findings(tiny_kit, tiny_catalog):
    good = row(f"The {DOME} is $249.00. {PRICE_NOTE}")
    stove = row(f"The {STOVE} boils a litre in 3.5 min. {STOVE_NOTE}", "is the blaze mini good", ["QK-STV-01"])
    assert lint_rows(tiny_kit, tiny_catalog, good, stove) == []


@pytest.mark.parametrize("target, expected", [(None, "no assistant message"), ("  ", "empty")])
def test_row_without_a_target_is_an_error(tiny_kit, tiny_catalog, target, expected):
    f = only(lint_rows(tiny_kit, tiny_catalog, row(f"The {DOME}."), row(target, rid="ex-2")), "dataset.no-target")
    assert f.severity == "error" and f.location == "data.jsonl:2 (ex-2)" and expected in f.message


def test_only_the_last_assistant_message_is_the_target(tiny_kit, tiny_catalog):
    r = row(f"The {DOME}.")
    r["messages"][1:1] = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Sparky!"}]
    assert lint_rows(tiny_kit, tiny_catalog, r) == []


def test_target_using_a_deprecated_alias_is_an_error(tiny_kit, tiny_catalog):
    f = only(lint_rows(tiny_kit, tiny_catalog, row(f"The Sparky is great. {STOVE_NOTE}", ids=["QK-STV-01"])),
             "dataset.deprecated-alias")
    assert f.severity == "error" and f.location == "data.jsonl:1 (ex-1)"
    assert "'Sparky'" in f.message and repr(STOVE) in f.message


def test_target_misspelling_a_trademark_is_an_error(tiny_kit, tiny_catalog):
    r = row("The Quokka Glowworm 200 Headlamp uses Glowcore LEDs.", ids=["QK-LMP-01"])
    f = only(lint_rows(tiny_kit, tiny_catalog, r), "dataset.misspelt-trademark")
    assert f.severity == "error" and "'Glowcore'" in f.message and "'GlowCore'" in f.message


def test_target_missing_a_required_disclaimer_is_an_error(tiny_kit, tiny_catalog):
    stove = row(f"The {STOVE} boils a litre in 3.5 min.", ids=["QK-STV-01"], rid="stove")  # category rule
    priced = row(f"The {DOME} is $249.00.", rid="priced")  # price rule
    findings = lint_rows(tiny_kit, tiny_catalog, stove, priced)
    assert codes(findings) == ["dataset.missing-disclaimer", "dataset.missing-disclaimer"]
    assert [f.location for f in findings] == ["data.jsonl:1 (stove)", "data.jsonl:2 (priced)"]
    assert "'stove_safety'" in findings[0].message and STOVE_NOTE in findings[0].message
    assert "'price'" in findings[1].message and {f.severity for f in findings} == {"error"}


def test_row_naming_unknown_products_is_an_error(tiny_kit, tiny_catalog):
    f = only(lint_rows(tiny_kit, tiny_catalog, row(f"The {DOME}.", ids=["QK-TNT-01", "QK-GONE-9"])),
             "dataset.unknown-product")
    assert f.severity == "error" and "QK-GONE-9" in f.message and "QK-TNT-01" not in f.message


def test_generic_term_in_the_target_is_a_warning(tiny_kit, tiny_catalog):
    r = row("The Quokka Wallaby Trail Boot is one of our best hiking boots.", ids=["QK-BOT-01"])
    f = only(lint_rows(tiny_kit, tiny_catalog, r), "dataset.generic-term")
    assert f.severity == "warning" and "'hiking boots'" in f.message and "'Quokka Feet'" in f.message


def test_malformed_row_is_an_error_not_a_crash(tiny_kit, tiny_catalog):
    bad = {"id": "ex-9", "messages": "hello", "question": 3}
    findings = lint_dataset([bad, ["not", "an", "object"]], tiny_kit, tiny_catalog.by_id(), "d.jsonl")
    assert codes(findings) == ["dataset.bad-row", "dataset.bad-row"]
    assert findings[0].location == "d.jsonl:1 (ex-9)"
    assert "'messages'" in findings[0].message and "'question'" in findings[0].message
    assert "'product_ids'" in findings[0].message
    assert findings[1].location == "d.jsonl:2 (?)" and "list" in findings[1].message


# --- end to end -----------------------------------------------------------------------------------------

def test_lint_files_end_to_end_with_line_numbers(tmp_path):
    data = tmp_path / "data.jsonl"
    lines = [json.dumps(row(f"The {DOME}.", rid="ok")), "",
             '{"id": "broken", "messages": [',
             json.dumps(row("The Sparky.", ids=["QK-STV-01"], rid="old-name"))]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = lint(TINY_CATALOG, TINY_KIT, data)
    assert isinstance(report, LintReport)
    bad = only(report.findings, "dataset.bad-json")
    assert bad.severity == "error" and bad.location == f"{data}:3"
    old = only(report.findings, "dataset.deprecated-alias")
    assert old.location == f"{data}:4 (old-name)"
    missing = only(report.findings, "dataset.missing-disclaimer")
    assert missing.location == f"{data}:4 (old-name)"
    assert sorted(codes(report.errors)) == ["dataset.bad-json", "dataset.deprecated-alias",
                                            "dataset.missing-disclaimer"]
    assert report.warnings and all(f.code.startswith("catalog.") for f in report.warnings)
    js = report.to_json()
    assert js["errors"] == 3 and js["warnings"] == len(report.warnings)
    assert len(js["findings"]) == len(report.findings)
    assert set(js["findings"][0]) == {"severity", "code", "location", "message"}
    json.dumps(js)
    assert str(old) == f"error dataset.deprecated-alias {data}:4 (old-name): {old.message}"


def test_lint_reports_files_that_do_not_load(tmp_path):
    cat = tmp_path / "cat.jsonl"
    cat.write_text('{"id": "QK-TNT-01", "name": "Dome"}\n', encoding="utf-8")  # no collection, price...
    report = lint(cat, tmp_path / "missing.yaml", tmp_path / "missing.jsonl")
    assert {f.severity for f in report.findings} == {"error"}
    assert {"kit.invalid", "catalog.invalid", "dataset.unreadable"} <= set(codes(report.findings))
    assert any(f.code == "catalog.invalid" and f.location.startswith(f"{cat}:1") for f in report.findings)


def test_dataset_is_checked_against_the_kit_even_when_the_catalog_does_not_load(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(row("The Sparky.", ids=["QK-STV-01"])) + "\n", encoding="utf-8")
    report = lint(tmp_path / "no-catalog.jsonl", TINY_KIT, data)
    assert "dataset.deprecated-alias" in codes(report.errors)
    assert "dataset.unknown-product" not in codes(report.findings)  # no catalog, no id check
