"""Safe adapter loading: several verified adapters on one loaded base, chosen per request.

Before any request can use an adapter version it must pass, in order:
1. files: safetensors only (a pickle-format file in the folder is refused), sha256 as in the manifest;
2. base: the manifest's base (model id, weights hash, hidden size, layers, vocabulary, chat template
   hash) equals the loaded base, else refused naming the field;
3. keys: after loading, missing and unexpected adapter keys are both empty;
4. canary: on a fixed prompt the adapter changes the logits (an all-zero / no-op adapter is refused).

Requests pick an adapter by key ("name@version") or none, through peft's mixed-batch `adapter_names`,
so no request changes global adapter state and base + adapter rows can share one forward pass.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import torch

from core import atomic
from core.errors import UserError
from core.model import DEFAULT_MODEL_ID, LoadedModel
from tuning.registry import AdapterRef, Registry, way_back

log = logging.getLogger(__name__)

BASE = "__base__"  # peft's name for "no adapter" in adapter_names
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
CANARY = [{"role": "user", "content": "how much is the trail pack?"}]


class AdapterRefused(UserError):
    pass


def portable_base_id(model_id: str) -> str:
    """What an adapter config names as its base, never a path of the training machine (LoRAX and
    llama.cpp's LoRA converter read it): the hub id of the bundled default, a hub id as given, a local
    folder's name."""
    if model_id == "default":
        return DEFAULT_MODEL_ID
    path = Path(model_id)
    return path.name if (path.is_absolute() or path.exists() or model_id.startswith(".")) else model_id


def base_fingerprint(lm: LoadedModel) -> dict:
    cfg = lm.model.config
    template = lm.tokenizer.chat_template or ""
    return {  # "default" for the bundled base, else an id or a folder's name: no path of this machine
        "model_id": lm.model_id if lm.model_id == "default" else portable_base_id(lm.model_id),
        "weights_sha256": lm.weights_sha256,
        "hidden_size": int(cfg.hidden_size),
        "num_layers": int(cfg.num_hidden_layers),
        "vocab_size": int(cfg.vocab_size),
        "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest(),
    }


def check_base(manifest: dict, lm: LoadedModel, what: str) -> None:
    want = manifest.get("base") or {}
    have = base_fingerprint(lm)
    for key in ("model_id", "weights_sha256", "hidden_size", "num_layers", "vocab_size", "chat_template_sha256"):
        if want.get(key) != have[key]:
            raise AdapterRefused(f"{what} was trained on another base: base.{key} is {want.get(key)!r} in its "
                                 f"manifest, the loaded base has {have[key]!r}")


def check_files(path: Path, what: str, manifest: dict | None = None) -> None:
    """Safetensors only, a readable header, and (with a manifest) every file's sha256 as recorded."""
    pickled = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickled:
        raise AdapterRefused(f"{what}: {', '.join(pickled)} is a pickle-format file; onbrand loads adapters "
                             f"from safetensors only")
    weights = path / "adapter_model.safetensors"
    if not weights.exists():
        raise AdapterRefused(f"{what}: adapter_model.safetensors is missing")
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), framework="pt") as f:
            f.keys()
    except (SafetensorError, OSError, ValueError) as e:
        raise AdapterRefused(f"{what}: adapter_model.safetensors is not a valid safetensors file ({e})") from None
    if manifest is not None:
        files = manifest.get("files") or {}
        for fname in ("adapter_model.safetensors", "adapter_config.json"):
            want = (files.get(fname) or {}).get("sha256")
            if want is None:
                raise AdapterRefused(f"{what}: the manifest records no sha256 for {fname}")
            have = atomic.sha256_file(path / fname)
            if have != want:
                raise AdapterRefused(f"{what}: {fname} sha256 {have[:12]}… does not match the manifest's "
                                     f"{want[:12]}…; the file was changed")


class AdapterSet:
    """One base model, many adapters. `model` is the base until the first adapter loads, then a PeftModel."""

    def __init__(self, lm: LoadedModel):
        self.lm = lm
        self.loaded: dict[str, AdapterRef] = {}

    def load(self, ref: AdapterRef, registry: Registry | None = None) -> str:
        """Verify and attach an adapter version; return the key requests use to select it."""
        key = ref.key
        if key in self.loaded:
            return key
        what = f"adapter {key}"
        try:
            check_files(ref.path, what, ref.manifest)
            if registry is not None:
                registry.verify(ref)
        except UserError as e:  # a damaged or tampered version: name its folder and the way back
            raise AdapterRefused(f"{e} ({ref.path}); {way_back(ref.name)}") from None
        check_base(ref.manifest, self.lm, what)

        from peft import LoraConfig, PeftModel, get_peft_model, set_peft_model_state_dict
        from safetensors.torch import load_file

        config = LoraConfig(**{k: v for k, v in json.loads((ref.path / "adapter_config.json").read_text()).items()
                               if k in LoraConfig.__dataclass_fields__})
        config.inference_mode = True
        model = self.lm.model
        first = not isinstance(model, PeftModel)
        if first:
            model = get_peft_model(model, config, adapter_name=key)  # injects LoRA layers into the base in place
        else:
            model.add_adapter(key, config)
        try:
            state = load_file(str(ref.path / "adapter_model.safetensors"), device=str(self.lm.device))
            try:
                result = set_peft_model_state_dict(model, state, adapter_name=key)
            except RuntimeError as e:  # shape mismatch: another rank or another base
                raise AdapterRefused(f"{what}: weights do not fit the base ({str(e).splitlines()[0]})") from None
            missing = [k for k in result.missing_keys if "lora_" in k and key in k]
            unexpected = list(result.unexpected_keys)
            if missing or unexpected:
                raise AdapterRefused(f"{what}: weights do not fit the base — missing keys {missing[:3]}"
                                     f"{'…' if len(missing) > 3 else ''}, unexpected keys {unexpected[:3]}"
                                     f"{'…' if len(unexpected) > 3 else ''}")
            self.lm.model = model
            model.eval()
            delta = self.canary_delta(key)
            if delta == 0.0:
                raise AdapterRefused(f"{what} does not change the model's output on the canary prompt "
                                     f"(max |Δlogit| = 0); it is a no-op adapter")
        except BaseException:
            if first:  # strip the injected layers: the base goes back to exactly what it was
                self.lm.model = model.unload()
            else:
                model.delete_adapter(key)
            raise
        self.loaded[key] = ref
        log.info("loaded %s (canary max |Δlogit| %.4f)", what, delta)
        return key

    @torch.no_grad()
    def canary_delta(self, key: str) -> float:
        """Max |logit difference| between base and adapter on a fixed prompt, in one mixed batch."""
        tok = self.lm.tokenizer
        ids = tok.apply_chat_template(CANARY, add_generation_prompt=True, return_tensors="pt",
                                      return_dict=True)["input_ids"].to(self.lm.device)
        batch = ids.repeat(2, 1)
        logits = self.lm.model(input_ids=batch, adapter_names=[BASE, key]).logits[:, -1, :].float()
        return float((logits[0] - logits[1]).abs().max())

    def adapter_names(self, keys: list[str | None]) -> list[str] | None:
        """peft's per-row adapter_names for a batch; None when no adapter is loaded (plain base)."""
        for k in keys:
            if k is not None and k not in self.loaded:
                raise UserError(f"adapter {k!r} is not loaded; loaded: {sorted(self.loaded) or 'none'}")
        if not self.loaded:
            return None
        return [k or BASE for k in keys]
