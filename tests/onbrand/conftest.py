"""Fixtures the decoding-loop tests share."""

from __future__ import annotations

import pytest
import torch

from core.model import load_base_model


@pytest.fixture()
def scrambled_lm(tiny_lm_dir, tmp_path, monkeypatch):
    """Makes the tiny model in fp32 (merged and unmerged sums agree to ~1e-7) with large random weights, so that
    answers are varied text, not newlines, and random LoRA adapters on it: `scrambled_lm(("a", ["q_proj", ...]), ...)`,
    each (name, target modules) seeded 1, 2, ... in order; none for the plain model."""
    def make(*adapters: tuple[str, tuple[str, ...]]):
        from peft import LoraConfig, get_peft_model

        monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
        lm = load_base_model(str(tiny_lm_dir), tmp_path, device="cpu")
        torch.manual_seed(0)
        with torch.no_grad():
            for p in lm.model.parameters():
                p.normal_(0, 0.15)
        model = lm.model
        for seed, (name, targets) in enumerate(adapters, start=1):
            torch.manual_seed(seed)
            config = LoraConfig(r=4, target_modules=list(targets), init_lora_weights=False)
            if seed == 1:
                model = get_peft_model(model, config, adapter_name=name)
            else:
                model.add_adapter(name, config)
        lm.model = model.eval() if adapters else model
        return lm
    return make
