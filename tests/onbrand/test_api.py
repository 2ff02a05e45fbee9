"""`onbrand serve` against the official `openai` client on loopback: a real uvicorn server on a free port,
the tiny model with two tiny adapters, no mocks. Answers and their provenance are the assistant's own; the
queue answers 429 when full; a configured token is required; the CLI command listens on 127.0.0.1."""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict
from pathlib import Path

import pytest

openai = pytest.importorskip("openai", reason="the dev extra installs the official openai client")

from core.config import Settings  # noqa: E402
from core.generation import Generator  # noqa: E402
from core.model import load_base_model  # noqa: E402
from onbrand.api import running  # noqa: E402
from onbrand.assistant import Assistant  # noqa: E402
from onbrand.guardrails import badges, catalog_names  # noqa: E402
from onbrand.serving import Server  # noqa: E402
from rag.index_store import build_index, load_index  # noqa: E402
from tuning.dataset import Example, write_dataset  # noqa: E402
from tuning.registry import Registry  # noqa: E402
from tuning.train import TrainConfig, run_training  # noqa: E402

TINY_KIT = Path(__file__).parents[1] / "fixtures" / "tiny_brand_kit.yaml"
CFG = TrainConfig(max_steps=40, batch_size=2, learning_rate=5e-2, lora_rank=4, warmup_steps=2, eval_every=40,
                  max_eval_examples=2, target_modules=("q_proj", "v_proj", "o_proj", "down_proj"), lora_dropout=0.0)
QUESTIONS = ["how much is the dome?", "is the stove in stock?"]
WAIT_S = 120  # the most any wait here may take; the tiny model answers in well under a second
TEST_LIMIT_S = 600  # a test still running after this is stuck: its threads' stacks are dumped and the run ends


@pytest.fixture(autouse=True)
def watchdog():
    faulthandler.dump_traceback_later(TEST_LIMIT_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def train_tiny_adapters(registry: Registry, tiny_lm_dir, tmp, kit_sha256: str, names=("quokka", "wombat")) -> None:
    """quokka and wombat v0001 on the tiny base, trained to different targets, promoted."""
    targets = {"quokka": "The Quokka Dome 2 Tent.", "wombat": "Wombat wombat wombat!"}
    for seed, name in enumerate(names, 1):
        ds = tmp / f"{name}.jsonl"
        write_dataset([Example(f"e{i}", "train", "x", "t", q, (), False,
                               ({"role": "user", "content": q}, {"role": "assistant", "content": targets[name]}))
                       for i, q in enumerate(QUESTIONS)], ds)
        run_training(lm=load_base_model(str(tiny_lm_dir), tmp / "cache", device="cpu"), dataset_path=ds,
                     registry=registry, name=name, cfg=CFG.__class__(**{**CFG.__dict__, "seed": seed}),
                     kit_sha256=kit_sha256, show_progress_bar=False)
        registry.promote(name, "v0001", force=True, reason="test")


@pytest.fixture(scope="module")
def assistant(tiny_lm_dir, tmp_path_factory, tiny_catalog, tiny_kit, embedder):
    """The tiny model with quokka (the default) and wombat attached, over a tiny index."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ONBRAND_DTYPE", "fp32")
    tmp = tmp_path_factory.mktemp("api")
    registry = Registry(tmp / "adapters")
    train_tiny_adapters(registry, tiny_lm_dir, tmp, tiny_kit.sha256)
    build_index(tiny_catalog, embedder, tmp / "indexes", "tiny", kit=tiny_kit)
    lm = load_base_model(str(tiny_lm_dir), tmp / "cache", device="cpu")
    mp.undo()
    a = Assistant(Settings(home=tmp, index_name="tiny", max_new_tokens=12),
                  load_index(tmp / "indexes", "tiny", embedder.info), embedder, Generator(lm), tiny_kit, registry)
    a.default_adapter = a.load_adapter("quokka")
    a.load_adapter("wombat")
    return a


@pytest.fixture(scope="module")
def url(assistant):
    with running(Server(assistant, max_waiting=4)) as base_url:
        yield base_url


def client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=WAIT_S)


def ask(q: str) -> list[dict]:
    return [{"role": "user", "content": q}]


def local_badges(a: Assistant, reply) -> list[dict]:
    """What `onbrand ask --json` and the app show for a reply."""
    products = a.index.products.values()
    return [asdict(b) for b in badges(reply.question, reply.text, a.records(reply.products),
                                      reply.messages[-1]["content"], a.kit, catalog_names(products, a.kit),
                                      fills=reply.fills, catalog=products)]


def test_models_lists_the_base_and_every_adapter_version(assistant, url):
    models = {m.id: m for m in client(url).models.list()}
    base = assistant.backend.base_model
    assert set(models) == {base, "quokka@v0001", "wombat@v0001"}
    assert base == Path(assistant.generator.lm.model_id).name  # a folder's name, never its path
    for key in ("quokka@v0001", "wombat@v0001"):
        ref = assistant.registry.get(*key.split("@"))
        extra = models[key].model_extra["onbrand"]
        assert extra["weights_sha256"] == ref.manifest["files"]["adapter_model.safetensors"]["sha256"]
        assert extra["promoted"] is True and models[key].model_extra["parent"] == base
    assert models[base].model_extra["onbrand"]["base"] is True


def test_a_non_streamed_answer_is_the_assistants_answer_with_its_provenance(assistant, url):
    got = client(url).chat.completions.create(model="quokka@v0001", messages=ask(QUESTIONS[0]))
    reply = assistant.ask(QUESTIONS[0], adapter="quokka@v0001")
    list(reply.stream)
    want = reply.answer  # the pipeline's frozen record: the response carries it whole
    assert got.choices[0].message.content == want.text and got.choices[0].message.role == "assistant"
    assert got.model == "quokka@v0001"
    extra = got.model_extra["onbrand"]
    assert extra["mode"] == "pipeline" and extra["raw"] == want.raw and extra["question"] == QUESTIONS[0]
    assert extra["fills"] == [f.to_json() for f in want.fills]
    assert extra["sources"] == [asdict(s) for s in want.sources] and extra["sources"]
    assert extra["badges"] == local_badges(assistant, reply)  # checked again here, from the reply's records
    assert {k: v for k, v in extra.items() if k not in ("mode", "stats")} == \
        {k: v for k, v in want.to_json().items() if k not in ("text", "stats")}
    snap = extra["snapshot"]
    ref = assistant.registry.get("quokka", "v0001")
    assert snap["index"] == {"name": "tiny", "version": assistant.index.version}
    assert snap["adapter"] == {"name": "quokka", "version": "v0001", "key": "quokka@v0001",
                               "weights_sha256": ref.manifest["files"]["adapter_model.safetensors"]["sha256"]}
    assert snap["base"] == {"model": assistant.backend.base_model,
                            "weights_sha256": assistant.generator.lm.weights_sha256}
    assert snap["kit_sha256"] == assistant.kit.sha256 and snap["backend"] == "local"
    assert snap["decoding"] == {"strategy": "greedy", "repetition_penalty": assistant.generator.repetition_penalty,
                                "penalty_over": "prompt and answer" if assistant.generator.penalize_prompt else "answer",
                                "int8_steps_up_to_rows": assistant.generator.int8_steps_up_to,
                                "adapter_weights": assistant.generator.adapter_weights, "max_new_tokens": 12}
    assert got.usage.completion_tokens == want.stats.new_tokens
    assert got.usage.prompt_tokens == want.stats.prompt_tokens
    assert got.choices[0].finish_reason == ("length" if want.stats.new_tokens >= 12 else "stop")


def test_a_streamed_answer_is_the_same_text_and_ends_with_its_provenance(assistant, url):
    plain = client(url).chat.completions.create(model="quokka@v0001", messages=ask(QUESTIONS[1]), max_tokens=9)
    chunks = list(client(url).chat.completions.create(model="quokka@v0001", messages=ask(QUESTIONS[1]),
                                                      max_tokens=9, stream=True,
                                                      stream_options={"include_usage": True}))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    local = [p for p in assistant.ask(QUESTIONS[1], adapter="quokka@v0001", max_new_tokens=9).stream]
    assert pieces == [p for p in local if p]  # relayed piece by piece as the assistant streams them
    assert "".join(pieces).strip() == plain.choices[0].message.content  # the content is the answer's text, stripped
    assert chunks[0].choices[0].delta.role == "assistant"
    [last] = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert last.choices[0].finish_reason == plain.choices[0].finish_reason
    extra = last.model_extra["onbrand"]
    assert {k: v for k, v in extra.items() if k != "stats"} == \
        {k: v for k, v in plain.model_extra["onbrand"].items() if k != "stats"}  # timings differ, nothing else
    assert extra["snapshot"]["decoding"]["max_new_tokens"] == 9
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    assert len({c.id for c in chunks}) == 1


def test_the_model_field_picks_the_adapter(assistant, url):
    c = client(url)
    base = c.chat.completions.create(model=assistant.backend.base_model, messages=ask(QUESTIONS[0]))
    assert base.choices[0].message.content == assistant.answer(QUESTIONS[0], adapter=None).text
    assert base.model_extra["onbrand"]["snapshot"]["adapter"] is None
    by_name = c.chat.completions.create(model="wombat", messages=ask(QUESTIONS[0]))  # the promoted version
    assert by_name.model == "wombat@v0001"
    assert by_name.choices[0].message.content == assistant.answer(QUESTIONS[0], adapter="wombat@v0001").text
    assert by_name.choices[0].message.content != base.choices[0].message.content
    with pytest.raises(openai.NotFoundError, match="model 'gpt-4o' does not exist; this server answers as: ") as e:
        c.chat.completions.create(model="gpt-4o", messages=ask(QUESTIONS[0]))
    assert "quokka@v0001" in str(e.value) and str(assistant.registry.root) not in str(e.value)


def test_raw_requests_generate_from_the_messages_as_they_are(assistant, url):
    """What onbrand's OpenAI backend sends: the built prompt, answered by the model with no retrieval."""
    messages = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "dome or stove?"}]
    got = client(url).chat.completions.create(model="quokka@v0001", messages=messages, max_tokens=8,
                                              extra_body={"onbrand": {"raw": True}})
    assert got.choices[0].message.content == "".join(assistant.backend.stream(messages, 8, "quokka@v0001"))
    extra = got.model_extra["onbrand"]
    assert extra["mode"] == "raw" and extra["raw"] == got.choices[0].message.content
    assert "sources" not in extra and extra["snapshot"]["index"] is None


def test_requests_the_pipeline_cannot_answer_are_400_with_the_reason(url):
    c = client(url)
    for kwargs, reason in [({"messages": [{"role": "system", "content": "hi"}]}, "no user message"),
                           ({"messages": ask("x" * 1001)}, "the limit is 1000"),
                           ({"messages": ask(" ")}, "the question is empty"),
                           ({"messages": ask(QUESTIONS[0]), "max_tokens": 0}, "max_tokens must be in 1..1024"),
                           ({"messages": ask(QUESTIONS[0]), "n": 2}, "n: ")]:
        with pytest.raises(openai.BadRequestError, match=reason):
            c.chat.completions.create(model="quokka@v0001", **kwargs)
    with pytest.raises(openai.BadRequestError, match="onbrand.colour"):
        c.chat.completions.create(model="quokka@v0001", messages=ask(QUESTIONS[0]),
                                  extra_body={"onbrand": {"colour": "red"}})


def test_a_full_queue_answers_429_at_once_and_frees_up(assistant):
    server = Server(assistant, max_waiting=0, max_batch=1)  # one request admitted, none waiting
    with running(server) as url:
        c = client(url)
        first: dict = {}

        def ask_first():
            try:
                first["reply"] = c.chat.completions.create(model="quokka@v0001", messages=ask(QUESTIONS[0]))
            except Exception as e:  # pragma: no cover - reported below
                first["error"] = e

        lock = assistant.generator.lock
        lock.acquire()  # a generation in progress: the admitted request waits for it
        worker = threading.Thread(target=ask_first, daemon=True)
        try:
            worker.start()
            assert server.wait_in_flight(1, WAIT_S)  # the first request holds the one place
            for stream in (False, True):
                with pytest.raises(openai.RateLimitError, match="busy answering other questions") as refused:
                    c.chat.completions.create(model="quokka@v0001", messages=ask(QUESTIONS[1]), stream=stream)
                assert refused.value.status_code == 429
                assert refused.value.response.headers["retry-after"] == "1"
            assert server.in_flight == 1  # a refused request takes no place
        finally:
            lock.release()
        worker.join(WAIT_S)
        assert not worker.is_alive() and "error" not in first
        assert first["reply"].choices[0].message.content == assistant.answer(QUESTIONS[0], adapter="quokka@v0001").text
        assert server.in_flight == 0
        assert c.chat.completions.create(model="quokka@v0001", messages=ask(QUESTIONS[1])).choices  # admitted again


def _get(url: str, headers: dict | None = None):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return opener.open(urllib.request.Request(url, headers=headers or {}), timeout=WAIT_S)


def test_a_configured_token_is_required(assistant):
    with running(Server(assistant), token="s3cret-token") as url:
        with pytest.raises(urllib.error.HTTPError) as missing:  # no Authorization header at all
            _get(url + "/models")
        assert missing.value.code == 401 and missing.value.headers["WWW-Authenticate"] == "Bearer"
        assert json.loads(missing.value.read())["error"]["code"] == "invalid_api_key"
        wrong = client(url, "not-the-token")
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
        with pytest.raises(openai.AuthenticationError):
            wrong.chat.completions.create(model="quokka@v0001", messages=ask(QUESTIONS[0]))
        with pytest.raises(openai.AuthenticationError):
            wrong.chat.completions.create(model="quokka@v0001", messages=ask(QUESTIONS[0]), stream=True)
        right = client(url, "s3cret-token")
        assert "quokka@v0001" in {m.id for m in right.models.list()}
        assert right.chat.completions.create(model="quokka@v0001", messages=ask(QUESTIONS[0])).choices
        health = urllib.parse.urljoin(url, "/health")  # for load balancers: no token
        assert json.loads(_get(health).read()) == {"status": "ok"}


def test_the_serve_command_listens_on_loopback_and_prints_its_url(assistant, tiny_lm_dir, tiny_catalog, tiny_kit,
                                                                   embedder, tmp_path):
    home = tmp_path / "home"
    build_index(tiny_catalog, embedder, home / "indexes", "tiny", kit=tiny_kit)
    reg = Registry(home / "adapters")
    reg.import_version(assistant.registry.get("quokka", "v0001").path)
    reg.promote("quokka", "v0001", force=True, reason="test")
    err = (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "onbrand.cli", "--home", str(home), "serve", "--port", "0", "--model",
         str(tiny_lm_dir), "--index-name", "tiny", "--brand-kit", str(TINY_KIT), "--adapter", "quokka"],
        stdout=subprocess.PIPE, stderr=err, text=True,
        env={**os.environ, "ONBRAND_SERVE_TOKEN": "s3cret-token", "ONBRAND_DTYPE": "fp32"})
    try:
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(300)  # the ready line: printed once the socket accepts connections
        assert line and line[0], (tmp_path / "stderr.txt").read_text()[-3000:]
        ready = json.loads(line[0])
        assert urllib.parse.urlsplit(ready["url"]).hostname == "127.0.0.1"  # this machine only, by default
        assert ready["token_required"] is True and ready["default_adapter"] == "quokka@v0001"
        c = client(ready["url"], "s3cret-token")
        # the shipped fernhollow versions are registered too, but trained on another base: not offered here
        assert {m.id for m in c.models.list()} == {ready["base_model"], "quokka@v0001"}
        got = c.chat.completions.create(model="quokka", messages=ask(QUESTIONS[0]), max_tokens=6)
        assert got.model == "quokka@v0001" and got.model_extra["onbrand"]["snapshot"]["index"]["name"] == "tiny"
        with pytest.raises(openai.AuthenticationError):
            client(ready["url"], "wrong").models.list()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:  # pragma: no cover - a server that ignores Ctrl-C
            proc.kill()
            proc.wait(60)
        err.close()
    assert proc.returncode in (0, 130), (tmp_path / "stderr.txt").read_text()[-3000:]
