"""Serving many sessions from one model: per-request adapters under concurrency, the bounded queue's
Busy answer, and side by side as one batched pass over one retrieved context."""

from __future__ import annotations

import faulthandler
import threading
import time

import pytest

from core.config import Settings
from core.generation import Generator
from core.model import load_base_model
from onbrand.assistant import Assistant, QuestionError
from onbrand.serving import BUSY_MESSAGE, Busy, Server
from rag.index_store import load_index
from tuning.dataset import Example, write_dataset
from tuning.loading import BASE
from tuning.registry import Registry
from tuning.train import TrainConfig, run_training

CFG = TrainConfig(max_steps=60, batch_size=2, learning_rate=5e-2, lora_rank=4, warmup_steps=2, eval_every=60,
                  max_eval_examples=2, target_modules=("q_proj", "v_proj", "o_proj", "down_proj"), lora_dropout=0.0)
QUESTIONS = ["how much is the dome?", "is the stove in stock?"]
WAIT_S = 120  # the most any wait here may take; the tiny model answers in well under a second
TEST_LIMIT_S = 600  # a test still running after this is stuck: its threads' stacks are dumped and the run ends


@pytest.fixture(autouse=True)
def watchdog():
    """Last resort against a deadlock: never let one of these tests hang the suite."""
    faulthandler.dump_traceback_later(TEST_LIMIT_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def _join_all(threads: list[threading.Thread], timeout: float = WAIT_S) -> None:
    """Join every thread against one shared deadline; fail (not hang) if any is still running."""
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"{len(stuck)} of {len(threads)} requests still running after {timeout} s (deadlock?)"


def _bounded(fn, timeout: float = WAIT_S):
    """fn() in a daemon thread: its result or its exception, or a failure if it takes over `timeout` s."""
    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # re-raised in the caller's thread
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    _join_all([t], timeout)
    if "error" in out:
        raise out["error"]
    return out["value"]


def _lm(tiny_lm_dir, cache, monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    return load_base_model(str(tiny_lm_dir), cache, device="cpu")


@pytest.fixture(scope="module")
def two_adapters(tiny_lm_dir, tmp_path_factory, tiny_kit):
    """A registry with two tiny adapters trained on different targets: quokka and wombat, promoted."""
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("serving")
    reg = Registry(tmp / "adapters")
    for name, seed, target in [("quokka", 1, "The Quokka Dome 2 Tent."), ("wombat", 2, "Wombat wombat wombat!")]:
        rows = [[{"role": "user", "content": q}, {"role": "assistant", "content": target}] for q in QUESTIONS]
        ds = tmp / f"{name}.jsonl"
        write_dataset([Example(f"e{i}", "train", "x", "t", m[0]["content"], (), False, tuple(m))
                       for i, m in enumerate(rows)], ds)
        run_training(lm=_lm(tiny_lm_dir, tmp / "cache", mp), dataset_path=ds, registry=reg, name=name,
                     cfg=CFG.__class__(**{**CFG.__dict__, "seed": seed}), kit_sha256=tiny_kit.sha256,
                     show_progress_bar=False)
        reg.promote(name, "v0001", force=True, reason="test")
    mp.undo()
    return reg


@pytest.fixture()
def server(two_adapters, tiny_index, tiny_kit, embedder, tiny_lm_dir, tmp_path, monkeypatch):
    root, name, _ = tiny_index
    gen = Generator(_lm(tiny_lm_dir, tmp_path / "cache", monkeypatch))
    a = Assistant(Settings(home=tmp_path, index_name=name, max_new_tokens=12), load_index(root, name, embedder.info),
                  embedder, gen, tiny_kit, two_adapters)
    a.default_adapter = a.load_adapter("quokka")
    a.load_adapter("wombat")
    return Server(a, max_waiting=32)  # room for every request of the concurrency test


CHOICES = [None, "quokka@v0001", "wombat@v0001"]


def test_concurrent_sessions_with_different_adapters_get_their_own_answers(server):
    alone = {(q, c): server.answer(q, adapter=c).text for q in QUESTIONS for c in CHOICES}
    for q in QUESTIONS:  # the answers differ by adapter, so a swapped answer would be caught
        assert len({alone[(q, c)] for c in CHOICES}) == len(CHOICES), alone
    pair_alone = {q: server.assistant.side_by_side(q, adapter="wombat@v0001") for q in QUESTIONS}
    for p in pair_alone.values():
        list(p.stream)
    requests = [(q, c) for q in QUESTIONS for c in CHOICES] * 3 + [(q, "pair") for q in QUESTIONS] * 2
    start = threading.Barrier(len(requests), timeout=WAIT_S)
    got: dict[int, object] = {}
    errors = []

    def session(i, q, c):
        try:
            start.wait()
            if c == "pair":
                pair = server.side_by_side(q, adapter="wombat@v0001")
                list(pair.stream)
                got[i] = (pair.adapter, tuple(pair.texts))
            else:
                reply = server.answer(q, adapter=c)
                got[i] = (reply.adapter, reply.text)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=session, args=(i, q, c), daemon=True) for i, (q, c) in enumerate(requests)]
    [t.start() for t in threads]
    _join_all(threads)
    assert not errors
    assert len(got) == len(requests)
    for i, (q, c) in enumerate(requests):
        if c == "pair":
            assert got[i] == ("wombat@v0001", tuple(pair_alone[q].texts))
        else:
            assert got[i] == (c, alone[(q, c)])
    # no request changed what the process serves by default
    assert server.assistant.default_adapter == "quokka@v0001"
    assert server.answer(QUESTIONS[0]).text == alone[(QUESTIONS[0], "quokka@v0001")]
    assert server.in_flight == 0


def test_a_full_queue_answers_busy_at_once_and_frees_up(server):
    server = Server(server.assistant, max_waiting=1, max_batch=1)
    lock = server.assistant.generator.lock
    lock.acquire()  # the decoding loop is held between two steps: no admitted request can finish
    results, errors = [], []

    def ask():
        try:
            results.append(server.answer(QUESTIONS[0], adapter=None).text)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    waiting = [threading.Thread(target=ask, daemon=True) for _ in range(2)]
    try:
        for t in waiting:
            t.start()
        assert server.wait_in_flight(2, WAIT_S)  # one in the batch (max_batch=1) + max_waiting=1 waiting
        # a third request is refused, whether it names the base, an adapter key or an adapter by name
        for call in (lambda: next(server.ask(QUESTIONS[1], adapter=None).stream),
                     lambda: next(server.side_by_side(QUESTIONS[1], adapter="quokka@v0001").stream),
                     lambda: next(server.ask(QUESTIONS[1], adapter="wombat").stream)):
            with pytest.raises(Busy, match="busy answering other questions"):
                _bounded(call)
            # refused at once, not after a wait: the loop is still held, so nothing ahead of it has finished
            assert lock.locked() and server.in_flight == 2 and not results
        assert server.in_flight == 2  # a refused request leaves no place taken
    finally:
        lock.release()
    _join_all(waiting)
    assert not errors and len(results) == 2
    assert server.wait_in_flight(0, WAIT_S)
    assert server.answer(QUESTIONS[1], adapter=None).stats.new_tokens  # admitted again once the queue drained
    assert str(Busy()) == BUSY_MESSAGE


def test_requests_beyond_the_batch_wait_for_a_place_and_then_join(server):
    """max_batch=2: a third request waits (admitted, not refused) and generates once a place frees up."""
    server = Server(server.assistant, max_waiting=1, max_batch=2)
    gen = server.assistant.generator
    alone = {c: server.answer(QUESTIONS[0], adapter=c).text for c in CHOICES}
    got, errors = {}, []

    def ask(c):
        try:
            got[c] = server.answer(QUESTIONS[0], adapter=c).text
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=ask, args=(c,), daemon=True) for c in CHOICES]
    with gen.lock:  # hold the loop so that all three are admitted before any answer ends
        for t in threads:
            t.start()
        assert server.wait_in_flight(3, WAIT_S)
        assert gen.wait_for(lambda: gen.rows_waiting == 2, WAIT_S)  # two places: the third waits in the server
        with pytest.raises(Busy):  # 2 in the batch + 1 waiting: full
            _bounded(lambda: next(server.ask(QUESTIONS[1], adapter=None).stream))
    _join_all(threads)
    assert not errors and got == alone


def test_an_abandoned_stream_gives_its_place_back(server):
    server = Server(server.assistant, max_waiting=0)
    reply = server.ask(QUESTIONS[0], adapter=None)
    _bounded(lambda: next(reply.stream))
    assert server.in_flight == 1
    _bounded(reply.stream.close)  # stops the generation thread and frees the generator lock
    assert server.in_flight == 0
    assert not server.assistant.generator.lock.locked()
    assert _bounded(lambda: server.answer(QUESTIONS[0], adapter=None)).stats.new_tokens


def test_a_loaded_adapter_named_without_its_version_does_not_wait_for_the_generator(server):
    a = server.assistant
    with a.generator.lock:  # a long generation in progress
        assert _bounded(lambda: a.resolve_adapter("wombat"), timeout=10) == "wombat@v0001"


def test_side_by_side_is_one_batched_pass_over_one_retrieved_context(server, monkeypatch):
    a = server.assistant
    calls = []
    real = a.generator.stream_batch

    def spy(conversations, max_new_tokens, adapter_names=None, on_stats=None):
        calls.append((conversations, adapter_names))
        return real(conversations, max_new_tokens, adapter_names=adapter_names, on_stats=on_stats)

    monkeypatch.setattr(a.generator, "stream_batch", spy)
    pair = server.side_by_side(QUESTIONS[0], adapter="wombat")
    pieces = {0: [], 1: []}
    for row, piece in pair.stream:
        pieces[row].append(piece)
    [(conversations, names)] = calls  # one pass ...
    assert names == [BASE, "wombat@v0001"]  # ... base and adapter rows ...
    assert conversations[0] is conversations[1] is pair.messages  # ... over the identical prompt
    assert pair.sources and pair.adapter == "wombat@v0001"
    assert pair.texts == ["".join(pieces[0]).strip(), "".join(pieces[1]).strip()]
    # the streamed columns are what the non-streamed mixed batch produces
    assert pair.texts == a.answer_batch([pair.messages, pair.messages], [None, "wombat@v0001"])
    assert pair.texts[0] != pair.texts[1]
    assert pair.stats.steps >= max(pair.stats.new_tokens) and pair.stats.total_s > 0


def test_side_by_side_needs_an_adapter(server):
    with pytest.raises(QuestionError, match="choose an adapter"):
        server.side_by_side(QUESTIONS[0], adapter=None)


def test_the_bench_section_times_side_by_side_against_a_single_answer(server):
    from onbrand.bench import side_by_side_figures

    fig = side_by_side_figures(server.assistant, QUESTIONS[0], runs=2, max_new_tokens=8)
    assert fig["adapter"] == "quokka@v0001" and fig["runs"] == 2 and fig["max_new_tokens"] == 8
    for key in ("single_adapter_s_median", "single_base_s_median", "side_by_side_s_median",
                "ratio_vs_single_adapter", "ratio_per_step", "single_adapter_ms_per_step", "side_by_side_ms_per_step"):
        assert fig[key] > 0, key
    assert 1 <= fig["side_by_side_steps"] <= 8 and len(fig["side_by_side_new_tokens"]) == 2
    # the reported seconds are rounded to ms, so the ratio of the rounded figures only approximates it
    assert fig["ratio_vs_single_adapter"] == pytest.approx(fig["side_by_side_s_median"] / fig["single_adapter_s_median"],
                                                           rel=0.1)
