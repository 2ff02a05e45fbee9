"""`onbrand adapters promote` runs the checks serving runs (issue 17, probe item 5): a version with a pickle
beside it, a truncated safetensors whose manifest hash was updated to match, a no-op adapter and another
base's adapter are refused with one clear line, and the promoted version stays the one `ask` serves.

    .venv/bin/python -m pytest tests/tuning/test_faults_promote.py -q
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core import atomic
from onbrand.cli import main
from tuning.registry import MANIFEST, Registry

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _copy_of(reg: Registry, name: str, version: str, change=None):
    """Publish a new version of `name` holding `version`'s files, changed by change(folder) before hashing."""
    src = reg.get(name, version)

    def write(folder):
        for f in Registry.FILES:
            shutil.copyfile(src.path / f, folder / f)
        if change:
            change(folder)

    return reg.publish(name, write, {"base": src.manifest["base"], "notes": "test copy"})


def _rehash(ref) -> None:
    """Make the manifest agree with the files as they are now (what a careless hand-fix would do)."""
    manifest = json.loads((ref.path / MANIFEST).read_text())
    for f in Registry.FILES:
        manifest["files"][f] = {"sha256": atomic.sha256_file(ref.path / f), "bytes": (ref.path / f).stat().st_size}
    (ref.path / MANIFEST).write_text(json.dumps(manifest))


def _zero_lora_b(folder: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / "adapter_model.safetensors"))
    save_file({k: v.zero_() if "lora_B" in k else v for k, v in state.items()}, str(folder / "adapter_model.safetensors"))


@pytest.fixture()
def home(tmp_path, distinct_registry, monkeypatch):
    """tmp_path as an onbrand home whose registry is the distinct adapters' (quokka v0002 promoted)."""
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    assert distinct_registry.root == tmp_path / "adapters"
    return tmp_path


@pytest.fixture()
def loads(monkeypatch):
    """How many times the base model was loaded (a cheap refusal must not load it at all)."""
    import core.model

    calls = []
    real = core.model.load_base_model
    monkeypatch.setattr(core.model, "load_base_model", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    return calls


def _promote(home, version, model, capsys) -> tuple[int, list[str]]:
    code = main(["--home", str(home), "adapters", "promote", "quokka", version, "--force", "--reason", "test",
                 "--model", str(model)])
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return code, [line for line in err.splitlines() if line.startswith("error:")]


def test_promote_refuses_what_serving_would_refuse(home, distinct_registry, talkative_lm_dir, tiny_lm_dir,
                                                   random_adapter, loads, capsys):
    reg = distinct_registry
    pickled = _copy_of(reg, "quokka", "v0001")
    (pickled.path / "adapter_model.bin").write_bytes(b"a pickle-format file name")  # bytes do not matter

    truncated = _copy_of(reg, "quokka", "v0001")
    weights = truncated.path / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    _rehash(truncated)
    reg.verify(reg.get("quokka", truncated.version))  # the registry's own hash check passes now

    noop = _copy_of(reg, "quokka", "v0001", change=_zero_lora_b)
    other_base = random_adapter(reg, tiny_lm_dir, "quokka", 5, home / "cache")  # trained for another base

    cases = [(pickled, "adapter_model.bin is a pickle-format file", 0),
             (truncated, "adapter_model.safetensors is not a valid safetensors file", 0),
             (noop, "no-op adapter", 1),
             (other_base, "trained on another base: base.", 1)]
    for ref, reason, model_loads in cases:
        loads.clear()
        code, errors = _promote(home, ref.version, talkative_lm_dir, capsys)
        assert code == 2 and len(errors) == 1, errors
        assert reason in errors[0] and "not promoted" in errors[0], errors[0]
        assert len(loads) == model_loads, (ref.version, loads)  # at most once, and not for a file problem
        with capsys.disabled():  # -s shows each refusal as the user sees it
            print(errors[0])
        assert reg.promoted("quokka") == "v0002"
    history = json.loads((reg.root / "quokka" / "PROMOTED.json").read_text())["history"]
    assert [h["version"] for h in history] == ["v0001", "v0002"]  # no refused version was ever recorded
    for ref, *_ in cases:
        assert "promotions" not in reg.get("quokka", ref.version).manifest

    # a version that loads is promoted, with one model load; and ask serves it
    good = random_adapter(reg, talkative_lm_dir, "quokka", 6, home / "cache")
    loads.clear()
    assert _promote(home, good.version, talkative_lm_dir, capsys) == (0, [])
    assert reg.promoted("quokka") == good.version and len(loads) == 1
    from core.model import load_base_model
    from tuning.loading import AdapterSet

    served = AdapterSet(load_base_model(str(talkative_lm_dir), home / "cache", device="cpu"))
    assert served.load(reg.get("quokka"), reg) == f"quokka@{good.version}"  # what serving loads, loads


def test_train_promote_checks_on_the_base_already_loaded(tmp_path, tiny_lm_dir, loads, monkeypatch, capsys):
    from tuning.dataset import Example, write_dataset

    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    q = "how much is the dome 2?"
    msgs = ({"role": "user", "content": q}, {"role": "assistant", "content": "The Quokka Dome 2 Tent is $249.00.\n\n"
                                                                             "Prices can change; check the product page."})
    ds = tmp_path / "ds.jsonl"
    write_dataset([Example(f"e{i}", "train" if i < 3 else "eval", "price", "t", q, ("QK-TNT-01",), False, msgs)
                   for i in range(4)], ds)
    code = main(["--home", str(tmp_path / "home"), "train", "--dataset", str(ds), "--catalog",
                 str(FIXTURES / "tiny_catalog.jsonl"), "--brand-kit", str(FIXTURES / "tiny_brand_kit.yaml"),
                 "--model", str(tiny_lm_dir), "--name", "quokka", "--max-steps", "2", "--lr", "0.05", "--promote"])
    assert code == 0, capsys.readouterr().err
    assert Registry(tmp_path / "home" / "adapters").promoted("quokka") == "v0001"
    assert loads == [str(tiny_lm_dir)]  # trained and checked on one loaded base
