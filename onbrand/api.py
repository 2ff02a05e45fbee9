"""`onbrand serve`: the assistant behind an OpenAI-compatible HTTP API, for tools that speak it (Open WebUI,
promptfoo, LlamaIndex, a storefront widget) and for onbrand's own OpenAI backend on another machine.

    onbrand serve --port 8080                  # prints {"url": "http://127.0.0.1:8080/v1", ...}
    client = openai.OpenAI(base_url="http://127.0.0.1:8080/v1", api_key=token or "unused")
    client.chat.completions.create(model="fernhollow@v0008", messages=[{"role": "user", "content": q}])

POST /v1/chat/completions   the last user message is the shopper's question; it goes through the pipeline the
                            app uses (Assistant.ask: retrieval -> prompt -> generation -> field fills), streamed
                            as server-sent events with "stream": true. `model` picks the adapter: "name@version",
                            "name" (its promoted version), or the base's id for no adapter. The content is the
                            filled answer; an extra field "onbrand" carries its provenance: raw text, fills,
                            sources, badges, stats and a snapshot (index version, adapter and weights sha256,
                            base, brand kit sha256, decoding). Decoding is greedy: sampling fields are ignored.
                            With "onbrand": {"raw": true} the messages are the prompt as is and the answer is the
                            model's own text (no retrieval, no fills): what onbrand's OpenAI backend sends.
GET  /v1/models             the base and one entry per registered adapter version ("name@version") that fits it
GET  /health                {"status": "ok"}, without a token

Requests share onbrand.serving's bounded queue (its batch of answers decoding together, then --max-waiting
waiting); one more is answered 429 with Retry-After at once. With a token configured (--token or ONBRAND_SERVE_TOKEN), /v1 wants
"Authorization: Bearer <token>" (401 otherwise). It listens on 127.0.0.1 unless --host says otherwise.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, AsyncIterator, Callable, Iterator

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import UserError
from core.generation import GenerationStats
from onbrand.assistant import Assistant, Pinned, Reply
from onbrand.serving import Busy, Server
from tuning.loading import portable_base_id
from tuning.registry import RegistryError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20  # a question is at most 1,000 characters; a raw prompt with context a few KB
RETRY_AFTER_S = 1  # what a 429 suggests: about one short answer's time on a CPU
DEFAULT_PORT = 8080  # beside Streamlit's 8501 and vLLM's 8000


# --- the request, validated at the edge ---------------------------------------------------------------

class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    content: str | list[dict[str, Any]] | None = None  # a string, or OpenAI's content parts

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class Options(BaseModel):
    """The request's extra field "onbrand"."""
    model_config = ConfigDict(extra="forbid")
    raw: bool = False  # the messages are the prompt as is; answer with the model's own text
    brand_rules: bool = False  # the brand kit's rules in the system prompt
    k: int | None = Field(default=None, ge=1, le=20)  # products to retrieve (default Settings.top_k)
    collection: str | None = None
    in_stock: bool | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # temperature, top_p, seed, ...: decoding is greedy
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int = Field(default=1, ge=1, le=1)  # one answer per request
    stream_options: StreamOptions | None = None
    onbrand: Options = Field(default_factory=Options)


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.headers = status, message, kind, code, headers


# --- one call through the pipeline --------------------------------------------------------------------

@dataclass
class _Call:
    """One admitted request, prepared: adapter resolved, retrieval done, generation not started."""
    request: ChatRequest
    id: str
    created: int
    model: str  # as answered: the adapter key, or the base's id
    pieces: Iterator[str]
    pin: Pinned  # the adapter and max_new_tokens it answers with, and the snapshot
    reply: Reply | None = None  # None for a raw request
    stats: GenerationStats | None = None


def _adapter_for(assistant: Assistant, model: str) -> str | None:
    """The adapter key a request's `model` names; None for the base. Unknown names are a 404 that lists
    what is served (never the registry's path on this machine)."""
    if model == assistant.backend.base_model:
        return None
    try:
        if assistant.registry is None:
            raise RegistryError("no adapter registry")
        return assistant.resolve_adapter(model)
    except RegistryError:
        served = ", ".join(m["id"] for m in _model_list(assistant, 0))
        raise ApiError(404, f"model {model!r} does not exist; this server answers as: {served}",
                       code="model_not_found") from None


def _prepare(assistant: Assistant, req: ChatRequest) -> _Call:
    """Resolve the model and (unless raw) retrieve and build the prompt; generation starts when `pieces`
    is first read. Runs on a worker thread: attaching an adapter waits for the generator."""
    settings = assistant.settings
    n_new = next((n for n in (req.max_completion_tokens, req.max_tokens) if n is not None), settings.max_new_tokens)
    if not 1 <= n_new <= settings.max_new_tokens_limit:
        raise ApiError(400, f"max_tokens must be in 1..{settings.max_new_tokens_limit}, got {n_new}")
    adapter = _adapter_for(assistant, req.model)
    pin = assistant.pin(adapter, n_new)  # what answers: recorded in the response's snapshot
    call = _Call(req, f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), adapter or assistant.backend.base_model,
                 iter(()), pin)

    def keep(stats: GenerationStats) -> None:
        call.stats = stats

    if req.onbrand.raw:
        messages = [{"role": m.role, "content": m.text} for m in req.messages]
        call.pieces = assistant.backend.stream(messages, n_new, adapter, on_stats=keep)
        return call
    question = next((m.text for m in reversed(req.messages) if m.role == "user"), None)
    if question is None:
        raise ApiError(400, "no user message: the last user message is the question")
    opts = req.onbrand
    call.reply = assistant.ask(question, k=opts.k, collection=opts.collection, in_stock=opts.in_stock,
                               brand_rules=opts.brand_rules, pin=pin)
    call.pieces = call.reply.stream
    return call


def _provenance(call: _Call, text: str) -> dict:
    """The response's "onbrand" field, once the answer is complete: the pipeline's Answer (rag/answer.py) as
    JSON (raw, fills, sources, badges, stats, snapshot); for a raw request, the model's text and the pin."""
    if call.reply is None:
        # no retrieval: the snapshot names no index
        snapshot = replace(call.pin.snapshot, index=None).to_json()
        return {"mode": "raw", "raw": text, "snapshot": snapshot,
                "stats": asdict(call.stats) if call.stats else None}
    answer = call.reply.answer
    call.stats = answer.stats  # the pipeline keeps the figures on its answer
    doc = answer.to_json()
    doc.pop("text")  # the response's content
    return {"mode": "pipeline", **doc}


def _finish_reason(call: _Call) -> str:
    return "length" if call.stats is not None and call.stats.new_tokens >= call.pin.max_new_tokens else "stop"


def _usage(call: _Call) -> dict | None:
    if call.stats is None:
        return None
    return {"prompt_tokens": call.stats.prompt_tokens, "completion_tokens": call.stats.new_tokens,
            "total_tokens": call.stats.prompt_tokens + call.stats.new_tokens}


def _completion(call: _Call, text: str, extra: dict) -> dict:
    return {"id": call.id, "object": "chat.completion", "created": call.created, "model": call.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": _finish_reason(call), "logprobs": None}],
            "usage": _usage(call), "onbrand": extra}


def _chunk(call: _Call, delta: dict, finish_reason: str | None = None, **extra) -> str:
    body = {"id": call.id, "object": "chat.completion.chunk", "created": call.created, "model": call.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}], **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _error_body(status: int, message: str, kind: str, code: str | None) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code or str(status)}}


# --- the app ------------------------------------------------------------------------------------------

def create_app(server: Server, token: str | None = None):
    """The Starlette app over one Server (assistant + bounded queue); `token` makes /v1 want a bearer token."""
    from anyio import CancelScope
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    assistant = server.assistant
    started = int(time.time())

    def error(e: ApiError) -> JSONResponse:
        return JSONResponse(_error_body(e.status, e.message, e.kind, e.code), status_code=e.status, headers=e.headers)

    def check_token(request: Request) -> None:
        if token is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise ApiError(401, "missing or wrong bearer token: send Authorization: Bearer <token>",
                           code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})

    async def health(request: Request):
        return JSONResponse({"status": "ok"})

    async def models(request: Request):
        try:
            check_token(request)
        except ApiError as e:
            return error(e)
        data = await run_in_threadpool(_model_list, assistant, started)
        return JSONResponse({"object": "list", "data": data})

    async def chat(request: Request):
        try:
            check_token(request)
            try:
                body = await request.json()
            except ValueError:  # not JSON, or not UTF-8
                raise ApiError(400, "the body is not JSON") from None
            try:
                req = ChatRequest.model_validate(body)
            except ValidationError as e:
                first = e.errors()[0]
                where = ".".join(str(x) for x in first.get("loc", ())) or "body"
                raise ApiError(400, f"{where}: {first.get('msg')}", code="invalid_request") from None
        except ApiError as e:
            return error(e)
        admitted = ExitStack()  # the request's place in the queue, held until its answer is complete or abandoned
        try:  # on a worker thread: Busy at once when the queue is full, else it may wait for a place in the batch
            await run_in_threadpool(admitted.enter_context, server.slot())
        except Busy as e:
            return error(ApiError(429, str(e), "rate_limit_error", "busy", {"Retry-After": str(RETRY_AFTER_S)}))
        except BaseException:  # cancelled once the place was taken: give it back
            admitted.close()
            raise
        try:
            call = await run_in_threadpool(_prepare, assistant, req)
        except ApiError as e:
            admitted.close()
            return error(e)
        except UserError as e:  # a question too long, an adapter refused: the caller's to fix
            admitted.close()
            return error(ApiError(400, str(e)))
        except BaseException:
            admitted.close()
            raise
        if not req.stream:
            try:
                text = await run_in_threadpool(lambda: "".join(call.pieces))
                extra = await run_in_threadpool(_provenance, call, text)
                if call.reply is not None:
                    text = call.reply.text  # the answer as the app shows it: filled, stripped
            except UserError as e:
                return error(ApiError(400, str(e)))
            finally:
                admitted.close()
            return JSONResponse(_completion(call, text, extra))
        return StreamingResponse(events(call, admitted), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def events(call: _Call, admitted: ExitStack) -> AsyncIterator[str]:
        try:
            yield _chunk(call, {"role": "assistant", "content": ""})
            parts = []
            while (piece := await run_in_threadpool(next, call.pieces, None)) is not None:
                parts.append(piece)
                yield _chunk(call, {"content": piece})
            extra = await run_in_threadpool(_provenance, call, "".join(parts))
            yield _chunk(call, {}, _finish_reason(call), onbrand=extra)
            opts = call.request.stream_options
            if opts is not None and opts.include_usage:
                body = {"id": call.id, "object": "chat.completion.chunk", "created": call.created,
                        "model": call.model, "choices": [], "usage": _usage(call)}
                yield f"data: {json.dumps(body)}\n\n"
            yield "data: [DONE]\n\n"
        except Exception as e:  # the status line is sent already: the error goes in the stream
            if not isinstance(e, UserError):
                log.exception("generation failed for %s", call.id)
            message = str(e) if isinstance(e, UserError) else "generation failed on the server"
            yield f"data: {json.dumps(_error_body(500, message, 'server_error', None))}\n\n"
        finally:
            with CancelScope(shield=True):  # a client that left: stop its generation, free its place
                await run_in_threadpool(_close, call.pieces)
            admitted.close()

    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse(_error_body(exc.status_code, str(exc.detail), "invalid_request_error", None),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    routes = [Route("/v1/chat/completions", chat, methods=["POST"]), Route("/v1/models", models, methods=["GET"]),
              Route("/health", health, methods=["GET"])]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error}, max_body_size=MAX_BODY_BYTES)


def _close(pieces: Iterator[str]) -> None:
    close = getattr(pieces, "close", None)
    if close is not None:
        close()


def _model_list(assistant: Assistant, started: int) -> list[dict]:
    """The base, then every registered adapter version trained on it, oldest first per name."""
    desc = assistant.backend.describe()
    base, base_sha = desc["base_model"], desc.get("base_weights_sha256")
    data = [{"id": base, "object": "model", "created": started, "owned_by": "onbrand", "root": base, "parent": None,
             "onbrand": {"base": True, "weights_sha256": base_sha}}]
    registry = assistant.registry
    for row in registry.list() if registry is not None else []:
        ref = registry.get(row["name"], row["version"])
        trained_on = ref.manifest.get("base") or {}
        if portable_base_id(str(trained_on.get("model_id"))) != base or \
                (base_sha and trained_on.get("weights_sha256") != base_sha):
            continue  # trained on another base: this server cannot answer with it
        key = ref.key
        data.append({"id": key, "object": "model", "created": _epoch(row.get("created"), started),
                     "owned_by": "onbrand", "root": key, "parent": base,
                     "onbrand": {"promoted": row["promoted"], "gate_passed": row["gate_passed"],
                                 "weights_sha256": ref.weights_sha256}})
    return data


def _epoch(iso: str | None, default: int) -> int:
    try:
        return int(datetime.fromisoformat(iso).timestamp()) if iso else default
    except ValueError:
        return default


# --- listening ----------------------------------------------------------------------------------------

def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as e:
        raise UserError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/v1"


def _is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def _uvicorn(app, log_level: str):
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, log_config=None, access_log=False,
                                         timeout_graceful_shutdown=5))


def serve(server: Server, host: str = "127.0.0.1", port: int = DEFAULT_PORT, token: str | None = None,
          on_ready: Callable[[str], None] | None = None, log_level: str = "warning") -> None:
    """Listen on host:port (port 0: any free port) and serve until interrupted; on_ready gets the base URL
    ("http://127.0.0.1:8080/v1") once the socket accepts connections."""
    if token is None and not _is_loopback(host):
        log.warning("listening on %s without a token: anyone who can reach it can ask (set --token or "
                    "ONBRAND_SERVE_TOKEN)", host)
    sock = _bind(host, port)
    try:
        if on_ready is not None:
            on_ready(_url(sock))
        _uvicorn(create_app(server, token), log_level).run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def running(server: Server, token: str | None = None, host: str = "127.0.0.1", port: int = 0,
            start_timeout_s: float = 60.0) -> Iterator[str]:
    """Serve on a background thread (tests, notebooks); yield the base URL once uvicorn has started, and
    stop it on exit."""
    sock = _bind(host, port)
    uv = _uvicorn(create_app(server, token), "warning")
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True, name="onbrand-serve")
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not uv.started:  # readiness, not a fixed wait: uvicorn sets it once it serves the socket
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the HTTP server did not start")
        thread.join(0.01)
    try:
        yield _url(sock)
    finally:
        uv.should_exit = True
        thread.join(start_timeout_s)
        sock.close()
