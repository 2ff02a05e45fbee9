"""Lint the catalog, brand kit and training dataset for the mess a brand adapter would memorise.

Errors are contradictions in the kit (the adapter cannot learn a rule the kit states two ways), catalog ids
the kit does not name, and training targets that break a brand rule (the adapter would learn the mistake).
Warnings are the catalog's own mess — legacy names, old names in descriptions, misspelt marks — which is
exactly what the adapter learns to correct, so it never blocks training; and text in catalog fields that
tries to take over the model (instruction-like phrases, links and addresses outside the `url` field,
markup), which reaches every prompt that retrieves the product (corpus/hostile.py). Training refuses to start while
there are errors unless overridden.

    report = lint("corpus/sample/catalog.jsonl", "corpus/sample/brand_kit.yaml", "data/brand.jsonl")
    for f in report.findings:
        print(f)        # error dataset.deprecated-alias data/brand.jsonl:12 (ex-0011): target says ...

Every finding has a location: "path:line (field or row id)" where the line is known, else "path: field".
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from corpus.brandkit import BrandKit, load_brand_kit
from corpus.checks import find_deprecated, find_generic, find_misspelt_trademarks, missing_disclaimers
from corpus.claims import contradictions
from corpus.errors import BrandKitError, CatalogError, Problem
from corpus.hostile import find_instructions, find_links, find_markup
from corpus.ingest import load_catalog
from corpus.schema import Catalog, Product
from rag.fields import fill_text, quoted_spans

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" | "warning"
    code: str  # short stable id, e.g. "kit.duplicate-approved-name"
    location: str  # "path:line (field)" where the line is known, else "path: field"
    message: str  # one readable sentence naming the value

    def __str__(self) -> str:
        return f"{self.severity} {self.code} {self.location}: {self.message}"


@dataclass(frozen=True)
class LintReport:
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    def to_json(self) -> dict:
        return {"errors": len(self.errors), "warnings": len(self.warnings),
                "findings": [asdict(f) for f in self.findings]}


def _norm(text: str) -> str:
    """The matching key the checks use for names: case-insensitive, whitespace folded."""
    return re.sub(r"\s+", " ", text).strip().casefold()


def _contains_term(text: str, term: str) -> bool:
    # the same whole-word rule corpus.checks uses for names and generic terms
    return re.search(r"(?<![\w-])" + re.escape(term) + r"(?![\w-])", text, re.I) is not None


# --- brand kit ----------------------------------------------------------------------------------------

def _yaml_lines(path: str) -> dict[str, int]:
    """Field path ("products.FH-1", "generic_terms[2].use_instead") -> 1-based line, in the field
    naming corpus.brandkit uses for its problems. Empty when the path is not a readable YAML file."""
    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    lines: dict[str, int] = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    continue
                for k in {key.value, key.value.strip()}:
                    field = f"{prefix}.{k}" if prefix else k
                    lines.setdefault(field, key.start_mark.line + 1)
                walk(value, f"{prefix}.{key.value.strip()}" if prefix else key.value.strip())
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines.setdefault(f"{prefix}[{i}]", item.start_mark.line + 1)
                walk(item, f"{prefix}[{i}]")

    walk(root, "")
    return lines


def _where(path: str, field: str | None, line: int | None) -> str:
    if line is not None:
        return f"{path}:{line}" + (f" ({field})" if field else "")
    return f"{path}: {field}" if field else path


def lint_kit_file(path: str | Path) -> tuple[BrandKit | None, list[Finding]]:
    """Load the kit; every problem the loader refuses becomes one error finding (kit.invalid) instead of
    an exception. Returns (kit, []) when it loads; the kit's own checks are `lint_kit`."""
    try:
        return load_brand_kit(path), []
    except BrandKitError as e:
        return None, _problem_findings(e.problems, "kit.invalid", _yaml_lines(str(path)))


def _problem_findings(problems: list[Problem], code: str, lines: dict[str, int] | None = None) -> list[Finding]:
    out = []
    for p in problems:
        line = p.line if p.line is not None else (lines or {}).get(p.field or "")
        msg = f"{p.value!r}: {p.rule}" if p.value is not None else p.rule
        out.append(Finding(ERROR, code, _where(p.file, p.field, line), msg[:1].upper() + msg[1:] + "."))
    return out


def lint_kit(kit: BrandKit, catalog: Catalog | None = None) -> list[Finding]:
    """Contradictions inside the kit, and (given the catalog) ids on one side only.

    Without a catalog the collections are unknown, so generic terms' `use_instead` is not checked."""
    lines = _yaml_lines(kit.source) if kit.source and not kit.source.startswith("<") else {}
    out: list[Finding] = []

    def add(severity: str, code: str, field: str, message: str) -> None:
        out.append(Finding(severity, code, _where(kit.source, field, lines.get(field)), message))

    first_name: dict[str, tuple[str, str]] = {}  # normalised name -> (product id, name)
    for pid, name in kit.products.items():
        key = _norm(name)
        if key in first_name and first_name[key][1] != name:  # the same name twice: variants (kit `variants`)
            other_id, other = first_name[key]
            add(ERROR, "kit.duplicate-approved-name", f"products.{pid}",
                f"Approved name {name!r} for {pid} differs only by case or spacing from {other!r} "
                f"for {other_id}; names match case-insensitively, so answers cannot tell them apart.")
        else:
            first_name[key] = (pid, name)

    first_alias: dict[str, tuple[str, str]] = {}  # normalised alias -> (alias, approved name)
    for alias, name in kit.deprecated_aliases.items():
        field = f"deprecated_aliases.{alias}"
        key = _norm(alias)
        if key in first_name:
            add(ERROR, "kit.alias-is-approved-name", field,
                f"Deprecated alias {alias!r} is the approved name {first_name[key][1]!r} "
                f"of {first_name[key][0]}, so the kit both requires and forbids it.")
        seen = first_alias.setdefault(key, (alias, name))
        if _norm(seen[1]) != _norm(name):
            add(ERROR, "kit.alias-conflict", field,
                f"Deprecated alias {alias!r} points at {name!r}, but {seen[0]!r} (the same alias, "
                f"matched case-insensitively) points at {seen[1]!r}.")

    for i, t in enumerate(kit.trademarks):
        for wrong in t.misspellings:
            if wrong == t.mark:
                add(ERROR, "kit.misspelling-is-mark", f"trademarks[{i}].misspellings",
                    f"Trademark {t.mark!r} lists itself as a misspelling, so every correct use would be flagged.")

    for g in kit.generic_terms:
        for pid, name in kit.products.items():
            if _contains_term(name, g.term):
                add(WARNING, "kit.generic-in-approved-name", f"products.{pid}",
                    f"Approved name {name!r} contains the generic term {g.term!r}, "
                    f"which the kit says not to use (use {g.use_instead!r}).")

    if catalog is not None:
        known = {_norm(n) for n in kit.products.values()} | {_norm(p.collection) for p in catalog.products}
        for i, g in enumerate(kit.generic_terms):
            if _norm(g.use_instead) not in known:
                add(WARNING, "kit.generic-target-unknown", f"generic_terms[{i}].use_instead",
                    f"Generic term {g.term!r} says to use {g.use_instead!r}, which is neither an approved "
                    f"product name nor a catalog collection.")
        ids = catalog.by_id()
        for pid in ids:
            if pid not in kit.products:
                add(ERROR, "kit.product-missing", f"products.{pid}",
                    f"Catalog product {pid} ({ids[pid].name!r}) has no approved name in the kit.")
        for pid, name in kit.products.items():
            if pid not in ids:
                add(WARNING, "kit.unknown-product", f"products.{pid}",
                    f"Kit product {pid} ({name!r}) is not in the catalog {catalog.source}.")
    return out


# --- catalog ------------------------------------------------------------------------------------------

def lint_catalog(catalog: Catalog, kit: BrandKit) -> list[Finding]:
    """Legacy names, old names in copy and misspelt marks in the catalog: warnings, never errors."""
    out: list[Finding] = []
    aliases = {_norm(a): a for a in kit.deprecated_aliases}
    for p in catalog.products:
        def add(code: str, field: str, message: str) -> None:
            out.append(Finding(WARNING, code, f"{catalog.source}: {p.id}.{field}", message))

        approved = kit.products.get(p.id)
        old = find_deprecated(p.name, kit)
        if _norm(p.name) in aliases or old:
            alias = aliases.get(_norm(p.name))
            what = "is a deprecated name" if alias else f"uses the deprecated name {old[0].term!r}"
            now = approved or (kit.deprecated_aliases[alias] if alias else old[0].canonical)
            add("catalog.deprecated-name", "name",
                f"Catalog name {p.name!r} {what}; the approved name is {now!r}.")
        elif approved is not None and p.name != approved:
            add("catalog.name-mismatch", "name",
                f"Catalog name {p.name!r} differs from the approved name {approved!r}.")

        texts = [("name", p.name), ("description", p.description)]
        texts += [(f"specs.{k}", v) for k, v in p.specs.items()]
        for field, text in texts:
            if field != "name":
                for term, canonical in _distinct(find_deprecated(text, kit)):
                    add("catalog.deprecated-alias", field,
                        f"{field.split('.')[0].capitalize()} uses the deprecated name {term!r} "
                        f"(approved: {canonical!r}).")
            for term, mark in _distinct(find_misspelt_trademarks(text, kit)):
                add("catalog.misspelt-trademark", field, f"{term!r} misspells the trademark {mark!r}.")
            out.extend(_hostile(catalog.source, p.id, field, text))
    return out


def _hostile(source: str, pid: str, field: str, text: str) -> list[Finding]:
    """Warnings for text that addresses the model instead of describing the product (corpus/hostile.py):
    it reaches every prompt that retrieves the product, and a small base model may obey it."""
    where = f"{source}: {pid}.{field}"
    what = field.split(".")[0].capitalize()
    out = []
    instructions, markup = find_instructions(text), find_markup(text)
    if instructions:  # one finding per field, naming what was found
        out.append(Finding(WARNING, "catalog.instruction-like", where,
                           f"{what} reads like an instruction to the model ({_listed(instructions)}); catalog "
                           "text is reference data, and a small model may obey it."))
    out += [Finding(WARNING, "catalog.link", where,
                    f"{what} holds {_LINK_WORDS[link.kind]} ({_clip(link.text)!r}); answers "
                    "may repeat it, and only a product's url field vouches for a link (the app flags the rest).")
            for link in find_links(text)]
    if markup:
        out.append(Finding(WARNING, "catalog.markup", where,
                           f"{what} holds markup ({_listed(markup)}); the model reads it as text and may copy it."))
    return out


def _listed(hits: list[str], most: int = 4) -> str:
    shown = ", ".join(repr(_clip(h)) for h in hits[:most])
    return shown + (f" and {len(hits) - most} more" if len(hits) > most else "")


_LINK_WORDS = {"url": "a link", "email": "an e-mail address", "domain": "a domain"}


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _distinct(mentions) -> list[tuple[str, str]]:
    return list(dict.fromkeys((m.term, m.canonical) for m in mentions))


# --- dataset ------------------------------------------------------------------------------------------

def lint_dataset(rows: list[dict], kit: BrandKit, products: dict[str, Product],
                 source: str = "<dataset>") -> list[Finding]:
    """Brand rules on every row's target (its last assistant message). Rows are numbered from 1 in the
    location; `lint` passes the real file lines instead."""
    return _lint_rows(list(enumerate(rows, start=1)), kit, products, source)


_CONTEXT_ID = re.compile(r"^Product: .* \(id ([^)\s]+)\)$", re.M)  # rag/prompting.py format_context


def _lint_rows(numbered: list[tuple[int, object]], kit: BrandKit, products: dict[str, Product] | None,
               source: str) -> list[Finding]:
    """products None: the catalog did not load, so product ids are not checked."""
    out: list[Finding] = []
    for line, row in numbered:
        row_id = row.get("id") if isinstance(row, dict) and isinstance(row.get("id"), str) else "?"
        where = f"{source}:{line} ({row_id})"

        def add(severity: str, code: str, message: str) -> None:
            out.append(Finding(severity, code, where, message))

        shape = _shape_problems(row)
        if shape:
            add(ERROR, "dataset.bad-row", "Row is malformed: " + "; ".join(shape) + ".")
            continue
        answers = [m for m in row["messages"] if m["role"] == "assistant"]
        target = answers[-1]["content"] if answers else ""
        if not target.strip():
            add(ERROR, "dataset.no-target",
                "Row has no assistant message to train on." if not answers else "Row's target is empty.")
            continue
        ids = row["product_ids"]
        if products is not None and (unknown := [i for i in ids if i not in products]):
            add(ERROR, "dataset.unknown-product", f"product_ids names unknown products: {', '.join(unknown)}.")
        for term, canonical in _distinct(find_deprecated(target, kit)):
            add(ERROR, "dataset.deprecated-alias",
                f"Target says the deprecated name {term!r}; the approved name is {canonical!r}.")
        for term, mark in _distinct(find_misspelt_trademarks(target, kit)):
            add(ERROR, "dataset.misspelt-trademark", f"Target misspells the trademark {mark!r} as {term!r}.")
        concerned = [products[i] for i in ids if i in products] if products else []
        quoted: list[tuple[int, int]] = []
        # facts come from retrieval: the target as the shopper would see it (references filled from the products
        # in its context; note references need only the kit) must not hold a reference nothing can fill, nor
        # contradict a record
        shown = [products[i] for i in _CONTEXT_ID.findall(row["messages"][-2]["content"]) if i in products] \
            if products and len(row["messages"]) >= 2 else []
        target, fills = fill_text(target, shown, (products or {}).values(), kit)
        for f in fills:
            if not f.filled:
                add(ERROR, "dataset.unfilled-reference", f"Target's {f.label}.")
        if products:
            quoted = quoted_spans(fills)
            extra = " ".join(d.text for d in kit.disclaimers)
            for c in contradictions(target, list(products.values()), kit=kit, default=shown[:1],
                                    question=row["question"], extra_text=extra, quoted=quoted):
                add(ERROR, "dataset.contradiction", f"Target contradicts the catalog: {c.product}: {c.message}.")
        for d in missing_disclaimers(kit, row["question"], target, concerned, quoted):
            add(ERROR, "dataset.missing-disclaimer", f"Target lacks the required {d.id!r} disclaimer: {d.text!r}.")
        for term, instead in _distinct(find_generic(target, kit)):
            add(WARNING, "dataset.generic-term", f"Target uses the generic label {term!r}; say {instead!r}.")
    return out


def _shape_problems(row: object) -> list[str]:
    if not isinstance(row, dict):
        return [f"expected a JSON object, got {type(row).__name__}"]
    out = []
    if not isinstance(row.get("id"), str) or not row["id"].strip():
        out.append("'id' must be a non-empty string")
    msgs = row.get("messages")
    if not isinstance(msgs, list) or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in msgs):
        out.append("'messages' must be a list of {role, content} objects with string values")
    if not isinstance(row.get("question"), str):
        out.append("'question' must be a string")
    ids = row.get("product_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        out.append("'product_ids' must be a list of product id strings")
    return out


def _read_dataset(path: Path) -> tuple[list[tuple[int, object]], list[Finding]]:
    """(line, row) for every non-blank line, plus an error finding for each line that is not JSON."""
    file = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        return [], [Finding(ERROR, "dataset.unreadable", file, f"Cannot read the dataset: {e.strerror}.")]
    except UnicodeDecodeError as e:
        return [], [Finding(ERROR, "dataset.unreadable", file, f"Dataset is not valid UTF-8 at byte offset {e.start}.")]
    rows, findings = [], []
    # split on "\n" only: U+2028 and friends are legal inside JSON strings
    for line, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            rows.append((line, json.loads(raw)))
        except json.JSONDecodeError as e:
            findings.append(Finding(ERROR, "dataset.bad-json", f"{file}:{line}",
                                    f"Line is not valid JSON: {e.msg} at column {e.colno}."))
    return rows, findings


# --- everything ---------------------------------------------------------------------------------------

def lint(catalog_path: str | Path, kit_path: str | Path, dataset_path: str | Path | None = None) -> LintReport:
    """Kit, then catalog, then dataset. Files that do not load become error findings, not exceptions;
    checks that need a file that did not load are skipped."""
    kit, findings = lint_kit_file(kit_path)
    try:
        catalog = load_catalog(catalog_path)
    except CatalogError as e:
        catalog = None
        findings += _problem_findings(e.problems, "catalog.invalid")
    if kit is not None:
        findings += lint_kit(kit, catalog)
        if catalog is not None:
            findings += lint_catalog(catalog, kit)
    if dataset_path is not None:
        rows, bad_lines = _read_dataset(Path(dataset_path))
        findings += bad_lines
        if kit is not None:
            products = catalog.by_id() if catalog is not None else None
            findings += _lint_rows(rows, kit, products, str(dataset_path))
    return LintReport(tuple(findings))


def lint_dataset_rows(rows: list[dict], kit: BrandKit, catalog: Catalog, file: str) -> list[Finding]:
    """The dataset checks of `lint` on rows in memory (line numbers from 1), before they are written."""
    return _lint_rows(list(enumerate(rows, 1)), kit, catalog.by_id(), file)
