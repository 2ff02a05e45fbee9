"""The brand kit: approved names, deprecated aliases, generic terms, trademarks, disclaimers, tone, formats.

The schema is documented in corpus/README.md; `load_brand_kit` validates it and reports every problem.
Two shapes real catalogs need: `variants` (one approved name for several ids: colours or sizes sold as
separate SKUs; `kit.products` maps each id to it, `kit.product_ids(name)` lists them) and an alias that
stood for several products (`deprecated_aliases: {old: [name, name]}`, kept in `kit.shared_aliases`;
`kit.alias_targets()` and `kit.aliases_for(name)` cover both kinds of alias).
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from corpus.errors import BrandKitError, Problem
from corpus.ingest import has_visible_text, read_limited
from corpus.schema import DEFAULT_LIMITS, Limits

SECTIONS = ("brand", "version", "products", "variants", "deprecated_aliases", "generic_terms", "trademarks",
            "disclaimers", "tone", "formats", "competitors", "occasions", "not_carried")


@dataclass(frozen=True)
class GenericTerm:
    term: str
    use_instead: str


@dataclass(frozen=True)
class Trademark:
    mark: str
    misspellings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Disclaimer:
    id: str
    text: str
    mentions_price: bool = False
    categories: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class FormatRule:
    name: str
    when: str
    style: str
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class BrandKit:
    brand: str
    version: int
    products: dict[str, str]  # product id -> approved name; variants (several ids) share one name
    deprecated_aliases: dict[str, str]  # alias -> approved name, for an alias that stood for one product
    generic_terms: tuple[GenericTerm, ...] = ()
    trademarks: tuple[Trademark, ...] = ()
    disclaimers: tuple[Disclaimer, ...] = ()
    tone: tuple[str, ...] = ()
    formats: tuple[FormatRule, ...] = ()
    source: str = ""
    sha256: str = ""
    # alias -> the approved names (two or more) of an old name that stood for several products; never in
    # `deprecated_aliases`, so code that maps an alias to one name never picks one of them at random
    shared_aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # optional, for the training-data builder (tuning/dataset.py): other brands shoppers compare with, what
    # shoppers add about their plans ("for a hut trip"), things the store does not sell
    competitors: tuple[str, ...] = ()
    occasions: tuple[str, ...] = ()
    not_carried: tuple[str, ...] = ()

    def approved_name(self, product_id: str, fallback: str = "") -> str:
        return self.products.get(product_id, fallback)

    def product_ids(self, name: str) -> list[str]:
        """Every product id sold under an approved name (several for variants), in kit order."""
        return [pid for pid, n in self.products.items() if n == name]

    def alias_targets(self) -> dict[str, tuple[str, ...]]:
        """Every deprecated alias -> the approved names it can mean: one for `deprecated_aliases`, two or more
        for `shared_aliases` (single ones first, each in kit order)."""
        return {**{a: (n,) for a, n in self.deprecated_aliases.items()}, **self.shared_aliases}

    def aliases_for(self, name: str) -> list[str]:
        """Every deprecated alias that can mean this approved name, single-product aliases first."""
        return [a for a, names in self.alias_targets().items() if name in names]

    def rules_text(self) -> str:
        """The brand rules as plain sentences, for a system prompt."""
        lines = [f"You answer for {self.brand}."]
        lines += [f"- {t}" for t in self.tone]
        if self.deprecated_aliases:
            pairs = "; ".join(f"say '{new}' not '{old}'" for old, new in list(self.deprecated_aliases.items())[:12])
            lines.append(f"- Use approved product names: {pairs}.")
        if self.shared_aliases:
            pairs = "; ".join(f"'{old}' (" + " or ".join(f"'{n}'" for n in names) + ")"
                              for old, names in list(self.shared_aliases.items())[:12])
            lines.append(f"- Old names that stood for more than one product; never use them, name the product "
                         f"meant, or each one: {pairs}.")
        if self.generic_terms:
            lines.append("- Do not use generic labels for branded lines: "
                         + "; ".join(f"'{g.use_instead}' not '{g.term}'" for g in self.generic_terms) + ".")
        if self.trademarks:
            lines.append("- Spell trademarks exactly: " + ", ".join(t.mark for t in self.trademarks) + ".")
        for d in self.disclaimers:
            lines.append(f"- When {_condition_text(d)}, add: \"{d.text}\"")
        for f in self.formats:
            lines.append(f"- When {f.when}, use {f.style.replace('_', ' ')}"
                         + (f" with columns {', '.join(f.columns)}" if f.columns else "") + ".")
        return "\n".join(lines)


def _condition_text(d: Disclaimer) -> str:
    parts = []
    if d.mentions_price:
        parts.append("you state a price")
    if d.categories:
        parts.append("the answer concerns " + "/".join(d.categories))
    if d.collections:
        parts.append("the answer concerns the " + "/".join(d.collections) + " line")
    if d.keywords:
        parts.append("you give sizing or fit advice" if d.id == "sizing" else "the topic is " + "/".join(d.keywords[:3]))
    return " or ".join(parts)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A product id or alias given twice is a mistake, not 'last one wins'."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


class _AliasError(Exception):
    pass


def _expanded_nodes(root: yaml.Node, limit: int) -> int:
    """How many nodes the document has once every alias is expanded; raise `_AliasError` past `limit` or on
    an alias inside its own anchor. A shared node is counted once per use but walked once (memoised), so a
    9**7 alias bomb costs a few dozen steps to measure instead of 1.6 GB to build."""
    sizes: dict[int, int | None] = {}  # id(node) -> expanded size; None while the node is being walked
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]  # iterative: a kit nested 50,000 deep is fine
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if not children_done:
            if key in sizes:
                if sizes[key] is None:
                    raise _AliasError(f"an alias refers to itself (anchor at line {node.start_mark.line + 1})")
                continue
            sizes[key] = None
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))
            continue
        total = 1 + sum(sizes[id(child)] for child in _children(node))  # every child is done: walked after it
        if total > limit:
            raise _AliasError(f"YAML aliases expand to more than {limit} nodes (limit max_kit_nodes); "
                              "write the entries out instead of repeating anchors")
        sizes[key] = total
    return sizes[id(root)] or 0


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def load_brand_kit(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> BrandKit:
    """Read and validate a brand kit; raise one `BrandKitError` listing every problem. The file is read
    within `limits.max_kit_bytes` and its YAML aliases may expand to at most `limits.max_kit_nodes` nodes."""
    path = Path(path)
    file = str(path)
    data = read_limited(path, limits.max_kit_bytes, BrandKitError, what="brand kit file")
    try:
        loader = _UniqueKeyLoader(data.decode("utf-8"))
        try:  # yaml.load in two steps, so that alias expansion is measured before anything is built
            node = loader.get_single_node()
            if node is not None:
                _expanded_nodes(node, limits.max_kit_nodes)
            doc = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except UnicodeDecodeError as e:
        raise BrandKitError([Problem(file, None, None, None, f"not valid UTF-8 at byte offset {e.start}")]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise BrandKitError([Problem(file, mark.line + 1 if mark else None, None, None,
                                     f"not valid YAML: {getattr(e, 'problem', e)}")]) from None
    except _AliasError as e:
        raise BrandKitError([Problem(file, None, None, None, str(e))]) from None
    except RecursionError:
        raise BrandKitError([Problem(file, None, None, None, "YAML nested too deeply")]) from None
    if not isinstance(doc, dict):
        raise BrandKitError([Problem(file, None, None, None, "brand kit must be a YAML mapping")])
    return parse_brand_kit(doc, file, hashlib.sha256(data).hexdigest())


def parse_brand_kit(doc: dict, file: str = "<brand kit>", sha256: str = "") -> BrandKit:
    problems: list[Problem] = []

    def bad(fld: str, value, rule: str) -> None:
        problems.append(Problem(file, None, fld, None if value is None else str(value), rule))

    for key in doc:  # a misspelt section ("deprecated_alias:") would otherwise drop every entry silently
        if key not in SECTIONS:
            close = difflib.get_close_matches(str(key).lower(), SECTIONS, n=1, cutoff=0.6)
            bad(str(key), None, f"unknown section; did you mean {close[0]!r}?" if close
                else f"unknown section; known sections: {', '.join(SECTIONS)}")

    def mapping(key: str) -> dict[str, str]:
        m = doc.get(key) or {}
        if not isinstance(m, dict):
            bad(key, m, "must be a mapping")
            return {}
        out = {}
        for k, val in m.items():
            # empty, blank or only zero-width/bidi characters ("\u200b" is a name nobody can see)
            if not (isinstance(k, str) and isinstance(val, str) and has_visible_text(k) and has_visible_text(val)):
                bad(f"{key}.{k}", val, "keys and values must be non-empty strings with visible characters")
                continue
            out[k.strip()] = val.strip()
        return out

    def seq(key: str) -> list:
        s = doc.get(key) or []
        if not isinstance(s, list):
            bad(key, s, "must be a list")
            return []
        return s

    brand = doc.get("brand")
    if not isinstance(brand, str) or not brand.strip():
        bad("brand", brand, "required: the brand's name")
        brand = ""
    version = doc.get("version", 1)
    if not isinstance(version, int):
        bad("version", version, "must be an integer")
        version = 0
    products = mapping("products")
    variants = _variants(doc.get("variants") or None, products, bad)
    if not products and not variants:
        bad("products", None, "required: approved name per product id")
    seen: dict[str, str] = {}
    variant_names = set(variants.values())
    for pid, name in products.items():
        if name in seen or name in variant_names:
            owner = seen.get(name) or f"variants.{name}"
            bad(f"products.{pid}", name, f"approved name already used by {owner}; list the ids sold as variants "
                                         f"of one product under 'variants'")
        seen[name] = pid
    products = {**products, **variants}
    approved = set(products.values())
    aliases, shared = _aliases(doc.get("deprecated_aliases") or None, approved, bad)

    generic = []
    for i, g in enumerate(seq("generic_terms")):
        if not isinstance(g, dict) or not isinstance(g.get("term"), str) or not isinstance(g.get("use_instead"), str):
            bad(f"generic_terms[{i}]", g, "each entry needs 'term' and 'use_instead' strings")
            continue
        generic.append(GenericTerm(g["term"].strip(), g["use_instead"].strip()))
    marks = []
    for i, t in enumerate(seq("trademarks")):
        if not isinstance(t, dict) or not isinstance(t.get("mark"), str):
            bad(f"trademarks[{i}]", t, "each entry needs a 'mark' string")
            continue
        miss = t.get("misspellings") or []
        if not isinstance(miss, list) or not all(isinstance(m, str) for m in miss):
            bad(f"trademarks[{i}].misspellings", miss, "must be a list of strings")
            miss = []
        marks.append(Trademark(t["mark"].strip(), tuple(m.strip() for m in miss)))
    disclaimers = []
    for i, d in enumerate(seq("disclaimers")):
        if not isinstance(d, dict) or not isinstance(d.get("id"), str) or not isinstance(d.get("text"), str):
            bad(f"disclaimers[{i}]", d, "each entry needs 'id' and 'text' strings")
            continue
        when = d.get("when") or {}
        known = {"mentions_price", "categories", "collections", "keywords"}
        if not isinstance(when, dict) or not when or set(when) - known:
            bad(f"disclaimers[{i}].when", when, f"must be a mapping using {sorted(known)}")
            continue
        lists = {}
        for k in ("categories", "collections", "keywords"):
            val = when.get(k) or []
            if not isinstance(val, list) or not all(isinstance(x, str) for x in val):
                bad(f"disclaimers[{i}].when.{k}", val, "must be a list of strings")
                val = []
            lists[k] = tuple(val)
        disclaimers.append(Disclaimer(d["id"], d["text"].strip(), bool(when.get("mentions_price")), **lists))
    def strings(key: str) -> list[str]:
        out = []
        for i, t in enumerate(seq(key)):
            if not isinstance(t, str) or not t.strip():
                bad(f"{key}[{i}]", t, "must be a string" if not isinstance(t, str) else "must not be empty")
                continue
            out.append(t)
        return out

    tone = strings("tone")
    competitors, occasions, not_carried = strings("competitors"), strings("occasions"), strings("not_carried")
    formats = []
    fdoc = doc.get("formats") or {}
    if not isinstance(fdoc, dict):
        bad("formats", fdoc, "must be a mapping of format name -> rule")
        fdoc = {}
    for name, f in fdoc.items():
        if not isinstance(f, dict) or not isinstance(f.get("when"), str) or not isinstance(f.get("style"), str):
            bad(f"formats.{name}", f, "each format needs 'when' and 'style' strings")
            continue
        columns = f.get("columns") or []
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            bad(f"formats.{name}.columns", columns, "must be a list of column names")
            continue
        formats.append(FormatRule(name, f["when"], f["style"], tuple(columns)))
    if problems:
        raise BrandKitError(problems)
    return BrandKit(brand=brand, version=version, products=products, deprecated_aliases=aliases,
                    generic_terms=tuple(generic), trademarks=tuple(marks), disclaimers=tuple(disclaimers),
                    tone=tuple(tone), formats=tuple(formats), source=file, sha256=sha256, shared_aliases=shared,
                    competitors=tuple(competitors), occasions=tuple(occasions), not_carried=tuple(not_carried))


def _visible(x) -> bool:
    return isinstance(x, str) and has_visible_text(x)


def _variants(vdoc, products: dict[str, str], bad) -> dict[str, str]:
    """`variants: {approved name: [id, ...]}` -> {id: approved name}: ids sold as separate SKUs (a colour or a
    size each) under one approved name. An id belongs to one place: `products` or one variant group."""
    if vdoc is None:
        return {}
    if not isinstance(vdoc, dict):
        bad("variants", vdoc, "must be a mapping of approved name -> list of product ids")
        return {}
    out: dict[str, str] = {}
    for name, ids in vdoc.items():
        fld = f"variants.{name}"
        if not _visible(name):
            bad(fld, ids, "keys must be approved names: non-empty strings with visible characters")
            continue
        if not isinstance(ids, list) or not ids or not all(_visible(i) for i in ids):
            bad(fld, ids, "must be a non-empty list of the product ids sold under this name")
            continue
        for pid in (i.strip() for i in ids):
            if pid in products:
                bad(fld, pid, f"product id is also listed under products (as {products[pid]!r}); list it once")
            elif pid in out:
                bad(fld, pid, f"product id is already listed under variants.{out[pid]}")
            else:
                out[pid] = name.strip()
    return out


def _aliases(adoc, approved: set[str], bad) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """`deprecated_aliases: {old: approved name}` or `{old: [approved name, ...]}` for an old name that stood
    for several products -> (single-product aliases, shared aliases). A one-name list is a single alias."""
    single: dict[str, str] = {}
    shared: dict[str, tuple[str, ...]] = {}
    if adoc is None:
        return single, shared
    if not isinstance(adoc, dict):
        bad("deprecated_aliases", adoc, "must be a mapping")
        return single, shared
    for old, new in adoc.items():
        fld = f"deprecated_aliases.{old}"
        names = [new] if isinstance(new, str) else new
        if not _visible(old) or not isinstance(names, list) or not names or not all(_visible(n) for n in names):
            bad(fld, new, "keys and values must be non-empty strings with visible characters (a value may be a "
                          "list of the approved names an old name stood for)")
            continue
        old, names = old.strip(), [n.strip() for n in names]
        for n in names:
            if n not in approved:
                bad(fld, n, "must map to an approved product name")
        if len(set(names)) < len(names):
            bad(fld, new, "lists an approved name twice")
        if old in approved:
            bad(fld, old, "an alias cannot also be an approved name")
        if len(names) == 1:
            single[old] = names[0]
        else:
            shared[old] = tuple(names)
    return single, shared
