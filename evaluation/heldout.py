"""Held-out check: no evaluation prompt is a training prompt or could be rendered by a training template.

    report = overlap_with_training(questions, dataset_rows, spec_keys)
    report["prompt_overlap"], report["template_overlap"]   # both must be 0

A question overlaps a template when the template (placeholders as wildcards; {s} any catalog spec key) can
render it, or when it shares the template's first four words (a placeholder matches one or more words).
Templates come from `corpus.phrasings.PHRASINGS` (the dataset builder's), both halves: an eval phrasing is held out from training,
but the scorecard's prompts must be held out from the dataset's evaluation half too.
"""

from __future__ import annotations

import re


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.strip().lower())


def _words(s: str) -> list[str]:
    return [w for w in (re.sub(r"[^\w{}'/$-]", "", t).replace("'", "") for t in s.lower().split()) if w]


def template_hits(question: str, templates: list[str], spec_keys: set[str]) -> list[str]:
    """The templates that could render the question or share its first four words."""
    q = _norm(question).rstrip("?!. ")
    specs = "(?:" + "|".join(map(re.escape, sorted(spec_keys, key=len, reverse=True))) + ")" if spec_keys else ".+"
    hits = []
    for t in templates:
        parts = re.split(r"(\{\w\})", _norm(t).rstrip("?!. "))
        rx = "".join(specs if p == "{s}" else ".+" if re.fullmatch(r"\{\w\}", p) else re.escape(p) for p in parts)
        if re.fullmatch(rx, q):
            hits.append(f"renders: {t}")
            continue
        tw, qw = _words(t)[:4], _words(question)
        if len(tw) < 4:
            continue
        if all(not re.fullmatch(r"\{\w\}", w) for w in tw):
            if qw[:4] == tw:
                hits.append(f"first four words: {t}")
        else:  # placeholders: match 1+ words each, anchored at the start
            prx = r"\s".join(r"\S+(?:\s\S+)*?" if re.fullmatch(r"\{\w\}", w) else re.escape(w) for w in tw)
            if re.match(prx + r"(?:\s|$)", " ".join(qw)):
                hits.append(f"first four words (with placeholder): {t}")
    return hits


def training_templates(halves: tuple[int, ...] = (0, 1)) -> list[str]:
    """The dataset builder's phrasing templates: both halves by default, (0,) for the trained half only."""
    from corpus.phrasings import PHRASINGS

    return [t for pair in PHRASINGS.values() for i in halves for t in pair[i]]


def held_out_from(questions: list[str], dataset_rows: list[dict], spec_keys: set[str]) -> dict:
    """Whether a prompts file is held out from what an adapter was TRAINED on: no question is a train-split
    prompt of its dataset or a rendering of a trained phrasing template. (Prompts made from the dataset's
    eval split, `evaluation.generated`, pass by construction; the sample's committed prompts are also held
    out from the eval half, tests/evaluation/test_heldout.py.) The result goes into the scorecard, and the
    gate fails when `held_out` is False."""
    train = [r for r in dataset_rows if r.get("split") == "train"]
    report = overlap_with_training(questions, train, spec_keys, templates=training_templates((0,)))
    return {"held_out": report["prompt_overlap"] == 0 and report["template_overlap"] == 0,
            "prompt_overlap": report["prompt_overlap"], "template_overlap": report["template_overlap"],
            "examples": report["examples"][:5], "checked_against": f"{len(train)} training rows"}


def overlap_with_training(questions: list[str], dataset_rows: list[dict], spec_keys: set[str],
                          templates: list[str] | None = None) -> dict:
    """Counts (and the first few offenders) of questions that are dataset prompts or template renderings."""
    seen = {_norm(r["question"]) for r in dataset_rows}
    templates = training_templates() if templates is None else templates
    prompt_hits = [q for q in questions if _norm(q) in seen]
    template_offenders = [(q, h) for q in questions for h in template_hits(q, templates, spec_keys)[:1]]
    return {"questions": len(questions), "dataset_rows": len(dataset_rows), "templates": len(templates),
            "prompt_overlap": len(prompt_hits), "template_overlap": len(template_offenders),
            "examples": prompt_hits[:5] + [f"{q} ({h})" for q, h in template_offenders[:5]]}
