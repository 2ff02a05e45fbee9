"""`onbrand bench`: throughput and latency figures as JSON, medians and ratios from one run.

Measures embedding throughput, query latency (embed + FAISS search) on the sample catalog and on a
synthetic catalog, a catalog refresh after one price change beside a full rebuild of the synthetic catalog,
and the decoding loop (`decode`): tokens/s at batch 1 for the bare base, one adapter and side by side, each
as a share of the decode bound set by memory bandwidth (weight bytes read per token / copy bandwidth, both
measured in the same run), TTFT for the serving prompt, p50/p95 time to answer and total tokens/s for 1, 2, 4
and 8 concurrent requests, the other choice of adapter weights (`Settings.adapter_weights`: a merged copy's
int8 weights, or the base's own weights plus the LoRA product) beside the kept one, and llama.cpp on the
bundled GGUF when llama-cpp-python is installed.
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from core import decode_kernels
from core.config import ADAPTER_WEIGHTS, SAMPLE_DIR, Settings
from core.generation import BASE, BatchStats, Generator
from core.model import default_gguf
from corpus.brandkit import load_brand_kit
from corpus.ingest import load_catalog
from corpus.schema import Catalog, Product, Stock
from evaluation.metrics import load_cases
from onbrand.assistant import ensure_index
from rag.embedding import Embedder
from rag.index_store import build_index, load_index
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


def measure_bandwidth(mb: int = 512, runs: int = 7) -> float:
    """Bytes/s of a large tensor copy (read + write), the best of runs: on a shared machine other work only
    ever lowers it, and the bound should be the memory's, not the neighbours'."""
    src = torch.empty(mb * 1024 * 1024 // 4, dtype=torch.float32).uniform_()
    dst = torch.empty_like(src)
    dst.copy_(src)
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        dst.copy_(src)
        rates.append(2 * src.numel() * 4 / (time.perf_counter() - t0))
    return max(rates)


def _caller_pool() -> None:
    """A parallel operation in the calling thread, as a shopper's question embedding is before each answer:
    it leaves the thread an OpenMP worker pool (which the generator ends before it waits, core/threads.py)."""
    torch.empty(1 << 22).fill_(1.0)


def _rate(stats) -> float:
    """Decode tokens (or batch steps) per second after the first token."""
    n = stats.steps if isinstance(stats, BatchStats) else stats.new_tokens
    decode_s = stats.total_s - stats.ttft_s
    return (n - 1) / decode_s if n > 1 and decode_s > 0 else 0.0


def _pcts(values: list[float]) -> dict:
    return {"p50_s": round(float(np.percentile(values, 50)), 3), "p95_s": round(float(np.percentile(values, 95)), 3)}


def concurrent_figures(gen: Generator, prompts: list[list[dict]], adapter: str | None, new_tokens: int,
                       clients: int, rounds: int, exact: bool = True) -> dict:
    """`clients` requests released together into the generator's loop (each its own prompt, same adapter,
    exactly `new_tokens` tokens; exact=False: up to them, each as long as its answer); per request the time to
    its answer's last token, its first, and its longest wait between two tokens (a streaming answer's pause
    while others are prefilled), and the total tokens/s of each round (all tokens / first submit to last
    token). Percentiles over every request of every round."""
    return interleaved_concurrent_figures({"gen": gen}, prompts, adapter, new_tokens, clients, rounds, exact)["gen"]


def interleaved_concurrent_figures(gens: dict[str, Generator], prompts: list[list[dict]], adapter: str | None,
                                   new_tokens: int, clients: int, rounds: int, exact: bool = True) -> dict:
    """`concurrent_figures` for each generator, round by round in turn (each round's prompts asked of each), so
    that they share the machine's noise."""
    names = [adapter] if adapter is not None else None
    seen = {key: {"answer": [], "ttft": [], "pause": [], "rate": [], "peak": []} for key in gens}
    for r in range(rounds):
        for key, gen in gens.items():
            start = threading.Barrier(clients)
            stats: list = [None] * clients
            ends = [0.0] * clients

            def client(i: int) -> None:
                start.wait()
                for _ in gen.stream(prompts[(r * clients + i) % len(prompts)], new_tokens, adapter_names=names,
                                    on_stats=lambda s, i=i: stats.__setitem__(i, s),
                                    min_new_tokens=new_tokens if exact else 0):
                    pass
                ends[i] = time.perf_counter()

            threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
            t0 = time.perf_counter()
            [t.start() for t in threads]
            [t.join() for t in threads]
            got = seen[key]
            got["answer"] += [s.total_s for s in stats]
            got["ttft"] += [s.ttft_s for s in stats]
            got["pause"] += [s.longest_pause_s for s in stats]
            got["peak"] += [s.batch_rows for s in stats]
            got["rate"].append(sum(s.new_tokens for s in stats) / (max(ends) - t0))
    return {key: {"clients": clients, "rounds": rounds, "new_tokens": new_tokens, "answer": _pcts(got["answer"]),
                  "ttft": _pcts(got["ttft"]), "longest_pause": _pcts(got["pause"]),
                  "total_tokens_per_s": round(statistics.median(got["rate"]), 1),
                  "most_rows_in_a_step": max(got["peak"])} for key, got in seen.items()}


def joined_answers(gen: Generator, prompts: list[list[dict]], names: list[str] | None, new_tokens: int) -> list[str]:
    """Every prompt's answer with all of them submitted at once (one batch, each row prefilled alone)."""
    out: list = [None] * len(prompts)

    def ask(i: int) -> None:
        out[i] = "".join(gen.stream(prompts[i], new_tokens, adapter_names=names))

    threads = [threading.Thread(target=ask, args=(i,), daemon=True) for i in range(len(prompts))]
    with gen.lock:  # the loop waits between two steps until every request is queued
        [t.start() for t in threads]
        gen.wait_for(lambda: gen.rows_waiting == len(prompts), 600)
    [t.join() for t in threads]
    return out


def llama_cpp_figures(gguf: Path, prompt_ids: list[int], new_tokens: int, runs: int, threads: int,
                      beside: dict[str, Callable[[], float]] | None = None) -> dict:
    """llama.cpp (llama-cpp-python, when installed; never required) on the bundled GGUF, the same prompt
    tokens, greedy, exactly `new_tokens` tokens: TTFT and decode tokens/s, medians of runs. `beside`: onbrand's
    answers (name -> one timed answer's decode tokens/s), each timed right after each llama.cpp run, so that
    onbrand_<name>_over_llama_cpp divides medians that shared the machine's noise (run P: 0.93 from onbrand's
    batch-1 figure at the start of the bench against 1.35 in run O, the same code)."""
    try:
        import llama_cpp
    except ImportError:
        return {"skipped": "llama-cpp-python is not installed (optional: pip install llama-cpp-python)"}
    llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=max(2048, len(prompt_ids) + new_tokens + 8),
                          n_threads=threads, verbose=False)
    beside = beside or {}
    ttfts, rates, ours = [], [], {name: [] for name in beside}
    for run in range(runs + 1):  # the first run warms up
        # forget the last run's tokens: `generate` otherwise keeps the longest cached prefix (reset=True or
        # not), and every run after the first would time a prompt already in its KV cache (a 10 ms "TTFT")
        llm.reset()
        t0, times = time.perf_counter(), []
        for _token in llm.generate(prompt_ids, top_k=1, temp=0.0, repeat_penalty=1.0, reset=True):
            times.append(time.perf_counter())
            if len(times) >= new_tokens:
                break
        ttfts.append(times[0] - t0)
        rates.append((len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0)
        for name, answer in beside.items():
            rate = answer()
            if run:
                ours[name].append(rate)
    llama_rate = statistics.median(rates[1:])
    out = {"gguf": gguf.name, "threads": threads, "runs": runs,
           "ttft_ms_median": round(statistics.median(ttfts[1:]) * 1000, 1),
           "decode_tokens_per_s_median": round(llama_rate, 1)}
    if ours:
        out["onbrand_beside_tokens_per_s_median"] = {n: round(statistics.median(v), 1) for n, v in ours.items()}
    for name, values in ours.items():
        # three significant figures, not three decimals: a tiny ratio must not read as 0
        out[f"onbrand_{name}_over_llama_cpp"] = (float(f"{statistics.median(values) / llama_rate:.3g}")
                                                 if llama_rate > 0 else 0.0)
    return out


@contextlib.contextmanager
def _cold(gen, drafts: bool = False, prompt_cache: bool = False):
    """`gen` (where it is the local loop) without drafts and without kept prompts, unless asked for: for figures
    whose prompts repeat, where a draft table that learnt an answer, or a prompt kept from the last run, would
    flatter them (each is timed on its own, in `draft_figures` and `prompt_cache_figures`)."""
    if not isinstance(gen, Generator):
        yield gen
        return
    saved = gen.draft_rows, gen.prompt_cache_bytes
    gen.draft_rows = saved[0] if drafts else 0
    gen.prompt_cache_bytes = saved[1] if prompt_cache else 0
    try:
        yield gen
    finally:
        gen.draft_rows, gen.prompt_cache_bytes = saved


def decode_figures(gen: Generator, prompts: list[list[dict]], adapter: str | None, new_tokens: int = 64,
                   runs: int = 5, concurrency: tuple[int, ...] = (1, 2, 4, 8), identity_prompts: int = 8,
                   gguf: Path | None = None, bandwidth_mb: int = 512) -> dict:
    """`_decode_figures`, every figure without drafts (core/drafts.py) and kept prompts
    (Generator.prompt_cache_bytes): these prompts repeat; `draft_figures` and `prompt_cache_figures` time them
    on their own."""
    with _cold(gen):
        return _decode_figures(gen, prompts, adapter, new_tokens, runs, concurrency, identity_prompts, gguf,
                               bandwidth_mb)


def _decode_figures(gen: Generator, prompts: list[list[dict]], adapter: str | None, new_tokens: int,
                    runs: int, concurrency: tuple[int, ...], identity_prompts: int, gguf: Path | None,
                    bandwidth_mb: int) -> dict:
    """Decode speed of the generator's loop against the memory-bandwidth bound measured in this run.

    prompts[0] is the serving prompt (what the app sends for a question). First, with `gen` the process's only
    generator, as in a server: batch 1 on the kept path (the bare base, one adapter, side by side: base +
    adapter rows in one batch), then 1..8 concurrent requests. Then each speed means switched off on its own
    (int8 steps, LeanStep, merging, the plain copy for bare rows, ending the caller's OpenMP pool;
    `adapter_peft_rows` is the path before them: peft's per-row adapter_names through transformers' forward),
    each on a generator of its own, timed beside the kept path timed again (`batch1_kept_beside_means`), which
    their ratios divide by; among them the other adapter weights (`on_lora`, or `on_merged` when the kept path
    is lora: batch 1, side by side, lone and 4 shoppers, joined = solo). Runs interleaved so they share the
    machine's noise, exactly `new_tokens` tokens each, medians. Then the kept path's answers against the old path's on `identity_prompts` prompts (natural
    length), and llama.cpp on the GGUF when it is installed. The bound: base weight bytes per token / copy
    bandwidth.
    """
    lm = gen.lm
    peft_model = hasattr(lm.model, "peft_config")
    base_names = [BASE] if peft_model else None
    names = [adapter] if adapter is not None else base_names
    plain = gen._plain_engine(lm.model) if peft_model else lm.model
    weight_bytes = sum(p.numel() * p.element_size() for p in plain.parameters())
    lora_bytes = sum(p.numel() * p.element_size() for p in lm.model.parameters()) - weight_bytes
    bandwidth = measure_bandwidth(bandwidth_mb)
    bound = bandwidth / weight_bytes
    serving = prompts[0]
    pen = gen.repetition_penalty
    # each means on its own: the kept path (gen) beside the same loop with one means switched off
    no_lean = Generator(lm, pen, draft_rows=0, lean_steps=False)  # transformers' forward for every step
    old = Generator(lm, pen, draft_rows=0, merge_adapters=False, lean_steps=False)  # peft's per-row adapter_names, as before
    peft_lean = Generator(lm, pen, draft_rows=0, merge_adapters=False)  # peft's per-row arithmetic in LeanStep
    disabled = Generator(lm, pen, draft_rows=0, bare_copy=False, lean_steps=False)  # bare rows under peft's disable_adapter()
    gemv = Generator(lm, pen, draft_rows=0, gemv=True)  # LeanStep with matrix-vector products for a lone row
    bf16 = Generator(lm, pen, draft_rows=0)  # LeanStep for every row (no Int8Step)
    # the kept path, but the calling thread keeps its OpenMP pool while the loop decodes (core/threads.py)
    pool_kept = Generator(lm, pen, draft_rows=0, penalize_prompt=gen.penalize_prompt, int8_rows=gen.int8_rows,
                          end_caller_pools=False)
    # the kept path, but Int8Step on torch's _weight_int8pack_mm and operations, not core/decode_kernels.c
    torch_int8 = Generator(lm, pen, draft_rows=0, penalize_prompt=gen.penalize_prompt, int8_rows=gen.int8_rows,
                           int8_kernel=False)
    # the kept path, but the kernels' int8 products as fp32 FMAs (not VNNI's exact integer sums)
    fma_int8 = Generator(lm, pen, draft_rows=0, penalize_prompt=gen.penalize_prompt, int8_rows=gen.int8_rows, int8_vnni=False)
    # the kept path, but every prompt's system turn prefilled again (none kept across requests)
    uncached = Generator(lm, pen, draft_rows=0, penalize_prompt=gen.penalize_prompt, int8_rows=gen.int8_rows,
                         prefix_cache_bytes=0)
    # the other choice of what an adapter's rows run on (Generator.adapter_weights: a merged copy's int8 weights,
    # or the base's own weights plus the LoRA product, which side by side and mixed adapters share)
    alt_weights = next(w for w in ADAPTER_WEIGHTS if w != gen.adapter_weights)
    alt = Generator(lm, pen, draft_rows=0, penalize_prompt=gen.penalize_prompt, int8_rows=gen.int8_rows, adapter_weights=alt_weights)
    kept = {"bare": (gen, base_names), "adapter": (gen, names)}
    kept_pairs = {"side_by_side": gen} if adapter is not None else {}
    # the kept path first, while this generator is the process's only one (as in a server); each means is then
    # timed beside the kept path timed again, and its ratio is taken within that second round (run M: the
    # kept path 118.6 tok/s there against 120.0 alone, once the kept-pool ablation was moved out of it)
    batch1 = _timed(kept, kept_pairs, serving, new_tokens, runs, adapter, bound)
    # n clients' round r asks prompts r*n .. r*n + n - 1; the lone answers (n = 1) ask as many prompts as the
    # largest round set does, so every ratio over the lone answer divides by prompts of the same mix (the lone
    # answer on prompts 0 and 1 only made the ratios move with those two prompts' lengths: 0.69 s in run N,
    # 0.94 s in run O)
    rounds = max(2, runs // 2)

    def shoppers(g: Generator, counts) -> dict:
        return {str(n): concurrent_figures(g, prompts, names[0] if names else None, new_tokens, n,
                                           min(len(prompts), rounds * max(concurrency)) if n == 1 else rounds)
                for n in counts}

    conc = shoppers(gen, concurrency)
    means: dict = {}
    four_rows: dict = {}  # 4 shoppers on VNNI's products and on the FMAs, beside each other
    if adapter is not None:
        means = _timed({**kept, "bare_bf16": (bf16, base_names), "adapter_bf16": (bf16, names),
                        "bare_no_lean": (no_lean, base_names), "bare_peft_disabled": (disabled, base_names),
                        "adapter_merged_no_lean": (no_lean, names), "adapter_peft_rows_lean": (peft_lean, names),
                        "adapter_peft_rows": (old, names), "adapter_gemv": (gemv, names),
                        "adapter_int8_torch_kernel": (torch_int8, names),
                        "adapter_system_turn_uncached": (uncached, names), "adapter_int8_fma": (fma_int8, names),
                        f"adapter_on_{alt_weights}": (alt, names)},
                       {**kept_pairs, "side_by_side_bf16": bf16, "side_by_side_no_lean": no_lean,
                        f"side_by_side_on_{alt_weights}": alt},
                       serving, new_tokens, runs, adapter, bound)
        batch1.update({k: v for k, v in means.items() if k not in batch1})
        if 4 in concurrency:  # VNNI's products pay off with rows
            four: dict = {"kept": [], "int8_fma": []}
            for _ in range(2):
                for key, g in (("kept", gen), ("int8_fma", fma_int8)):
                    four[key].append(concurrent_figures(g, prompts, names[0] if names else None, new_tokens, 4,
                                                        max(2, runs // 2)))
            four_rows = {k: {"total_tokens_per_s": statistics.median(c["total_tokens_per_s"] for c in v),
                             "p50_s": statistics.median(c["answer"]["p50_s"] for c in v)} for k, v in four.items()}
        # the other adapter weights' lone answers and 4 shoppers, as the kept path's above
        alt_conc = shoppers(alt, [n for n in (1, 4) if n in concurrency])
        # last, on its own: a generator whose loop keeps its OpenMP pool while idle (and whose callers keep
        # theirs) slows every other loop in the process while that pool lives (core/threads.py); timed beside
        # the others it made the whole round of means ~1.8x slower (run L: the kept path 70.7 tok/s there
        # against 127.9 alone; run M, with it here: 118.6 against 120.0). Its ratio is against the kept path
        # of the round above.
        means.update(_timed({"adapter_caller_pool_kept": (pool_kept, names)}, {}, serving, new_tokens, runs,
                            adapter, bound))
        batch1["adapter_caller_pool_kept"] = means["adapter_caller_pool_kept"]
        pool_kept.end_caller_pools = True  # its loop ends its pool when next idle
        for _ in pool_kept.stream(serving, 1, adapter_names=names):
            pass
    result: dict = {
        "model": lm.model_id, "dtype": str(lm.dtype).removeprefix("torch."), "device": str(lm.device),
        "threads": torch.get_num_threads(), "adapter": adapter, "prompt_tokens": int(gen.encode(serving).shape[1]),
        "decode_kernels": {"available": decode_kernels.available(), "unavailable": decode_kernels.unavailable_reason()},
        "new_tokens": new_tokens, "runs": runs, "adapter_weights": gen.adapter_weights,
        "bound": {"weight_bytes_per_token": weight_bytes, "lora_bytes": lora_bytes,
                  "copy_bandwidth_gb_per_s": round(bandwidth / 1e9, 2), "decode_tokens_per_s": round(bound, 1)},
        "batch1": batch1,
        # the kept path timed again beside the other means (their ratios below are taken against these)
        "batch1_kept_beside_means": {k: means[k] for k in [*kept, *kept_pairs] if k in means},
        **({"concurrent_4_vnni_vs_fma": four_rows} if four_rows else {}),
        "ttft_ms_serving_prompt": batch1["adapter"]["ttft_ms"],
    }
    if adapter is not None:
        single = batch1["adapter"]
        result["ratios"] = {
            "adapter_over_bare_tokens_per_s": round(single["tokens_per_s"] / batch1["bare"]["tokens_per_s"], 3),
            "side_by_side_over_single_answer_s": round(batch1["side_by_side"]["answer_s"] / single["answer_s"], 3),
            # each means on its own, against the kept path timed beside it
            "adapter_over_old_peft_rows_tokens_per_s": round(
                means["adapter"]["tokens_per_s"] / means["adapter_peft_rows"]["tokens_per_s"], 3),
            "side_by_side_bf16_over_single_bf16_answer_s": round(
                means["side_by_side_bf16"]["answer_s"] / means["adapter_bf16"]["answer_s"], 3),
            "int8_steps_tokens_per_s": round(means["adapter"]["tokens_per_s"] / means["adapter_bf16"]["tokens_per_s"], 3),
            "int8_steps_bare_tokens_per_s": round(
                means["bare"]["tokens_per_s"] / means["bare_bf16"]["tokens_per_s"], 3),
            "int8_steps_side_by_side_steps_per_s": round(
                means["side_by_side"]["steps_per_s"] / means["side_by_side_bf16"]["steps_per_s"], 3),
            "merging_tokens_per_s": round(
                means["adapter_merged_no_lean"]["tokens_per_s"] / means["adapter_peft_rows"]["tokens_per_s"], 3),
            "lean_steps_merged_tokens_per_s": round(
                means["adapter_bf16"]["tokens_per_s"] / means["adapter_merged_no_lean"]["tokens_per_s"], 3),
            "end_caller_pools_tokens_per_s": round(
                means["adapter"]["tokens_per_s"] / means["adapter_caller_pool_kept"]["tokens_per_s"], 3),
            "int8_kernel_tokens_per_s": round(
                means["adapter"]["tokens_per_s"] / means["adapter_int8_torch_kernel"]["tokens_per_s"], 3),
            "int8_vnni_tokens_per_s": round(
                means["adapter"]["tokens_per_s"] / means["adapter_int8_fma"]["tokens_per_s"], 3),
            **({"int8_vnni_4_concurrent_total_tokens_per_s": round(
                four_rows["kept"]["total_tokens_per_s"] / four_rows["int8_fma"]["total_tokens_per_s"], 3)}
               if four_rows else {}),
            "kept_system_turn_ttft": round(
                means["adapter_system_turn_uncached"]["ttft_ms"] / means["adapter"]["ttft_ms"], 3),
            "gemv_tokens_per_s": round(means["adapter_gemv"]["tokens_per_s"] / means["adapter_bf16"]["tokens_per_s"], 3),
            "lean_steps_peft_rows_tokens_per_s": round(
                means["adapter_peft_rows_lean"]["tokens_per_s"] / means["adapter_peft_rows"]["tokens_per_s"], 3),
            "lean_steps_bare_tokens_per_s": round(
                means["bare_bf16"]["tokens_per_s"] / means["bare_no_lean"]["tokens_per_s"], 3),
            "lean_steps_side_by_side_steps_per_s": round(
                means["side_by_side_bf16"]["steps_per_s"] / means["side_by_side_no_lean"]["steps_per_s"], 3),
            "plain_copy_over_peft_disabled_tokens_per_s": round(
                means["bare_no_lean"]["tokens_per_s"] / means["bare_peft_disabled"]["tokens_per_s"], 3),
        }
        # the other adapter weights against the kept path's bare rows and its own single answer, in one round
        other, other_pair = means[f"adapter_on_{alt_weights}"], means[f"side_by_side_on_{alt_weights}"]
        result[f"on_{alt_weights}"] = {
            "adapter_weights": alt_weights,
            "adapter_over_bare_tokens_per_s": round(other["tokens_per_s"] / means["bare"]["tokens_per_s"], 3),
            "side_by_side_over_single_answer_s": round(other_pair["answer_s"] / other["answer_s"], 3),
            "adapter_fraction_of_bound": other["fraction_of_bound"],
            "adapter_over_kept_adapter_tokens_per_s": round(other["tokens_per_s"] / means["adapter"]["tokens_per_s"], 3),
            "side_by_side_answer_s_over_kept": round(other_pair["answer_s"] / means["side_by_side"]["answer_s"], 3),
            "concurrent": alt_conc,
            **({"concurrent_ratios": _over_lone(alt_conc)} if {"1", "4"} <= set(alt_conc) else {}),
        }
    result["concurrent"] = conc
    if "1" in conc:
        result["concurrent_ratios"] = _over_lone(conc)
    if adapter is not None and identity_prompts:
        same, first_diff, solo = 0, [], []
        for m in prompts[:identity_prompts]:
            fast = "".join(gen.stream(m, new_tokens, adapter_names=names))
            slow = "".join(old.stream(m, new_tokens, adapter_names=names))
            solo.append(fast)
            same += fast == slow
            if fast != slow:
                first_diff.append(next((i for i, (a, b) in enumerate(zip(fast, slow)) if a != b),
                                       min(len(fast), len(slow))))
        result["kept_vs_old_path_answers"] = {"prompts": len(solo), "identical": same,
                                              "first_difference_at_char": first_diff, "max_new_tokens": new_tokens}
        joined = joined_answers(gen, prompts[:identity_prompts], names, new_tokens)
        result["joined_vs_solo_answers"] = {"prompts": len(solo), "max_new_tokens": new_tokens,
                                            "identical": sum(a == b for a, b in zip(joined, solo))}
        # the other adapter weights: joined = solo too, and how many of its answers are the kept path's
        alt_solo = ["".join(alt.stream(m, new_tokens, adapter_names=names)) for m in prompts[:identity_prompts]]
        alt_joined = joined_answers(alt, prompts[:identity_prompts], names, new_tokens)
        result[f"on_{alt_weights}"].update({
            "joined_vs_solo_answers": {"prompts": len(alt_solo), "max_new_tokens": new_tokens,
                                       "identical": sum(a == b for a, b in zip(alt_joined, alt_solo))},
            "answers_identical_to_kept": sum(a == b for a, b in zip(alt_solo, solo))})
    if gguf is not None:
        beside = {key: (lambda n=n: _rate(_one_answer(gen, serving, new_tokens, n)))
                  for key, n in (("bare", base_names), ("adapter", names))}
        result["llama_cpp"] = llama_cpp_figures(gguf, gen.encode(serving)[0].tolist(), new_tokens, runs,
                                                torch.get_num_threads(), beside=beside)
    return result


def draft_figures(gen: Generator, prompts: list[list[dict]], adapter: str | None, max_new_tokens: int = 200,
                  clients: int = 4) -> dict:
    """`_draft_figures`, every prompt prefilled (no kept prompts)."""
    with _cold(gen, drafts=True):
        return _draft_figures(gen, prompts, adapter, max_new_tokens, clients)


def _draft_figures(gen: Generator, prompts: list[list[dict]], adapter: str | None, max_new_tokens: int,
                   clients: int) -> dict:
    """Drafted tokens (core/drafts.py) against none, on prompts each asked once (a table that had seen a
    prompt's answer would draft all of it): `gen` as configured, its drafts as they stood when its adapter was
    attached (seeded from the adapter's training answers where they are at hand) and learning from each answer
    as it would in service, beside a generator without drafts and one with its table's drafts only (no prompt
    lookup), each learning on its own copy of the table. Natural-length answers (up to max_new_tokens),
    interleaved prompt by prompt: each one's time to answer and decode tokens/s, the answers identical, tokens
    per step; side by side (the base's row and the adapter's, on a fourth generator with its own copy of the
    table) with drafts and without; then `clients` shoppers released together on further prompts, on each, round
    by round in turn."""
    names = [adapter] if adapter is not None else None
    lm = gen.lm

    def sibling(draft_rows: int, lookup: bool = True) -> Generator:
        g = Generator(lm, gen.repetition_penalty, penalize_prompt=gen.penalize_prompt, int8_rows=gen.int8_rows,
                      adapter_weights=gen.adapter_weights, draft_rows=draft_rows)
        if g.drafts is not None:
            g.drafts = gen.drafts.copy()
        g.prompt_lookup = lookup
        return g

    plain, table_only = sibling(0), sibling(gen.draft_rows, lookup=False)
    pairs = {"plain": plain, "drafted": sibling(gen.draft_rows)} if adapter is not None else {}
    lone_gens = {"plain": plain, "drafted": gen, "table_only": table_only}
    one_each = prompts[:len(prompts) // 2]
    for g in {*lone_gens.values(), *pairs.values()}:  # warm-up (merged copies, int8 weights) on a prompt not timed
        for _ in g.stream_batch([prompts[-1]] * 2, 2, adapter_names=[BASE, adapter] if pairs else None):
            pass
    got: dict[str, list] = {key: [] for key in lone_gens}
    texts: dict[str, list] = {key: [] for key in lone_gens}
    pair_stats: dict[str, list] = {key: [] for key in pairs}
    pair_texts: dict[str, list] = {key: [] for key in pairs}
    steps0, drafted0 = gen.engine_steps["int8"], gen.engine_steps["drafted"]
    for m in one_each:
        for key, g in lone_gens.items():
            stats, text = _lone(g, m, names, max_new_tokens)
            got[key].append(stats)
            texts[key].append(text)
        for key, g in pairs.items():
            stats, pieces = _pair(g, m, adapter, max_new_tokens)
            pair_stats[key].append(stats)
            pair_texts[key].append(pieces)
    steps, drafted = gen.engine_steps["int8"] - steps0, gen.engine_steps["drafted"] - drafted0
    tokens = sum(s.new_tokens - 1 for s in got["drafted"])  # the first token of each comes from its prefill
    med = statistics.median
    lone = {key: {"answer": _pcts([s.total_s for s in v]), "ttft_ms": round(med(s.ttft_s for s in v) * 1000, 1),
                  "decode_tokens_per_s": round(med(_rate(s) for s in v), 1),
                  "new_tokens": _pcts([s.new_tokens for s in v])} for key, v in got.items()}
    out = {
        "draft_rows": gen.draft_rows, "prompt_lookup": gen.prompt_lookup, "prompts": len(one_each),
        "max_new_tokens": max_new_tokens,
        "identical_answers": sum(a == b for a, b in zip(texts["plain"], texts["drafted"])),
        "identical_answers_table_only": sum(a == b for a, b in zip(texts["plain"], texts["table_only"])),
        "tokens_per_step": round(tokens / steps, 2) if steps else None,
        "drafted_tokens_per_step": round(drafted / steps, 2) if steps else None,
        "drafts_agreed": _agreed(gen),
        "lone": lone,
        "lone_ratios": {
            "p50_answer_plain_over_drafted": round(lone["plain"]["answer"]["p50_s"] / lone["drafted"]["answer"]["p50_s"], 3),
            "decode_tokens_per_s_drafted_over_plain": round(
                lone["drafted"]["decode_tokens_per_s"] / lone["plain"]["decode_tokens_per_s"], 3),
            "decode_tokens_per_s_drafted_over_table_only": round(
                lone["drafted"]["decode_tokens_per_s"] / lone["table_only"]["decode_tokens_per_s"], 3)},
    }
    if pairs:
        side = {key: {"answer": _pcts([s.total_s for s in v]), "ttft_ms": round(med(s.ttft_s for s in v) * 1000, 1),
                      "steps_median": med(s.steps for s in v)} for key, v in pair_stats.items()}
        for key, fig in side.items():
            fig["p50_over_lone_answer"] = round(fig["answer"]["p50_s"] / lone[key]["answer"]["p50_s"], 3)
        out["side_by_side"] = {
            **side, "drafts_agreed": _agreed(pairs["drafted"]),
            "identical_pairs": sum(a == b for a, b in zip(pair_texts["plain"], pair_texts["drafted"])),
            "adapter_row_is_the_lone_answer": sum(p[1] == t for p, t in zip(pair_texts["drafted"], texts["drafted"])),
            "p50_answer_plain_over_drafted": round(
                side["plain"]["answer"]["p50_s"] / side["drafted"]["answer"]["p50_s"], 3)}
    rest = prompts[len(prompts) // 2:-1]
    rounds = max(1, len(rest) // clients)
    shoppers = interleaved_concurrent_figures({"plain": plain, "drafted": gen}, rest, adapter, max_new_tokens,
                                              clients, rounds, exact=False)
    out["shoppers"] = shoppers
    out["shoppers_ratios"] = {
        "p50_answer_plain_over_drafted": round(
            shoppers["plain"]["answer"]["p50_s"] / shoppers["drafted"]["answer"]["p50_s"], 3),
        "total_tokens_per_s_drafted_over_plain": round(
            shoppers["drafted"]["total_tokens_per_s"] / shoppers["plain"]["total_tokens_per_s"], 3)}
    return out


def prompt_cache_figures(gen: Generator, prompts: list[list[dict]], adapter: str, max_new_tokens: int = 200) -> dict:
    """A question asked again (Generator.prompt_cache_bytes), without drafts (a table that learnt the first
    answer would draft the second). Each prompt, with nothing kept before it: side by side asked cold; then
    (nothing kept again) asked once (its prefill kept), asked again (served from the kept prompt) and side by
    side (the adapter's row served, the base's prefilled; what the app does when side by side is switched on
    after an answer). Time to first token and to answer, medians; the answers asked again must be the first."""
    with _cold(gen, prompt_cache=True):
        names = [adapter]
        got: dict[str, list] = {"first": [], "again": [], "pair_cold": [], "pair_after_single": []}
        same = pairs_same = 0

        def pair(m, key):
            stats, pieces = _pair(gen, m, adapter, max_new_tokens)
            got[key].append(stats)
            return pieces

        for m in prompts:
            gen._prompts.clear()
            cold = pair(m, "pair_cold")
            gen._prompts.clear()
            texts = []
            for key in ("first", "again"):
                stats, text = _lone(gen, m, names, max_new_tokens)
                got[key].append(stats)
                texts.append(text)
            same += texts[0] == texts[1]
            pairs_same += pair(m, "pair_after_single") == cold
        med = statistics.median
        fig = {key: {"ttft_ms": round(med(s.ttft_s for s in v) * 1000, 1), "answer": _pcts([s.total_s for s in v])}
               for key, v in got.items()}
        return {"prompt_cache_mb": round(gen.prompt_cache_bytes / 2**20, 1), "prompts": len(prompts),
                "answers_asked_again_identical": same, "pairs_after_single_identical_to_cold": pairs_same, **fig,
                "ttft_first_over_again": round(fig["first"]["ttft_ms"] / fig["again"]["ttft_ms"], 2),
                "pair_answer_p50_cold_over_after_single": round(
                    fig["pair_cold"]["answer"]["p50_s"] / fig["pair_after_single"]["answer"]["p50_s"], 3)}


def _lone(gen: Generator, prompt: list[dict], names: list[str] | None, max_new_tokens: int):
    """One answer of natural length from a caller thread with an OpenMP pool, as the app's: its
    GenerationStats and text."""
    stats: list = []
    _caller_pool()
    text = "".join(gen.stream(prompt, max_new_tokens, adapter_names=names, on_stats=stats.append))
    return stats[0], text


def _pair(gen: Generator, prompt: list[dict], adapter: str, max_new_tokens: int):
    """Side by side on one prompt (the base's row, the adapter's): its BatchStats and the two texts."""
    stats, pieces = [], ["", ""]
    _caller_pool()
    for row, piece in gen.stream_batch([prompt, prompt], max_new_tokens, adapter_names=[BASE, adapter],
                                       on_stats=stats.append):
        pieces[row] += piece
    return stats[0], pieces


def _agreed(gen: Generator) -> dict:
    """Per source of drafts (the table, prompt lookup): the tokens drafted and the share the model's own
    choices agreed with."""
    out = {}
    for source in ("table", "lookup"):
        drafted = gen.engine_steps["drafted_" + source]
        out[source] = {"drafted": drafted,
                       "agreed_share": round(gen.engine_steps["agreed_" + source] / drafted, 3) if drafted else None}
    return out


def _over_lone(conc: dict) -> dict:
    """Each number of shoppers' p50 time to answer and total tokens/s over the lone answer's (conc["1"])."""
    lone = conc["1"]
    return {n: {"p50_answer_over_lone": round(c["answer"]["p50_s"] / lone["answer"]["p50_s"], 3),
                "total_tokens_per_s_over_lone": round(c["total_tokens_per_s"] / lone["total_tokens_per_s"], 3)}
            for n, c in conc.items() if n != "1"}


def _one_answer(gen: Generator, serving: list[dict], new_tokens: int, names: list[str] | None):
    """One batch-1 answer of exactly `new_tokens` tokens, from a caller thread that has an OpenMP pool as the
    app's has: its GenerationStats."""
    stats: list = []
    _caller_pool()
    for _ in gen.stream(serving, new_tokens, adapter_names=names, on_stats=stats.append, min_new_tokens=new_tokens):
        pass
    return stats[0]


def _timed(variants: dict, pairs: dict, serving: list[dict], new_tokens: int, runs: int, adapter: str | None,
           bound: float) -> dict:
    """Batch-1 figures of each (generator, adapter names) variant and each side-by-side pair (base + adapter
    rows), interleaved so they share the machine's noise: run 0 warms up (builds the merged and plain copies),
    then medians of `runs`."""
    got: dict[str, list] = {k: [] for k in [*variants, *pairs]}
    for run in range(runs + 1):
        for key, (g, n) in variants.items():
            stats = _one_answer(g, serving, new_tokens, n)
            if run:
                got[key].append(stats)
        for key, g in pairs.items():
            pair = []
            _caller_pool()
            for _ in g.stream_batch([serving, serving], new_tokens, adapter_names=[BASE, adapter],
                                    on_stats=pair.append, min_new_tokens=new_tokens):
                pass
            if run:
                got[key].append(pair[0])
    med = statistics.median
    out = {}
    for key, stats in got.items():
        rate = med(_rate(s) for s in stats)
        out[key] = {"tokens_per_s": round(rate * (2 if key in pairs else 1), 1),
                    "steps_per_s": round(rate, 1), "fraction_of_bound": round(rate / bound, 3),
                    "ttft_ms": round(med(s.ttft_s for s in stats) * 1000, 1),
                    "answer_s": round(med(s.total_s for s in stats), 3)}
    return out


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
    """`_side_by_side_figures` without drafts and kept prompts: it asks one question again and again."""
    with _cold(assistant.generator):
        return _side_by_side_figures(assistant, question, runs, max_new_tokens)


def _side_by_side_figures(assistant, question: str, runs: int, max_new_tokens: int | None) -> dict:
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


def _questions(chunks: list[dict], n: int) -> list[str]:
    """run_bench's price questions about sample products: the same seed, so the first is its first query."""
    names = [c["approved_name"] for c in chunks if c["field"] == "overview"]
    rng = random.Random(0)
    return [f"how much is the {rng.choice(names).lower()}?" for _ in range(n)]


def _varied_questions(assistant, n: int) -> list[str]:
    """Shoppers' questions of every kind: the sample merchant's held-out evaluation prompts where the bench runs
    on its index (never in an adapter's training data), else run_bench's price questions."""
    path = SAMPLE_DIR / "eval_prompts.jsonl"
    if assistant.settings.index_name == "sample" and path.is_file():
        questions = [case.question for case in load_cases(path)]
        random.Random(0).shuffle(questions)
        if len(questions) >= n:
            return questions[:n]
    return _questions(assistant.index.chunks, n)


def _generation_sections(settings: Settings, new_tokens: int, runs: int, side_by_side: bool = True,
                         decode: bool = True, concurrency: tuple[int, ...] = (1, 2, 4, 8)) -> dict:
    """The assistant as the app loads it (index, base model, configured adapter): the decode figures on the
    serving prompts and side by side against a single answer."""
    from onbrand.assistant import Assistant

    assistant = Assistant.load(settings, show_progress_bar=True)
    gen = assistant.generator
    if not isinstance(gen, Generator):
        return {"skipped": "generation runs on a remote backend; bench times the local decoding loop"}
    out: dict = {}
    questions = _questions(assistant.index.chunks, 16)
    if decode:
        prompts = [assistant.prompt_for(q)[1] for q in questions]  # what the app sends: serving retrieval settings
        gguf = default_gguf() if settings.model == "default" else None
        seeded = gen.drafts.copy() if gen.drafts is not None else None  # the drafts as the adapter's attachment left them
        out["decode"] = decode_figures(gen, prompts, assistant.default_adapter, new_tokens=new_tokens,
                                       runs=max(runs, 1), concurrency=concurrency, gguf=gguf)
        if gen.drafts is not None:
            gen.drafts = seeded
            asked = [assistant.prompt_for(q)[1] for q in _varied_questions(assistant, 41)]
            out["decode"]["drafts"] = draft_figures(gen, asked, assistant.default_adapter,
                                                    max_new_tokens=settings.max_new_tokens)
        if gen.prompt_cache_bytes and assistant.default_adapter is not None:
            asked = [assistant.prompt_for(q)[1] for q in _varied_questions(assistant, 41)[:10]]
            out["decode"]["prompt_cache"] = prompt_cache_figures(gen, asked, assistant.default_adapter,
                                                                 max_new_tokens=settings.max_new_tokens)
    if side_by_side:
        out["side_by_side"] = (side_by_side_figures(assistant, questions[0], runs=max(runs, 1))
                               if assistant.default_adapter is not None else
                               {"skipped": "no adapter configured (side by side compares the base with an adapter)"})
    return out


def run_bench(settings: Settings, synthetic_products: int = 10_000, queries: int = 200,
              gen_tokens: int = 64, gen_runs: int = 5, only: str | None = None,
              concurrency: tuple[int, ...] = (1, 2, 4, 8)) -> dict:
    """only="refresh": just the refresh-vs-rebuild section on the synthetic catalog;
    only="side-by-side": just the side-by-side vs single answer section;
    only="decode": just the decode section (batch 1 bare / adapter / side by side against the bandwidth bound,
    TTFT, `concurrency` concurrent requests, llama.cpp when installed)."""
    if only == "side-by-side":
        return _generation_sections(settings, gen_tokens, gen_runs, decode=False)
    if only == "decode":
        return _generation_sections(settings, gen_tokens, gen_runs, side_by_side=False, concurrency=concurrency)
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
        result.update(_generation_sections(settings, gen_tokens, gen_runs, concurrency=concurrency))
    return result
