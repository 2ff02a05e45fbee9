"""Drafts of an answer's next tokens, for the decoding loop to verify in one step (speculative decoding).

A merchant's adapter answers in a few shapes ("The X is [[price]], and it is [[stock]]. ..."): after the same
three tokens the same next ones follow again and again. `DraftTable` keeps, per adapter, each run of three
tokens seen in its answers and the token that most often came next, learnt from every answer the loop ends and
seeded from an adapter's training answers where they are at hand. A draft is the chain of those most frequent
next tokens from the answer's last three. The loop (core/generation.py) feeds a row's drafted tokens as extra
rows of one step and keeps the prefix its own greedy choices agree with, so a draft changes how fast an answer
comes, never which answer.

Where the table has nothing to say (the bare base's answers are too varied for it), `PromptLookup` drafts from
the row's own tokens instead (prompt lookup, as in vLLM's n-gram speculator): a RAG answer copies names, prices
and phrases from the catalog records in its prompt, so after the last three (or two) tokens come the tokens that
followed their latest earlier occurrence in the prompt and answer so far.

Hand-written: an n-gram table of a few thousand entries and a dictionary walk; nothing on PyPI drafts for an
exact greedy verifier this small.
"""

from __future__ import annotations

import collections
import threading

ORDER = 3  # tokens of context that key the next token


class _Table:
    def __init__(self):
        self.counts: dict[tuple[int, ...], dict[int, int]] = {}
        self.best: dict[tuple[int, ...], int] = {}


class DraftTable:
    """Per adapter name (None: a model without adapters; core.lean_step.BASE: the bare base): each `ORDER`
    tokens seen in its answers and the token most often after them. Bounded: at most `max_keys` contexts per
    adapter (later ones are not learnt) and `max_adapters` adapters (least recently used goes first)."""

    def __init__(self, max_keys: int = 200_000, max_adapters: int = 16):
        self.max_keys, self.max_adapters = max_keys, max_adapters
        self._tables: collections.OrderedDict[str | None, _Table] = collections.OrderedDict()
        self._lock = threading.Lock()

    def learn(self, name: str | None, tokens: list[int]) -> None:
        """Count each token of `tokens` (one answer, its end token included where it ended) after the
        `ORDER` before it."""
        with self._lock:
            table = self._tables.get(name)
            if table is None:
                table = self._tables[name] = _Table()
                while len(self._tables) > self.max_adapters:
                    self._tables.popitem(last=False)
            self._tables.move_to_end(name)
            counts, best = table.counts, table.best
            for i in range(len(tokens) - ORDER):
                key = tuple(tokens[i:i + ORDER])
                nxt = tokens[i + ORDER]
                seen = counts.get(key)
                if seen is None:
                    if len(counts) >= self.max_keys:
                        continue
                    seen = counts[key] = {}
                seen[nxt] = n = seen.get(nxt, 0) + 1
                top = best.get(key)
                if top is None or (top != nxt and n > seen[top]):
                    best[key] = nxt

    def propose(self, name: str | None, context: list[int], limit: int) -> list[int]:
        """Up to `limit` tokens likely to follow `context` (the answer so far, its prompt's last tokens before
        it): the most frequent next token after the last `ORDER`, then after those with it, and so on."""
        if limit < 1 or len(context) < ORDER:
            return []
        with self._lock:
            table = self._tables.get(name)
            if table is None:
                return []
            best = table.best
            window = list(context[-ORDER:])
            out: list[int] = []
            while len(out) < limit:
                nxt = best.get(tuple(window))
                if nxt is None:
                    break
                out.append(nxt)
                window = window[1:] + [nxt]
            return out

    def copy(self) -> "DraftTable":
        """An independent copy (what it has learnt so far; learning in one does not reach the other)."""
        other = DraftTable(self.max_keys, self.max_adapters)
        with self._lock:
            for name, table in self._tables.items():
                t = other._tables[name] = _Table()
                t.counts = {k: dict(v) for k, v in table.counts.items()}
                t.best = dict(table.best)
        return other

    def contexts(self, name: str | None) -> int:
        with self._lock:
            table = self._tables.get(name)
            return len(table.counts) if table is not None else 0


class PromptLookup:
    """Prompt lookup for one row: each run of `sizes` tokens (3, then 2) in its prompt and answer so far, and
    where it last ended. A draft is what followed the latest earlier occurrence of the sequence's last tokens.
    Indexed as the answer grows (a few dictionary writes per new token), never searched anew."""

    def __init__(self, prompt: list[int], sizes: tuple[int, ...] = (ORDER, 2)):
        self.seq = list(prompt)
        self.prompt_len = len(self.seq)
        self.sizes = sizes
        self._ends: dict[int, dict[tuple[int, ...], int]] = {n: {} for n in sizes}
        self._indexed = 0  # positions below this have been indexed as an n-gram's end

    def propose(self, answer: list[int], limit: int) -> list[int]:
        """Up to `limit` tokens likely to follow the prompt and `answer` (the row's tokens so far; each call's
        answer extends the last one's)."""
        seq = self.seq
        seq.extend(answer[len(seq) - self.prompt_len:])
        end = len(seq)
        if limit < 1:
            return []
        for n, ends in self._ends.items():
            for e in range(max(self._indexed, n), end):  # every end but the sequence's own
                ends[tuple(seq[e - n:e])] = e
        self._indexed = end
        for n in self.sizes:
            if end < n:
                continue
            at = self._ends[n].get(tuple(seq[end - n:]))
            if at is not None:
                return seq[at:at + limit]
        return []
