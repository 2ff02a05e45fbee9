"""The one call the app, the CLI and the evaluation share: question -> retrieved sources -> streamed answer.

    assistant = Assistant.load(Settings(home=config.home()))
    reply = assistant.ask("how much is the trailform 28?")
    for piece in reply.stream: ...
    reply.sources   # product id, approved name, field, score

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
from corpus.brandkit import BrandKit, load_brand_kit
from corpus.ingest import load_catalog
from onbrand.backends import Backend, LocalBackend, OpenAIBackend
from rag.embedding import Embedder
from rag.fields import FieldFiller, Fill, fill_text
from rag.index_store import LoadedIndex, build_index, current_version, load_index
from rag.prompting import build_messages
from rag.retrieval import ProductHits, Retriever
from tuning.loading import AdapterSet, portable_base_id
from tuning.registry import Registry, RegistryError

SHIPPED_ADAPTERS = Path(__file__).resolve().parents[1] / "tuning" / "shipped"
DEFAULT = "default"  # ask(adapter=DEFAULT): the adapter configured in Settings (its promoted version)

log = logging.getLogger(__name__)


class QuestionError(UserError):
    pass


@dataclass(frozen=True)
class Source:
    product_id: str
    approved_name: str
    field: str
    score: float


@dataclass
class Reply:
    question: str
    products: list[ProductHits]
    messages: list[dict]
    stream: Iterator[str]
    adapter: str | None = None  # "name@version" that answered, None for the bare base
    text: str = ""  # what the shopper sees: the model's text with its catalog field references filled
    stats: GenerationStats | None = None
    raw: str = ""  # the model's own text, references as written ("[[price]]")
    fills: list[Fill] = field(default_factory=list)  # which value came from which record and field

    @property
    def sources(self) -> list[Source]:
        return [Source(ph.product_id, ph.approved_name, h.field, round(h.score, 4))
                for ph in self.products for h in ph.hits]


@dataclass
class SideBySide:
    """Base and adapter answers to one question over the same retrieved context, from one batched pass.
    Iterate `stream` for (column, piece): column 0 is the base, 1 the adapter; `texts` fill in as it runs."""
    question: str
    products: list[ProductHits]
    messages: list[dict]
    adapter: str  # "name@version" in column 1
    stream: Iterator[tuple[int, str]]
    texts: list[str] = field(default_factory=lambda: ["", ""])
    stats: BatchStats | None = None
    raws: list[str] = field(default_factory=lambda: ["", ""])
    fills: list[list[Fill]] = field(default_factory=lambda: [[], []])

    @property
    def sources(self) -> list[Source]:
        return Reply(self.question, self.products, self.messages, iter(())).sources


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
                                penalize_prompt=settings.penalize_prompt)
        registry = Registry(settings.adapter_root)
        seed_shipped_adapters(registry)
        assistant = cls(settings, index, embedder, backend, kit, registry)
        if settings.adapter:
            assistant.default_adapter = assistant.load_adapter(settings.adapter)
        return assistant

    def load_adapter(self, spec: str) -> str:
        """Verify and attach "name" (its promoted version) or "name@version"; return its key."""
        if self.registry is None:
            raise UserError("no adapter registry configured")
        name, _, version = spec.partition("@")
        ref = self.registry.get(name, version or None)
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

    def retrieve(self, question: str, k: int | None = None, collection: str | None = None,
                 in_stock: bool | None = None) -> list[ProductHits]:
        self.follow_current()
        return self.retriever.retrieve(self.check_question(question), k or None, collection=collection,
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
                   collection: str | None = None, in_stock: bool | None = None,
                   ) -> tuple[list[ProductHits], list[dict]]:
        """The retrieved products and the chat messages the model gets for one question.

        rag=False: no retrieval (the model answers from its weights); brand_rules: the brand kit's rules go
        in the system prompt. The app, the CLI and the evaluation's variants all build prompts here.
        """
        question = self.check_question(question)
        products = self.retrieve(question, k, collection, in_stock) if rag else []
        return products, build_messages(question, products if rag else None, self.kit, brand_rules=brand_rules)

    def records(self, products: list[ProductHits]) -> list:
        """The catalog records of retrieved products, from the index version that retrieved them."""
        return [self.index.products[ph.product_id] for ph in products if ph.product_id in self.index.products]

    def filler(self, products: list[ProductHits]) -> FieldFiller:
        """Fills the answer's catalog field references from these retrieved products (rag/fields.py)."""
        return FieldFiller.for_records(self.records(products), self.index.products.values(), self.kit)

    def fill(self, raw: str, products: list[ProductHits]) -> tuple[str, list[Fill]]:
        """A finished answer's text with its references filled, and the fills: the path the scorecard takes
        for batched answers, the same FieldFiller the streaming paths use."""
        return _strip(*fill_text(raw, self.records(products), self.index.products.values(), self.kit))

    def answer_batch(self, conversations: list[list[dict]], adapters: list[str | None],
                     max_new_tokens: int | None = None) -> list[str]:
        """Greedy answers to several prompts in one batched pass; row i uses adapters[i] (an adapter key
        or spec, DEFAULT, or None for the bare base) — peft mixed-adapter batches, no global switch."""
        if len(conversations) != len(adapters):
            raise ValueError(f"{len(conversations)} conversations but {len(adapters)} adapter choices")
        keys = [self.resolve_adapter(a) for a in adapters]
        return self.backend.generate_batch(conversations, max_new_tokens or self.settings.max_new_tokens, keys)

    def prompt_length(self, messages: list[dict]) -> int:
        """A length to order prompts by (tokens on the local backend; the scorecard batches by it)."""
        return self.backend.prompt_length(messages)

    def ask(self, question: str, k: int | None = None, collection: str | None = None,
            in_stock: bool | None = None, max_new_tokens: int | None = None,
            brand_rules: bool = False, adapter: str | None = DEFAULT) -> Reply:
        """Retrieve, build the grounded prompt and start streaming; iterate `reply.stream` for text.

        adapter: DEFAULT (the configured one), None (bare base), "name" or "name@version" — chosen for
        this request only; no global adapter state changes.
        """
        question = self.check_question(question)
        limit = self.settings.max_new_tokens_limit
        n_new = max_new_tokens or self.settings.max_new_tokens
        if not 1 <= n_new <= limit:
            raise QuestionError(f"max_new_tokens must be in 1..{limit}, got {n_new}")
        products, messages = self.prompt_for(question, k=k, collection=collection, in_stock=in_stock,
                                             brand_rules=brand_rules)
        key = self.resolve_adapter(adapter)
        reply = Reply(question, products, messages, iter(()), adapter=key)
        reply.stream = self._stream(reply, n_new)
        return reply

    def _stream(self, reply: Reply, max_new_tokens: int) -> Iterator[str]:
        parts = []
        filler = self.filler(reply.products)

        def keep(stats: GenerationStats) -> None:  # this request's figures, set before the lock is released
            reply.stats = stats

        pieces = self.backend.stream(reply.messages, max_new_tokens, reply.adapter, on_stats=keep)
        for piece in filler.stream(pieces):
            parts.append(piece)
            yield piece
        reply.raw = filler.raw.strip()
        reply.text, reply.fills = _strip("".join(parts), filler.fills)

    def side_by_side(self, question: str, k: int | None = None, collection: str | None = None,
                     in_stock: bool | None = None, max_new_tokens: int | None = None,
                     brand_rules: bool = False, adapter: str | None = DEFAULT) -> SideBySide:
        """Retrieve once, then stream the base's and the adapter's answers to the identical messages in one
        batched pass (locally a peft mixed batch: adapter_names [BASE, key]); iterate `result.stream`."""
        question = self.check_question(question)
        n_new = max_new_tokens or self.settings.max_new_tokens
        if not 1 <= n_new <= self.settings.max_new_tokens_limit:
            raise QuestionError(f"max_new_tokens must be in 1..{self.settings.max_new_tokens_limit}, got {n_new}")
        key = self.resolve_adapter(adapter)
        if key is None:
            raise QuestionError("side by side compares the base with an adapter: choose an adapter")
        products, messages = self.prompt_for(question, k=k, collection=collection, in_stock=in_stock,
                                             brand_rules=brand_rules)
        pair = SideBySide(question, products, messages, key, iter(()))
        pair.stream = self._stream_pair(pair, n_new)
        return pair

    def _stream_pair(self, pair: SideBySide, max_new_tokens: int) -> Iterator[tuple[int, str]]:
        parts: list[list[str]] = [[], []]
        fillers = [self.filler(pair.products), self.filler(pair.products)]

        def keep(stats: BatchStats) -> None:
            pair.stats = stats

        for row, piece in self.backend.stream_batch([pair.messages, pair.messages], max_new_tokens,
                                                    [None, pair.adapter], on_stats=keep):
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

    def answer(self, question: str, **kwargs) -> Reply:
        reply = self.ask(question, **kwargs)
        for _ in reply.stream:
            pass
        return reply


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
        added.append(f"{name}@{version}")
    for name in dict.fromkeys(a.partition("@")[0] for a in added):  # after every import: the newest, not the first
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
