"""Int8Step: one-token steps on int8 weight-only copies of the projections and the output head. Its numbers
are not the model's own, so what is proved here is that it computes the same model: the same greedy tokens as
peft's per-row path on the tiny model (merged, bare and mixed rows), logits within the quantisation's error
of the bf16 step's, and a step built again whenever the weights it copied change."""

from __future__ import annotations

from copy import deepcopy

import pytest
import torch

from core.generation import BASE, Generator, _Cache, plain_copy
from core.lean_step import Int8Step, Int8Weights, LeanStep, quantize_rows

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROMPTS = [[{"role": "user", "content": q}] for q in ("hi", "what does the quokka dome cost?", "stove in stock?")]
NEW = 24


def test_quantize_rows_is_symmetric_per_row_within_half_a_step():
    torch.manual_seed(0)
    w = torch.randn(7, 33) * torch.logspace(-3, 2, 7)[:, None]  # rows of very different magnitudes
    q, scales = quantize_rows(w, torch.float32)
    assert q.dtype == torch.int8 and q.abs().max() == 127
    assert torch.equal(q.abs().amax(1), torch.full((7,), 127, dtype=torch.int8))  # each row uses its full range
    error = (q.float() * scales[:, None] - w).abs()
    assert (error <= scales[:, None] / 2 + 1e-6 * w.abs()).all()


TIE = 0.005  # a top-2 margin under 0.5% of the largest logit: a tie that int8 weights' error may tip


def _reference(lm, gen: Generator, messages, name: str, new: int) -> tuple[list[int], list[float]]:
    """peft's greedy tokens (transformers' generate, per-row adapter_names) and each step's top-2 margin
    over the largest logit, after the repetition penalty."""
    ids = gen.encode(messages)
    with torch.inference_mode():
        out = lm.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, do_sample=False,
                                repetition_penalty=gen.repetition_penalty, pad_token_id=lm.tokenizer.pad_token_id,
                                adapter_names=[name], output_scores=True, return_dict_in_generate=True)
    margins = []
    for scores in out.scores:
        top = scores[0].topk(2).values
        margins.append(float((top[0] - top[1]) / scores[0].abs().max()))
    return out.sequences[0, ids.shape[1]:].tolist(), margins


def _same_until_a_tie(lm, got: str, tokens: list[int], margins: list[float]) -> int:
    """How many of peft's tokens the int8 answer reproduces; where it parts from them, peft's choice was a tie."""
    decode = lambda k: lm.tokenizer.decode(tokens[:k], skip_special_tokens=True)  # noqa: E731
    same = max(k for k in range(len(tokens) + 1) if got.startswith(decode(k)))
    if same < len(tokens):
        assert margins[same] < TIE, (got, decode(len(tokens)), same, margins[same])
    return same


def peft_agreement(lm, gen: Generator) -> tuple[int, int, int]:
    """gen's answers against peft's greedy tokens, alone and side by side (the base and adapters "a" and "b" in
    one batch) on PROMPTS: tokens reproduced (each answer up to where it parts from peft's at a near-tie),
    tokens in all, answers reproduced whole (alone)."""
    same = total = whole = 0
    for m in PROMPTS:
        refs = {n: _reference(lm, gen, m, n, NEW) for n in ("a", "b", BASE)}
        assert refs["a"][0] != refs[BASE][0] and refs["b"][0] != refs[BASE][0]  # the adapters change answers
        for name, (tokens, margins) in refs.items():
            k = _same_until_a_tie(lm, "".join(gen.stream(m, NEW, adapter_names=[name])), tokens, margins)
            same, total, whole = same + k, total + len(tokens), whole + (k == len(tokens))
        for name, got in zip((BASE, "a", "b"), gen.generate_batch([m, m, m], NEW, adapter_names=[BASE, "a", "b"])):
            same += _same_until_a_tie(lm, got, *refs[name])
            total += len(refs[name][0])
    return same, total, whole


def test_int8_steps_give_the_peft_paths_greedy_tokens_up_to_a_tie(scrambled_lm):
    """On the tiny model's random weights near-ties are common (peft's own top-2 margins go down to 0.01% of
    the largest logit): the int8 answer must be peft's token for token until such a tie, and most answers
    whole. On the real model the bench counts identical answers (README "Speed")."""
    lm = scrambled_lm(("a", TARGETS), ("b", TARGETS))
    gen = Generator(lm, int8_rows=4)
    same, total, whole = peft_agreement(lm, gen)
    assert same >= 0.75 * total and whole >= 4, (same, total, whole)
    assert gen.engine_steps["int8"] > 0  # every row: bare, adapter and mixed
    assert {"merged", "bare", "peft"} <= set(gen.engine_steps)


def _step_logits(model, step, ids: torch.Tensor, steps: int = 6) -> torch.Tensor:
    """The step's logits over `steps` one-token steps after the model's prefill of ids, fed the bf16/fp32
    model's own greedy tokens (so both sides see the same inputs)."""
    cache, out = _Cache(), []
    with torch.inference_mode():
        logits = model(input_ids=ids, past_key_values=cache, use_cache=True).logits[:, -1]
        n = ids.shape[1]
        for i in range(steps):
            token = logits.argmax(-1, keepdim=True)
            logits = step(input_ids=token, attention_mask=torch.ones(1, 1, 1, n + i + 1, dtype=torch.bool),
                          position_ids=torch.tensor([[n + i]]), cache=cache).logits[:, -1]
            out.append(logits[0])
    return torch.stack(out)


def _dequantised(model) -> torch.nn.Module:
    """A plain copy whose projections and output head hold the int8 weights times their scales (the
    embeddings stay as they are: Int8Step looks tokens up in them)."""
    copy = deepcopy(model)
    with torch.no_grad():
        for name, module in list(copy.named_modules()):
            if isinstance(module, torch.nn.Linear):
                q, scales = quantize_rows(module.weight, module.weight.dtype)
                module.weight = torch.nn.Parameter(q.to(scales.dtype) * scales[:, None], requires_grad=False)
    return copy


def test_int8_step_is_the_model_with_its_weights_quantised(scrambled_lm):
    """Int8Step against LeanStep on a copy holding the same int8 weights dequantised: the same arithmetic up
    to the order of sums (a wrong rotation, head or residual would be far off), and both away from the
    unquantised model's logits by the quantisation's error only."""
    lm = scrambled_lm(("a", TARGETS))
    plain = plain_copy(lm.model)
    ids = Generator(lm).encode(PROMPTS[1])
    int8 = _step_logits(plain, Int8Step(plain, {None: Int8Weights(LeanStep(plain))}), ids)
    dequantised = _step_logits(plain, LeanStep(_dequantised(plain)), ids)
    exact = _step_logits(plain, LeanStep(plain), ids)
    scale = exact.abs().max()
    assert (int8 - dequantised).abs().max() / scale < 1e-4
    error = (int8 - exact).abs().max() / scale
    assert 1e-4 < error < 0.05, error  # not the same numbers, and close: 8 bits per weight, one scale per row
    assert torch.equal(int8.argmax(-1), exact.argmax(-1))


def test_batches_past_int8_rows_take_bf16_steps(scrambled_lm):
    lm = scrambled_lm(("a", TARGETS))
    gen = Generator(lm, int8_rows=2)
    gen.generate_batch(PROMPTS[:2], 4, adapter_names=["a", "a"])
    assert gen.engine_steps["int8"] > 0 and gen.engine_steps["lean"] == 0
    gen.generate_batch(PROMPTS, 4, adapter_names=["a", "a", "a"])
    assert gen.engine_steps["lean"] > 0
    off = Generator(lm)  # int8_rows=0: the model's own numbers for every step
    off.generate(PROMPTS[0], 4, adapter_names=["a"])
    assert off.engine_steps["int8"] == 0 and off.engine_steps["lean"] > 0


@pytest.mark.parametrize("adapter_weights", ["merged", "lora"])
def test_an_int8_step_is_built_again_when_the_weights_it_copied_change(scrambled_lm, adapter_weights):
    """A step's weights (merged int8 copies, or the LoRA factors beside the base's own) are made again when the
    adapter is retrained in place."""
    lm = scrambled_lm(("a", TARGETS))
    gen = Generator(lm, int8_rows=4, adapter_weights=adapter_weights)
    before = gen.generate(PROMPTS[1], NEW, adapter_names=["a"])
    with torch.no_grad():
        for name, p in lm.model.named_parameters():
            if "lora_B" in name:
                p.mul_(-3)  # the adapter retrained in place
    after = gen.generate(PROMPTS[1], NEW, adapter_names=["a"])
    assert after != before
    _same_until_a_tie(lm, after, *_reference(lm, gen, PROMPTS[1], "a", NEW))
    mixed = gen.generate_batch([PROMPTS[1]] * 2, NEW, adapter_names=[BASE, "a"])
    _same_until_a_tie(lm, mixed[1], *_reference(lm, gen, PROMPTS[1], "a", NEW))


def test_an_adapter_attached_later_decodes_on_its_own_int8_weights(scrambled_lm):
    from peft import LoraConfig

    lm = scrambled_lm(("a", TARGETS))
    gen = Generator(lm, int8_rows=4)
    gen.generate_batch([PROMPTS[1]] * 2, 4, adapter_names=[BASE, "a"])  # int8 weights of the base and of "a"
    torch.manual_seed(7)
    lm.model.add_adapter("late", LoraConfig(r=4, target_modules=TARGETS, init_lora_weights=False))
    got = gen.generate_batch([PROMPTS[1]] * 2, NEW, adapter_names=[BASE, "late"])
    tokens, margins = _reference(lm, gen, PROMPTS[1], "late", NEW)
    assert _same_until_a_tie(lm, got[1], tokens, margins) >= 5  # its own LoRA, not the base's answer
    assert tokens != _reference(lm, gen, PROMPTS[1], BASE, NEW)[0]


def test_mixed_rows_on_int8_weights_each_get_their_solo_answer_exactly(scrambled_lm):
    """Each adapter's rows take their products on that adapter's own int8 weights, and torch's int8 product
    gives a row the same numbers whatever rows it computes with: a row's answer in any batch is its answer
    alone, to the character (where peft's arithmetic for mixed rows would sum in another order)."""
    lm = scrambled_lm(("a", TARGETS), ("b", TARGETS))
    gen = Generator(lm, int8_rows=8)
    for m in PROMPTS:
        alone = {n: gen.generate(m, NEW, adapter_names=[n]) for n in (BASE, "a", "b")}
        assert len(set(alone.values())) == 3
        names = [BASE, "a", "b", "a", BASE, "b"]  # each adapter's rows apart from each other (a gather)
        assert gen.generate_batch([m] * 6, NEW, adapter_names=names) == [alone[n] for n in names]
        others = [p for p in PROMPTS if p is not m]
        batch = gen.generate_batch([m, *others], NEW, adapter_names=["b", "a", BASE])  # other prompts: padding
        assert batch[0] == alone["b"]
    assert gen.engine_steps["int8"] > 0


def test_a_model_whose_sizes_the_int8_kernel_cannot_take_keeps_bf16_steps(scrambled_lm):
    """torch's int8 weight-only product sums 16 inputs at a time: another inner size gives wrong sums or
    crashes the process, so such a model never reaches it."""
    from core.lean_step import int8_supported

    lm = scrambled_lm(("a", TARGETS))
    assert int8_supported(plain_copy(lm.model))
    lm.model.config.intermediate_size += 8  # read only when the model is built: the weights keep their size
    assert not int8_supported(plain_copy(lm.model))
    gen = Generator(lm, int8_rows=8)
    gen.generate_batch([PROMPTS[1]] * 2, 4, adapter_names=[BASE, "a"])
    gen.generate(PROMPTS[1], 4, adapter_names=["a"])
    assert gen.engine_steps["int8"] == 0 and gen.engine_steps["lean"] > 0


@pytest.mark.parametrize("value, rows", [("0", 0), ("8", 8)])
def test_int8_rows_comes_from_the_environment(monkeypatch, tmp_path, value, rows):
    from core.config import Settings

    monkeypatch.setenv("ONBRAND_INT8_ROWS", value)
    assert Settings.from_env(home=tmp_path).int8_rows == rows


@pytest.mark.parametrize("value", ["four", "-1"])
def test_a_bad_int8_rows_is_one_clear_error(monkeypatch, tmp_path, value):
    from core.config import Settings

    monkeypatch.setenv("ONBRAND_INT8_ROWS", value)
    with pytest.raises(ValueError, match="int8_rows|ONBRAND_INT8_ROWS"):
        Settings.from_env(home=tmp_path)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("own", [False, True])
def test_one_call_for_every_layer_gives_the_per_operation_steps_numbers(scrambled_lm, dtype, own):
    """kernels.layers_step makes the per-operation path's calls inside C: the same logits bit for bit, on the
    int8 weights of an adapter's rows and on the bare base's own weights."""
    from core import decode_kernels
    from core.lean_step import OwnWeights

    if not decode_kernels.available():
        pytest.skip(f"the decode kernels are unavailable here: {decode_kernels.unavailable_reason()}")
    lm = scrambled_lm(("a", TARGETS))
    plain = plain_copy(lm.model).to(dtype)
    ids = Generator(lm).encode(PROMPTS[1])
    lean = LeanStep(plain)
    weights = OwnWeights(lean) if own else Int8Weights(lean)
    one_call, per_operation = Int8Step(plain, {None: weights}), Int8Step(plain, {None: weights})
    assert one_call.norm_pointers is not None
    per_operation.norm_pointers = None
    assert torch.equal(_step_logits(plain, one_call, ids, steps=8), _step_logits(plain, per_operation, ids, steps=8))


def mixed_step_logits(plain, step, ids: torch.Tensor, names: list[str], steps: int = 6) -> torch.Tensor:
    """`step`'s logits over `steps` one-token steps of rows named `names` (ids: one prompt per row), after the
    plain model's prefill, each row fed its own greedy token."""
    cache, out = _Cache(), []
    with torch.inference_mode():
        first = plain(input_ids=ids, past_key_values=cache, use_cache=True).logits[:, -1]
        token, n = first.argmax(-1, keepdim=True), ids.shape[1]
        for i in range(steps):
            got = step(input_ids=token, attention_mask=torch.ones(len(names), 1, 1, n + i + 1, dtype=torch.bool),
                       position_ids=torch.full((len(names), 1), n + i), cache=cache, adapter_names=names).logits[:, -1]
            out.append(got)
            token = got.argmax(-1, keepdim=True)
    return torch.stack(out)


def count_layers_step_calls(monkeypatch) -> list:
    """A list that gets an item per kernels.layers_step call from now on (the call itself still made)."""
    from core import decode_kernels

    calls, real = [], decode_kernels.layers_step
    monkeypatch.setattr(decode_kernels, "layers_step", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


@pytest.mark.parametrize("names", [["own", "int8"], ["int8", "int8", "own"], ["own", "int8", "own"]])
def test_one_call_for_mixed_rows_gives_the_per_operation_steps_numbers(scrambled_lm, monkeypatch, names):
    """Rows on several sets of weights (side by side: the base's own, an adapter's int8) in one layers_step
    call, part by part: the per-operation path's logits bit for bit; where a set's rows are not one run (a
    gather) the step keeps the per-operation path."""
    from core import decode_kernels
    from core.lean_step import OwnWeights

    if not decode_kernels.available():
        pytest.skip(f"the decode kernels are unavailable here: {decode_kernels.unavailable_reason()}")
    lm = scrambled_lm(("a", TARGETS))
    plain = plain_copy(lm.model).to(torch.bfloat16)
    lean = LeanStep(plain)
    weights = {"own": OwnWeights(lean), "int8": Int8Weights(lean)}
    one_call, per_operation = Int8Step(plain, weights), Int8Step(plain, weights)
    per_operation.norm_pointers = None
    ids = Generator(lm).encode(PROMPTS[1]).repeat(len(names), 1)
    calls = count_layers_step_calls(monkeypatch)
    fused = mixed_step_logits(plain, one_call, ids, names)
    assert bool(calls) == (names != ["own", "int8", "own"])  # the base's rows apart: a gather
    assert torch.equal(fused, mixed_step_logits(plain, per_operation, ids, names))


def test_a_batchs_rows_are_grouped_by_adapter_so_steps_take_one_kernel_call(scrambled_lm, monkeypatch):
    """Interleaved adapters ([base, a, base, a]) are reordered between steps so each set of weights' rows is one
    run: every step is one layers_step call (no per-operation gathers), and each row keeps its solo answer."""
    from core import decode_kernels

    if not decode_kernels.available():
        pytest.skip(f"the decode kernels are unavailable here: {decode_kernels.unavailable_reason()}")
    lm = scrambled_lm(("a", TARGETS))
    gen = Generator(lm, int8_rows=8)
    m = PROMPTS[1]
    alone = {n: gen.generate(m, NEW, adapter_names=[n]) for n in (BASE, "a")}
    calls, real = [], decode_kernels.layers_step
    monkeypatch.setattr(decode_kernels, "layers_step", lambda *a, **k: calls.append(len(a[4])) or real(*a, **k))
    names = [BASE, "a", BASE, "a"]
    steps = gen.engine_steps["int8"]
    assert gen.generate_batch([m] * 4, NEW, adapter_names=names) == [alone[n] for n in names]
    assert calls[0] == 2  # two runs of rows
    assert len(calls) == gen.engine_steps["int8"] - steps  # one call every step
