"""core/int8mm: the hand-written int8 weight-only product. What must hold: the exact sums within rounding, a
row's numbers whatever rows share its call (a shopper's answer does not depend on the batch), torch's own
kernel's numbers but for rare last-place differences, and a clean fall-back to torch's kernel wherever it
cannot be built, loaded or checked."""

from __future__ import annotations

import pytest
import torch

from core import int8mm
from core.lean_step import Int8Weights, LeanStep, quantize_rows

needs_kernel = pytest.mark.skipif(not int8mm.available(),
                                  reason=f"int8mm unavailable here: {int8mm.unavailable_reason()}")

SHAPES = [(37, 96), (960, 576), (576, 1536), (8, 16), (1, 32)]  # partial blocks, the model's sizes, tiny


def _weights(n: int, k: int, dtype: torch.dtype, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    q, scales = quantize_rows(torch.randn(n, k, generator=g) * torch.logspace(-2, 1, n)[:, None], dtype)
    return q, scales, g


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("n,k", SHAPES)
def test_products_are_the_exact_sums_within_rounding(n, k, dtype):
    q, scales, g = _weights(n, k, dtype)
    x = (torch.randn(6, k, generator=g) * 3).to(dtype)
    got = int8mm.matmul(x, int8mm.pack(q), scales, n)
    assert got.shape == (6, n) and got.dtype == dtype
    exact = (x.double() @ q.double().T) * scales.double()
    magnitude = (x.double().abs() @ q.double().abs().T) * scales.double()
    assert ((got.double() - exact).abs() <= torch.finfo(dtype).eps * magnitude).all()


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_a_rows_numbers_do_not_depend_on_the_rows_beside_it(dtype):
    n, k = 203, 576
    q, scales, g = _weights(n, k, dtype, seed=1)
    packed = int8mm.pack(q)
    x = torch.randn(11, k, generator=g).to(dtype)
    alone = torch.cat([int8mm.matmul(x[i:i + 1], packed, scales, n) for i in range(len(x))])
    for m in range(1, len(x) + 1):  # every way the kernel splits a batch (blocks of 1, 2, 3 and 4 rows)
        assert torch.equal(int8mm.matmul(x[:m], packed, scales, n), alone[:m]), m
    assert torch.equal(int8mm.matmul(x.flip(0), packed, scales, n), alone.flip(0))


@needs_kernel
def test_bf16_products_are_torchs_but_for_rare_last_place_differences():
    n, k = 3072, 576
    q, scales, g = _weights(n, k, torch.bfloat16, seed=2)
    x = torch.randn(4, k, generator=g).bfloat16()
    mine, torchs = int8mm.matmul(x, int8mm.pack(q), scales, n), torch._weight_int8pack_mm(x, q, scales)
    differ = mine != torchs
    assert differ.float().mean() < 0.002
    ulp = torch.finfo(torch.bfloat16).eps * torchs.float().abs()
    assert ((mine.float() - torchs.float()).abs()[differ] <= ulp[differ] * 1.01).all()


@needs_kernel
def test_int8_weights_take_the_kernel_and_keep_torchs_logits_within_rounding(tiny_lm_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_lm_dir), torch_dtype=torch.bfloat16)
    lean = LeanStep(model)
    fast, slow = Int8Weights(lean), Int8Weights(lean, kernel=False)
    assert fast.kernel and not slow.kernel
    hidden = model.config.hidden_size
    x = torch.randn(3, hidden).bfloat16()
    assert torch.allclose(fast.head(x).float(), slow.head(x).float(), rtol=0.02, atol=1e-2)
    assert torch.allclose(fast.product(0, 0, x).float(), slow.product(0, 0, x).float(), rtol=0.02, atol=1e-2)


def test_pack_refuses_an_inner_size_the_kernel_cannot_read():
    with pytest.raises(ValueError, match="multiple of 16"):
        int8mm.pack(torch.zeros((8, 24), dtype=torch.int8))


def test_pack_is_blocks_of_eight_rows_sixteen_columns_at_a_time():
    q = torch.arange(9 * 32, dtype=torch.int32).remainder(127).to(torch.int8).view(9, 32)
    packed = int8mm.pack(q).view(2, 2, 8, 16)  # [block][column chunk][row][column]
    assert torch.equal(packed[0, 1, 3], q[3, 16:32])
    assert torch.equal(packed[1, 0, 0], q[8, :16])
    assert not packed[1, :, 1:].any()  # the last block's missing rows are zeros


def test_without_a_compiler_torchs_kernel_is_kept_and_the_reason_said(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(int8mm, "_lib", None)
    monkeypatch.setattr(int8mm, "_reason", None)
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("ONBRAND_KERNEL_CACHE", str(tmp_path / "cache"))
    with caplog.at_level("INFO", logger="core.int8mm"):
        assert not int8mm.available()
    assert "no-such-cc" in int8mm.unavailable_reason()
    assert "torch's kernel" in caplog.text
    assert not list((tmp_path / "cache").glob("*"))  # nothing half-written
    with pytest.raises(RuntimeError, match="unavailable"):
        int8mm.matmul(torch.zeros(1, 16), int8mm.pack(torch.zeros(8, 16, dtype=torch.int8)), torch.ones(8), 8)


def test_a_failed_compile_leaves_no_library_behind(monkeypatch, tmp_path):
    broken = tmp_path / "int8mm.c"
    broken.write_text("this is not C\n")
    monkeypatch.setattr(int8mm, "SOURCE", broken)
    monkeypatch.setenv("ONBRAND_KERNEL_CACHE", str(tmp_path / "cache"))
    try:
        int8mm._build()
    except FileNotFoundError:
        pytest.skip("no C compiler here")
    except RuntimeError as e:
        assert "int8mm.c" in str(e)
    else:
        pytest.fail("a source that is not C compiled")
    assert not list((tmp_path / "cache").glob("*"))


@needs_kernel
def test_the_library_is_built_once_and_named_by_its_source(monkeypatch, tmp_path):
    monkeypatch.setenv("ONBRAND_KERNEL_CACHE", str(tmp_path))
    first = int8mm._build()
    stamp = first.stat().st_mtime_ns
    assert int8mm._build() == first and first.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [first.name]
    changed = tmp_path / "int8mm.c"
    changed.write_text(int8mm.SOURCE.read_text() + "\n/* changed */\n")
    monkeypatch.setattr(int8mm, "SOURCE", changed)
    assert int8mm._build() != first
