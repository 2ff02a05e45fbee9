import pytest
import threading

import torch

from core.generation import Generator
from core.model import load_base_model

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}]


def _gen(tiny_lm_dir, tmp_path):
    return Generator(load_base_model(str(tiny_lm_dir), tmp_path, device="cpu"))


def test_prompt_is_built_by_the_chat_template(tiny_lm_dir, tmp_path):
    gen = _gen(tiny_lm_dir, tmp_path)
    text = gen.lm.tokenizer.decode(gen.encode(MESSAGES)[0])
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert text.endswith("<|im_start|>assistant\n")


def test_stream_matches_plain_greedy_generate_and_reports_stats(tiny_lm_dir, tmp_path):
    gen = _gen(tiny_lm_dir, tmp_path)
    streamed = "".join(gen.stream(MESSAGES, max_new_tokens=12))
    ids = gen.encode(MESSAGES)
    with torch.inference_mode():
        out = gen.lm.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                                    repetition_penalty=gen.repetition_penalty,
                                    pad_token_id=gen.lm.tokenizer.pad_token_id)
    expected = gen.lm.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    assert streamed == expected
    stats = gen.last_stats
    assert stats.prompt_tokens == ids.shape[1] and stats.new_tokens == out.shape[1] - ids.shape[1]
    assert 0 < stats.ttft_s <= stats.total_s


def test_an_answer_only_penalty_is_transformers_penalty_with_the_prompt_ignored(tiny_lm_dir, tmp_path):
    """`penalize_prompt=False` (the app's setting): the penalty counts only the answer's tokens, as
    transformers' RepetitionPenaltyLogitsProcessor does with `prompt_ignore_length` set to the prompt."""
    from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor

    gen = _gen(tiny_lm_dir, tmp_path)
    gen.penalize_prompt = False
    gen.repetition_penalty = 50.0  # strong enough that the tiny random model's answer depends on what counts
    streamed = "".join(gen.stream(MESSAGES, max_new_tokens=16))
    ids = gen.encode(MESSAGES)
    processor = RepetitionPenaltyLogitsProcessor(gen.repetition_penalty, prompt_ignore_length=ids.shape[1])
    with torch.inference_mode():
        out = gen.lm.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=16, do_sample=False,
                                    logits_processor=LogitsProcessorList([processor]),
                                    pad_token_id=gen.lm.tokenizer.pad_token_id)
        both = gen.lm.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=16, do_sample=False,
                                     repetition_penalty=gen.repetition_penalty,
                                     pad_token_id=gen.lm.tokenizer.pad_token_id)
    assert streamed == gen.lm.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    assert not torch.equal(out, both), "the tiny model's prompt tokens should matter, or this test shows nothing"


def test_new_tokens_are_bounded(tiny_lm_dir, tmp_path):
    gen = _gen(tiny_lm_dir, tmp_path)
    gen.generate(MESSAGES, max_new_tokens=5)
    assert gen.last_stats.new_tokens <= 5


def test_an_abandoned_stream_releases_the_lock(tiny_lm_dir, tmp_path):
    gen = _gen(tiny_lm_dir, tmp_path)
    stream = gen.stream(MESSAGES, max_new_tokens=200)
    next(stream, None)
    stream.close()
    assert gen.lock.acquire(timeout=5)
    gen.lock.release()


def test_concurrent_callers_are_serialised(talkative_lm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    gen = _gen(talkative_lm_dir, tmp_path)  # writes text that differs by prompt: a swapped answer would show
    prompts = [[{"role": "user", "content": q}] for q in ("how much is the dome?", "is the stove in stock?",
                                                          "which tent sleeps four?", "tell me about the boots")]
    alone = [gen.generate(m, max_new_tokens=8) for m in prompts]
    assert all(alone) and len(set(alone)) == 4, alone  # four different, non-empty answers
    start = threading.Barrier(4, timeout=60)
    results, errors = {}, []

    def ask(i):
        try:
            start.wait()
            results[i] = gen.generate(prompts[i], max_new_tokens=8)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 4
    assert [results[i] for i in range(4)] == alone  # each caller got the answer to its own prompt


def _hf_greedy(gen, messages, max_new_tokens, adapter_name=None):
    ids = gen.encode(messages)
    extra = {"adapter_names": [adapter_name]} if adapter_name else {}
    with torch.inference_mode():
        out = gen.lm.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                    do_sample=False, repetition_penalty=gen.repetition_penalty,
                                    pad_token_id=gen.lm.tokenizer.pad_token_id, **extra)
    new = out[0, ids.shape[1]:].tolist()
    if new and new[-1] in gen._eos_ids():  # the end token is not text, even when a test makes a letter the end
        new = new[:-1]
    return gen.lm.tokenizer.decode(new, skip_special_tokens=True).strip()


SYSTEM = "You answer for a shop. " * 6  # > Generator.min_shared_prefix tokens with the char-level tiny tokenizer
CONVERSATIONS = [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}]
                 for q in ("hi", "what does the quokka dome cost, roughly?", "stove?", "a much longer question " * 3)]


def _scramble(gen, seed: int = 0):
    """Large random weights: the freshly initialised tiny LM only ever repeats a newline, which would not
    exercise rows ending at different steps."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in gen.lm.model.parameters():
            p.normal_(0, 0.15)


def test_batched_greedy_equals_generate_row_by_row(tiny_lm_dir, tmp_path, monkeypatch):
    """generate_batch drops finished rows and shares the common system-prompt prefix; neither may change
    a single token of what generate() gives each conversation alone (fp32, so the sums are exact enough)."""
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    gen = _gen(tiny_lm_dir, tmp_path)
    _scramble(gen)
    # make a character the random model emits mid-answer the end token, so rows end at different steps
    first = _hf_greedy(gen, CONVERSATIONS[0], 24)
    gen.lm.model.generation_config.eos_token_id = gen.lm.tokenizer.convert_tokens_to_ids(first[len(first) // 2])
    expected = [_hf_greedy(gen, c, 24) for c in CONVERSATIONS]
    assert len({len(e) for e in expected}) > 1  # rows finish at different steps: the drop path runs
    assert gen.generate_batch(CONVERSATIONS, 24) == expected
    assert gen.engine_steps["shared_prefix"] == 1  # the shared prefix was computed once for the four rows
    assert gen.generate_batch(CONVERSATIONS[1:2], 24) == expected[1:2]  # a batch of one


def test_batched_greedy_with_mixed_adapters_equals_each_adapter_alone(tiny_lm_dir, tmp_path, monkeypatch):
    from peft import LoraConfig, get_peft_model

    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    gen = _gen(tiny_lm_dir, tmp_path)
    _scramble(gen)
    torch.manual_seed(0)
    model = get_peft_model(gen.lm.model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
                           adapter_name="brand")
    gen.lm.model = model.eval()
    names = ["__base__", "brand", "brand", "__base__"]
    expected = [_hf_greedy(gen, c, 16, n) for c, n in zip(CONVERSATIONS, names)]
    assert expected[0] != _hf_greedy(gen, CONVERSATIONS[0], 16, "brand")  # the adapter changes the answer
    assert gen.generate_batch(CONVERSATIONS, 16, adapter_names=names) == expected


def test_a_prefill_computes_the_output_head_once_without_copying_its_weight(tiny_lm_dir, tmp_path, monkeypatch):
    """The prefill's last hidden state reaches the output head as one matrix product: with transformers'
    `logits_to_keep=1` slice view, torch's bf16 linear copied the whole head weight, transposed, for a batched
    product every prefill (on SmolLM2-135M, ~140 ms of ~330). The profiler runs in the decoding loop's thread,
    around the prefill, and sees every copy and product it makes."""
    from torch.profiler import ProfilerActivity, profile

    gen = _gen(tiny_lm_dir, tmp_path)
    gen.lm.model.requires_grad_(False)  # as the app's copies are (a weight that wants gradients folds anyway)
    head = gen.lm.model.lm_head.weight
    events = []
    real = gen._loop._prefill_rows

    def prefill_rows(rows):
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            out = real(rows)
        events.extend(prof.events())
        return out

    monkeypatch.setattr(gen._loop, "_prefill_rows", prefill_rows)
    "".join(gen.stream(MESSAGES, 1))
    assert any(e.name == "aten::linear" for e in events)  # the prefill was seen
    head_sized = [e for e in events if e.name in ("aten::copy_", "aten::bmm")
                  and any(len(s) >= 2 and sorted(s[-2:]) == sorted(head.shape) for s in e.input_shapes if s)]
    assert head_sized == [], [(e.name, e.input_shapes) for e in head_sized]


# --- the system turn: prefilled on its own, its keys and values kept across requests ---------------------

def test_encode_row_finds_the_system_turn_only_where_the_prompt_starts_with_its_tokens(tiny_lm_dir, tmp_path):
    gen = _gen(tiny_lm_dir, tmp_path)
    ids, n = gen.encode_row(CONVERSATIONS[0])
    turn = gen.lm.tokenizer.decode(ids[:n])
    assert turn.startswith("<|im_start|>system\n") and turn.rstrip().endswith("<|im_end|>") and SYSTEM in turn
    assert gen.lm.tokenizer.decode(ids[n:]).startswith("<|im_start|>user")
    assert gen.encode_row([{"role": "user", "content": "hi"}])[1] == 0  # no system turn
    assert gen.encode_row([{"role": "system", "content": SYSTEM}])[1] == 0  # nothing after it


def test_a_system_turn_is_computed_once_per_adapter_and_its_answers_do_not_change(tiny_lm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    gen = _gen(tiny_lm_dir, tmp_path)
    _scramble(gen)
    uncached = Generator(gen.lm, prefix_cache_bytes=0)
    first = [gen.generate(c, 16) for c in CONVERSATIONS]
    assert gen.engine_steps["shared_prefix"] == 1 and gen.engine_steps["prefix_cache_hit"] == 3
    assert [uncached.generate(c, 16) for c in CONVERSATIONS] == first  # kept or computed again: the same numbers
    assert uncached.engine_steps["shared_prefix"] == 4 and not uncached.engine_steps["prefix_cache_hit"]
    assert gen.generate_batch(CONVERSATIONS, 16) == first  # in one batch, each its answer alone
    assert [_hf_greedy(gen, c, 16) for c in CONVERSATIONS] == first  # and transformers' generate (fp32)


def test_a_kept_system_turn_is_computed_again_once_the_weights_change(tiny_lm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    gen = _gen(tiny_lm_dir, tmp_path)
    _scramble(gen)
    before = gen.generate(CONVERSATIONS[1], 16)
    _scramble(gen, seed=1)  # new weights in place
    after = gen.generate(CONVERSATIONS[1], 16)
    assert gen.engine_steps["shared_prefix"] == 2 and not gen.engine_steps["prefix_cache_hit"]
    assert after == _hf_greedy(gen, CONVERSATIONS[1], 16) and after != before


def test_kept_system_turns_stay_within_their_bytes(tiny_lm_dir, tmp_path):
    gen = _gen(tiny_lm_dir, tmp_path)
    systems = [[{"role": "system", "content": f"Shop {i}. " * 8}, {"role": "user", "content": "hi"}] for i in range(3)]
    gen.generate(systems[0], 2)
    one = next(iter(gen._prefixes.values()))[2]
    gen.prefix_cache_bytes = 2 * one + one // 2  # room for two
    for s in systems[1:]:
        gen.generate(s, 2)
    assert len(gen._prefixes) == 2 and sum(e[2] for e in gen._prefixes.values()) <= gen.prefix_cache_bytes
    gen.generate(systems[0], 2)  # the oldest went first: computed again
    assert gen.engine_steps["shared_prefix"] == 4 and not gen.engine_steps["prefix_cache_hit"]
