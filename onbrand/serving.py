"""One assistant, many browser sessions: a bounded queue in front of the (serialised) generator.

    server = Server(assistant, max_waiting=4)        # once per process (the app: st.cache_resource)
    reply = server.ask("how much is the trailform 28?", adapter="fernhollow")
    for piece in reply.stream: ...                   # Busy (from ask or the first piece) when the queue is full

The generator already serialises generation with its lock; without a bound, every extra browser tab
would wait behind it for minutes. Here a request is admitted while it is prepared (retrieval, and
attaching an adapter not loaded yet, which waits for the generator lock) and again while its stream
runs; at most 1 + max_waiting are admitted, and the next one gets `Busy` at once instead of a silent
wait. The adapter is an argument of each request, never server state.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator, TypeVar

from corpus.errors import UserError
from onbrand.assistant import DEFAULT, Assistant, Reply, SideBySide

BUSY_MESSAGE = "The assistant is busy answering other questions; try again in a moment."
DEFAULT_MAX_WAITING = 4  # four questions queued behind the one generating: ~1 minute of waiting on 2 CPU cores

T = TypeVar("T")


class Busy(UserError):
    def __init__(self, message: str = BUSY_MESSAGE):
        super().__init__(message)


class Server:
    def __init__(self, assistant: Assistant, max_waiting: int = DEFAULT_MAX_WAITING):
        if max_waiting < 0:
            raise ValueError(f"max_waiting must be at least 0, got {max_waiting}")
        self.assistant = assistant
        self.max_waiting = max_waiting
        self._slots = threading.BoundedSemaphore(max_waiting + 1)  # one generating + max_waiting queued
        self._count = 0
        self._count_lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        """Requests admitted now: the one generating plus those waiting for the generator."""
        return self._count

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Admit one request for the duration of the block, or raise Busy when the queue is full."""
        if not self._slots.acquire(blocking=False):
            raise Busy()
        with self._count_lock:
            self._count += 1
        try:
            yield
        finally:
            with self._count_lock:
                self._count -= 1
            self._slots.release()

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

    def answer(self, question: str, adapter: str | None = DEFAULT, **kwargs) -> Reply:
        reply = self.ask(question, adapter=adapter, **kwargs)
        for _ in reply.stream:
            pass
        return reply
