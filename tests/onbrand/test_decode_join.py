"""Concurrent callers share one decoding loop: a request that arrives while another is mid-answer joins its
batch at the next step, each row with its own adapter, and every caller still gets the answer it gets alone.
Every wait here is on the loop's state (no sleeps); WAIT_S only turns a deadlock into a failure."""

from __future__ import annotations

import threading

import pytest
import torch

from core import generation
from core.generation import BASE, Generator

WAIT_S = 120
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROMPTS = [[{"role": "user", "content": q}] for q in ("hi", "what does the quokka dome cost?", "stove in stock?")]


def _answer(gen: Generator, messages, name: str | None, new: int, min_new: int = 0):
    """(raw streamed text, this call's GenerationStats)."""
    got = []
    text = "".join(gen.stream(messages, new, adapter_names=[name] if name else None, on_stats=got.append,
                              min_new_tokens=min_new))
    return text, got[0]


def _run(fn, out: dict, key) -> threading.Thread:
    def target():
        try:
            out[key] = fn()
        except BaseException as e:  # reported by the test
            out[key] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


def _join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(WAIT_S)
    assert not any(t.is_alive() for t in threads), "a request is still running (deadlock?)"


class _Holds:
    """Stops the loop (inside a step, holding the generator lock) the first time each condition on the batch
    holds, until the test releases it: the test then knows exactly which rows are where."""

    def __init__(self, gen: Generator, monkeypatch, *conditions):
        self.conditions = list(conditions)
        self.held = [threading.Event() for _ in conditions]
        self.release = [threading.Event() for _ in conditions]
        real = gen._loop._decode

        def decode(batch, finished):
            for i, when in enumerate(self.conditions):
                if not self.release[i].is_set() and not self.held[i].is_set() and when(batch):
                    self.held[i].set()
                    self.release[i].wait(WAIT_S)
            return real(batch, finished)

        monkeypatch.setattr(gen._loop, "_decode", decode)


@pytest.mark.parametrize("int8_rows", [0, 64])  # bf16 steps (LeanStep); int8 steps (Int8Step), the CPU default
def test_requests_arriving_mid_answer_join_the_batch_and_each_gets_its_solo_answer(scrambled_lm, monkeypatch,
                                                                                   int8_rows):
    gen = Generator(scrambled_lm(("a", TARGETS), ("b", TARGETS)), int8_rows=int8_rows)
    calls = [(PROMPTS[1], "a", 30, 30), (PROMPTS[1], "b", 20, 0), (PROMPTS[2], BASE, 20, 0), (PROMPTS[0], "a", 12, 0)]
    alone = [_answer(gen, *c)[0] for c in calls]
    assert len(set(alone)) == len(alone), alone  # every caller's answer differs: a swap would be caught

    holds = _Holds(gen, monkeypatch, lambda b: b.rows[0].steps >= 3)
    got: dict = {}
    first = _run(lambda: _answer(gen, *calls[0]), got, 0)
    assert holds.held[0].wait(WAIT_S)  # the first answer is 3 steps in, and the loop is held there
    others = [_run(lambda c=c: _answer(gen, *c), got, i) for i, c in enumerate(calls[1:], start=1)]
    assert gen.wait_for(lambda: gen.rows_waiting == 3, WAIT_S)  # three arrivals, waiting for the next step
    assert gen.rows_decoding == 1
    holds.release[0].set()
    _join([first, *others])
    for i in range(len(calls)):
        assert not isinstance(got[i], BaseException), got[i]
        text, stats = got[i]
        assert text == alone[i], (calls[i], text, alone[i])
        assert stats.batch_rows == 4  # all four decoded in one batch
    assert gen.engine_steps["peft"] > 0  # the joined steps mixed adapters (peft's per-row path)
    # the joined steps ran on the steps asked for: Int8Step (each row on its own weights), else LeanStep
    assert gen.engine_steps["int8"] > 0 if int8_rows else gen.engine_steps["int8"] == 0
    assert gen.wait_for(lambda: gen.rows_decoding == 0 and gen.rows_waiting == 0, WAIT_S)


def test_arrivals_are_prefilled_one_between_two_steps_so_a_running_answer_pauses_for_one_prefill(scrambled_lm,
                                                                                                     monkeypatch):
    """Three requests queue while an answer is mid-way: the loop prefills one, steps every row, prefills the
    next, and so on (never two prefills in a row while rows decode), and each gets its solo answer."""
    gen = Generator(scrambled_lm(("a", TARGETS), ("b", TARGETS)))
    calls = [(PROMPTS[1], "a", 24, 24), (PROMPTS[2], "b", 12, 12), (PROMPTS[0], BASE, 12, 12), (PROMPTS[1], "b", 12, 12)]
    alone = [_answer(gen, *c)[0] for c in calls]
    order: list[str] = []
    real_prefill = gen._loop._prefill

    def prefill(job, finished):
        order.append("prefill")
        return real_prefill(job, finished)

    monkeypatch.setattr(gen._loop, "_prefill", prefill)
    holds = _Holds(gen, monkeypatch, lambda b: b.rows[0].steps >= 3)
    real_decode = gen._loop._decode  # _Holds' wrapper

    def decode(batch, finished):
        order.append(f"step of {len(batch.rows)}")
        return real_decode(batch, finished)

    monkeypatch.setattr(gen._loop, "_decode", decode)
    got: dict = {}
    first = _run(lambda: _answer(gen, *calls[0]), got, 0)
    assert holds.held[0].wait(WAIT_S)
    others = [_run(lambda c=c: _answer(gen, *c), got, i) for i, c in enumerate(calls[1:], start=1)]
    assert gen.wait_for(lambda: gen.rows_waiting == 3, WAIT_S)
    holds.release[0].set()
    _join([first, *others])
    assert [got[i][0] for i in range(4)] == alone
    # the first answer's prefill (its first token) and steps until the held one, the third; then the arrivals
    assert order[:10] == ["prefill", "step of 1", "step of 1", "step of 1",
                          "prefill", "step of 2", "prefill", "step of 3", "prefill", "step of 4"]
    assert all(got[i][1].batch_rows == 4 for i in range(4))


def test_an_answer_records_its_longest_wait_between_two_tokens(monkeypatch):
    """GenerationStats.longest_pause_s (the bench's `longest_pause`): the largest gap between consecutive
    tokens of a row, on a clock the test moves."""
    now = [100.0]
    monkeypatch.setattr(generation.time, "perf_counter", lambda: now[0])
    job = generation._Job([torch.tensor([1, 2])], None, 8)
    row = job.rows[0]
    for t in (100.5, 100.6, 101.4, 101.5):  # gaps 0.1, 0.8, 0.1 after the first token
        now[0] = t
        job.token(row, 7)
    assert row.longest_pause == pytest.approx(0.8) and job.ttft_s == pytest.approx(0.5)


def test_a_caller_that_stops_reading_leaves_and_the_others_finish_their_answers(scrambled_lm, monkeypatch):
    gen = Generator(scrambled_lm(("a", TARGETS), ("b", TARGETS)))
    alone = {n: _answer(gen, PROMPTS[1], n, 20)[0] for n in ("a", "b")}
    holds = _Holds(gen, monkeypatch, lambda b: len(b.rows) == 1 and b.rows[0].steps >= 2,
                   lambda b: len(b.rows) == 3 and min(r.steps for r in b.rows) >= 2)
    quitter = gen.stream(PROMPTS[2], 200, adapter_names=[BASE], min_new_tokens=200)
    next(quitter)  # decoding, alone
    assert holds.held[0].wait(WAIT_S)
    got: dict = {}
    threads = [_run(lambda n=n: _answer(gen, PROMPTS[1], n, 20)[0], got, n) for n in ("a", "b")]
    assert gen.wait_for(lambda: gen.rows_waiting == 2, WAIT_S)
    holds.release[0].set()
    assert holds.held[1].wait(WAIT_S)  # three rows decoding together, each two steps in
    [job] = {r.job for r in gen._loop.batch.rows if r.name == BASE}
    closer = threading.Thread(target=quitter.close, daemon=True)  # returns once its row is out of the batch
    closer.start()
    assert job.cancelled.wait(WAIT_S)
    holds.release[1].set()
    _join([closer, *threads])
    assert got == alone
    assert job.rows[0].steps < 200  # it left early
    assert gen.wait_for(lambda: gen.rows_decoding == 0, WAIT_S)


def test_rows_beyond_max_rows_wait_for_a_place_and_get_their_solo_answers(scrambled_lm):
    gen = Generator(scrambled_lm(("a", TARGETS), ("b", TARGETS)), max_rows=2)
    calls = [(PROMPTS[i % 3], n, 16) for i, n in enumerate(("a", "b", BASE, "a", "b"))]
    alone = [_answer(gen, *c)[0] for c in calls]
    got: dict = {}
    with gen.lock:  # all five queue before any step runs
        threads = [_run(lambda c=c: _answer(gen, *c), got, i) for i, c in enumerate(calls)]
        assert gen.wait_for(lambda: gen.rows_waiting == 5, WAIT_S)
    _join(threads)
    assert [got[i][0] for i in range(5)] == alone
    assert max(got[i][1].batch_rows for i in range(5)) == 2  # never more than max_rows, and they did share


def test_a_batch_call_and_a_stream_share_steps_and_match_their_solo_answers(scrambled_lm):
    """generate_batch (the scorecard's call) and a shopper's stream decode in one batch."""
    gen = Generator(scrambled_lm(("a", TARGETS), ("b", TARGETS)))
    names = [BASE, "a", "b"]
    batch_alone = gen.generate_batch(PROMPTS, 16, adapter_names=names)
    stream_alone = _answer(gen, PROMPTS[0], "b", 16)
    got: dict = {}
    with gen.lock:
        threads = [_run(lambda: gen.generate_batch(PROMPTS, 16, adapter_names=names), got, "batch"),
                   _run(lambda: _answer(gen, PROMPTS[0], "b", 16), got, "stream")]
        assert gen.wait_for(lambda: gen.rows_waiting == 4, WAIT_S)
    _join(threads)
    assert got["batch"] == batch_alone and got["stream"][0] == stream_alone[0]
    assert got["stream"][1].batch_rows == 4


def test_a_plain_model_without_adapters_batches_concurrent_callers_too(scrambled_lm):
    gen = Generator(scrambled_lm())
    calls = [(m, None, new) for m, new in zip(PROMPTS, (10, 13, 16))]  # lengths too: this model barely reads
    alone = [_answer(gen, *c)[0] for c in calls]
    assert len(set(alone)) == len(alone)
    got: dict = {}
    with gen.lock:
        threads = [_run(lambda c=c: _answer(gen, *c), got, i) for i, c in enumerate(calls)]
        assert gen.wait_for(lambda: gen.rows_waiting == 3, WAIT_S)
    _join(threads)
    assert [got[i][0] for i in range(3)] == alone
    assert all(got[i][1].batch_rows == 3 for i in range(3))
    assert set(gen.engine_steps) <= {"model", "lean"}  # no peft in sight


# int8 steps: a row's products give it the same numbers in any batch, also in this fp32 model (fp32 F.linear
# sums a row differently with the number of rows; bf16's, as the real model runs, does not)
@pytest.mark.parametrize("other", ["a", "b"])  # the shopper's adapter: the batch's own, or another
def test_rows_sharing_a_prompt_prefix_get_the_same_numbers_whoever_decodes_beside_them(scrambled_lm, monkeypatch,
                                                                                       other):
    """A batch call whose prompts share a long prefix (prefilled once, each row's rest left-padded after it)
    gives every row the same logits, step for step, alone and joined to a shopper mid-answer with a longer
    prompt (the batch's rows are then padded further left): a scorecard's answers do not depend on who else
    was decoding. Without drafts: a step's logits are read where the plain loop picks (drafted answers are
    held to the plain loop's in tests/onbrand/test_decode_drafts.py)."""
    gen = Generator(scrambled_lm(("a", TARGETS), ("b", TARGETS)), int8_rows=64, draft_rows=0)
    # > min_shared_prefix tokens, and > 512 columns: the CPU's flash attention sums in blocks of 512
    system = {"role": "system", "content": "You answer for a shop. " * 24}
    batch = [[system, {"role": "user", "content": q}] for q in ("hi", "what does the quokka dome cost today?")]
    seen: dict = {}
    real = generation._Batch.pick

    def pick(self, g, logits, finished):
        for row, row_logits in zip(self.rows, logits):
            seen.setdefault((tuple(row.prompt.tolist()), row.name), []).append(row_logits.clone())
        return real(self, g, logits, finished)

    monkeypatch.setattr(generation._Batch, "pick", pick)
    alone_text = gen.generate_batch(batch, 12, adapter_names=["a", "a"])
    assert gen.engine_steps["shared_prefix"] == 1
    alone, seen = seen, {}

    holds = _Holds(gen, monkeypatch, lambda b: b.rows[0].steps >= 3)
    got: dict = {}
    long_question = [{"role": "user", "content": "what does the quokka dome cost? " * 25}]  # a wider cache
    shopper = _run(lambda: _answer(gen, long_question, other, 30, 30), got, "shopper")
    assert holds.held[0].wait(WAIT_S)
    caller = _run(lambda: gen.generate_batch(batch, 12, adapter_names=["a", "a"]), got, "batch")
    assert gen.wait_for(lambda: gen.rows_waiting == 2, WAIT_S)
    holds.release[0].set()
    _join([shopper, caller])
    assert got["batch"] == alone_text and got["shopper"][1].batch_rows == 3
    assert alone.keys() <= seen.keys()
    for key, steps in alone.items():
        assert len(seen[key]) == len(steps) > 1
        assert all(torch.equal(a, b) for a, b in zip(steps, seen[key])), "a row's numbers changed beside others"
