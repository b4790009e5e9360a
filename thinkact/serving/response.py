"""A completion as OpenAI's Chat Completions API returns it: a `chat.completion` object, or a stream of
`chat.completion.chunk` server-sent events ending in `data: [DONE]`.

The completion is read by the one parser (thinkact.chat_format.parsing, through chat_pyfunc.assistant_message, which
the MLflow chat model answers with): the think block becomes `reasoning_content`, each `<tool_call>` a tool call
whose `arguments` are JSON text (`content` null), otherwise the answer after the think block is the `content`. With
tool_choice "none" nothing becomes a tool call: a completion that writes one anyway keeps it as text in `content`.
Every response also carries thinkact's own `thinkact` object: {"well_formed", "error", "raw"} (what the parser made
of the completion, and the completion itself) and, when the request asked with `return_prompt`, the `prompt`.

A stream is written while the completion is generated (`Deltas`): the think block's text goes out as
`reasoning_content` deltas as it comes; after it (or from the start, in a completion without a think block, which
the parser reads as all action) an answer goes out as `content` deltas as it comes, and a tool call (the action
begins with `<tool_call>`) is held to the end and sent from the parse of the whole completion. What could still
change is held back: leading and trailing whitespace (the parser strips it), an ending that may be the start of
`<think>`, `</think>`, an end-of-turn marker or `<tool_call>` (the parser cuts them, or reads the text differently).
So the streamed deltas join into exactly the message `completion_body` returns for the same completion. Only where
the parser reads the whole completion differently from any beginning of it does the final parse win for what is
still unsent: a think block never closed (cut at max_tokens) has had its text streamed as reasoning, while the
message has `reasoning_content` null and the text as `content`; an answer followed by a valid `<tool_call>` (calls
allowed) has had its text streamed as content, while the message has the call and `content` null. The parser calls
both malformed (`thinkact.well_formed` false).

    body = completion_body(done, request, model="sft")                  # JSON-able dict
    for event in stream_events(pieces, finished, request, model="sft"): # "data: {...}\\n\\n" strings; `pieces`:
        ...                                                             # text as generated, finished(): Completion
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from thinkact.chat_format.parsing import END_MARKERS, action_text
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
            "model": model, "choices": [{"index": 0, "message": message, "logprobs": None,
                                         "finish_reason": _finish(message, done, request)}],
            "usage": _usage(done), "thinkact": _extension(done, request, check)}


_THINK, _THINK_END, _CALL = "<think>", "</think>", "<tool_call>"


def _unfinished(text: str, markers: tuple[str, ...]) -> str:
    """`text` without its longest ending that may be the start of one of `markers` (it may yet become one)."""
    for k in range(min(len(text), max(map(len, markers))), 0, -1):
        if any(m.startswith(text[-k:]) for m in markers):
            return text[:-k]
    return text


def _without_end(text: str) -> str:
    """`text` without trailing whitespace and end-of-turn markers, as the parser cuts a completion's end."""
    text = text.rstrip()
    while text.endswith(END_MARKERS):
        text = text[: text.rindex("<|")].rstrip()
    return text


class Deltas:
    """The deltas of a completion streamed as it is generated: `feed` each piece of text (the pieces join into the
    completion), then `finish` with the whole completion. Each delta is ("reasoning_content" | "content", text),
    sent only when the final parse will keep it (the module docstring)."""

    def __init__(self, calls_allowed: bool):
        self.calls_allowed = calls_allowed
        self.text = ""
        self.mode = "start"   # start: nothing yet; think: inside the think block; action: after it (or a completion
        self.thought = False  # without one: `thought` False); held: nothing more before the end
        self.sent = {"reasoning_content": "", "content": ""}

    def _send(self, key: str, value: str) -> list[tuple[str, str]]:
        sent = self.sent[key]
        if len(value) <= len(sent) or not value.startswith(sent):
            return []
        self.sent[key] = value
        return [(key, value[len(sent):])]

    def feed(self, piece: str) -> list[tuple[str, str]]:
        self.text += piece
        if self.mode == "held":
            return []
        rest = self.text.lstrip()  # the parser's `rest`: the completion from its first non-space character
        if self.mode == "start":
            if _THINK.startswith(rest):
                return []  # nothing yet, or what may be the start of a think block
            self.mode = "think" if rest.startswith(_THINK) else "action"  # no think block: all of it is the action
        out = []
        if self.mode == "action" and not self.thought:
            action = rest
        else:
            end = rest.find(_THINK_END)
            if end < 0:  # still thinking: the think text so far, stripped, less a `</think>` that may be starting
                return self._send("reasoning_content",
                                  _unfinished(rest[len(_THINK):].lstrip(), (_THINK_END,)).rstrip())
            if self.mode == "think":
                out += self._send("reasoning_content", rest[len(_THINK):end].strip())
                self.mode, self.thought = "action", True
            action = rest[end + len(_THINK_END):].lstrip()
        if not self.sent["content"]:
            if not action or _CALL.startswith(action):
                return out  # nothing yet, or what may be the start of a tool call
            if action.startswith(_CALL):
                self.mode = "held"  # a tool call: sent from the final parse
                return out
        markers = END_MARKERS
        if self.calls_allowed:  # a call after answer text makes the parse a (malformed) call: stop before it
            markers += (_CALL,)
            call = action.find(_CALL)
            if call >= 0:
                action, self.mode = action[:call], "held"
        return out + self._send("content", _without_end(_unfinished(action, markers)))

    def finish(self, raw: str) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """(the message, the parser's check, the deltas still to send) once the whole completion `raw` is known:
        what remains of the reasoning and the content, and the tool calls (an id and name, then the arguments)."""
        message, check = message_of(raw, self.calls_allowed)
        rest = [{key: value} for key, value in self._send("reasoning_content", message["reasoning_content"] or "")]
        for i, call in enumerate(message.get("tool_calls", [])):
            rest.append({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                         "function": {"name": call["function"]["name"], "arguments": ""}}]})
            rest.append({"tool_calls": [{"index": i, "function": {"arguments": call["function"]["arguments"]}}]})
        rest += [{key: value} for key, value in self._send("content", message["content"] or "")]
        return message, check, rest


def stream_chunks(pieces: Iterable[str], finished: Callable[[], Completion], request: ChatRequest, *,
                  model: str) -> Iterator[dict[str, Any]]:
    """The `chat.completion.chunk` objects of a completion as it is generated (`pieces`: its text, piece by piece;
    `finished()`: the Completion once they end), as OpenAI streams them: the role, the reasoning, then per tool call
    its id and name and then its arguments (or the content), a last chunk with the finish reason and the `thinkact`
    object, and with include_usage one more with the token counts and no choices. A Completion already generated:
    no pieces, `finished` returns it."""
    head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}

    yield chunk({"role": "assistant", "content": ""})
    deltas = Deltas(request.calls_allowed)
    for piece in pieces:
        for key, value in deltas.feed(piece):
            yield chunk({key: value})
    done = finished()
    message, check, rest = deltas.finish(done.raw)
    for delta in rest:
        yield chunk(delta)
    yield chunk({}, _finish(message, done, request), thinkact=_extension(done, request, check))
    if request.include_usage:
        yield {**head, "choices": [], "usage": _usage(done)}


def stream_events(pieces: Iterable[str], finished: Callable[[], Completion], request: ChatRequest, *,
                  model: str) -> Iterator[str]:
    """Server-sent events of `stream_chunks`, then `data: [DONE]`. A failure once the stream has begun (the 200 is
    sent) is one last event in OpenAI's error shape, and no `[DONE]`."""
    try:
        for chunk in stream_chunks(pieces, finished, request, model=model):
            yield _event(chunk)
    except Exception as e:
        yield _event({"error": {"message": f"the server failed on this request: {type(e).__name__}: {e}"[:500],
                                "type": "server_error", "param": None, "code": None}})
        return
    yield "data: [DONE]\n\n"


def _event(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"
