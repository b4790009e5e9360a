"""Parse a model completion: `<think>…</think>` then `<tool_call>{json}</tool_call>` blocks or an answer.

The format is the one the chat template writes (thinkact.chat_format.template.render_target). JSON only (never
eval), with size limits; never raises. Results are cached per text because every reward parses the same
completions.

    parse('<think>\\nneed the order\\n</think>\\n\\n<tool_call>\\n{"name": "f", "arguments": {}}\\n</tool_call>')
"""
from __future__ import annotations

import functools
import json
from typing import Any, NamedTuple

MAX_COMPLETION_CHARS = 64_000   # longer completions are malformed outright
MAX_CALL_CHARS = 16_000         # one <tool_call> JSON body
MAX_CALLS = 64                  # more calls than this in one completion: malformed, none parsed
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>")
_TAGS = ("<think>", "</think>", "<tool_call>", "</tool_call>")
_OPEN, _CLOSE = "<tool_call>", "</tool_call>"


class Parsed(NamedTuple):  # a NamedTuple: ~5x cheaper to build than a frozen dataclass, on the reward hot path
    think: str | None                                   # None: no leading, closed think block
    calls: list[tuple[str, dict[str, Any]]] = []
    answer: str | None = None                           # the text after the think when there are no calls
    well_formed: bool = False                           # exactly one kind of action, every call valid JSON
    error: str | None = None
    action: str = ""            # what follows the think: "call" (a <tool_call> tag), "answer" (other text), "" none
    bare_calls: int = 0         # parsed calls whose JSON has no "arguments" key (read as {}; `format` wants it)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder for every call: json.loads(s, parse_constant=...) builds a new JSONDecoder per call (~1/3 of its cost).
_decode = json.JSONDecoder(parse_constant=_reject_constant).decode  # NaN / Infinity are not JSON


def _call(body: str) -> tuple[str, dict[str, Any], bool] | None:
    """(name, arguments, whether "arguments" was given) of one call body, or None when it is not a valid call."""
    if len(body) > MAX_CALL_CHARS:
        return None
    try:
        obj = _decode(body)
    except (ValueError, RecursionError):
        return None
    if type(obj) is not dict:
        return None
    name = obj.get("name")
    if type(name) is not str:
        return None
    args = obj.get("arguments", _MISSING)
    given = args is not _MISSING
    if not given:
        args = {}
    elif type(args) is str:
        try:
            args = _decode(args) if len(args) <= MAX_CALL_CHARS else None
        except (ValueError, RecursionError):
            args = None
    name = name.strip()
    return (name, args, given) if name and type(args) is dict else None


_MISSING: Any = object()


def action_text(raw: str) -> str:
    """A completion after its leading, closed think block, without end-of-turn markers: the call or answer part
    (what `thinkact chat`, the rollout and the served chat model show as the action)."""
    text = raw.rstrip()
    while text.endswith(END_MARKERS):
        text = text[: text.rindex("<|")].rstrip()
    rest = text.lstrip()
    end = rest.find("</think>") if rest.startswith("<think>") else -1
    return rest if end < 0 else rest[end + len("</think>"):]


@functools.lru_cache(maxsize=65536)
def parse(text: str) -> Parsed:
    if not isinstance(text, str):
        return Parsed(None, error="not text")
    if len(text) > MAX_COMPLETION_CHARS:
        return Parsed(None, error=f"completion over {MAX_COMPLETION_CHARS} characters")
    text = text.rstrip()
    while text.endswith(END_MARKERS):  # end-of-turn markers only where generation stops
        text = text[: text.rindex("<|")].rstrip()
    rest = text.lstrip()
    think = None
    if rest.startswith("<think>"):
        end = rest.find("</think>")
        if end < 0:
            return Parsed(None, error="unclosed <think>")
        think, rest = rest[7:end].strip(), rest[end + 8:]
    start = rest.find(_OPEN)
    if start >= 0:
        close = rest.find(_CLOSE, start + 11)
        if close >= 0:  # text, body, text, body, ..., text (each body up to the first closing tag after it)
            return _calls(think, rest, start, close)
    answer = rest.strip()
    if not answer:
        return Parsed(think, [], None, False, "empty action")
    action = "call" if start >= 0 else "answer"
    if "<" in answer and any(tag in answer for tag in _TAGS):
        return Parsed(think, [], answer, False, "stray tag in answer", action)
    return Parsed(think, [], answer, think is not None, None, action)


def _calls(think: str | None, rest: str, start: int, close: int) -> Parsed:
    bodies, outside, pos = [], [], 0
    while start >= 0 and close >= 0:
        outside.append(rest[pos:start])
        bodies.append(rest[start + 11:close])
        pos = close + 12
        start = rest.find(_OPEN, pos)
        close = rest.find(_CLOSE, start + 11) if start >= 0 else -1
    outside.append(rest[pos:])
    if len(bodies) > MAX_CALLS:
        return Parsed(think, [], None, False, f"more than {MAX_CALLS} tool calls", "call")
    parsed = [c for c in map(_call, bodies) if c is not None]
    calls = [(name, args) for name, args, _ in parsed]
    bare = sum(1 for c in parsed if not c[2])
    error = ("invalid tool call JSON" if len(calls) < len(bodies)
             else "text beside tool calls" if "".join(outside).strip() else None)
    return Parsed(think, calls, None, think is not None and error is None, error, "call", bare)
