"""The one call the app, the CLI and the evaluation share: question -> retrieved sources -> streamed answer.

    assistant = Assistant.load(Settings(home=config.home()))
    reply = assistant.ask("how much is the trailform 28?")
    for piece in reply.stream: ...
    reply.sources   # product id, approved name, field, score
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
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
    retriever: Retriever = field(init=False)

    def __post_init__(self):
        self.retriever = Retriever(self.index, self.embedder)

    @classmethod
    def load(cls, settings: Settings, progress: Callable[[int, int], None] | None = None,
             show_progress_bar: bool = False) -> "Assistant":
        """Load embedder, index (building the sample's on first run) and base model, once per process."""
        embedder = Embedder.load()
        kit = load_brand_kit(settings.brand_kit) if settings.brand_kit else None
        ensure_index(settings, embedder, kit, progress=progress, show_progress_bar=show_progress_bar)
        index = load_index(settings.index_root, settings.index_name, embedder.info)
        lm = load_base_model(settings.model, settings.model_cache)
        return cls(settings, index, embedder, Generator(lm), kit)

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
            brand_rules: bool = False) -> Reply:
        """Retrieve, build the grounded prompt and start streaming; iterate `reply.stream` for text."""
        question = self.check_question(question)
        limit = self.settings.max_new_tokens_limit
        n_new = max_new_tokens or self.settings.max_new_tokens
        if not 1 <= n_new <= limit:
            raise QuestionError(f"max_new_tokens must be in 1..{limit}, got {n_new}")
        products = self.retrieve(question, k, collection, in_stock)
        messages = build_messages(question, products, self.kit, brand_rules=brand_rules)
        reply = Reply(question, products, messages, iter(()))
        reply.stream = self._stream(reply, n_new)
        return reply

    def _stream(self, reply: Reply, max_new_tokens: int) -> Iterator[str]:
        parts = []
        for piece in self.generator.stream(reply.messages, max_new_tokens):
            parts.append(piece)
            yield piece
        reply.text = "".join(parts).strip()
        reply.stats = self.generator.last_stats

    def answer(self, question: str, **kwargs) -> Reply:
        reply = self.ask(question, **kwargs)
        for _ in reply.stream:
            pass
        return reply


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
