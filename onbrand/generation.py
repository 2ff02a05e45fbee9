"""Token-by-token generation from chat messages, serialised by a lock (one model, many callers).

    gen = Generator(loaded_model)
    for piece in gen.stream(messages, max_new_tokens=200):
        print(piece, end="")
    gen.last_stats  # prompt tokens, new tokens, time to first token, decode tokens/s
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer
from transformers.generation.streamers import BaseStreamer

from onbrand.model import LoadedModel


@dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int
    new_tokens: int
    ttft_s: float  # prompt in -> first token out
    total_s: float

    @property
    def decode_tokens_per_s(self) -> float:
        decode_s = self.total_s - self.ttft_s
        return (self.new_tokens - 1) / decode_s if self.new_tokens > 1 and decode_s > 0 else 0.0


class _Cancelled(StoppingCriteria):
    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs) -> bool:
        return self.event.is_set()


def _common_prefix(rows: list[torch.Tensor]) -> int:
    """Length of the token prefix all rows share, leaving every row at least one token of its own."""
    n = min(len(r) for r in rows) - 1
    first = rows[0][:n]
    for r in rows[1:]:
        diff = (r[:n] != first).nonzero()
        n = int(diff[0]) if len(diff) else n
        first = first[:n]
    return max(0, n)


class Generator:
    min_shared_prefix = 64  # tokens; shorter shared prefixes are not worth a separate forward pass

    def __init__(self, lm: LoadedModel, repetition_penalty: float = 1.1):
        self.lm = lm
        self.repetition_penalty = repetition_penalty  # a 135M model loops without a light penalty
        self.lock = threading.Lock()
        self.last_stats: GenerationStats | None = None

    def encode(self, messages: list[dict]) -> torch.Tensor:
        enc = self.lm.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                    return_tensors="pt", return_dict=True)
        return enc["input_ids"].to(self.lm.device)

    def stream(self, messages: list[dict], max_new_tokens: int = 200,
               adapter_names: list[str] | None = None,
               on_stats: Callable[[GenerationStats], None] | None = None) -> Iterator[str]:
        """Yield decoded text pieces as they are produced; greedy decoding, so answers are repeatable.

        adapter_names: peft's per-request adapter choice (e.g. ["__base__"] or ["brand@v0001"]); None for a
        plain base model. Chosen per call, never by switching the model's active adapter.
        on_stats: gets this call's GenerationStats (also kept in `last_stats`, which a concurrent caller
        may overwrite before another reads it).
        """
        input_ids = self.encode(messages)
        streamer = TextIteratorStreamer(self.lm.tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=600)
        kwargs = dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                      max_new_tokens=max_new_tokens, do_sample=False,
                      repetition_penalty=self.repetition_penalty, pad_token_id=self.lm.tokenizer.pad_token_id)
        if adapter_names is not None:
            kwargs["adapter_names"] = adapter_names

        def done(ids: torch.Tensor | None, ttft: float, total: float) -> None:
            new = int(ids.shape[1] - input_ids.shape[1]) if ids is not None else 0
            self.last_stats = GenerationStats(int(input_ids.shape[1]), new, ttft, total)
            if on_stats is not None:
                on_stats(self.last_stats)

        yield from self._streamed(kwargs, streamer, done)

    def _streamed(self, kwargs: dict, streamer, done: Callable[[torch.Tensor | None, float, float], None]
                  ) -> Iterator:
        """Run `model.generate(**kwargs)` feeding `streamer` on a worker thread while holding the lock, and
        yield what the streamer receives (empty text pieces dropped). A consumer that stops reading stops
        the generation; an error in the worker is raised here. Before the lock is released, `done` gets the
        output ids, the time to the first item and the total time."""
        cancel = threading.Event()
        kwargs = {**kwargs, "streamer": streamer, "stopping_criteria": StoppingCriteriaList([_Cancelled(cancel)])}
        out: dict = {}
        errors: list[BaseException] = []

        def run():
            try:
                with torch.inference_mode():
                    out["ids"] = self.lm.model.generate(**kwargs)
            except BaseException as e:  # surfaced to the consumer below
                errors.append(e)
            finally:
                streamer.end()  # generate() ends it too on success; a second end is a no-op for the reader

        with self.lock:
            t0 = time.perf_counter()
            first = None
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            try:
                for item in streamer:
                    if first is None:
                        first = time.perf_counter() - t0
                    if item != "":
                        yield item
            finally:
                cancel.set()  # a consumer that stops reading stops the generation too
                worker.join()
            if errors:
                raise errors[0]
            total = time.perf_counter() - t0
            done(out.get("ids"), first or total, total)

    def generate(self, messages: list[dict], max_new_tokens: int = 200,
                 adapter_names: list[str] | None = None) -> str:
        return "".join(self.stream(messages, max_new_tokens, adapter_names)).strip()

    def generate_batch(self, conversations: list[list[dict]], max_new_tokens: int = 200,
                       adapter_names: list[str] | None = None) -> list[str]:
        """Greedy answers for several conversations in one batched pass (left padding); with
        adapter_names, each row can use a different adapter (peft mixed batches). When every row uses the
        same adapter and the prompts share a long prefix (a system prompt with the brand rules), that
        prefix is computed once and its KV cache shared by the rows."""
        tok = self.lm.tokenizer
        rows = [self.encode(m)[0] for m in conversations]
        shared = 0
        if len(rows) > 1 and (adapter_names is None or len(set(adapter_names)) == 1):
            shared = _common_prefix(rows)
            shared = shared if shared >= self.min_shared_prefix else 0
        width = max(len(r) - shared for r in rows)
        ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long, device=self.lm.device)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, width - len(r) + shared:] = r[shared:]
            mask[i, width - len(r) + shared:] = 1
        with self.lock, torch.inference_mode():
            out = self._greedy_rows(ids, mask, max_new_tokens, adapter_names, prefix=rows[0][:shared])
        return [tok.decode(o, skip_special_tokens=True).strip() for o in out]

    def _eos_ids(self) -> set[int]:
        eos = self.lm.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, (list, tuple)) else [eos]
        return {int(e) for e in eos if e is not None}

    def _greedy_rows(self, ids: torch.Tensor, mask: torch.Tensor, max_new_tokens: int,
                     adapter_names: list[str] | None, prefix: torch.Tensor | None = None) -> list[list[int]]:
        """Greedy decoding with `generate`'s repetition penalty that drops each row from the batch (and
        its KV cache) as soon as it ends, so one long answer does not make every finished row keep
        paying for decoding steps. Token for token the same as `generate(do_sample=False)` (tested).

        ids/mask: left-padded prompts [rows, width], after `prefix` (tokens every row starts with, computed
        once; then every row must use the same adapter). Returns each row's new tokens, EOS excluded."""
        from transformers import DynamicCache

        model, eos = self.lm.model, self._eos_ids()
        alive = list(range(ids.shape[0]))
        names = list(adapter_names) if adapter_names is not None else None
        new: list[list[int]] = [[] for _ in alive]
        seqs = ids.clone()  # prompt + generated: what the repetition penalty looks at, as in generate()
        pos = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: each row's positions start at 0
        cache = DynamicCache()
        extra = {"adapter_names": names} if names is not None else {}
        if prefix is not None and len(prefix):
            n = ids.shape[0]
            model(input_ids=prefix[None], past_key_values=cache, use_cache=True, logits_to_keep=1,
                  **({"adapter_names": names[:1]} if names is not None else {}))
            cache.batch_repeat_interleave(n)
            mask = torch.cat([mask.new_ones((n, len(prefix))), mask], dim=1)
            seqs = torch.cat([prefix[None].expand(n, -1), seqs], dim=1)
            pos = pos + len(prefix)
        out = model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True,
                    logits_to_keep=1, **extra)
        last_pos = pos[:, -1]
        for step in range(max_new_tokens):
            logits = out.logits[:, -1, :].float()
            if self.repetition_penalty != 1.0:
                seen = torch.gather(logits, 1, seqs)
                seen = torch.where(seen < 0, seen * self.repetition_penalty, seen / self.repetition_penalty)
                logits = logits.scatter(1, seqs, seen)
            nxt = logits.argmax(-1)
            keep = []
            for j, token in enumerate(nxt.tolist()):
                if token not in eos:
                    new[alive[j]].append(token)
                    keep.append(j)
            if not keep or step == max_new_tokens - 1:
                break
            if len(keep) < len(alive):
                index = torch.tensor(keep, device=ids.device)
                cache.batch_select_indices(index)
                alive, nxt = [alive[j] for j in keep], nxt[index]
                mask, seqs, last_pos = mask[index], seqs[index], last_pos[index]
                if names is not None:
                    names = [names[j] for j in keep]
                    extra = {"adapter_names": names}
            last_pos = last_pos + 1
            mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1)
            seqs = torch.cat([seqs, nxt[:, None]], dim=1)
            out = model(input_ids=nxt[:, None], attention_mask=mask, position_ids=last_pos[:, None],
                        past_key_values=cache, use_cache=True, **extra)
        return new

    def stream_batch(self, conversations: list[list[dict]], max_new_tokens: int = 200,
                     adapter_names: list[str] | None = None,
                     on_stats: Callable[["BatchStats"], None] | None = None) -> Iterator[tuple[int, str]]:
        """generate_batch, streamed: yield (row, text piece) as each step's tokens arrive, in one batched
        pass (left padding; with adapter_names each row picks its adapter). Rows end at their own EOS;
        joining a row's pieces gives generate_batch's text for it. on_stats gets the pass's BatchStats."""
        tok = self.lm.tokenizer
        rows = [self.encode(m)[0] for m in conversations]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long, device=self.lm.device)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, width - len(r):] = r
            mask[i, width - len(r):] = 1
        streamer = _RowStreamer(tok, len(rows), self.lm.model.generation_config.eos_token_id)
        kwargs = dict(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                      repetition_penalty=self.repetition_penalty, pad_token_id=tok.pad_token_id)
        if adapter_names is not None:
            kwargs["adapter_names"] = adapter_names

        def done(_ids, ttft: float, total: float) -> None:
            if on_stats is not None:
                on_stats(BatchStats(width, tuple(len(r) for r in streamer.ids), streamer.steps, ttft, total))

        yield from self._streamed(kwargs, streamer, done)


@dataclass(frozen=True)
class BatchStats:
    prompt_tokens: int  # the padded prompt width
    new_tokens: tuple[int, ...]  # per row, up to and excluding its EOS
    steps: int  # decode steps the pass ran: the longest row's length (+1 for its EOS)
    ttft_s: float
    total_s: float


class _RowStreamer(BaseStreamer):
    """Receives a batch of token ids per generation step and queues (row, new text) per row.

    TextIteratorStreamer refuses batch > 1. Each row's text is re-decoded from its ids each step and
    only the new suffix is sent; a row stops at its first EOS (later steps pad it)."""

    def __init__(self, tokenizer, n_rows: int, eos_token_id, timeout: float = 600):
        self.tokenizer = tokenizer
        eos = eos_token_id if isinstance(eos_token_id, (list, tuple)) else [eos_token_id]
        self.eos = {int(e) for e in eos if e is not None}
        self.ids: list[list[int]] = [[] for _ in range(n_rows)]
        self.sent = [""] * n_rows
        self.done = [False] * n_rows
        self.steps = 0
        self.timeout = timeout
        self._prompt_seen = False
        self._queue: queue.Queue = queue.Queue()

    def put(self, value):
        if not self._prompt_seen:  # generate() first puts the prompt
            self._prompt_seen = True
            return
        self.steps += 1
        for row, token in enumerate(value.reshape(len(self.ids), -1)[:, -1].tolist()):
            if self.done[row]:
                continue
            if token in self.eos:
                self.done[row] = True
                continue
            self.ids[row].append(token)
            text = self.tokenizer.decode(self.ids[row], skip_special_tokens=True)
            if text.endswith("\ufffd"):  # half a multi-byte character: wait for the rest
                continue
            new, self.sent[row] = text[len(self.sent[row]):], text
            if new:
                self._queue.put((row, new))

    def end(self):
        self._queue.put(None)

    def __iter__(self):
        while (item := self._queue.get(timeout=self.timeout)) is not None:
            yield item
