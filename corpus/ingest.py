"""Catalog ingest: JSONL, CSV with a field mapping, and Shopify's product CSV export.

Every format is parsed into raw records (line number + canonical field names), then one validator
turns records into `Product`s and collects *every* problem before raising a single `CatalogError`.

    from corpus.ingest import load_catalog
    catalog = load_catalog("corpus/sample/catalog.jsonl")
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterable

from corpus.errors import CatalogError, InputError, Problem
from corpus.schema import DEFAULT_LIMITS, Catalog, Limits, Product, Stock

FORMATS = ("jsonl", "csv", "shopify")
FIELDS = ("id", "name", "collection", "category", "price", "sale_price", "currency", "specs",
          "sizes", "colors", "stock", "description", "url", "skus")
REQUIRED = ("id", "name", "collection", "category", "price")
LIST_SEP = ";"  # CSV cells holding lists: "S; M; L"; specs: "weight: 1.1 kg; capacity: 28 L"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
# Prices as text: ASCII digits only (float() also takes "1_000", "١٢" and "1e3"); a thousands separator only
# between groups of three digits, so "12,34" (a decimal comma) is refused instead of becoming 1234.00.
PRICE_DECIMALS = ("point", "comma")  # the mapping's price_decimal option: 1,234.50 (default) or 1.234,50
_PRICE_RE = {"point": re.compile(r"[+-]?(?:[1-9][0-9]{0,2}(?:,[0-9]{3})+|[0-9]*)(?:\.[0-9]*)?"),
             "comma": re.compile(r"[+-]?(?:[1-9][0-9]{0,2}(?:\.[0-9]{3})+|[0-9]*)(?:,[0-9]*)?")}
_PRICE_RULE = {"point": "must be a number such as 1249.50 or 1,249.50 (',' only between groups of three digits); "
                        "for a decimal comma (12,34) declare price_decimal=comma in --map",
               "comma": "must be a number such as 1249,50 or 1.249,50 (price_decimal=comma: ',' before the "
                        "decimals, '.' only between groups of three digits)"}
_QTY_RE = re.compile(r"[+-]?[0-9]{1,15}(?:\.0*)?")  # a count of items, as Shopify exports it ("3", "-1", "3.0")
_TAG = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?|/[a-zA-Z][a-zA-Z0-9]*\s*)>")  # an HTML tag: <p>, </li>, <br/>
_INVISIBLE = "has no visible characters (only zero-width, bidi-control or space characters)"
_MAX_MAPPING_BYTES = 1 << 20  # a field -> column mapping is a few hundred bytes
_READ_CHUNK = 1 << 20  # bytes per read(): a stream is cut off at the limit plus at most this much memory
_STOCK_ALIASES = {"in stock": "in_stock", "instock": "in_stock", "low stock": "low_stock",
                  "out of stock": "out_of_stock", "outofstock": "out_of_stock", "sold out": "out_of_stock",
                  "pre-order": "preorder", "pre order": "preorder"}


@dataclass(frozen=True)
class RawRecord:
    line: int
    values: dict[str, Any]


def load_catalog(path: str | Path, fmt: str | None = None, mapping: dict[str, str] | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> Catalog:
    """Read and validate a catalog file; raise `CatalogError` listing every problem found.

    fmt: jsonl | csv | shopify; None guesses from the suffix and, for CSV, the Shopify header.
    mapping: for plain CSV, canonical field -> column header (e.g. {"name": "Product Name"}).
    """
    path = Path(path)
    file = str(path)
    mapping = dict(mapping or {})
    decimal = mapping.pop("price_decimal", "point")  # an option, not a column: applies to every format
    if decimal not in PRICE_DECIMALS:
        raise CatalogError([Problem("--map", None, "price_decimal", str(decimal),
                                    "must be 'point' (prices like 1,234.50) or 'comma' (prices like 1.234,50)")])
    text = read_text(path, limits)
    fmt = fmt or guess_format(path, text)
    parse_problems: list[Problem] = []
    if fmt == "jsonl":
        records, parse_problems = parse_jsonl(text, file)
    elif fmt == "csv":
        records = parse_csv(text, file, mapping)
    elif fmt == "shopify":
        records, parse_problems = parse_shopify(text, file)
    else:
        raise CatalogError([Problem(file, None, "format", fmt, f"unknown format; use one of {FORMATS}")])
    if len(records) > limits.max_rows:
        raise CatalogError([Problem(file, None, None, str(len(records)),
                                    f"too many rows: limit is {limits.max_rows}")])
    products = validate_records(records, file, limits, parse_problems, decimal=decimal)
    return Catalog(products=tuple(products), source=file, fmt=fmt)


def read_limited(path: Path, max_bytes: int, error: type[InputError] = CatalogError,
                 what: str = "catalog file") -> bytes:
    """A file's bytes, or `error` naming the file and the limit as soon as more than `max_bytes` arrive.

    The limit counts what is read, not what stat() reports: a pipe, /dev/stdin or a device says 0 bytes
    (`cat big.jsonl | onbrand ingest /dev/stdin`, or /dev/zero, which never ends)."""
    file = str(path)

    def too_large(value: str) -> InputError:
        return error([Problem(file, None, None, value, f"file too large: limit is {max_bytes} bytes")])

    data = bytearray()
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISREG(st.st_mode) and st.st_size > max_bytes:  # a regular file: refuse before reading
                raise too_large(f"{st.st_size} bytes")
            while len(data) <= max_bytes:
                chunk = f.read(min(_READ_CHUNK, max_bytes + 1 - len(data)))
                if not chunk:
                    break
                data += chunk
    except IsADirectoryError:
        raise error([Problem(file, None, None, None, f"cannot read file: it is a folder, not a {what}")]) from None
    except OSError as e:
        raise error([Problem(file, None, None, None, f"cannot read file: {e.strerror or e}")]) from None
    if len(data) > max_bytes:
        raise too_large(f"more than {max_bytes} bytes")
    return bytes(data)


def read_text(path: Path, limits: Limits = DEFAULT_LIMITS) -> str:
    """Read a file as UTF-8 within the size limit; name the byte offset of every bad sequence."""
    file = str(path)
    data = read_limited(path, limits.max_file_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CatalogError(_utf8_problems(data, file)) from None
    return text.removeprefix("\ufeff")  # Excel and Shopify write a BOM


def _utf8_problems(data: bytes, file: str, max_reported: int = 20) -> list[Problem]:
    problems, pos = [], 0
    while pos < len(data) and len(problems) < max_reported:
        try:
            data[pos:].decode("utf-8")
            break
        except UnicodeDecodeError as e:
            offset = pos + e.start
            line = data.count(b"\n", 0, offset) + 1
            bad = data[offset:offset + max(1, e.end - e.start)]
            problems.append(Problem(file, line, None, bad.hex(" "),
                                    f"not valid UTF-8 at byte offset {offset}; re-export the file as UTF-8"))
            pos = offset + max(1, e.end - e.start)
    return problems


def guess_format(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    header = text.split("\n", 1)[0]
    if "Handle" in header and "Variant Price" in header:
        return "shopify"
    return "csv"


# --- parsers: text -> raw records -----------------------------------------------------------------

def parse_jsonl(text: str, file: str) -> tuple[list[RawRecord], list[Problem]]:
    """One JSON object per line. Lines split on "\n" only: U+2028 and friends are legal inside JSON strings."""
    records, problems = [], []
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(file, lineno, None, line[:60], f"not valid JSON: {e.msg} at column {e.colno}"))
            continue
        except (ValueError, RecursionError) as e:  # 4300-digit integers, absurd nesting
            problems.append(Problem(file, lineno, None, line[:60], f"not valid JSON: {str(e)[:80]}"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(file, lineno, None, line[:60], "each line must be a JSON object"))
            continue
        for key in sorted(set(obj) - set(FIELDS)):
            problems.append(Problem(file, lineno, key, None, f"unknown field; known fields: {', '.join(FIELDS)}"))
        records.append(RawRecord(lineno, _text_body({k: v for k, v in obj.items() if k in FIELDS})))
    return records, problems


def _text_body(values: dict[str, Any]) -> dict[str, Any]:
    """An HTML description (an export's product body, formatting tags only) as plain text, in every format:
    the model and the sources get text, not tags. Shopify's Body (HTML) is always stripped by `parse_shopify`."""
    body = values.get("description")
    if isinstance(body, str) and _TAG.search(body) and \
            all(t.lower() in _FORMATTING for t in re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", body)):
        values["description"] = strip_html(body)
    return values


# an export's formatting markup; a description with any other tag (<script>, <img onerror=...>) is left as it is,
# so lint reports it as markup (corpus/hostile.py) and the app shows it as inert text
_FORMATTING = frozenset({"p", "br", "ul", "ol", "li", "b", "strong", "i", "em", "u", "div", "span", "h1", "h2",
                         "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "td", "th", "hr", "small", "sup",
                         "sub"})


def _csv_rows(text: str, file: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header + (first physical line, row) pairs; csv.reader (unlike DictReader) reports blank lines,
    so line numbers stay exact across blank lines and quoted multi-line cells."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows, header = [], None
    line_start = 1
    try:
        for cells in reader:
            start, line_start = line_start, reader.line_num + 1
            if header is None:
                header = [c.strip() for c in cells]
                continue
            if not cells:
                continue
            if len(cells) > len(header):
                raise CatalogError([Problem(file, start, None, None,
                                            f"row has {len(cells)} cells, header has {len(header)}")])
            rows.append((start, dict(zip(header, cells + [""] * (len(header) - len(cells))))))
    except csv.Error as e:  # reported where the broken record starts: an unclosed quote runs to the end of file
        hint = "; a quoted cell that opens here is never closed" if "end of data" in str(e) else ""
        raise CatalogError([Problem(file, line_start, None, None,
                                    f"malformed CSV in the record that starts on this line: {e}{hint}")]) from None
    if not header:
        raise CatalogError([Problem(file, 1, None, None, "empty file: no CSV header")])
    return header, rows


def parse_csv(text: str, file: str, mapping: dict[str, str]) -> list[RawRecord]:
    """Plain CSV; `mapping` maps canonical field -> column header, unmapped fields use their own name."""
    bad_keys = sorted(set(mapping) - set(FIELDS))
    if bad_keys:
        raise CatalogError([Problem(file, None, k, mapping[k], f"mapping names an unknown field; known: {', '.join(FIELDS)}")
                            for k in bad_keys])
    header, rows = _csv_rows(text, file)
    columns = {f: mapping.get(f, f) for f in FIELDS}
    missing = [Problem(file, 1, f, columns[f], "required column missing from header")
               for f in REQUIRED if columns[f] not in header]
    missing += [Problem(file, 1, f, col, "mapped column missing from header")
                for f, col in mapping.items() if f not in REQUIRED and col not in header]
    if missing:
        raise CatalogError(missing)
    records = []
    for line, row in rows:
        if not any((v or "").strip() for v in row.values()):
            continue
        values = {f: row[col] for f, col in columns.items() if col in header and (row[col] or "").strip() != ""}
        records.append(RawRecord(line, _text_body(values)))
    return records


class _TextExtractor(HTMLParser):
    _BLOCK = {"p", "br", "li", "div", "h1", "h2", "h3", "h4", "tr", "ul", "ol"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def strip_html(html: str) -> str:
    """Product body HTML -> plain text (scripts/styles dropped, entities decoded, whitespace folded)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return re.sub(r"\s+", " ", "".join(parser.parts)).strip()


_SIZE_OPTIONS = {"size", "sizes", "shoe size"}
_COLOR_OPTIONS = {"color", "colour", "colors", "colours"}


def parse_shopify(text: str, file: str) -> tuple[list[RawRecord], list[Problem]]:
    """Shopify product CSV export: rows grouped by Handle; the first row of a handle carries the product.

    Collection comes from a `collection:<name>` tag (Shopify exports no collections), else the
    product Type. Category is the Type. Price is the lowest variant's; a Compare At Price above
    it makes that the list price and the variant price the sale price. Stock sums Variant Inventory Qty;
    a quantity that is not a whole number is a problem (field 'stock'), reported even for a draft.
    """
    header, rows = _csv_rows(text, file)
    needed = ("Handle", "Title", "Variant Price")
    missing = [Problem(file, 1, c, None, "required Shopify column missing from header") for c in needed if c not in header]
    if missing:
        raise CatalogError(missing)
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, row in rows:
        handle = (row.get("Handle") or "").strip()
        if not handle:
            if any((v or "").strip() for v in row.values()):
                groups.setdefault("", []).append((line, row))
            continue
        groups.setdefault(handle, []).append((line, row))
    records, problems = [], []
    for handle, group in groups.items():
        first_line, first = group[0]
        if not handle:
            records.append(RawRecord(first_line, {}))  # validator reports the missing id
            continue
        variants = [r for _, r in group if (r.get("Variant Price") or "").strip()]
        tags = [t.strip() for t in (first.get("Tags") or "").split(",") if t.strip()]
        collection = next((t.split(":", 1)[1].strip() for t in tags if t.lower().startswith("collection:")), "")
        ptype = (first.get("Type") or "").strip()
        values: dict[str, Any] = {
            "id": handle,
            "name": (first.get("Title") or "").strip(),
            "collection": collection or ptype,
            "category": ptype,
            "description": strip_html(first.get("Body (HTML)") or ""),
        }
        prices, compares, qty, tracked = [], [], 0, False
        sizes: list[str] = []
        colors: list[str] = []
        skus: list[str] = []
        for _, r in group:
            for i in (1, 2, 3):
                opt = (first.get(f"Option{i} Name") or "").strip().lower()
                val = (r.get(f"Option{i} Value") or "").strip()
                if val and opt in _SIZE_OPTIONS and val not in sizes:
                    sizes.append(val)
                if val and opt in _COLOR_OPTIONS and val not in colors:
                    colors.append(val)
        for r in variants:
            prices.append(r["Variant Price"].strip())
            compares.append((r.get("Variant Compare At Price") or "").strip())
            if (r.get("Variant SKU") or "").strip():
                skus.append(r["Variant SKU"].strip())
            q = (r.get("Variant Inventory Qty") or "").strip()
            if q:
                tracked = True
                if _QTY_RE.fullmatch(q):
                    qty += int(float(q))
                else:  # "lots", "inf", "1e400" (once an OverflowError), "1_000"
                    problems.append(Problem(file, first_line, "stock", q,
                                            "Variant Inventory Qty must be a whole number such as 12"))
        if variants:
            idx = min(range(len(prices)), key=lambda i: _num_or_inf(prices[i]))
            values["price"] = prices[idx]
            if compares[idx] and _num_or_inf(compares[idx]) > _num_or_inf(prices[idx]):
                values["price"], values["sale_price"] = compares[idx], prices[idx]
        values.update(sizes=sizes, colors=colors, skus=skus)
        if tracked and "stock" not in values:
            values["stock"] = "in_stock" if qty > 5 else "low_stock" if qty > 0 else "out_of_stock"
        if (first.get("Status") or "").strip().lower() == "draft":
            values["stock"] = "preorder"
        records.append(RawRecord(first_line, values))
    return records, problems


def _encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def has_visible_text(s: str) -> bool:
    """False for text made only of zero-width, bidi-control, other format or space characters."""
    return any(unicodedata.category(c) not in ("Cf", "Cc", "Zs", "Zl", "Zp") for c in s)


def parse_price(raw: str, decimal: str = "point") -> float | None:
    """A price cell as a float, or None when it is not a number written the strict way (see _PRICE_RE)."""
    s = raw.strip()
    s = s[1:].strip() if s.startswith("$") else s
    if not _PRICE_RE[decimal].fullmatch(s) or not re.search("[0-9]", s):
        return None
    if decimal == "comma":
        return float(s.replace(".", "").replace(",", "."))
    return float(s.replace(",", ""))


def _num_or_inf(s: str) -> float:
    try:
        return float(s)
    except (ValueError, OverflowError):
        return math.inf


# --- validation: raw records -> products ----------------------------------------------------------

def validate_records(records: Iterable[RawRecord], file: str, limits: Limits = DEFAULT_LIMITS,
                     problems: list[Problem] | None = None, decimal: str = "point") -> list[Product]:
    """Records -> products; raise one CatalogError with every problem (plus any given), in line order.
    decimal: how price strings are written, "point" (1,234.50) or "comma" (1.234,50)."""
    products, problems = [], list(problems or [])
    first_line_of: dict[str, int] = {}
    for rec in records:
        found: list[Problem] = []
        product = _validate_one(rec, file, limits, found, decimal)
        raw_id = rec.values.get("id")
        raw_id = raw_id.strip() if isinstance(raw_id, str) else None
        if raw_id and raw_id in first_line_of:
            found.append(Problem(file, rec.line, "id", raw_id,
                                 f"duplicate id (first seen at line {first_line_of[raw_id]})"))
        elif raw_id:
            first_line_of[raw_id] = rec.line
        problems.extend(found)
        if not found and product is not None:
            products.append(product)
    if problems:
        raise CatalogError(sorted(problems, key=lambda p: (p.line or 0)))
    if not products:
        raise CatalogError([Problem(file, None, None, None, "catalog has no products")])
    return products


def _validate_one(rec: RawRecord, file: str, limits: Limits, out: list[Problem], decimal: str = "point"
                  ) -> Product | None:
    v = rec.values

    def bad(field: str, value: Any, rule: str) -> None:
        out.append(Problem(file, rec.line, field, None if value is None else str(value), rule))

    def text(field: str, required: bool = False, max_chars: int = limits.max_field_chars) -> str:
        raw = v.get(field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                bad(field, None, "required field is missing or empty")
            return ""
        if not isinstance(raw, str):
            bad(field, raw, "must be a string")
            return ""
        raw = raw.strip()
        if len(raw) > max_chars:
            bad(field, raw, f"too long: {len(raw)} characters, limit is {max_chars}")
        if "\x00" in raw:
            bad(field, raw, "contains a NUL character")
        if not _encodable(raw):
            bad(field, raw.encode("utf-8", "backslashreplace").decode(), "contains an unpaired surrogate escape")
        if not has_visible_text(raw):  # "\u200b" or "\u202e" alone would pass as a name nobody can see
            bad(field, raw, _INVISIBLE)
            return ""
        return raw

    def number(field: str, required: bool = False) -> float | None:
        raw = v.get(field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                bad(field, None, "required field is missing or empty")
            return None
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            bad(field, raw, "must be a number")
            return None
        if isinstance(raw, str):
            x = parse_price(raw, decimal)
            if x is None:
                rule = "must be a number"
                if ("," if decimal == "point" else ".") in raw:  # a separator in the wrong place
                    rule = _PRICE_RULE[decimal]
                elif not raw.isascii() and any(c.isdigit() for c in raw):
                    rule = "must be a number written with the digits 0-9"
                bad(field, raw, rule)
                return None
        else:
            try:
                x = float(raw)
            except OverflowError:
                bad(field, raw, "must be a number")
                return None
        if not math.isfinite(x) or x < 0:
            bad(field, raw, "must be a finite number >= 0")
            return None
        return round(x, 2) + 0.0  # + 0.0 turns -0.0 into 0.0: one price, one content hash

    def str_list(field: str) -> tuple[str, ...]:
        raw = v.get(field)
        if raw is None:
            return ()
        if isinstance(raw, str):
            raw = [s for s in (p.strip() for p in raw.split(LIST_SEP)) if s]
        if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
            bad(field, raw, "must be a list of strings")
            return ()
        for s in raw:
            if not _encodable(s):
                bad(field, s.encode("utf-8", "backslashreplace").decode(), "contains an unpaired surrogate escape")
            if s.strip() and not has_visible_text(s):
                bad(field, s, f"item {_INVISIBLE}")
            if len(s) > limits.max_name_chars:
                bad(field, s, f"item too long: {len(s)} characters, limit is {limits.max_name_chars}")
        return tuple(s.strip() for s in raw if s.strip())

    ident = text("id", required=True, max_chars=limits.max_id_chars)
    if ident and not _ID_RE.match(ident):
        bad("id", ident, "ids use letters, digits, '.', '_' and '-' and start with a letter or digit")
    name = text("name", required=True, max_chars=limits.max_name_chars)
    collection = text("collection", required=True, max_chars=limits.max_name_chars)
    category = text("category", required=True, max_chars=limits.max_name_chars)
    price = number("price", required=True)
    sale = number("sale_price")
    if price is not None and sale is not None and sale >= price:
        bad("sale_price", v.get("sale_price"), f"sale price must be below the price ({price:.2f})")
    currency = text("currency", max_chars=3) or "USD"
    if not _CURRENCY_RE.match(currency):
        bad("currency", currency, "must be a 3-letter ISO code such as USD")

    specs: dict[str, str] = {}
    raw_specs = v.get("specs")
    if isinstance(raw_specs, str):
        for part in (p.strip() for p in raw_specs.split(LIST_SEP)):
            if not part:
                continue
            key, sep, val = part.partition(":")
            if not sep or not key.strip() or not val.strip():
                bad("specs", part, "each spec is 'key: value', separated by ';'")
                continue
            specs[key.strip()] = val.strip()
    elif isinstance(raw_specs, dict):
        for key, val in raw_specs.items():
            if isinstance(val, (int, float)) and not isinstance(val, bool):
                val = str(val)
            if not isinstance(val, str) or not key.strip() or not val.strip():
                bad("specs", f"{key}: {val}", "spec keys and values must be non-empty strings")
                continue
            if not _encodable(key + val):
                bad("specs", key.encode("utf-8", "backslashreplace").decode(), "contains an unpaired surrogate escape")
                continue
            specs[key.strip()] = val.strip()
    elif raw_specs is not None:
        bad("specs", raw_specs, "must be an object of key -> value")
    for key, val in specs.items():
        if len(key) + len(val) > limits.max_field_chars:
            bad("specs", key, f"spec too long, limit is {limits.max_field_chars} characters")

    stock = Stock.IN_STOCK
    raw_stock = v.get("stock")
    if raw_stock is not None:
        s = str(raw_stock).strip().lower()
        s = _STOCK_ALIASES.get(s, s)
        try:
            stock = Stock(s)
        except ValueError:
            bad("stock", raw_stock, f"must be one of {', '.join(x.value for x in Stock)}")

    description = text("description")
    variants: list[Product] = []
    raw_variants = v.get("variants")  # only in an index's catalog.jsonl: the rows a product was grouped from
    if raw_variants is not None:
        if not isinstance(raw_variants, list) or not all(isinstance(r, dict) for r in raw_variants):
            bad("variants", raw_variants, "must be a list of product records")
        else:
            for r in raw_variants:
                member = _validate_one(RawRecord(rec.line, r), file, limits, out, decimal)
                if member is not None:
                    variants.append(member)
    product = dict(id=ident, name=name, collection=collection, category=category, price=price,
                   sale_price=sale, currency=currency, specs=specs, sizes=str_list("sizes"),
                   colors=str_list("colors"), stock=stock, description=description,
                   url=text("url", max_chars=2048), skus=str_list("skus"), variants=tuple(variants))
    if not ident or price is None:
        return None
    return Product(**product)


def load_mapping(spec: str | None) -> dict[str, str]:
    """CSV field mapping from a JSON file path or inline 'field=Column,field=Column'."""
    if not spec:
        return {}
    path = Path(spec)
    if path.suffix == ".json" and path.exists():
        try:
            data = json.loads(read_limited(path, _MAX_MAPPING_BYTES, what="mapping file").decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CatalogError([Problem(str(path), None, None, None, f"mapping is not valid JSON: {e}")]) from None
        if not isinstance(data, dict) or not all(isinstance(x, str) for x in (*data, *data.values())):
            raise CatalogError([Problem(str(path), None, None, None, "mapping must be an object field -> column")])
        return data
    mapping = {}
    for part in spec.split(","):
        key, sep, col = part.partition("=")
        if not sep or not key.strip() or not col.strip():
            raise CatalogError([Problem("--map", None, None, part, "use field=Column pairs separated by ','")])
        mapping[key.strip()] = col.strip()
    return mapping
