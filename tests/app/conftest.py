"""The app under AppTest on the fast tier: the tiny random model, a tiny index whose dome tent carries an
HTML/script payload in its description, and two tiny adapters (quokka, the default, and wombat)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY_CATALOG, TINY_KIT = FIXTURES / "tiny_catalog.jsonl", FIXTURES / "tiny_brand_kit.yaml"
PAYLOAD = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> **bold** [link](http://example.com)'
QUESTIONS = ["how much is the quokka dome 2?", "is the blaze mini stove in stock?"]


@pytest.fixture(scope="session")
def app_home(tmp_path_factory, tiny_lm_dir, tiny_kit, embedder):
    """A home with the payload index published as "tiny" and two promoted adapters; returns (home, env)."""
    from core.model import load_base_model
    from corpus.ingest import load_catalog
    from rag.index_store import build_index
    from tuning.dataset import Example, write_dataset
    from tuning.registry import Registry
    from tuning.train import TrainConfig, run_training

    home = tmp_path_factory.mktemp("app-home")
    rows = [json.loads(line) for line in TINY_CATALOG.read_text().splitlines() if line.strip()]
    rows[0]["description"] += " " + PAYLOAD  # QK-TNT-01, the Quokka Dome 2
    catalog = home / "catalog.jsonl"
    catalog.write_text("".join(json.dumps(r) + "\n" for r in rows))
    build_index(load_catalog(catalog), embedder, home / "indexes", "tiny", kit=tiny_kit)

    mp = pytest.MonkeyPatch()
    mp.setenv("ONBRAND_DTYPE", "fp32")
    reg = Registry(home / "adapters")
    cfg = TrainConfig(max_steps=60, batch_size=2, learning_rate=5e-2, lora_rank=4, warmup_steps=2, eval_every=60,
                      max_eval_examples=2, target_modules=("q_proj", "v_proj", "o_proj", "down_proj"), lora_dropout=0.0)
    for name, seed, target in [("quokka", 1, "The Quokka Dome 2 Tent."), ("wombat", 2, "Wombat wombat wombat!")]:
        ds = home / f"{name}.jsonl"
        write_dataset([Example(f"e{i}", "train", "x", "t", q, (), False,
                               ({"role": "user", "content": q}, {"role": "assistant", "content": target}))
                       for i, q in enumerate(QUESTIONS)], ds)
        run_training(lm=load_base_model(str(tiny_lm_dir), home / "models", device="cpu"), dataset_path=ds,
                     registry=reg, name=name, cfg=cfg.__class__(**{**cfg.__dict__, "seed": seed}),
                     kit_sha256=tiny_kit.sha256, show_progress_bar=False)
        reg.promote(name, "v0001", force=True, reason="test")
    mp.undo()

    prompts = home / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"tp-{i}", "question": q, "product_ids": [pid]}) + "\n"
                               for i, (q, pid) in enumerate([(QUESTIONS[0], "QK-TNT-01"),
                                                             (QUESTIONS[1], "QK-STV-01"),
                                                             ("does the glowworm headlamp float?", "QK-LMP-01")])))
    env = {"ONBRAND_HOME": str(home), "ONBRAND_INDEX": "tiny", "ONBRAND_MODEL": str(tiny_lm_dir),
           "ONBRAND_ADAPTER": "quokka", "ONBRAND_BRAND_KIT": str(TINY_KIT), "ONBRAND_DTYPE": "fp32",
           "ONBRAND_EVAL_PROMPTS": str(prompts), "ONBRAND_MAX_WAITING": "4"}
    return home, env


@pytest.fixture()
def app_env(app_home, monkeypatch):
    home, env = app_home
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("ONBRAND_REVIEW_PASSWORD", raising=False)
    return home


_COMPILING = threading.Lock()


@pytest.fixture()
def new_app(app_env, monkeypatch):
    """A fresh browser session of the app (AppTest), already run once.

    AppTest compiles app.py on every run, each with a script cache of its own, so sessions run from threads at
    once parse it at once; CPython 3.11's `ast.parse` can then fail with a spurious "SystemError: AST constructor
    recursion depth mismatch" (python/cpython#106905), which the concurrent-sessions test hit once in a fresh-clone
    run. Streamlit's server compiles the script once, under its cache's lock, so only the tests need this lock.
    """
    from streamlit.runtime.scriptrunner import magic
    from streamlit.testing.v1 import AppTest

    add_magic = magic.add_magic

    def one_at_a_time(*args, **kwargs):
        with _COMPILING:
            return add_magic(*args, **kwargs)

    monkeypatch.setattr(magic, "add_magic", one_at_a_time)

    def make(run: bool = True):
        at = AppTest.from_file(APP, default_timeout=120)
        if run:
            at.run()
            assert not at.exception, at.exception
        return at

    return make


@pytest.fixture()
def payload() -> str:
    return PAYLOAD


@pytest.fixture()
def questions() -> list[str]:
    return list(QUESTIONS)
