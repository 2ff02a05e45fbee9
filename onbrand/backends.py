"""Generation backends: what turns the assistant's chat messages into answer text.

    LocalBackend(Generator(lm))      # transformers + peft in this process (the default)
    OpenAIBackend("http://127.0.0.1:8000/v1", base_model="HuggingFaceTB/SmolLM2-135M-Instruct")
                                     # any OpenAI-compatible server: vLLM with --enable-lora, `onbrand serve`

The Assistant does retrieval, prompting, field fills and badges itself and asks a backend only for text:
one answer streamed, a batch streamed (side by side), a batch answered (the scorecard). Each row names its
adapter by key ("name@version", `AdapterRef.key`) or None for the bare base; how the key
reaches the model is the backend's business (peft `adapter_names` here, the request's `model` over HTTP).
Decoding is greedy with the same repetition penalty on both, so the same prompt gives the same answer.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, Mapping, Protocol, runtime_checkable

from core.errors import UserError
from core.generation import BatchStats, GenerationStats, Generator
from tuning.loading import AdapterSet, portable_base_id
from tuning.registry import AdapterRef, Registry, adapter_dataset_rows

log = logging.getLogger(__name__)


class BackendError(UserError):
    """The generation server refused or failed a request; the message says which server and why."""


@runtime_checkable
class Backend(Protocol):
    """What the Assistant needs from whatever generates its answers."""

    kind: str  # "local" | "openai": shown in snapshots and logs
    base_model: str  # the base as a user would fetch it (a hub id), and the `model` of bare-base requests

    @property
    def loaded(self) -> Mapping[str, AdapterRef]:
        """Adapter keys this backend answers with now, and the registry version behind each."""

    def attach(self, ref: AdapterRef, registry: Registry | None = None) -> str:
        """Verify an adapter version and make it answerable; return its key ("name@version")."""

    def stream(self, messages: list[dict], max_new_tokens: int, adapter: str | None = None,
               on_stats: Callable[[GenerationStats], None] | None = None) -> Iterator[str]:
        """Yield one greedy answer's text pieces as they are produced; on_stats gets its figures at the end."""

    def stream_batch(self, conversations: list[list[dict]], max_new_tokens: int, adapters: list[str | None],
                     on_stats: Callable[[BatchStats], None] | None = None) -> Iterator[tuple[int, str]]:
        """Yield (row, text piece) for several answers at once, row i with adapters[i]."""

    def generate_batch(self, conversations: list[list[dict]], max_new_tokens: int,
                       adapters: list[str | None]) -> list[str]:
        """Greedy answers (stripped) to several prompts, row i with adapters[i]."""

    def prompt_length(self, messages: list[dict]) -> int:
        """A length to order prompts by, so a batch holds prompts of similar length."""

    def describe(self) -> dict:
        """What a snapshot records of it: backend, base model (and weights hash where known), decoding."""


class LocalBackend:
    """The base model in this process through `Generator`, adapters attached with peft (`AdapterSet`) and
    chosen per row through peft's mixed-batch `adapter_names`: base and adapter rows share a forward pass."""

    kind = "local"

    def __init__(self, generator: Generator):
        self.generator = generator
        self.adapters = AdapterSet(generator.lm)
        self.base_model = portable_base_id(generator.lm.model_id)

    @property
    def loaded(self) -> Mapping[str, AdapterRef]:
        return self.adapters.loaded

    def attach(self, ref: AdapterRef, registry: Registry | None = None) -> str:
        key = ref.key
        if key in self.adapters.loaded:  # attached already: no need to wait for the generator
            return key
        with self.generator.lock:  # attaching changes the shared model: never during a generation
            key = self.adapters.load(ref, registry)
        self._seed_drafts(ref, key)
        return key

    def _seed_drafts(self, ref: AdapterRef, key: str) -> None:
        """The adapter's training answers seed its drafts (core/drafts.py: how fast its answers come, never
        which), where its dataset is on this machine as the manifest recorded it; else they start empty and
        learn from its answers."""
        if self.generator.drafts is None:
            return
        rows, why = adapter_dataset_rows(ref.manifest)
        answers = [r["messages"][-1]["content"] for r in rows or []
                   if isinstance(r.get("messages"), list) and r["messages"]
                   and isinstance(r["messages"][-1], dict) and r["messages"][-1].get("role") == "assistant"
                   and isinstance(r["messages"][-1].get("content"), str)]
        if not answers:
            log.info("drafts for %s start empty (%s)", key, why or "no answers in its dataset")
            return
        names = self.adapters.adapter_names([key]) or [key]
        n = self.generator.learn_answers(names[0], answers)
        log.info("drafts for %s seeded from %d training answers (%d contexts)", key, len(answers), n)

    def stream(self, messages, max_new_tokens, adapter=None, on_stats=None):
        names = self.adapters.adapter_names([adapter])
        return self.generator.stream(messages, max_new_tokens, adapter_names=names, on_stats=on_stats)

    def stream_batch(self, conversations, max_new_tokens, adapters, on_stats=None):
        names = self.adapters.adapter_names(list(adapters))
        return self.generator.stream_batch(conversations, max_new_tokens, adapter_names=names, on_stats=on_stats)

    def generate_batch(self, conversations, max_new_tokens, adapters):
        names = self.adapters.adapter_names(list(adapters))
        return self.generator.generate_batch(conversations, max_new_tokens, adapter_names=names)

    def prompt_length(self, messages):
        return int(self.generator.encode(messages).shape[1])  # tokens

    def describe(self) -> dict:
        lm = self.generator.lm
        return {"backend": self.kind, "base_model": self.base_model, "base_weights_sha256": lm.weights_sha256 or None,
                "decoding": {"strategy": "greedy", "repetition_penalty": self.generator.repetition_penalty,
                             "penalty_over": "prompt and answer" if self.generator.penalize_prompt else "answer",
                             "int8_steps_up_to_rows": self.generator.int8_steps_up_to,
                             "adapter_weights": self.generator.adapter_weights}}


class OpenAIBackend:
    """An OpenAI-compatible chat server: vLLM serving the adapters (`--enable-lora --lora-modules
    name@version=folder`), `onbrand serve`, or anything that answers /v1/chat/completions.

    A row's adapter key is sent as the request's `model`, the bare base as `base_model`. Requests are greedy
    (temperature 0) with the local repetition penalty (`repetition_penalty`, which vLLM and `onbrand serve`
    read; `onbrand serve` applies it as its own settings say, over the answer's tokens by default, while vLLM
    counts the prompt's tokens too, so its answers can differ where a name is copied from the context), and carry "onbrand": {"raw": true}, which tells `onbrand serve` the messages are the prompt as
    is (vLLM ignores the field). Batches go as up to `concurrency` requests at a time: vLLM batches them
    itself; `onbrand serve` queues them (keep it within its --max-waiting + 1, or it answers 429, which is
    retried after its Retry-After)."""

    kind = "openai"

    def __init__(self, base_url: str, base_model: str, api_key: str | None = None, *,
                 repetition_penalty: float = 1.1, concurrency: int = 4, timeout_s: float = 600.0,
                 retries: int = 5):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.base_url = base_url.rstrip("/")
        self.base_model = base_model
        self.repetition_penalty = repetition_penalty  # the local Generator's: the same answers on both
        self.concurrency = concurrency
        self.timeout_s = timeout_s  # one request, first byte to last: a long answer on a busy server
        self.retries = retries  # 429/503 answers retried this many times, after the server's Retry-After
        self._api_key = api_key
        self._loaded: dict[str, AdapterRef] = {}
        self._base_sha256: str | None = None  # where the server states it (onbrand serve's /v1/models)
        host = urllib.parse.urlsplit(self.base_url).hostname or ""
        # a proxy from the environment must not intercept a server on this machine
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({})) \
            if host in ("127.0.0.1", "localhost", "::1") else urllib.request.build_opener()

    @property
    def loaded(self) -> Mapping[str, AdapterRef]:
        return self._loaded

    # --- adapters ---------------------------------------------------------------------------------

    def models(self) -> dict[str, dict]:
        """The server's /models entries by id."""
        body = self._request("GET", "/models")
        return {m["id"]: m for m in body.get("data") or [] if isinstance(m, dict) and "id" in m}

    def attach(self, ref: AdapterRef, registry: Registry | None = None) -> str:
        """Check the server serves this version: its id is listed, and where the server states the weights'
        sha256 (`onbrand serve` does), it is the one in the local registry's manifest."""
        key = ref.key
        if key in self._loaded:
            return key
        served = self.models()
        if key not in served:
            raise BackendError(f"{self.base_url} does not serve adapter {key}; it serves: "
                               f"{', '.join(sorted(served)) or 'nothing'} (vLLM: add --lora-modules {key}=FOLDER)")
        remote = (served[key].get("onbrand") or {}).get("weights_sha256")
        local = ref.weights_sha256
        if remote and local and remote != local:
            raise BackendError(f"{self.base_url} serves other weights as {key}: sha256 {remote[:12]}… there, "
                               f"{local[:12]}… in the local registry")
        self._loaded[key] = ref
        self._base_sha256 = (served.get(self.base_model, {}).get("onbrand") or {}).get("weights_sha256") \
            or self._base_sha256
        log.info("adapter %s answered by %s", key, self.base_url)
        return key

    # --- generation -------------------------------------------------------------------------------

    def _model(self, adapter: str | None) -> str:
        if adapter is not None and adapter not in self._loaded:
            raise UserError(f"adapter {adapter!r} is not attached; attached: {sorted(self._loaded) or 'none'}")
        return adapter or self.base_model

    def _body(self, messages: list[dict], max_new_tokens: int, adapter: str | None, stream: bool) -> dict:
        body = {"model": self._model(adapter),
                "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
                "max_tokens": max_new_tokens, "temperature": 0, "repetition_penalty": self.repetition_penalty,
                "stream": stream, "onbrand": {"raw": True}}
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def stream(self, messages, max_new_tokens, adapter=None, on_stats=None):
        body = self._body(messages, max_new_tokens, adapter, stream=True)  # refused here, before any request
        return self._stream(body, on_stats)

    def _stream(self, body: dict, on_stats) -> Iterator[str]:
        t0 = time.perf_counter()
        first = None
        usage: dict = {}
        pieces = 0
        with self._open("POST", "/chat/completions", body) as resp:
            for event in _sse_events(resp):
                if "error" in event:
                    raise BackendError(f"{self.base_url}: {_error_message(event)}")
                usage = event.get("usage") or usage
                for choice in event.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        if first is None:
                            first = time.perf_counter() - t0
                        pieces += 1
                        yield piece
        total = time.perf_counter() - t0
        if on_stats is not None:
            on_stats(GenerationStats(int(usage.get("prompt_tokens") or 0),
                                     int(usage.get("completion_tokens") or pieces), first or total, total))

    def stream_batch(self, conversations, max_new_tokens, adapters, on_stats=None):
        if len(conversations) != len(adapters):
            raise ValueError(f"{len(conversations)} conversations but {len(adapters)} adapter choices")
        bodies = [self._body(m, max_new_tokens, a, stream=True) for m, a in zip(conversations, adapters)]
        return self._stream_rows(bodies, on_stats)

    def _stream_rows(self, bodies: list[dict], on_stats) -> Iterator[tuple[int, str]]:
        """Each row on its own request, `concurrency` at a time, their pieces merged as they arrive."""
        out: queue.Queue = queue.Queue()
        stop = threading.Event()
        stats: list[GenerationStats | None] = [None] * len(bodies)
        t0 = time.perf_counter()

        def row(i: int) -> None:
            def keep(s: GenerationStats) -> None:
                stats[i] = s

            pieces = self._stream(bodies[i], keep)
            try:
                for piece in pieces:
                    if stop.is_set():  # the reader left: stop reading this answer
                        return
                    out.put((i, piece))
            except BaseException as e:  # handed to the reader
                out.put(e)
            finally:
                pieces.close()  # ends the request
                out.put(None)

        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(bodies)), thread_name_prefix="openai-row")
        for i in range(len(bodies)):
            pool.submit(row, i)
        first, finished = None, 0
        try:
            while finished < len(bodies):
                item = out.get()
                if item is None:
                    finished += 1
                    continue
                if isinstance(item, BaseException):
                    raise item
                first = first if first is not None else time.perf_counter() - t0
                yield item
        finally:
            stop.set()
            pool.shutdown(wait=True)
        total = time.perf_counter() - t0
        if on_stats is not None:
            new = tuple(s.new_tokens if s else 0 for s in stats)
            on_stats(BatchStats(max((s.prompt_tokens for s in stats if s), default=0), new,
                                max(new, default=0), first or total, total))

    def generate_batch(self, conversations, max_new_tokens, adapters):
        if len(conversations) != len(adapters):
            raise ValueError(f"{len(conversations)} conversations but {len(adapters)} adapter choices")
        bodies = [self._body(m, max_new_tokens, a, stream=False) for m, a in zip(conversations, adapters)]

        def one(body: dict) -> str:
            answer = self._request("POST", "/chat/completions", body)
            try:
                return (answer["choices"][0]["message"].get("content") or "").strip()
            except (KeyError, IndexError, TypeError, AttributeError):
                raise BackendError(f"{self.base_url}: a chat completion without choices[0].message") from None

        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(bodies))),
                                thread_name_prefix="openai-batch") as pool:
            return list(pool.map(one, bodies))

    def prompt_length(self, messages):
        return sum(len(m["content"]) for m in messages)  # characters: the server tokenizes, this only orders

    def describe(self) -> dict:
        return {"backend": self.kind, "base_url": self.base_url, "base_model": self.base_model,
                "base_weights_sha256": self._base_sha256,
                "decoding": {"strategy": "greedy", "temperature": 0, "repetition_penalty": self.repetition_penalty}}

    # --- HTTP -------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        with self._open(method, path, body) as resp:
            data = _json_or_none(resp.read())
        if not isinstance(data, dict):
            raise BackendError(f"{self.base_url}{path}: the answer is not a JSON object")
        return data

    def _open(self, method: str, path: str, body: dict | None):
        """The open response of one request; 429 and 503 are retried after the server's Retry-After
        (at most 30 s each), any other error status is a BackendError quoting the server's message."""
        url = self.base_url + path
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                return self._opener.open(request, timeout=self.timeout_s)
            except urllib.error.HTTPError as e:
                detail = _error_message(_json_or_none(e.read())) or e.reason
                if e.code in (429, 503) and attempt < self.retries:
                    wait = min(30.0, _seconds(e.headers.get("Retry-After")))
                    log.info("%s answered %s (%s); retrying in %.0f s", url, e.code, detail, wait)
                    time.sleep(wait)
                    continue
                hint = " (pass --api-key or set ONBRAND_API_KEY)" if e.code == 401 else ""
                raise BackendError(f"{url} answered {e.code}: {detail}{hint}") from None
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                raise BackendError(f"cannot reach {url}: {reason}") from None
        raise AssertionError("unreachable")  # the last attempt returns or raises


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:  # an HTTP date: wait the default
        return 1.0


def _json_or_none(data: bytes):
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _error_message(body) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error or "")


def _sse_events(resp) -> Iterator[dict]:
    """The JSON events of a server-sent event stream, up to `data: [DONE]` (or the stream's end)."""
    for raw in resp:
        line = raw.strip()
        if not line.startswith(b"data:"):
            continue  # blank separators, comments (": ping"), event names
        data = line[len(b"data:"):].strip()
        if data == b"[DONE]":
            return
        event = _json_or_none(data)
        if isinstance(event, dict):
            yield event
