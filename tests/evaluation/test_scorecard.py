"""`onbrand eval` end to end on the second, differently shaped merchant (a mapped CSV catalog, a coffee-gear
brand kit, its own prompts) with the tiny random model and a tiny adapter: six variants, the report files,
the gate verdict written into the adapter's manifest, and `adapters promote` refusing an ungated version."""

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
    from onbrand.model import load_base_model

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
    out = tmp_path / "report"
    assert _eval(home, tiny_lm_dir, out, "--gate") == 1  # a random adapter cannot pass the gate
    printed = json.loads(capsys.readouterr().out)
    assert printed["gate_passed"] is False and printed["written_to_manifest"] is True

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
    md = (out / "scorecard.md").read_text()
    assert "| Metric | Base | Base + prompt | RAG | RAG + prompt | Adapter | RAG + adapter |" in md
    assert "## Ship gate: FAILED" in md
    assert (out / "scorecard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    manifest = json.loads((home / "adapters" / "bellweather" / "v0001" / "manifest.json").read_text())
    assert manifest["evaluation"]["gate"]["passed"] is False
    assert manifest["evaluation"]["prompts"]["count"] == n

    # promote refuses a version whose gate did not pass; forcing works and is recorded
    assert main(["--home", str(home), "adapters", "promote", "bellweather", "v0001"]) == 2
    assert "gate" in capsys.readouterr().err
    assert main(["--home", str(home), "adapters", "promote", "bellweather", "v0001", "--force",
                 "--reason", "demo"]) == 0
    manifest = json.loads((home / "adapters" / "bellweather" / "v0001" / "manifest.json").read_text())
    assert manifest["promotions"][-1]["forced"] is True and manifest["promotions"][-1]["reason"] == "demo"


def test_base_and_adapter_rows_of_a_prompt_share_one_pass(home, tiny_lm_dir, tmp_path, monkeypatch, capsys):
    from onbrand.generation import Generator

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
