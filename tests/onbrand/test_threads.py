"""A thread that waits on the decoding loop first ends its OpenMP worker pool (core/threads.py): libgomp puts
the loop's workers to sleep between parallel operations while the process holds more workers than CPUs.
Waits here are on the threads' state; WAIT_S only turns a hang into a failure."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import torch

from core import generation
from core.generation import Generator
from core.threads import release_pools

WAIT_S = 30
TASKS = Path(f"/proc/{os.getpid()}/task")

needs_pool = pytest.mark.skipif(not TASKS.is_dir() or torch.get_num_threads() < 2,
                                reason="counts the process's threads in /proc; a pool needs 2 or more threads")


def _tids() -> set[int]:
    return {int(p.name) for p in TASKS.iterdir()}


def _make_pool() -> set[int]:
    """A parallel operation in this thread (4M elements, far above torch's grain size); the threads it added:
    this thread's OpenMP workers."""
    before = _tids()
    torch.empty(1 << 22).fill_(1.0)
    return _tids() - before


def _in_thread(fn):
    out = {}

    def target():
        try:
            out["result"] = fn()
        except BaseException as e:  # reported by the test
            out["result"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(WAIT_S)
    assert not t.is_alive()
    if isinstance(out["result"], BaseException):
        raise out["result"]
    return out["result"]


def _gone(tids: set[int]) -> bool:
    deadline = time.monotonic() + WAIT_S
    while tids & _tids():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)  # polling the threads' state, not a fixed wait
    return True


@needs_pool
def test_release_pools_ends_the_calling_threads_openmp_workers_and_the_next_parallel_op_starts_new_ones():
    def run():
        workers = _make_pool()
        assert workers, "the parallel operation started no OpenMP worker"
        release_pools()
        ended = _gone(workers)
        again = _make_pool()  # a new pool: parallel operations still run on the configured threads
        release_pools()
        return ended, again

    ended, again = _in_thread(run)
    assert ended, "the thread's OpenMP workers outlived release_pools()"
    assert again


@needs_pool
def test_a_caller_with_a_pool_ends_it_before_its_job_decodes(scrambled_lm, monkeypatch):
    gen = Generator(scrambled_lm())
    seen = {}
    real = gen._loop._decode

    def decode(batch, finished):  # the loop's first step of the caller's job: are the caller's workers gone?
        if "alive" not in seen:  # a released worker exits just after its pool ends: wait for that, bounded
            seen["alive"] = not _gone(seen["workers"]) if gen.end_caller_pools else bool(seen["workers"] & _tids())
        return real(batch, finished)

    monkeypatch.setattr(gen._loop, "_decode", decode)

    def ask(end_pools: bool):
        gen.end_caller_pools = end_pools
        seen.clear()
        seen["workers"] = _make_pool()
        assert seen["workers"]
        gen.generate([{"role": "user", "content": "hi"}], 4)
        release_pools()
        return seen["alive"]

    assert _in_thread(lambda: ask(True)) is False
    # without it the caller's workers live on while the loop decodes (what the release is for)
    assert _in_thread(lambda: ask(False)) is True


def test_release_pools_in_a_thread_without_a_pool_does_nothing():
    assert _in_thread(release_pools) is None
    assert generation.release_pools is release_pools  # the generator calls this one
