"""Held-out prompts made from a dataset's eval split, for a merchant that brings no prompts file.

`tuning.dataset.build_dataset` holds out products (every line keeps some in each half) and phrasings (each
intent's eval phrasings are never used in training), and writes both halves. The eval half's questions are
therefore new to the adapter in product and wording; this module turns them into prompts-file rows with the
expectations a scorecard needs (`evaluation.metrics.Case`): the products, their approved names, the
deprecated names an answer must not use, the asked values (`asks`, stored by the builder), the disclaimers
the kit requires for the products and the question, the table format for comparisons, and not-in-catalog
for things the store does not sell. A report made from them says so (`source: "generated"`).

Vague asks ("what should i buy") are left out: they have no expectation to score. So is any question the
held-out check (`evaluation.heldout`) would tie to a trained phrasing: its placeholders match any words, so
an eval phrasing can look like a trained one ("is the {n} in ..."); such rows are dropped, not scored.
"""

from __future__ import annotations

import json
from pathlib import Path

from corpus.brandkit import BrandKit
from corpus.checks import required_disclaimers
from corpus.schema import Catalog

KINDS = {"price": "price", "stock": "stock", "price_stock": "price", "colours": "colour", "stock_colours": "stock",
         "size_list": "sizing", "sizing": "sizing", "spec": "spec", "material": "spec", "weight": "spec",
         "compare": "compare", "generic": "generic_label", "competitor": "competitor", "injection": "injection",
         "missing": "not_in_catalog"}


def prompts_from_dataset(rows: list[dict], catalog: Catalog, kit: BrandKit) -> list[dict]:
    """Prompts-file rows (see corpus/sample/eval_prompts.jsonl) for the dataset's eval split."""
    from evaluation.heldout import _norm, template_hits, training_templates

    by_id = catalog.by_id()
    out: list[dict] = []
    seen: set[str] = {_norm(r["question"]) for r in rows if r.get("split") == "train"}
    trained = training_templates((0,))
    spec_keys = {k.lower() for p in catalog.products for k in p.specs}
    for row in rows:
        if row.get("split") != "eval" or row.get("intent") not in KINDS:
            continue
        question = row["question"]
        if _norm(question) in seen or template_hits(question, trained, spec_keys):
            continue  # the held-out check's wildcards reach it: a trained phrasing could have written it
        seen.add(_norm(question))
        ids = [pid for pid in row.get("product_ids", []) if pid in by_id]
        products = [by_id[pid] for pid in ids]
        names = [kit.approved_name(pid, by_id[pid].name) for pid in ids]
        kind = KINDS[row["intent"]]
        lowered = question.lower()
        avoid = sorted({a for n in names for a in kit.aliases_for(n)})
        if any(a.lower() in lowered for a in avoid):
            kind = "deprecated_name"
        missing = row["intent"] == "missing"
        asks = [a for a in row.get("asks", []) if products]
        # the kit's notes for these products and this question; a price note when a price is asked
        stated = "$1" if "price" in asks else ""
        disclaimers = [d.id for d in required_disclaimers(kit, question, stated, products)] if products else []
        out.append({"id": f"gen-{len(out) + 1:03d}", "question": question, "kind": kind, "product_ids": ids,
                    "approved_names": names, "must_not_use": avoid, "must_state": [], "asks": asks,
                    "disclaimers": disclaimers, "format": "table" if kind == "compare" and len(ids) > 1 else "text",
                    "not_in_catalog": missing})
    return out


def write_prompts(rows: list[dict], path: Path) -> None:
    from core import atomic

    atomic.write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
