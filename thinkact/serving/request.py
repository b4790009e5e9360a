"""An OpenAI chat request, checked and turned into what `thinkact serve` generates from: the contract example whose
prompt evaluation renders (`thinkact.generation.prompt_text`) and the generation settings. Anything a client can get
wrong is a `BadRequest` (HTTP 400 with OpenAI's error shape) naming the field; nothing here loads a model.

Messages and tools are translated by the functions the MLflow chat model uses (thinkact.tracking.chat_pyfunc:
`prompt_messages`, `request_tools`), so both served forms render a request alike: content parts joined as text, an
assistant turn's `reasoning_content` (or `reasoning`) back into its think block, tool-call arguments sent as JSON
text rendered as the objects training saw.

    req = chat_request(json_body(raw), served_ids={"sft"})
    req.example, req.max_tokens, req.temperature, req.calls_allowed, req.stream
"""
from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from thinkact.contract import Example, Target
from thinkact.tool_schemas import schema_error, tool_infos
from thinkact.tracking.chat_pyfunc import MAX_TOKENS, prompt_messages, request_tools

MAX_BODY_BYTES = 1 << 20          # a body over 1 MiB is refused (400) before it is parsed
MAX_TOKENS_LIMIT = 4096           # a longer reply is refused (400): no request holds the model for long
TOOL_CHOICES = ("auto", "none")   # "required" and a named function cannot be enforced on this model (400)


class BadRequest(Exception):
    """A request the client must change: HTTP 400 with {"error": {"message", "type", "param", "code"}}."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


@dataclass(frozen=True)
class ChatRequest:
    example: Example              # the conversation and the offered tools, as evaluation renders them
    max_tokens: int
    temperature: float            # 0: greedy, as evaluation
    calls_allowed: bool           # tool_choice "auto" (default); "none": no tool offered, no tool_calls back
    stream: bool = False
    include_usage: bool = False   # stream_options.include_usage: a last chunk with the token counts
    return_prompt: bool = False   # thinkact's extension: the rendered prompt comes back under "thinkact"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; anything else is a BadRequest."""
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise BadRequest(f"the body is not valid JSON ({str(e)[:200]})", code="invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object with 'messages', not {type(body).__name__}")
    return body


def chat_request(body: dict[str, Any], served_ids: Collection[str]) -> ChatRequest:
    """Check `body` (an OpenAI chat completion request) field by field; `served_ids`: the model names it may ask for."""
    model = body.get("model")
    if model is not None and model not in served_ids:
        raise BadRequest(f"model {model!r} is not served here; this server serves {', '.join(map(repr, served_ids))} "
                         "(GET /v1/models)", "model", "model_not_found")
    choice = body.get("tool_choice", "auto")
    if choice not in TOOL_CHOICES:
        raise BadRequest(f"tool_choice {json.dumps(choice)[:80]} is not supported: use \"auto\" (the model decides) "
                         "or \"none\" (no tool is offered)", "tool_choice", "unsupported_value")
    tools = offered_tools(body.get("tools"))
    messages = conversation(body.get("messages"))
    if _integer(body, "n", 1) != 1:
        raise BadRequest("only n=1 is supported", "n", "unsupported_value")
    key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = _integer(body, key, MAX_TOKENS)
    if not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
        raise BadRequest(f"'{key}' must be between 1 and {MAX_TOKENS_LIMIT}", key)
    temperature = _number(body, "temperature", 0.0)
    if not 0 <= temperature <= 2:
        raise BadRequest("'temperature' must be between 0 and 2", "temperature")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise BadRequest("'stream_options' must be an object", "stream_options")
    calls_allowed = choice == "auto"
    example = Example(id="serve", domain="chat", split="chat", tools=tools if calls_allowed else [],
                      messages=messages, target=Target(content=""))
    return ChatRequest(example, max_tokens, temperature, calls_allowed, stream=_flag(body, "stream"),
                       include_usage=_flag(options, "include_usage", "stream_options.include_usage"),
                       return_prompt=_flag(body, "return_prompt"))


def conversation(messages: Any) -> list[dict[str, Any]]:
    """OpenAI messages as the chat template renders them (chat_pyfunc.prompt_messages), or a BadRequest. A tool
    result given as a JSON object or list (logged conversations have them) is rendered as its JSON text, as the
    OpenAI importer (thinkact.importers.openai) writes it into the data set."""
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list of {role, content} objects", "messages")
    return _translated(prompt_messages, [_json_result(m) for m in messages], "messages")


def _json_result(message: Any) -> Any:
    content = message.get("content") if isinstance(message, dict) and message.get("role") == "tool" else None
    if isinstance(content, dict) or (isinstance(content, list) and not all(
            isinstance(p, dict) and p.get("type") == "text" for p in content)):
        return {**message, "content": json.dumps(content, ensure_ascii=False)}
    return message


def offered_tools(tools: Any) -> list[dict[str, Any]]:
    """OpenAI function tools (chat_pyfunc.request_tools), each `parameters` a valid JSON Schema of an object and no
    name offered twice (thinkact.tool_schemas, the checks the data gate applies); else a BadRequest."""
    if tools is None:
        return []
    out = _translated(request_tools, tools, "tools")
    problem = schema_error(tool_infos([t for t in out if "parameters" in t["function"]]))
    if problem:
        raise BadRequest(f"tools: {problem}", "tools", "invalid_tool")
    return out


def _translated(translate: Any, value: Any, param: str) -> Any:
    # chat_pyfunc reports a client's mistake as MLflow's INVALID_PARAMETER_VALUE (its scoring server's 400); mlflow
    # is imported only in thinkact.tracking, so the error is recognised by its code, and anything else propagates
    try:
        return translate(value)
    except Exception as e:
        if getattr(e, "error_code", None) != "INVALID_PARAMETER_VALUE":
            raise
        raise BadRequest(str(getattr(e, "message", e)).removeprefix("chat request: "), param) from None


def _integer(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"'{key}' must be a whole number", key)
    return value


def _number(body: dict[str, Any], key: str, default: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"'{key}' must be a number", key)
    return float(value)


def _flag(body: dict[str, Any], key: str, param: str | None = None) -> bool:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"'{param or key}' must be true or false", param or key)
    return bool(value)
