"""One evaluation flow for `onbrand eval` and `onbrand onboard`: scorecard -> held-out check -> gate -> report
-> the verdict recorded in the adapter's manifest (bound to scorecard.json by sha256).

The held-out check reads the dataset the adapter was trained on (its manifest's `dataset`: path and sha256)
and fails the gate when a prompt is a training prompt or a rendering of a trained phrasing template
(`evaluation.heldout.held_out_from`). When that dataset cannot be read as recorded, the prompts cannot be
shown to be held out, and the gate fails too, saying so.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core.refs import split_key
from corpus.schema import Catalog
from evaluation.gate import GateConfig, bind_scorecard, gate, relative_to_roots
from evaluation.heldout import held_out_from
from evaluation.metrics import Case
from evaluation.report import write_report
from evaluation.scorecard import run_scorecard
from tuning.registry import adapter_dataset_rows

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    adapter: str
    cases: int
    seconds: float
    verdict: dict
    summary: dict
    held_out: dict
    paths: dict[str, Path]
    record: dict | None  # what was written into the manifest (None for partial runs)


def held_out_for(manifest: dict, cases: list[Case], catalog: Catalog) -> dict:
    rows, why = adapter_dataset_rows(manifest)
    if rows is None:
        return {"held_out": False, "prompt_overlap": None, "template_overlap": None, "detail": why}
    spec_keys = {k.lower() for p in catalog.products for k in p.specs}
    return held_out_from([c.question for c in cases], rows, spec_keys)


def evaluate(assistant, cases: list[Case], catalog: Catalog, prompts_path: Path, out: Path, *,
             max_new_tokens: int | None = None, cases_per_batch: int | None = None, in_flight: int | None = None,
             partial: bool = False,
             cfg: GateConfig = GateConfig(), prompts_source: str = "file",
             progress: Callable[[int, int], None] | None = None) -> Evaluation:
    """Score the assistant's default adapter on `cases`, gate it, write the report to `out` and (unless
    partial) record the verdict in the adapter's manifest."""
    kwargs = {k: v for k, v in (("max_new_tokens", max_new_tokens), ("cases_per_batch", cases_per_batch),
                                ("in_flight", in_flight)) if v is not None}
    card = run_scorecard(assistant, cases, assistant.default_adapter, catalog, progress=progress, **kwargs)
    name, version = split_key(card.adapter)
    manifest = assistant.registry.get(name, version).manifest
    held_out = held_out_for(manifest, cases, catalog)
    summary = card.summary()
    verdict = gate(summary, cfg, held_out)
    paths = write_report(card, summary, verdict, out, held_out=held_out, prompts_source=prompts_source)
    record = None
    if not partial:  # a partial run never stands in for the adapter's evaluation
        roots = assistant.registry.report_roots
        binding = bind_scorecard(paths["json"], roots)
        if binding is None:
            log.warning("%s is under neither the onbrand home nor the repository (%s): the verdict is recorded "
                        "unbound, and `adapters promote` will need --force --reason", paths["json"],
                        ", ".join(str(r) for r in roots.values()))
        prompts = relative_to_roots(prompts_path, roots)
        record = {"prompts": {"path": prompts[1] if prompts else prompts_path.name,
                              "root": prompts[0] if prompts else None, "count": len(cases),
                              "sha256": hashlib.sha256(prompts_path.read_bytes()).hexdigest(),
                              "source": prompts_source},
                  "held_out": held_out,
                  # the index version every answer retrieved from: pinned when the run started
                  "catalog_sha256": catalog.sha256(), "index_version": card.snapshot["index"]["version"],
                  "snapshot": card.snapshot,
                  "seconds": round(card.seconds, 1), "seconds_by_shape": card.timing, "settings": card.settings,
                  "backend": assistant.backend.describe(),  # which generated: this process or a server
                  "summary": {v: {m: st["value"] for m, st in row.items()} for v, row in summary.items()},
                  "gate": {"passed": verdict["passed"], "checks": verdict["checks"], "config": verdict["config"]},
                  "scorecard": binding}
        assistant.registry.update_manifest(name, version, {"evaluation": record})
    return Evaluation(card.adapter, len(cases), card.seconds, verdict, summary, held_out, paths, record)
