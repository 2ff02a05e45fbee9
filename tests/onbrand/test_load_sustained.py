"""Sustained load (issue 17, group 2): 8 sessions at once, for ONBRAND_LOAD_SECONDS (default 120), through
the app's serving layer: one `onbrand.serving.Server` over one `Assistant`, as app.py builds it, with room
for 5 requests (4 decoding in one batch, 1 waiting), so 8 sessions also meet a full queue and retry once
another answer has finished. Each session asks mixed questions with mixed adapters (the base, two versions
of quokka, wombat by key and by name, side by side) and records a spot-check verdict on every answer, as a
reviewer in the app does. The model is the talkative tiny LM with random adapters
(tests/conftest.py): every (question, adapter) has its own text, so a crossed answer cannot pass.

Checked: 0 crossed answers (each equals that request's answer when asked alone), 0 lost verdicts, busy
replies counted and bounded, the queue never over its bound, memory growth under 10% between the first and
the last minute (or half, for a shorter run). Printed (-s): sessions x minutes, answers, busy replies,
p50/p95 latency, peak memory.

    .venv/bin/python -m pytest -m load -s tests/onbrand/test_load_sustained.py
    ONBRAND_LOAD_SECONDS=600 .venv/bin/python -m pytest -m load -s tests/onbrand/test_load_sustained.py
"""

from __future__ import annotations

import faulthandler
import os
import random
import resource
import statistics
import threading
import time

import pytest

from core.config import Settings
from core.generation import Generator
from core.model import load_base_model
from onbrand.assistant import Assistant
from onbrand.serving import Busy, Server
from onbrand.spotchecks import SpotChecks, Verdict
from rag.index_store import load_index
from rag.answer import Answer

pytestmark = pytest.mark.load

SESSIONS = 8
MAX_BATCH, MAX_WAITING = 4, 1  # the queue holds 5 (the app's 8 + 4 would never turn 8 sessions away)
DURATION_S = float(os.environ.get("ONBRAND_LOAD_SECONDS", "120"))  # the issue asks for at least 2 minutes
SAMPLE_S = 0.5  # memory and queue samples
WAIT_S = 120  # the most any one wait may take before the test fails instead of hanging
QUESTIONS = ["how much is the dome?", "is the stove in stock?", "which tent sleeps four?",
             "does the glowworm headlamp float?", "what colours does the dome 4 come in?", "tell me about the boots"]
PAIR = "pair"  # side by side: base and wombat@v0001 in one batched pass
CHOICES = [None, "quokka@v0001", "quokka@v0002", "wombat@v0001", "wombat", "quokka", PAIR]
SERVED = {"wombat": "wombat@v0001", "quokka": "quokka@v0002"}  # names resolve to their promoted versions


def rss_bytes() -> int:
    """Resident memory of this process now (Linux /proc; psutil elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil

        return psutil.Process().memory_info().rss


@pytest.fixture()
def server(tiny_index, tiny_kit, embedder, talkative_lm_dir, distinct_registry, tmp_path, monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    root, name, _ = tiny_index
    lm = load_base_model(str(talkative_lm_dir), tmp_path / "cache", device="cpu")
    a = Assistant(Settings(home=tmp_path, index_name=name, max_new_tokens=16),
                  load_index(root, name, embedder.info), embedder, Generator(lm), tiny_kit, distinct_registry)
    a.default_adapter = a.load_adapter("quokka")
    # fewer places than sessions, so some are turned away (Busy) and retry: 4 answers decoding in one batch
    # (their rows, adapters and lengths mixed) and 1 waiting
    return Server(a, max_waiting=MAX_WAITING, max_batch=MAX_BATCH)


def _ask(server: Server, question: str, choice) -> tuple[str | None, object, Answer]:
    """One request as a session makes it: (adapter key, answer text or the pair's texts, the judged Answer)."""
    if choice == PAIR:
        pair = server.side_by_side(question, adapter="wombat@v0001")
        for _ in pair.stream:
            pass
        return pair.adapter, tuple(pair.texts), pair.answers[1]
    answer = server.answer(question, adapter=choice)
    return answer.adapter, answer.text, answer


def _verdict(session: int, n: int, key: str | None, got, answer: Answer, rng) -> Verdict:
    """A verdict on the answer as the app records it: from the Answer, with its snapshot."""
    flag = rng.random() < 0.3
    return Verdict.on(answer, judged="adapter" if key else "base", verdict="flag" if flag else "approve",
                      reason="tone" if flag else None, note=f"session {session} answer {n}",
                      reviewer=f"load-session-{session}", base_answer=got[0] if isinstance(got, tuple) else None)


def test_eight_sessions_hold_under_sustained_load(server, tmp_path):
    assert DURATION_S >= 1, "ONBRAND_LOAD_SECONDS must be at least 1"
    faulthandler.dump_traceback_later(DURATION_S + 900, exit=True)  # a deadlock ends the run, with stacks
    try:
        _run(server, SpotChecks.open(tmp_path / "spot.sqlite3"))
    finally:
        faulthandler.cancel_dump_traceback_later()


def _run(server: Server, store: SpotChecks) -> None:
    # every request alone first: the answers it must get under load, all different per question
    alone = {(q, c): _ask(server, q, c)[:2] for q in QUESTIONS for c in CHOICES}
    for q in QUESTIONS:
        singles = [alone[(q, c)][1] for c in (None, "quokka@v0001", "quokka@v0002", "wombat@v0001")]
        assert len(set(singles)) == 4 and sum(map(bool, singles)) >= 3, (q, singles)  # a crossed answer would show
        assert alone[(q, "wombat")] == alone[(q, "wombat@v0001")] and alone[(q, PAIR)][1] == (
            alone[(q, None)][1], alone[(q, "wombat@v0001")][1])  # side by side = base and wombat alone

    finished = threading.Condition()  # notified after every answer: a refused session waits on it
    completed = [0]  # answers finished so far, all sessions
    stop = threading.Event()
    lock = threading.Lock()
    results = {i: {"answers": 0, "busy": 0, "crossed": [], "latency": [], "response": [], "recorded": [],
                   "errors": []} for i in range(SESSIONS)}
    samples: list[tuple[float, int, int]] = []  # (seconds since start, rss bytes, requests in flight)
    start = threading.Barrier(SESSIONS + 1, timeout=WAIT_S)
    t0 = time.monotonic()
    deadline = t0 + DURATION_S + 1e9  # set for real once every session is ready

    capacity = server.max_batch + server.max_waiting

    def session(i: int) -> None:
        rng, out = random.Random(i), results[i]
        try:
            start.wait()
            while time.monotonic() < deadline:
                q, c = rng.choice(QUESTIONS), rng.choice(CHOICES)
                asked, answered = time.perf_counter(), False
                while not answered and time.monotonic() < deadline:  # past the deadline a refused request ends
                    began = time.perf_counter()
                    try:
                        key, got, answer = _ask(server, q, c)
                        answered = True
                    except Busy:  # "try again in a moment": once another answer has finished
                        out["busy"] += 1
                        with finished:
                            seen = completed[0]
                            assert finished.wait_for(lambda: completed[0] > seen or time.monotonic() >= deadline,
                                                     timeout=WAIT_S), "no answer finished for 120 s"
                if not answered:
                    break
                done = time.perf_counter()
                with finished:
                    completed[0] += 1
                    finished.notify_all()
                out["answers"] += 1
                out["latency"].append(done - began)  # admitted request: queue wait + retrieval + generation
                out["response"].append(done - asked)  # what the shopper waited, busy retries included
                want = SERVED.get(c, None if c is None else "wombat@v0001" if c == PAIR else c)
                if (key, got) != (want, alone[(q, c)][1]):
                    out["crossed"].append((q, c, key, got))
                stored = store.record(_verdict(i, out["answers"], key, got, answer, rng))
                out["recorded"].append((stored.id, stored.note, stored.answer))
        except BaseException as e:  # reported below
            out["errors"].append(repr(e))
            stop.set()

    def sampler() -> None:
        while not stop.is_set():
            with lock:
                samples.append((time.monotonic() - t0, rss_bytes(), server.in_flight))
            stop.wait(SAMPLE_S)

    threads = [threading.Thread(target=session, args=(i,), daemon=True, name=f"session-{i}") for i in range(SESSIONS)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    deadline = t0 + DURATION_S
    start.wait()
    watcher = threading.Thread(target=sampler, daemon=True)
    watcher.start()
    for t in threads:
        t.join(DURATION_S + WAIT_S)
    stop.set()
    watcher.join(WAIT_S)
    held_s = time.monotonic() - t0
    assert not any(t.is_alive() for t in threads), "a session is still running (deadlock?)"

    errors = [e for r in results.values() for e in r["errors"]]
    assert not errors, errors[:3]
    answers = sum(r["answers"] for r in results.values())
    busy = sum(r["busy"] for r in results.values())
    crossed = [x for r in results.values() for x in r["crossed"]]
    recorded = {vid: (note, answer) for r in results.values() for vid, note, answer in r["recorded"]}
    stored = {v.id: (v.note, v.answer) for v in store.verdicts()}
    lost = [vid for vid in recorded if stored.get(vid) != recorded[vid]]
    latency = sorted(x for r in results.values() for x in r["latency"])
    response = sorted(x for r in results.values() for x in r["response"])

    def pct(xs, p):
        return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")

    window = min(60.0, held_s / 2)
    first = [rss for t, rss, _ in samples if t < window]
    last = [rss for t, rss, _ in samples if t >= held_s - window]
    growth = statistics.mean(last) / statistics.mean(first) - 1
    peak_sampled = max(rss for _, rss, _ in samples)
    peak_process = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    print(f"\nsustained load: {SESSIONS} sessions x {held_s / 60:.2f} min; {answers} answers "
          f"({answers / held_s:.1f}/s; per session {[r['answers'] for r in results.values()]}); "
          f"crossed {len(crossed)}; verdicts recorded {len(recorded)}, lost {len(lost)}; "
          f"busy replies {busy} ({busy / max(1, answers):.2f} per answer; queue bound {capacity}, "
          f"most in flight {max(n for *_, n in samples)}); latency p50 {pct(latency, 0.5) * 1000:.0f} ms, "
          f"p95 {pct(latency, 0.95) * 1000:.0f} ms (with busy retries: p50 {pct(response, 0.5) * 1000:.0f} ms, "
          f"p95 {pct(response, 0.95) * 1000:.0f} ms); memory first {window:.0f} s "
          f"{statistics.mean(first) / 2**20:.0f} MiB, last {window:.0f} s {statistics.mean(last) / 2**20:.0f} MiB "
          f"(growth {growth * 100:+.1f}%), peak {peak_sampled / 2**20:.0f} MiB sampled, "
          f"{peak_process / 2**20:.0f} MiB process high-water mark")

    assert not crossed, crossed[:3]
    assert not lost and len(stored) == len(recorded) == answers
    assert all(r["answers"] > 0 for r in results.values())  # no session starved (and none far behind, below)
    assert max(n for *_, n in samples) <= capacity and server.in_flight == 0
    # a refused session retries once another answer has finished; each finished answer frees one place, and
    # can turn away at most the other sessions racing for it (a place is also taken back between a request's
    # retrieval and its stream, so a prepared request can still meet a full queue)
    assert busy <= (SESSIONS - 1) * answers
    assert min(r["answers"] for r in results.values()) >= statistics.mean(r["answers"] for r in results.values()) / 4
    assert len(first) >= 2 and len(last) >= 2 and growth < 0.10
