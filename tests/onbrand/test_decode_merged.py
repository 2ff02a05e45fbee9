"""The fast decode paths give the greedy tokens of peft's per-row path: rows that all use one adapter decode on
a merged copy of the weights, rows that all use the bare base on a plain copy; the merged copies are cached per
adapter, bounded in bytes, and never outlive a change to the weights they were made from."""

from __future__ import annotations

import pytest
import torch

from core.generation import BASE, Generator, merged_copy

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROMPTS = [[{"role": "user", "content": q}] for q in ("hi", "what does the quokka dome cost?", "stove in stock?")]
NEW = 24


def _peft_lm(scrambled_lm, unmergeable: bool = False):
    """Two random, different LoRA adapters "a" and "b" on every linear layer (and "e", with LoRA on the
    embeddings as well, which a merged copy of the linear weights cannot express, when asked)."""
    adapters = [("a", TARGETS), ("b", TARGETS)] + ([("e", ("embed_tokens", "q_proj"))] if unmergeable else [])
    return scrambled_lm(*adapters)


def _peft_greedy(lm, gen: Generator, messages, name: str, new: int = NEW) -> str:
    """transformers' own greedy generate through peft's per-row adapter_names: the reference."""
    ids = gen.encode(messages)
    with torch.inference_mode():
        out = lm.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, do_sample=False,
                                repetition_penalty=gen.repetition_penalty, pad_token_id=lm.tokenizer.pad_token_id,
                                adapter_names=[name])
    rest = out[0, ids.shape[1]:].tolist()
    if rest and rest[-1] in gen._eos_ids():
        rest = rest[:-1]
    return lm.tokenizer.decode(rest, skip_special_tokens=True)


def _raw(gen: Generator, messages, name: str, new: int = NEW) -> str:
    return "".join(gen.stream(messages, new, adapter_names=[name]))


def test_merged_weights_give_the_peft_paths_greedy_tokens(scrambled_lm):
    lm = _peft_lm(scrambled_lm)
    gen = Generator(lm)
    for name in ("a", "b"):
        for m in PROMPTS:
            expected = _peft_greedy(lm, gen, m, name)
            assert expected != _peft_greedy(lm, gen, m, BASE)  # the adapter changes the answer: a test that can fail
            assert _raw(gen, m, name) == expected
    assert gen.engine_steps["merged"] > 0 and gen.engine_steps["peft"] == 0  # ... and the merged path ran
    assert gen.merged_adapters == ["a", "b"]
    # the bare base runs on a plain copy of the model, with the base's tokens
    for m in PROMPTS:
        assert _raw(gen, m, BASE) == _peft_greedy(lm, gen, m, BASE)
    assert gen.engine_steps["bare"] > 0 and gen.engine_steps["peft"] == 0


def test_without_merging_every_adapter_row_goes_through_peft_with_the_same_tokens(scrambled_lm):
    lm = _peft_lm(scrambled_lm)
    merged, unmerged = Generator(lm), Generator(lm, merge_adapters=False)
    for m in PROMPTS:
        assert _raw(merged, m, "a") == _raw(unmerged, m, "a")
    assert unmerged.engine_steps["merged"] == 0 and unmerged.engine_steps["peft"] > 0
    assert unmerged.merged_adapters == []


def test_merged_copies_are_bounded_in_bytes_least_recently_used_first(scrambled_lm):
    lm = _peft_lm(scrambled_lm)
    _, one = merged_copy(lm.model, "a")
    gen = Generator(lm, merged_cache_bytes=one)  # room for one merged copy
    for name in ("a", "b", "a"):
        _raw(gen, PROMPTS[0], name)
        assert gen.merged_adapters == [name]
    tight = Generator(lm, merged_cache_bytes=one - 1)  # no room at all: peft's path, same tokens
    assert _raw(tight, PROMPTS[1], "a") == _raw(gen, PROMPTS[1], "a")
    assert tight.merged_adapters == [] and tight.engine_steps["merged"] == 0


def test_a_merged_copy_never_outlives_a_change_to_its_adapter(scrambled_lm):
    lm = _peft_lm(scrambled_lm)
    gen = Generator(lm)
    before = _raw(gen, PROMPTS[1], "b")
    with torch.no_grad():  # the adapter's weights change in place (as a reload or a bug would)
        for module in lm.model.modules():
            if hasattr(module, "lora_B") and "b" in module.lora_B:
                module.lora_B["b"].weight.mul_(-1.0)
    after = _raw(gen, PROMPTS[1], "b")
    assert after == _peft_greedy(lm, gen, PROMPTS[1], "b")  # the live weights, not the stale merge
    assert after != before


def test_an_adapter_that_cannot_merge_decodes_through_peft(scrambled_lm):
    lm = _peft_lm(scrambled_lm, unmergeable=True)
    assert merged_copy(lm.model, "e") is None  # LoRA on the embeddings: not a sum of linear weights
    gen = Generator(lm)
    for m in PROMPTS:
        assert _raw(gen, m, "e") == _peft_greedy(lm, gen, m, "e")
    assert gen.engine_steps["merged"] == 0 and gen.engine_steps["peft"] > 0


def test_mixed_rows_use_peft_and_one_adapter_rows_merge_within_one_batch_call(scrambled_lm):
    """generate_batch over [base, a, b, a]: peft's mixed batch; each row's text is its row's solo answer."""
    lm = _peft_lm(scrambled_lm)
    gen = Generator(lm)
    names = [BASE, "a", "b", "a"]
    convs = [PROMPTS[0], PROMPTS[1], PROMPTS[1], PROMPTS[2]]
    expected = [_peft_greedy(lm, gen, c, n).strip() for c, n in zip(convs, names)]
    assert len(set(expected[1:3])) == 2  # a and b answer the same prompt differently
    assert gen.generate_batch(convs, NEW, adapter_names=names) == expected
    assert gen.engine_steps["peft"] > 0  # the steps the three adapters' rows decode together


def test_mixed_rows_prefill_per_adapter_each_sharing_its_prompt_prefix(scrambled_lm):
    """The scorecard's shape: the same prompts for the base and an adapter in one call. Each adapter's rows
    are prefilled on their own weights with the common system prompt computed once per adapter, never with
    peft's mixed-batch arithmetic; every row still gets its solo answer."""
    lm = _peft_lm(scrambled_lm)
    gen = Generator(lm)
    system = {"role": "system", "content": "You answer for a shop. " * 6}  # > min_shared_prefix characters
    convs = [[system, *m] for m in PROMPTS for _ in (BASE, "a")]
    names = [n for _ in PROMPTS for n in (BASE, "a")]
    expected = [_peft_greedy(lm, gen, c, n).strip() for c, n in zip(convs, names)]
    prefills = []
    real = gen._forward
    gen._forward = lambda names_, **kw: prefills.append(names_) or real(names_, **kw)
    assert gen.generate_batch(convs, NEW, adapter_names=names) == expected
    assert gen.engine_steps["shared_prefix"] == 2  # one prefix pass per adapter
    assert all(p is not None and len(set(p)) == 1 for p in prefills)  # no prefill mixes adapters


@pytest.mark.parametrize("names", [["a", "a", "a"], [BASE, BASE, BASE]])
def test_one_adapter_batches_with_a_shared_prefix_merge_and_match_peft(scrambled_lm, names):
    lm = _peft_lm(scrambled_lm)
    gen = Generator(lm)
    system = {"role": "system", "content": "You answer for a shop. " * 6}  # > min_shared_prefix characters
    convs = [[system, *m] for m in PROMPTS]
    expected = [_peft_greedy(lm, gen, c, names[0]).strip() for c in convs]
    assert gen.generate_batch(convs, NEW, adapter_names=names) == expected
    assert gen.engine_steps["peft"] == 0
    assert gen.engine_steps["shared_prefix"] == 1
