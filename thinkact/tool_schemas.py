"""Tool checks with jsonschema: each tool's `parameters` is a valid JSON Schema, each target call names an
offered tool, and each call's arguments validate against that tool's schema. Used by the validate stage
(thinkact.validation) and by the agent's tool environment (thinkact.env), which checks every call a model makes.

Examples repeat the same few tools thousands of times, so everything about one tool (its contract check,
its schema check, its compiled validator) is computed once and cached by the tool's canonical JSON.
Functions take raw, possibly malformed JSON values and return an error string, or None when the check
passes or does not apply (another check reports the malformed value).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.validators import validator_for

from thinkact.contract import EXAMPLE_SCHEMA

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - optional speed-up
    _orjson = None

_MAX_MESSAGE = 300
FUNCTION_KEYS = ("name", "description", "parameters")  # what a function schema offers the model, in this order


def offered_function(fn: dict[str, Any]) -> dict[str, Any]:
    """A function schema as the model is offered it: FUNCTION_KEYS only, in that order (an importer's or
    get_json_schema's extra keys, such as `return`, left out)."""
    return {k: fn[k] for k in FUNCTION_KEYS if k in fn}
_TOOL_CONTRACT = Draft202012Validator(EXAMPLE_SCHEMA["properties"]["tools"]["items"])


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def canonical(value: Any) -> bytes:
    """Canonical JSON of a value: the cache key of a tool and part of an example's prompt digest.

    orjson (installed with prefect and dvc) when present: three times faster than json, same meaning."""
    if _orjson is not None:
        try:
            return _orjson.dumps(value, option=_orjson.OPT_SORT_KEYS)
        except TypeError:  # e.g. an integer over 64 bits: json handles it
            pass
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")


@dataclass(frozen=True)
class ToolInfo:
    """What the checks need to know about one offered tool."""

    name: str | None
    contract_ok: bool           # the tool object matches the contract's schema for `tools` items
    validator: Any = None       # compiled validator of `parameters`, when it is a valid JSON Schema
    problem: str | None = None  # why `parameters` is not usable


@lru_cache(maxsize=8192)
def _tool_info(key: bytes) -> ToolInfo:
    tool = json.loads(key)
    fn = tool.get("function") if isinstance(tool, dict) else None
    name = fn.get("name") if isinstance(fn, dict) and isinstance(fn.get("name"), str) else None
    ok = _TOOL_CONTRACT.is_valid(tool)
    if not isinstance(fn, dict):
        return ToolInfo(name, ok, None, "has no function object")
    if "parameters" not in fn:
        return ToolInfo(name, ok, None, "has no parameters schema")
    schema = fn["parameters"]
    if not isinstance(schema, dict):
        return ToolInfo(name, ok, None, f"parameters is {type(schema).__name__}, not a JSON Schema object")
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as e:
        where = "/".join(str(p) for p in e.absolute_path)
        at = f" at '{where}'" if where else ""
        return ToolInfo(name, ok, None, _short(f"parameters is not a valid JSON Schema ({e.message}{at})"))
    if schema.get("type", "object") != "object":
        return ToolInfo(name, ok, None, f"parameters must describe an object, not type {schema.get('type')!r}")
    return ToolInfo(name, ok, cls(schema, format_checker=cls.FORMAT_CHECKER))


def tool_infos(tools: Any) -> list[tuple[bytes, ToolInfo]]:
    """(canonical JSON, info) of every tool offered; [] when `tools` is not a list."""
    if not isinstance(tools, list):
        return []
    out = []
    for tool in tools:
        key = canonical(tool)
        out.append((key, _tool_info(key)))
    return out


def schema_error(infos: list[tuple[bytes, ToolInfo]]) -> str | None:
    """The first tool whose `parameters` is not a valid JSON Schema, or a tool name offered twice."""
    seen: set[str] = set()
    for _, info in infos:
        if info.name is not None and info.name in seen:
            return f"tool {info.name!r} is offered twice"
        seen.add(info.name)
        if info.problem:
            return f"tool {info.name!r}: {info.problem}"
    return None


def _calls(target: Any) -> list[dict[str, Any]]:
    calls = target.get("tool_calls") if isinstance(target, dict) else None
    return [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []


def unknown_tool_error(infos: list[tuple[bytes, ToolInfo]], target: Any) -> str | None:
    """A target call that names a tool not offered in this example."""
    offered = {info.name for _, info in infos if info.name is not None}
    for call in _calls(target):
        name = call.get("name")
        if isinstance(name, str) and name not in offered:
            listed = ", ".join(sorted(offered)) or "none"
            return f"calls {name!r}, which is not offered (offered: {listed})"
    return None


def arguments_error(infos: list[tuple[bytes, ToolInfo]], target: Any) -> str | None:
    """The first target call whose arguments do not validate against the offered tool's JSON Schema.

    Calls of tools that are not offered, or whose schema is invalid, are left to their own checks.
    """
    validators = {info.name: info.validator for _, info in infos if info.validator is not None}
    for call in _calls(target):
        name = call.get("name")
        if not isinstance(name, str) or name not in validators:
            continue
        args = call.get("arguments")
        if not isinstance(args, dict):
            return f"call {name!r}: arguments is {type(args).__name__}, not an object"
        try:
            error = best_match(validators[name].iter_errors(args))
        except Exception as e:  # noqa: BLE001 - e.g. a $ref that cannot be resolved offline
            return _short(f"call {name!r}: arguments could not be checked against the schema ({e})")
        if error is not None:
            where = ".".join(str(p) for p in error.absolute_path)
            return _short(f"call {name!r}: arguments{'.' + where if where else ''}: {error.message}")
    return None


TOOL_SHAPE = '{"type": "function", "function": {"name": ..., "parameters": {...}}}'


def openai_tools(items: list[Any]) -> list[dict[str, Any]]:
    """OpenAI function tools in their full shape (a bare {"name", "parameters"} is wrapped): the tools a person gives
    `thinkact chat` or a request gives the served chat model. ValueError `[i]: problem` for the first bad item."""
    tools = []
    for i, item in enumerate(items):
        fn = item.get("function", item) if isinstance(item, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"].strip():
            raise ValueError(f"[{i}]: a tool needs a function name ({TOOL_SHAPE})")
        if not isinstance(fn.get("parameters", {}), dict):
            raise ValueError(f"[{i}] ('{fn['name']}'): 'parameters' must be a JSON Schema object")
        tools.append({"type": "function", "function": fn})
    return tools
