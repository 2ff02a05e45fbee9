"""The variants scorecard: the same held-out questions through six setups, scored per answer.

    card = run_scorecard(assistant, cases, adapter="fernhollow", progress=bar_update)
    card.summary()          # variant -> metric -> (value, lo, hi), 95% bootstrap over prompts
    card.differences("rag_adapter", "rag_prompt")   # prompts the adapter fixed / broke / where either
                                                    # contradicts the catalog, with both answers

Every variant goes through `Assistant.prompt_for` (the prompt the app sends) and `Assistant.answer_batch`
(greedy decoding). Rows are batched by prompt shape: the base and adapter rows of the same prompts are one
call, so both see the identical retrieved context; each adapter's rows are prefilled on its own weights with
their common prompt prefix computed once, then decode together, one forward pass per step with peft's
per-row `adapter_names`; finished rows leave the batch (`Generator.generate_batch`).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Callable

from corpus.schema import Catalog
from rag.answer import Answer
from evaluation.metrics import METRICS, AnswerScore, Case, aggregate, metric_counts, passes, score_answer
from evaluation.stats import bootstrap_ci
from rag.fields import filled_spans, quoted_spans
from rag.prompting import format_context


@dataclass(frozen=True)
class Variant:
    name: str
    label: str
    rag: bool  # retrieved catalog context in the prompt
    rules: bool  # the brand kit's rules in the system prompt ("prompt engineering")
    adapter: bool  # the trained LoRA on top of the base


VARIANTS: tuple[Variant, ...] = (
    Variant("base", "Base", rag=False, rules=False, adapter=False),
    Variant("prompt", "Base + prompt", rag=False, rules=True, adapter=False),
    Variant("rag", "RAG", rag=True, rules=False, adapter=False),
    Variant("rag_prompt", "RAG + prompt", rag=True, rules=True, adapter=False),
    Variant("adapter", "Adapter", rag=False, rules=False, adapter=True),
    Variant("rag_adapter", "RAG + adapter", rag=True, rules=False, adapter=True),
)
BY_NAME = {v.name: v for v in VARIANTS}


@dataclass(frozen=True)
class Scored:
    """One variant's answer to one case: the pipeline's record (text, fills, badges, snapshot) and its score."""
    case_id: str
    variant: str
    record: Answer
    score: AnswerScore

    @property
    def answer(self) -> str:
        """As shown: the model's catalog field references filled (rag/fields.py)."""
        return self.record.text

    @property
    def raw(self) -> str:
        return self.record.raw


@dataclass
class Scorecard:
    adapter: str  # "name@version"
    cases: list[Case]
    answers: dict[str, dict[str, Scored]] = field(default_factory=dict)  # case id -> variant -> answer
    retrieved: dict[str, list[str]] = field(default_factory=dict)  # case id -> retrieved product ids
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)  # prompt shape -> seconds its passes took
    snapshot: dict = field(default_factory=dict)  # what every adapter answer was produced with (Snapshot JSON)

    def scores(self, variant: str) -> list[AnswerScore]:
        return [self.answers[c.id][variant].score for c in self.cases if variant in self.answers.get(c.id, {})]

    def summary(self, n_boot: int = 1000, seed: int = 0) -> dict[str, dict[str, dict]]:
        """variant -> metric -> {"value", "lo", "hi", "n"}; value None where the metric never applied."""
        out = {}
        for v in VARIANTS:
            scores = self.scores(v.name)
            if not scores:
                continue
            agg = aggregate(scores)
            row = {}
            for m in METRICS:
                if agg.get(m) is None:
                    row[m] = {"value": None, "lo": None, "hi": None, "n": 0}
                    continue
                value, lo, hi = bootstrap_ci(scores, m, n_boot=n_boot, seed=seed)
                row[m] = {"value": round(value, 4), "lo": round(lo, 4), "hi": round(hi, 4),
                          "n": sum(metric_counts(s, m)[1] for s in scores)}
            out[v.name] = row
        return out

    def differences(self, tuned: str = "rag_adapter", reference: str = "rag_prompt") -> dict[str, list[dict]]:
        """Per prompt: 'fixed' where the tuned variant's answer passes every check that applies and the
        reference's does not; 'broken' the reverse; 'contradicted' where either answer contradicts the
        catalog, whatever else it fails. Each entry names the checks that differ and, per answer, what is
        wrong in it (`problems`: each contradiction with the catalog value, the asks left unanswered, why it
        is not clean)."""
        fixed, broken, contradicted = [], [], []
        for c in self.cases:
            a, b = self.answers[c.id][tuned], self.answers[c.id][reference]
            fa, fb = failures(a.score), failures(b.score)
            entry = {"id": c.id, "question": c.question, "kind": c.kind, reference: b.answer, tuned: a.answer,
                     f"{reference}_fails": fb, f"{tuned}_fails": fa,
                     f"{reference}_problems": problems(b.score), f"{tuned}_problems": problems(a.score)}
            if fb and not fa:
                fixed.append(entry)
            elif fa and not fb:
                broken.append(entry)
            if entry[f"{reference}_problems"]["contradictions"] or entry[f"{tuned}_problems"]["contradictions"]:
                contradicted.append(entry)
        return {"reference": reference, "tuned": tuned, "fixed": fixed, "broken": broken,
                "contradicted": contradicted}


def failures(score: AnswerScore) -> list[str]:
    """The checks one answer fails (retrieval hit@k is not the answer's doing)."""
    return [m for m in METRICS if m != "hit_at_k" and passes(score, m) is False]


def problems(score: AnswerScore) -> dict[str, list[str]]:
    """What is wrong in one answer, in words: each contradiction's message (the claim and the catalog value
    it contradicts), the asked values it does not state, the products it offers that break the question's
    limits, why it is not clean. Empty lists for a score made
    before these fields existed."""
    return {"contradictions": [c.get("message") or f"{c.get('claim')}; catalog: {c.get('catalog')}"
                               for c in getattr(score, "contradictions", None) or ()],
            "unanswered": list(getattr(score, "unanswered", None) or ()),
            "misfits": list(getattr(score, "misfits", None) or ()),
            "not_clean": list(getattr(score, "clean_problems", None) or ())}


def _family(v: Variant) -> str:
    """Variants whose prompts have the same shape share a batched pass: similar lengths pad little, and the
    system prompt (with the brand rules, or the retrieval instructions), identical across one adapter's rows,
    is computed once (Generator.generate_batch)."""
    return ("rules+" if v.rules else "") + ("rag" if v.rag else "plain")


def run_scorecard(assistant, cases: list[Case], adapter: str, catalog: Catalog, *,
                  variants: tuple[Variant, ...] = VARIANTS, max_new_tokens: int | None = None,
                  cases_per_batch: int = 8, in_flight: int = 6,
                  progress: Callable[[int, int], None] | None = None) -> Scorecard:
    """Answer every case with every variant: batched passes per prompt shape — plain (base, adapter),
    retrieval (RAG, RAG + adapter), base + prompt, RAG + prompt. Within a shape the cases are ordered by prompt
    length, so a batch holds prompts of similar length (less padding to compute and to keep in the KV cache).
    in_flight: how many batches are submitted at once. With 1, each batch waits for the last one's longest
    answer; with more, the decoding loop admits a waiting batch as soon as the rows that finished leave room
    (`Generator.max_rows`), so one answer that runs to the token limit no longer holds up the rest (64 RAG +
    rules prompts: 99 s in batches of 32 one at a time, 83 s in batches of 8 with 6 in flight; 64-row
    steps cost more than twice 32-row ones here, so the loop's 32 rows stay the cap). The answers can differ in
    the last bf16 bits from a one-batch-at-a-time run (batch composition). progress(answers done, answers in all)."""
    # one pin for the whole run: the index version, adapter weights and decoding every answer is recorded with,
    # so a refresh or promotion landing mid-run changes nothing here
    pin = assistant.pin(adapter, max_new_tokens)
    key = pin.adapter
    if key is None:
        raise ValueError("the scorecard needs an adapter to compare; got none")
    base_pin = pin.without_adapter()
    k = assistant.settings.top_k
    card = Scorecard(key, list(cases), snapshot=pin.snapshot.to_json(), settings={
        "top_k": k, "max_new_tokens": max_new_tokens or assistant.settings.max_new_tokens,
        "cases_per_batch": cases_per_batch, "in_flight": in_flight, "variants": [v.name for v in variants],
        "score_gap": assistant.settings.score_gap, "chunks_per_product": assistant.settings.chunks_per_product,
        "honour_limits": assistant.settings.retrieval.honour_limits})
    t0 = time.perf_counter()
    sources, hits = {}, {}
    for c in cases:
        products, _ = assistant.prompt_for(c.question, rag=True, pin=pin)
        card.retrieved[c.id] = [ph.product_id for ph in products]
        sources[c.id] = format_context(products)
        hits[c.id] = products
    tasks: list[tuple[str, list[tuple[Case, Variant]], list]] = []
    for family in dict.fromkeys(_family(v) for v in variants):
        members = [v for v in variants if _family(v) == family]
        # the members of one shape differ only in the adapter: one prompt per case serves them all
        prompts = {c.id: assistant.prompt_for(c.question, rag=members[0].rag, brand_rules=members[0].rules,
                                              pin=pin)[1] for c in cases}
        order = sorted(cases, key=lambda c: assistant.prompt_length(prompts[c.id]))  # tokens, or chars over HTTP
        for start in range(0, len(order), cases_per_batch):
            meta = [(c, v) for c in order[start:start + cases_per_batch] for v in members]
            tasks.append((family, meta, [prompts[c.id] for c, _ in meta]))

    def answer(task):
        family, meta, convs = task
        started = time.perf_counter()
        texts = assistant.answer_batch(convs, [key if v.adapter else None for _, v in meta], pin.max_new_tokens)
        return started, time.perf_counter(), texts

    done, total = 0, len(cases) * len(variants)
    spans: dict[str, list[float]] = {}
    with ThreadPoolExecutor(max_workers=max(1, in_flight), thread_name_prefix="scorecard") as pool:
        # submitted in order, at most `in_flight` waiting or decoding at a time
        pending = [(task, pool.submit(answer, task)) for task in tasks[:in_flight]]
        queued = list(tasks[in_flight:])
        while pending:
            task, fut = pending.pop(0)
            started, ended, texts = fut.result()
            if queued:
                nxt = queued.pop(0)
                pending.append((nxt, pool.submit(answer, nxt)))
            family, meta, convs = task
            span = spans.setdefault(family, [started, ended])
            span[0], span[1] = min(span[0], started), max(span[1], ended)
            for (c, v), conv, raw in zip(meta, convs, texts):
                src = sources[c.id] if v.rag else None
                used = hits[c.id] if v.rag else []
                row_pin = pin if v.adapter else base_pin
                # the shopper's text: references filled from the retrieved records, as in the app
                text, fills = assistant.fill(raw, used, pin=row_pin)
                record = assistant.complete(row_pin, c.question, used, conv, raw.strip(), text, fills, None,
                                            assistant.request(rag=v.rag, brand_rules=v.rules))
                score = score_answer(c, text, sources_text=src, retrieved_ids=card.retrieved[c.id],
                                     kit=assistant.kit, catalog=catalog, k=k, quoted=quoted_spans(fills),
                                     filled=filled_spans(fills))
                card.answers.setdefault(c.id, {})[v.name] = Scored(c.id, v.name, record, score)
            done += len(meta)
            if progress:
                progress(done, total)
    # each shape's first submission to its last answer (shapes overlap when in_flight > 1)
    card.timing = {family: round(b - a, 1) for family, (a, b) in spans.items()}
    card.seconds = time.perf_counter() - t0
    return card


def answers_json(card: Scorecard) -> list[dict]:
    rows = []
    for c in card.cases:
        for name, a in card.answers[c.id].items():
            rec = a.record
            rows.append({"id": c.id, "variant": name, "question": c.question, "answer": rec.text,
                         "raw": rec.raw, "fills": [f.to_json() for f in rec.fills],
                         "badges": [asdict(b) for b in rec.badges],
                         "retrieved": card.retrieved.get(c.id, []), "score": asdict(a.score)})
    return rows
