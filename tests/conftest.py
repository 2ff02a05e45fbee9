"""Shared fixtures: the tiny Quokka catalog and kit, the real (bundled, offline) embedder, a built index."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

FIXTURES = Path(__file__).parent / "fixtures"
TINY_CATALOG = FIXTURES / "tiny_catalog.jsonl"
TINY_KIT = FIXTURES / "tiny_brand_kit.yaml"


@pytest.fixture(scope="session")
def embedder():
    from rag.embedding import Embedder

    return Embedder.load()


@pytest.fixture(scope="session")
def tiny_catalog():
    from corpus.ingest import load_catalog

    return load_catalog(TINY_CATALOG)


@pytest.fixture(scope="session")
def tiny_kit():
    from corpus.brandkit import load_brand_kit

    return load_brand_kit(TINY_KIT)


@pytest.fixture()
def tiny_index(tmp_path, tiny_catalog, tiny_kit, embedder):
    """A freshly built and published tiny index: (root, name, version)."""
    from rag.index_store import build_index

    root = tmp_path / "indexes"
    version = build_index(tiny_catalog, embedder, root, "tiny", kit=tiny_kit)
    return root, "tiny", version


# --- a tiny random-initialised causal LM with a real chat template, saved as a local model folder;
# fast tests load it through the same `load_base_model(folder)` path a user's local model takes.

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def make_tiny_lm(folder: Path, seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    chars = [chr(c) for c in range(32, 127)] + ["\n", "\u200b", "—", "’", "é"]
    vocab = {"<unk>": 0, "<|im_start|>": 1, "<|im_end|>": 2, "<pad>": 3}
    for ch in chars:
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<|im_start|>",
                                   eos_token="<|im_end|>", pad_token="<pad>",
                                   additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                      bos_token_id=1, eos_token_id=2, pad_token_id=3, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny-lm"))
