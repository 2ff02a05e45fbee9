import pytest
import torch

from core import model as model_mod
from core.errors import UserError
from core.model import default_gguf, load_base_model, pick_dtype


def test_default_gguf_is_found_without_importing_the_package():
    path = default_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000


def test_cpu_dtype_follows_native_bf16_support(monkeypatch):
    monkeypatch.delenv("ONBRAND_DTYPE", raising=False)
    monkeypatch.setattr(model_mod, "cpu_supports_bf16", lambda: True)
    assert pick_dtype(torch.device("cpu")) == torch.bfloat16
    monkeypatch.setattr(model_mod, "cpu_supports_bf16", lambda: False)
    assert pick_dtype(torch.device("cpu")) == torch.float32
    assert pick_dtype(torch.device("cuda")) == torch.bfloat16


def test_dtype_override_is_validated(monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    assert pick_dtype(torch.device("cpu")) == torch.float32
    monkeypatch.setenv("ONBRAND_DTYPE", "int3")
    with pytest.raises(UserError, match="ONBRAND_DTYPE='int3'"):
        pick_dtype(torch.device("cpu"))


def test_local_folder_loads_with_its_chat_template(tiny_lm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    lm = load_base_model(str(tiny_lm_dir), tmp_path, device="cpu")
    assert lm.dtype == torch.float32 and not lm.quantized_4bit
    assert lm.tokenizer.chat_template and len(lm.weights_sha256) == 64


def test_unknown_model_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="cannot load model 'no-such-org/no-such-model'"):
        load_base_model("no-such-org/no-such-model", tmp_path, device="cpu")
