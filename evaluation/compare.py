"""Does a scorecard reproduce another? Each metric of the run against the reference's 95% interval.

    reproduce(json.load(open("reports/fernhollow-v0017/scorecard.json")), json.load(open(run)))
    # {"metrics": 81, "outside": [], "rows": [...], "identical_answers": {"rag_adapter": [157, 166], ...}}

A re-run of the same adapter on the same prompts (another backend, another machine, another batch
composition) reproduces the reference when every figure the reference states falls inside the reference's
interval for it. Greedy answers from different batch shapes may differ in the last bf16 bits and then
in their words, so identical answers per variant are counted too, as a report, not a condition.

Where both scorecards hold each answer's score, each figure also gets its paired difference, run minus
reference over the same prompts with a 95% interval from resampling prompts jointly (`stats.paired_diff`),
the prompts it fixed and broke (an answer perfect on the metric in one and not the other), and the exact
two-sided sign test over those (scipy's `binomtest`: fixed against broken at even odds, McNemar's exact test).
`significant` lists the figures where both say the run differs: the interval leaves out 0 and p < 0.05. Both,
because either alone misleads on these sizes: the bootstrap interval leaves out 0 once a handful of changes
all go one way (4 broken and none fixed of 53 does), where the sign test gives p = 0.125; the sign test
cannot see a rate that moved without any answer turning perfect or imperfect. A report beside the
condition, not a new one: the reference's percentile interval is degenerate where every answer scored the
same (0 of 144 gives [0, 0], so one changed answer is "outside"), and a figure inside the reference's
interval may still have moved when many answers changed the same way. With ~84 figures, about 4 will pass a
5% test by chance when nothing changed.
"""

from __future__ import annotations

from scipy.stats import binomtest

from evaluation.metrics import AnswerScore
from evaluation.stats import paired_diff


def reproduce(reference: dict, run: dict) -> dict:
    if reference.get("adapter") != run.get("adapter"):
        raise ValueError(f"the scorecards are of different adapters: {reference.get('adapter')} and "
                         f"{run.get('adapter')}")
    rows, outside, significant = [], [], []
    ref_scores, run_scores = _scores(reference), _scores(run)
    for variant, metrics in reference["summary"].items():
        for metric, ref in metrics.items():
            if ref["value"] is None:
                continue
            got = ((run["summary"].get(variant) or {}).get(metric) or {}).get("value")
            inside = got is not None and ref["lo"] <= got <= ref["hi"]
            row = {"variant": variant, "metric": metric, "reference": ref["value"], "lo": ref["lo"],
                   "hi": ref["hi"], "run": got, "inside": inside}
            paired = _paired(ref_scores.get(variant), run_scores.get(variant), metric)
            if paired is not None:
                row["paired"] = paired
                if paired["p"] < 0.05 and not paired["lo"] <= 0 <= paired["hi"]:
                    significant.append(row)
            rows.append(row)
            if not inside:
                outside.append(row)
    theirs = {(a["id"], a["variant"]): a["answer"] for a in run.get("answers", [])}
    same: dict[str, list[int]] = {}
    for a in reference.get("answers", []):
        count = same.setdefault(a["variant"], [0, 0])
        count[0] += theirs.get((a["id"], a["variant"])) == a["answer"]
        count[1] += 1
    return {"adapter": reference["adapter"], "metrics": len(rows), "outside": outside,
            "significant": significant if ref_scores and run_scores else None, "rows": rows,
            "identical_answers": same, "reference_snapshot": reference.get("snapshot"),
            "run_snapshot": run.get("snapshot")}


def _scores(doc: dict) -> dict[str, list[AnswerScore]]:
    """variant -> its answers' scores, where every answer carries one (scorecards store them); else {}."""
    answers = doc.get("answers") or []
    if not answers or any(not isinstance(a.get("score"), dict) for a in answers):
        return {}
    out: dict[str, list[AnswerScore]] = {}
    for a in answers:
        out.setdefault(a["variant"], []).append(AnswerScore.from_json(a["score"]))
    return out


def _paired(ref: list[AnswerScore] | None, run: list[AnswerScore] | None, metric: str) -> dict | None:
    """The run minus the reference on the same prompts, 95% interval (4 decimals, as the summaries), the
    prompts fixed and broken and the sign test's p over them; None unless both scored the same prompts."""
    if not ref or not run:
        return None
    try:
        d = paired_diff(ref, run, metric)
    except ValueError:  # not one score per prompt for the same prompts in both
        return None
    if d["diff"] is None:
        return None
    changed = len(d["fixed"]) + len(d["broken"])
    p = binomtest(len(d["fixed"]), changed).pvalue if changed else 1.0
    return {"diff": round(d["diff"], 4), "lo": round(d["lo"], 4), "hi": round(d["hi"], 4),
            "fixed": d["fixed"], "broken": d["broken"], "p": round(float(p), 4)}
