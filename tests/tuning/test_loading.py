"""Adapter loading on the tiny random Llama: verified adapters co-exist on one base and are chosen per row;
adapters for another base, tampered, pickled or no-op ones are refused with a message naming why.

    .venv/bin/python -m pytest tests/tuning/test_loading.py -q
"""

from __future__ import annotations

import json
from pathlib import Path
import shutil

import pytest
import torch

from core.errors import UserError
from core.generation import Generator
from core.model import load_base_model
from tuning.dataset import Example, write_dataset
from tuning.loading import BASE, AdapterRefused, AdapterSet, base_fingerprint
from tuning.registry import Registry, RegistryError
from tuning.train import TrainConfig, run_training, save_adapter, wrap_with_lora

QUESTION = "how much is the dome 2?"
ANSWER = "The Quokka Dome 2 Tent is $249.00."
# a high learning rate: a few steps must move the random model's greedy answer, not just its logits
CFG = TrainConfig(max_steps=20, batch_size=2, learning_rate=2e-2, lora_rank=4, warmup_steps=2, eval_every=10,
                  max_eval_examples=2, target_modules=("q_proj", "v_proj"), lora_dropout=0.0)
NEW_TOKENS = 10


def conversation(question: str = QUESTION) -> list[dict]:
    return [{"role": "user", "content": question}]


def load_lm(tiny_lm_dir, cache):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONBRAND_DTYPE", "fp32")
        return load_base_model(str(tiny_lm_dir), cache, device="cpu")


@pytest.fixture(scope="module")
def published(tiny_lm_dir, tmp_path_factory, tiny_kit):
    """(registry, trained ref, no-op ref): trained once for the module, published like `onbrand train`."""
    tmp = tmp_path_factory.mktemp("loading")
    lm = load_lm(tiny_lm_dir, tmp / "cache")
    msgs = [conversation(q) + [{"role": "assistant", "content": ANSWER}]
            for q in (QUESTION, "dome 2 price?", "price of the dome 2", "how much for a dome 2")]
    examples = [Example(f"ex-{i:05d}", "train" if i < 3 else "eval", "price", "t", m[0]["content"], ("QK-TNT-01",),
                        False, tuple(m)) for i, m in enumerate(msgs)]
    write_dataset(examples, tmp / "brand.jsonl")
    registry = Registry(tmp / "registry")
    ref, _ = run_training(lm=lm, dataset_path=tmp / "brand.jsonl", registry=registry, name="quokka", cfg=CFG,
                          kit_sha256=tiny_kit.sha256, show_progress_bar=False)

    fresh = load_lm(tiny_lm_dir, tmp / "cache")
    base = base_fingerprint(fresh)
    untrained = wrap_with_lora(fresh, CFG)  # lora_B starts at zero: the adapter changes nothing
    noop = registry.publish("noop", lambda folder: save_adapter(untrained, folder), {"base": base})
    return registry, ref, noop


@pytest.fixture()
def lm(tiny_lm_dir, tmp_path):
    return load_lm(tiny_lm_dir, tmp_path / "cache")


def clone(registry: Registry, ref, name: str, **manifest_changes):
    """Publish the same adapter files again under another name, with manifest fields changed."""
    keep = {k: v for k, v in ref.manifest.items() if k not in ("name", "version", "created", "files")}
    keep.update(manifest_changes)

    def copy(folder):
        for f in Registry.FILES:
            shutil.copyfile(ref.path / f, folder / f)

    return registry.publish(name, copy, keep)


# --- loading and per-row selection -----------------------------------------------------------------------

def test_a_trained_adapter_loads_and_changes_the_output(published, lm):
    registry, ref, _ = published
    adapters = AdapterSet(lm)
    key = adapters.load(ref, registry)
    assert key == "quokka@v0001" and set(adapters.loaded) == {key}
    assert adapters.canary_delta(key) > 0
    assert adapters.load(ref, registry) == key  # loading again is a no-op, not a second copy
    assert adapters.adapter_names([None, key]) == [BASE, key]
    with pytest.raises(UserError, match="not loaded"):
        adapters.adapter_names(["quokka@v0002"])


def test_two_adapters_and_the_base_share_one_batch(published, lm, tiny_lm_dir, tmp_path):
    registry, ref, _ = published
    second = clone(registry, ref, "quokka-copy")
    plain = Generator(load_lm(tiny_lm_dir, tmp_path / "plain"))  # no peft at all
    plain_text = "".join(plain.stream(conversation(), NEW_TOKENS))

    adapters = AdapterSet(lm)
    k1, k2 = adapters.load(ref, registry), adapters.load(second, registry)
    assert k1 != k2 and set(adapters.loaded) == {k1, k2}
    gen = Generator(lm)
    convs = [conversation(), conversation(), conversation(), conversation("is the dome 2 in stock?")]
    names = adapters.adapter_names([None, k1, k2, k1])
    assert names == [BASE, k1, k2, k1]
    batch = gen.generate_batch(convs, NEW_TOKENS, adapter_names=names)
    alone = [gen.generate(c, NEW_TOKENS, adapter_names=[n]) for c, n in zip(convs, names)]
    assert batch == alone

    # the random tiny model answers in whitespace, which generate() strips: compare the raw streams
    base_text = "".join(gen.stream(conversation(), NEW_TOKENS, adapter_names=[BASE]))
    tuned_text = "".join(gen.stream(conversation(), NEW_TOKENS, adapter_names=[k1]))
    assert base_text == plain_text and batch[0] == plain_text.strip()  # the base row is the untouched base
    assert tuned_text != base_text  # the adapter row really used the adapter
    assert "".join(gen.stream(conversation(), NEW_TOKENS, adapter_names=[k2])) == tuned_text  # same weights
    assert batch[1] == batch[2] == tuned_text.strip()


# --- refusals --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("hidden_size", 64),
    ("chat_template_sha256", "0" * 64),
    ("model_id", "HuggingFaceTB/SmolLM2-135M-Instruct"),
    ("weights_sha256", "f" * 64),
    ("num_layers", 30),
    ("vocab_size", 49152),
])
def test_an_adapter_for_another_base_is_refused_naming_the_field(published, lm, field, value):
    registry, ref, _ = published
    other = clone(registry, ref, f"other-{field.replace('_', '-')}", base={**ref.manifest["base"], field: value})
    adapters = AdapterSet(lm)
    with pytest.raises(AdapterRefused, match=rf"base\.{field}\b"):
        adapters.load(registry.get(other.name, other.version), registry)
    assert adapters.loaded == {}


def test_a_manifest_without_a_base_is_refused(published, lm):
    registry, ref, _ = published
    other = clone(registry, ref, "no-base", base=None)
    with pytest.raises(AdapterRefused, match=r"base\.model_id"):
        AdapterSet(lm).load(registry.get("no-base", other.version), registry)


def flip_last_bytes(path, n: int = 4) -> None:
    data = bytearray(path.read_bytes())
    for i in range(1, n + 1):
        data[-i] ^= 0xFF  # inside the last tensor's data: still a valid safetensors file, other numbers
    path.write_bytes(bytes(data))


def test_tampered_weights_are_refused_naming_the_file(published, lm):
    registry, ref, _ = published
    other = clone(registry, ref, "tampered")
    flip_last_bytes(other.path / "adapter_model.safetensors")
    with pytest.raises((AdapterRefused, RegistryError), match=r"adapter_model\.safetensors sha256"):
        AdapterSet(lm).load(registry.get("tampered", other.version), registry)


def test_tampered_weights_are_refused_without_a_registry_too(published, lm):
    registry, ref, _ = published
    other = clone(registry, ref, "tampered-noreg")
    flip_last_bytes(other.path / "adapter_model.safetensors")
    with pytest.raises(AdapterRefused, match=r"adapter_model\.safetensors"):
        AdapterSet(lm).load(registry.get("tampered-noreg", other.version))


@pytest.mark.parametrize("how", ["beside", "instead"])
def test_a_pickled_adapter_is_refused(published, lm, how):
    from safetensors.torch import load_file

    registry, ref, _ = published
    other = clone(registry, ref, f"pickled-{how}")
    torch.save(load_file(str(other.path / "adapter_model.safetensors")), other.path / "adapter_model.bin")
    if how == "instead":
        (other.path / "adapter_model.safetensors").unlink()
    adapters = AdapterSet(lm)
    with pytest.raises(AdapterRefused, match="adapter_model.bin.*pickle"):
        adapters.load(registry.get(other.name, other.version), registry)
    assert adapters.loaded == {}


def test_a_noop_adapter_is_refused_and_unusable(published, lm):
    registry, _, noop = published
    from safetensors.torch import load_file

    weights = load_file(str(noop.path / "adapter_model.safetensors"))
    assert all(float(v.abs().sum()) == 0 for k, v in weights.items() if "lora_B" in k)  # the premise
    adapters = AdapterSet(lm)
    with pytest.raises(AdapterRefused, match="no-op"):
        adapters.load(noop, registry)
    key = noop.key
    assert key not in adapters.loaded
    with pytest.raises(UserError, match="not loaded"):
        adapters.adapter_names([key])
    with pytest.raises(UserError, match="not loaded"):
        adapters.adapter_names([None, key])


def test_a_refused_adapter_leaves_loaded_adapters_working(published, lm):
    registry, ref, noop = published
    adapters = AdapterSet(lm)
    gen = Generator(lm)
    good = adapters.load(ref, registry)
    delta = adapters.canary_delta(good)

    def answers():
        mixed = gen.generate_batch([conversation(), conversation()], NEW_TOKENS,
                                   adapter_names=adapters.adapter_names([None, good]))
        raw = ["".join(gen.stream(conversation(), NEW_TOKENS, adapter_names=adapters.adapter_names([k])))
               for k in (None, good)]
        return mixed, raw

    before = answers()
    assert before[1][0] != before[1][1]
    with pytest.raises(AdapterRefused, match="no-op"):
        adapters.load(noop, registry)
    other = clone(registry, ref, "wrong-base", base={**ref.manifest["base"], "hidden_size": 64})
    with pytest.raises(AdapterRefused):
        adapters.load(registry.get("wrong-base", other.version), registry)

    assert set(adapters.loaded) == {good}
    assert adapters.canary_delta(good) == delta
    assert answers() == before


def test_a_noop_refused_first_leaves_the_set_usable(published, lm, tiny_lm_dir, tmp_path):
    """The very first load wraps the base in peft; a refusal there must not leave a broken model behind."""
    registry, ref, noop = published
    plain_text = "".join(Generator(load_lm(tiny_lm_dir, tmp_path / "plain")).stream(conversation(), NEW_TOKENS))
    adapters = AdapterSet(lm)
    gen = Generator(lm)
    with pytest.raises(AdapterRefused, match="no-op"):
        adapters.load(noop, registry)
    assert adapters.loaded == {} and adapters.adapter_names([None]) is None
    assert "".join(gen.stream(conversation(), NEW_TOKENS)) == plain_text
    good = adapters.load(ref, registry)
    assert adapters.canary_delta(good) > 0
    base = "".join(gen.stream(conversation(), NEW_TOKENS, adapter_names=adapters.adapter_names([None])))
    assert base == plain_text


def test_adapter_config_fields_peft_does_not_know_are_ignored(published, lm):
    """adapter_config.json is read as JSON data and only LoraConfig's fields are taken from it, so a config
    written by a newer peft still loads."""
    registry, ref, _ = published
    config = json.loads((ref.path / "adapter_config.json").read_text())
    assert config["r"] == CFG.lora_rank and set(config["target_modules"]) == set(CFG.target_modules)

    def write(folder):
        shutil.copyfile(ref.path / "adapter_model.safetensors", folder / "adapter_model.safetensors")
        (folder / "adapter_config.json").write_text(json.dumps({**config, "from_a_future_peft": True}))

    newer = registry.publish("newer-config", write, {"base": ref.manifest["base"]})
    adapters = AdapterSet(lm)
    assert adapters.canary_delta(adapters.load(newer, registry)) > 0


def test_a_trained_adapter_names_its_base_without_a_machine_path(published, tiny_lm_dir):
    """LoRAX and llama.cpp's LoRA converter read base_model_name_or_path: an id or a folder's name, never a
    path of the training machine; nor does the manifest hold one."""
    import json

    from tuning.loading import portable_base_id

    registry, ref, _ = published
    config = json.loads((ref.path / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == Path(tiny_lm_dir).name
    assert str(Path(tiny_lm_dir)) not in (ref.path / "manifest.json").read_text()
    assert portable_base_id("default") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert portable_base_id("org/model") == "org/model"
    assert portable_base_id("/srv/models/my-base") == "my-base"


def test_a_saved_adapter_names_its_base_by_id_in_the_config_and_in_peft_model_card(tiny_lm_dir, tmp_path):
    """peft writes the folder the base was loaded from into adapter_config.json and into its README.md model card
    ("base_model: /root/.cache/onbrand/models/gguf-…" in v0011's): a committed adapter holds no machine path."""
    lm = load_lm(tiny_lm_dir, tmp_path / "cache")
    save_adapter(wrap_with_lora(lm, CFG), tmp_path / "out", "org/tiny-base")
    config = json.loads((tmp_path / "out" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "org/tiny-base"
    card = (tmp_path / "out" / "README.md").read_text()
    assert "/" + "tmp" not in card and str(tiny_lm_dir) not in card and "org/tiny-base" in card
