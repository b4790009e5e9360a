"""Import OpenAI/Hermes-style chat JSONL (the format most public function-calling data sets use).

One input line = one conversation: {"id"?, "messages": [...], "tools": [...]} where assistant messages
carry `tool_calls` ({"type": "function", "function": {"name", "arguments"}}, arguments an object or a
JSON string) or `content`, and `tool` messages carry results. Every assistant turn becomes one contract
Example: messages = the conversation before that turn, target = its tool calls (arguments parsed) or its
content; `reasoning_content`/`reasoning` on the turn becomes the gold thought. Ids: `<id>:<turn>` when
the line has an id, else `<file stem>:<line>:<turn>` (turn = index of the message). Turn types: a call is
`call` (the first, before any clarifying question), `parallel` (several at once) or `call_from_history`; a text
is `answer` after a call, `clarify` before the first call of a conversation that has one, else `no_tool`.
Every malformed line raises DataError naming the file, the line and the field; so does a call to a tool the
line's `tools` does not declare. `read_conversations` yields each line parsed (the episode importer,
openai_episodes.py, reads the same conversations).

    thinkact data import --format openai conversations.jsonl --out data/imported.jsonl
    from thinkact.importers.openai import import_openai
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinkact.contract import MAX_DEPTH, ROLES, Example, iter_json_lines, loads_strict, too_deep
from thinkact.errors import DataError
from thinkact.tool_schemas import offered_function

_JSON_NAME = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_HINT = "see the OpenAI chat format: messages with role, content, tool_calls"


class _Bad(Exception):
    """A defect in one line: the field path and the problem (turned into DataError by the caller)."""

    def __init__(self, field: str | None, problem: str):
        super().__init__(problem)
        self.field, self.problem = field, problem


def _json_value(value: Any, field: str, want: type, what: str) -> Any:
    """Accept `value` or a JSON string of it (data sets often store arguments and tools as strings)."""
    if isinstance(value, str):
        try:
            value = loads_strict(value)
        except json.JSONDecodeError as e:
            raise _Bad(field, f"{what} is a string but not valid JSON ({e.msg} at column {e.colno})") from None
        except ValueError as e:  # NaN, Infinity, 1e999: not JSON, and the contract file could not carry them
            raise _Bad(field, f"{what} is a string but not valid JSON ({e})") from None
        except RecursionError:
            raise _Bad(field, f"{what} is nested more than {MAX_DEPTH} levels deep") from None
        if too_deep(value):
            raise _Bad(field, f"{what} is nested more than {MAX_DEPTH} levels deep")
    if not isinstance(value, want):
        got = _JSON_NAME.get(type(value), type(value).__name__)
        raise _Bad(field, f"{what} must be a JSON {_JSON_NAME[want]}, got {got}")
    return value


def _is_text_parts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in value)


def _content(value: Any, field: str) -> str | None:
    """Plain text; a list of {"type": "text", "text"} parts is joined."""
    if value is None or isinstance(value, str):
        return value
    if _is_text_parts(value):
        return "".join(str(p.get("text", "")) for p in value)
    raise _Bad(field, "content must be a string, null or a list of text parts")


def _tools(raw: Any) -> list[dict[str, Any]]:
    tools = _json_value(raw if raw is not None else [], "tools", list, "tools")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise _Bad(f"tools.{i}", "each tool must be an object")
        fn = tool.get("function", tool) if tool.get("type", "function") == "function" else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise _Bad(f"tools.{i}", 'expected {"type": "function", "function": {"name", "parameters"}}')
        fn = offered_function(fn)
        fn.setdefault("parameters", {"type": "object", "properties": {}})
        out.append({"type": "function", "function": fn})
    return out


def _calls(raw: Any, field: str) -> list[dict[str, Any]]:
    """Message tool_calls with arguments parsed to objects (the `type`/`id` of each call kept)."""
    if not isinstance(raw, list):
        raise _Bad(field, "tool_calls must be a list")
    out = []
    for j, call in enumerate(raw):
        where = f"{field}.{j}"
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise _Bad(where, 'expected {"type": "function", "function": {"name", "arguments"}}')
        args = _json_value(fn.get("arguments", {}), f"{where}.function.arguments", dict, "arguments")
        msg_call = {"type": "function", "function": {"name": fn["name"], "arguments": args}}
        if isinstance(call.get("id"), str):
            msg_call["id"] = call["id"]
        out.append(msg_call)
    return out


def _messages(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise _Bad("messages", "must be a non-empty list of messages")
    out = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise _Bad(f"messages.{i}", "each message must be an object")
        if m.get("role") not in ROLES:
            raise _Bad(f"messages.{i}.role", f"role {m.get('role')!r} is not one of {', '.join(ROLES)}")
        content = m.get("content")
        if m["role"] == "tool" and isinstance(content, (dict, list)) and not _is_text_parts(content):
            content = json.dumps(content, ensure_ascii=False)  # a structured tool result, kept as JSON text
        msg: dict[str, Any] = {"role": m["role"], "content": _content(content, f"messages.{i}.content")}
        if m.get("tool_calls"):
            msg["tool_calls"] = _calls(m["tool_calls"], f"messages.{i}.tool_calls")
        for key in ("name", "tool_call_id", "reasoning_content", "reasoning"):
            if isinstance(m.get(key), str):
                msg[key] = m[key]
        out.append(msg)
    return out


def _undeclared(tools: list[dict[str, Any]], messages: list[dict[str, Any]]) -> None:
    """A call to a tool the conversation does not declare is a defect of the line (nothing can be scored)."""
    declared = [t["function"]["name"] for t in tools]
    for i, m in enumerate(messages):
        for j, call in enumerate(m.get("tool_calls") or []):
            name = call["function"]["name"]
            if name not in declared:
                raise _Bad(f"messages.{i}.tool_calls.{j}.function.name",
                           f"tool {name!r} is not declared in the conversation's tools "
                           f"(declared: {', '.join(declared) or 'none'}); declare it or remove the call")


def _text_turn(messages: list[dict[str, Any]], i: int, calls_before: int) -> str:
    if calls_before:
        return "answer"
    later_call = any(m.get("tool_calls") for m in messages[i + 1:])
    follows = messages[i + 1]["role"] if i + 1 < len(messages) else None
    return "clarify" if later_call and follows == "user" else "no_tool"


def _conversation(tools: list[dict[str, Any]], messages: list[dict[str, Any]], base_id: str,
                  source: dict[str, Any], split: str, domain: str) -> list[dict[str, Any]]:
    """The contract dicts of one conversation: one per assistant turn that follows at least one message."""
    history = [{k: v for k, v in m.items() if k not in ("reasoning_content", "reasoning")} for m in messages]
    out, calls_before, asked = [], 0, False
    for i, m in enumerate(messages):
        if m["role"] != "assistant" or i == 0:
            continue
        d: dict[str, Any] = {"id": f"{base_id}:{i}", "domain": domain, "split": split, "tools": tools,
                             "messages": history[:i], "source": {**source, "turn": i}}
        if m.get("tool_calls"):
            calls = [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in m["tool_calls"]]
            d["target"] = {"tool_calls": calls}
            d["turn_type"] = "parallel" if len(calls) > 1 else "call" if not (calls_before or asked) \
                else "call_from_history"
            calls_before += len(calls)
        elif m.get("content"):
            d["target"], d["turn_type"] = {"content": m["content"]}, _text_turn(messages, i, calls_before)
            asked = asked or d["turn_type"] == "clarify"
        else:
            raise _Bad(f"messages.{i}", "assistant message has neither tool_calls nor content")
        thought = m.get("reasoning_content") or m.get("reasoning")
        if thought:
            d["reasoning"] = thought
        out.append(d)
    return out


@dataclass(frozen=True)
class Conversation:
    """One line of an OpenAI-style chat file, parsed: its tools and messages (arguments parsed, contents as
    text) and the contract examples of its assistant turns."""

    path: str
    line: int
    id: str                          # the line's id, else <file stem>:<line>
    tools: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    examples: list[Example]


def read_conversations(path: str | os.PathLike, split: str = "train", domain: str | None = None
                       ) -> Iterator[Conversation]:
    """Every conversation of one OpenAI-style chat JSONL file, in file order (domain defaults to the file stem);
    a malformed line raises DataError naming the file, the line and the field."""
    p = Path(path)
    seen: dict[str, int] = {}
    for number, obj in iter_json_lines(p):
        src_id = obj.get("id")
        if src_id is not None and not isinstance(src_id, (str, int)):
            raise DataError(str(p), number, "id", "id must be a string or an integer")
        base = str(src_id) if src_id is not None else f"{p.stem}:{number}"
        if base in seen:
            raise DataError(str(p), number, "id", f"duplicate id {base!r} (first on line {seen[base]})")
        seen[base] = number
        source = {"format": "openai", "file": p.name, "line": number}
        if src_id is not None:
            source["id"] = src_id
        try:
            tools, messages = _tools(obj.get("tools")), _messages(obj.get("messages"))
            _undeclared(tools, messages)
            dicts = _conversation(tools, messages, base, source, split, domain or p.stem)
        except _Bad as e:
            raise DataError(str(p), number, e.field, e.problem, _HINT) from None
        yield Conversation(str(p), number, base, tools, messages,
                           [Example.from_dict(d, str(p), number) for d in dicts])


def import_openai(path: str | os.PathLike, split: str = "train", domain: str | None = None) -> list[Example]:
    """All examples of one OpenAI-style chat JSONL file, in file order (domain defaults to the file stem)."""
    return [e for c in read_conversations(path, split, domain) for e in c.examples]
