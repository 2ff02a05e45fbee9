"""A one-token decode step's kernels for an AVX-512 CPU (core/decode_kernels.c, built once per machine).

    if decode_kernels.available():
        packed = decode_kernels.pack(q)                        # [N, K] int8 (or bf16/fp32), K a multiple of 16
        y = decode_kernels.matmul(x, packed, scales, N)        # x @ (q * scales[:, None]).T, each row alone
        h = decode_kernels.rms_norm(x, weight, eps)            # and silu_mul, attend: the rest of a step

Why hand-written: torch's `_weight_int8pack_mm` reads int8 weights at about 11 GB/s on this project's
machines and its bf16 matrix products at 8-17 GB/s, where a plain read of the same bytes runs at about
25 GB/s, and a decode step is mostly that read (README "Speed"); the rest of a step was ~150 small torch
operations of a few microseconds each. No package on PyPI offers weight-only products over torch tensors that
keep a row's sums independent of the other rows in its batch (onednn's and fbgemm's int8 products quantise
the activations per tensor). The products sum as torch's int8 kernel does (16 fp32 lanes, then a fixed tree);
they differ in reading each block of 8 weight rows as one stream, prefetched. Where the CPU has AVX-512 VNNI,
int8 weights against bf16 activations sum exactly in integers instead (`vnni`, `pack(w, torch.bfloat16)`:
each activation row as exact 24-bit integers, decode_kernels.c says how), which costs a third of the
instructions per row, so several rows cost less. `greedy_pick` makes a step's greedy choice in one pass.

The C file is compiled with the machine's C compiler (`$CC`, else `cc`) into a per-user cache
(`$ONBRAND_KERNEL_CACHE`, else ~/.cache/onbrand), named by a hash of the source and the compiler, written
atomically and checked against exact sums before first use. Where anything is missing (no compiler, no
AVX-512, another OS) or the check fails, or ONBRAND_DECODE_KERNELS=0 is set, `available()` is False with the
reason logged, and the step keeps torch's operations.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("decode_kernels.c")
ROWS = 8  # output rows per packed block
COLS = 16  # columns per packed chunk (and K must be a multiple of it)
VNNI_ROWS = 64  # the VNNI layout pads its rows to a multiple of this

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_reason: str | None = None  # why the kernel is unavailable; None: not tried yet or available


def cache_dir() -> Path:
    return Path(os.environ.get("ONBRAND_KERNEL_CACHE") or Path.home() / ".cache" / "onbrand")


def _compiler() -> list[str]:
    return [os.environ.get("CC") or "cc"]


def _build() -> Path:
    """The compiled library for this source and compiler, compiled now if the cache lacks it."""
    source = SOURCE.read_bytes()
    cc = _compiler()
    version = subprocess.run([*cc, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    flags = ["-O3", "-fopenmp", "-shared", "-fPIC", "-std=gnu11"]
    libs = ["-lm"]
    key = hashlib.sha256(source + version.encode() + " ".join(flags + libs).encode()).hexdigest()[:16]
    out = cache_dir() / f"decode_kernels-{key}.so"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".decode_kernels-", suffix=".so", dir=out.parent)
    os.close(fd)
    try:
        done = subprocess.run([*cc, *flags, "-o", tmp, str(SOURCE), *libs], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cc)} failed on {SOURCE.name}: {done.stderr.strip()[-500:]}")
        os.replace(tmp, out)  # atomic: another process sees the old state or the whole library
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _load() -> ctypes.CDLL:
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise RuntimeError(f"built for Linux on x86-64 only, not {platform.system()} on {platform.machine()}")
    lib = ctypes.CDLL(str(_build()))
    lib.int8mm_supported.restype = ctypes.c_int
    if not lib.int8mm_supported():
        raise RuntimeError("this CPU lacks AVX-512 (F, BW, VL, DQ) or FMA")
    lib.vnni_supported.restype = ctypes.c_int
    lib.packed_mm.restype = ctypes.c_int
    lib.packed_mm.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int] * 6 + [ctypes.c_void_p]
    lib.rms_norm.restype = None
    lib.rms_norm.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int] * 2 + [ctypes.c_float, ctypes.c_int]
    lib.silu_mul.restype = None
    lib.silu_mul.argtypes = [ctypes.c_void_p] * 2 + [ctypes.c_int] * 3
    lib.layers_step.restype = ctypes.c_int
    # L, x, M, hidden, inter, H, KV, D, ln1, ln2, eps, P, row0, rows, w, scale, mode, lora, k_cache, v_cache, cap,
    # column, valid, cos, sin, attn_scale, f32, threads, slot, offset, span
    lib.layers_step.argtypes = ([ctypes.c_int, ctypes.c_void_p] + [ctypes.c_int] * 6 + [ctypes.c_void_p] * 2
                                + [ctypes.c_float, ctypes.c_int] + [ctypes.c_void_p] * 9
                                + [ctypes.c_int] + [ctypes.c_void_p] * 3 + [ctypes.c_float] + [ctypes.c_int] * 2
                                + [ctypes.c_void_p] * 2 + [ctypes.c_int])
    lib.lora_product.restype = ctypes.c_int
    # x, M, K, lora, at, base, out, residual, N, f32, threads
    lib.lora_product.argtypes = ([ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
                                 + [ctypes.c_void_p] * 3 + [ctypes.c_int] * 3)
    lib.greedy_pick.restype = None
    lib.greedy_pick.argtypes = ([ctypes.c_void_p] * 2 + [ctypes.c_int] * 2 + [ctypes.c_float, ctypes.c_int]
                                + [ctypes.c_void_p] * 2 + [ctypes.c_int, ctypes.c_void_p])
    lib.attend.restype = ctypes.c_int
    lib.attend.argtypes = ([ctypes.c_void_p] * 7 + [ctypes.c_int] * 6 + [ctypes.c_float] + [ctypes.c_int] * 2
                           + [ctypes.c_void_p] * 2 + [ctypes.c_int])
    return lib


def _self_check(lib: ctypes.CDLL) -> None:
    """The kernel on random rows against the exact sums (float64): each output within its dtype's rounding
    of the sum's terms' magnitude, as torch's own kernel is."""
    g = torch.Generator().manual_seed(0)
    for dtype in (torch.bfloat16, torch.float32):
        n, k = 37, 96  # a partial last block
        q = torch.randint(-127, 128, (n, k), generator=g, dtype=torch.int8)
        scales = (torch.rand(n, generator=g) / 100 + 1e-3).to(dtype)
        x = torch.randn(5, k, generator=g).to(dtype)
        exact = (x.double() @ q.double().T) * scales.double()
        magnitude = (x.double().abs() @ q.double().abs().T) * scales.double()
        layouts = [pack(q)] + ([_pack_vnni(q)] if dtype == torch.bfloat16 and lib.vnni_supported() else [])
        for packed in layouts:
            got = _call(lib, x, packed, scales, n).double()
            if not bool(((got - exact).abs() <= torch.finfo(dtype).eps * magnitude).all()):
                raise RuntimeError(f"its {dtype} products ({packed.dtype} weights) are off the exact sums by more "
                                   "than rounding")


def available() -> bool:
    """Whether `matmul` can run here (built, loaded and checked on first call; the reason logged if not)."""
    global _lib, _reason
    with _lock:
        if _lib is None and _reason is None and os.environ.get("ONBRAND_DECODE_KERNELS") == "0":
            _reason = "switched off (ONBRAND_DECODE_KERNELS=0)"
            log.info("decode steps on torch's operations: %s", _reason)
        if _lib is None and _reason is None:
            try:
                lib = _load()
                _self_check(lib)
                _lib = lib
            except Exception as e:  # noqa: BLE001 - any failure means torch's kernel, said once
                _reason = str(e) or type(e).__name__
                log.info("decode steps on torch's operations: %s", _reason)
        return _lib is not None


def unavailable_reason() -> str | None:
    return _reason


def vnni() -> bool:
    """Whether int8 weights against bf16 activations take the VNNI product (exact integer sums: the CPU has
    AVX-512 VNNI)."""
    return available() and bool(_lib.vnni_supported())


def pack(w: torch.Tensor, activations: torch.dtype | None = None) -> torch.Tensor:
    """[N, K] weights (int8, or the activations' bf16 / fp32) -> the kernel's layout, flat: blocks of 8 rows
    (the last padded with zero rows), each stored 16 columns at a time; int8 weights for bf16 `activations`
    on a CPU with VNNI: the VNNI layout instead (`_pack_vnni`, uint8)."""
    if w.dtype == torch.int8 and activations == torch.bfloat16 and vnni():
        return _pack_vnni(w)
    padded = _padded(w, ROWS, w.dtype)
    k = w.shape[1]
    return padded.view(-1, ROWS, k // COLS, COLS).permute(0, 2, 1, 3).contiguous().view(-1)


def _padded(w: torch.Tensor, multiple: int, dtype: torch.dtype) -> torch.Tensor:
    """w [N, K] in `dtype`, with zero rows after it up to a multiple of `multiple` rows; K must be a multiple
    of COLS."""
    n, k = w.shape
    if k % COLS:
        raise ValueError(f"the decode kernels need an inner size that is a multiple of {COLS}, got {k}")
    padded = torch.zeros((-(-n // multiple) * multiple, k), dtype=dtype)
    padded[:n] = w
    return padded


def _pack_vnni(w: torch.Tensor) -> torch.Tensor:
    """int8 [N, K] -> decode_kernels.c's VNNI layout, flat uint8 (w + 128): groups of 64 rows (N padded with
    zero weights to a multiple of 64), each stored 4 columns at a time."""
    padded = _padded(w, VNNI_ROWS, torch.int16)  # room for w + 128
    k = w.shape[1]
    return (padded + 128).to(torch.uint8).view(-1, VNNI_ROWS, k // 4, 4).permute(0, 2, 1, 3).contiguous().view(-1)


def mode(packed: torch.Tensor) -> int:
    """decode_kernels.c's `int8_weights` code for packed weights: 0 the activations' dtype, 1 int8, 2 int8 in
    the VNNI layout."""
    return {torch.int8: 1, torch.uint8: 2}.get(packed.dtype, 0)


def _call(lib: ctypes.CDLL, x: torch.Tensor, packed: torch.Tensor, scales: torch.Tensor | None, n: int,
          residual: torch.Tensor | None = None) -> torch.Tensor:
    code = mode(packed)
    int8 = code > 0
    if x.dtype not in (torch.bfloat16, torch.float32) or (int8 and (scales is None or scales.dtype != x.dtype)) \
            or (not int8 and packed.dtype != x.dtype) or (code == 2 and x.dtype != torch.bfloat16):
        raise TypeError(f"packed_mm takes bf16 or fp32 activations with int8 weights and scales of their dtype, or "
                        f"weights of their dtype; got {x.dtype}, {packed.dtype}, {None if scales is None else scales.dtype}")
    x = x.contiguous()
    m, k = x.shape
    multiple = VNNI_ROWS if code == 2 else ROWS
    if packed.numel() != -(-n // multiple) * multiple * k:
        raise ValueError(f"packed weights of {packed.numel()} values for {n} x {k}")
    y = torch.empty((m, n), dtype=x.dtype)
    if residual is not None:
        if residual.shape != (m, n) or residual.dtype != x.dtype:
            raise ValueError(f"residual {tuple(residual.shape)} {residual.dtype} for a product of {(m, n)} {x.dtype}")
        residual = residual.contiguous()
    rc = lib.packed_mm(x.data_ptr(), packed.data_ptr(), scales.data_ptr() if int8 else None, y.data_ptr(), m, n, k,
                       int(x.dtype == torch.float32), code, torch.get_num_threads(),
                       residual.data_ptr() if residual is not None else None)
    if rc != 0:
        raise RuntimeError(f"packed_mm failed ({rc}) on x {tuple(x.shape)}, {n} output rows")
    return y


def _lib_or_raise() -> ctypes.CDLL:
    if not available():
        raise RuntimeError(f"the decode kernels are unavailable here: {_reason}")
    return _lib


def matmul(x: torch.Tensor, packed: torch.Tensor, scales: torch.Tensor | None, n: int,
           residual: torch.Tensor | None = None) -> torch.Tensor:
    """x [M, K] @ the packed [N, K] weights: int8 times their per-row `scales`, or x's own dtype (scales None);
    [M, N] in x's dtype; with `residual` ([M, N]), residual + that product (each rounded to the dtype, as torch
    adds them)."""
    return _call(_lib_or_raise(), x, packed, scales, n, residual)


def _flag(x: torch.Tensor) -> int:
    if x.dtype not in (torch.bfloat16, torch.float32) or not x.is_contiguous():
        raise TypeError(f"the decode kernels take contiguous bf16 or fp32 tensors, got {x.dtype}")
    return int(x.dtype == torch.float32)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """LlamaRMSNorm of each row of x [rows, n] (n a multiple of 16)."""
    lib, out = _lib_or_raise(), torch.empty_like(x)
    lib.rms_norm(x.data_ptr(), weight.data_ptr(), out.data_ptr(), x.shape[0], x.shape[1], eps, _flag(x))
    return out


def silu_mul(gu: torch.Tensor, inter: int) -> torch.Tensor:
    """silu(gate) * up of a fused gate/up product [rows, 2 * inter]."""
    lib, out = _lib_or_raise(), gu.new_empty((gu.shape[0], inter))
    lib.silu_mul(gu.data_ptr(), out.data_ptr(), gu.shape[0], inter, _flag(gu))
    return out


class Slots:
    """Where a step's rows write and read the KV cache when several rows are one answer's next tokens (a
    draft's verification, core/generation.py): row b's cache row `slot[b]` and column `column + offset[b]`;
    `span` columns are written from `column` on. For `attend` and `layers_step`."""

    def __init__(self, slot: list[int], offset: list[int]):
        if len(slot) != len(offset) or any(o < 0 for o in offset) or any(s < 0 for s in slot):
            raise ValueError(f"Slots: slot {slot}, offset {offset}")
        self.rows, self.cache_rows, self.span = len(slot), max(slot) + 1, max(offset) + 1
        self.slot, self.offset = (ctypes.c_int * len(slot))(*slot), (ctypes.c_int * len(offset))(*offset)


def _slots(slots: Slots | None, rows: int) -> tuple:
    """(cache rows, span, slot pointer, offset pointer) for the C calls."""
    if slots is None:
        return rows, 1, None, None
    if slots.rows != rows:
        raise ValueError(f"Slots for {slots.rows} rows, step of {rows}")
    return slots.cache_rows, slots.span, slots.slot, slots.offset


def attend(qkv: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor,
           column: int, valid: torch.Tensor, heads: int, kv_heads: int, scale: float,
           slots: Slots | None = None) -> torch.Tensor:
    """One decode step's attention for one layer (decode_kernels.c `attend`): q and k of qkv [rows, (heads +
    2 kv_heads) * dim] rotated by cos/sin [rows, dim], k and v written into column `column` of the caches
    ([rows, kv_heads, capacity, dim], contiguous), each row attending over its own `valid` columns ([rows,
    column + 1] bool). [rows, heads * dim]. With `slots`, rows write where it says and valid is [rows, column +
    slots.span]."""
    rows = qkv.shape[0]
    cache_rows, span, slot, offset = _slots(slots, rows)
    n, kv, capacity, dim = k_cache.shape
    if (kv != kv_heads or v_cache.shape != k_cache.shape or not k_cache.is_contiguous() or not v_cache.is_contiguous()
            or n < cache_rows or (slots is None and n != rows)
            or column + span > capacity or valid.shape != (rows, column + span) or valid.dtype != torch.bool
            or qkv.shape != (rows, (heads + 2 * kv_heads) * dim) or cos.shape != (rows, dim)
            or dim > 256 or heads % kv_heads
            or any(t.dtype != qkv.dtype or not t.is_contiguous() for t in (cos, sin, k_cache, v_cache))):
        raise ValueError(f"attend: qkv {tuple(qkv.shape)} {qkv.dtype}, cache {tuple(k_cache.shape)} {k_cache.dtype}, "
                         f"column {column}, valid {tuple(valid.shape)}, cos {tuple(cos.shape)} {cos.dtype}")
    lib, out = _lib_or_raise(), qkv.new_empty((rows, heads * dim))
    valid = valid.contiguous()
    rc = lib.attend(qkv.data_ptr(), cos.data_ptr(), sin.data_ptr(), k_cache.data_ptr(), v_cache.data_ptr(),
                    valid.data_ptr(), out.data_ptr(), rows, heads, kv_heads, dim, capacity, column, scale,
                    _flag(qkv), torch.get_num_threads(), slot, offset, span)
    if rc != 0:
        raise MemoryError(f"attend: no memory for {rows} x {heads} x {column + span} scores")
    return out


def pointers(tensors: list[torch.Tensor | None]) -> ctypes.Array:
    """The tensors' data pointers as a C array (NULL for None), for `layers_step`; the caller keeps the
    tensors alive while the array is used."""
    return (ctypes.c_void_p * len(tensors))(*[t.data_ptr() if t is not None else None for t in tensors])


LORA_SEGMENTS = 3  # decode_kernels.c: projections per fused product at most (q, k, v)


class LoraFactors(ctypes.Structure):
    """decode_kernels.c's `lora_t`: an adapter's LoRA factors for layers_step and lora_product. Per layer l and
    product j at l * 4 + j, `a`: its projections' A stacked ([R, K] row-major); per projection i of the product at
    (l * 4 + j) * LORA_SEGMENTS + i, `b`: its B transposed ([rank, outputs] row-major; NULL: no LoRA on it), and C
    arrays of its scaling (`s`), rank (`r`), outputs (`n`) and first output in the product's (`off`); `f32`: the
    factors are fp32 (else the activations' dtype). The caller keeps the arrays and tensors alive."""
    _fields_ = [("a", ctypes.c_void_p), ("b", ctypes.c_void_p), ("s", ctypes.c_void_p), ("r", ctypes.c_void_p),
                ("n", ctypes.c_void_p), ("off", ctypes.c_void_p), ("f32", ctypes.c_int)]


@dataclass
class Part:
    """A run of a step's rows on one set of weights (`layers_step`): rows start .. start + rows - 1, each
    layer's four packed products' pointers and scales (`pointers`) and their packed_mm kind (`mode`); `lora`:
    the run's adapter's LoRA factors where its weights are the base's own (None: none). Runs that follow each
    other on the same weights take each product in one call (one read of the weights)."""
    start: int
    rows: int
    weights: ctypes.Array
    scales: ctypes.Array
    mode: int
    lora: LoraFactors | None = None


def layers_step(x: torch.Tensor, norms: ctypes.Array, post_norms: ctypes.Array, eps: float, parts: list[Part],
                caches: list[tuple[torch.Tensor, torch.Tensor]], column: int, valid: torch.Tensor, cos: torch.Tensor,
                sin: torch.Tensor, heads: int, kv_heads: int, intermediate: int, scale: float,
                slots: Slots | None = None) -> torch.Tensor:
    """Every decoder layer of a step (decode_kernels.c `layers_step`: the same calls as rms_norm, matmul (part
    by part), attend and silu_mul one by one, so the same numbers). x [rows, hidden] is updated in place and
    returned; norms / post_norms: each layer's two norm weights; parts: the runs of rows on one set of weights,
    in order, covering every row; caches: each layer's (keys, values) buffers, all with room for `column`;
    slots: as `attend`'s."""
    rows, hidden = x.shape
    cache_rows, span, slot, offset = _slots(slots, rows)
    dim = caches[0][0].shape[-1]
    layers = len(caches)
    if (any(len(p.weights) != layers * 4 or len(p.scales) != layers * 4 for p in parts)
            or [p.start for p in parts] != [sum(q.rows for q in parts[:i]) for i in range(len(parts))]
            or sum(p.rows for p in parts) != rows or any(p.rows < 1 for p in parts)
            or not x.is_contiguous() or valid.shape != (rows, column + span)
            or valid.dtype != torch.bool or cos.shape != (rows, dim) or dim > 256
            or any(k.shape[0] < cache_rows or (slots is None and k.shape[0] != rows) or k.shape[2] < column + span
                   or not k.is_contiguous() or not v.is_contiguous()
                   or v.shape != k.shape or k.dtype != x.dtype for k, v in caches)
            or any(t.dtype != x.dtype or not t.is_contiguous() for t in (cos, sin))):
        raise ValueError(f"layers_step: x {tuple(x.shape)} {x.dtype}, {len(caches)} caches, column {column}, "
                         f"valid {tuple(valid.shape)}, cos {tuple(cos.shape)}, parts {[(p.start, p.rows) for p in parts]}")
    lib = _lib_or_raise()
    k_ptrs, v_ptrs = pointers([k for k, _ in caches]), pointers([v for _, v in caches])
    capacity = (ctypes.c_int * layers)(*[k.shape[2] for k, _ in caches])
    n = len(parts)
    starts, counts = (ctypes.c_int * n)(*[p.start for p in parts]), (ctypes.c_int * n)(*[p.rows for p in parts])
    modes = (ctypes.c_int * n)(*[p.mode for p in parts])
    weights = (ctypes.c_void_p * n)(*[ctypes.addressof(p.weights) for p in parts])
    scales = (ctypes.c_void_p * n)(*[ctypes.addressof(p.scales) for p in parts])
    lora = (LoraFactors * n)(*[p.lora or LoraFactors() for p in parts]) if any(p.lora for p in parts) else None
    valid = valid.contiguous()
    rc = lib.layers_step(layers, x.data_ptr(), rows, hidden, intermediate, heads, kv_heads, dim, norms, post_norms,
                         eps, n, starts, counts, weights, scales, modes, lora, k_ptrs, v_ptrs, capacity, column,
                         valid.data_ptr(), cos.data_ptr(), sin.data_ptr(), scale, _flag(x), torch.get_num_threads(),
                         slot, offset, span)
    if rc != 0:
        raise RuntimeError(f"layers_step failed ({rc}) on {rows} rows, column {column}")
    return x


def lora_product(x: torch.Tensor, factors: LoraFactors, at: int, base: torch.Tensor,
                 residual: torch.Tensor | None = None) -> torch.Tensor:
    """base [M, N] (product `at` = layer * 4 + j of x [M, K] on the base's weights, rounded) plus an adapter's
    LoRA deltas for that product, as peft adds them (decode_kernels.c `lora_product`); with `residual` [M, N],
    residual + that. A new tensor."""
    m, k = x.shape
    n = base.shape[1]
    if base.shape[0] != m or base.dtype != x.dtype or n % COLS or (
            residual is not None and (residual.shape != base.shape or residual.dtype != x.dtype)):
        raise ValueError(f"lora_product: x {tuple(x.shape)} {x.dtype}, base {tuple(base.shape)} {base.dtype}")
    lib = _lib_or_raise()
    x, base = x.contiguous(), base.contiguous()
    residual = residual.contiguous() if residual is not None else None
    out = torch.empty_like(base)
    rc = lib.lora_product(x.data_ptr(), m, k, ctypes.addressof(factors), at, base.data_ptr(), out.data_ptr(),
                          residual.data_ptr() if residual is not None else None, n, _flag(x), torch.get_num_threads())
    if rc != 0:
        raise MemoryError(f"lora_product: no memory for {m} rows of {k}")
    return out


def greedy_pick(logits: torch.Tensor, seen: torch.Tensor, penalty: float, young: list[int],
                ban: list[int]) -> torch.Tensor:
    """Each row's greedy token from fp32 logits [rows, V]: the repetition penalty on the tokens `seen` marks
    ([rows, V] bool; 1.0: none), the `ban` tokens excluded for the rows in `young`, the first largest value;
    marks the chosen tokens in `seen` (in place). The numbers of core/generation.py's torch operations, in one
    pass (decode_kernels.c `greedy_pick`)."""
    rows, vocab = logits.shape
    if (logits.dtype != torch.float32 or seen.dtype != torch.bool or seen.shape != logits.shape
            or not logits.is_contiguous() or not seen.is_contiguous()):
        raise ValueError(f"greedy_pick: logits {tuple(logits.shape)} {logits.dtype}, seen {tuple(seen.shape)} "
                         f"{seen.dtype}")
    lib = _lib_or_raise()
    out = torch.empty(rows, dtype=torch.long)
    flags = torch.zeros(rows, dtype=torch.uint8)
    flags[young] = 1
    banned = torch.tensor(ban, dtype=torch.long)
    lib.greedy_pick(logits.data_ptr(), seen.data_ptr(), rows, vocab, penalty, int(penalty != 1.0),
                    flags.data_ptr() if young else None, banned.data_ptr() if ban else None, len(ban), out.data_ptr())
    return out


def step_supported(dim: int, hidden: int, intermediate: int) -> bool:
    """Whether the row ops take a model of these sizes (hidden and intermediate sizes in 16-wide vectors, a head
    of at most 256)."""
    return dim <= 256 and hidden % 16 == 0 and intermediate % 16 == 0
