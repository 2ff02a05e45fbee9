"""Drafted tokens verified in one step (core/drafts.py, Generator(draft_rows=...)): the answers are the plain
loop's to the token whether the drafts are right, wrong or partly right, alone and beside other rows, and a
right draft saves steps."""

from __future__ import annotations

import random

import pytest
import torch

from core import decode_kernels as kernels
from core.drafts import ORDER, DraftTable, PromptLookup
from core.generation import BASE, Generator

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROMPTS = [[{"role": "user", "content": q}] for q in ("hi", "what does the quokka dome cost?", "stove in stock?")]
NEW = 24

needs_kernel = pytest.mark.skipif(not kernels.available(),
                                  reason=f"the decode kernels are unavailable here: {kernels.unavailable_reason()}")


# --- the table ----------------------------------------------------------------------------------------------

def test_a_draft_follows_the_most_frequent_next_token_chain():
    table = DraftTable()
    table.learn("a", [1, 2, 3, 4, 5, 6])
    table.learn("a", [1, 2, 3, 9])
    table.learn("a", [1, 2, 3, 9])
    assert table.propose("a", [7, 1, 2, 3], 4) == [9]  # 9 twice against 4 once; nothing known after (2, 3, 9)
    table.learn("a", [2, 3, 9, 5, 6])
    assert table.propose("a", [1, 2, 3], 4) == [9, 5, 6]
    assert table.propose("a", [1, 2, 3], 1) == [9]
    assert table.propose("b", [1, 2, 3], 4) == []  # per adapter
    assert table.propose("a", [2, 3], 4) == []  # fewer than ORDER tokens of context
    assert table.propose("a", [1, 2, 3], 0) == []


def test_the_table_is_bounded_in_contexts_and_adapters():
    table = DraftTable(max_keys=2, max_adapters=2)
    table.learn("a", [1, 2, 3, 4, 5, 6])  # three contexts: the third is not learnt
    assert table.contexts("a") == 2
    assert table.propose("a", [3, 4, 5], 2) == []
    assert table.propose("a", [1, 2, 3], 5) == [4, 5]
    table.learn("b", [1, 2, 3, 4])
    table.propose("a", [1, 2, 3], 1)
    table.learn("a", [1, 2, 3, 4])  # "a" used last: "b" goes first
    table.learn("c", [1, 2, 3, 4])
    assert table.contexts("b") == 0 and table.contexts("a") == 2 and table.contexts("c") == 1


def test_prompt_lookup_drafts_what_followed_the_latest_earlier_occurrence():
    prompt = [5, 1, 2, 3, 4, 9, 1, 2, 3, 7, 8, 6]
    look = PromptLookup(prompt)
    assert look.propose([1, 2, 3], 3) == [7, 8, 6]  # the latest of two earlier (1, 2, 3): the one before 7
    assert look.propose([1, 2, 3, 7], 1) == [8]  # the answer grows; indexed as it goes
    assert look.propose([1, 2, 3, 7, 4], 2) == []  # neither (3, 7, 4) nor (7, 4) before
    assert look.propose([1, 2, 3, 7, 4, 0, 4, 0], 3) == [4, 0]  # the answer's own repeats count, up to its end
    assert look.propose([1, 2, 3, 7, 4, 0, 4, 0], 0) == []
    assert PromptLookup([1, 2, 3, 4]).propose([7, 2, 3], 2) == [4, 7]  # no (7, 2, 3) before: the last two
    assert PromptLookup([1, 2]).propose([], 3) == []  # nothing before the sequence's own last tokens


# --- the kernel: several rows of one answer -------------------------------------------------------------------

@needs_kernel
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_rows_of_one_answer_get_the_numbers_of_steps_taken_one_by_one(dtype):
    """Row 0's next three tokens as three rows (slots 0, offsets 0-2) beside row 1's next token: each gets,
    bit for bit, what one-token steps in order give, and the cache holds the same keys and values; the columns
    no row has written (NaN here) add nothing."""
    g = torch.Generator().manual_seed(5)
    heads, kv, dim, capacity, column = 6, 2, 32, 24, 9
    cache_rows = 2
    qkv = torch.randn(4, (heads + 2 * kv) * dim, generator=g).to(dtype)
    angle = torch.rand(4, dim // 2, generator=g) * 6
    cos, sin = torch.cat([angle.cos()] * 2, -1).to(dtype), torch.cat([angle.sin()] * 2, -1).to(dtype)
    k_cache = torch.randn(cache_rows, kv, capacity, dim, generator=g).to(dtype)
    v_cache = torch.randn(cache_rows, kv, capacity, dim, generator=g).to(dtype)
    k_cache[:, :, column:] = float("nan")
    v_cache[:, :, column:] = float("nan")
    before = torch.ones(cache_rows, column, dtype=torch.bool)
    before[1, :4] = False  # row 1's left padding
    before[0, 2] = False  # a gap in row 0

    slot, offset = [0, 0, 0, 1], [0, 1, 2, 0]
    valid = torch.zeros(4, column + 3, dtype=torch.bool)
    for v, (s, o) in enumerate(zip(slot, offset)):
        valid[v, :column] = before[s]
        valid[v, column:column + o + 1] = True
    kc, vc = k_cache.clone(), v_cache.clone()
    got = kernels.attend(qkv, cos, sin, kc, vc, column, valid, heads, kv, dim ** -0.5,
                         kernels.Slots(slot, offset))

    ks, vs = k_cache.clone(), v_cache.clone()
    for v, (s, o) in enumerate(zip(slot, offset)):  # one token at a time, each on its own row's cache
        one = torch.cat([before[s], torch.ones(o + 1, dtype=torch.bool)])[None]
        k1, v1 = ks[s:s + 1].clone(), vs[s:s + 1].clone()
        want = kernels.attend(qkv[v:v + 1], cos[v:v + 1], sin[v:v + 1], k1, v1, column + o, one, heads, kv,
                              dim ** -0.5)
        ks[s:s + 1], vs[s:s + 1] = k1, v1
        assert torch.equal(got[v], want[0]), v
    written = [(0, column), (0, column + 1), (0, column + 2), (1, column)]
    for s, c in written:
        assert torch.equal(kc[s, :, c], ks[s, :, c]) and torch.equal(vc[s, :, c], vs[s, :, c])
    assert torch.equal(kc[:, :, :column], k_cache[:, :, :column])  # nothing else written


@needs_kernel
def test_slots_are_checked():
    qkv, cos = torch.zeros(2, 3 * 16), torch.zeros(2, 16)
    k = torch.zeros(1, 1, 8, 16)
    with pytest.raises(ValueError, match="attend"):  # room for column 6 + span 3 is 9 > 8 columns
        kernels.attend(qkv, cos, cos, k, k.clone(), 6, torch.ones(2, 9, dtype=torch.bool), 1, 1, 0.25,
                       kernels.Slots([0, 0], [0, 2]))
    with pytest.raises(ValueError, match="Slots"):
        kernels.Slots([0, 0], [0, -1])


# --- the loop -------------------------------------------------------------------------------------------------

def _plain(lm, jobs, steps: list | None = None):
    gen = Generator(lm, int8_rows=8, draft_rows=0)
    answers = [gen.generate_batch(*job) for job in jobs]
    if steps is not None:
        steps.append(gen.engine_steps["int8"])
    return answers


def _jobs():
    m0, m1, m2 = PROMPTS
    return ([[m], NEW, [n]] for m in PROMPTS for n in ("a", BASE)), [
        [[m0, m1, m2], NEW, ["a", "a", BASE]],  # rows of one adapter beside the base's
        [[m1, m1, m2, m0], NEW, [BASE, "a", "b", "a"]],  # a gather: each adapter's rows apart
    ]


@needs_kernel
def test_drafted_answers_are_the_plain_loops_answers(scrambled_lm):
    """Learnt drafts (each answer is drafted from the answers before it, its own after the first round) and
    wrong ones (a table of random tokens): the same answers as the loop without drafts, alone and in batches;
    right drafts save steps."""
    lm = scrambled_lm(("a", TARGETS), ("b", TARGETS))
    alone, batches = _jobs()
    jobs = [*alone, *batches]
    plain_steps: list = []
    want = _plain(lm, jobs, plain_steps)
    assert plain_steps[0] > 0

    gen = Generator(lm, int8_rows=8, draft_rows=5)
    first = [gen.generate_batch(*job) for job in jobs]
    assert first == want
    steps = gen.engine_steps["int8"]
    again = [gen.generate_batch(*job) for job in jobs]  # every answer is in its table now
    assert again == want
    assert gen.engine_steps["drafted"] > 0
    assert gen.engine_steps["int8"] - steps < plain_steps[0] * 0.6  # most tokens came in drafts

    rng = random.Random(0)
    wrong = Generator(lm, int8_rows=8, draft_rows=8)
    vocab = lm.model.config.vocab_size
    for name in ("a", "b", BASE):
        for _ in range(200):
            wrong.drafts.learn(name, [rng.randrange(vocab) for _ in range(40)])
    assert [wrong.generate_batch(*job) for job in jobs] == want
    assert wrong.engine_steps["drafted"] > 0


@needs_kernel
def test_prompt_lookup_drafts_where_the_table_has_none(scrambled_lm):
    """Each generator asks every prompt once, on a table that starts empty: the drafts of a row's own prompt
    and answer (the tiny model's answers repeat themselves) save steps beyond the table's, and change no
    answer."""
    lm = scrambled_lm(("a", TARGETS))
    jobs = [[[m], 40, [name]] for m in PROMPTS for name in (BASE, "a")]
    want = _plain(lm, jobs)
    steps = {}
    for lookup in (False, True):
        gen = Generator(lm, int8_rows=8, draft_rows=5)
        gen.prompt_lookup = lookup
        assert [gen.generate_batch(*job) for job in jobs] == want
        steps[lookup] = gen.engine_steps["int8"]
        counts = gen.engine_steps
        assert counts["drafted_table"] + counts["drafted_lookup"] == counts["drafted"]
        assert (counts["drafted_lookup"] > 0) == lookup
        assert 0 < counts["agreed_lookup"] <= counts["drafted_lookup"] or not lookup
    assert steps[True] < steps[False] * 0.9


@needs_kernel
@pytest.mark.parametrize("new", [1, 2, 3, 5])
def test_drafts_stop_at_the_token_budget(scrambled_lm, new):
    lm = scrambled_lm(("a", TARGETS))
    want = _plain(lm, [[[m], new, ["a"]] for m in PROMPTS])
    gen = Generator(lm, int8_rows=8, draft_rows=5)
    for m in PROMPTS:
        gen.generate_batch([m], NEW, adapter_names=["a"])  # learnt at full length
    assert [gen.generate_batch([m], new, adapter_names=["a"]) for m in PROMPTS] == want


@needs_kernel
def test_a_row_that_joins_a_drafting_row_gets_its_solo_answer(scrambled_lm):
    lm = scrambled_lm(("a", TARGETS))
    plain = Generator(lm, int8_rows=8, draft_rows=0)
    want = {i: plain.generate(m, NEW, adapter_names=["a"]) for i, m in enumerate(PROMPTS)}
    gen = Generator(lm, int8_rows=8, draft_rows=5)
    for m in PROMPTS:
        gen.generate(m, NEW, adapter_names=["a"])
    first = gen.stream(PROMPTS[0], NEW, adapter_names=["a"])
    text = next(first)  # the first row is decoding (and drafting) when the second arrives
    joined = gen.generate(PROMPTS[1], NEW, adapter_names=["a"])
    text += "".join(first)
    assert text == want[0] and joined == want[1]


def test_no_drafts_where_steps_cannot_verify_them(scrambled_lm):
    """Off the kernels (torch's int8 products) a step takes one token per row: no drafts, the same answers."""
    lm = scrambled_lm(("a", TARGETS))
    gen = Generator(lm, int8_rows=8, int8_kernel=False, draft_rows=5)
    answers = [gen.generate(m, NEW, adapter_names=["a"]) for m in PROMPTS * 2]
    assert gen.engine_steps["drafted"] == 0
    assert answers[:3] == answers[3:]


def test_learn_answers_seeds_an_adapters_drafts(scrambled_lm):
    lm = scrambled_lm(("a", TARGETS))
    gen = Generator(lm, draft_rows=5)
    assert gen.learn_answers("a", ["The Quokka Dome is [[price]].", "It is [[stock]]."]) > 0
    header = gen.encode([{"role": "user", "content": "?"}])[0, -ORDER:].tolist()
    first = lm.tokenizer.encode("The Quokka Dome", add_special_tokens=False)
    assert gen.drafts.propose("a", header, len(first)) == first
    assert Generator(lm, draft_rows=0).learn_answers("a", ["x y z"]) == 0
