"""`onbrand bench`'s decode section runs end to end on the tiny model and reports what the issue asks for
(no figure is asserted against a time: only that each is measured, and the ratios are its own figures'),
llama.cpp's branch runs when a llama_cpp module is importable, and the GPU check's CPU dry run passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from core.generation import Generator
from onbrand import bench

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = [[{"role": "user", "content": q}] for q in ("hi", "what does the quokka dome cost?", "stove in stock?")]


@pytest.fixture()
def gen(scrambled_lm):
    # int8 steps for every batch, as the app's generator on a CPU (Settings.int8_rows)
    return Generator(scrambled_lm(("brand", ("q_proj", "v_proj", "down_proj"))), int8_rows=64)


def test_the_decode_section_reports_batch1_concurrency_and_the_bound(gen):
    fig = bench.decode_figures(gen, PROMPTS, "brand", new_tokens=6, runs=1, concurrency=(1, 2),
                               identity_prompts=3, bandwidth_mb=8)
    assert fig["bound"]["decode_tokens_per_s"] > 0 and fig["bound"]["lora_bytes"] > 0
    for key in ("bare", "adapter", "side_by_side", "bare_bf16", "adapter_bf16", "side_by_side_bf16", "bare_no_lean", "bare_peft_disabled", "adapter_merged_no_lean",
                "adapter_peft_rows_lean", "adapter_peft_rows", "adapter_gemv", "side_by_side_no_lean"):
        row = fig["batch1"][key]
        assert row["tokens_per_s"] > 0 and row["ttft_ms"] > 0, key
        assert row["fraction_of_bound"] == pytest.approx(row["steps_per_s"] / fig["bound"]["decode_tokens_per_s"],
                                                         abs=2e-3), key
    assert fig["batch1"]["side_by_side"]["tokens_per_s"] == pytest.approx(
        2 * fig["batch1"]["side_by_side"]["steps_per_s"], abs=0.11)
    assert fig["ttft_ms_serving_prompt"] == fig["batch1"]["adapter"]["ttft_ms"]
    assert all(r > 0 for r in fig["ratios"].values()) and "side_by_side_over_single_answer_s" in fig["ratios"]
    for n in ("1", "2"):
        c = fig["concurrent"][n]
        assert c["clients"] == int(n) and c["answer"]["p50_s"] > 0 and c["total_tokens_per_s"] > 0
    assert fig["concurrent"]["2"]["most_rows_in_a_step"] == 2  # the two requests shared steps
    # the lone answers cover as many prompts as the 2-client rounds ask (2 rounds of 2, 3 prompts at hand)
    assert fig["concurrent"]["1"]["rounds"] == 3 and fig["concurrent"]["2"]["rounds"] == 2
    assert set(fig["concurrent_ratios"]) == {"2"}
    assert {"int8_steps_tokens_per_s", "int8_steps_side_by_side_steps_per_s", "int8_kernel_tokens_per_s",
            "kept_system_turn_ttft"} <= set(fig["ratios"])
    assert fig["decode_kernels"]["available"] == (fig["decode_kernels"]["unavailable"] is None)
    # the kept path's answers (int8 steps) equal those of the path before it (peft's per-row adapter_names) on
    # these prompts of the fp32 model: no near-tie within their first 6 tokens
    assert fig["kept_vs_old_path_answers"]["identical"] == fig["kept_vs_old_path_answers"]["prompts"] == 3
    assert fig["joined_vs_solo_answers"]["identical"] == 3  # and joined in one batch, each its solo answer
    assert gen.engine_steps["merged"] and gen.engine_steps["bare"] and gen.engine_steps["peft"]  # side by side
    assert gen.engine_steps["int8"] and not gen.engine_steps["lean"]  # kept path: every row on int8 weights
    assert "llama_cpp" not in fig  # no GGUF given
    # the other adapter weights (the kept path merges; here the base's own weights plus the LoRA product),
    # timed in the same round of means, with its own lone answers and its own joined = solo check
    assert fig["adapter_weights"] == "merged"
    lora = fig["on_lora"]
    for key in ("adapter_on_lora", "side_by_side_on_lora"):
        assert fig["batch1"][key]["tokens_per_s"] > 0, key
    assert lora["side_by_side_over_single_answer_s"] == pytest.approx(
        fig["batch1"]["side_by_side_on_lora"]["answer_s"] / fig["batch1"]["adapter_on_lora"]["answer_s"], abs=2e-3)
    assert lora["adapter_over_bare_tokens_per_s"] > 0 and lora["adapter_fraction_of_bound"] > 0
    assert lora["concurrent"]["1"]["answer"]["p50_s"] > 0 and "4" not in lora["concurrent"]
    assert lora["joined_vs_solo_answers"]["identical"] == 3
    assert 0 <= lora["answers_identical_to_kept"] <= 3


class _FakeLlama:
    """Stands in for llama_cpp.Llama: yields token ids and never stops by itself; and, as Llama.generate does
    (reset=True or not), it evaluates only the prompt after the longest prefix it still holds from the last
    call, until reset(). `evaluated`: the prompt tokens each call evaluated."""

    evaluated: list[int] = []

    def __init__(self, model_path, n_ctx, n_threads, verbose):
        self.model_path, self.n_threads = model_path, n_threads
        self.held: list[int] = []

    def reset(self):
        self.held = []

    def generate(self, tokens, **kwargs):
        assert kwargs["top_k"] == 1 and kwargs["temp"] == 0.0  # greedy, as onbrand decodes
        tokens = list(tokens)
        same = 0
        while same < min(len(tokens), len(self.held)) and tokens[same] == self.held[same]:
            same += 1
        _FakeLlama.evaluated.append(max(len(tokens) - same, 1))  # llama.cpp evaluates the last one again
        self.held = tokens
        while True:
            self.held.append(7)
            yield 7


def test_the_drafts_section_times_drafts_against_none_on_prompts_asked_once(gen):
    prompts = [[{"role": "user", "content": q}] for q in
               ("hi", "what does the quokka dome cost?", "stove in stock?", "tent?", "a pack for two nights", "x")]
    assert gen.draft_rows > 1
    fig = bench.draft_figures(gen, prompts * 2, "brand", max_new_tokens=12, clients=2)
    assert fig["prompts"] == 6 and fig["identical_answers"] == 6  # drafts never change an answer
    assert fig["identical_answers_table_only"] == 6 and fig["prompt_lookup"] is True
    assert fig["draft_rows"] == gen.draft_rows and fig["tokens_per_step"] >= 1
    assert 0 <= fig["drafted_tokens_per_step"] <= gen.draft_rows - 1
    for key in ("plain", "drafted", "table_only"):
        assert fig["lone"][key]["answer"]["p50_s"] > 0 and fig["lone"][key]["decode_tokens_per_s"] > 0
    side = fig["side_by_side"]  # the base's row and the adapter's, with drafts and without
    assert side["identical_pairs"] == 6 and side["adapter_row_is_the_lone_answer"] == 6
    for agreed in (fig["drafts_agreed"], side["drafts_agreed"]):
        assert set(agreed) == {"table", "lookup"}
        assert all(a["agreed_share"] is None or 0 <= a["agreed_share"] <= 1 for a in agreed.values())
    for key in ("plain", "drafted"):
        assert side[key]["answer"]["p50_s"] > 0 and side[key]["steps_median"] >= 1
        assert side[key]["p50_over_lone_answer"] > 0
        assert fig["shoppers"][key]["clients"] == 2 and fig["shoppers"][key]["total_tokens_per_s"] > 0
    assert all(v > 0 for v in [*fig["lone_ratios"].values(), *fig["shoppers_ratios"].values(),
                               side["p50_answer_plain_over_drafted"]])


def test_the_prompt_cache_section_asks_again_and_the_figures_it_repeats_run_cold(gen):
    prompts = [[{"role": "user", "content": q}] for q in ("hi", "quokka dome?", "stove?", "tent?")]
    gen.prompt_cache_bytes = 64 * 2**20
    fig = bench.prompt_cache_figures(gen, prompts, "brand", max_new_tokens=8)
    assert fig["prompts"] == 4 and fig["answers_asked_again_identical"] == 4
    assert fig["pairs_after_single_identical_to_cold"] == 4
    for key in ("first", "again", "pair_after_single", "pair_cold"):
        assert fig[key]["ttft_ms"] > 0 and fig[key]["answer"]["p50_s"] > 0
    assert gen.engine_steps["prompt_cache_hit"] == 8  # each asked again, each later pair's adapter row
    assert fig["ttft_first_over_again"] > 0 and fig["pair_answer_p50_cold_over_after_single"] > 0
    assert gen.draft_rows == 5 and gen.prompt_cache_bytes == 64 * 2**20  # as they were
    hits = gen.engine_steps["prompt_cache_hit"]
    bench.decode_figures(gen, prompts, "brand", new_tokens=4, runs=1, concurrency=(1,), identity_prompts=0,
                         bandwidth_mb=8)
    assert gen.engine_steps["prompt_cache_hit"] == hits  # the decode figures ask one prompt again and again: cold
    assert gen.prompt_cache_bytes == 64 * 2**20


def test_llama_cpp_is_timed_on_the_same_prompt_when_installed(gen, monkeypatch, tmp_path):
    gguf = tmp_path / "model.gguf"
    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=_FakeLlama))
    fig = bench.decode_figures(gen, PROMPTS, "brand", new_tokens=5, runs=1, concurrency=(), identity_prompts=0,
                               bandwidth_mb=8, gguf=gguf)
    llama = fig["llama_cpp"]
    assert llama["gguf"] == "model.gguf" and llama["decode_tokens_per_s_median"] > 0
    assert llama["onbrand_adapter_over_llama_cpp"] > 0 and llama["onbrand_bare_over_llama_cpp"] > 0
    assert set(llama["onbrand_beside_tokens_per_s_median"]) == {"adapter", "bare"}


def test_onbrand_is_timed_beside_each_llama_cpp_run(monkeypatch, tmp_path):
    """The ratio divides medians taken in one window: after each llama.cpp run, each of onbrand's answers."""
    order: list[str] = []

    class Logged(_FakeLlama):
        def generate(self, tokens, **kwargs):
            order.append("llama.cpp")
            yield from super().generate(tokens, **kwargs)

    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=Logged))
    beside = {"adapter": lambda: order.append("adapter") or 50.0, "bare": lambda: order.append("bare") or 25.0}
    out = bench.llama_cpp_figures(tmp_path / "m.gguf", [1, 2, 3], 4, 2, 1, beside=beside)
    assert order == ["llama.cpp", "adapter", "bare"] * 3  # the warm-up, then 2 timed runs
    assert out["onbrand_beside_tokens_per_s_median"] == {"adapter": 50.0, "bare": 25.0}
    rate = out["decode_tokens_per_s_median"]
    assert out["onbrand_adapter_over_llama_cpp"] == pytest.approx(50.0 / rate, rel=1e-2)


def test_llama_cpp_prefills_the_whole_prompt_in_every_run(monkeypatch, tmp_path):
    """Its TTFT is a whole prefill each run, as onbrand's is timed, not a prompt left in its KV cache by the run
    before (which read ~10 ms against ~800 for 232 tokens before llama_cpp_figures reset it)."""
    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=_FakeLlama))
    monkeypatch.setattr(_FakeLlama, "evaluated", [])
    prompt = list(range(100, 140))
    out = bench.llama_cpp_figures(tmp_path / "m.gguf", prompt, 4, 3, 1)
    assert out["runs"] == 3 and _FakeLlama.evaluated == [len(prompt)] * 4  # the warm-up and 3 timed runs


def test_without_llama_cpp_the_comparison_says_it_was_skipped(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import fails
    out = bench.llama_cpp_figures(tmp_path / "m.gguf", [1, 2, 3], 4, 1, 1)
    assert "not installed" in out["skipped"]


def test_the_gpu_check_dry_run_passes_on_the_cpu_and_skips_cuda_parts_by_name(tiny_lm_dir, tmp_path):
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ONBRAND_DTYPE": "fp32", "ONBRAND_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--dry-run", "--random-init",
                           "--tokenizer", str(tiny_lm_dir), "--steps", "2", "--new-tokens", "8", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["environment"]["mode"] == "dry-run (CPU)"
    assert result["failed"] == []
    assert set(result["skipped"]) == {"nf4_load", "faiss_gpu", "peak_gpu_memory"}
    for name in ("nf4_load", "faiss_gpu", "peak_gpu_memory"):
        assert "no CUDA" in result["checks"][name]["reason"]
    assert all(n > 0 for n in result["checks"]["qlora_steps"]["lora_grad_norms"])
    assert result["checks"]["mixed_adapter_batch"]["ok"] and result["checks"]["decode_tokens_per_s"]["ok"]
    assert result["checks"]["mixed_adapter_batch_lora"]["ok"]
