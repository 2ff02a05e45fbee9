"""An adapter's rows on the base's own weights plus their LoRA product (`Generator(adapter_weights="lora")`,
README "Speed"): the one-token steps' weights (`LoraWeights`, for core/lean_step.py's Int8Step) and the prefill's
module (`with_lora`). The base's rows and every adapter's rows then read one set of projection weights, so side
by side (base + adapter) and shoppers of several merchants cost about one weight read a step, and no merged copy
of the weights is made per adapter.

    factors, dtype = lora_factors(LeanStep(peft_model), "brand@v0001")   # None: not addable as peft adds it
    weights = LoraWeights(OwnWeights(LeanStep(plain)), factors, dtype)    # a step's weights for its rows
    prefill = with_lora(plain_copy(peft_model), factors)                  # a plain copy that adds the LoRA
"""

from __future__ import annotations

import ctypes
import weakref

import torch
import torch.nn.functional as F

from core import decode_kernels as kernels
from core.lean_step import _GROUPS, LeanStep, OwnWeights


class LoraWeights:
    """An adapter's rows on the base's own weights (`OwnWeights`, shared with the bare base's rows) plus the
    adapter's LoRA product, added to each projection's output as peft adds it for a batch's rows
    (`lora_B(lora_A(x)) * scaling` in the LoRA weights' dtype, cast to the activations' and added;
    core/decode_kernels.c `lora_product`). Rows of the bare base and of any number of adapters then read one set
    of projection weights a step (side by side, shoppers of several merchants), and no merged copy is made.

    `factors`: per layer, per product (q/k/v, o, gate/up, down), its projections' LoRA as (first output in the
    product's, A [rank, K], B [outputs, rank], scaling). Built by `lora_factors`."""

    def __init__(self, own: OwnWeights, factors: list[list[list[tuple]]], lora_dtype: torch.dtype):
        self.own = own
        self.kernel = own.kernel
        self.lora_dtype = lora_dtype
        self.factors = factors
        self.nbytes = factor_bytes(factors)
        if self.kernel:
            self.mode, self.weight_pointers, self.scale_pointers = own.mode, own.weight_pointers, own.scale_pointers
            products = [product for layer in factors for product in layer]
            # decode_kernels.c's layout: each product's A stacked, each projection's B transposed
            self._stacked = [torch.cat([a for _, a, _, _ in p]).contiguous() if p else None for p in products]
            slots = [(p[i] if i < len(p) else None) for p in products for i in range(kernels.LORA_SEGMENTS)]
            self._transposed = [s[2].T.contiguous() if s else None for s in slots]
            self._arrays = [kernels.pointers(self._stacked), kernels.pointers(self._transposed),
                            (ctypes.c_float * len(slots))(*[s[3] if s else 0.0 for s in slots]),
                            (ctypes.c_int * len(slots))(*[s[1].shape[0] if s else 0 for s in slots]),
                            (ctypes.c_int * len(slots))(*[s[2].shape[0] if s else 0 for s in slots]),
                            (ctypes.c_int * len(slots))(*[s[0] if s else 0 for s in slots])]
            self.lora = kernels.LoraFactors(*[ctypes.addressof(a) for a in self._arrays],
                                            int(lora_dtype == torch.float32))

    def product(self, layer: int, j: int, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        segments = self.factors[layer][j]
        if not segments:
            return self.own.product(layer, j, x, residual)
        y = self.own.product(layer, j, x)
        if self.kernel:
            return kernels.lora_product(x, self.lora, layer * 4 + j, y, residual)
        for off, a, b, sc in segments:  # torch's operations, in peft's order
            y[:, off:off + b.shape[0]] += (F.linear(F.linear(x.to(a.dtype), a), b) * sc).to(y.dtype)
        return y if residual is None else residual + y

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.own.head(x)


def factor_bytes(factors: list[list[list[tuple]]]) -> int:
    """The bytes of `lora_factors`' A and B tensors."""
    return sum(t.numel() * t.element_size() for layer in factors for product in layer for _, *ab, _ in product
               for t in ab)


def lora_factors(lean: LeanStep, name: str) -> tuple[list[list[list[tuple]]], torch.dtype] | None:
    """LoraWeights' factors of adapter `name` from a peft model's LeanStep (its layers' LoRA wrappers), and their
    dtype; None where LoraWeights cannot add them as peft does: LoRA weights of mixed dtypes or of a dtype that is
    neither fp32 nor the activations', a LoRA bias, dropout that is on (a model in training mode), a projection whose outputs are not a multiple of 16, or anything LeanStep does not reproduce (LoRA on
    the embeddings or the head, DoRA and other variants: `LeanStep.supports`)."""
    if not lean.supports([name]):
        return None
    activations = lean.inner.embed_tokens.weight.dtype
    factors, dtypes = [], set()
    for layer in lean.layers:
        products = []
        for group in _GROUPS:
            segments, off = [], 0
            for m in (layer[k] for k in group):
                out = (m.get_base_layer() if isinstance(m, lean._tuner) else m).weight.shape[0]
                if out % kernels.COLS:
                    return None
                if isinstance(m, lean._tuner) and name in m.lora_A:
                    a, b = m.lora_A[name], m.lora_B[name]
                    dropout = m.lora_dropout[name]
                    if a.bias is not None or b.bias is not None or not (
                            isinstance(dropout, torch.nn.Identity) or (isinstance(dropout, torch.nn.Dropout)
                                                                       and not dropout.training)):
                        return None
                    dtypes |= {a.weight.dtype, b.weight.dtype}
                    segments.append((off, a.weight.detach(), b.weight.detach(), float(m.scaling[name])))
                off += out
            products.append(segments)
        factors.append(products)
    if len(dtypes) != 1 or not dtypes <= {torch.float32, activations}:
        return None
    return factors, dtypes.pop()


class _LoraInput:
    """A product's projections' A stacked ([R, K]), applied once per input: q, k and v (gate and up) read one
    input, so it is cast and multiplied once for all of them (kept while that input lives)."""

    def __init__(self, a: torch.Tensor):
        self.a = a
        self._x: weakref.ref | None = None
        self._t: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self._x is None or self._x() is not x:
            self._x = weakref.ref(x, self._forget)
            self._t = F.linear(x.to(self.a.dtype), self.a)  # peft's lora_A(x.to(lora_A.weight.dtype))
        return self._t

    def _forget(self, _ref) -> None:
        self._x = self._t = None


class _LoraLinear(torch.nn.Module):
    """A projection of the base (its own weight, shared) plus one adapter's LoRA as peft adds it to a batch's
    rows: `result + (lora_B(lora_A(x)) * scaling).to(result.dtype)`, lora_A's output shared with the product's
    other projections (`_LoraInput`)."""

    def __init__(self, base: torch.nn.Linear, lora_in: _LoraInput, ranks: slice, b: torch.Tensor, scaling: float):
        super().__init__()
        self.weight, self.bias = base.weight, base.bias
        self.lora_in, self.ranks, self.b, self.scaling = lora_in, ranks, b, scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)
        u = F.linear(self.lora_in(x)[..., self.ranks], self.b) * self.scaling
        return y + u.to(y.dtype)


def with_lora(clone: torch.nn.Module, factors: list[list[list[tuple]]]) -> torch.nn.Module:
    """`clone` (a plain copy of the base: core.generation.plain_copy) with each projection that `factors` (from
    `lora_factors`) holds a LoRA for replaced by the base projection plus that LoRA: an adapter's prefill module
    that adds its LoRA as peft does, without peft's per-module machinery (its mixed-batch forward gathered,
    cast and scattered every projection's rows one by one: ~130 ms more than the bare base's prefill of the
    serving prompt, README "Speed"). The base's weights stay shared."""
    lean = LeanStep(clone)
    names = {id(m): n for n, m in clone.named_modules()}
    for layer, products in zip(lean.layers, factors):
        for group, segments in zip(_GROUPS, products):
            if not segments:
                continue
            lora_in = _LoraInput(torch.cat([a for _, a, _, _ in segments]).contiguous())
            by_offset, off, rank = {s[0]: s for s in segments}, 0, 0
            for k in group:
                module = layer[k]
                segment = by_offset.get(off)
                if segment is not None:
                    _, a, b, scaling = segment
                    clone.set_submodule(names[id(module)],
                                        _LoraLinear(module, lora_in, slice(rank, rank + a.shape[0]), b, scaling))
                    rank += a.shape[0]
                off += module.weight.shape[0]
    return clone
