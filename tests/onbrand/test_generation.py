import threading

import torch

from onbrand.generation import Generator
from onbrand.model import load_base_model

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


def test_concurrent_callers_are_serialised(tiny_lm_dir, tmp_path):
    gen = _gen(tiny_lm_dir, tmp_path)
    results, errors = {}, []

    def ask(i):
        try:
            results[i] = gen.generate([{"role": "user", "content": f"question {i}"}], max_new_tokens=8)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 4
    for i in range(4):  # each caller got the answer to its own prompt
        assert results[i] == gen.generate([{"role": "user", "content": f"question {i}"}], max_new_tokens=8)
