"""No scorecard prompt is a training prompt or a training template's rendering."""

import json

from corpus import SAMPLE_CATALOG, SAMPLE_DATASET, SAMPLE_EVAL_PROMPTS, load_catalog
from evaluation.heldout import overlap_with_training, template_hits, training_templates


def test_sample_eval_prompts_do_not_overlap_the_training_set():
    rows = [json.loads(line) for line in SAMPLE_DATASET.read_text().splitlines()]
    questions = [json.loads(line)["question"] for line in SAMPLE_EVAL_PROMPTS.read_text().splitlines()]
    spec_keys = {k.lower() for p in load_catalog(SAMPLE_CATALOG).products for k in p.specs}
    report = overlap_with_training(questions, rows, spec_keys)
    assert report["questions"] >= 120 and report["dataset_rows"] > 400 and report["templates"] > 30
    assert report["prompt_overlap"] == 0 and report["template_overlap"] == 0, report["examples"]


def test_the_check_catches_a_copied_prompt_and_a_template_rendering():
    rows = [json.loads(line) for line in SAMPLE_DATASET.read_text().splitlines()]
    copied = rows[0]["question"].upper() + "  "
    rendered = "how much is the Lumen Trail 300?"  # "how much is the {n}?"
    near = "how much is the best pad for winter camping, roughly"  # same first four words
    report = overlap_with_training([copied, rendered, near, "totally new wording here"], rows, {"weight"})
    assert report["prompt_overlap"] == 1
    assert report["template_overlap"] == 3  # the copied training prompt renders its template too
    assert template_hits("weight of the Lumen Trail 300 pls", training_templates(), {"weight"})
    assert not template_hits("trying to choose a pad for winter camping", training_templates(), {"weight"})


def test_the_second_merchants_prompts_render_no_phrasing_template():
    from pathlib import Path
    prompts = Path(__file__).parents[2] / "corpus" / "kitewell" / "eval_prompts.jsonl"
    questions = [json.loads(line)["question"] for line in prompts.read_text().splitlines()]
    catalog = load_catalog(prompts.parent / "products.csv")
    spec_keys = {k.lower() for p in catalog.products for k in p.specs}
    offenders = [(q, template_hits(q, training_templates(), spec_keys)) for q in questions]
    assert len(questions) >= 80 and not [o for o in offenders if o[1]], [o for o in offenders if o[1]]
