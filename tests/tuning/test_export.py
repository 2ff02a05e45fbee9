"""`onbrand adapters export`: a plain PEFT folder that peft loads as is and that answers as the registry copy
does; no machine path in it or in the shipped manifests; a model card from the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import UserError
from core.generation import Generator
from core.model import DEFAULT_MODEL_ID, load_base_model
from onbrand.backends import LocalBackend
from onbrand.cli import main
from tuning.dataset import Example, write_dataset
from tuning.export import absolute_paths, export_adapter
from tuning.registry import Registry, RegistryError
from tuning.train import TrainConfig, run_training

SHIPPED = Path(__file__).resolve().parents[2] / "tuning" / "shipped"
CFG = TrainConfig(max_steps=30, batch_size=2, learning_rate=5e-2, lora_rank=4, warmup_steps=2, eval_every=30,
                  max_eval_examples=2, target_modules=("q_proj", "v_proj", "o_proj", "down_proj"), lora_dropout=0.0)
MESSAGES = [{"role": "user", "content": "how much is the dome?"}]


@pytest.fixture()
def registry(tiny_lm_dir, tmp_path, monkeypatch):
    """quokka v0001, a tiny adapter on the tiny base, in a registry under tmp_path."""
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    ds = tmp_path / "ds.jsonl"
    write_dataset([Example(f"e{i}", "train", "x", "t", q, (), False,
                           ({"role": "user", "content": q}, {"role": "assistant", "content": "The Quokka Dome 2 Tent."}))
                   for i, q in enumerate(["how much is the dome?", "is the stove in stock?"])], ds)
    reg = Registry(tmp_path / "adapters")
    run_training(lm=load_base_model(str(tiny_lm_dir), tmp_path / "models", device="cpu"), dataset_path=ds,
                 registry=reg, name="quokka", cfg=CFG, kit_sha256="0" * 64, show_progress_bar=False)
    reg.promote("quokka", "v0001", force=True, reason="test")
    return reg


def _peft_answer(tiny_lm_dir, folder: Path | None, max_new_tokens: int, repetition_penalty: float) -> str:
    """Greedy answer from plain transformers + peft, as a user would load the export: no onbrand code."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_lm_dir))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_lm_dir), dtype=torch.float32)
    if folder is not None:
        model = PeftModel.from_pretrained(model, str(folder))
    model.eval()
    ids = tok.apply_chat_template(MESSAGES, add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, repetition_penalty=repetition_penalty, pad_token_id=tok.pad_token_id)
    return tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def test_an_exported_adapter_loads_with_plain_peft_and_answers_as_the_registry_copy(registry, tiny_lm_dir, tmp_path):
    ref = registry.get("quokka", "v0001")
    out = export_adapter(registry, "quokka@v0001", tmp_path / "export")
    assert out.adapter == "quokka@v0001" and out.path == tmp_path / "export" and not out.trained_on_gguf
    assert sorted(p.name for p in out.path.iterdir()) == ["README.md", "adapter_config.json",
                                                          "adapter_model.safetensors"]
    assert (out.path / "adapter_model.safetensors").read_bytes() == (ref.path / "adapter_model.safetensors").read_bytes()
    config = json.loads((out.path / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == tiny_lm_dir.name == out.base_model  # a name, not the path
    assert absolute_paths(config) == []
    card = (out.path / "README.md").read_text()
    for machine_path in (str(tmp_path), str(tiny_lm_dir), str(Path.home())):
        assert machine_path not in card and machine_path not in json.dumps(config)

    lm = load_base_model(str(tiny_lm_dir), tmp_path / "models", device="cpu")
    onbrand = LocalBackend(Generator(lm))
    key = onbrand.attach(ref, registry)
    via_registry = "".join(onbrand.stream(MESSAGES, 12, key))
    penalty = onbrand.generator.repetition_penalty
    assert _peft_answer(tiny_lm_dir, out.path, 12, penalty) == via_registry
    assert _peft_answer(tiny_lm_dir, None, 12, penalty) != via_registry  # the adapter is what answered


def test_export_verifies_the_registry_copy_and_never_overwrites(registry, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="exists and is not an empty folder"):
        export_adapter(registry, "quokka@v0001", taken)
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export_adapter(registry, "quokka", empty).adapter == "quokka@v0001"  # a bare name: its promoted version

    weights = registry.get("quokka", "v0001").path / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="sha256 .* does not match the manifest"):
        export_adapter(registry, "quokka@v0001", tmp_path / "tampered")
    assert not (tmp_path / "tampered").exists() and not list(tmp_path.glob(".tampered*"))


@pytest.mark.parametrize("version", sorted(p.name for p in (SHIPPED / "fernhollow").glob("v*")))
def test_shipped_versions_name_no_path_of_a_machine(version):
    shipped = SHIPPED / "fernhollow" / version
    for name in ("adapter_config.json", "manifest.json"):
        assert absolute_paths(json.loads((shipped / name).read_text())) == [], name
    config = json.loads((shipped / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == DEFAULT_MODEL_ID


@pytest.mark.parametrize("version", ["v0007", "v0008"])
def test_a_shipped_version_exports_with_its_hub_base_and_a_model_card(version, tmp_path, capsys):
    shipped = SHIPPED / "fernhollow" / version
    home = tmp_path / "home"
    Registry(home / "adapters").import_version(shipped)
    dest = tmp_path / f"fernhollow-{version}"
    assert main(["--home", str(home), "adapters", "export", f"fernhollow@{version}", str(dest)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["base_model_name_or_path"] == DEFAULT_MODEL_ID and printed["trained_on_gguf"] is True
    config = json.loads((dest / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == DEFAULT_MODEL_ID and absolute_paths(config) == []
    original = json.loads((shipped / "adapter_config.json").read_text())
    assert {k: v for k, v in config.items() if k != "base_model_name_or_path"} == \
        {k: v for k, v in original.items() if k != "base_model_name_or_path"}
    manifest = json.loads((shipped / "manifest.json").read_text())
    card = (dest / "README.md").read_text()
    assert f"base_model: {DEFAULT_MODEL_ID}" in card and "Trained on the dequantized GGUF" in card
    for sha in (manifest["dataset"]["sha256"], manifest["brand_kit_sha256"], manifest["evaluation"]["catalog_sha256"],
                manifest["files"]["adapter_model.safetensors"]["sha256"]):
        assert sha in card
    rag_adapter = manifest["evaluation"]["summary"]["rag_adapter"]
    row = next(line for line in card.splitlines() if line.startswith("| RAG + adapter |"))
    assert f"{100 * rag_adapter['approved_name_rate']:.1f}%" in row
    assert f"{100 * rag_adapter['disclaimer_compliance']:.1f}%" in row
    assert ("Ship gate: passed" in card) == manifest["evaluation"]["gate"]["passed"]
    assert "/root/" not in card and str(home) not in card and "/work/" not in card
    assert f"--lora-modules fernhollow@{version}=" in card


def test_shipped_manifests_hold_no_machine_paths():
    """Paths in a shipped manifest are relative to the repository or the onbrand home, so they resolve in
    any clone; an absolute path names a folder of the machine that made it."""
    manifests = sorted(SHIPPED.glob("*/v*/manifest.json"))
    assert manifests
    found = {str(m.relative_to(SHIPPED)): absolute_paths(json.loads(m.read_text())) for m in manifests}
    assert {k: v for k, v in found.items() if v} == {}
    assert absolute_paths({"a": ["/etc/x", "rel/x", "~/x", "C:\\x", "http://host/x"]}) == ["a[0]", "a[2]", "a[3]"]
