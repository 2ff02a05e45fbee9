"""The delta on the real default model: a few real training steps, and the shipped adapter serving."""

import pytest
import torch

pytestmark = pytest.mark.integration


def test_real_default_model_trains_a_few_steps_with_nonzero_lora_gradients(sample_home, tmp_path):
    from core.model import load_base_model
    from corpus import SAMPLE_BRAND_KIT, SAMPLE_DATASET
    from corpus.brandkit import load_brand_kit
    from tuning.registry import Registry
    from tuning.train import TrainConfig, run_training

    lm = load_base_model("default", sample_home / "models")
    cfg = TrainConfig(max_steps=6, batch_size=2, eval_every=3, max_eval_examples=4, learning_rate=1e-3,
                      warmup_steps=1)
    reg = Registry(tmp_path / "adapters")
    ref, result = run_training(lm=lm, dataset_path=SAMPLE_DATASET, registry=reg, name="smoke", cfg=cfg,
                               kit_sha256=load_brand_kit(SAMPLE_BRAND_KIT).sha256, show_progress_bar=False)
    assert result.steps == 6 and len(result.loss_curve) == 6
    assert all(torch.isfinite(torch.tensor(p["loss"])) for p in result.loss_curve)
    # the same four held-out examples, scored after 3 and after 6 steps (train_lora itself refuses
    # all-zero LoRA gradients after the first backward pass)
    assert [e["step"] for e in result.eval_curve] == [3, 6]
    assert result.eval_curve[1]["eval_loss"] < result.eval_curve[0]["eval_loss"]
    m = reg.get("smoke", ref.version).manifest
    assert m["base"]["model_id"] == "default" and m["base"]["hidden_size"] == 576
    assert m["dataset"]["path"] == "corpus/sample/dataset.jsonl"


def test_shipped_adapter_is_seeded_promoted_and_serves_per_request(sample_assistant):
    a = sample_assistant
    assert a.default_adapter and a.default_adapter.startswith("fernhollow@")
    assert a.registry.promoted("fernhollow") == a.default_adapter.split("@")[1]
    q = "how much is the trekker 28?"
    replies = [a.ask(q, max_new_tokens=60), a.ask(q, max_new_tokens=60, adapter=None)]
    for r in replies:
        list(r.stream)
    tuned, bare = (r.answer for r in replies)
    assert tuned.adapter == a.default_adapter and bare.adapter is None
    assert replies[0].messages == replies[1].messages  # same prompt, same retrieved context
    assert tuned.snapshot.index == bare.snapshot.index and tuned.sources == bare.sources
    assert tuned.text != bare.text
