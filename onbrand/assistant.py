"""The one call the app, the CLI and the evaluation share: question -> retrieved sources -> streamed answer.

    assistant = Assistant.load(Settings(home=config.home()))
    reply = assistant.ask("how much is the trailform 28?")
    for piece in reply.stream: ...
    reply.sources   # product id, approved name, field, score
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from corpus.brandkit import BrandKit, load_brand_kit
from corpus.errors import UserError
from corpus.ingest import load_catalog
from onbrand.config import Settings
from onbrand.generation import Generator, GenerationStats
from onbrand.model import load_base_model
from rag.embedding import Embedder
from rag.index_store import LoadedIndex, build_index, current_version, load_index
from rag.prompting import build_messages
from rag.retrieval import ProductHits, Retriever
from tuning.loading import AdapterSet
from tuning.registry import Registry

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
    text: str = ""
    stats: GenerationStats | None = None

    @property
    def sources(self) -> list[Source]:
        return [Source(ph.product_id, ph.approved_name, h.field, round(h.score, 4))
                for ph in self.products for h in ph.hits]


@dataclass
class Assistant:
    settings: Settings
    index: LoadedIndex
    embedder: Embedder
    generator: Generator
    kit: BrandKit | None
    registry: Registry | None = None
    default_adapter: str | None = None  # AdapterSet key served when a request does not choose
    retriever: Retriever = field(init=False)
    adapters: AdapterSet = field(init=False)

    def __post_init__(self):
        self.retriever = Retriever(self.index, self.embedder)
        self.adapters = AdapterSet(self.generator.lm)

    @classmethod
    def load(cls, settings: Settings, progress: Callable[[int, int], None] | None = None,
             show_progress_bar: bool = False) -> "Assistant":
        """Load embedder, index (building the sample's on first run) and base model, once per process."""
        embedder = Embedder.load()
        kit = load_brand_kit(settings.brand_kit) if settings.brand_kit else None
        ensure_index(settings, embedder, kit, progress=progress, show_progress_bar=show_progress_bar)
        index = load_index(settings.index_root, settings.index_name, embedder.info)
        lm = load_base_model(settings.model, settings.model_cache)
        registry = Registry(settings.adapter_root)
        seed_shipped_adapters(registry)
        assistant = cls(settings, index, embedder, Generator(lm), kit, registry)
        if settings.adapter:
            assistant.default_adapter = assistant.load_adapter(settings.adapter)
        return assistant

    def load_adapter(self, spec: str) -> str:
        """Verify and attach "name" (its promoted version) or "name@version"; return its key."""
        if self.registry is None:
            raise UserError("no adapter registry configured")
        name, _, version = spec.partition("@")
        ref = self.registry.get(name, version or None)
        with self.generator.lock:  # attaching changes the shared model: never during a generation
            return self.adapters.load(ref, self.registry)

    def resolve_adapter(self, adapter: str | None) -> str | None:
        if adapter == DEFAULT:
            return self.default_adapter
        if adapter is None:
            return None
        if adapter not in self.adapters.loaded:
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
        return self.retriever.retrieve(self.check_question(question), k or self.settings.top_k,
                                       collection=collection, in_stock=in_stock, max_gap=self.settings.score_gap,
                                       chunks_per_product=self.settings.chunks_per_product)

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
        products = self.retrieve(question, k, collection, in_stock)
        messages = build_messages(question, products, self.kit, brand_rules=brand_rules)
        key = self.resolve_adapter(adapter)
        reply = Reply(question, products, messages, iter(()), adapter=key)
        reply.stream = self._stream(reply, n_new)
        return reply

    def _stream(self, reply: Reply, max_new_tokens: int) -> Iterator[str]:
        parts = []
        names = self.adapters.adapter_names([reply.adapter])
        for piece in self.generator.stream(reply.messages, max_new_tokens, adapter_names=names):
            parts.append(piece)
            yield piece
        reply.text = "".join(parts).strip()
        reply.stats = self.generator.last_stats

    def answer(self, question: str, **kwargs) -> Reply:
        reply = self.ask(question, **kwargs)
        for _ in reply.stream:
            pass
        return reply


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
        if registry.promoted(name) is None:
            registry.promote(name, registry.versions(name)[-1], force=True,
                             reason="shipped with the repository; promoted on first run")
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
