"""A completion as OpenAI's Chat Completions API returns it: a `chat.completion` object, or a stream of
`chat.completion.chunk` server-sent events ending in `data: [DONE]`.

The completion is read by the one parser (thinkact.chat_format.parsing, through chat_pyfunc.assistant_message, which
the MLflow chat model answers with): the think block becomes `reasoning_content`, each `<tool_call>` a tool call
whose `arguments` are JSON text (`content` null), otherwise the answer after the think block is the `content`. With
tool_choice "none" nothing becomes a tool call: a completion that writes one anyway keeps it as text in `content`.
Every response also carries thinkact's own `thinkact` object: {"well_formed", "error", "raw"} (what the parser made
of the completion, and the completion itself) and, when the request asked with `return_prompt`, the `prompt`.

    body = completion_body(done, request, model="sft")          # JSON-able dict
    for event in stream_events(done, request, model="sft"): ... # "data: {...}\\n\\n" strings
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from thinkact.chat_format.parsing import action_text
from thinkact.serving.request import ChatRequest
from thinkact.tracking.chat_pyfunc import assistant_message


@dataclass(frozen=True)
class Completion:
    """One generated assistant turn and its token counts."""

    raw: str
    prompt: str
    prompt_tokens: int
    completion_tokens: int


def message_of(raw: str, calls_allowed: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the OpenAI assistant message, {"well_formed", "error"}) of a completion: `reasoning_content` from the think
    block, `tool_calls` only when there are calls and they are allowed."""
    message, check = assistant_message(raw)
    out: dict[str, Any] = {"role": "assistant", "content": message["content"],
                           "reasoning_content": message["reasoning"]}
    if message["tool_calls"] and calls_allowed:
        out["tool_calls"] = message["tool_calls"]
    elif message["tool_calls"]:
        out["content"] = action_text(raw).strip()
    return out, check


def _finish(message: dict[str, Any], done: Completion, request: ChatRequest) -> str:
    if message.get("tool_calls"):
        return "tool_calls"
    return "length" if done.completion_tokens >= request.max_tokens else "stop"


def _usage(done: Completion) -> dict[str, int]:
    return {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
            "total_tokens": done.prompt_tokens + done.completion_tokens}


def _extension(done: Completion, request: ChatRequest, check: dict[str, Any]) -> dict[str, Any]:
    return {**check, "raw": done.raw, **({"prompt": done.prompt} if request.return_prompt else {})}


def completion_body(done: Completion, request: ChatRequest, *, model: str) -> dict[str, Any]:
    """The `chat.completion` object for one completion."""
    message, check = message_of(done.raw, request.calls_allowed)
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message, "finish_reason": _finish(message, done, request),
                                         "logprobs": None}],
            "usage": _usage(done), "thinkact": _extension(done, request, check)}


def stream_chunks(done: Completion, request: ChatRequest, *, model: str) -> Iterator[dict[str, Any]]:
    """The `chat.completion.chunk` objects of one completion, as OpenAI streams them: the role, the reasoning, then
    per tool call its id and name and then its arguments (or the content), a last chunk with the finish reason, and
    with include_usage one more with the token counts and no choices."""
    message, check = message_of(done.raw, request.calls_allowed)
    head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}

    yield chunk({"role": "assistant", "content": ""})
    if message["reasoning_content"]:
        yield chunk({"reasoning_content": message["reasoning_content"]})
    for i, call in enumerate(message.get("tool_calls", [])):
        yield chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                     "function": {"name": call["function"]["name"], "arguments": ""}}]})
        yield chunk({"tool_calls": [{"index": i, "function": {"arguments": call["function"]["arguments"]}}]})
    if message["content"]:
        yield chunk({"content": message["content"]})
    yield chunk({}, _finish(message, done, request), thinkact=_extension(done, request, check))
    if request.include_usage:
        yield {**head, "choices": [], "usage": _usage(done)}


def stream_events(done: Completion, request: ChatRequest, *, model: str) -> Iterator[str]:
    """Server-sent events of `stream_chunks`, then `data: [DONE]`."""
    for chunk in stream_chunks(done, request, model=model):
        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"
