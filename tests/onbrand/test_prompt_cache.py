"""A prompt asked again skips its prefill (Generator(prompt_cache_bytes=...)): a lone row's whole prompt's keys
and values and last logits are kept per adapter, and the answer is the same as from a fresh prefill; dropped when
the weights change; bounded in bytes; rows prefilled in a padded group are neither kept nor served."""

from __future__ import annotations

import pytest

from core.config import Settings
from core.generation import BASE, Generator
from tests.onbrand.test_generation import CONVERSATIONS, _gen, _hf_greedy, _scramble

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
MIB = 2**20


def _prefills(gen: Generator) -> int:
    """Forward passes over a prompt's rest (each prefilled group; system turns are counted apart)."""
    return sum(gen.engine_steps[k] for k in ("model", "bare", "merged", "peft")) - gen.engine_steps["int8"] - \
        gen.engine_steps["lean"] - gen.engine_steps["shared_prefix"]


def test_a_prompt_asked_again_skips_its_prefill_and_gets_the_same_answer(tiny_lm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    gen = _gen(tiny_lm_dir, tmp_path)
    _scramble(gen)
    gen.prompt_cache_bytes = 64 * MIB
    fresh = Generator(gen.lm)  # none kept
    want = [fresh.generate(c, 16) for c in CONVERSATIONS]
    assert [gen.generate(c, 16) for c in CONVERSATIONS] == want
    assert gen.engine_steps["prompt_cache_hit"] == 0 and len(gen._prompts) == len(CONVERSATIONS)
    prefills = _prefills(gen)
    assert [gen.generate(c, 16) for c in CONVERSATIONS] == want  # each from its kept prompt
    assert gen.engine_steps["prompt_cache_hit"] == len(CONVERSATIONS) and _prefills(gen) == prefills
    assert [gen.generate(c, 5) for c in CONVERSATIONS] == [fresh.generate(c, 5) for c in CONVERSATIONS]
    assert not fresh._prompts and not fresh.engine_steps["prompt_cache_hit"]


def test_kept_prompts_are_dropped_when_the_weights_change(tiny_lm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    gen = _gen(tiny_lm_dir, tmp_path)
    _scramble(gen)
    gen.prompt_cache_bytes = 64 * MIB
    before = gen.generate(CONVERSATIONS[1], 16)
    _scramble(gen, seed=1)  # new weights in place
    assert len(gen._prompts) == 1
    after = gen.generate(CONVERSATIONS[1], 16)
    assert not gen.engine_steps["prompt_cache_hit"]
    assert len(gen._prompts) == 1  # the stale one dropped, the new one kept
    assert after == _hf_greedy(gen, CONVERSATIONS[1], 16) and after != before


def test_kept_prompts_stay_within_their_bytes(tiny_lm_dir, tmp_path):
    gen = _gen(tiny_lm_dir, tmp_path)
    gen.prompt_cache_bytes = 64 * MIB
    gen.generate(CONVERSATIONS[0], 2)
    one = next(iter(gen._prompts.values()))[3]
    assert one > 0
    gen.prompt_cache_bytes = 2 * one + one // 2  # room for two prompts of the first one's length
    gen._prompts.clear()
    short = [[{"role": "system", "content": CONVERSATIONS[0][0]["content"]}, {"role": "user", "content": q}]
             for q in ("ha", "hb", "hc")]  # as long as the first
    for c in short:
        gen.generate(c, 2)
    assert len(gen._prompts) == 2 and sum(e[3] for e in gen._prompts.values()) <= gen.prompt_cache_bytes
    gen.generate(short[0], 2)  # the oldest went first: prefilled again
    assert not gen.engine_steps["prompt_cache_hit"]
    gen.generate(short[2], 2)
    assert gen.engine_steps["prompt_cache_hit"] == 1
    gen.prompt_cache_bytes = one - 1  # too small for any: nothing kept
    gen._prompts.clear()
    gen.generate(short[1], 2)
    assert not gen._prompts


def test_side_by_side_after_a_single_answer_reuses_the_adapters_prompt(scrambled_lm):
    """Per adapter: the adapter's row of a side-by-side pair is served from its single answer's prompt, the
    base's row is prefilled (another adapter's prompt is not its own), and both answers are a fresh
    generator's."""
    lm = scrambled_lm(("a", TARGETS))
    m = CONVERSATIONS[1]
    fresh = Generator(lm, int8_rows=8)
    want = fresh.generate_batch([m, m], 16, adapter_names=[BASE, "a"])
    gen = Generator(lm, int8_rows=8, prompt_cache_bytes=64 * MIB)
    assert gen.generate(m, 16, adapter_names=["a"]) == want[1]
    assert gen.generate_batch([m, m], 16, adapter_names=[BASE, "a"]) == want
    assert gen.engine_steps["prompt_cache_hit"] == 1
    assert gen.generate(m, 16, adapter_names=[BASE]) == want[0]  # kept from the pair's base row
    assert gen.engine_steps["prompt_cache_hit"] == 2


def test_rows_prefilled_together_are_not_kept(scrambled_lm):
    """A group of rows on one adapter is prefilled left-padded in one pass: its numbers are not a lone
    prefill's, so it neither serves a kept prompt nor keeps one."""
    lm = scrambled_lm(("a", TARGETS))
    gen = Generator(lm, int8_rows=8, prompt_cache_bytes=64 * MIB)
    gen.generate(CONVERSATIONS[0], 8, adapter_names=["a"])
    assert len(gen._prompts) == 1
    gen.generate_batch(CONVERSATIONS[:2], 8, adapter_names=["a", "a"])
    assert len(gen._prompts) == 1 and not gen.engine_steps["prompt_cache_hit"]


def test_the_kept_bytes_come_from_the_environment(monkeypatch, tmp_path):
    assert Settings.from_env(home=tmp_path).prompt_cache_mb == 128
    monkeypatch.setenv("ONBRAND_PROMPT_CACHE_MB", "0")
    assert Settings.from_env(home=tmp_path).prompt_cache_mb == 0
    for bad in ("lots", "-1"):
        monkeypatch.setenv("ONBRAND_PROMPT_CACHE_MB", bad)
        with pytest.raises(ValueError, match="prompt_cache_mb|ONBRAND_PROMPT_CACHE_MB"):
            Settings.from_env(home=tmp_path)
