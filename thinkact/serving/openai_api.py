"""The HTTP app of `thinkact serve`: OpenAI's Chat Completions API over one served model (FastAPI).

    POST /v1/chat/completions   messages, tools, tool_choice auto|none, max_tokens / max_completion_tokens,
                                temperature, n=1, stream (+ stream_options.include_usage), model (checked)
    GET  /v1/models             the served model ({"object": "list", "data": [{"id", "object": "model", ...}]})
    GET  /v1/models/{id}        one model, or 404
    GET  /health                {"status": "ok", "model": id} once the model is loaded

Every error has OpenAI's shape, {"error": {"message", "type", "param", "code"}}: a request the client must change
(no messages, a tool whose parameters are not an object schema, a model not served here, a body over
`MAX_BODY_BYTES`, bad JSON, an unsupported value) is a 400 naming the field, an unknown path a 404, a bug a 500 with
the exception's text. Generation runs in a worker thread, one request at a time (ServedModel's lock), so the server
keeps answering /health while it generates. A streamed reply is sent as it is generated (ServedModel.stream, a batch
of 1); its 400s come before the first event, and a client that goes away cancels its generation.

    app = create_app(ServedModel.load("sft", params))     # uvicorn.run(app, ...): thinkact.serving.server
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from thinkact.serving.engine import LiveCompletion, ServedModel
from thinkact.serving.request import MAX_BODY_BYTES, BadRequest, chat_request, json_body
from thinkact.serving.response import completion_body, stream_events


def error_response(status: int, message: str, *, kind: str = "invalid_request_error", param: str | None = None,
                   code: str | None = None) -> JSONResponse:
    """An error in OpenAI's shape."""
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}},
                        status_code=status)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (BadRequest) as soon as it is known to be over `limit` bytes: from its declared
    Content-Length before reading, else while it streams in."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"the body has {int(declared)} bytes, over the limit of {limit}", code="request_too_large")
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise BadRequest(f"the body is over the limit of {limit} bytes", code="request_too_large")
        parts.append(part)
    return b"".join(parts)


def model_card(served: ServedModel) -> dict[str, Any]:
    """The served model as OpenAI lists a model, with what its spec resolved to under `thinkact`."""
    return {"id": served.id, "object": "model", "created": served.created, "owned_by": "thinkact",
            "thinkact": served.info}


def create_app(served: ServedModel, *, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The FastAPI app answering for `served`."""
    app = FastAPI(title="thinkact serve", docs_url=None, redoc_url=None, openapi_url=None)
    _error_handlers(app)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": served.id}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card(served)]}

    @app.get("/v1/models/{model_id:path}")
    def model(model_id: str) -> Any:
        if model_id not in served.ids:
            return error_response(404, f"model {model_id!r} is not served here", param="model",
                                  code="model_not_found")
        return model_card(served)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        chat = chat_request(json_body(await read_body(request, max_body_bytes)), served.ids)
        if chat.stream:
            live = await run_in_threadpool(served.stream, chat)  # its BadRequests: a 400, before any event
            return StreamingResponse(_events(live, stream_events(live, live.completion, chat, model=served.id)),
                                     media_type="text/event-stream")
        done = await run_in_threadpool(served.complete, chat)
        return JSONResponse(completion_body(done, chat, model=served.id))  # plain JSON: no encoder pass needed

    return app


async def _events(live: LiveCompletion, events: Any) -> AsyncIterator[str]:
    """`events` (blocking on the generation) read in worker threads; when the response ends early (the client went
    away: Starlette cancels the response), the read is abandoned at once and the generation cancelled: it stops at its
    next token and releases the model."""
    events, done = iter(events), object()
    try:
        while (event := await anyio.to_thread.run_sync(next, events, done, abandon_on_cancel=True)) is not done:
            yield event
    finally:
        live.cancel()


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BadRequest)
    async def bad_request(_request: Request, exc: BadRequest) -> JSONResponse:
        return error_response(400, exc.message, param=exc.param, code=exc.code)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, f"invalid request: {exc.errors()}"[:500])

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        return error_response(exc.status_code, str(exc.detail), kind=kind)

    @app.exception_handler(Exception)
    async def server_error(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(500, f"the server failed on this request: {type(exc).__name__}: {exc}"[:500],
                              kind="server_error")
