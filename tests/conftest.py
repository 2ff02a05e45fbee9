"""Shared fixtures: the tiny Quokka catalog and kit, the real (bundled, offline) embedder, a built index,
a tiny random LM, and a talkative one with adapters that each write their own text (isolation tests)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# AppTest runs app.py in this process: the app as `make run` serves it, on localhost (.streamlit/config.toml),
# whatever folder pytest starts in; tests/app/test_review_*.py set other addresses explicitly
os.environ.setdefault("STREAMLIT_SERVER_ADDRESS", "localhost")

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


TALKATIVE_STD = 0.3  # weights this large make greedy decoding write text that differs by prompt; at the
# default N(0, 0.02) it repeats "\n", at 0.1 one character, and 0.15 everywhere (norms too) ignores the prompt


def make_tiny_lm(folder: Path, seed: int = 0, talkative: bool = False) -> Path:
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
    if talkative:  # every weight but the norms' gains (kept at 1)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "norm" not in name:
                    p.normal_(0, TALKATIVE_STD)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture(scope="session")
def talkative_lm_dir(tmp_path_factory):
    """The tiny LM with large random weights: its greedy answers are non-empty and differ by prompt, so a
    test comparing answers compares text, not empty strings."""
    return make_tiny_lm(tmp_path_factory.mktemp("talkative-lm"), seed=0, talkative=True)


ADAPTER_MODULES = ("q_proj", "v_proj", "o_proj", "down_proj")


def publish_random_adapter(registry, lm_dir: Path, name: str, seed: int, cache: Path):
    """Publish a LoRA with random (not zero) A and B for the LM in lm_dir, as `onbrand train` publishes one
    (safetensors, config, manifest with the base fingerprint): no training, and it passes every load check.
    On the talkative LM each seed writes its own text. The global torch RNG is left as it was."""
    import torch
    from peft import LoraConfig, get_peft_model

    from core.model import load_base_model
    from tuning.loading import base_fingerprint, portable_base_id
    from tuning.train import save_adapter

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONBRAND_DTYPE", "fp32")
        lm = load_base_model(str(lm_dir), cache, device="cpu")
    base = base_fingerprint(lm)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = get_peft_model(lm.model, LoraConfig(r=4, lora_alpha=8, target_modules=list(ADAPTER_MODULES),
                                                    init_lora_weights=False, task_type="CAUSAL_LM"))
    return registry.publish(name, lambda folder: save_adapter(model, folder, portable_base_id(lm.model_id)),
                            {"base": base, "notes": f"random LoRA, seed {seed}"})


@pytest.fixture(scope="session")
def random_adapter():
    """`publish_random_adapter(registry, lm_dir, name, seed, cache)`, for tests that publish versions."""
    return publish_random_adapter


@pytest.fixture(scope="session")
def distinct_registry_template(tmp_path_factory, talkative_lm_dir):
    """Registry root: quokka v0001 (promoted, then superseded), quokka v0002 (promoted), wombat v0001
    (promoted); random adapters on the talkative LM, so the base and each adapter answer differently."""
    from tuning.registry import Registry

    tmp = tmp_path_factory.mktemp("distinct-adapters")
    reg = Registry(tmp / "adapters")
    for name, seed in [("quokka", 1), ("quokka", 2), ("wombat", 3)]:
        publish_random_adapter(reg, talkative_lm_dir, name, seed, tmp / "cache")
    for name, version in [("quokka", "v0001"), ("quokka", "v0002"), ("wombat", "v0001")]:
        reg.promote(name, version, force=True, reason="test")
    return reg.root


@pytest.fixture()
def distinct_registry(distinct_registry_template, tmp_path):
    """A fresh copy of `distinct_registry_template` for one test (promote and roll back freely)."""
    from tuning.registry import Registry

    root = tmp_path / "adapters"
    shutil.copytree(distinct_registry_template, root)
    return Registry(root)


class _DiskFull:
    """Inject OSError(ENOSPC) into core.atomic's writers: the `at`-th fsync of a regular file under
    `root` fails as a full disk does (where a full disk surfaces for a buffered write). Counts every such
    fsync in `calls`, so a test can first count a write's steps, then fail each one."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch

    def __call__(self, root: Path, at: int | None = None) -> "_DiskFull":
        import errno

        from core import atomic

        real, root = os.fsync, Path(root).resolve()
        self.calls: list[str] = []

        def fsync(fd: int) -> None:
            path = Path(os.readlink(f"/proc/self/fd/{fd}"))
            if path.is_file() and path.is_relative_to(root):
                self.calls.append(path.name)
                if len(self.calls) == at:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            real(fd)

        self.monkeypatch.setattr(atomic.os, "fsync", fsync)  # atomic.os is os: restored after the test
        return self

    def stop(self) -> None:
        """The disk has room again."""
        self.monkeypatch.undo()


@pytest.fixture()
def disk_full():
    """disk_full(root, at=n): the n-th file fsync under root raises ENOSPC; disk_full.stop() frees it."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc/self/fd (Linux) to see which file a write goes to")
    mp = pytest.MonkeyPatch()
    yield _DiskFull(mp)
    mp.undo()
