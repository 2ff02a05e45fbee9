"""One assistant, many browser sessions: a bounded queue in front of the generator's shared decoding loop.

    server = Server(assistant, max_waiting=4)        # once per process (the app: st.cache_resource)
    reply = server.ask("how much is the trailform 28?", adapter="fernhollow")
    for piece in reply.stream: ...                   # Busy (from ask or the first piece) when the queue is full

Up to `max_batch` requests generate at once: each joins the generator's running batch at its next step
(core/generation.py), with its own adapter, and leaves it when its answer ends. Requests beyond that
wait here, up to `max_waiting` of them; the next one gets `Busy` at once instead of a silent wait. A
request holds its place while it is prepared (retrieval, and attaching an adapter not loaded yet, which
waits for the generator between two steps) and again while its stream runs. The adapter is an argument
of each request, never server state.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator, TypeVar

from core.errors import UserError
from onbrand.assistant import DEFAULT, Assistant, Reply, SideBySide
from rag.answer import Answer

BUSY_MESSAGE = "The assistant is busy answering other questions; try again in a moment."
DEFAULT_MAX_BATCH = 8  # shoppers decoding in one batch; 8 rows cost ~2x one row a step on 2 cores (onbrand bench)
DEFAULT_MAX_WAITING = 4  # questions waiting for a place in the batch: about one answer's time on 2 CPU cores

T = TypeVar("T")


class Busy(UserError):
    def __init__(self, message: str = BUSY_MESSAGE):
        super().__init__(message)


class Server:
    def __init__(self, assistant: Assistant, max_waiting: int = DEFAULT_MAX_WAITING,
                 max_batch: int = DEFAULT_MAX_BATCH):
        if max_waiting < 0:
            raise ValueError(f"max_waiting must be at least 0, got {max_waiting}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.assistant = assistant
        self.max_waiting = max_waiting
        self.max_batch = max_batch
        self._admitted = threading.BoundedSemaphore(max_batch + max_waiting)  # generating + waiting
        self._batch = threading.BoundedSemaphore(max_batch)  # places in the running batch
        self._count = 0
        self._changed = threading.Condition()

    @property
    def in_flight(self) -> int:
        """Requests admitted now: those generating (or being prepared) plus those waiting for a place."""
        return self._count

    def wait_in_flight(self, n: int, timeout: float | None = None) -> bool:
        """Block until exactly `n` requests are admitted; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._count == n, timeout)

    def _add(self, delta: int) -> None:
        with self._changed:
            self._count += delta
            self._changed.notify_all()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Admit one request for the duration of the block, or raise Busy when the queue is full; the block
        starts once the request has a place in the batch."""
        if not self._admitted.acquire(blocking=False):
            raise Busy()
        self._add(1)
        try:
            with self._batch:
                yield
        finally:
            self._add(-1)
            self._admitted.release()

    def _guarded(self, stream: Iterator[T]) -> Iterator[T]:
        with self.slot():  # entered at the first next(): a stream never read takes no place
            yield from stream

    def ask(self, question: str, adapter: str | None = DEFAULT, **kwargs) -> Reply:
        """Assistant.ask with a bounded wait: Busy (here or at the stream's first piece) when the queue is full."""
        with self.slot():
            reply = self.assistant.ask(question, adapter=adapter, **kwargs)
        reply.stream = self._guarded(reply.stream)
        return reply

    def side_by_side(self, question: str, adapter: str | None = DEFAULT, **kwargs) -> SideBySide:
        """Assistant.side_by_side with a bounded wait: Busy (here or at the stream's first piece) when full."""
        with self.slot():
            pair = self.assistant.side_by_side(question, adapter=adapter, **kwargs)
        pair.stream = self._guarded(pair.stream)
        return pair

    def answer(self, question: str, adapter: str | None = DEFAULT, **kwargs) -> Answer:
        """`ask`, run to the end: the frozen Answer."""
        reply = self.ask(question, adapter=adapter, **kwargs)
        for _ in reply.stream:
            pass
        return reply.answer
