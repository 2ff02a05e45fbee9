"""One decode step (one token per row) without transformers' module machinery.

`LeanStep` runs a Llama model's own weights in LlamaDecoderLayer's order of operations (the same logits bit
for bit, tests/onbrand/test_decode_lean.py); `Int8Step` runs int8 weight-only copies of its projections
(per output row, absmax scales), which halves the bytes a step reads on a CPU, where decoding waits on memory
(README "Speed"). The generator (core/generation.py) picks one per batch of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers.cache_utils import Cache

from core import decode_kernels as kernels

BASE = "__base__"  # peft's adapter_names entry for the bare base (core.generation re-exports it)


def is_peft(model) -> bool:
    return hasattr(model, "get_base_model") and hasattr(model, "peft_config")


@dataclass
class Logits:
    logits: torch.Tensor


def lean_supported(model) -> bool:
    """Whether LeanStep reproduces this model's decoder layers (Llama's, as SmolLM2 has them)."""
    cfg = model.config
    rope = getattr(cfg, "rope_parameters", None) or {}
    return (getattr(cfg, "model_type", None) == "llama" and getattr(cfg, "_attn_implementation", None) == "sdpa"
            and not getattr(cfg, "attention_bias", False) and not getattr(cfg, "mlp_bias", False)
            and getattr(cfg, "hidden_act", None) == "silu" and getattr(cfg, "pretraining_tp", 1) == 1
            and rope.get("rope_type", "default") == "default")


def _rms(x: torch.Tensor, norm) -> torch.Tensor:
    """LlamaRMSNorm.forward, operation for operation."""
    dtype = x.dtype
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon)
    return norm.weight * h.to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def row_groups(adapter_names: list[str], device=None) -> list[tuple[str, slice | torch.Tensor]]:
    """Each name's rows, in order of first appearance: a slice where they are contiguous (a view, not a gather),
    else their indices."""
    groups = []
    for name in dict.fromkeys(adapter_names):
        at = [i for i, n in enumerate(adapter_names) if n == name]
        contiguous = at == list(range(at[0], at[-1] + 1))
        groups.append((name, slice(at[0], at[-1] + 1) if contiguous else torch.tensor(at, device=device)))
    return groups


class LeanStep:
    """One decode step (one token per row) over a transformers Llama model's own weights without its module
    machinery (module calls, keyword plumbing, mask building): LlamaDecoderLayer's operations in the same
    order on the same tensors, so the same numbers (tests/onbrand/test_decode_lean.py), with fewer Python
    calls per step; with `gemv`, a lone row's projections are matrix-vector products instead. The model may be
    plain, a merged copy, or wrapped by peft: then each row gets peft's mixed-batch arithmetic for its adapter
    (the base output plus the row's LoRA delta, cast as peft casts)."""

    def __init__(self, model: torch.nn.Module, gemv: bool = False, row_attention: bool = True):
        from peft.tuners.tuners_utils import BaseTunerLayer

        # gemv: a lone row's projections as torch.mv (2.3x F.linear's speed for the 49k-row output head and
        # 1.6x for the MLP on this CPU, one thread), which sums in another order: same answers on the bench's
        # prompts, not bit for bit transformers' logits
        self.gemv = gemv
        # attention of a padded batch row by row over each row's own columns: the CPU's flash attention sums in
        # blocks from the first column, so masked padding columns shift the blocks and the bf16 roundings, and a
        # shopper's answer would depend on who else was in the batch (~30 more small calls a step per row)
        self.row_attention = row_attention

        llama = model.get_base_model() if is_peft(model) else model
        cfg = llama.config
        self.inner, self.lm_head = llama.model, llama.lm_head
        self.heads, self.kv_heads = cfg.num_attention_heads, cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.scaling = self.head_dim ** -0.5
        self.layers = [(layer.input_layernorm, layer.self_attn.q_proj, layer.self_attn.k_proj,
                        layer.self_attn.v_proj, layer.self_attn.o_proj, layer.post_attention_layernorm,
                        layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj)
                       for layer in self.inner.layers[:cfg.num_hidden_layers]]
        self._tuner = BaseTunerLayer

    def supports(self, names: list[str] | None) -> bool:
        """False when a row's adapter reaches what this step does not reproduce: LoRA on the embeddings or the
        output head, a LoRA variant (DoRA...), merged peft layers."""
        if not names:
            return True
        for m in (self.inner.embed_tokens, self.lm_head):
            held = [*getattr(m, "lora_embedding_A", {}), *getattr(m, "lora_A", {})]
            if isinstance(m, self._tuner) and any(n in held for n in names):
                return False
        for layer in self.layers:
            for m in layer[1:5] + layer[6:]:
                if isinstance(m, self._tuner) and (m.merged or any(n in getattr(m, "lora_variant", {}) for n in names)):
                    return False
        return True

    @staticmethod
    def _spans(mask: torch.Tensor) -> list[int] | None:
        """Each row's first attended column when every row attends to one run of columns up to the last (left
        padding only: the loop's rows that decode from their own prompt), else None."""
        valid = mask[:, 0, 0, :]
        starts = valid.int().argmax(-1)
        if not bool((valid.sum(-1) == valid.shape[1] - starts).all()):
            return None
        spans = starts.tolist()
        return spans if any(spans) else None  # no padding at all: one call is the same arithmetic

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor,
                spans: list[int] | None) -> torch.Tensor:
        if spans is None:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0, scale=self.scaling,
                                                  is_causal=False)
        # row by row over its own columns: what it computes alone, whatever the batch's padding
        return torch.cat([F.scaled_dot_product_attention(q[b:b + 1], k[b:b + 1, :, s:], v[b:b + 1, :, s:],
                                                         attn_mask=mask[b:b + 1, :, :, s:], dropout_p=0.0,
                                                         scale=self.scaling, is_causal=False)
                          for b, s in enumerate(spans)])

    def _dense(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if self.gemv and x.shape[0] == 1:  # one row: a matrix-vector product (see `gemv`)
            y = torch.mv(weight, x.reshape(-1))
            return (y if bias is None else y + bias).view(1, 1, -1)
        return F.linear(x, weight, bias)

    def _linear(self, m, x: torch.Tensor, groups: list[tuple[str, torch.Tensor]]) -> torch.Tensor:
        if not isinstance(m, self._tuner):
            return self._dense(x, m.weight, m.bias)
        base = m.get_base_layer()
        result = self._dense(x, base.weight, base.bias)
        if m.disable_adapters:
            return result
        for name, index in groups:  # peft's LoraLayer._mixed_batch_forward, row group by row group
            if name not in m.lora_A:
                continue
            a, b = m.lora_A[name], m.lora_B[name]
            sub = m.lora_dropout[name](x[index].to(a.weight.dtype))
            delta = (F.linear(F.linear(sub, a.weight, a.bias), b.weight, b.bias) * m.scaling[name]).to(result.dtype)
            if isinstance(index, slice):
                result[index].add_(delta)  # the same bf16 sum as peft's `result[index] += delta`, in place
            else:
                result[index] += delta
        return result

    @torch.inference_mode()
    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                 cache: Cache, adapter_names: list[str] | None = None, **_) -> "Logits":
        rows = input_ids.shape[0]
        groups = [g for g in row_groups(adapter_names or [], input_ids.device) if g[0] != BASE]
        embed = self.inner.embed_tokens
        x = F.embedding(input_ids, embed.weight, embed.padding_idx)
        cos, sin = self.inner.rotary_emb(x, position_ids)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        lin = self._linear
        spans = self._spans(attention_mask) if self.row_attention and rows > 1 else None
        for i, (ln1, q_proj, k_proj, v_proj, o_proj, ln2, gate, up, down) in enumerate(self.layers):
            residual = x
            h = _rms(x, ln1)
            q = lin(q_proj, h, groups).view(rows, 1, -1, dim).transpose(1, 2)
            k = lin(k_proj, h, groups).view(rows, 1, -1, dim).transpose(1, 2)
            v = lin(v_proj, h, groups).view(rows, 1, -1, dim).transpose(1, 2)
            qk = torch.cat([q, k], dim=1)  # one rotation for both: the same arithmetic element by element
            q, k = ((qk * cos) + (_rotate_half(qk) * sin)).split([heads, kv_heads], dim=1)
            k, v = cache.update(k, v, i)
            if heads != kv_heads:  # transformers' pack_gqa for a one-token query
                q = q.reshape(rows, kv_heads, heads // kv_heads, dim)
            a = self._attend(q, k, v, attention_mask, spans)
            a = a.reshape(a.shape[0], -1, 1, dim).transpose(1, 2).contiguous()
            x = residual + lin(o_proj, a.reshape(rows, 1, -1).contiguous(), groups)
            residual = x
            h = _rms(x, ln2)
            x = residual + lin(down, F.silu(lin(gate, h, groups)) * lin(up, h, groups), groups)
        x = _rms(x, self.inner.norm)
        return Logits(self._dense(x[:, -1:, :], self.lm_head.weight, self.lm_head.bias))


def quantize_rows(weight: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per output row (its absolute maximum maps to 127) and the rows' scales in `dtype`, the
    activations' dtype, as torch's `_weight_int8pack_mm` takes them."""
    w = weight.detach().float()
    scale = w.abs().amax(1).clamp(min=torch.finfo(torch.float32).tiny) / 127
    return (w / scale[:, None]).round().clamp(-127, 127).to(torch.int8).contiguous(), scale.to(dtype)


def int8_supported(model) -> bool:
    """Whether Int8Step can run this model: LeanStep's Llama layers, and every product's inner size a multiple
    of 16 (torch's int8 weight-only kernel reads 16 at a time: other sizes give wrong sums or crash)."""
    if not lean_supported(model):
        return False
    cfg = model.config
    dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    return all(n % 16 == 0 for n in (cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads * dim))


_GROUPS = ((1, 2, 3), (4,), (6, 7), (8,))  # LeanStep.layers indices read by one product: q k v, o, gate up, down


class _StepWeights:
    """One copy of a model's projections and output head for a step's products, q/k/v and gate/up fused into one
    product each: every matrix a view into one buffer (a step then reads one fresh mapping of its own; matrices
    allocated one by one land wherever the allocator has room once the process has freed large blocks, and a
    step read them ~1.3x slower on this machine's CPUs, README "Speed"), in core/decode_kernels.c's packed
    layout where the kernels run (`kernel`), else as they are for torch's product (`_torch_mm`). The weights are
    copied: a change to the model's needs new ones (the generator checks)."""

    def __init__(self, matrices: list[torch.Tensor], scales: list[torch.Tensor | None], dtype: torch.dtype,
                 layers: int, kernel: bool, vnni: bool = True):
        self.kernel = bool(kernel and dtype in (torch.bfloat16, torch.float32) and kernels.available())
        stored = [kernels.pack(w, dtype if vnni else None) for w in matrices] if self.kernel else matrices
        self.buffer = torch.cat([w.reshape(-1) for w in stored])
        views = iter(zip((b.view(w.shape) for b, w in zip(self.buffer.split([w.numel() for w in stored]), stored)),
                         (w.shape[0] for w in matrices), scales))  # (stored weight, output rows, scales)
        self.products = [tuple(next(views) for _ in _GROUPS) for _ in range(layers)]
        self.head_weight = next(views)
        self.nbytes = (self.buffer.numel() * self.buffer.element_size()
                       + sum(sc.numel() * sc.element_size() for sc in scales if sc is not None))
        if self.kernel:  # every layer's four products at once (kernels.layers_step)
            self.mode = kernels.mode(self.buffer)
            self.weight_pointers = kernels.pointers([w for layer in self.products for w, _, _ in layer])
            self.scale_pointers = kernels.pointers([sc for layer in self.products for _, _, sc in layer])

    def _torch_mm(self, x: torch.Tensor, weight: torch.Tensor, scales: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def _mm(self, x: torch.Tensor, weight: torch.Tensor, rows: int, scales: torch.Tensor | None,
            residual: torch.Tensor | None = None) -> torch.Tensor:
        if self.kernel:
            return kernels.matmul(x, weight, scales, rows, residual)
        y = self._torch_mm(x, weight, scales)
        return y if residual is None else residual + y

    def product(self, layer: int, j: int, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        return self._mm(x, *self.products[layer][j], residual)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self._mm(x, *self.head_weight)


class Int8Weights(_StepWeights):
    """A model's projections and output head as int8 weight-only products: each weight matrix quantised per
    output row, which gives a row the same numbers whatever rows it is computed with. On an AVX-512 CPU the
    products run on core/decode_kernels.c (read at about twice the speed of torch's kernel, the same sums:
    README "Speed"), elsewhere, or with `kernel=False`, on torch's `_weight_int8pack_mm` (int8 weights,
    activations in the model's dtype). With bf16 activations on a CPU with AVX-512 VNNI the kernel's products are
    exact integer sums (`vnni`; False: fp32 FMAs, the order of torch's kernel)."""

    def __init__(self, lean: LeanStep, kernel: bool = True, vnni: bool = True):
        dtype = lean.inner.embed_tokens.weight.dtype
        quantised = [quantize_rows(torch.cat([layer[k].weight.detach() for k in group]), dtype)
                     for layer in lean.layers for group in _GROUPS]
        quantised.append(quantize_rows(lean.lm_head.weight, dtype))
        super().__init__([w for w, _ in quantised], [sc for _, sc in quantised], dtype, len(lean.layers), kernel,
                         vnni)

    def _torch_mm(self, x: torch.Tensor, weight: torch.Tensor, scales: torch.Tensor | None) -> torch.Tensor:
        return torch._weight_int8pack_mm(x, weight, scales)


class OwnWeights(_StepWeights):
    """A model's own projections and output head (bf16 or fp32, unquantised; rows stacked where products are
    fused, so each output is the same sum), for the bare base's rows of a step whose adapter rows run on int8:
    on core/decode_kernels.c, else torch's F.linear (`kernel` False)."""

    def __init__(self, lean: LeanStep, kernel: bool = True):
        matrices = [torch.cat([layer[k].weight.detach() for k in group]) for layer in lean.layers for group in _GROUPS]
        matrices.append(lean.lm_head.weight.detach())
        super().__init__(matrices, [None] * len(matrices), lean.inner.embed_tokens.weight.dtype,
                         len(lean.layers), kernel)

    def _torch_mm(self, x: torch.Tensor, weight: torch.Tensor, scales: torch.Tensor | None) -> torch.Tensor:
        return F.linear(x, weight)


class Int8Step(LeanStep):
    """LeanStep's step where each adapter's rows take their products on their own weights: int8 weight-only
    copies of the merged copy's (`Int8Weights`) for rows with an adapter, the model's own (`OwnWeights`) for
    the bare base's rows. A step on int8 weights reads half the bytes, and a CPU's decoding waits on memory
    reads, so it is faster; its numbers are not the bf16 model's (README "Speed" gives what it changed in the
    scorecard), and the base keeps its own. Where every row's weights run on
    core/decode_kernels.c, the whole step does (`_fused`); else torch's operations. Every operation but the
    products is row by row and the products give a row the same numbers whatever rows they compute with, so a
    row's answer in any batch is the one it gets alone (tests/onbrand/test_decode_int8.py).

    `weights`: adapter name (BASE for the bare base; None for a batch of one kind) -> its weights. The
    model's embeddings, norms and rotary tables are shared by every copy, so any one of them serves."""

    def __init__(self, model: torch.nn.Module, weights: dict, row_attention: bool = True):
        super().__init__(model, row_attention=row_attention)
        if is_peft(model):
            raise ValueError("Int8Step takes a model without peft wrappers: the plain copy or a merged copy")
        self.weights = weights
        self.intermediate = self.layers[0][6].weight.shape[0]
        self.norms = [(layer[0], layer[5]) for layer in self.layers]
        self.embed, self.rotary, self.final_norm = self.inner.embed_tokens, self.inner.rotary_emb, self.inner.norm
        # the whole step on core/decode_kernels.c where every row's weights run on it: norms, rotation, the KV
        # cache's write and attention in one call a layer, residual adds inside the products (fewer, larger
        # calls: ~5 ms of a step were small torch operations, README "Speed")
        hidden = self.embed.weight.shape[1]
        self.fused = (all(getattr(w, "kernel", False) for w in weights.values())
                      and kernels.step_supported(self.head_dim, hidden, self.intermediate))
        eps = {n.variance_epsilon for pair in self.norms for n in pair}
        self.norm_pointers = None
        if self.fused and len(eps) == 1:  # one call for every layer of a step on one set of weights
            self.eps = eps.pop()
            self._point_at_norms()
        # no reference to the linear weights (a merged copy may be dropped from its cache while this lives)
        del self.layers, self.inner, self.lm_head

    def supports(self, names: list[str] | None) -> bool:
        return None in self.weights or (names is not None and set(names) <= set(self.weights))

    def _point_at_norms(self) -> None:
        """C arrays of the norm weights' data for layers_step, holding the tensors (never a freed one)."""
        self._norm_tensors = [n.weight for pair in self.norms for n in pair]
        self.norm_pointers = kernels.pointers(self._norm_tensors[0::2])
        self.post_norm_pointers = kernels.pointers(self._norm_tensors[1::2])

    def _parts(self, adapter_names: list[str] | None, device) -> list:
        if None in self.weights or not adapter_names:
            return [(slice(None), next(iter(self.weights.values())))]
        return [(index, self.weights[name]) for name, index in row_groups(adapter_names, device)]

    @staticmethod
    def _product(parts: list, layer: int, j: int, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        if len(parts) == 1:
            return parts[0][1].product(layer, j, x, residual)
        out = None
        for index, weights in parts:
            y = weights.product(layer, j, x[index], residual[index] if residual is not None else None)
            if out is None:
                out = y.new_empty((x.shape[0], y.shape[1]))
            out[index] = y
        return out

    def verifies(self, cache: Cache) -> bool:
        """Whether a step can take several rows per answer (`slots`: a draft's verification): where the whole
        step runs on core/decode_kernels.c, whose attention reads each row's cache row and valid columns."""
        return self.fused and all(hasattr(layer, "reserve") for layer in cache.layers[:len(self.norms)])

    @torch.inference_mode()
    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                 cache: Cache, adapter_names: list[str] | None = None, slots: kernels.Slots | None = None,
                 **_) -> Logits:
        """One step. slots (core/decode_kernels.py): rows that are one answer's next tokens, each writing its
        keys and values at its slot's cache row and column (attention_mask: [rows, columns + slots.span], each
        row's valid columns); the cache then advances by slots.span columns."""
        rows = input_ids.shape[0]
        parts = self._parts(adapter_names, input_ids.device)
        if self.verifies(cache):
            return self._fused(input_ids, attention_mask, position_ids, cache, parts, slots)
        if slots is not None:
            raise ValueError("Int8Step: several rows per answer need the step on core/decode_kernels.c")
        x = F.embedding(input_ids, self.embed.weight, self.embed.padding_idx)
        cos, sin = self.rotary(x, position_ids)
        half = cos.shape[-1] // 2
        # rotate_half(x) * sin == roll(x, half) * (sin with its first half negated): one roll instead of
        # two slices, a negation and a cat, the same products
        cos, sin = cos.view(rows, 1, 1, -1), torch.cat([-sin[..., :half], sin[..., half:]], dim=-1).view(rows, 1, 1, -1)
        x = x.view(rows, -1)
        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        product, inter = self._product, self.intermediate
        spans = self._spans(attention_mask) if self.row_attention and rows > 1 else None
        if spans is None and bool(attention_mask.all()):
            attention_mask = None  # no padding: adding a mask of zeros changes no number, and costs ~3% of a step
        for i, (ln1, ln2) in enumerate(self.norms):
            y = product(parts, i, 0, _rms(x, ln1)).view(rows, heads + 2 * kv_heads, 1, dim)
            qk, v = y[:, :heads + kv_heads], y[:, heads + kv_heads:]
            qk = qk * cos + qk.roll(half, -1) * sin
            q, k = qk[:, :heads], qk[:, heads:]
            k, v = cache.update(k, v, i)
            if heads != kv_heads:
                q = q.reshape(rows, kv_heads, heads // kv_heads, dim)
            a = self._attend(q, k, v, attention_mask, spans)
            x = x + product(parts, i, 1, a.reshape(rows, -1))
            gu = product(parts, i, 2, _rms(x, ln2))
            x = x + product(parts, i, 3, F.silu(gu[:, :inter]) * gu[:, inter:])
        return self._head(_rms(x, self.final_norm), parts)

    def _fused(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor, cache: Cache,
               parts: list, slots: kernels.Slots | None = None) -> Logits:
        """The step on core/decode_kernels.c: per layer a norm, the q/k/v product, one `attend` (rotation, the
        cache's write, each row over its own valid columns), the o product with the residual added, a norm, the
        gate/up product, silu * up, the down product with the residual added."""
        rows = input_ids.shape[0]
        x = F.embedding(input_ids, self.embed.weight, self.embed.padding_idx)
        cos, sin = self.rotary(x, position_ids)
        cos, sin = cos.reshape(rows, -1).contiguous(), sin.reshape(rows, -1).contiguous()
        x = x.reshape(rows, -1).contiguous()
        valid = attention_mask.reshape(rows, -1)
        if valid.dtype != torch.bool:
            valid = valid != 0
        valid = valid.contiguous()
        span = slots.span if slots is not None else 1
        if not self._one_call(x, cache, parts, valid, cos, sin, slots):
            product = self._product
            for i, (ln1, ln2) in enumerate(self.norms):
                layer = cache.layers[i]
                k_cache, v_cache, column = layer.reserve(span)
                qkv = product(parts, i, 0, kernels.rms_norm(x, ln1.weight, ln1.variance_epsilon))
                a = kernels.attend(qkv, cos, sin, k_cache, v_cache, column, valid, self.heads, self.kv_heads,
                                   self.scaling, slots)
                layer.advance(span)
                x = product(parts, i, 1, a, residual=x)
                gu = product(parts, i, 2, kernels.rms_norm(x, ln2.weight, ln2.variance_epsilon))
                x = product(parts, i, 3, kernels.silu_mul(gu, self.intermediate), residual=x)
        return self._head(kernels.rms_norm(x, self.final_norm.weight, self.final_norm.variance_epsilon), parts)

    def _one_call(self, x: torch.Tensor, cache: Cache, parts: list, valid: torch.Tensor, cos: torch.Tensor,
                  sin: torch.Tensor, slots: kernels.Slots | None = None) -> bool:
        """Every layer in one kernels.layers_step call (x updated in place) where the norms allow it, each set of
        weights' rows are one run (a slice) and every layer's cache writes the same column; False: nothing
        done."""
        if self.norm_pointers is None:
            return False
        runs = []
        for index, weights in parts:
            if isinstance(index, slice):
                start, stop = index.indices(x.shape[0])[:2]
            else:
                return False  # a gather: the per-operation path
            runs.append(kernels.Part(start, stop - start, weights.weight_pointers, weights.scale_pointers,
                                     weights.mode, getattr(weights, "lora", None)))
        runs.sort(key=lambda p: p.start)
        if any(n.weight is not t for n, t in zip((n for pair in self.norms for n in pair), self._norm_tensors)):
            self._point_at_norms()  # a norm weight was replaced since
        span = slots.span if slots is not None else 1
        reserved = [layer.reserve(span) for layer in cache.layers[:len(self.norms)]]
        if len({column for _, _, column in reserved}) != 1:
            return False
        kernels.layers_step(x, self.norm_pointers, self.post_norm_pointers, self.eps, runs,
                            [(k, v) for k, v, _ in reserved], reserved[0][2], valid, cos, sin, self.heads,
                            self.kv_heads, self.intermediate, self.scaling, slots)
        for layer in cache.layers[:len(self.norms)]:
            layer.advance(span)
        return True

    def _head(self, x: torch.Tensor, parts: list) -> Logits:
        """Each row's logits from its final-normed hidden state, on its own weights' head (a merged copy's
        differs where an adapter has LoRA on it)."""
        rows = x.shape[0]
        heads = {id(getattr(weights, "own", weights)) for _, weights in parts}
        if len(parts) == 1 or len(heads) == 1:  # one head for every row (the base's, beside LoRA rows): one read
            return Logits(parts[0][1].head(x).view(rows, 1, -1))
        out = x.new_empty((rows, self.embed.weight.shape[0]))
        for index, weights in parts:
            out[index] = weights.head(x[index])
        return Logits(out.view(rows, 1, -1))
