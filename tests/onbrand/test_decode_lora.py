"""Generator(adapter_weights="lora"): an adapter's rows step on the base's own weights plus their LoRA product
(core/lora_rows.py, core/decode_kernels.c lora_product), so the base's rows and every adapter's
read one set of weights a step. What is proved here: it computes peft's model (the same greedy tokens as peft's
per-row path up to a near-tie of the tiny model's random weights, on the kernels and on torch's operations), a
row's answer in any batch is its answer alone to the character, the one-call step's numbers are the
per-operation path's bit for bit, and no merged copy is made."""

from __future__ import annotations

import pytest
import torch

from core import decode_kernels
from core.generation import BASE, Generator, plain_copy
from core.lean_step import Int8Step, LeanStep, OwnWeights
from core.lora_rows import LoraWeights, lora_factors

from .test_decode_int8 import (NEW, PROMPTS, TARGETS, _reference, _same_until_a_tie, count_layers_step_calls,
                               mixed_step_logits, peft_agreement)


def _kernels_or_skip() -> None:
    if not decode_kernels.available():
        pytest.skip(f"the decode kernels are unavailable here: {decode_kernels.unavailable_reason()}")


@pytest.mark.parametrize("kernel", [True, False])
def test_lora_steps_give_the_peft_paths_greedy_tokens_up_to_a_tie(scrambled_lm, kernel):
    """In fp32 the LoRA rows' sums differ from peft's only in their order: every answer is peft's token for
    token until a near-tie, alone and side by side, and no adapter is merged."""
    if kernel:
        _kernels_or_skip()
    lm = scrambled_lm(("a", TARGETS), ("b", ["q_proj", "v_proj", "down_proj"]))  # b: some projections only
    gen = Generator(lm, int8_rows=8, int8_kernel=kernel, adapter_weights="lora")
    same, total, whole = peft_agreement(lm, gen)
    assert same >= 0.9 * total and whole >= 7, (same, total, whole)
    assert gen.engine_steps["int8"] > 0 and gen.merged_adapters == []
    assert isinstance(gen._lora["a"].weights, LoraWeights) and gen._lora["a"].weights.kernel == kernel


def test_lora_rows_each_get_their_solo_answer_exactly(scrambled_lm):
    """The base's rows and each adapter's rows share the base's products, and each row's LoRA is its own: a
    row's answer in any batch, beside any rows, is its answer alone, to the character."""
    _kernels_or_skip()
    lm = scrambled_lm(("a", TARGETS), ("b", TARGETS))
    gen = Generator(lm, int8_rows=8, adapter_weights="lora")
    for m in PROMPTS:
        alone = {n: gen.generate(m, NEW, adapter_names=[n]) for n in (BASE, "a", "b")}
        assert len(set(alone.values())) == 3
        names = [BASE, "a", "b", "a", BASE, "b"]
        assert gen.generate_batch([m] * 6, NEW, adapter_names=names) == [alone[n] for n in names]
        others = [p for p in PROMPTS if p is not m]
        assert gen.generate_batch([m, *others], NEW, adapter_names=["b", "a", BASE])[0] == alone["b"]
    assert gen.engine_steps["int8"] > 0 and gen.merged_adapters == []


@pytest.mark.parametrize("dtype, lora_dtype", [(torch.float32, torch.float32), (torch.bfloat16, torch.float32),
                                               (torch.bfloat16, torch.bfloat16)])
@pytest.mark.parametrize("names", [["own", "a"], ["a", "own", "b"], ["a", "b"], ["a", "own", "a"]])
def test_one_call_with_lora_rows_gives_the_per_operation_steps_numbers(scrambled_lm, monkeypatch, dtype, lora_dtype,
                                                                       names):
    """kernels.layers_step with LoRA parts (the base's rows and adapters' rows on the one set of base weights,
    each adapter adding its LoRA; factors in fp32 as peft keeps them, or in the activations' bf16): the
    per-operation path's logits bit for bit; an adapter's rows apart from each other (a gather) keep the
    per-operation path."""
    _kernels_or_skip()
    lm = scrambled_lm(("a", TARGETS), ("b", ["k_proj", "up_proj", "o_proj"]))
    lm.model.to(dtype)
    for name, p in lm.model.named_parameters():
        if "lora_" in name:
            p.data = p.data.to(lora_dtype)
    plain = plain_copy(lm.model)
    peft_lean = LeanStep(lm.model)
    own = OwnWeights(LeanStep(plain))
    weights = {"own": own, **{n: LoraWeights(own, *lora_factors(peft_lean, n)) for n in ("a", "b")}}
    assert weights["a"].lora_dtype == lora_dtype
    one_call, per_operation = Int8Step(plain, weights), Int8Step(plain, weights)
    per_operation.norm_pointers = None
    ids = Generator(lm).encode(PROMPTS[1]).repeat(len(names), 1)
    calls = count_layers_step_calls(monkeypatch)
    fused = mixed_step_logits(plain, one_call, ids, names)
    assert bool(calls) == (names != ["a", "own", "a"])
    assert torch.equal(fused, mixed_step_logits(plain, per_operation, ids, names))
    plain_logits = mixed_step_logits(plain, Int8Step(plain, {"own": own, "a": own, "b": own}), ids, names)
    assert not torch.equal(fused[:, names.index("a")], plain_logits[:, names.index("a")])  # LoRA was added
    if "own" in names:  # and the base's rows are the base's
        assert torch.equal(fused[:, names.index("own")], plain_logits[:, names.index("own")])


def test_an_adapter_lora_weights_cannot_add_keeps_peft_steps(scrambled_lm):
    """LoRA on the output head is not a projection LoraWeights adds to: that adapter's rows step through
    peft's own forward, and get peft's answer."""
    lm = scrambled_lm(("a", TARGETS), ("head", ["q_proj", "lm_head"]))
    gen = Generator(lm, int8_rows=8, adapter_weights="lora")
    assert lora_factors(LeanStep(lm.model), "head") is None
    got = gen.generate(PROMPTS[1], NEW, adapter_names=["head"])
    _same_until_a_tie(lm, got, *_reference(lm, gen, PROMPTS[1], "head", NEW))
    assert gen.engine_steps["int8"] == 0 and gen.engine_steps["peft"] > 1


@pytest.mark.parametrize("value", ["lora", "merged"])
def test_adapter_weights_comes_from_the_environment(monkeypatch, tmp_path, value):
    from core.config import Settings

    monkeypatch.setenv("ONBRAND_ADAPTER_WEIGHTS", value)
    assert Settings.from_env(home=tmp_path).adapter_weights == value


def test_a_bad_adapter_weights_is_one_clear_error(monkeypatch, tmp_path, scrambled_lm):
    from core.config import Settings

    monkeypatch.setenv("ONBRAND_ADAPTER_WEIGHTS", "int4")
    with pytest.raises(ValueError, match="adapter_weights must be one of merged, lora, got 'int4'"):
        Settings.from_env(home=tmp_path)
    with pytest.raises(ValueError, match="adapter_weights"):
        Generator(scrambled_lm(), adapter_weights="int4")


def test_the_lora_prefill_module_is_peft_s_forward(scrambled_lm):
    """with_lora: a plain copy whose projections add the adapter's LoRA (q/k/v sharing one lora_A product): peft's
    logits over a whole prompt up to the order of fp32 sums, and its answers with the steps on transformers'
    forward (int8_rows 0) are peft's up to a tie."""
    from core.lora_rows import with_lora

    lm = scrambled_lm(("a", TARGETS), ("b", ["k_proj", "up_proj"]))
    ids = Generator(lm).encode(PROMPTS[1])
    with torch.inference_mode():
        for name in ("a", "b"):
            module = with_lora(plain_copy(lm.model), lora_factors(LeanStep(lm.model), name)[0])
            got = module(input_ids=ids).logits
            want = lm.model(input_ids=ids, adapter_names=[name]).logits
            bare = plain_copy(lm.model)(input_ids=ids).logits
            scale = want.abs().max()
            assert (got - want).abs().max() / scale < 1e-5
            assert (bare - want).abs().max() / scale > 1e-3  # the LoRA was added
    gen = Generator(lm, int8_rows=0, adapter_weights="lora")
    got = gen.generate(PROMPTS[2], NEW, adapter_names=["a"])
    _same_until_a_tie(lm, got, *_reference(lm, gen, PROMPTS[2], "a", NEW))
    assert gen.engine_steps["lora"] > 1 and gen.engine_steps["int8"] == 0


def test_the_lora_cache_is_bounded_and_answers_stay_the_same(scrambled_lm):
    """merged_cache_bytes bounds the adapters' LoRA factors, prefill modules and step weights kept: with room
    for one, each adapter's factors are taken again when it comes back, and its answer is the same."""
    _kernels_or_skip()
    lm = scrambled_lm(("a", TARGETS), ("b", TARGETS))
    roomy = Generator(lm, int8_rows=8, adapter_weights="lora")
    want = {n: roomy.generate(PROMPTS[1], NEW, adapter_names=[n]) for n in ("a", "b")}
    one = next(iter(roomy._lora.values())).nbytes
    tight = Generator(lm, int8_rows=8, adapter_weights="lora", merged_cache_bytes=one + one // 2)
    for n in ("a", "b", "a"):
        assert tight.generate(PROMPTS[1], NEW, adapter_names=[n]) == want[n]
        assert list(tight._lora) == [n]
    assert len(roomy._lora) == 2


def test_an_adapter_trained_with_dropout_takes_lora_steps_in_eval_mode(scrambled_lm):
    """LoRA dropout is the identity in eval mode (how the generator runs a model): such an adapter's LoRA is
    added as any other's; in training mode it is not."""
    from peft import LoraConfig

    lm = scrambled_lm(("a", TARGETS))
    torch.manual_seed(5)
    lm.model.add_adapter("dropped", LoraConfig(r=4, target_modules=TARGETS, lora_dropout=0.1, init_lora_weights=False))
    lm.model.eval()
    assert lora_factors(LeanStep(lm.model), "dropped") is not None
    gen = Generator(lm, int8_rows=8, adapter_weights="lora")
    got = gen.generate(PROMPTS[1], NEW, adapter_names=["dropped"])
    _same_until_a_tie(lm, got, *_reference(lm, gen, PROMPTS[1], "dropped", NEW))
    assert gen.engine_steps["int8"] > 0
    lm.model.train()
    assert lora_factors(LeanStep(lm.model), "dropped") is None
    lm.model.eval()
