"""LoRA training on the tiny random Llama: assistant-only labels, a loss that falls, the zero-gradient
guard, and a registered adapter whose manifest says what made it (safetensors only).

    .venv/bin/python -m pytest tests/tuning/test_train.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.errors import UserError
from core.model import load_base_model
from tuning.dataset import Example, write_dataset
from tuning.loading import base_fingerprint
from tuning.registry import Registry
from tuning.train import (TrainConfig, answer_loss, collate, config_dict, encode_example, lora_grad_norm,
                          run_training, train_lora, wrap_with_lora)

ANSWER = "The Quokka Dome 2 Tent is $249.00."
CFG = TrainConfig(max_steps=15, batch_size=2, learning_rate=5e-3, lora_rank=4, warmup_steps=2, eval_every=5,
                  max_eval_examples=4, target_modules=("q_proj", "v_proj"))


@pytest.fixture()
def lm(tiny_lm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    return load_base_model(str(tiny_lm_dir), tmp_path / "cache", device="cpu")


def conversation(question: str, answer: str = ANSWER) -> list[dict]:
    return [{"role": "system", "content": "You are a shop assistant."},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer}]


def rows(n: int = 8) -> list[dict]:
    return [{"messages": conversation(f"how much is tent {i}?")} for i in range(n)]


# --- encoding --------------------------------------------------------------------------------------------

def test_only_the_final_assistant_turn_is_labelled(lm):
    tok = lm.tokenizer
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "price of the dome 2?"}, {"role": "assistant", "content": ANSWER}]
    enc = encode_example(tok, messages)
    prompt = tok.apply_chat_template(messages[:-1], add_generation_prompt=True, return_dict=True)["input_ids"]
    n = len(prompt)
    assert len(enc.labels) == len(enc.input_ids)
    assert enc.input_ids[:n] == prompt
    assert enc.labels[:n] == [-100] * n
    assert all(t != -100 for t in enc.labels[n:])
    assert enc.labels[n:] == enc.input_ids[n:]
    assert tok.decode(enc.labels[n:]) == ANSWER + tok.eos_token
    assert enc.input_ids[-1] == tok.eos_token_id  # the template's trailing newline is not learnt


def test_a_conversation_without_a_final_answer_is_refused(lm):
    with pytest.raises(UserError, match="assistant"):
        encode_example(lm.tokenizer, conversation("q")[:-1])


@pytest.mark.parametrize("answer", ["", "   "])
def test_an_empty_answer_is_refused(lm, answer):
    with pytest.raises(UserError):
        encode_example(lm.tokenizer, conversation("q", answer))


# --- the loop --------------------------------------------------------------------------------------------

def test_training_a_few_steps_lowers_the_loss(lm):
    result = train_lora(lm, rows(), rows(4), CFG, show_progress_bar=False)
    losses = [c["loss"] for c in result.loss_curve]
    assert len(losses) == CFG.max_steps == result.steps
    assert sum(losses[-3:]) / 3 < losses[0]
    evals = [c["eval_loss"] for c in result.eval_curve]
    assert [c["step"] for c in result.eval_curve] == [5, 10, 15]
    assert evals[-1] < evals[0]


def test_answer_loss_is_the_models_loss_and_gradient(lm):
    """Projecting only the answer positions onto the vocabulary changes the cost, not the loss."""
    model = wrap_with_lora(lm, CFG)
    model.train()
    for p in model.parameters():  # B starts at zero: make the LoRA path matter for the gradient check
        if p.requires_grad:
            p.data.normal_(0, 0.05)
    encoded = [encode_example(lm.tokenizer, conversation(f"q{i}" * (i + 1), ANSWER[:12 + 5 * i])) for i in range(3)]
    batch = collate(encoded, lm.tokenizer.pad_token_id)  # different lengths: right padding in play
    torch.manual_seed(0)
    model.eval()  # no dropout: the two passes see identical activations
    full = model(**batch).loss
    full.backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    sliced = answer_loss(model, batch)
    sliced.backward()
    assert float(sliced) == pytest.approx(float(full), rel=1e-5)
    got = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert got.keys() == want.keys() and want
    for n in want:
        torch.testing.assert_close(got[n], want[n], rtol=1e-4, atol=1e-6)


def test_first_backward_gives_lora_gradients(lm):
    model = wrap_with_lora(lm, CFG)
    model.train()
    batch = collate([encode_example(lm.tokenizer, r["messages"]) for r in rows(2)], lm.tokenizer.pad_token_id)
    assert lora_grad_norm(model) == 0.0  # nothing computed yet
    model(**batch).loss.backward()
    assert lora_grad_norm(model) > 0.0
    base_grads = [n for n, p in model.named_parameters() if "lora_" not in n and p.grad is not None]
    assert base_grads == []  # the base stays frozen


def test_a_bf16_base_trains_fp32_lora_weights_under_autocast(tiny_lm_dir, tmp_path, monkeypatch):
    """The CPU default (bf16 base): LoRA matmuls run in bf16 under autocast with peft's fp32 input cast off,
    the LoRA weights (the optimizer's copy) stay fp32, gradients flow, and the loss is the fp32 loss to
    bf16 precision."""
    from tuning.train import compute_context

    monkeypatch.setenv("ONBRAND_DTYPE", "bf16")
    lm16 = load_base_model(str(tiny_lm_dir), tmp_path / "cache", device="cpu")
    model = wrap_with_lora(lm16, CFG)
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float().normal_(0, 0.05)
    batch = collate([encode_example(lm16.tokenizer, r["messages"]) for r in rows(2)], lm16.tokenizer.pad_token_id)
    with compute_context(model, lm16):
        loss = answer_loss(model, batch)
    assert all(getattr(m, "cast_input_dtype_enabled", True) for m in model.modules())  # restored on exit
    loss.backward()
    assert lora_grad_norm(model) > 0.0
    assert {p.dtype for p in model.parameters() if p.requires_grad} == {torch.float32}
    assert {p.grad.dtype for p in model.parameters() if p.grad is not None} == {torch.float32}
    for p in model.parameters():  # the same LoRA and base, all in fp32: the reference loss
        p.data = p.data.float()
    with torch.no_grad():
        reference = answer_loss(model, batch)
    assert float(loss) == pytest.approx(float(reference), rel=0.02)
    assert float(loss) != float(reference)  # the autocast path really ran in bf16

    result = train_lora(load_base_model(str(tiny_lm_dir), tmp_path / "cache", device="cpu"),
                        rows(), rows(4), CFG, show_progress_bar=False)
    losses = [c["loss"] for c in result.loss_curve]
    assert sum(losses[-3:]) / 3 < losses[0]


def test_zero_lora_gradients_stop_training(lm, monkeypatch):
    monkeypatch.setattr("tuning.train.lora_grad_norm", lambda model: 0.0)
    with pytest.raises(RuntimeError, match="LoRA gradient"):
        train_lora(lm, rows(), [], CFG, show_progress_bar=False)


# --- run_training: save and register ---------------------------------------------------------------------

def test_run_training_publishes_a_self_describing_safetensors_adapter(lm, tiny_kit, tmp_path):
    examples = [Example(f"ex-{i:05d}", "train" if i < 8 else "eval", "price", "how much is {n}?", r["messages"][1]
                        ["content"], ("QK-TNT-01",), False, tuple(r["messages"])) for i, r in enumerate(rows(10))]
    data = tmp_path / "brand.jsonl"
    sha = write_dataset(examples, data)
    base = base_fingerprint(lm)
    reg = Registry(tmp_path / "adapters")
    override = {"reason": "tiny test data", "errors": 0}

    ref, result = run_training(lm=lm, dataset_path=data, registry=reg, name="quokka", cfg=CFG,
                               kit_sha256=tiny_kit.sha256, lint_override=override, show_progress_bar=False)

    assert (ref.name, ref.version) == ("quokka", "v0001")
    m = reg.get("quokka", "v0001").manifest
    assert m == ref.manifest
    assert m["base"] == base and set(m["base"]) == {"model_id", "weights_sha256", "hidden_size", "num_layers",
                                                    "vocab_size", "chat_template_sha256"}
    # a folder base is recorded by its name, never a path of the training machine
    assert m["base"]["model_id"] == Path(lm.model_id).name and m["base"]["weights_sha256"]
    assert {k: v for k, v in m["dataset"].items() if k != "path"} == {"sha256": sha, "train": 8, "eval": 2}
    assert Path(m["dataset"]["path"]).resolve() == data.resolve()
    assert m["brand_kit_sha256"] == tiny_kit.sha256 and len(m["brand_kit_sha256"]) == 64
    assert m["hyperparameters"] == config_dict(CFG) and m["hyperparameters"]["lora_rank"] == 4
    assert m["training"]["loss_curve"] == result.loss_curve and len(m["training"]["loss_curve"]) == 15
    assert m["training"]["steps"] == 15 and m["training"]["examples"] == 8
    assert m["lint_override"] == override

    files = {p.name for p in ref.path.iterdir()} - {"README.md"}  # peft's model card rides along
    assert files == {"adapter_config.json", "adapter_model.safetensors", "manifest.json"}
    assert not [p for p in ref.path.rglob("*") if p.suffix in (".bin", ".pt", ".pth", ".pkl", ".ckpt")]
    reg.verify(ref)
    from safetensors.torch import load_file

    weights = load_file(str(ref.path / "adapter_model.safetensors"))
    assert weights and all("lora_" in k for k in weights)
    assert any(float(v.abs().sum()) > 0 for k, v in weights.items() if "lora_B" in k)  # it learnt something


def test_run_training_refuses_a_changed_dataset(lm, tiny_kit, tmp_path):
    examples = [Example(f"ex-{i:05d}", "train", "price", "t", "q", (), False, tuple(r["messages"]))
                for i, r in enumerate(rows(4))]
    data = tmp_path / "brand.jsonl"
    write_dataset(examples, data)
    data.write_text(data.read_text().replace("249.00", "199.00"))
    reg = Registry(tmp_path / "adapters")
    with pytest.raises(UserError, match="sha256"):
        run_training(lm=lm, dataset_path=data, registry=reg, name="quokka", cfg=CFG,
                     kit_sha256=tiny_kit.sha256, show_progress_bar=False)
    assert reg.versions("quokka") == []
