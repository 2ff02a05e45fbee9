"""Does a scorecard reproduce another? Each metric of the run against the reference's 95% interval.

    reproduce(json.load(open("reports/fernhollow-v0017/scorecard.json")), json.load(open(run)))
    # {"metrics": 81, "outside": [], "rows": [...], "identical_answers": {"rag_adapter": [157, 166], ...}}

A re-run of the same adapter on the same prompts (another backend, another machine, another batch
composition) reproduces the reference when every figure the reference states falls inside the reference's
interval for it. Greedy answers from different batch shapes may differ in the last bf16 bits and then
in their words, so identical answers per variant are counted too, as a report, not a condition.
"""

from __future__ import annotations


def reproduce(reference: dict, run: dict) -> dict:
    if reference.get("adapter") != run.get("adapter"):
        raise ValueError(f"the scorecards are of different adapters: {reference.get('adapter')} and "
                         f"{run.get('adapter')}")
    rows, outside = [], []
    for variant, metrics in reference["summary"].items():
        for metric, ref in metrics.items():
            if ref["value"] is None:
                continue
            got = ((run["summary"].get(variant) or {}).get(metric) or {}).get("value")
            inside = got is not None and ref["lo"] <= got <= ref["hi"]
            row = {"variant": variant, "metric": metric, "reference": ref["value"], "lo": ref["lo"],
                   "hi": ref["hi"], "run": got, "inside": inside}
            rows.append(row)
            if not inside:
                outside.append(row)
    theirs = {(a["id"], a["variant"]): a["answer"] for a in run.get("answers", [])}
    same: dict[str, list[int]] = {}
    for a in reference.get("answers", []):
        count = same.setdefault(a["variant"], [0, 0])
        count[0] += theirs.get((a["id"], a["variant"])) == a["answer"]
        count[1] += 1
    return {"adapter": reference["adapter"], "metrics": len(rows), "outside": outside, "rows": rows,
            "identical_answers": same, "reference_snapshot": reference.get("snapshot"),
            "run_snapshot": run.get("snapshot")}
