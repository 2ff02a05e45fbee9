"""Token-by-token generation from chat messages, serialised by a lock (one model, many callers).

    gen = Generator(loaded_model)
    for piece in gen.stream(messages, max_new_tokens=200):
        print(piece, end="")
    gen.last_stats  # prompt tokens, new tokens, time to first token, decode tokens/s
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Iterator

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

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


class Generator:
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
               adapter_names: list[str] | None = None) -> Iterator[str]:
        """Yield decoded text pieces as they are produced; greedy decoding, so answers are repeatable.

        adapter_names: peft's per-request adapter choice (e.g. ["__base__"] or ["brand@v0001"]); None for a
        plain base model. Chosen per call, never by switching the model's active adapter.
        """
        input_ids = self.encode(messages)
        streamer = TextIteratorStreamer(self.lm.tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=600)
        cancel = threading.Event()
        kwargs = dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                      max_new_tokens=max_new_tokens, do_sample=False,
                      repetition_penalty=self.repetition_penalty, streamer=streamer,
                      pad_token_id=self.lm.tokenizer.pad_token_id,
                      stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]))
        if adapter_names is not None:
            kwargs["adapter_names"] = adapter_names
        out: dict = {}
        errors: list[BaseException] = []

        def run():
            try:
                with torch.inference_mode():
                    out["ids"] = self.lm.model.generate(**kwargs)
            except BaseException as e:  # surfaced to the consumer below
                errors.append(e)
                streamer.end()

        with self.lock:
            t0 = time.perf_counter()
            first = None
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            try:
                for piece in streamer:
                    if first is None:
                        first = time.perf_counter() - t0
                    if piece:
                        yield piece
            finally:
                cancel.set()  # a consumer that stops reading stops the generation too
                worker.join()
            if errors:
                raise errors[0]
            total = time.perf_counter() - t0
            new = int(out["ids"].shape[1] - input_ids.shape[1]) if "ids" in out else 0
            self.last_stats = GenerationStats(int(input_ids.shape[1]), new, first or total, total)

    def generate(self, messages: list[dict], max_new_tokens: int = 200,
                 adapter_names: list[str] | None = None) -> str:
        return "".join(self.stream(messages, max_new_tokens, adapter_names)).strip()

    def generate_batch(self, conversations: list[list[dict]], max_new_tokens: int = 200,
                       adapter_names: list[str] | None = None) -> list[str]:
        """Greedy answers for several conversations in one batched pass (left padding); with
        adapter_names, each row can use a different adapter (peft mixed batches)."""
        tok = self.lm.tokenizer
        rows = [self.encode(m)[0] for m in conversations]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long, device=self.lm.device)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, width - len(r):] = r
            mask[i, width - len(r):] = 1
        kwargs = dict(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                      repetition_penalty=self.repetition_penalty, pad_token_id=tok.pad_token_id)
        if adapter_names is not None:
            kwargs["adapter_names"] = adapter_names
        with self.lock, torch.inference_mode():
            out = self.lm.model.generate(**kwargs)
        return [tok.decode(o[width:], skip_special_tokens=True).strip() for o in out]
