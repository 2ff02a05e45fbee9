"""A process killed (SIGKILL) while it writes spot-check verdicts loses no committed verdict (issue 17, group
3): SQLite in WAL mode, reopened and verified by `SpotChecks.open`. A child process records verdicts and
prints each id once `record` returned; the parent kills it mid-stream, or while it holds a write with its
row inserted but not committed, then reopens the file.

    .venv/bin/python -m pytest tests/onbrand/test_faults_kill_verdict.py -q -s    # -s prints the figures
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
from dataclasses import replace

import pytest

from onbrand.spotchecks import SpotChecks

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

TRIALS = 8  # kills while the child records verdicts back to back
WAIT_S = 120  # the most the parent waits for a line from the child before failing (it writes ~100/s)

CHILD = r"""
import contextlib, sys
from onbrand.spotchecks import SpotChecks, Verdict

store = SpotChecks.open(sys.argv[1])
start, mode = int(sys.argv[2]), sys.argv[3]

def verdict(i):
    return Verdict(question=f"q{i}", retrieved_ids=("QK-TNT-01",), judged="base", base_answer=f"answer {i}",
                   adapter_answer=None, adapter=None, adapter_version=None, index_name="tiny",
                   index_version="v0001", verdict="flag" if i % 3 else "approve",
                   reason="tone" if i % 3 else None, note=f"note {i}", reviewer="kill-test")

if mode == "hold":  # the next write stops after its INSERT, before COMMIT, until it is killed
    real = store._transaction

    @contextlib.contextmanager
    def held():
        with real() as con:
            yield con
            print("holding", flush=True)
            sys.stdin.readline()

    store._transaction = held
i = start
while True:
    stored = store.record(verdict(i))
    print(f"committed {stored.id} {i}", flush=True)
    i += 1
"""


def _lines(proc):
    """The child's stdout lines, each read with a deadline (a stuck child fails the test, never hangs it)."""
    while True:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(WAIT_S)
        assert box, f"no line from the child in {WAIT_S} s"
        if not box[0]:
            err = proc.stderr.read()
            raise AssertionError(f"the child exited ({proc.wait()}): {err[-2000:]}")
        yield box[0].strip()


def _spawn(path, start: int, mode: str):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(start), mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _kill(proc) -> list[str]:
    """SIGKILL the child; returns the lines it had printed that were not read yet (the pipe holds them)."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(WAIT_S)
    rest = proc.stdout.read().splitlines()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        stream.close()
    return rest


def _check_whole(path, committed: dict[int, int]) -> dict[int, int]:
    """Reopen (schema and integrity verified) and compare with everything the child said it committed;
    returns the stored {id: i}. A row committed in the instant between COMMIT and the child's print may be
    there unannounced: at most one, and whole."""
    store = SpotChecks.open(path)
    rows = {v.id: v for v in store.verdicts()}
    stored = {vid: int(v.question[1:]) for vid, v in rows.items()}
    lost = {vid for vid in committed if vid not in stored}
    assert not lost, f"committed verdicts lost: {sorted(lost)}"
    assert all(stored[vid] == i for vid, i in committed.items())
    unannounced = set(stored) - set(committed)
    assert len(unannounced) <= 1, sorted(unannounced)
    for vid, v in rows.items():
        i = stored[vid]
        assert (v.base_answer, v.note, v.reviewer, v.verdict) == (
            f"answer {i}", f"note {i}", "kill-test", "flag" if i % 3 else "approve")
    with store._connection() as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    return stored


def test_a_killed_writer_loses_no_committed_verdict(tmp_path):
    path = tmp_path / "spot.sqlite3"
    SpotChecks.open(path)
    rng = random.Random(17)
    committed: dict[int, int] = {}
    kills = []
    for trial in range(TRIALS):
        start = 1000 * trial  # each child numbers its verdicts apart from the others
        proc = _spawn(path, start, "loop")
        lines = _lines(proc)
        want = rng.randint(1, 60)
        printed = [next(lines) for _ in range(want)]
        printed += _kill(proc)  # lands inside a record(): most of the child's time is spent writing
        for line in printed:
            m = re.fullmatch(r"committed (\d+) (\d+)", line)
            if m:  # a line cut short by the kill is no announcement
                committed[int(m[1])] = int(m[2])
        stored = _check_whole(path, committed)
        committed.update(stored)  # an unannounced row is committed too: the next trial must keep it
        kills.append(want)
    # and a kill while a write holds its row inserted but not committed: that row, and only it, is gone
    proc = _spawn(path, 100_000, "hold")
    lines = _lines(proc)
    assert next(lines) == "holding"
    _kill(proc)
    stored = _check_whole(path, committed)
    assert set(stored) == set(committed) and 100_000 not in stored.values()
    again = SpotChecks.open(path)  # the file takes writes again
    kept = again.record(replace(again.verdicts()[0], id=None, created_at=None, note="after the kills"))
    assert kept.id == max(stored) + 1
    print(f"verdict writers killed: {TRIALS + 1} (after {kills} verdicts, then mid-transaction); "
          f"verdicts committed {len(committed)}, lost 0")
