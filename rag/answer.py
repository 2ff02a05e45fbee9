"""The record of one grounded answer, once it is complete, and of what produced it.

    answer = assistant.answer("how much is the trailform 28?")     # onbrand.assistant
    answer.text, answer.sources, answer.badges, answer.stats
    answer.snapshot.index        # IndexPin("fernhollow", "v0004"): the version that retrieved
    answer.snapshot.adapter      # AdapterPin("fernhollow", "v0017", weights sha256), None for the base
    answer.to_json()             # what scorecards, spot checks, `onbrand ask --json` and `onbrand serve` keep

A request is pinned once, before retrieval (`Assistant.pin`): the index version, the adapter version and its
weights' sha256, the base, the brand kit's sha256 and the decoding settings. Everything after it (retrieval,
the prompt, generation, filling references, badges) uses what was pinned, so a refresh or a promotion landing
mid-answer cannot give an answer one version's sources and another's records. Everything here is frozen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from core.generation import GenerationStats
from core.refs import adapter_key
from rag.fields import Fill


@dataclass(frozen=True)
class IndexPin:
    name: str
    version: str


@dataclass(frozen=True)
class AdapterPin:
    name: str
    version: str
    weights_sha256: str | None

    @property
    def key(self) -> str:
        """"name@version": the adapter's one spelling in requests, registries and records."""
        return adapter_key(self.name, self.version)


@dataclass(frozen=True)
class Snapshot:
    """What produced an answer, fixed when the request was resolved."""
    index: IndexPin | None  # None: no index was read (an answer without retrieval)
    adapter: AdapterPin | None  # None: the bare base answered
    base_model: str  # as a user would fetch it (a hub id)
    base_weights_sha256: str | None
    backend: str  # "local" | "openai"
    kit_sha256: str | None
    decoding: tuple[tuple[str, Any], ...]  # sorted (setting, value) pairs: strategy, penalty, max_new_tokens

    def to_json(self) -> dict:
        return {"index": asdict(self.index) if self.index else None,
                "adapter": {**asdict(self.adapter), "key": self.adapter.key} if self.adapter else None,
                "base": {"model": self.base_model, "weights_sha256": self.base_weights_sha256},
                "backend": self.backend, "kit_sha256": self.kit_sha256, "decoding": dict(self.decoding)}


@dataclass(frozen=True)
class Source:
    product_id: str
    approved_name: str
    field: str
    score: float


@dataclass(frozen=True)
class Badge:
    kind: str  # one of onbrand.guardrails.KINDS
    label: str  # short, for the badge
    detail: str  # what was found (model text: render escaped)


@dataclass(frozen=True)
class Answer:
    """One complete answer: what the shopper sees, where its values came from, what the checks found, how
    long it took, and the snapshot that produced it."""
    question: str
    text: str  # as shown: the model's catalog field references filled
    raw: str  # the model's own text ("[[price]]" as written)
    fills: tuple[Fill, ...]
    sources: tuple[Source, ...]  # retrieved products and the fields that matched, in retrieval order
    badges: tuple[Badge, ...]  # one per failed guardrail check; empty when every check passed
    stats: GenerationStats | None  # timings and token counts (None where the backend gives none)
    snapshot: Snapshot
    request: tuple[tuple[str, Any], ...] = ()  # the request's own choices, sorted pairs: rag, k, collection,
    # in_stock, brand_rules (with the question and the snapshot, what reproduces the prompt)

    @property
    def retrieved_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.product_id for s in self.sources))

    @property
    def adapter(self) -> str | None:
        return self.snapshot.adapter.key if self.snapshot.adapter else None

    def to_json(self) -> dict:
        return {"question": self.question, "text": self.text, "raw": self.raw,
                "fills": [f.to_json() for f in self.fills], "sources": [asdict(s) for s in self.sources],
                "badges": [asdict(b) for b in self.badges], "stats": asdict(self.stats) if self.stats else None,
                "snapshot": self.snapshot.to_json(), "request": dict(self.request)}
