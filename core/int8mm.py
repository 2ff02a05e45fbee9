"""Int8 weight-only products at the memory's speed on an AVX-512 CPU: core/int8mm.c, built once per machine.

    if int8mm.available():
        packed = int8mm.pack(q)                    # q: int8 [N, K], K a multiple of 16
        y = int8mm.matmul(x, packed, scales, N)    # == x @ (q * scales[:, None]).T, summed per row alone

Why hand-written: torch's `_weight_int8pack_mm` reads the weights at about 11 GB/s on this project's
machines, where a plain read of the same bytes runs at about 25 GB/s, and a decode step is mostly that read
(README "Speed"). No package on PyPI offers an int8 weight-only product over torch tensors that keeps a
row's sums independent of the other rows in its batch (onednn and fbgemm quantise the activations per
tensor). The kernel's sums are torch's in the same order; it differs in reading each block of 8 weight rows
as one stream.

The C file is compiled with the machine's C compiler (`$CC`, else `cc`) into a per-user cache
(`$ONBRAND_KERNEL_CACHE`, else ~/.cache/onbrand), named by a hash of the source and the compiler, written
atomically and checked against torch's kernel before first use. Where anything is missing (no compiler, no
AVX-512, another OS) or the check fails, `available()` is False with the reason logged, and callers keep
torch's kernel.
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
from pathlib import Path

import torch

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("int8mm.c")
ROWS = 8  # output rows per packed block
COLS = 16  # columns per packed chunk (and K must be a multiple of it)
PARALLEL_MIN = 400_000  # weights in a product below which one thread is faster than two (measured here)

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
    key = hashlib.sha256(source + version.encode() + " ".join(flags).encode()).hexdigest()[:16]
    out = cache_dir() / f"int8mm-{key}.so"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".int8mm-", suffix=".so", dir=out.parent)
    os.close(fd)
    try:
        done = subprocess.run([*cc, *flags, "-o", tmp, str(SOURCE)], capture_output=True, text=True, timeout=120)
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
    lib.int8mm.restype = ctypes.c_int
    lib.int8mm.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int] * 5
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
        got = _call(lib, x, pack(q), scales, n).double()
        exact = (x.double() @ q.double().T) * scales.double()
        magnitude = (x.double().abs() @ q.double().abs().T) * scales.double()
        if not bool(((got - exact).abs() <= torch.finfo(dtype).eps * magnitude).all()):
            raise RuntimeError(f"its {dtype} products are off the exact sums by more than rounding")


def available() -> bool:
    """Whether `matmul` can run here (built, loaded and checked on first call; the reason logged if not)."""
    global _lib, _reason
    with _lock:
        if _lib is None and _reason is None:
            try:
                lib = _load()
                _self_check(lib)
                _lib = lib
            except Exception as e:  # noqa: BLE001 - any failure means torch's kernel, said once
                _reason = str(e) or type(e).__name__
                log.info("int8 decode products on torch's kernel: %s", _reason)
        return _lib is not None


def unavailable_reason() -> str | None:
    return _reason


def pack(q: torch.Tensor) -> torch.Tensor:
    """int8 [N, K] -> the kernel's layout, flat: blocks of 8 rows (the last padded with zero rows), each stored
    16 columns at a time."""
    n, k = q.shape
    if k % COLS:
        raise ValueError(f"int8mm needs an inner size that is a multiple of {COLS}, got {k}")
    blocks = -(-n // ROWS)
    padded = torch.zeros((blocks * ROWS, k), dtype=torch.int8)
    padded[:n] = q
    return padded.view(blocks, ROWS, k // COLS, COLS).permute(0, 2, 1, 3).contiguous().view(-1)


def packed_numel(n: int, k: int) -> int:
    return -(-n // ROWS) * ROWS * k


def _call(lib: ctypes.CDLL, x: torch.Tensor, packed: torch.Tensor, scales: torch.Tensor, n: int) -> torch.Tensor:
    if x.dtype not in (torch.bfloat16, torch.float32) or scales.dtype != x.dtype:
        raise TypeError(f"int8mm takes bf16 or fp32 activations with scales of their dtype, got {x.dtype}, {scales.dtype}")
    x = x.contiguous()
    m, k = x.shape
    y = torch.empty((m, n), dtype=x.dtype)
    threads = torch.get_num_threads() if n * k >= PARALLEL_MIN else 1
    rc = lib.int8mm(x.data_ptr(), packed.data_ptr(), scales.data_ptr(), y.data_ptr(), m, n, k,
                    int(x.dtype == torch.float32), threads)
    if rc != 0:
        raise RuntimeError(f"int8mm failed ({rc}) on x {tuple(x.shape)}, {n} output rows")
    return y


def matmul(x: torch.Tensor, packed: torch.Tensor, scales: torch.Tensor, n: int) -> torch.Tensor:
    """x [M, K] @ the packed [N, K] int8 weights, times their per-row scales: [M, N] in x's dtype."""
    if not available():
        raise RuntimeError(f"int8mm is unavailable here: {_reason}")
    return _call(_lib, x, packed, scales, n)
