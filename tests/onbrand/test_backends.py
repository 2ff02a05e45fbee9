"""The generation-backend seam end to end: an Assistant on the OpenAI backend against `onbrand serve` on
loopback (a real uvicorn server, the tiny model, no mocks in between) gives the local backend's answers,
fills, side by side, batches and scorecard; `ask`, `eval` and the app run on it; refusals are one line."""

from __future__ import annotations

import faulthandler
import json
import sys
from pathlib import Path

import pytest

from core.config import Settings
from core.errors import UserError
from core.generation import Generator
from core.model import load_base_model
from onbrand.api import running
from onbrand.assistant import Assistant
from onbrand.backends import Backend, BackendError, LocalBackend, OpenAIBackend
from onbrand.cli import main
from onbrand.serving import Server
from rag.index_store import build_index, load_index
from tuning.dataset import Example, write_dataset
from tuning.registry import AdapterRef, Registry
from tuning.train import TrainConfig, run_training

FIXTURES = Path(__file__).parents[1] / "fixtures"
TINY_CATALOG, TINY_KIT = FIXTURES / "tiny_catalog.jsonl", FIXTURES / "tiny_brand_kit.yaml"
APP = str(Path(__file__).resolve().parents[2] / "app.py")
CFG = TrainConfig(max_steps=40, batch_size=2, learning_rate=5e-2, lora_rank=4, warmup_steps=2, eval_every=40,
                  max_eval_examples=2, target_modules=("q_proj", "v_proj", "o_proj", "down_proj"), lora_dropout=0.0)
QUESTIONS = ["how much is the dome?", "is the stove in stock?", "does the glowworm headlamp float?"]
CASES = [{"id": "t-1", "question": QUESTIONS[0], "kind": "price", "product_ids": ["QK-TNT-01"], "asks": ["price"]},
         {"id": "t-2", "question": QUESTIONS[1], "kind": "stock", "product_ids": ["QK-STV-01"], "asks": ["stock"]},
         {"id": "t-3", "question": QUESTIONS[2], "kind": "spec", "product_ids": ["QK-LMP-01"]}]
KEY = "quokka@v0001"
TEST_LIMIT_S = 600  # a test still running after this is stuck: its threads' stacks are dumped and the run ends


@pytest.fixture(autouse=True)
def watchdog():
    faulthandler.dump_traceback_later(TEST_LIMIT_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def home(tiny_lm_dir, tmp_path_factory, tiny_catalog, tiny_kit, embedder):
    """An onbrand home: the tiny index and quokka v0001 (promoted), trained on the tiny base."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ONBRAND_DTYPE", "fp32")
    home = tmp_path_factory.mktemp("backends")
    ds = home / "quokka.jsonl"
    write_dataset([Example(f"e{i}", "train", "x", "t", q, (), False,
                           ({"role": "user", "content": q}, {"role": "assistant", "content": "The Quokka Dome 2 Tent."}))
                   for i, q in enumerate(QUESTIONS[:2])], ds)
    registry = Registry(home / "adapters")
    run_training(lm=load_base_model(str(tiny_lm_dir), home / "models", device="cpu"), dataset_path=ds,
                 registry=registry, name="quokka", cfg=CFG, kit_sha256=tiny_kit.sha256, show_progress_bar=False)
    registry.promote("quokka", "v0001", force=True, reason="test")
    build_index(tiny_catalog, embedder, home / "indexes", "tiny", kit=tiny_kit)
    mp.undo()
    return home


def _settings(home) -> Settings:
    return Settings(home=home, index_name="tiny", brand_kit=TINY_KIT, max_new_tokens=12)


@pytest.fixture(scope="module")
def local(home, tiny_lm_dir, tiny_kit, embedder):
    """The server's assistant: the tiny model in this process, quokka attached (the local backend)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ONBRAND_DTYPE", "fp32")
    lm = load_base_model(str(tiny_lm_dir), home / "models", device="cpu")
    mp.undo()
    a = Assistant(_settings(home), load_index(home / "indexes", "tiny", embedder.info), embedder,
                  Generator(lm, penalize_prompt=_settings(home).penalize_prompt),
                  tiny_kit, Registry(home / "adapters"))
    a.default_adapter = a.load_adapter("quokka")
    return a


@pytest.fixture(scope="module")
def url(local):
    with running(Server(local, max_waiting=8)) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def remote(home, url, local, tiny_kit, embedder):
    """The same pipeline, generating over HTTP through `onbrand serve`."""
    backend = OpenAIBackend(url, base_model=local.backend.base_model)
    a = Assistant(_settings(home), load_index(home / "indexes", "tiny", embedder.info), embedder, backend, tiny_kit,
                  Registry(home / "adapters"))
    a.default_adapter = a.load_adapter("quokka")
    return a


def test_both_backends_fit_the_protocol(local, remote):
    assert isinstance(local.backend, LocalBackend) and isinstance(local.backend, Backend)
    assert isinstance(remote.backend, OpenAIBackend) and isinstance(remote.backend, Backend)
    assert local.adapters is not None and remote.adapters is None  # peft adapters live with the local model
    assert remote.default_adapter == local.default_adapter == KEY
    assert remote.backend.describe()["decoding"]["repetition_penalty"] == local.generator.repetition_penalty


@pytest.mark.parametrize("adapter", [None, KEY])
def test_ask_over_http_gives_the_local_answer(local, remote, adapter):
    for q in QUESTIONS:
        there, here = remote.answer(q, adapter=adapter), local.answer(q, adapter=adapter)
        assert there.text == here.text and there.raw == here.raw and there.fills == here.fills
        assert there.sources == here.sources and there.adapter == here.adapter == adapter
        assert (there.stats.prompt_tokens, there.stats.new_tokens) == (here.stats.prompt_tokens, here.stats.new_tokens)


def test_side_by_side_over_http_gives_the_local_pair(local, remote):
    there, here = remote.side_by_side(QUESTIONS[0]), local.side_by_side(QUESTIONS[0])
    got = {0: [], 1: []}
    for row, piece in there.stream:
        got[row].append(piece)
    list(here.stream)
    assert there.texts == here.texts and there.raws == here.raws and there.fills == here.fills
    assert "".join(got[0]).strip() == there.texts[0] and "".join(got[1]).strip() == there.texts[1]


def test_batches_over_http_give_the_local_batch(local, remote):
    conversations = [local.prompt_for(q, brand_rules=rules)[1] for q in QUESTIONS for rules in (False, True)]
    adapters = [None, KEY] * 3
    assert remote.answer_batch(conversations, adapters, 10) == local.answer_batch(conversations, adapters, 10)


def test_onbrand_ask_runs_on_the_openai_backend(home, url, local, tiny_lm_dir, capsys):
    code = main(["--home", str(home), "ask", QUESTIONS[0], "--json", "--backend", "openai", "--base-url", url,
                 "--model", str(tiny_lm_dir), "--index-name", "tiny", "--brand-kit", str(TINY_KIT),
                 "--adapter", KEY, "--max-new-tokens", "12"])
    assert code == 0
    got = json.loads(capsys.readouterr().out)
    want = local.answer(QUESTIONS[0], adapter=KEY)
    assert got["answer"] == want.text and got["raw"] == want.raw and got["adapter"] == KEY
    assert got["sources"] and got["sources"][0]["product_id"] == want.sources[0].product_id
    # the snapshot says which backend generated; the rest of what was pinned is the local one's
    assert got["snapshot"]["backend"] == "openai" and want.snapshot.backend == "local"
    assert got["snapshot"]["index"] == want.snapshot.to_json()["index"]
    assert got["snapshot"]["adapter"] == want.snapshot.to_json()["adapter"]
    assert got["snapshot"]["base"] == want.snapshot.to_json()["base"]  # onbrand serve states its base's sha256
    assert got["badges"] == [vars(b) for b in want.badges]


def test_the_openai_backend_needs_a_base_url(home, capsys, monkeypatch):
    monkeypatch.delenv("ONBRAND_BASE_URL", raising=False)
    assert main(["--home", str(home), "ask", QUESTIONS[0], "--backend", "openai"]) == 2
    assert "base_url must be an http:// or https:// URL" in capsys.readouterr().err


def test_onbrand_eval_on_the_openai_backend_reproduces_the_local_scorecard(home, url, tiny_lm_dir, tmp_path, capsys,
                                                                          monkeypatch):
    """The scorecard of the same prompts, once generated here and once through `onbrand serve`."""
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")  # the server's dtype: the same arithmetic on both
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(c) + "\n" for c in CASES))
    common = ["--home", str(home), "eval", "--prompts", str(prompts), "--catalog", str(TINY_CATALOG),
              "--brand-kit", str(TINY_KIT), "--index-name", "tiny", "--model", str(tiny_lm_dir),
              "--adapter", KEY, "--max-new-tokens", "6"]
    cards = {}
    for name, extra in [("local", []), ("openai", ["--backend", "openai", "--base-url", url])]:
        assert main([*common, "--out", str(tmp_path / name), *extra]) in (0, 1)  # 1: the tiny adapter fails the gate
        capsys.readouterr()
        cards[name] = json.loads((tmp_path / name / "scorecard.json").read_text())
        manifest = Registry(home / "adapters").get("quokka", "v0001").manifest
        assert manifest["evaluation"]["backend"]["backend"] == name  # recorded with the figures

    def answers(doc):
        return {(a["id"], a["variant"]): (a["answer"], a["raw"]) for a in doc["answers"]}

    assert len(answers(cards["openai"])) == 6 * len(CASES)
    assert answers(cards["openai"]) == answers(cards["local"])
    assert cards["openai"]["summary"] == cards["local"]["summary"]


def test_the_app_runs_on_the_openai_backend(home, url, local, tiny_lm_dir, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from onbrand.guardrails import marked_markdown

    env = {"ONBRAND_HOME": str(home), "ONBRAND_INDEX": "tiny", "ONBRAND_MODEL": str(tiny_lm_dir),
           "ONBRAND_ADAPTER": "quokka", "ONBRAND_BRAND_KIT": str(TINY_KIT), "ONBRAND_MAX_WAITING": "4",
           "ONBRAND_BACKEND": "openai", "ONBRAND_BASE_URL": url, "ONBRAND_REVIEW_PASSWORD": "unused here"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    at.chat_input[0].set_value(QUESTIONS[0]).run()
    assert not at.exception, at.exception
    msg = [m for m in at.chat_message if m.name == "assistant"][-1]
    want = local.answer(QUESTIONS[0], adapter=KEY, max_new_tokens=200)  # the app asks for Settings' default
    assert msg.markdown[0].value == marked_markdown(want.text, local.kit)
    server = sys.modules["app_pages.common"].get_server(**sys.modules["app_pages.common"].settings_from_env())
    assert isinstance(server.assistant.backend, OpenAIBackend)


def test_refusals_are_one_readable_line(local, url, home, tmp_path):
    backend = OpenAIBackend(url, base_model=local.backend.base_model)
    ghost = AdapterRef("ghost", "v0001", tmp_path, {"files": {}})
    with pytest.raises(BackendError, match=r"does not serve adapter ghost@v0001; it serves: .*quokka@v0001"):
        backend.attach(ghost)
    real = Registry(home / "adapters").get("quokka", "v0001")
    forged = AdapterRef("quokka", "v0001", real.path,
                        {**real.manifest, "files": {"adapter_model.safetensors": {"sha256": "0" * 64}}})
    with pytest.raises(BackendError, match="serves other weights as quokka@v0001"):
        backend.attach(forged)
    with pytest.raises(UserError, match="not attached"):
        list(backend.stream([{"role": "user", "content": "hi"}], 4, KEY))
    with running(Server(local), token="s3cret-token") as guarded:
        with pytest.raises(BackendError, match="answered 401: missing or wrong bearer token.*--api-key"):
            OpenAIBackend(guarded, local.backend.base_model, api_key="wrong").models()
        assert KEY in OpenAIBackend(guarded, local.backend.base_model, api_key="s3cret-token").models()
    with pytest.raises(BackendError, match="cannot reach http://127.0.0.1:1/v1/models"):
        OpenAIBackend("http://127.0.0.1:1/v1", "base").models()
    with pytest.raises(ValueError, match="base_url must start with http"):
        OpenAIBackend("127.0.0.1:8080", "base")
