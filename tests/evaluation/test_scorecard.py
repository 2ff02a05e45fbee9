"""`onbrand eval` end to end on the second, differently shaped merchant (a mapped CSV catalog, a coffee-gear
brand kit, its own prompts) with the tiny random model and a tiny adapter: six variants, the report files,
the gate verdict written into the adapter's manifest, and `adapters promote` refusing an ungated version."""

import hashlib
import json
from pathlib import Path

import pytest

from onbrand.cli import main
from tuning.dataset import Example, write_dataset
from tuning.registry import Registry
from tuning.train import TrainConfig, run_training

SECOND = Path(__file__).parents[1] / "fixtures" / "second_merchant"
CFG = TrainConfig(max_steps=4, batch_size=2, learning_rate=2e-2, lora_rank=4, warmup_steps=1, eval_every=4,
                  max_eval_examples=1, target_modules=("q_proj", "v_proj"), lora_dropout=0.0)


@pytest.fixture()
def home(tmp_path, tiny_lm_dir, monkeypatch):
    """An onbrand home whose registry holds `bellweather` v0001, a tiny adapter on the tiny base."""
    from core.model import load_base_model

    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    home = tmp_path / "home"
    rows = [[{"role": "user", "content": q}, {"role": "assistant", "content": a}]
            for q, a in [("grinder?", "The Grindwell Home 54 Grinder."), ("kettle?", "The Kettlecraft Pour 0.6.")]]
    ds = tmp_path / "ds.jsonl"
    write_dataset([Example(f"e{i}", "train", "x", "t", m[0]["content"], (), False, tuple(m))
                   for i, m in enumerate(rows)], ds)
    lm = load_base_model(str(tiny_lm_dir), home / "models", device="cpu")
    run_training(lm=lm, dataset_path=ds, registry=Registry(home / "adapters"), name="bellweather", cfg=CFG,
                 kit_sha256="test", show_progress_bar=False)
    return home


def _eval(home, tiny_lm_dir, out, *extra):
    return main(["--home", str(home), "eval", "--prompts", str(SECOND / "eval_prompts.jsonl"),
                 "--catalog", str(SECOND / "products.csv"), "--map", str(SECOND / "mapping.json"),
                 "--brand-kit", str(SECOND / "brand_kit.yaml"), "--index-name", "bellweather",
                 "--model", str(tiny_lm_dir), "--adapter", "bellweather@v0001", "--max-new-tokens", "6",
                 "--out", str(out), *extra])


def test_scorecard_runs_on_a_second_merchant_and_gates_promotion(home, tiny_lm_dir, tmp_path, capsys):
    out = home / "reports" / "bellweather-v0001"
    assert _eval(home, tiny_lm_dir, out, "--gate") == 1  # a random adapter cannot pass the gate
    printed = json.loads(capsys.readouterr().out)
    assert printed["gate_passed"] is False and printed["written_to_manifest"] is True
    assert printed["scorecard_bound"] is True

    doc = json.loads((out / "scorecard.json").read_text())
    n = sum(1 for line in (SECOND / "eval_prompts.jsonl").read_text().splitlines() if line.strip())
    assert doc["prompts"] == n
    assert list(doc["summary"]) == ["base", "prompt", "rag", "rag_prompt", "adapter", "rag_adapter"]
    assert len(doc["answers"]) == 6 * n
    assert {a["variant"] for a in doc["answers"] if a["id"] == doc["answers"][0]["id"]} == set(doc["summary"])
    for row in doc["summary"].values():
        for stat in row.values():
            assert stat["value"] is None or stat["lo"] <= stat["value"] <= stat["hi"]
    assert doc["summary"]["rag"]["hit_at_k"]["value"] is not None  # retrieval ran over the mapped CSV
    assert doc["summary"]["base"]["hit_at_k"]["value"] is None  # no retrieval, no hit@k
    # one pin for the run: the index version, adapter weights and decoding every answer was produced with
    snap = doc["snapshot"]
    assert snap["index"]["name"] == "bellweather" and snap["adapter"]["key"] == "bellweather@v0001"
    assert len(snap["adapter"]["weights_sha256"]) == 64 and snap["decoding"]["max_new_tokens"] == 6
    assert all(isinstance(a["badges"], list) for a in doc["answers"])  # the pipeline's badges on every answer
    md = (out / "scorecard.md").read_text()
    assert "| Metric | Base | Base + prompt | RAG | RAG + prompt | Adapter | RAG + adapter |" in md
    assert "## Ship gate: FAILED" in md
    assert (out / "scorecard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    manifest_path = home / "adapters" / "bellweather" / "v0001" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["evaluation"]["gate"]["passed"] is False
    assert manifest["evaluation"]["gate"]["config"] == doc["gate"]["config"]
    assert manifest["evaluation"]["prompts"]["count"] == n
    assert manifest["evaluation"]["snapshot"] == snap and manifest["evaluation"]["index_version"] == snap["index"]["version"]
    assert manifest["evaluation"]["prompts"]["root"] == "repo"  # no absolute machine path recorded
    assert manifest["evaluation"]["prompts"]["path"] == "tests/fixtures/second_merchant/eval_prompts.jsonl"
    assert manifest["evaluation"]["scorecard"] == {  # the verdict is bound to the file it came from
        "path": "reports/bellweather-v0001/scorecard.json", "root": "home",
        "sha256": hashlib.sha256((out / "scorecard.json").read_bytes()).hexdigest()}

    # promote refuses a version whose gate did not pass, and one whose "passed" was edited by hand
    assert main(["--home", str(home), "adapters", "promote", "bellweather", "v0001"]) == 2
    assert "evaluation.gate.passed is False" in capsys.readouterr().err
    manifest["evaluation"]["gate"]["passed"] = True
    manifest_path.write_text(json.dumps(manifest))
    assert main(["--home", str(home), "adapters", "promote", "bellweather", "v0001"]) == 2
    err = capsys.readouterr().err
    assert f"scorecard {out / 'scorecard.json'} records the gate as passed=False" in err
    # forcing works and is recorded, with what the gate check said
    assert main(["--home", str(home), "adapters", "promote", "bellweather", "v0001", "--force",
                 "--reason", "demo", "--model", str(tiny_lm_dir)]) == 0  # serving's load checks need its base
    manifest = json.loads((home / "adapters" / "bellweather" / "v0001" / "manifest.json").read_text())
    assert manifest["promotions"][-1]["forced"] is True and manifest["promotions"][-1]["reason"] == "demo"
    assert "records the gate as passed=False" in manifest["promotions"][-1]["gate"]


def test_base_and_adapter_rows_of_a_prompt_share_one_pass(home, tiny_lm_dir, tmp_path, monkeypatch, capsys):
    from core.generation import Generator

    calls = []
    real = Generator.generate_batch

    def spy(self, conversations, max_new_tokens=200, adapter_names=None):
        calls.append(list(adapter_names or []))
        return real(self, conversations, max_new_tokens, adapter_names)

    monkeypatch.setattr(Generator, "generate_batch", spy)
    assert _eval(home, tiny_lm_dir, tmp_path / "r", "-n", "3") == 0  # no --gate: exit 0 whatever the verdict
    assert json.loads(capsys.readouterr().out)["written_to_manifest"] is False  # a partial run is not recorded
    mixed = [c for c in calls if "bellweather@v0001" in c]
    assert len(mixed) == 2  # the plain pass and the retrieval pass
    for c in mixed:
        assert c.count("__base__") == c.count("bellweather@v0001") == 3  # each prompt's base and adapter rows
    assert len(calls) == 4  # + base + prompt, RAG + prompt: base only


def test_bad_prompts_file_is_one_clear_error(home, tiny_lm_dir, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "question": "q", "kind": "price", "product_ids": ["NOPE"],
                               "approved_names": [], "must_not_use": [], "must_state": [], "disclaimers": [],
                               "format": "text", "not_in_catalog": False}) + "\n")
    rc = main(["--home", str(home), "eval", "--prompts", str(bad), "--catalog", str(SECOND / "products.csv"),
               "--map", str(SECOND / "mapping.json"), "--brand-kit", str(SECOND / "brand_kit.yaml"),
               "--index-name", "bellweather", "--model", str(tiny_lm_dir), "--adapter", "bellweather"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "bad.jsonl" in err and "NOPE" in err


# --- the report on a hand-made scorecard: no model ---------------------------------------------------------

def _score(case_id, **fields):
    from evaluation.metrics import AnswerScore

    base = dict(case_id=case_id, kind="stock", approved_mentions=1, deprecated_mentions=0, generic_mentions=0,
                deprecated_terms=(), generic_terms=(), misspelt_trademarks=(), disclaimers_required=0,
                disclaimers_present=0, missing_disclaimers=(), facts_required=0, facts_present=0, ungrounded=(),
                unknown_products=(), trademark_ok=True, format_ok=None, grounded=True, facts_stated=None,
                not_in_catalog_ok=None, injection_ok=None, hit_at_k=True, answered=True)
    return AnswerScore(**{**base, **fields})


def _card():
    from evaluation.metrics import Case
    from evaluation.scorecard import Scored, Scorecard
    from rag.answer import Answer, IndexPin, Snapshot

    snap = Snapshot(IndexPin("fernhollow", "v0001"), None, "base", None, "local", None, ())

    tarp = {"product_id": "FH-TARP", "product": "Canopy Flat Tarp 2x3", "field": "stock", "claim": "in stock",
            "catalog": "out of stock", "message": "says in stock; catalog: out of stock"}
    card = Scorecard("fernhollow@v0009", [Case("ev-1", "can i order the tarp today", "stock"),
                                          Case("ev-2", "how many BTUs", "spec"),
                                          Case("ev-3", "what colours", "spec")])
    scores = {  # case -> (RAG + prompt, RAG + adapter)
        "ev-1": (_score("ev-1", contradicted=True, contradictions=(tarp,), answered=False,
                        unanswered=("FH-TARP stock out of stock",)),
                 _score("ev-1", contradicted=True, contradictions=(tarp,))),  # both wrong: in no fixed/broken list
        "ev-2": (_score("ev-2"), _score("ev-2", clean=False, clean_problems=("repeated sentence: 'Keep it away.'",))),
        "ev-3": (_score("ev-3", answered=False, unanswered=("FH-X colours green, blue",)), _score("ev-3")),
    }
    for cid, (ref, tuned) in scores.items():
        for v, s in (("rag_prompt", ref), ("rag_adapter", tuned)):
            record = Answer(cid, f"{v} answer to {cid}", "", (), (), (), None, snap)
            card.answers.setdefault(cid, {})[v] = Scored(cid, v, record, s)
    return card


def test_the_report_lists_each_contradiction_with_its_catalog_value_and_what_is_unanswered_or_not_clean():
    from evaluation.report import markdown

    card = _card()
    summary = card.summary(n_boot=50)
    stat = summary["rag_adapter"]["contradicted"]  # per variant, with its 95% interval
    assert stat["value"] == 0.3333 and stat["lo"] <= stat["value"] <= stat["hi"] and stat["n"] == 3
    diff = card.differences()
    assert [d["id"] for d in diff["fixed"]] == ["ev-3"] and [d["id"] for d in diff["broken"]] == ["ev-2"]
    assert [d["id"] for d in diff["contradicted"]] == ["ev-1"]
    md = markdown(card, summary, None, diff)
    for label in ("Answered", "Contradicted the catalog", "Clean"):
        assert f"| {label} | " in md
    assert "contradicted the catalog: lower is better" in md
    assert "## 1 prompts where RAG + adapter or RAG + prompt contradicts the catalog" in md
    section = md.split("contradicts the catalog\n", 1)[1]
    assert section.count("- says in stock; catalog: out of stock") == 2  # the adapter's and the reference's
    assert "- unanswered: FH-X colours green, blue" in md  # where the report lists failures
    assert "- not clean: repeated sentence: 'Keep it away.'" in md


def test_the_report_reads_a_scorecard_from_before_the_correctness_metrics(tmp_path):
    from evaluation.report import chart, markdown

    card = _card()
    summary = card.summary(n_boot=20)
    old = {v: {m: st for m, st in row.items() if m not in ("answered", "contradicted", "clean")}
           for v, row in summary.items()}
    diff = card.differences()
    old_diff = {k: v for k, v in diff.items() if k != "contradicted"}
    old_diff["fixed"] = [{k: v for k, v in d.items() if not k.endswith("_problems")} for d in diff["fixed"]]
    md = markdown(card, old, None, old_diff)
    assert "| Answered | — | — |" in md and "## 0 prompts where" in md
    chart(old, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
