"""The calling thread's OpenMP worker pools, ended before it waits on the decoding loop.

torch runs its CPU operations on GNU OpenMP (libgomp) worker threads, and libgomp keeps one pool of workers for
each thread that ran a parallel operation, for as long as that thread lives. Once the process holds more such
workers than it has CPUs, libgomp stops letting idle workers spin between parallel regions (100 spins, where
it otherwise spins ~300,000) and puts them to sleep, so every parallel operation wakes its workers through the
kernel. The decoding loop's thread runs ~150 small parallel products a step, so when the thread that loaded
the model, or a shopper's thread that embedded a question, still holds a pool, decoding slows by about a third
(measured on 2 cores: 33 against 54 tokens/s, README "Speed"). `release_pools()` ends the calling thread's
pools (OpenMP 5.0's `omp_pause_resource_all`; its next parallel operation starts a new one), so that while the
loop decodes, its own pool is the only one: the generator calls it in the thread that submits a job and in its
loop's thread when the loop goes idle (another generator's loop may decode meanwhile), and the assistant in the
thread that loaded it.

Only libgomp is paused: there the call ends the calling thread's pool alone, while LLVM's and Intel's runtimes
shut down the whole runtime (every thread's workers) on a hard pause. threadpoolctl finds the loaded runtimes.
"""

from __future__ import annotations

import ctypes
import logging
import threading

log = logging.getLogger(__name__)

OMP_PAUSE_HARD = 2  # omp_pause_resource_t: libgomp frees the calling thread's pool either way

_lock = threading.Lock()
_paths: frozenset[str] | None = None
_pause: list = []


def _libgomp_pauses() -> list:
    """omp_pause_resource_all of each loaded libgomp (found again when the set of loaded runtimes changes)."""
    global _paths, _pause
    from threadpoolctl import ThreadpoolController

    gomp = [c for c in ThreadpoolController().select(internal_api="openmp").lib_controllers
            if c.prefix == "libgomp"]
    paths = frozenset(c.filepath for c in gomp)
    with _lock:
        if paths != _paths:
            pause = []
            for path in sorted(paths):
                fn = getattr(ctypes.CDLL(path), "omp_pause_resource_all", None)  # libgomp >= 9 (GCC 9)
                if fn is None:
                    log.debug("%s has no omp_pause_resource_all: its pools stay", path)
                    continue
                fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
                pause.append(fn)
            _paths, _pause = paths, pause
        return _pause


def release_pools() -> None:
    """End the calling thread's libgomp worker pools (none: nothing happens). Call it outside any parallel
    region, in a thread about to wait while another computes."""
    for pause in _libgomp_pauses():
        pause(OMP_PAUSE_HARD)
