"""Greedy generation for every caller through one step-wise decoding loop.

    gen = Generator(loaded_model)
    for piece in gen.stream(messages, max_new_tokens=200):             # one answer, streamed
        print(piece, end="")
    gen.generate_batch(conversations, adapter_names=["__base__", "brand@v0001"])   # rows, each its adapter
    gen.last_stats  # prompt tokens, new tokens, time to first token, decode tokens/s

Every call is a job of one or more rows for the generator's one decoding loop (a thread, alive while there
is work). A job that arrives while others decode joins the running batch at the next step: its prompts are
prefilled on their own, one adapter's rows at a time on that adapter's weights (a prompt's system turn, such
as the brand rules, prefilled on its own and kept per adapter across requests), then its KV cache is left-padded to the batch's width
and concatenated, so each row keeps its own positions and its own mask. A row leaves the batch as soon as it
ends (EOS, its token budget, or a consumer that stopped reading). `stream`, `stream_batch`, `generate_batch` and the server's concurrent
shoppers are all this loop; for each prompt alone, its greedy tokens are those of
`model.generate(do_sample=False, repetition_penalty=...)` (tests/onbrand/test_generation.py).

Which weights a step runs on (`onbrand bench` times each; README "Speed"):
- rows that all use the bare base: a plain copy of the model sharing every tensor (no peft wrappers);
- rows that all use one adapter: a merged copy (the base's linear weights plus that adapter's LoRA delta,
  rounded once to the base dtype), built from the attached adapter, which `AdapterSet` verified against
  the registry's hashes, cached per adapter and bounded in bytes (least recently used goes first);
- rows that mix adapters (side by side, the scorecard's base + adapter batches): peft's `adapter_names`
  for the one-token steps; their prompts are still prefilled per adapter on the weights above.
With `adapter_weights="lora"` (Settings.adapter_weights) no adapter is merged: an adapter's rows are
prefilled on a plain copy whose projections add its LoRA (core/lora_rows.py `with_lora`) and step on the
base's own weights plus the LoRA product (`LoraWeights`), so the base's rows and every adapter's rows read
one set of weights a step.
One-token steps skip transformers' module machinery (core/lean_step.py): LeanStep on the weights above, or,
on a CPU for batches of up to `int8_rows` rows, Int8Step: adapter rows on int8 weight-only copies of their
merged weights (half the bytes a step reads), the bare base's rows on its own weights, every row's products
on its own weights and the whole step on core/decode_kernels.c where it runs, so a row's answer is its
answer alone.
Where a step runs on core/decode_kernels.c and the batch has room (`draft_rows`), each row's drafted next tokens
(core/drafts.py: an n-gram table of its adapter's answers, else a lookup in the row's own prompt and answer)
are verified in the same step as rows of their own on the row's cache, and the row keeps those its own greedy
choices agree with: more tokens a step, the same answers (tests/onbrand/test_decode_drafts.py).
Merged weights give the peft path's greedy tokens on the fp32 test model (tests/onbrand/test_decode_merged.py);
in bf16 a merged weight is rounded once where peft rounds the base and LoRA outputs apart, so a near-tie can
go the other way: `merge_adapters=False` keeps peft's arithmetic for every row.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import logging
import queue
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer

from core import decode_kernels as kernels
from core.config import ADAPTER_WEIGHTS
from core.drafts import ORDER, DraftTable, PromptLookup
from core.lean_step import (BASE, Int8Step, Int8Weights, LeanStep, OwnWeights, is_peft, int8_supported,
                             lean_supported)
from core.lora_rows import LoraWeights, factor_bytes, lora_factors, with_lora
from core.model import LoadedModel
from core.threads import release_pools

log = logging.getLogger(__name__)

SPARE_COLUMNS = 64  # KV cache columns allocated ahead: one copy of the cache per 64 steps, not one per step
TRIM_COLUMNS = 32  # drop left cache columns no row attends to once this many have piled up (rows that left)
IDLE_EXIT_S = 30.0  # the loop's thread waits this long for new work before it exits


@dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int
    new_tokens: int  # tokens chosen, an EOS included (as `generate` counts them)
    ttft_s: float  # request in -> first token out (waiting for a place in the batch included)
    total_s: float
    batch_rows: int = 1  # the most rows that decoded together with this one in a step (itself included)
    longest_pause_s: float = 0.0  # the longest wait between two of its tokens (others' prefills, a held loop)

    @property
    def decode_tokens_per_s(self) -> float:
        decode_s = self.total_s - self.ttft_s
        return (self.new_tokens - 1) / decode_s if self.new_tokens > 1 and decode_s > 0 else 0.0


@dataclass(frozen=True)
class BatchStats:
    prompt_tokens: int  # the longest prompt
    new_tokens: tuple[int, ...]  # per row, up to and excluding its EOS
    steps: int  # decode steps the rows ran: the longest row's length (+1 for its EOS)
    ttft_s: float
    total_s: float


class StepLock:
    """threading.Lock's interface; the decoding loop holds it for each step. Anyone else who asks for it
    (attaching an adapter changes the shared model; a test pausing the loop) gets it before the loop's next
    step, so a loop that always has work never starves them, and what they do runs between two steps."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._waiting = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        with self._cond:
            self._waiting += 1
        try:
            return self._lock.acquire(blocking, timeout)
        finally:
            with self._cond:
                self._waiting -= 1
                self._cond.notify_all()

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self) -> "StepLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """The loop's way in: after everyone already waiting."""
        with self._cond:
            self._cond.wait_for(lambda: self._waiting == 0)
        with self._lock:
            yield


# --- the KV cache of a batch whose rows come and go ------------------------------------------------------

class _View:
    """_Layer.keys / .values: the tensor assigned, or, after `advance`, a view of the buffer up to the layer's
    length, made when read."""

    def __set_name__(self, owner, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, layer, owner=None):
        if layer is None:
            return self
        if layer.__dict__.get("_stale"):
            layer._views()
        return layer.__dict__.get(self.slot)

    def __set__(self, layer, t: torch.Tensor | None) -> None:
        if layer.__dict__.get("_stale"):
            layer._views()  # the other one too, before this one is replaced
        layer.__dict__[self.slot] = t


class _Layer(DynamicLayer):
    """A DynamicLayer that writes each step into spare columns instead of concatenating (which copies the
    layer's whole cache every step), and whose contents the loop can replace when rows join or leave."""

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.device = key_states.device
        self.length = 0
        self._k = self._v = None
        self.is_initialized = True

    def set(self, keys: torch.Tensor, values: torch.Tensor, spare: int = SPARE_COLUMNS) -> None:
        """Replace the contents ([rows, heads, columns, dim]; rows and columns may change)."""
        b, h, n, d = keys.shape
        self._k = keys.new_empty((b, h, n + spare, d))
        self._v = values.new_empty((b, values.shape[1], n + spare, values.shape[3]))
        self._k[:, :, :n].copy_(keys)
        self._v[:, :, :n].copy_(values)
        self.device, self.length, self.is_initialized = keys.device, n, True
        self.keys, self.values = self._k[:, :, :n], self._v[:, :, :n]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n, t = self.length, key_states.shape[-2]
        if self._k is None:
            self.set(key_states, value_states)
        else:
            if n + t > self._k.shape[-2]:
                self.set(self.keys, self.values, spare=t + SPARE_COLUMNS)
            self._k[:, :, n:n + t].copy_(key_states)
            self._v[:, :, n:n + t].copy_(value_states)
            self.length = n + t
            self.keys, self.values = self._k[:, :, :self.length], self._v[:, :, :self.length]
        return self.keys, self.values

    def reserve(self, t: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """The whole key and value buffers, with room for `t` more columns after the first free one (its index,
        returned third), for a step that writes them itself (Int8Step's kernels), then calls `advance(t)`."""
        if self._k is None or self.length + t > self._k.shape[-2]:
            self.set(self.keys, self.values, spare=t + SPARE_COLUMNS)
        return self._k, self._v, self.length

    def retract(self, t: int) -> None:
        """Forget the last `t` columns (a draft's tokens no row kept): the next step writes over them."""
        if t:
            self.length -= t
            self._stale = True

    def advance(self, t: int) -> None:
        self.length += t
        self._stale = True  # keys / values are made again when next read (two views cost ~10 us; a step
        # advances every layer)

    keys = _View()
    values = _View()

    def _views(self) -> None:
        self._stale = False
        self.keys, self.values = self._k[:, :, :self.length], self._v[:, :, :self.length]

    def get_seq_length(self) -> int:
        return self.length if self.is_initialized else 0


class _Cache(DynamicCache):
    """One _Layer per decoder layer, added as the model first writes to it."""

    def __init__(self):
        Cache.__init__(self, layer_class_to_replicate=_Layer)

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        for layer in self.layers:
            layer.set(fn(layer.keys), fn(layer.values))

    def concat(self, other: "_Cache") -> None:
        for mine, theirs in zip(self.layers, other.layers):
            mine.set(torch.cat([mine.keys, theirs.keys]), torch.cat([mine.values, theirs.values]))

    @classmethod
    def of(cls, tensors: list[tuple[torch.Tensor, torch.Tensor]]) -> "_Cache":
        """A cache holding these (keys, values) per layer (copied)."""
        cache = cls()
        for keys, values in tensors:
            layer = _Layer()
            layer.set(keys, values)
            cache.layers.append(layer)
        return cache


def _kv_copy(cache: _Cache) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], int]:
    """A copy of each layer's keys and values, to keep across requests, and its bytes."""
    kv = [(layer.keys.clone(), layer.values.clone()) for layer in cache.layers]
    return kv, sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in kv)


class _Kept(collections.OrderedDict):
    """Keys and values kept across requests (a system turn's, a whole prompt's), as entries (the weights'
    signature, ..., bytes): at most a byte limit in all, least recently used first out, and an entry made on
    weights the model no longer has is stale."""

    def fresh(self, key: tuple, sig: tuple) -> tuple | None:
        """`key`'s entry if it was made on weights of signature `sig` (now the most recently used), else None
        (a stale one is dropped)."""
        hit = self.get(key)
        if hit is None:
            return None
        if hit[0] != sig:
            del self[key]
            return None
        self.move_to_end(key)
        return hit

    def keep(self, key: tuple, entry: tuple, limit: int) -> None:
        """Keep `entry` (its last item its bytes) within `limit` bytes in all, the least recently used dropped
        first; not kept if it alone passes the limit."""
        self.pop(key, None)
        size = entry[-1]
        if size > limit:
            return
        while self and sum(e[-1] for e in self.values()) + size > limit:
            self.popitem(last=False)
        self[key] = entry


def _last(width: int, device) -> torch.Tensor:
    """logits_to_keep for a prefill's last position, as an index: transformers then gathers the last hidden
    state into a fresh tensor. With `logits_to_keep=1` it slices a view whose batch stride is the whole
    prompt's, and torch's matmul does not fold such a [rows, 1, hidden] view into one matrix product (for a
    weight that wants no gradient, as the decoding copies' do): it copies the output head's 49k x 576 weight,
    transposed, for a bf16 batched product (~140 ms of a 0.33 s prefill here, for the same numbers: 31 of 31
    answers identical on the real model)."""
    return torch.tensor([width - 1], device=device)


def _pad_left(t: torch.Tensor, n: int, dim: int) -> torch.Tensor:
    if n == 0:
        return t
    shape = list(t.shape)
    shape[dim] = n
    return torch.cat([t.new_zeros(shape), t], dim=dim)


# --- requests and rows -----------------------------------------------------------------------------------

@dataclass(eq=False)
class _Row:
    job: "_Job"
    index: int  # row number within its job
    prompt: torch.Tensor  # this row's prompt tokens
    name: str | None  # peft adapter name (BASE: the bare base); None: a model without adapters
    prefix: int = 0  # the prompt's system turn (its first tokens), prefilled on its own (Generator.encode_row)
    tokens: list[int] = field(default_factory=list)  # new tokens, EOS excluded
    steps: int = 0  # tokens chosen, EOS included
    peak: int = 0  # most rows that decoded in one step with this row
    t_last: float | None = None  # when its last token came
    longest_pause: float = 0.0  # the longest wait between two of its tokens
    lookup: PromptLookup | None = None  # its prompt-lookup drafts (core/drafts.py), made at its first draft
    draft_source: str = "table"  # where its latest draft came from: "table" or "lookup"


class _Job:
    """One call's rows. Its consumer reads `events`: (row, token) per new token, (row, None) when a row
    ends, (None, None) once every row has left the batch, (None, exception) if the loop failed it."""

    def __init__(self, prompts: list[torch.Tensor], names: list[str] | None, max_new_tokens: int,
                 min_new_tokens: int = 0, prefixes: list[int] | None = None):
        if names is not None and len(names) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(names)} adapter names")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        prefixes = prefixes if prefixes is not None else [0] * len(prompts)
        self.rows = [_Row(self, i, p, names[i] if names is not None else None, prefixes[i])
                     for i, p in enumerate(prompts)]
        self.names = list(names) if names is not None else None
        self.max_new_tokens, self.min_new_tokens = max_new_tokens, min_new_tokens
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.cancelled = threading.Event()  # the consumer stopped reading
        self.finished = threading.Event()  # no row of this job takes another step
        self.open_rows = len(self.rows)
        self.t_submit = time.perf_counter()
        self.t_first: float | None = None
        self.t_end: float | None = None

    def token(self, row: _Row, token: int) -> None:
        now = time.perf_counter()
        if self.t_first is None:
            self.t_first = now
        if row.t_last is not None:
            row.longest_pause = max(row.longest_pause, now - row.t_last)
        row.t_last = now
        self.events.put((row.index, token))

    def end_row(self, row: _Row, finished: list["_Job"]) -> None:
        self.events.put((row.index, None))
        self.open_rows -= 1
        if self.open_rows == 0:
            self.t_end = time.perf_counter()
            finished.append(self)

    def close(self, error: BaseException | None = None) -> None:
        if self.finished.is_set():
            return
        if self.t_end is None:
            self.t_end = time.perf_counter()
        self.events.put((None, error))
        self.finished.set()

    @property
    def ttft_s(self) -> float:
        return ((self.t_first or self.t_end or time.perf_counter()) - self.t_submit)

    @property
    def total_s(self) -> float:
        return (self.t_end or time.perf_counter()) - self.t_submit


class _Batch:
    """The rows decoding together: their KV cache, which cache columns each row attends to (`valid`, left
    padding and the gaps of rows that joined later are False), the position and token each feeds next, and
    the tokens each has seen (prompt and answer, for the repetition penalty)."""

    def __init__(self, rows: list[_Row], cache: _Cache, valid: torch.Tensor, pos: torch.Tensor,
                 seen: torch.Tensor):
        self.rows, self.cache, self.valid, self.pos, self.seen = rows, cache, valid, pos, seen
        self.last: torch.Tensor | None = None  # each row's newest token, fed at the next step
        self.engine = None  # the weights this set of rows runs on; chosen again when the rows change

    @property
    def names(self) -> list[str] | None:
        if all(r.name is None for r in self.rows):
            return None
        return [r.name or BASE for r in self.rows]

    def select(self, keep: list[int]) -> None:
        index = torch.tensor(keep, device=self.valid.device)
        self.cache.apply(lambda t: t[index])
        self.valid, self.pos, self.seen = self.valid[index], self.pos[index], self.seen[index]
        self.last = self.last[index] if self.last is not None else None
        self.rows = [self.rows[j] for j in keep]
        self.engine = None
        first = int(self.valid.any(0).int().argmax())  # columns left of this were only used by rows gone
        if first >= TRIM_COLUMNS:
            self.cache.apply(lambda t: t[:, :, first:])
            self.valid = self.valid[:, first:]

    def close_gaps(self) -> None:
        """Moves each row's attended columns together at the right end, in their order (the cache's columns
        and `valid` alike; positions stay as they are). Rows that share a prompt prefix hold it left of their
        left-padded rests: across that gap a step could only attend over the batch's whole mask, which sums
        in blocks shifted by other rows' padding, so a row's numbers would depend on who it decodes with
        (and when rows joined and left); with one run of columns each row attends over its own."""
        v = self.valid
        first = v.int().argmax(-1)
        if bool((v.sum(-1) == v.shape[1] - first).all()):
            return
        order = torch.sort(v.to(torch.uint8), dim=1, stable=True).indices  # padding first, then the row's own
        self.cache.apply(lambda t: t.gather(2, order[:, None, :, None].expand(-1, t.shape[1], -1, t.shape[3])))
        self.valid = v.gather(1, order)

    def join(self, other: "_Batch") -> "_Batch":
        """Rows of `other` decode with these from the next step: caches right-aligned, then stacked."""
        width = max(self.valid.shape[1], other.valid.shape[1])
        for b in (self, other):
            n = width - b.valid.shape[1]
            if n:
                b.cache.apply(lambda t: _pad_left(t, n, 2))
                b.valid = _pad_left(b.valid, n, 1)
        self.cache.concat(other.cache)
        self.valid = torch.cat([self.valid, other.valid])
        self.pos, self.seen = torch.cat([self.pos, other.pos]), torch.cat([self.seen, other.seen])
        self.last = None if self.last is None else torch.cat([self.last, other.last])  # None while prefilling
        self.rows = self.rows + other.rows
        self.engine = None
        return self

    def group_by_adapter(self) -> None:
        """Each adapter's rows next to each other (a row's numbers do not depend on its place in the batch):
        a step then takes each set of weights' rows as one run, every layer in one kernel call
        (Int8Step._one_call), not a gather. Between steps only (every row has its next token)."""
        first: dict = {}
        for r in self.rows:
            first.setdefault(r.name, len(first))
        order = sorted(range(len(self.rows)), key=lambda b: (first[self.rows[b].name], b))
        if order != list(range(len(order))):
            self.select(order)

    def pick(self, gen: "Generator", logits: torch.Tensor, finished: list[_Job]) -> bool:
        """Greedy next token per row, with `generate`'s repetition penalty over the row's own prompt and
        answer; emit it, end the rows that are done and drop them. False when no row is left."""
        young = [b for b, r in enumerate(self.rows) if r.steps < r.job.min_new_tokens]
        width = len(self.rows)
        if (logits.device.type == "cpu" and logits.dtype == torch.float32 and logits.is_contiguous()
                and self.seen.is_contiguous() and kernels.available()):
            # the same choice in one pass (core/decode_kernels.c; ~0.2 ms a step of six whole-vocabulary
            # torch operations), `seen` marked there
            nxt = kernels.greedy_pick(logits, self.seen, gen.repetition_penalty, young, gen._eos_list())
        else:
            if gen.repetition_penalty != 1.0:
                penalised = torch.where(logits < 0, logits * gen.repetition_penalty, logits / gen.repetition_penalty)
                logits = torch.where(self.seen, penalised, logits)
            if young and gen._eos_list():
                logits = logits.clone()
                rows = torch.tensor(young, device=logits.device)
                logits[rows[:, None], torch.tensor(gen._eos_list(), device=logits.device)[None, :]] = float("-inf")
            nxt = logits.argmax(-1)
            self.seen[torch.arange(width, device=nxt.device), nxt] = True
        eos = gen._eos_ids()
        keep = [b for b, (row, token) in enumerate(zip(self.rows, nxt.tolist()))
                if self.emit(gen, row, token, eos, finished)]
        self.last = nxt
        if len(keep) < width and keep:
            self.select(keep)
        return bool(keep)

    def emit(self, gen: "Generator", row: _Row, token: int, eos: set[int], finished: list[_Job]) -> bool:
        """A row's chosen token: counted and streamed, and the row ended where that makes it done (its end
        token, its token budget; a reader that stopped ends it before the token counts), its answer then learnt
        by the drafts. False: the row has ended."""
        job = row.job
        if job.cancelled.is_set():
            job.end_row(row, finished)
            return False
        row.steps += 1
        row.peak = max(row.peak, len(self.rows))
        if token in eos:
            gen._learn(row, token)
            job.end_row(row, finished)
            return False
        row.tokens.append(token)
        job.token(row, token)
        if row.steps >= job.max_new_tokens:
            gen._learn(row)
            job.end_row(row, finished)
            return False
        return True


# --- the loop ----------------------------------------------------------------------------------------------

class _DecodeLoop:
    """Admits waiting jobs between steps, one job between two steps (up to the generator's `max_rows`; a job
    larger than that runs alone), prefills it, and steps the batch while it has rows. One thread; it exits when
    idle.

    One prefill between two steps: a prefill is compute-bound (~0.2 s for the serving prompt here) and the
    answers already streaming wait for it, so four shoppers arriving at once were four prefills in a row (~1 s
    without a token for anyone); now the first streams after its own prefill and each running answer pauses
    for one prefill at a time. Each job is prefilled alone either way, so no answer changes."""

    def __init__(self, gen: "Generator"):
        self.gen = gen
        self.cond = threading.Condition()
        self.pending: collections.deque[_Job] = collections.deque()
        self.batch: _Batch | None = None
        self.thread: threading.Thread | None = None

    def submit(self, job: _Job) -> None:
        with self.cond:
            self.pending.append(job)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="onbrand-decode", daemon=True)
                self.thread.start()
            self.cond.notify_all()

    def withdraw(self, job: _Job) -> None:
        """A consumer stopped before its job was admitted: it never joins."""
        with self.cond:
            if job in self.pending:
                self.pending.remove(job)
                job.close()
                self.cond.notify_all()

    def _admit(self) -> list[_Job]:
        rows = len(self.batch.rows) if self.batch is not None else 0
        if not self.pending or (rows and rows + len(self.pending[0].rows) > self.gen.max_rows):
            return []
        return [self.pending.popleft()]

    def _run(self) -> None:
        while True:
            with self.cond:
                if not self.pending and self.batch is None:
                    # stay a while for the next job: one long-lived thread keeps its allocator arena (a new
                    # thread per burst of work grows the process's memory with every arena it touches); its
                    # OpenMP workers end while it waits, or they would slow another generator's loop
                    # (core/threads.py; the next step starts new ones)
                    if self.gen.end_caller_pools:
                        release_pools()
                    self.cond.wait_for(lambda: self.pending, IDLE_EXIT_S)
                    if not self.pending:
                        self.thread = None
                        self.cond.notify_all()
                        return
            finished: list[_Job] = []
            joining: list[_Job] = []
            try:
                with self.gen.lock.step(), torch.inference_mode():
                    with self.cond:  # admitted only once the step can run: until then they count as waiting
                        joining = self._admit()
                    self._step(joining, finished)
            except BaseException as e:  # never leave a caller waiting on a loop that died
                log.exception("decoding loop failed")
                jobs = {r.job for r in self.batch.rows} if self.batch is not None else set()
                self.batch = None
                for job in [*joining, *jobs]:
                    job.close(e)
            for job in finished:  # after the lock is released: a caller who sees its job end finds it free
                job.close()
            with self.cond:
                self.cond.notify_all()

    def _step(self, joining: list[_Job], finished: list[_Job]) -> None:
        for job in joining:
            if job.cancelled.is_set():
                finished.append(job)
                continue
            try:
                group = self._prefill(job, finished)
            except Exception as e:  # this job's error (a bad adapter name, a prompt too long): its caller's
                job.close(e)
                continue
            if group is not None:
                self.batch = group if self.batch is None else self.batch.join(group)
                self.batch.group_by_adapter()
        batch = self.batch
        if batch is None:
            return
        gone = [b for b, r in enumerate(batch.rows) if r.job.cancelled.is_set()]
        for b in gone:
            batch.rows[b].job.end_row(batch.rows[b], finished)
        if gone:
            keep = [b for b in range(len(batch.rows)) if b not in gone]
            if not keep:
                self.batch = None
                return
            batch.select(keep)
        try:
            alive = self._decode(batch, finished)
        except Exception as e:
            self.batch = None
            for job in {r.job for r in batch.rows}:
                job.close(e)
            return
        self.batch = batch if alive else None

    def _prefill(self, job: _Job, finished: list[_Job]) -> _Batch | None:
        """The job's rows prefilled group by group, one group per adapter and system turn (each on its own
        weights: the plain copy, a merged copy; never peft's mixed-batch arithmetic over a long prompt), then
        joined."""
        groups: dict[tuple, list[_Row]] = {}
        for r in job.rows:
            groups.setdefault((r.name, tuple(r.prompt[:r.prefix].tolist())), []).append(r)
        batch, logits = None, []
        for rows in groups.values():
            part, part_logits = self._prefill_rows(rows)
            batch = part if batch is None else batch.join(part)
            logits.append(part_logits)
        return batch if batch.pick(self.gen, torch.cat(logits), finished) else None

    def _prefill_rows(self, rows: list[_Row]) -> tuple[_Batch, torch.Tensor]:
        """One adapter's rows with one system turn: that turn's keys and values (`Generator._prefix_kv`:
        computed on its own once per adapter and kept), then each row's rest, left-padded; the batch and each
        row's last logits. A row's prompt is split there alone or in any batch, so its numbers do not depend
        on who it is prefilled with."""
        gen = self.gen
        prompts = [r.prompt for r in rows]
        kept = gen._kept_prompt(rows[0]) if len(rows) == 1 else None
        if kept is not None:
            valid = torch.ones((1, len(prompts[0])), dtype=torch.bool, device=prompts[0].device)
            return self._batch(rows, _Cache.of(kept[0]), valid, kept[1].shape[-1]), kept[1].clone()
        shared = rows[0].prefix
        n, width = len(rows), max(len(p) for p in prompts) - shared
        device = prompts[0].device
        pad = gen.lm.tokenizer.pad_token_id or 0
        ids = torch.full((n, width), pad, dtype=torch.long, device=device)
        valid = torch.zeros((n, shared + width), dtype=torch.bool, device=device)
        valid[:, :shared] = True
        for i, p in enumerate(prompts):
            rest = p[shared:]
            ids[i, width - len(rest):] = rest
            valid[i, shared + width - len(rest):] = True
        pos = (valid.long().cumsum(-1) - 1).clamp(min=0)  # each row's positions start at 0 after its padding
        names = [r.name or BASE for r in rows] if rows[0].name is not None else None
        if shared:  # the same for every row (they all use one adapter)
            kv = gen._prefix_kv(names[0] if names else None, prompts[0][:shared])
            cache = _Cache.of([(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in kv])
        else:
            cache = _Cache()
        out = gen._forward(names, input_ids=ids, attention_mask=valid.long(), position_ids=pos[:, shared:],
                           cache=cache, logits_to_keep=_last(width, device))
        logits = out.logits[:, -1, :].float()
        if n == 1:
            gen._keep_prompt(rows[0], cache, logits)
        return self._batch(rows, cache, valid, logits.shape[-1]), logits

    def _batch(self, rows: list[_Row], cache: _Cache, valid: torch.Tensor, vocab: int) -> _Batch:
        """The prefilled rows as a batch: their cache, valid columns and the tokens each has seen."""
        gen = self.gen
        seen = torch.zeros((len(rows), vocab), dtype=torch.bool, device=valid.device)
        if gen.penalize_prompt:  # transformers' and vLLM's repetition penalty: the prompt's tokens count too
            for i, r in enumerate(rows):
                seen[i, r.prompt] = True
        batch = _Batch(list(rows), cache, valid, valid.sum(-1), seen)
        batch.close_gaps()
        return batch

    def _decode(self, batch: _Batch, finished: list[_Job]) -> bool:
        gen = self.gen
        if batch.engine is None:
            batch.engine = gen._engine(batch.names, rows=len(batch.rows))
        drafts = self._drafts(batch)
        if drafts is not None:
            return self._verify(batch, drafts, finished)
        batch.valid = torch.cat([batch.valid, batch.valid.new_ones((len(batch.rows), 1))], dim=1)
        out = gen._call(batch.engine, input_ids=batch.last[:, None], attention_mask=gen._step_mask(batch.valid),
                        position_ids=batch.pos[:, None], cache=batch.cache, logits_to_keep=1, one_token=True)
        batch.pos = batch.pos + 1
        return batch.pick(gen, out.logits[:, -1, :].float(), finished)


    def _drafts(self, batch: _Batch) -> list[list[int]] | None:
        """Each row's drafted next tokens (core/drafts.py) within the step's `draft_rows` (rows and drafted
        tokens together, handed out one token per row in turn), where the step can verify them (Int8Step on
        core/decode_kernels.c); None: a plain step."""
        gen, n = self.gen, len(batch.rows)
        step = batch.engine.step
        if (gen.drafts is None or gen.draft_rows <= n or not isinstance(step, Int8Step)
                or not step.verifies(batch.cache) or batch.last is None):
            return None
        wanted = [self._draft(r, gen.draft_rows - n) for r in batch.rows]
        budget, drafts = gen.draft_rows - n, [[] for _ in range(n)]
        while budget > 0:
            grew = False
            for b in range(n):
                # never past the row's token budget: the step after its last token is not taken
                room = batch.rows[b].job.max_new_tokens - batch.rows[b].steps - 1
                if budget > 0 and len(drafts[b]) < min(len(wanted[b]), room):
                    drafts[b].append(wanted[b][len(drafts[b])])
                    budget -= 1
                    grew = True
            if not grew:
                break
        return drafts if any(drafts) else None

    def _draft(self, row: _Row, limit: int) -> list[int]:
        """Up to `limit` drafted next tokens for `row`: its adapter's table's, else its prompt lookup's."""
        if not row.tokens or row.steps + 1 >= row.job.max_new_tokens:
            return []
        gen = self.gen
        draft = gen.drafts.propose(row.name, [*row.prompt[-ORDER:].tolist(), *row.tokens], limit)
        row.draft_source = "table"
        if draft or not gen.prompt_lookup:
            return draft
        if row.lookup is None:
            row.lookup = PromptLookup(row.prompt.tolist())
        row.draft_source = "lookup"
        return row.lookup.propose(row.tokens, limit)

    def _verify(self, batch: _Batch, drafts: list[list[int]], finished: list[_Job]) -> bool:
        """One step over each row's newest token and its drafted tokens, each as a row of its own on the row's
        cache (kernels.Slots: the draft's i-th token at the row's next column + i, attending over the columns
        before it). A row's i-th output is the logits the plain step would give after the first i drafted
        tokens (every operation of the step is row by row and masked columns add nothing), so its greedy
        choices are the plain loop's as far as the draft agrees with them: the row keeps those and the one
        after, and the columns of drafted tokens it did not keep are masked (and overwritten where no row kept
        them)."""
        gen, n = self.gen, len(batch.rows)
        device = batch.valid.device
        slot = [b for b in range(n) for _ in range(1 + len(drafts[b]))]
        offset = [i for b in range(n) for i in range(1 + len(drafts[b]))]
        last = batch.last.tolist()
        inputs = [t for b in range(n) for t in [last[b], *drafts[b]]]
        span, width = max(offset) + 1, batch.valid.shape[1]
        index = torch.tensor(slot, device=device)
        valid = torch.cat([batch.valid[index], batch.valid.new_zeros((len(slot), span))], dim=1)
        for v, i in enumerate(offset):
            valid[v, width:width + i + 1] = True
        names = batch.names
        kwargs = dict(batch.engine.kwargs)
        if "adapter_names" in kwargs or names is not None:
            kwargs["adapter_names"] = [names[b] for b in slot] if names is not None else None
        gen.engine_steps[batch.engine.kind] += 1
        gen.engine_steps["int8"] += 1
        gen.engine_steps["drafted"] += len(slot) - n
        out = batch.engine.step(input_ids=torch.tensor(inputs, device=device)[:, None],
                                attention_mask=gen._step_mask(valid),
                                position_ids=(batch.pos[index] + torch.tensor(offset, device=device))[:, None],
                                cache=batch.cache, logits_to_keep=1, slots=kernels.Slots(slot, offset), **kwargs)
        logits = out.logits[:, -1, :].float().contiguous()
        seen = batch.seen[index].contiguous()
        for v, (b, i) in enumerate(zip(slot, offset)):
            if i:
                seen[v, drafts[b][:i]] = True  # the plain loop's `seen` after the drafted tokens before it
        young = [v for v, (b, i) in enumerate(zip(slot, offset))
                 if batch.rows[b].steps + i < batch.rows[b].job.min_new_tokens]
        picks = kernels.greedy_pick(logits, seen, gen.repetition_penalty, young, gen._eos_list()).tolist()
        eos, first = gen._eos_ids(), 0
        new_last, advance = list(last), [0] * n  # each row's newest token and the columns it keeps
        for b, row in enumerate(batch.rows):
            mine = picks[first:first + 1 + len(drafts[b])]
            first += 1 + len(drafts[b])
            agreed = 0
            while agreed < len(drafts[b]) and mine[agreed] == drafts[b][agreed]:
                agreed += 1
            if drafts[b]:
                gen.engine_steps["drafted_" + row.draft_source] += len(drafts[b])
                gen.engine_steps["agreed_" + row.draft_source] += agreed
            for token in mine[:agreed + 1]:  # the plain loop's choices, one by one
                if not batch.emit(gen, row, token, eos, finished):
                    advance[b] = 0
                    break
                batch.seen[b, token] = True
                new_last[b] = token
                advance[b] += 1
        keep = [b for b in range(n) if advance[b]]
        used = max(advance) if keep else span
        for layer in batch.cache.layers:
            layer.retract(span - used)  # the columns past every kept token are written again next step
        kept = torch.tensor(advance, dtype=batch.pos.dtype, device=device)
        batch.valid = torch.cat([batch.valid, torch.arange(used, device=device)[None, :] < kept[:, None]], dim=1)
        batch.pos = batch.pos + kept
        batch.last = torch.tensor(new_last, dtype=torch.long, device=device)
        if len(keep) < n and keep:
            batch.select(keep)
        return bool(keep)


# --- which weights a forward pass runs on -------------------------------------------------------------------

def _signature(model) -> tuple:
    """Changes when any weight of the model is replaced or modified in place, or an adapter is added."""
    return (id(model), tuple((id(p), p._version) for p in model.parameters()))


def plain_copy(model: torch.nn.Module) -> torch.nn.Module:
    """The peft model's transformers model without peft's wrappers, sharing every weight (no copy)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    base = model.get_base_model()
    memo = {id(t): t for t in [*base.parameters(), *base.buffers()]}  # deepcopy hands these back as they are
    clone = copy.deepcopy(base, memo)
    for name, module in list(clone.named_modules()):
        if isinstance(module, BaseTunerLayer):
            clone.set_submodule(name, module.get_base_layer())
    return clone.eval()


def merged_copy(model: torch.nn.Module, adapter: str) -> tuple[torch.nn.Module, int] | None:
    """A plain copy whose linear weights carry `adapter`'s LoRA delta (summed in fp32, rounded once to the
    base dtype), and the bytes it adds; None for an adapter merging cannot express (DoRA and other variants,
    LoRA on embeddings, a LoRA bias, modules_to_save)."""
    from peft.tuners.lora.layer import Linear as LoraLinear
    from peft.tuners.tuners_utils import BaseTunerLayer

    config = model.peft_config.get(adapter)
    if config is None or getattr(config, "modules_to_save", None) or getattr(config, "trainable_token_indices", None):
        return None
    targets = {}
    for name, module in model.get_base_model().named_modules():
        if not isinstance(module, BaseTunerLayer):
            continue
        holds = any(adapter in getattr(module, attr, {}) for attr in module.adapter_layer_names)
        if not holds:
            continue
        if (type(module) is not LoraLinear or adapter in module.lora_variant
                or module.lora_bias.get(adapter, False) or getattr(module, "fan_in_fan_out", False)):
            return None
        targets[name] = module
    if not targets:
        return None
    clone = plain_copy(model)
    added = 0
    with torch.inference_mode(False), torch.no_grad():
        for name, module in targets.items():
            weight = module.get_base_layer().weight
            merged = (weight.float() + module.get_delta_weight(adapter).float()).to(weight.dtype)
            clone.get_submodule(name).weight = torch.nn.Parameter(merged, requires_grad=False)
            added += merged.numel() * merged.element_size()
    return clone, added


@dataclass
class _LoraEntry:
    """An adapter's LoRA factors for adapter_weights="lora" (core/lora_rows.py), taken from the model with
    weights of signature `sig`, with its prefill module and step weights once made (None: not yet)."""
    sig: tuple
    factors: list | None
    dtype: torch.dtype | None
    module: torch.nn.Module | None = None
    weights: LoraWeights | None = None
    # what the entry holds at most: the factors' copies in the step weights (A stacked, B transposed) and the
    # prefill module's stacked A (B is the model's own)
    nbytes: int = field(init=False)

    def __post_init__(self):
        self.nbytes = 3 * factor_bytes(self.factors) if self.factors is not None else 0


@dataclass
class _Engine:
    module: torch.nn.Module
    kwargs: dict
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    kind: str = "model"  # "model", "bare", "merged" or "peft" (per-row adapter_names): `engine_steps` counts
    step: LeanStep | None = None  # one-token steps through LeanStep or Int8Step (prefill always through `module`)


class Generator:
    def __init__(self, lm: LoadedModel, repetition_penalty: float = 1.1, *, merge_adapters: bool = True,
                 bare_copy: bool = True, lean_steps: bool = True, gemv: bool = False, row_attention: bool = True,
                 penalize_prompt: bool = True, merged_cache_bytes: int = 512 * 2**20, max_rows: int = 32,
                 int8_rows: int = 0, int8_kernel: bool = True, int8_vnni: bool = True, end_caller_pools: bool = True,
                 prefix_cache_bytes: int = 64 * 2**20, adapter_weights: str = "merged", draft_rows: int = 5,
                 prompt_cache_bytes: int = 0):
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        if adapter_weights not in ADAPTER_WEIGHTS:
            raise ValueError(f"adapter_weights must be one of {', '.join(ADAPTER_WEIGHTS)}, got {adapter_weights!r}")
        self.lm = lm
        self.repetition_penalty = repetition_penalty  # a 135M model loops without a light penalty
        # the penalty over the prompt's tokens too (transformers' `generate` and vLLM do that); False: over the
        # answer's own tokens only (transformers' `prompt_ignore_length`), which stops loops without pushing
        # the model off the catalog words it should copy from the context
        self.penalize_prompt = penalize_prompt
        self.merge_adapters = merge_adapters  # one-adapter rows on merged weights (False: peft's per-row path)
        # what an adapter's rows run on (README "Speed"): "merged", a merged copy per adapter (its int8 copy for
        # the one-token steps up to int8_rows rows: half the bytes of a step); "lora", the base's own weights plus
        # the adapter's LoRA product (core/lora_rows.py: prefilled on a plain copy that adds it, stepping on
        # core/decode_kernels.c up to int8_rows rows), so the base's rows and every adapter's read one set of
        # weights a step (side by side, shoppers of several merchants) and no merged copy is made
        self.adapter_weights = adapter_weights
        self.bare_copy = bare_copy  # bare rows on a plain copy (False: peft's wrappers with adapters disabled)
        self.lean_steps = lean_steps  # one-token steps through LeanStep where it reproduces the model
        # a lone row's LeanStep projections as matrix-vector products (LeanStep.gemv): off, since `onbrand bench`
        # measured 1.007x with two threads and it gives up LeanStep's bit-identical logits
        self.gemv = gemv
        # a padded batch's attention row by row (LeanStep.row_attention): a joined shopper gets exactly the answer
        # they get alone (bf16, measured); ~15-25% more per step at 8 rows on this CPU
        self.row_attention = row_attention
        # two merged SmolLM2-135M copies (212 MB each in bf16); with adapter_weights="lora", the adapters' LoRA
        # factors, prefill modules and step weights (~56 MiB an adapter of rank 16 on every projection)
        self.merged_cache_bytes = merged_cache_bytes
        self.max_rows = max_rows  # rows decoding together; 32 is the scorecard's batch
        # one-token steps of batches up to this many rows through Int8Step on a CPU: adapter rows on int8
        # weight-only copies of their merged weights (half the bytes a step reads, not the merged copy's own
        # numbers), the bare base's rows on its bf16 weights; 0: never. Settings.int8_rows (default: every
        # batch, so an answer never changes numbers mid-way) sets it for the app, the CLI and the evaluation
        self.int8_rows = int8_rows
        # Int8Step on core/decode_kernels.c where it builds and runs (an AVX-512 CPU with a C compiler; products
        # at about twice torch's kernel's speed here, the same sums: README "Speed"); False: torch's operations
        self.int8_kernel = int8_kernel
        # the kernels' int8 products against bf16 activations as exact integer sums on AVX-512 VNNI where the CPU
        # has it (a 4-row step's products ~1.4x faster, a lone row's as fast; README "Speed"); False: fp32 FMAs
        self.int8_vnni = int8_vnni
        # end the OpenMP worker pools of the thread that submits a job before it waits, and the loop's own when
        # it goes idle (core/threads.py): another thread's idle pool makes libgomp put the decoding loop's
        # workers to sleep between its parallel products
        self.end_caller_pools = end_caller_pools
        # a prompt's system turn (the brand's rules, the retrieval prompt's instructions: the same for every
        # question) is prefilled on its own and its keys and values kept per adapter, up to this many bytes
        # (least recently used goes first; 0: computed for every prompt, never kept)
        self.prefix_cache_bytes = prefix_cache_bytes
        # drafted tokens verified in one step (core/drafts.py, README "Speed"): a step takes at most this many
        # rows, its answers' newest tokens and their drafted next ones together (a 5-row step costs ~1.5x a
        # 1-row one here); 0 or 1: no drafts. The answers are the same either way
        self.draft_rows = draft_rows
        self.drafts: DraftTable | None = DraftTable() if draft_rows > 1 else None
        # where the table has no draft for a row, draft from its own prompt and answer (core.drafts.PromptLookup:
        # a RAG answer copies the catalog records' names and phrases); False: the table's drafts only
        self.prompt_lookup = True
        self._prefixes = _Kept()  # (name, system turn tokens) -> (weights' signature, keys and values, bytes)
        # a prompt asked again (the same question to the same adapter: side by side after a single answer, a
        # spot check run twice, a shopper's common question) skips its prefill: a lone row's whole prompt's keys
        # and values and its last logits, as its prefill computed them, kept per adapter up to this many bytes
        # (least recently used goes first, dropped when the weights change; 0: never kept). Only rows
        # prefilled alone are kept or served (a padded group's numbers are its own), so an answer is the same
        # whether its prompt was kept or not
        self.prompt_cache_bytes = prompt_cache_bytes
        self._prompts = _Kept()  # (name, prompt tokens) -> (weights' signature, keys and values, logits, bytes)
        self._system_turns: dict[str, list[int]] = {}
        self.lock = StepLock()
        self.last_stats: GenerationStats | None = None
        self.engine_steps: collections.Counter = collections.Counter()  # forward passes per kind of weights
        self._loop = _DecodeLoop(self)
        self._plain: tuple[tuple, torch.nn.Module] | None = None
        self._merged: collections.OrderedDict[str, tuple[tuple, torch.nn.Module, int]] = collections.OrderedDict()
        self._unmergeable: dict[str, tuple] = {}
        self._lean: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # module -> its LeanStep
        self._int8: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # merged copy -> (signature, Int8Weights)
        self._lora: collections.OrderedDict[str, _LoraEntry] = collections.OrderedDict()  # adapter_weights="lora"

    # --- public calls ---------------------------------------------------------------------------------------

    def encode(self, messages: list[dict]) -> torch.Tensor:
        enc = self.lm.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                    return_tensors="pt", return_dict=True)
        return enc["input_ids"].to(self.lm.device)

    def encode_row(self, messages: list[dict]) -> tuple[torch.Tensor, int]:
        """The prompt's tokens and how many of them are its system turn (0 without one, or where the chat
        template does not start the prompt with that turn's own tokens)."""
        ids = self.encode(messages)[0]
        if not messages or messages[0].get("role") != "system" or len(messages) < 2:
            return ids, 0
        content = messages[0].get("content")
        turn = self._system_turns.get(content) if isinstance(content, str) else None
        if turn is None:
            turn = self.lm.tokenizer.apply_chat_template(messages[:1], add_generation_prompt=False, tokenize=True,
                                                         return_dict=True)["input_ids"]
            if isinstance(content, str):
                if len(self._system_turns) >= 64:
                    self._system_turns.clear()
                self._system_turns[content] = turn
        n = len(turn)
        if 0 < n < len(ids) and ids[:n].tolist() == list(turn):
            return ids, n
        return ids, 0

    def stream(self, messages: list[dict], max_new_tokens: int = 200,
               adapter_names: list[str] | None = None,
               on_stats: Callable[[GenerationStats], None] | None = None, *,
               min_new_tokens: int = 0) -> Iterator[str]:
        """Yield decoded text pieces as they are produced; greedy decoding, so answers are repeatable.

        adapter_names: peft's per-request adapter choice (e.g. ["__base__"] or ["brand@v0001"]); None for a
        plain base model. Chosen per call, never by switching the model's active adapter.
        on_stats: gets this call's GenerationStats (also kept in `last_stats`, which a concurrent caller
        may overwrite before another reads it). min_new_tokens: no EOS before that many tokens (bench).
        A consumer that stops reading takes its row out of the batch at the next step.
        """
        prompt, prefix = self.encode_row(messages)
        job = _Job([prompt], adapter_names, max_new_tokens, min_new_tokens, [prefix])
        text = _Text(self.lm.tokenizer)
        for _, token in self._events(job):
            piece = text.add(token) if token is not None else text.finish()
            if piece:
                yield piece
        row = job.rows[0]
        self.last_stats = GenerationStats(len(prompt), row.steps, job.ttft_s, job.total_s, max(row.peak, 1),
                                          row.longest_pause)
        if on_stats is not None:
            on_stats(self.last_stats)

    def generate(self, messages: list[dict], max_new_tokens: int = 200,
                 adapter_names: list[str] | None = None) -> str:
        return "".join(self.stream(messages, max_new_tokens, adapter_names)).strip()

    def generate_batch(self, conversations: list[list[dict]], max_new_tokens: int = 200,
                       adapter_names: list[str] | None = None) -> list[str]:
        """Greedy answers for several conversations, decoded together; with adapter_names each row can use
        a different adapter. Each adapter's rows are prefilled together on that adapter's weights, after their
        prompts' system turn (the brand rules), whose keys and values are computed once and kept."""
        rows = [self.encode_row(m) for m in conversations]
        job = _Job([p for p, _ in rows], adapter_names, max_new_tokens, prefixes=[n for _, n in rows])
        for _ in self._events(job):
            pass
        return [self.lm.tokenizer.decode(r.tokens, skip_special_tokens=True).strip() for r in job.rows]

    def stream_batch(self, conversations: list[list[dict]], max_new_tokens: int = 200,
                     adapter_names: list[str] | None = None,
                     on_stats: Callable[[BatchStats], None] | None = None, *,
                     min_new_tokens: int = 0) -> Iterator[tuple[int, str]]:
        """generate_batch, streamed: yield (row, text piece) as each step's tokens arrive (with
        adapter_names each row picks its adapter). Rows end at their own EOS; joining a row's pieces gives
        generate_batch's text for it. on_stats gets the rows' BatchStats."""
        rows = [self.encode_row(m) for m in conversations]
        prompts = [p for p, _ in rows]
        job = _Job(prompts, adapter_names, max_new_tokens, min_new_tokens, [n for _, n in rows])
        texts = [_Text(self.lm.tokenizer) for _ in prompts]
        for row, token in self._events(job):
            piece = texts[row].add(token) if token is not None else texts[row].finish()
            if piece:
                yield row, piece
        if on_stats is not None:
            on_stats(BatchStats(max(len(p) for p in prompts), tuple(len(r.tokens) for r in job.rows),
                                max(r.steps for r in job.rows), job.ttft_s, job.total_s))

    # --- the loop's state, for the server, the bench and tests ------------------------------------------

    @property
    def rows_decoding(self) -> int:
        batch = self._loop.batch
        return len(batch.rows) if batch is not None else 0

    @property
    def rows_waiting(self) -> int:
        with self._loop.cond:
            return sum(len(j.rows) for j in self._loop.pending)

    def learn_answers(self, name: str | None, answers: list[str]) -> int:
        """Seed the drafts of `name`'s rows (an attached adapter's key; BASE for the bare base) with answers
        it was trained to give (core/drafts.py); the number of contexts its table holds after. Drafts change
        how fast answers come, never which."""
        if self.drafts is None:
            return 0
        header = self.encode([{"role": "user", "content": "?"}])[0, -ORDER:].tolist()  # the answer turn's opening
        for text in answers:
            tokens = self.lm.tokenizer.encode(text, add_special_tokens=False)
            self.drafts.learn(name, [*header, *tokens, *self._eos_list()[:1]])
        return self.drafts.contexts(name)

    def _learn(self, row: _Row, eos: int | None = None) -> None:
        """A finished answer into its adapter's drafts: the prompt's last tokens, the answer, its end."""
        if self.drafts is not None:
            self.drafts.learn(row.name, [*row.prompt[-ORDER:].tolist(), *row.tokens, *([eos] if eos is not None else [])])

    def wait_for(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """Block until predicate() holds (checked whenever the loop's state changes); False on timeout."""
        with self._loop.cond:
            return self._loop.cond.wait_for(predicate, timeout)

    # --- internals ----------------------------------------------------------------------------------------

    def _events(self, job: _Job) -> Iterator[tuple[int, int | None]]:
        """Submit `job` to the loop and yield its (row, token) events; a row's end is (row, None). If the
        consumer stops early, the job's rows leave the batch before this returns. This thread's OpenMP worker
        pools end first: while it waits, the loop's pool should be the only one (core/threads.py)."""
        if self.end_caller_pools:
            release_pools()
        self._loop.submit(job)
        try:
            while True:
                row, item = job.events.get()
                if row is None:
                    if item is not None:
                        raise item
                    return
                yield row, item
        finally:
            if not job.finished.is_set():
                job.cancelled.set()
                self._loop.withdraw(job)
            job.finished.wait()

    def _prefix_kv(self, name: str | None, tokens: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each layer's keys and values of `tokens` (a system turn) alone on `name`'s weights: from the cache
        while the model's weights are unchanged, else computed (the decoding loop's thread, under the step
        lock) and kept within prefix_cache_bytes."""
        key = (name, tuple(tokens.tolist()))
        sig = _signature(self.lm.model)
        hit = self._prefixes.fresh(key, sig)
        if hit is not None:
            self.engine_steps["prefix_cache_hit"] += 1
            return hit[1]
        self.engine_steps["shared_prefix"] += 1
        cache = _Cache()
        self._forward([name] if name is not None else None, input_ids=tokens[None], cache=cache,
                      logits_to_keep=_last(len(tokens), tokens.device))
        kv, size = _kv_copy(cache)
        self._prefixes.keep(key, (sig, kv, size), self.prefix_cache_bytes)
        return kv

    def _kept_prompt(self, row: _Row) -> tuple[list, torch.Tensor] | None:
        """A lone row's prompt as its prefill left it (each layer's keys and values, the last logits), where it
        was kept (`prompt_cache_bytes`) while the model's weights are unchanged."""
        if not self.prompt_cache_bytes:
            return None
        hit = self._prompts.fresh((row.name, tuple(row.prompt.tolist())), _signature(self.lm.model))
        if hit is None:
            return None
        self.engine_steps["prompt_cache_hit"] += 1
        return hit[1], hit[2]

    def _keep_prompt(self, row: _Row, cache: _Cache, logits: torch.Tensor) -> None:
        """Keep a lone row's prefilled prompt within prompt_cache_bytes (least recently used goes first)."""
        if not self.prompt_cache_bytes:
            return
        kv, size = _kv_copy(cache)
        size += logits.numel() * logits.element_size()
        entry = (_signature(self.lm.model), kv, logits.clone(), size)
        self._prompts.keep((row.name, tuple(row.prompt.tolist())), entry, self.prompt_cache_bytes)

    def _eos_ids(self) -> set[int]:
        return set(self._eos_list())

    def _eos_list(self) -> list[int]:
        eos = self.lm.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, (list, tuple)) else [eos]
        return [int(e) for e in eos if e is not None]

    def _step_mask(self, valid: torch.Tensor) -> torch.Tensor:
        """The attention mask of a one-token step: a ready 4D boolean mask for sdpa (no per-step mask
        building in transformers), else the 2D padding mask."""
        if getattr(self.lm.model.config, "_attn_implementation", None) == "sdpa":
            return valid[:, None, None, :]
        return valid.long()

    def _forward(self, names: list[str] | None, **kwargs):
        return self._call(self._engine(names), **kwargs)

    def _call(self, engine: _Engine, one_token: bool = False, **kwargs):
        self.engine_steps[engine.kind] += 1
        if one_token and engine.step is not None:
            self.engine_steps["int8" if isinstance(engine.step, Int8Step) else "lean"] += 1
            return engine.step(**kwargs, **engine.kwargs)
        with engine.context():
            return engine.module(**kwargs, **engine.kwargs, use_cache=True)

    def _engine(self, names: list[str] | None, rows: int | None = None) -> _Engine:
        """The weights for a forward pass over rows with these adapter names (see the module docstring), and
        the step for their one-token steps where one reproduces the model: for up to `int8_rows` rows,
        Int8Step (each adapter's rows on its merged copy's int8 weights, the bare base's on its own), else
        LeanStep."""
        engine = self._weights(names)
        if not (self.lean_steps and engine.context is contextlib.nullcontext and not self.lm.quantized_4bit
                and lean_supported(engine.module)):
            return engine
        if rows is not None and rows <= self.int8_steps_up_to:
            step = self._int8_step(engine.kind, engine.module, names)
            if step is not None:
                engine.step = step
                return engine
        if engine.kind == "lora":  # LeanStep would take its LoRA projections for plain ones: the module's forward
            return engine
        step = self._leanstep(engine.module)
        if step.supports(engine.kwargs.get("adapter_names")):
            engine.step = step
        return engine

    def _leanstep(self, module: torch.nn.Module) -> LeanStep:
        step = self._lean.get(module)
        if step is None:
            step = self._lean[module] = LeanStep(module, gemv=self.gemv, row_attention=self.row_attention)
        return step

    def _int8_weights(self, merged: torch.nn.Module) -> Int8Weights:
        """A merged (or plain) copy's int8 weights, made again when any of its weights changes."""
        return self._step_weights(merged, lambda lean: Int8Weights(lean, kernel=self.int8_kernel, vnni=self.int8_vnni))

    def _own_weights(self, plain: torch.nn.Module) -> OwnWeights:
        """The plain copy's own weights for the bare base's rows of an Int8Step, made again when they change."""
        return self._step_weights(plain, lambda lean: OwnWeights(lean, kernel=self.int8_kernel))

    def _step_weights(self, module: torch.nn.Module, make: Callable[[LeanStep], Int8Weights | OwnWeights]):
        """A copy's step weights (`make` of its LeanStep), kept per copy and made again when any of its weights
        changes."""
        sig = _signature(module)
        hit = self._int8.get(module)
        if hit is None or hit[0] != sig:
            t0 = time.perf_counter()
            hit = self._int8[module] = (sig, make(self._leanstep(module)))
            log.info("%s for decoding (%.0f MiB, %.2f s, %s)", type(hit[1]).__name__, hit[1].nbytes / 2**20,
                     time.perf_counter() - t0, "core/decode_kernels.c" if hit[1].kernel else "torch's operations")
        return hit[1]

    def _int8_step(self, kind: str, module: torch.nn.Module, names: list[str] | None) -> Int8Step | None:
        """Int8Step for these rows, each on its own weights: one adapter's on its merged copy's int8 weights,
        the bare base's on the plain copy's own (alone too, so that its answer is the same alone and beside
        adapter rows), mixed rows each on theirs; None where a row has no such weights (a model without
        adapters, an adapter merging cannot express, a copy over merged_cache_bytes) or the kernel cannot take
        the model's sizes."""
        if not int8_supported(module):
            return None
        if kind == "merged":
            return Int8Step(module, {None: self._int8_weights(module)}, row_attention=self.row_attention)
        if kind == "bare":
            return Int8Step(module, {None: self._own_weights(module)}, row_attention=self.row_attention)
        if kind == "lora":  # one adapter's rows, prefilled on its lora module: the base's own weights plus its LoRA
            plain = self._plain_engine(self.lm.model)
            weights = self._lora_weights(names[0], self._own_weights(plain))
            return Int8Step(plain, {None: weights}, row_attention=self.row_attention) if weights is not None else None
        lora = self.adapter_weights == "lora"
        if kind != "peft" or not (self.bare_copy and (self.merge_adapters or lora)):  # these rows take no Int8Step
            return None
        model = self.lm.model
        plain = self._plain_engine(model)
        own = self._own_weights(plain) if lora or BASE in names else None
        weights = {}
        for name in dict.fromkeys(names):
            if name == BASE:
                weights[name] = own
            elif lora:
                weights[name] = self._lora_weights(name, own)
            else:
                merged = self._merged_engine(model, name)
                weights[name] = self._int8_weights(merged) if merged is not None else None
            if weights[name] is None:
                return None
        return Int8Step(plain, weights, row_attention=self.row_attention)

    def _lora_entry(self, name: str) -> "_LoraEntry":
        """Adapter `name`'s LoRA factors (`lora_factors`; None where they cannot be added as peft adds them), from
        the cache while the model's weights are unchanged, else taken again; the cache holds at most
        merged_cache_bytes of them with their prefill modules and step weights (least recently used goes)."""
        model = self.lm.model
        sig = _signature(model)
        hit = self._lora.get(name)
        if hit is not None and hit.sig == sig:
            self._lora.move_to_end(name)
            return hit
        built = lora_factors(self._leanstep(model), name)
        entry = _LoraEntry(sig, *(built or (None, None)))
        if built is None:
            log.info("adapter %s steps through peft: its LoRA cannot be added to the base's weights as peft adds it",
                     name)
        self._lora.pop(name, None)
        while self._lora and sum(e.nbytes for e in self._lora.values()) + entry.nbytes > self.merged_cache_bytes:
            gone, _ = self._lora.popitem(last=False)
            log.info("dropped the LoRA factors of %s (merged_cache_bytes)", gone)
        self._lora[name] = entry
        return entry

    def _lora_module(self, name: str) -> torch.nn.Module | None:
        """Adapter `name`'s prefill module (`with_lora`: a plain copy adding its LoRA as peft does); None where
        its LoRA cannot be added so."""
        entry = self._lora_entry(name)
        if entry.factors is not None and entry.module is None:
            entry.module = with_lora(plain_copy(self.lm.model), entry.factors)
        return entry.module

    def _lora_weights(self, name: str, own: OwnWeights) -> LoraWeights | None:
        """Adapter `name`'s rows on the base's own weights (`own`) plus its LoRA product, made again with its
        factors or when the base's own weights were made again; None where its LoRA cannot be added so."""
        entry = self._lora_entry(name)
        if entry.factors is not None and (entry.weights is None or entry.weights.own is not own):
            t0 = time.perf_counter()
            entry.weights = LoraWeights(own, entry.factors, entry.dtype)
            log.info("LoraWeights of %s for decoding (%.1f MiB, %.2f s)", name, entry.weights.nbytes / 2**20,
                     time.perf_counter() - t0)
        return entry.weights

    def _weights(self, names: list[str] | None) -> _Engine:
        model = self.lm.model
        if not is_peft(model):
            if names is None or set(names) == {BASE}:
                return _Engine(model, {})
            return _Engine(model, {"adapter_names": names}, kind="peft")  # transformers will refuse it
        if names is None:
            return _Engine(model, {})
        kinds = set(names)
        if kinds == {BASE}:
            if self.lm.quantized_4bit or not self.bare_copy:  # adapters off in peft's wrappers, same arithmetic
                return _Engine(model, {}, model.disable_adapter, kind="bare")
            return _Engine(self._plain_engine(model), {}, kind="bare")
        if len(kinds) == 1 and self.adapter_weights == "lora" and self.bare_copy and not self.lm.quantized_4bit:
            module = self._lora_module(names[0])
            if module is not None:
                return _Engine(module, {}, kind="lora")
        if len(kinds) == 1 and self.merge_adapters and self.adapter_weights == "merged" and not self.lm.quantized_4bit:
            merged = self._merged_engine(model, names[0])
            if merged is not None:
                return _Engine(merged, {}, kind="merged")
        return _Engine(model, {"adapter_names": names}, kind="peft")

    def _plain_engine(self, model) -> torch.nn.Module:
        sig = _signature(model)
        if self._plain is None or self._plain[0] != sig:
            self._plain = (sig, plain_copy(model))
        return self._plain[1]

    def _merged_engine(self, model, adapter: str) -> torch.nn.Module | None:
        sig = _signature(model)
        hit = self._merged.get(adapter)
        if hit is not None and hit[0] == sig:
            self._merged.move_to_end(adapter)
            return hit[1]
        self._merged.pop(adapter, None)
        if self._unmergeable.get(adapter) == sig:
            return None
        t0 = time.perf_counter()
        built = merged_copy(model, adapter)
        if built is None or built[1] > self.merged_cache_bytes:
            self._unmergeable[adapter] = sig
            log.info("adapter %s decodes through peft: %s", adapter,
                     "its kind cannot merge" if built is None else
                     f"a merged copy ({built[1] / 2**20:.0f} MiB) exceeds merged_cache_bytes")
            return None
        module, added = built
        while self._merged and sum(m[2] for m in self._merged.values()) + added > self.merged_cache_bytes:
            gone, _ = self._merged.popitem(last=False)
            log.info("dropped the merged copy of %s (merged_cache_bytes)", gone)
        self._merged[adapter] = (sig, module, added)
        log.info("merged %s for decoding (%.0f MiB, %.2f s)", adapter, added / 2**20, time.perf_counter() - t0)
        return module

    @property
    def int8_steps_up_to(self) -> int:
        """Rows a batch may have for its steps to run on int8 weights here (0 off the CPU or with them off)."""
        return self.int8_rows if torch.device(self.lm.device).type == "cpu" and not self.lm.quantized_4bit else 0

    @property
    def merged_adapters(self) -> list[str]:
        """Adapters whose merged copy is cached now, least recently used first."""
        return list(self._merged)


class _Text:
    """One row's text so far: re-decodes its tokens and returns what is new (nothing while a multi-byte
    character is half decoded)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.sent = ""

    def add(self, token: int) -> str:
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return ""
        new, self.sent = text[len(self.sent):], text
        return new

    def finish(self) -> str:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        new, self.sent = text[len(self.sent):], text
        return new
