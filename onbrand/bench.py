"""`onbrand bench`: throughput and latency figures as JSON, medians and ratios from one run.

Measures embedding throughput, query latency (embed + FAISS search) on the sample catalog and on a
synthetic catalog, time to first token and decode tokens/s of the configured model at batch 1,
the decode bound set by memory bandwidth (weight bytes read per token / measured copy bandwidth), and
a catalog refresh after one price change beside a full rebuild of the synthetic catalog.
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers.generation.streamers import BaseStreamer

from corpus.brandkit import load_brand_kit
from corpus.ingest import load_catalog
from corpus.schema import Catalog, Product, Stock
from onbrand.assistant import ensure_index
from onbrand.config import Settings
from onbrand.generation import Generator
from onbrand.model import load_base_model
from rag.embedding import Embedder
from rag.index_store import build_index, load_index
from rag.prompting import build_messages
from rag.refresh import refresh_index
from rag.retrieval import Retriever

log = logging.getLogger(__name__)

_LINES = ["Alder", "Brook", "Cinder", "Dune", "Elm", "Fjord", "Glen", "Heath", "Isle", "Juniper"]
_KINDS = [("Backpacks", "capacity", "L"), ("Tents", "weight", "kg"), ("Headlamps", "output", "lumens"),
          ("Jackets", "waterproof rating", "mm"), ("Stoves", "output", "W"), ("Boots", "drop", "mm")]
_WORDS = ("light durable packable waterproof breathable roomy quick warm compact rugged recycled "
          "trail alpine family weekend ultralight storm summit valley ridge river").split()


def synthetic_catalog(n: int, seed: int = 0) -> Catalog:
    """n plausible, distinct products (names, specs, prose) for scale measurements."""
    rng = random.Random(seed)
    products = []
    for i in range(n):
        line = _LINES[i % len(_LINES)]
        category, spec, unit = _KINDS[(i // len(_LINES)) % len(_KINDS)]
        words = " ".join(rng.choice(_WORDS) for _ in range(40))
        products.append(Product(
            id=f"SYN-{i:06d}", name=f"{line} {rng.choice(_WORDS).title()} {i}", collection=line,
            category=category, price=round(rng.uniform(10, 600), 2),
            specs={spec: f"{rng.randint(1, 900)} {unit}", "weight": f"{rng.uniform(0.1, 4):.2f} kg"},
            colors=(rng.choice(["Moss", "Slate", "Ember", "Sand"]),),
            stock=rng.choice(list(Stock)), description=f"A {words}."))
    return Catalog(tuple(products), source=f"<synthetic {n}>", fmt="jsonl")


def query_latency(retriever: Retriever, queries: list[str], k: int = 3) -> dict:
    times = []
    for q in queries:
        t0 = time.perf_counter()
        retriever.retrieve(q, k=k)
        times.append((time.perf_counter() - t0) * 1000)
    return {"queries": len(times), "p50_ms": round(float(np.percentile(times, 50)), 2),
            "p99_ms": round(float(np.percentile(times, 99)), 2)}


class _TokenClock(BaseStreamer):
    """Timestamps each generated token; the first put() is the prompt."""

    def __init__(self):
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value):
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self.times.append(time.perf_counter())

    def end(self):
        pass


def measure_bandwidth(mb: int = 512, runs: int = 5) -> float:
    """Bytes/s of a large tensor copy (read + write), median of runs."""
    src = torch.empty(mb * 1024 * 1024 // 4, dtype=torch.float32).uniform_()
    dst = torch.empty_like(src)
    dst.copy_(src)
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        dst.copy_(src)
        rates.append(2 * src.numel() * 4 / (time.perf_counter() - t0))
    return statistics.median(rates)


def generation_figures(gen: Generator, messages: list[dict], new_tokens: int, runs: int) -> dict:
    model, tok = gen.lm.model, gen.lm.tokenizer
    ids = gen.encode(messages)
    ttfts, rates, counts = [], [], []
    with torch.inference_mode():
        model.generate(ids, max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)  # warm-up
        for _ in range(runs):
            clock = _TokenClock()
            t0 = time.perf_counter()
            model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                           min_new_tokens=new_tokens, do_sample=False, streamer=clock,
                           pad_token_id=tok.pad_token_id)
            ttfts.append(clock.times[0] - t0)
            if len(clock.times) > 1:
                rates.append((len(clock.times) - 1) / (clock.times[-1] - clock.times[0]))
            counts.append(len(clock.times))
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    bandwidth = measure_bandwidth()
    bound = bandwidth / weight_bytes
    decode = statistics.median(rates)
    return {
        "model": gen.lm.model_id, "dtype": str(gen.lm.dtype).removeprefix("torch."), "device": str(gen.lm.device),
        "threads": torch.get_num_threads(), "prompt_tokens": int(ids.shape[1]), "new_tokens": new_tokens,
        "runs": runs, "ttft_ms_median": round(statistics.median(ttfts) * 1000, 1),
        "decode_tokens_per_s_median": round(decode, 1),
        "weight_bytes_per_token": weight_bytes, "copy_bandwidth_gb_per_s": round(bandwidth / 1e9, 2),
        "decode_bound_tokens_per_s": round(bound, 1), "fraction_of_bound": round(decode / bound, 3),
    }


def refresh_vs_rebuild(embedder: Embedder, catalog: Catalog, root: Path, name: str = "synthetic",
                       rebuild_seconds: float | None = None, runs: int = 3) -> dict:
    """Full rebuild vs refresh after one product's price changed, on the same catalog and embedder.

    Builds the index first unless `rebuild_seconds` says it is already built under root/name. Each run
    changes another product's price and refreshes; refresh seconds are diff + embed + write + publish
    (the embedder is loaded already). Parsing the export (JSONL) is timed apart. Medians of `runs`.
    """
    if rebuild_seconds is None:
        t0 = time.perf_counter()
        build_index(catalog, embedder, root, name, show_progress_bar=True)
        rebuild_seconds = time.perf_counter() - t0
    products = list(catalog.products)
    totals, cpus, parses, stages, last = [], [], [], [], None
    for run in range(runs):
        i = (run * 997 + 13) % len(products)  # a different product each run, spread over the catalog
        products[i] = dataclasses.replace(products[i], price=round(products[i].price + 1.0, 2))
        export = root / f"export-{run}.jsonl"
        export.write_text("".join(json.dumps(p.to_json()) + "\n" for p in products), encoding="utf-8")
        t0 = time.perf_counter()
        changed = load_catalog(export)
        parses.append(time.perf_counter() - t0)
        t0, c0 = time.perf_counter(), time.process_time()
        last = refresh_index(changed, embedder, root, name)
        totals.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)  # all threads of this process: on a shared box, less noisy
        stages.append(last.seconds)
    refresh_s = statistics.median(totals)
    return {"products": len(products), "runs": runs, "rebuild_s": round(rebuild_seconds, 2),
            "refresh_s_median": round(refresh_s, 3), "refresh_cpu_s_median": round(statistics.median(cpus), 3),
            "refresh_stages_s_median": {k: round(statistics.median(s[k] for s in stages), 3) for k in stages[0]},
            "catalog_parse_s_median": round(statistics.median(parses), 3),
            "rebuild_over_refresh": round(rebuild_seconds / refresh_s, 1),
            "refresh_within_1s": refresh_s <= 1.0,
            "last_refresh": {k: v for k, v in last.to_json().items() if k in
                             ("added", "changed", "removed", "unchanged", "embedded_chunks", "copied_chunks")}}


def side_by_side_figures(assistant, question: str, runs: int = 5, max_new_tokens: int | None = None) -> dict:
    """Side by side (base + adapter, one batched pass) beside a single answer, as the app runs them.

    Same question, retrieval, max_new_tokens and greedy decoding; each run times a single adapter
    answer, a single base answer and the side-by-side pass, interleaved so they share the machine's
    noise; medians of `runs` after one warm-up of each. The pass lasts as long as its longer row, and
    the base often runs longer than the adapter, so the ratio per decode step is reported beside the
    wall-time ratios."""
    from onbrand.assistant import DEFAULT

    def single(adapter):
        t0 = time.perf_counter()
        reply = assistant.ask(question, adapter=adapter, max_new_tokens=max_new_tokens)
        for _ in reply.stream:
            pass
        return time.perf_counter() - t0, reply.stats.new_tokens

    def pair():
        t0 = time.perf_counter()
        p = assistant.side_by_side(question, adapter=DEFAULT, max_new_tokens=max_new_tokens)
        for _ in p.stream:
            pass
        return time.perf_counter() - t0, p.stats

    single(DEFAULT), single(None), pair()  # warm-up
    adapter_runs, base_runs, pair_runs = [], [], []
    for _ in range(runs):
        adapter_runs.append(single(DEFAULT))
        base_runs.append(single(None))
        pair_runs.append(pair())
    med = statistics.median
    a_s, b_s, p_s = (med(t for t, _ in r) for r in (adapter_runs, base_runs, pair_runs))
    a_tok, b_tok = med(n for _, n in adapter_runs), med(n for _, n in base_runs)
    p_steps = med(st.steps for _, st in pair_runs)
    a_step = med(t / max(n, 1) for t, n in adapter_runs)
    p_step = med(t / max(st.steps, 1) for t, st in pair_runs)
    return {
        "question": question, "adapter": assistant.default_adapter, "runs": runs,
        "max_new_tokens": max_new_tokens or assistant.settings.max_new_tokens, "threads": torch.get_num_threads(),
        "single_adapter_s_median": round(a_s, 3), "single_adapter_new_tokens": a_tok,
        "single_base_s_median": round(b_s, 3), "single_base_new_tokens": b_tok,
        "side_by_side_s_median": round(p_s, 3), "side_by_side_steps": p_steps,
        "side_by_side_new_tokens": [med(st.new_tokens[i] for _, st in pair_runs) for i in (0, 1)],  # base, adapter
        "ratio_vs_single_adapter": round(p_s / a_s, 3),
        "ratio_vs_longer_single": round(p_s / max(a_s, b_s), 3),
        "ratio_vs_both_singles_in_turn": round(p_s / (a_s + b_s), 3),
        "single_adapter_ms_per_step": round(a_step * 1000, 2), "side_by_side_ms_per_step": round(p_step * 1000, 2),
        "ratio_per_step": round(p_step / a_step, 3),
    }


def _side_by_side_section(settings: Settings, runs: int) -> dict:
    from onbrand.assistant import Assistant

    assistant = Assistant.load(settings, show_progress_bar=True)
    if assistant.default_adapter is None:
        return {"skipped": "no adapter configured (side by side compares the base with an adapter)"}
    names = [c["approved_name"] for c in assistant.index.chunks if c["field"] == "overview"]
    question = f"how much is the {random.Random(0).choice(names).lower()}?"  # run_bench's first query
    return side_by_side_figures(assistant, question, runs=max(runs, 1))


def run_bench(settings: Settings, synthetic_products: int = 10_000, queries: int = 200,
              gen_tokens: int = 64, gen_runs: int = 5, only: str | None = None) -> dict:
    """only="refresh": just the refresh-vs-rebuild section on the synthetic catalog;
    only="side-by-side": just the side-by-side vs single answer section."""
    if only == "side-by-side":
        return {"side_by_side": _side_by_side_section(settings, gen_runs)}
    embedder = Embedder.load()
    if only == "refresh":
        with tempfile.TemporaryDirectory() as tmp:
            return {"refresh": refresh_vs_rebuild(embedder, synthetic_catalog(synthetic_products), Path(tmp))}
    kit = load_brand_kit(settings.brand_kit) if settings.brand_kit else None
    ensure_index(settings, embedder, kit, show_progress_bar=True)
    sample = load_index(settings.index_root, settings.index_name, embedder.info)
    sample_retriever = Retriever(sample, embedder)
    names = [c["approved_name"] for c in sample.chunks if c["field"] == "overview"]
    rng = random.Random(0)
    qs = [f"how much is the {rng.choice(names).lower()}?" for _ in range(queries)]

    catalog = load_catalog(settings.catalog)
    texts = [c["text"] for c in sample.chunks]
    embedder.encode(texts[:64])  # warm-up
    t0 = time.perf_counter()
    embedder.encode(texts)
    sample_rate = len(texts) / (time.perf_counter() - t0)

    result: dict = {
        "embedding": {"model": embedder.info.model_id, "sample_chunks": len(texts),
                      "sample_chunks_per_s": round(sample_rate, 1)},
        "query_latency": {"sample": {"products": len(catalog), "chunks": len(texts),
                                     **query_latency(sample_retriever, qs)}},
    }
    if synthetic_products:
        syn = synthetic_catalog(synthetic_products)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            build_index(syn, embedder, Path(tmp), "synthetic", show_progress_bar=True)
            build_s = time.perf_counter() - t0
            big = load_index(Path(tmp), "synthetic", embedder.info)
            n_chunks = len(big.chunks)
            result["embedding"].update(synthetic_chunks=n_chunks,
                                       synthetic_build_s=round(build_s, 1),
                                       synthetic_chunks_per_s=round(n_chunks / build_s, 1))
            syn_names = [p.name for p in syn.products]
            syn_qs = [f"how much is the {rng.choice(syn_names).lower()}?" for _ in range(queries)]
            result["query_latency"]["synthetic"] = {"products": synthetic_products, "chunks": n_chunks,
                                                    **query_latency(Retriever(big, embedder), syn_qs)}
            result["refresh"] = refresh_vs_rebuild(embedder, syn, Path(tmp), "synthetic", rebuild_seconds=build_s)
    if gen_runs:
        gen = Generator(load_base_model(settings.model, settings.model_cache))
        q = qs[0]
        # the prompt the app would send: the serving retrieval settings
        context = sample_retriever.retrieve(q, k=settings.top_k, chunks_per_product=settings.chunks_per_product,
                                            max_gap=settings.score_gap)
        messages = build_messages(q, context, kit)
        result["generation"] = generation_figures(gen, messages, gen_tokens, gen_runs)
        del gen
        result["side_by_side"] = _side_by_side_section(settings, gen_runs)
    return result
