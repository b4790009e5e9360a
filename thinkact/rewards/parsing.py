"""Parse a model completion: `<think>…</think>` then `<tool_call>{json}</tool_call>` blocks or an answer.

JSON only (never eval), with size limits; never raises. Results are cached per text because every reward
parses the same completions.

    parse('<think>\\nneed the order\\n</think>\\n\\n<tool_call>\\n{"name": "f", "arguments": {}}\\n</tool_call>')
"""
from __future__ import annotations

import functools
import json
import re
from typing import Any, NamedTuple

MAX_COMPLETION_CHARS = 64_000   # longer completions are malformed outright
MAX_CALL_CHARS = 16_000         # one <tool_call> JSON body
MAX_CALLS = 64                  # more calls than this in one completion: malformed, none parsed
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>")
_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_TAGS = ("<think>", "</think>", "<tool_call>", "</tool_call>")


class Parsed(NamedTuple):  # a NamedTuple: ~5x cheaper to build than a frozen dataclass, on the reward hot path
    think: str | None                                   # None: no leading, closed think block
    calls: list[tuple[str, dict[str, Any]]] = []
    answer: str | None = None                           # the text after the think when there are no calls
    well_formed: bool = False                           # exactly one kind of action, every call valid JSON
    error: str | None = None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _call(body: str) -> tuple[str, dict[str, Any]] | None:
    if len(body) > MAX_CALL_CHARS:
        return None
    try:
        obj = json.loads(body, parse_constant=_reject_constant)  # NaN / Infinity are not JSON
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    args = obj.get("arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args, parse_constant=_reject_constant) if len(args) <= MAX_CALL_CHARS else None
        except (ValueError, RecursionError):
            args = None
    name = obj["name"].strip()
    return (name, args) if name and isinstance(args, dict) else None


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
        think, rest = rest[len("<think>"):end].strip(), rest[end + len("</think>"):]
    pieces = _CALL.split(rest) if "<tool_call>" in rest else [rest]
    if len(pieces) > 1:  # text, body, text, body, ..., text
        bodies = pieces[1::2]
        if len(bodies) > MAX_CALLS:
            return Parsed(think, [], None, False, f"more than {MAX_CALLS} tool calls")
        calls = [c for c in map(_call, bodies) if c is not None]
        outside = "".join(pieces[0::2]).strip()
        error = ("invalid tool call JSON" if len(calls) < len(bodies)
                 else "text beside tool calls" if outside else None)
        return Parsed(think, calls, None, think is not None and error is None, error)
    answer = rest.strip()
    if not answer:
        return Parsed(think, [], None, False, "empty action")
    if "<" in answer and any(tag in answer for tag in _TAGS):
        return Parsed(think, [], answer, False, "stray tag in answer")
    return Parsed(think, [], answer, think is not None, None)
