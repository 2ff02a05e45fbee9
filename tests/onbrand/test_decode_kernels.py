"""core/decode_kernels: the hand-written int8 weight-only product and the rest of a decode step. What must hold: the exact sums within rounding, a
row's numbers whatever rows share its call (a shopper's answer does not depend on the batch), torch's own
kernel's numbers but for rare last-place differences, and a clean fall-back to torch's kernel wherever it
cannot be built, loaded or checked."""

from __future__ import annotations

import pytest
import torch

from core import decode_kernels as kernels
from core.lean_step import Int8Weights, LeanStep, quantize_rows

needs_kernel = pytest.mark.skipif(not kernels.available(),
                                  reason=f"the decode kernels are unavailable here: {kernels.unavailable_reason()}")
needs_vnni = pytest.mark.skipif(not kernels.vnni(), reason="this CPU has no AVX-512 VNNI (or no kernels)")
# both int8 layouts where the CPU has both: fp32 FMAs (any activations) and VNNI integer sums (bf16 activations)
LAYOUTS = [None, pytest.param(torch.bfloat16, marks=needs_vnni, id="vnni")]

SHAPES = [(37, 96), (960, 576), (576, 1536), (8, 16), (1, 32)]  # partial blocks, the model's sizes, tiny


def _weights(n: int, k: int, dtype: torch.dtype, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    q, scales = quantize_rows(torch.randn(n, k, generator=g) * torch.logspace(-2, 1, n)[:, None], dtype)
    return q, scales, g


def _layout_cases():
    return [(torch.bfloat16, None), (torch.float32, None), pytest.param(torch.bfloat16, torch.bfloat16,
                                                                        marks=needs_vnni, id="bf16-vnni")]


@needs_kernel
@pytest.mark.parametrize("dtype,layout", _layout_cases())
@pytest.mark.parametrize("n,k", SHAPES)
def test_products_are_the_exact_sums_within_rounding(n, k, dtype, layout):
    q, scales, g = _weights(n, k, dtype)
    x = (torch.randn(6, k, generator=g) * 3).to(dtype)
    x[1] *= 1e-30  # a row of tiny values: its own step
    x[2, :5] = 0
    got = kernels.matmul(x, kernels.pack(q, layout), scales, n)
    assert got.shape == (6, n) and got.dtype == dtype
    exact = (x.double() @ q.double().T) * scales.double()
    magnitude = (x.double().abs() @ q.double().abs().T) * scales.double()
    assert ((got.double() - exact).abs() <= torch.finfo(dtype).eps * magnitude).all()


@needs_kernel
@pytest.mark.parametrize("dtype,layout", _layout_cases())
def test_a_rows_numbers_do_not_depend_on_the_rows_beside_it(dtype, layout):
    n, k = 203, 576
    q, scales, g = _weights(n, k, dtype, seed=1)
    packed = kernels.pack(q, layout)
    x = torch.randn(11, k, generator=g).to(dtype)
    alone = torch.cat([kernels.matmul(x[i:i + 1], packed, scales, n) for i in range(len(x))])
    for m in range(1, len(x) + 1):  # every way the kernel splits a batch (blocks of 1, 2, 3 and 4 rows)
        assert torch.equal(kernels.matmul(x[:m], packed, scales, n), alone[:m]), m
    assert torch.equal(kernels.matmul(x.flip(0), packed, scales, n), alone.flip(0))


@needs_kernel
@pytest.mark.parametrize("layout", LAYOUTS)
def test_bf16_products_are_torchs_but_for_rare_last_place_differences(layout):
    n, k = 3072, 576
    q, scales, g = _weights(n, k, torch.bfloat16, seed=2)
    x = torch.randn(4, k, generator=g).bfloat16()
    mine, torchs = kernels.matmul(x, kernels.pack(q, layout), scales, n), torch._weight_int8pack_mm(x, q, scales)
    differ = mine != torchs
    assert differ.float().mean() < 0.002
    ulp = torch.finfo(torch.bfloat16).eps * torchs.float().abs()
    assert ((mine.float() - torchs.float()).abs()[differ] <= ulp[differ] * 1.01).all()


def _bf16_model(tiny_lm_dir):
    """The tiny model in bf16 and its LeanStep (the layers a step's weights are copied from)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_lm_dir), torch_dtype=torch.bfloat16)
    return model, LeanStep(model)


@needs_kernel
def test_int8_weights_take_the_kernel_and_keep_torchs_logits_within_rounding(tiny_lm_dir):
    model, lean = _bf16_model(tiny_lm_dir)
    fast, slow = Int8Weights(lean), Int8Weights(lean, kernel=False)
    assert fast.kernel and not slow.kernel and fast.mode == (2 if kernels.vnni() else 1)
    hidden = model.config.hidden_size
    x = torch.randn(3, hidden).bfloat16()
    assert torch.allclose(fast.head(x).float(), slow.head(x).float(), rtol=0.02, atol=1e-2)
    assert torch.allclose(fast.product(0, 0, x).float(), slow.product(0, 0, x).float(), rtol=0.02, atol=1e-2)


@needs_vnni
def test_vnni_sums_are_exact_where_the_activations_are_exact_integers_of_the_rows_step():
    # every element within 2^-14 of its row's largest: the integer sums are exact, so the output is the exact
    # product rounded once to fp32 and once to bf16 (a float sum would round at every term)
    n, k = 200, 1536
    q, scales, g = _weights(n, k, torch.bfloat16, seed=7)
    x = (torch.randint(64, 256, (3, k), generator=g) * torch.randint(0, 2, (3, k), generator=g).mul(2).sub(1))
    x = (x.double() * 2.0 ** -9).bfloat16()
    got = kernels.matmul(x, kernels.pack(q, torch.bfloat16), scales, n)
    want = ((x.double() @ q.double().T) * scales.double()).float().bfloat16()
    assert torch.equal(got, want)


@needs_vnni
def test_vnni_turns_a_non_finite_row_into_nans_and_leaves_the_others():
    q, scales, g = _weights(70, 32, torch.bfloat16, seed=8)
    x = torch.randn(4, 32, generator=g).bfloat16()
    x[1, 3] = float("inf")
    x[2, 2] = float("nan")  # early in its lane: a later finite value there must not hide it
    packed = kernels.pack(q, torch.bfloat16)
    got = kernels.matmul(x, packed, scales, 70)
    assert got[1:3].isnan().all()
    assert torch.equal(got[0::3], kernels.matmul(x[0::3].contiguous(), packed, scales, 70))


@needs_vnni
def test_pack_for_vnni_is_groups_of_64_rows_four_columns_at_a_time_offset_to_unsigned():
    q = torch.arange(70 * 32, dtype=torch.int32).remainder(255).sub(127).to(torch.int8).view(70, 32)
    packed = kernels.pack(q, torch.bfloat16)
    assert packed.dtype == torch.uint8 and kernels.mode(packed) == 2
    groups = packed.view(2, 8, 64, 4).int() - 128  # [group][column quad][row][column]
    assert torch.equal(groups[0, 2, 5], q[5, 8:12].int())
    assert torch.equal(groups[1, 7, 3], q[67, 28:32].int())
    assert not groups[1, :, 6:].any()  # the last group's missing rows are zeros
    assert kernels.pack(q).dtype == torch.int8 and kernels.pack(q, torch.float32).dtype == torch.int8


def test_pack_refuses_an_inner_size_the_kernel_cannot_read():
    with pytest.raises(ValueError, match="multiple of 16"):
        kernels.pack(torch.zeros((8, 24), dtype=torch.int8))


def test_pack_is_blocks_of_eight_rows_sixteen_columns_at_a_time():
    q = torch.arange(9 * 32, dtype=torch.int32).remainder(127).to(torch.int8).view(9, 32)
    packed = kernels.pack(q).view(2, 2, 8, 16)  # [block][column chunk][row][column]
    assert torch.equal(packed[0, 1, 3], q[3, 16:32])
    assert torch.equal(packed[1, 0, 0], q[8, :16])
    assert not packed[1, :, 1:].any()  # the last block's missing rows are zeros


def test_without_a_compiler_torchs_kernel_is_kept_and_the_reason_said(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(kernels, "_lib", None)
    monkeypatch.setattr(kernels, "_reason", None)
    monkeypatch.delenv("ONBRAND_DECODE_KERNELS", raising=False)
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("ONBRAND_KERNEL_CACHE", str(tmp_path / "cache"))
    with caplog.at_level("INFO", logger="core.decode_kernels"):
        assert not kernels.available()
    assert "no-such-cc" in kernels.unavailable_reason()
    assert "torch's operations" in caplog.text
    assert not list((tmp_path / "cache").glob("*"))  # nothing half-written
    with pytest.raises(RuntimeError, match="kernels are unavailable"):
        kernels.matmul(torch.zeros(1, 16), kernels.pack(torch.zeros(8, 16, dtype=torch.int8)), torch.ones(8), 8)


def test_the_kernels_can_be_switched_off(monkeypatch):
    monkeypatch.setattr(kernels, "_lib", None)
    monkeypatch.setattr(kernels, "_reason", None)
    monkeypatch.setenv("ONBRAND_DECODE_KERNELS", "0")
    assert not kernels.available() and "ONBRAND_DECODE_KERNELS=0" in kernels.unavailable_reason()


def test_a_failed_compile_leaves_no_library_behind(monkeypatch, tmp_path):
    broken = tmp_path / "kernels.c"
    broken.write_text("this is not C\n")
    monkeypatch.setattr(kernels, "SOURCE", broken)
    monkeypatch.setenv("ONBRAND_KERNEL_CACHE", str(tmp_path / "cache"))
    try:
        kernels._build()
    except FileNotFoundError:
        pytest.skip("no C compiler here")
    except RuntimeError as e:
        assert "kernels.c" in str(e)
    else:
        pytest.fail("a source that is not C compiled")
    assert not list((tmp_path / "cache").glob("*"))


@needs_kernel
def test_the_library_is_built_once_and_named_by_its_source(monkeypatch, tmp_path):
    monkeypatch.setenv("ONBRAND_KERNEL_CACHE", str(tmp_path))
    first = kernels._build()
    stamp = first.stat().st_mtime_ns
    assert kernels._build() == first and first.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [first.name]
    changed = tmp_path / "kernels.c"
    changed.write_text(kernels.SOURCE.read_text() + "\n/* changed */\n")
    monkeypatch.setattr(kernels, "SOURCE", changed)
    assert kernels._build() != first


# --- the rest of a step: norms, silu * up, attention with the cache's write -------------------------------

TOL = {torch.float32: 1e-5, torch.bfloat16: 2e-2}


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_rms_norm_is_llamas(dtype):
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    norm = LlamaRMSNorm(96, eps=1e-5)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    norm = norm.to(dtype)
    x = (torch.randn(3, 96) * 4).to(dtype)
    want = norm(x).float()
    got = kernels.rms_norm(x, norm.weight, norm.variance_epsilon).float()
    assert torch.allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype])
    assert torch.equal(kernels.rms_norm(x[1:2].contiguous(), norm.weight, 1e-5), kernels.rms_norm(x, norm.weight, 1e-5)[1:2])


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_silu_mul_is_silu_of_gate_times_up(dtype):
    gu = (torch.randn(2, 64) * 3).to(dtype)
    want = (torch.nn.functional.silu(gu[:, :32].float()) * gu[:, 32:].float())
    assert torch.allclose(kernels.silu_mul(gu, 32).float(), want, rtol=TOL[dtype], atol=TOL[dtype])


def _rotate(t: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = t.shape[-1] // 2
    return t * cos + torch.cat([-t[..., half:], t[..., :half]], -1) * sin


@needs_kernel
@pytest.mark.parametrize("dim", [32, 8, 24])  # whole 16-lane vectors, and a head's last values masked
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_attend_rotates_writes_the_cache_and_attends_over_each_rows_own_columns(dtype, dim):
    g = torch.Generator().manual_seed(3)
    rows, heads, kv, capacity, column = 3, 6, 2, 24, 9
    qkv = torch.randn(rows, (heads + 2 * kv) * dim, generator=g).to(dtype)
    angle = torch.rand(rows, dim // 2, generator=g) * 6
    cos, sin = torch.cat([angle.cos()] * 2, -1).to(dtype), torch.cat([angle.sin()] * 2, -1).to(dtype)
    k_cache = torch.randn(rows, kv, capacity, dim, generator=g).to(dtype)
    v_cache = torch.randn(rows, kv, capacity, dim, generator=g).to(dtype)
    valid = torch.ones(rows, column + 1, dtype=torch.bool)
    valid[1, :4] = False  # left padding
    valid[2, 2:5] = False  # a gap
    k_before, v_before = k_cache.clone(), v_cache.clone()
    got = kernels.attend(qkv, cos, sin, k_cache, v_cache, column, valid, heads, kv, dim ** -0.5)

    q, k, v = qkv.view(rows, heads + 2 * kv, dim).float().split([heads, kv, kv], dim=1)
    k_new = _rotate(k, cos.float()[:, None], sin.float()[:, None])
    assert torch.allclose(k_cache[:, :, column].float(), k_new, rtol=TOL[dtype], atol=TOL[dtype])
    assert torch.equal(v_cache[:, :, column], v.to(dtype))
    untouched = torch.ones(capacity, dtype=torch.bool)
    untouched[column] = False
    assert torch.equal(k_cache[:, :, untouched], k_before[:, :, untouched])  # only the step's column written
    assert torch.equal(v_cache[:, :, untouched], v_before[:, :, untouched])
    q = _rotate(q, cos.float()[:, None], sin.float()[:, None])
    for b in range(rows):
        cols = valid[b].nonzero()[:, 0]
        keys = k_cache[b][:, cols].float().repeat_interleave(heads // kv, 0)
        values = v_cache[b][:, cols].float().repeat_interleave(heads // kv, 0)
        weights = torch.softmax(q[b, :, None, :] @ keys.transpose(1, 2) * dim ** -0.5, -1)
        want = (weights @ values).reshape(-1)
        assert torch.allclose(got[b].float(), want, rtol=TOL[dtype] * 5, atol=TOL[dtype] * 5), b


@needs_kernel
def test_attend_gives_a_row_its_numbers_alone():
    g = torch.Generator().manual_seed(4)
    rows, heads, kv, dim, capacity, column = 4, 3, 1, 16, 16, 7
    qkv = torch.randn(rows, (heads + 2 * kv) * dim, generator=g).bfloat16()
    cos, sin = torch.rand(rows, dim, generator=g).bfloat16(), torch.rand(rows, dim, generator=g).bfloat16()
    k_cache = torch.randn(rows, kv, capacity, dim, generator=g).bfloat16()
    v_cache = torch.randn(rows, kv, capacity, dim, generator=g).bfloat16()
    valid = torch.ones(rows, column + 1, dtype=torch.bool)
    valid[0, :3] = valid[3, :6] = False
    batch = kernels.attend(qkv, cos, sin, k_cache.clone(), v_cache.clone(), column, valid, heads, kv, 0.25)
    for b in range(rows):
        alone = kernels.attend(qkv[b:b + 1], cos[b:b + 1], sin[b:b + 1], k_cache[b:b + 1].clone(),
                               v_cache[b:b + 1].clone(), column, valid[b:b + 1], heads, kv, 0.25)
        assert torch.equal(alone[0], batch[b]), b


@needs_kernel
@pytest.mark.parametrize("group,dim", [(3, 64), (6, 64), (5, 24)])  # SmolLM2's, two chunks of heads, masked
def test_attend_gives_a_head_its_numbers_alone_whichever_heads_share_its_keys(group, dim):
    # a kv head's query heads share one conversion of its keys and values: each head's arithmetic must stay
    # the one it gets as the only head
    g = torch.Generator().manual_seed(9)
    column, capacity = 40, 48
    q = torch.randn(group, dim, generator=g).bfloat16()
    k, v = torch.randn(1, dim, generator=g).bfloat16(), torch.randn(1, dim, generator=g).bfloat16()
    cos, sin = torch.rand(1, dim, generator=g).bfloat16(), torch.rand(1, dim, generator=g).bfloat16()
    k_cache = torch.randn(1, 1, capacity, dim, generator=g).bfloat16()
    v_cache = torch.randn(1, 1, capacity, dim, generator=g).bfloat16()
    valid = torch.ones(1, column + 1, dtype=torch.bool)
    valid[0, 3:7] = False
    shared = kernels.attend(torch.cat([q.reshape(1, -1), k, v], 1), cos, sin, k_cache.clone(), v_cache.clone(),
                            column, valid, group, 1, dim ** -0.5).view(group, dim)
    for h in range(group):
        alone = kernels.attend(torch.cat([q[h:h + 1], k, v], 1), cos, sin, k_cache.clone(), v_cache.clone(),
                               column, valid, 1, 1, dim ** -0.5)
        assert torch.equal(alone[0], shared[h]), h


@needs_kernel
def test_attend_refuses_a_column_past_the_caches_room():
    k = torch.zeros(1, 1, 4, 16)
    with pytest.raises(ValueError, match="column 4"):
        kernels.attend(torch.zeros(1, 3 * 16), torch.zeros(1, 16), torch.zeros(1, 16), k, k.clone(), 4,
                       torch.ones(1, 5, dtype=torch.bool), 1, 1, 0.25)


@needs_kernel
@pytest.mark.parametrize("dtype,layout", _layout_cases())
def test_a_products_residual_is_added_as_torch_adds_it(dtype, layout):
    q, scales, g = _weights(40, 64, dtype, seed=5)
    x, residual = torch.randn(3, 64, generator=g).to(dtype), torch.randn(3, 40, generator=g).to(dtype)
    packed = kernels.pack(q, layout)
    assert torch.equal(kernels.matmul(x, packed, scales, 40, residual), residual + kernels.matmul(x, packed, scales, 40))


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_unquantised_weights_sum_exactly_within_rounding_and_row_by_row(dtype):
    g = torch.Generator().manual_seed(6)
    n, k = 45, 160
    w = torch.randn(n, k, generator=g).to(dtype)
    x = torch.randn(7, k, generator=g).to(dtype)
    packed = kernels.pack(w)
    got = kernels.matmul(x, packed, None, n)
    exact = x.double() @ w.double().T
    magnitude = x.double().abs() @ w.double().abs().T
    assert ((got.double() - exact).abs() <= torch.finfo(dtype).eps * magnitude).all()
    alone = torch.cat([kernels.matmul(x[i:i + 1], packed, None, n) for i in range(len(x))])
    assert torch.equal(got, alone)
    with pytest.raises(TypeError):
        kernels.matmul(x.float() if dtype == torch.bfloat16 else x.bfloat16(), packed, None, n)  # another dtype


@needs_kernel
def test_the_bases_own_weights_take_the_kernel_with_the_models_numbers(tiny_lm_dir):
    from core.lean_step import OwnWeights

    model, lean = _bf16_model(tiny_lm_dir)
    own, torchs = OwnWeights(lean), OwnWeights(lean, kernel=False)
    assert own.kernel and not torchs.kernel
    x = torch.randn(2, model.config.hidden_size).bfloat16()
    layer = model.model.layers[0]
    want = torch.cat([layer.self_attn.q_proj(x), layer.self_attn.k_proj(x), layer.self_attn.v_proj(x)], -1)
    assert torch.allclose(own.product(0, 0, x).float(), want.float(), rtol=1e-2, atol=1e-3)
    assert torch.allclose(own.head(x).float(), model.lm_head(x).float(), rtol=1e-2, atol=1e-3)
    assert torch.allclose(torchs.head(x).float(), model.lm_head(x).float(), rtol=1e-2, atol=1e-3)


def _torch_pick(logits, seen, penalty, young, ban):
    """core/generation.py's torch operations for a greedy step (its fall-back path)."""
    if penalty != 1.0:
        logits = torch.where(seen, torch.where(logits < 0, logits * penalty, logits / penalty), logits)
    if young and ban:
        logits = logits.clone()
        logits[torch.tensor(young)[:, None], torch.tensor(ban)[None, :]] = float("-inf")
    return logits.argmax(-1)


@needs_kernel
@pytest.mark.parametrize("penalty", [1.1, 1.0, 1.3])
def test_greedy_pick_chooses_what_the_torch_operations_choose(penalty):
    g = torch.Generator().manual_seed(10)
    for trial in range(40):
        rows, vocab = 1 + trial % 4, 997
        logits = torch.randn(rows, vocab, generator=g) * 4
        if trial % 3 == 0:  # ties, and a penalised near-tie
            logits[:, 5] = logits[:, 9] = logits.max() + 1
        if trial % 7 == 0:
            logits[0, 100:] = float("-inf")
        seen = torch.rand(rows, vocab, generator=g) < 0.3
        young = [r for r in range(rows) if trial % 2 and r % 2 == 0]
        ban = [5, 9, 11] if trial % 4 else []
        want = _torch_pick(logits, seen, penalty, young, ban)
        marked = seen.clone()
        got = kernels.greedy_pick(logits, marked, penalty, young, ban)
        assert torch.equal(got, want), trial
        expected = seen.clone()
        expected[torch.arange(rows), want] = True
        assert torch.equal(marked, expected)  # the chosen token is marked seen


@needs_kernel
def test_greedy_pick_takes_a_nan_as_torch_argmax_does():
    logits = torch.tensor([[0.5, float("nan"), 3.0, float("nan")], [-1.0, -2.0, -1.0, -5.0]])
    seen = torch.zeros(2, 4, dtype=torch.bool)
    assert torch.equal(kernels.greedy_pick(logits, seen, 1.1, [], []), logits.argmax(-1))
