"""LeanStep, the decoding loop's one-token step, reproduces transformers' Llama forward (and peft's mixed-batch
LoRA arithmetic) operation for operation: the same logits, bit for bit, and so the same greedy tokens. Its
row-by-row attention over a padded batch gives each row what it computes alone."""

from __future__ import annotations

import pytest
import torch

from core.generation import BASE, Generator, LeanStep, _Cache, lean_supported, plain_copy

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROMPTS = [[{"role": "user", "content": q}] for q in ("hi", "what does the quokka dome cost?", "stove in stock?")]


@pytest.fixture()
def lm(scrambled_lm):
    return scrambled_lm(("a", TARGETS), ("b", TARGETS))


def _one_step(module, step, names, rows: int = 3):
    """The same one-token step through transformers (module) and LeanStep (step), from equal caches."""
    torch.manual_seed(5)
    ids = torch.randint(4, 90, (rows, 9))
    valid = torch.ones((rows, 9), dtype=torch.bool)
    valid[0, :3] = False  # a left-padded row
    pos = (valid.long().cumsum(-1) - 1).clamp(min=0)
    extra = {"adapter_names": names} if names else {}
    caches = []
    with torch.inference_mode():
        for _ in range(2):
            cache = _Cache()
            module(input_ids=ids, attention_mask=valid.long(), position_ids=pos, cache=cache, use_cache=True,
                   logits_to_keep=1, **extra)
            caches.append(cache)
        nxt = torch.randint(4, 90, (rows, 1))
        valid = torch.cat([valid, valid.new_ones((rows, 1))], 1)
        kw = dict(input_ids=nxt, attention_mask=valid[:, None, None, :], position_ids=pos[:, -1:] + 1)
        want = module(**kw, cache=caches[0], use_cache=True, logits_to_keep=1, **extra).logits
        got = step(**kw, cache=caches[1], **extra).logits
    return want, got, caches


@pytest.mark.parametrize("names", [None, [BASE, "a", "b"], ["b", "b", BASE]])
def test_lean_step_logits_equal_transformers_and_peft_bit_for_bit(lm, names):
    module = lm.model if names else plain_copy(lm.model)
    assert lean_supported(module)
    want, got, caches = _one_step(module, LeanStep(module, row_attention=False), names)
    assert torch.equal(want, got)
    for a, b in zip(caches[0].layers, caches[1].layers):  # and it wrote the same keys and values
        assert torch.equal(a.keys, b.keys) and torch.equal(a.values, b.values)


def test_the_loop_with_and_without_lean_steps_gives_the_same_answers(lm):
    lean, plain = Generator(lm), Generator(lm, lean_steps=False)
    for names in ([BASE], ["a"], ["b"]):
        for m in PROMPTS:
            assert "".join(lean.stream(m, 20, adapter_names=names)) == "".join(plain.stream(m, 20, adapter_names=names))
    mixed = [BASE, "a", "b"]
    assert lean.generate_batch(PROMPTS, 20, adapter_names=mixed) == plain.generate_batch(PROMPTS, 20,
                                                                                          adapter_names=mixed)
    assert lean.engine_steps["lean"] > 0 and plain.engine_steps["lean"] == 0


def test_rows_with_lora_on_the_embeddings_are_not_stepped_lean(lm):
    from peft import LoraConfig

    torch.manual_seed(3)
    lm.model.add_adapter("e", LoraConfig(r=4, target_modules=["embed_tokens", "q_proj"], init_lora_weights=False))
    step = LeanStep(lm.model)
    assert step.supports(["a", BASE]) and not step.supports(["e", "a"])
    gen = Generator(lm)
    "".join(gen.stream(PROMPTS[0], 8, adapter_names=["e"]))
    assert gen.engine_steps["lean"] == 0 and gen.engine_steps["peft"] > 0


def test_lora_with_a_bias_is_stepped_lean_with_the_same_logits(lm):
    from peft import LoraConfig

    torch.manual_seed(4)
    lm.model.add_adapter("bias", LoraConfig(r=4, target_modules=TARGETS, init_lora_weights=False, lora_bias=True))
    with torch.no_grad():
        for m in lm.model.modules():
            if hasattr(m, "lora_B") and "bias" in m.lora_B:
                m.lora_B["bias"].bias.normal_(0, 0.5)
    want, got, _ = _one_step(lm.model, LeanStep(lm.model, row_attention=False), [BASE, "bias", "a"])
    assert torch.equal(want, got)


def test_a_lone_rows_gemv_step_gives_transformers_logits_to_rounding(lm):
    """gemv=True sums a lone row's projections in another order: the same logits to fp32 rounding."""
    module = plain_copy(lm.model)
    want, got, _ = _one_step(module, LeanStep(module, gemv=True), None, rows=1)
    assert torch.allclose(want, got, rtol=1e-5, atol=1e-5) and torch.equal(want.argmax(-1), got.argmax(-1))


def test_row_attention_gives_a_padded_row_what_it_computes_alone(lm):
    """Row by row, each row attends to its own columns only, as alone; the padded batch's one masked call
    sums the padded row's attention in other blocks (fp32 here: equal to rounding; bf16 on this CPU: exact)."""
    module = plain_copy(lm.model)
    torch.manual_seed(5)
    ids = torch.randint(4, 90, (2, 9))
    valid = torch.ones((2, 9), dtype=torch.bool)
    valid[0, :4] = False  # row 0: 5 tokens after 4 columns of padding
    pos = (valid.long().cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        batch, alone = _Cache(), _Cache()
        module(input_ids=ids, attention_mask=valid.long(), position_ids=pos, cache=batch, use_cache=True)
        module(input_ids=ids[:1, 4:], cache=alone, use_cache=True)
        nxt = torch.tensor([[7], [9]])
        valid = torch.cat([valid, valid.new_ones((2, 1))], 1)
        step = LeanStep(module)
        assert step._spans(valid[:, None, None, :]) == [4, 0]
        got = step(input_ids=nxt, attention_mask=valid[:, None, None, :], position_ids=pos[:, -1:] + 1,
                   cache=batch).logits[:1]
        want = step(input_ids=nxt[:1], attention_mask=valid[:1, None, None, 4:], position_ids=pos[:1, -1:] + 1,
                    cache=alone).logits
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-5) and torch.equal(got.argmax(-1), want.argmax(-1))
