"""Write a scorecard as files a merchandising team can read and a machine can check.

    paths = write_report(card, summary, verdict, out_dir)
    # out_dir/scorecard.md    variant × metric with 95% intervals, the gate, fixed/broken prompts and
    #                         every contradiction of the tuned and reference answers with the catalog value
    # out_dir/scorecard.json  the same figures plus every answer and its per-answer scores
    # out_dir/scorecard.png   a chart of the metrics per variant with their intervals
"""

from __future__ import annotations

import json
from pathlib import Path

from core import atomic
from evaluation.metrics import LOWER_IS_BETTER, METRICS
from evaluation.scorecard import BY_NAME, Scorecard, answers_json

LABELS = {
    "approved_name_rate": "Approved names", "deprecated_rate": "Deprecated aliases",
    "generic_rate": "Generic labels", "trademark_ok": "Trademarks spelt right",
    "disclaimer_compliance": "Disclaimers", "format_ok": "Format", "grounded": "Grounded",
    "facts_stated": "Facts stated", "not_in_catalog_ok": "Not-in-catalog handled",
    "injection_ok": "Injection resisted", "hit_at_k": "Retrieval hit@k",
    "answered": "Answered", "fits_request": "Fits the request", "contradicted": "Contradicted the catalog", "clean": "Clean",
}


def _lower_is_better() -> str:
    return ", ".join(LABELS.get(m, m).lower() for m in METRICS if m in LOWER_IS_BETTER) + ": lower is better"


def _stat(summary: dict, variant: str, metric: str) -> dict:
    """One cell's figures; all None where the summary lacks the metric (a scorecard from before it)."""
    return summary[variant].get(metric) or {"value": None, "lo": None, "hi": None, "n": 0}


def _cell(stat: dict) -> str:
    if stat["value"] is None:
        return "—"
    return f"{stat['value']:.1%} [{stat['lo']:.0%}, {stat['hi']:.0%}]"


def _problem_lines(problems: dict | None) -> list[str]:
    """The answer's contradictions (claim and catalog value), unanswered asks and clean problems."""
    problems = problems or {}
    titles = (("contradictions", "contradicts the catalog"), ("unanswered", "unanswered"),
              ("misfits", "does not fit the request"), ("not_clean", "not clean"))
    return [f"- {title}: {item}" for key, title in titles for item in problems.get(key) or ()]


def _quote(text: str) -> str:
    """Model text inside a Markdown report: a fenced block, so nothing in it renders as markup."""
    fence = "````" if "```" in text else "```"
    return f"{fence}text\n{text}\n{fence}"


def markdown(card: Scorecard, summary: dict, verdict: dict | None, differences: dict) -> str:
    variants = [v for v in summary]
    lines = [f"# Scorecard: {card.adapter}", "",
             f"{len(card.cases)} held-out prompts × {len(variants)} variants, answered in "
             f"{card.seconds / 60:.1f} min. Cells: value [95% bootstrap interval over prompts]; "
             f"{_lower_is_better()}.", ""]
    if card.timing:
        overlap = card.settings.get("in_flight", 1) > 1
        lines += [("Seconds from each prompt shape's first batch to its last answer (shapes overlap: "
                   f"{card.settings['in_flight']} batches in flight): " if overlap else
                   "Seconds per prompt shape (each pass holds the base and adapter rows of the same prompts): ")
                  + ", ".join(f"{shape} {sec:.0f} s" for shape, sec in card.timing.items()) + ".", ""]
    lines += ["| Metric | " + " | ".join(BY_NAME[v].label for v in variants) + " |",
              "|---|" + "---|" * len(variants)]
    for m in METRICS:
        lines.append(f"| {LABELS.get(m, m)} | " + " | ".join(_cell(_stat(summary, v, m)) for v in variants) + " |")
    lines.append("")
    if verdict is not None:
        lines += [f"## Ship gate: {'PASSED' if verdict['passed'] else 'FAILED'}", ""]
        for c in verdict["checks"]:
            mark = {True: "pass", False: "FAIL", None: "n/a"}[c["passed"]]
            detail = c.get("detail") or ", ".join(f"{k}={v}" for k, v in c.items()
                                                  if k not in ("check", "metric", "passed"))
            lines.append(f"- **{mark}** {c['check']}: {detail}")
        lines.append("")
    ref, tuned = differences["reference"], differences["tuned"]
    for kind in ("fixed", "broken"):
        rows = differences[kind]
        lines += [f"## {len(rows)} prompts the adapter {kind} ({BY_NAME[tuned].label} vs {BY_NAME[ref].label})", ""]
        for d in rows:
            lines += [f"### {d['id']} ({d['kind']}): {d['question']}", ""]
            for v in (ref, tuned):
                lines += [f"{BY_NAME[v].label} fails: {', '.join(d[f'{v}_fails']) or 'nothing'}",
                          *_problem_lines(d.get(f"{v}_problems")), "", _quote(d[v]), ""]
    rows = differences.get("contradicted") or []
    lines += [f"## {len(rows)} prompts where {BY_NAME[tuned].label} or {BY_NAME[ref].label} contradicts the "
              "catalog", ""]
    for d in rows:
        lines += [f"### {d['id']} ({d['kind']}): {d['question']}", ""]
        for v in (tuned, ref):
            said = d.get(f"{v}_problems", {}).get("contradictions") or []
            lines += [f"{BY_NAME[v].label}: " + ("no contradiction" if not said else
                                                 f"{len(said)} contradiction{'s' * (len(said) > 1)}"),
                      *(f"- {m}" for m in said), "", _quote(d[v]), ""]
    return "\n".join(lines)


def chart(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    metrics = [m for m in METRICS if any(_stat(summary, v, m)["value"] is not None for v in summary)]
    variants = list(summary)
    fig, ax = plt.subplots(figsize=(12, 0.55 * len(metrics) * 1.6 + 1.5))
    height = 0.8 / len(variants)
    y = np.arange(len(metrics))
    for i, v in enumerate(variants):
        stats = [_stat(summary, v, m) for m in metrics]
        vals = [st["value"] or 0.0 for st in stats]
        lo = [max(0.0, (st["value"] or 0) - (st["lo"] or 0)) for st in stats]
        hi = [max(0.0, (st["hi"] or 0) - (st["value"] or 0)) for st in stats]
        ax.barh(y + i * height, vals, height, xerr=[lo, hi], label=BY_NAME[v].label, capsize=2)
    ax.set_yticks(y + height * (len(variants) - 1) / 2, [LABELS.get(m, m) for m in metrics])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"rate (95% bootstrap interval); {_lower_is_better()}")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    atomic.write_bytes(path, tmp.read_bytes())
    tmp.unlink()


def write_report(card: Scorecard, summary: dict, verdict: dict | None, out_dir: Path,
                 differences: dict | None = None, held_out: dict | None = None,
                 prompts_source: str | None = None) -> dict[str, Path]:
    """scorecard.json/.md/.png; held_out (`evaluation.heldout.held_out_from`) and prompts_source ("file" or
    "generated" from the dataset's eval split) are recorded in the JSON and stated in the Markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    differences = differences or card.differences()
    paths = {"markdown": out_dir / "scorecard.md", "json": out_dir / "scorecard.json",
             "chart": out_dir / "scorecard.png"}
    doc = {"adapter": card.adapter, "prompts": len(card.cases), "seconds": round(card.seconds, 1),
           "seconds_by_shape": card.timing, "settings": card.settings, "snapshot": card.snapshot,
           "summary": summary, "gate": verdict,
           "differences": {k: (v if isinstance(v, str) else [d["id"] for d in v]) for k, v in differences.items()},
           "answers": answers_json(card)}
    if held_out is not None:
        doc["held_out"] = held_out
    if prompts_source is not None:
        doc["prompts_source"] = prompts_source
    text = markdown(card, summary, verdict, differences)
    notes = []
    if prompts_source == "generated":
        notes.append("Prompts: generated from the adapter's dataset eval split (products and phrasings held out "
                     "from training), not written by the merchant.")
    if held_out is not None:
        notes.append("Held out from the adapter's training data: " + ("yes" if held_out.get("held_out") else
                     f"**no** ({held_out.get('prompt_overlap')} training prompts, {held_out.get('template_overlap')} "
                     f"renderings of trained templates; the gate fails)"))
    if notes:
        first, _, rest = text.partition("\n")
        text = first + "\n\n" + "\n".join(f"> {n}" for n in notes) + "\n" + rest
    atomic.write_text(paths["json"], json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    atomic.write_text(paths["markdown"], text + "\n")
    chart(summary, paths["chart"])
    return paths
