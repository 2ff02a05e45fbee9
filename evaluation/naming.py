"""Base vs adapter on held-out prompts: naming, disclaimers and stated prices, counted.

    compare_naming(assistant, "fernhollow@v0017", held_out_rows)   # {"base", "adapter", "examples", "snapshot"}

Each held-out prompt goes through the pipeline the app uses (`Assistant.pin` once for the run, retrieval,
the prompt, the one decoding loop, field fills, the Answer record); the base and the adapter answer it in one
mixed batch, so both see the identical prompt, retrieved context included. The prompts are the dataset's eval
split: products and phrasing templates that training never saw. Counted on the filled text, as shoppers read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from corpus.brandkit import BrandKit
from corpus.checks import find_approved, find_deprecated, find_generic, missing_disclaimers, required_disclaimers
from corpus.schema import Product
from rag.chunking import price_text


@dataclass
class Tally:
    answers: int = 0
    approved_mentions: int = 0
    deprecated_mentions: int = 0
    generic_mentions: int = 0
    answers_with_deprecated: int = 0
    disclaimers_required: int = 0
    disclaimers_missing: int = 0
    price_questions: int = 0
    price_stated: int = 0
    examples: list[dict] = field(default_factory=list)

    def add(self, row: dict, answer: str, kit: BrandKit, products: dict[str, Product]) -> None:
        about = [products[p] for p in row["product_ids"] if p in products]
        approved = find_approved(answer, kit)
        deprecated = find_deprecated(answer, kit)
        self.answers += 1
        self.approved_mentions += len(approved)
        self.deprecated_mentions += len(deprecated)
        self.generic_mentions += len(find_generic(answer, kit))
        self.answers_with_deprecated += bool(deprecated)
        required = required_disclaimers(kit, row["question"], answer, about)
        self.disclaimers_required += len(required)
        self.disclaimers_missing += len(missing_disclaimers(kit, row["question"], answer, about))
        if row["intent"] == "price" and about:
            self.price_questions += 1
            self.price_stated += price_text(about[0]).split(" ")[0] in answer

    def summary(self) -> dict:
        named = self.approved_mentions + self.deprecated_mentions
        return {
            "answers": self.answers,
            "approved_mentions": self.approved_mentions,
            "deprecated_mentions": self.deprecated_mentions,
            "generic_mentions": self.generic_mentions,
            "approved_name_share": round(self.approved_mentions / named, 4) if named else None,
            "answers_with_deprecated": self.answers_with_deprecated,
            "disclaimers_required": self.disclaimers_required,
            "disclaimers_missing": self.disclaimers_missing,
            "price_questions": self.price_questions,
            "price_stated": self.price_stated,
        }


def compare_naming(assistant, adapter: str, rows: list[dict], max_new_tokens: int = 160, prompts_per_batch: int = 4,
                   progress=None) -> dict:
    """rows: dataset rows (held-out split). Returns base and adapter tallies, examples and the run's snapshot.
    assistant: an onbrand.assistant.Assistant (duck-typed: evaluation sits below the pipeline's package)."""
    pin = assistant.pin(adapter, max_new_tokens)
    if pin.adapter is None:
        raise ValueError("the naming comparison needs an adapter; got none")
    base_pin, kit = pin.without_adapter(), assistant.kit
    products = pin.index.products
    base, tuned = Tally(), Tally()
    for start in range(0, len(rows), prompts_per_batch):
        chunk = rows[start:start + prompts_per_batch]
        prepared = [assistant.prompt_for(r["question"], pin=pin) for r in chunk]  # (retrieved, messages)
        convs = [messages for _, messages in prepared]
        raws = assistant.answer_batch(convs + convs, [None] * len(chunk) + [pin.adapter] * len(chunk),
                                      pin.max_new_tokens)
        for i, (r, (hits, messages)) in enumerate(zip(chunk, prepared)):
            answers = []
            for tally, p, raw in ((base, base_pin, raws[i]), (tuned, pin, raws[len(chunk) + i])):
                text, fills = assistant.fill(raw, hits, pin=p)
                answer = assistant.complete(p, r["question"], hits, messages, raw.strip(), text, fills, None,
                                            assistant.request())
                tally.add(r, answer.text, kit, products)
                answers.append(answer.text)
            if len(tuned.examples) < 12:
                tuned.examples.append({"question": r["question"], "base": answers[0], "adapter": answers[1]})
        if progress:
            progress(min(start + prompts_per_batch, len(rows)), len(rows))
    return {"base": base.summary(), "adapter": tuned.summary(), "examples": tuned.examples,
            "snapshot": pin.snapshot.to_json()}
