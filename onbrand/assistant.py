"""The one call the app, the CLI and the evaluation share: question -> retrieved sources -> streamed answer.

    assistant = Assistant.load(Settings(home=config.home()))
    reply = assistant.ask("how much is the trailform 28?")
    for piece in reply.stream: ...
    reply.answer    # the frozen record (rag/answer.py): text, sources, badges, stats, snapshot
    assistant.answer("is the dome in stock?")   # the same, run to the end: the Answer

Every request is pinned first (`pin`): the index version that will retrieve, the adapter version and its
weights' sha256, the base, the brand kit and the decoding settings. Retrieval, the prompt, generation, the
field fills and the badges all use what was pinned, and the finished Answer carries it as its snapshot. The
app, the CLI, `onbrand serve`, the scorecard and spot checks keep that record.

Generation goes through a backend (onbrand/backends.py): the base model in this process (the default), or
an OpenAI-compatible server (Settings.backend = "openai": vLLM serving the adapters, `onbrand serve`).
Retrieval, prompts, field fills and badges stay here, so both answer through the same pipeline.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from core.config import Settings
from core.errors import UserError
from core.generation import BatchStats, Generator, GenerationStats
from core.model import load_base_model
from core.refs import adapter_key, split_key
from core.threads import release_pools
from corpus.brandkit import BrandKit, load_brand_kit
from corpus.ingest import load_catalog
from onbrand.backends import Backend, LocalBackend, OpenAIBackend
from onbrand.guardrails import badges, catalog_names
from rag.answer import AdapterPin, Answer, IndexPin, Snapshot, Source
from rag.embedding import Embedder
from rag.fields import FieldFiller, Fill, fill_text
from rag.index_store import LoadedIndex, build_index, current_version, load_index
from rag.prompting import build_messages
from rag.retrieval import ProductHits, Retriever
from tuning.loading import AdapterSet, portable_base_id
from tuning.registry import Registry, RegistryError

SHIPPED_ADAPTERS = Path(__file__).resolve().parents[1] / "tuning" / "shipped"
DEFAULT = "default"  # ask(adapter=DEFAULT): the adapter configured in Settings (its promoted version)
WARM_QUESTION = "what do you have in stock?"  # Assistant.warm's question: any question builds the same

log = logging.getLogger(__name__)


class QuestionError(UserError):
    pass


@dataclass(frozen=True)
class Pinned:
    """One request resolved before anything runs: the snapshot it will be recorded with, and the index version
    and retriever it reads (held here, so a refresh that lands meanwhile changes nothing for this request)."""
    snapshot: Snapshot
    index: LoadedIndex
    retriever: Retriever
    max_new_tokens: int

    @property
    def adapter(self) -> str | None:
        return self.snapshot.adapter.key if self.snapshot.adapter else None

    def without_adapter(self) -> "Pinned":
        """The same request answered by the bare base (side by side's first column, the scorecard's base rows)."""
        return replace(self, snapshot=replace(self.snapshot, adapter=None))


def sources_of(products: list[ProductHits]) -> tuple[Source, ...]:
    return tuple(Source(ph.product_id, ph.approved_name, h.field, round(h.score, 4))
                 for ph in products for h in ph.hits)


@dataclass
class Reply:
    """An answer while it streams; `answer` holds the frozen record once the stream has ended."""
    question: str
    products: list[ProductHits]
    messages: list[dict]
    stream: Iterator[str]
    pin: Pinned | None = None
    text: str = ""  # what the shopper sees: the model's text with its catalog field references filled
    stats: GenerationStats | None = None
    raw: str = ""  # the model's own text, references as written ("[[price]]")
    fills: list[Fill] = field(default_factory=list)  # which value came from which record and field
    answer: Answer | None = None  # set when the stream ends
    request: dict = field(default_factory=dict)  # retrieval and prompt choices (Answer.request)

    @property
    def adapter(self) -> str | None:
        """"name@version" that answers, None for the bare base."""
        return self.pin.adapter if self.pin else None

    @property
    def sources(self) -> tuple[Source, ...]:
        return sources_of(self.products)


@dataclass
class SideBySide:
    """Base and adapter answers to one question over the same retrieved context, from one batched pass.
    Iterate `stream` for (column, piece): column 0 is the base, 1 the adapter; `texts` fill in as it runs."""
    question: str
    products: list[ProductHits]
    messages: list[dict]
    pin: Pinned  # the adapter's; the base column's is pin.without_adapter()
    stream: Iterator[tuple[int, str]]
    texts: list[str] = field(default_factory=lambda: ["", ""])
    stats: BatchStats | None = None
    raws: list[str] = field(default_factory=lambda: ["", ""])
    fills: list[list[Fill]] = field(default_factory=lambda: [[], []])
    answers: tuple[Answer, Answer] | None = None  # (base, adapter), set when the stream ends
    request: dict = field(default_factory=dict)  # retrieval and prompt choices (Answer.request)

    @property
    def adapter(self) -> str:
        """"name@version" in column 1."""
        return self.pin.adapter

    @property
    def sources(self) -> tuple[Source, ...]:
        return sources_of(self.products)


@dataclass
class Assistant:
    settings: Settings
    index: LoadedIndex
    embedder: Embedder
    generator: Generator | Backend  # a local Generator (served through LocalBackend) or any Backend
    kit: BrandKit | None
    registry: Registry | None = None
    default_adapter: str | None = None  # AdapterSet key served when a request does not choose
    retriever: Retriever = field(init=False)
    backend: Backend = field(init=False)  # what generates: LocalBackend(generator), or the Backend given
    adapters: AdapterSet | None = field(init=False)  # the local backend's peft adapters; None for a remote one
    _index_lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    _refused_version: str | None = field(init=False, repr=False, default=None)  # published but failed to load
    _names: tuple[str, list[str]] | None = field(init=False, repr=False, default=None)  # (index path, names)

    def __post_init__(self):
        self.retriever = Retriever(self.index, self.embedder)
        self.backend = LocalBackend(self.generator) if isinstance(self.generator, Generator) else self.generator
        self.adapters = self.backend.adapters if isinstance(self.backend, LocalBackend) else None

    @classmethod
    def load(cls, settings: Settings, progress: Callable[[int, int], None] | None = None,
             show_progress_bar: bool = False) -> "Assistant":
        """Load embedder, index (building the sample's on first run) and the generation backend, once per
        process: the base model here, or (settings.backend "openai") a client of the server at base_url,
        which answers for settings.model by its hub id."""
        embedder = Embedder.load()
        kit = load_brand_kit(settings.brand_kit) if settings.brand_kit else None
        ensure_index(settings, embedder, kit, progress=progress, show_progress_bar=show_progress_bar)
        index = load_index(settings.index_root, settings.index_name, embedder.info)
        if settings.backend == "openai":
            backend: Generator | Backend = OpenAIBackend(settings.base_url, portable_base_id(settings.model),
                                                         settings.api_key, concurrency=settings.backend_concurrency)
        else:
            backend = Generator(load_base_model(settings.model, settings.model_cache),
                                penalize_prompt=settings.penalize_prompt, int8_rows=settings.int8_rows,
                                adapter_weights=settings.adapter_weights, draft_rows=settings.draft_rows,
                                prompt_cache_bytes=settings.prompt_cache_mb * 2**20)
        registry = Registry(settings.adapter_root)
        seed_shipped_adapters(registry)
        assistant = cls(settings, index, embedder, backend, kit, registry)
        if settings.adapter:
            assistant.default_adapter = assistant.load_adapter(settings.adapter)
        release_pools()  # this thread's OpenMP workers would slow the decoding loop's (core/threads.py)
        return assistant

    def load_adapter(self, spec: str) -> str:
        """Verify and attach "name" (its promoted version) or "name@version"; return its key."""
        if self.registry is None:
            raise UserError("no adapter registry configured")
        ref = self.registry.get(*split_key(spec))
        return self.backend.attach(ref, self.registry)  # at once when attached already

    def resolve_adapter(self, adapter: str | None) -> str | None:
        if adapter == DEFAULT:
            return self.default_adapter
        if adapter is None:
            return None
        if adapter not in self.backend.loaded:
            return self.load_adapter(adapter)
        return adapter

    def check_question(self, question: str) -> str:
        q = question.strip()
        if not q:
            raise QuestionError("the question is empty")
        if len(q) > self.settings.max_question_chars:
            raise QuestionError(f"the question is {len(q)} characters; the limit is "
                                f"{self.settings.max_question_chars}")
        return q

    def check_tokens(self, max_new_tokens: int | None) -> int:
        n_new = max_new_tokens or self.settings.max_new_tokens
        if not 1 <= n_new <= self.settings.max_new_tokens_limit:
            raise QuestionError(f"max_new_tokens must be in 1..{self.settings.max_new_tokens_limit}, got {n_new}")
        return n_new

    def pin(self, adapter: str | None = DEFAULT, max_new_tokens: int | None = None) -> Pinned:
        """Resolve a request once: the adapter (attached if it is not yet), the index version CURRENT names
        now, and the snapshot the answer will carry. Retrieval, fills and badges then read only the pin."""
        n_new = self.check_tokens(max_new_tokens)
        key = self.resolve_adapter(adapter)
        self.follow_current()
        with self._index_lock:  # follow_current swaps both under this lock: never one without the other
            index, retriever = self.index, self.retriever
        adapter_pin = None
        if key is not None:
            ref = self.backend.loaded[key]
            adapter_pin = AdapterPin(ref.name, ref.version, ref.weights_sha256)
        desc = self.backend.describe()
        decoding = {**desc["decoding"], "max_new_tokens": n_new}
        snapshot = Snapshot(IndexPin(index.name, index.version), adapter_pin, desc["base_model"],
                            desc.get("base_weights_sha256"), desc["backend"], self.kit.sha256 if self.kit else None,
                            tuple(sorted(decoding.items())))
        return Pinned(snapshot, index, retriever, n_new)

    def retrieve(self, question: str, k: int | None = None, collection: str | None = None,
                 in_stock: bool | None = None, pin: Pinned | None = None) -> list[ProductHits]:
        retriever = pin.retriever if pin is not None else self.pin(None).retriever
        return retriever.retrieve(self.check_question(question), k or None, collection=collection,
                                  in_stock=in_stock, settings=self.settings.retrieval)

    def follow_current(self) -> bool:
        """Serve the index version CURRENT points at now (a refresh or rollback published since we
        loaded): one small file read per call, a verified reload only when it moved. Returns True on a
        switch. A version that fails to load is logged once and the loaded one keeps serving."""
        root, name = self.index.path.parents[2], self.index.name  # <root>/<name>/versions/<v>
        try:
            version = current_version(root, name)
        except UserError as e:  # a CURRENT that points outside its index: keep serving what is loaded
            if self._refused_version != "CURRENT":
                log.error("index %s: %s; still serving %s", name, e, self.index.version)
            self._refused_version = "CURRENT"
            return False
        if version is None or version == self.index.version or version == self._refused_version:
            return False
        with self._index_lock:
            if version == self.index.version:  # another thread switched while we waited
                return False
            try:
                index = load_index(root, name, self.embedder.info, version=version)
            except UserError as e:
                self._refused_version = version
                log.error("index %s/%s is published but cannot be loaded; still serving %s: %s",
                          name, version, self.index.version, e)
                return False
            was = self.index.version
            self.retriever = Retriever(index, self.embedder)  # the retriever holds its own index
            self.index = index
        log.info("now serving index %s/%s (was %s)", name, version, was)
        return True

    def prompt_for(self, question: str, *, rag: bool = True, brand_rules: bool = False, k: int | None = None,
                   collection: str | None = None, in_stock: bool | None = None, pin: Pinned | None = None,
                   ) -> tuple[list[ProductHits], list[dict]]:
        """The retrieved products and the chat messages the model gets for one question.

        rag=False: no retrieval (the model answers from its weights); brand_rules: the brand kit's rules go
        in the system prompt. The app, the CLI and the evaluation's variants all build prompts here. pin: the
        request's resolution (`pin`); without one, the index version CURRENT names now.
        """
        question = self.check_question(question)
        products = self.retrieve(question, k, collection, in_stock, pin=pin) if rag else []
        return products, build_messages(question, products if rag else None, self.kit, brand_rules=brand_rules)

    def records(self, products: list[ProductHits], pin: Pinned | None = None) -> list:
        """The catalog records of retrieved products, from the index version that retrieved them (the pin's)."""
        index = pin.index if pin is not None else self.index
        return [index.products[ph.product_id] for ph in products if ph.product_id in index.products]

    def filler(self, products: list[ProductHits], pin: Pinned | None = None) -> FieldFiller:
        """Fills the answer's catalog field references from these retrieved products (rag/fields.py)."""
        index = pin.index if pin is not None else self.index
        return FieldFiller.for_records(self.records(products, pin), index.products.values(), self.kit)

    def fill(self, raw: str, products: list[ProductHits], pin: Pinned | None = None) -> tuple[str, list[Fill]]:
        """A finished answer's text with its references filled, and the fills: the path the scorecard takes
        for batched answers, the same FieldFiller the streaming paths use."""
        index = pin.index if pin is not None else self.index
        return _strip(*fill_text(raw, self.records(products, pin), index.products.values(), self.kit))

    def known_names(self, index: LoadedIndex) -> list[str]:
        """Catalog and approved names of one index version, for the unknown-product badge (once per version)."""
        key = str(index.path)
        cached = self._names
        if cached is None or cached[0] != key:
            cached = (key, catalog_names(index.products.values(), self.kit))
            self._names = cached  # one tuple swap: a reader sees the old pair or the new one
        return cached[1]

    def request(self, *, rag: bool = True, k: int | None = None, collection: str | None = None,
                in_stock: bool | None = None, brand_rules: bool = False) -> dict:
        """A request's retrieval and prompt choices as the Answer records them (k resolved to its default)."""
        return {"rag": rag, "k": (k or self.settings.top_k) if rag else None, "collection": collection,
                "in_stock": in_stock, "brand_rules": brand_rules}

    def complete(self, pin: Pinned, question: str, products: list[ProductHits], messages: list[dict], raw: str,
                 text: str, fills: list[Fill], stats: GenerationStats | None, request: dict | None = None) -> Answer:
        """The frozen record of a finished answer: its badges checked against the pinned index's records."""
        found = badges(question, text, self.records(products, pin), messages[-1]["content"], self.kit,
                       self.known_names(pin.index), fills=fills, catalog=pin.index.products.values())
        return Answer(question, text, raw, tuple(fills), sources_of(products), tuple(found), stats, pin.snapshot,
                      tuple(sorted((request or {}).items())))

    def answer_batch(self, conversations: list[list[dict]], adapters: list[str | None],
                     max_new_tokens: int | None = None) -> list[str]:
        """Greedy answers to several prompts in one batched pass; row i uses adapters[i] (an adapter key
        or spec, DEFAULT, or None for the bare base) — peft mixed-adapter batches, no global switch. The same
        decoding loop as `ask` (core/generation.py), its rows started together."""
        if len(conversations) != len(adapters):
            raise ValueError(f"{len(conversations)} conversations but {len(adapters)} adapter choices")
        keys = [self.resolve_adapter(a) for a in adapters]
        return self.backend.generate_batch(conversations, self.check_tokens(max_new_tokens), keys)

    def prompt_length(self, messages: list[dict]) -> int:
        """A length to order prompts by (tokens on the local backend; the scorecard batches by it)."""
        return self.backend.prompt_length(messages)

    def ask(self, question: str, k: int | None = None, collection: str | None = None,
            in_stock: bool | None = None, max_new_tokens: int | None = None,
            brand_rules: bool = False, adapter: str | None = DEFAULT, pin: Pinned | None = None) -> Reply:
        """Retrieve, build the grounded prompt and start streaming; iterate `reply.stream` for text, then read
        `reply.answer`.

        adapter: DEFAULT (the configured one), None (bare base), "name" or "name@version" — chosen for
        this request only; no global adapter state changes. pin: a request resolved already (`pin`), which
        then says the adapter and max_new_tokens.
        """
        question = self.check_question(question)
        pin = pin or self.pin(adapter, max_new_tokens)
        products, messages = self.prompt_for(question, k=k, collection=collection, in_stock=in_stock,
                                             brand_rules=brand_rules, pin=pin)
        reply = Reply(question, products, messages, iter(()), pin,
                      request=self.request(k=k, collection=collection, in_stock=in_stock, brand_rules=brand_rules))
        reply.stream = self._stream(reply)
        return reply

    def _stream(self, reply: Reply) -> Iterator[str]:
        parts = []
        pin = reply.pin
        filler = self.filler(reply.products, pin)

        def keep(stats: GenerationStats) -> None:  # this request's figures, set before the lock is released
            reply.stats = stats

        pieces = self.backend.stream(reply.messages, pin.max_new_tokens, pin.adapter, on_stats=keep)
        for piece in filler.stream(pieces):
            parts.append(piece)
            yield piece
        reply.raw = filler.raw.strip()
        reply.text, reply.fills = _strip("".join(parts), filler.fills)
        reply.answer = self.complete(pin, reply.question, reply.products, reply.messages, reply.raw, reply.text,
                                     reply.fills, reply.stats, reply.request)

    def side_by_side(self, question: str, k: int | None = None, collection: str | None = None,
                     in_stock: bool | None = None, max_new_tokens: int | None = None,
                     brand_rules: bool = False, adapter: str | None = DEFAULT) -> SideBySide:
        """Retrieve once, then stream the base's and the adapter's answers to the identical messages in one
        batched pass (locally a peft mixed batch: adapter_names [BASE, key]); iterate `result.stream`."""
        question = self.check_question(question)
        pin = self.pin(adapter, max_new_tokens)
        if pin.adapter is None:
            raise QuestionError("side by side compares the base with an adapter: choose an adapter")
        products, messages = self.prompt_for(question, k=k, collection=collection, in_stock=in_stock,
                                             brand_rules=brand_rules, pin=pin)
        pair = SideBySide(question, products, messages, pin, iter(()),
                          request=self.request(k=k, collection=collection, in_stock=in_stock, brand_rules=brand_rules))
        pair.stream = self._stream_pair(pair)
        return pair

    def _stream_pair(self, pair: SideBySide) -> Iterator[tuple[int, str]]:
        parts: list[list[str]] = [[], []]
        pin = pair.pin
        fillers = [self.filler(pair.products, pin), self.filler(pair.products, pin)]

        def keep(stats: BatchStats) -> None:
            pair.stats = stats

        for row, piece in self.backend.stream_batch([pair.messages, pair.messages], pin.max_new_tokens,
                                                    [None, pin.adapter], on_stats=keep):
            shown = fillers[row].feed(piece)
            if not shown:
                continue
            parts[row].append(shown)
            pair.texts[row] = "".join(parts[row])
            yield row, shown
        for row, filler in enumerate(fillers):
            rest = filler.finish()
            if rest:
                parts[row].append(rest)
                yield row, rest
            pair.raws[row] = filler.raw.strip()
            pair.texts[row], pair.fills[row] = _strip("".join(parts[row]), filler.fills)
        st = pair.stats
        rows = [GenerationStats(st.prompt_tokens, st.new_tokens[i], st.ttft_s, st.total_s, batch_rows=2)
                if st is not None else None for i in range(2)]
        pair.answers = tuple(self.complete(p, pair.question, pair.products, pair.messages, pair.raws[i],
                                           pair.texts[i], pair.fills[i], rows[i], pair.request)
                             for i, p in enumerate((pin.without_adapter(), pin)))

    def answer(self, question: str, **kwargs) -> Answer:
        """`ask`, run to the end: the frozen Answer."""
        reply = self.ask(question, **kwargs)
        for _ in reply.stream:
            pass
        return reply.answer

    def warm(self) -> None:
        """Build now what the first answers would build while a shopper waits (~1.4 s on the default model: the
        default adapter's and the bare base's decoding weights, the retrieval prompt's system turn kept per
        adapter; README "Speed"), by answering one question with two new tokens on each, as a server or the app
        does once when it starts. Nothing to do on a remote backend."""
        if not isinstance(self.backend, LocalBackend):
            return
        for adapter in ([DEFAULT] if self.default_adapter else []) + [None]:
            self.answer(WARM_QUESTION, adapter=adapter, max_new_tokens=2)


def _strip(text: str, fills: list[Fill]) -> tuple[str, list[Fill]]:
    """The answer without surrounding whitespace, its fills' positions moved to match."""
    lead = len(text) - len(text.lstrip())
    if lead:
        fills = [replace(f, start=f.start - lead, end=f.end - lead) for f in fills]
    return text.strip(), list(fills)


def seed_shipped_adapters(registry: Registry, shipped: Path = SHIPPED_ADAPTERS) -> list[str]:
    """First run: copy adapter versions shipped in the repository into the registry (verified) and
    promote each name's newest one if that name has nothing promoted yet."""
    added = []
    for folder in sorted(shipped.glob("*/v*")) if shipped.is_dir() else []:
        name, version = folder.parent.name, folder.name
        if version in registry.versions(name):
            continue
        registry.import_version(folder)
        added.append(adapter_key(name, version))
    for name in dict.fromkeys(split_key(a)[0] for a in added):  # after every import: the newest, not the first
        if registry.promoted(name) is None:
            newest = registry.versions(name)[-1]
            try:  # through its recorded ship gate when it passed; forced, with the reason recorded, when not
                registry.promote(name, newest, require_gate=True)
            except RegistryError:
                registry.promote(name, newest, force=True,
                                 reason="shipped with the repository without a passing gate; promoted on first run")
    return added


def ensure_index(settings: Settings, embedder: Embedder, kit: BrandKit | None,
                 progress=None, show_progress_bar: bool = False) -> str:
    """Build the configured catalog's index if none is published yet; return the current version."""
    version = current_version(settings.index_root, settings.index_name)
    if version is not None:
        return version
    log.info("no index %r yet: building it from %s", settings.index_name, settings.catalog)
    catalog = load_catalog(settings.catalog)
    return build_index(catalog, embedder, settings.index_root, settings.index_name, kit=kit,
                       progress=progress, show_progress_bar=show_progress_bar)
