"""The data contract: one example = one assistant turn to predict (docs/design.md, "The data contract").

A line of contract JSONL is checked against `EXAMPLE_SCHEMA` (JSON Schema, validated with jsonschema),
then turned into frozen dataclasses. Every malformed line raises `DataError` naming file, line and field.

    from thinkact.contract import read_jsonl, write_jsonl
    examples = read_jsonl("data/train.jsonl")
"""
from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from thinkact.errors import DataError
from thinkact.io import atomic_write_text

TRAIN_SPLIT = "train"
EVAL_SPLITS = ("test_id", "test_env", "test_task")
SPLITS = (TRAIN_SPLIT, *EVAL_SPLITS)
# What the assistant must do now. `call_from_history` takes arguments from earlier turns.
TURN_TYPES = ("call", "call_from_history", "parallel", "answer", "clarify", "no_tool")
ACTION_OF_TURN = {"call": "call", "call_from_history": "call", "parallel": "call",
                  "answer": "answer", "no_tool": "answer", "clarify": "clarify"}
MAX_LINE_BYTES = 1_000_000  # a line longer than this is rejected before JSON parsing
MAX_DEPTH = 64  # objects and arrays nested deeper than this are refused (the data sets nest ~10 deep)

_NAME = {"type": "string", "minLength": 1, "maxLength": 128}
_CALL = {
    "type": "object",
    "required": ["name", "arguments"],
    "properties": {
        "name": _NAME,
        "arguments": {"type": "object"},
        # Optional (importers): per argument, every accepted value and whether it may be omitted.
        "accepted": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["values", "optional"],
                "properties": {"values": {"type": "array"}, "optional": {"type": "boolean"}},
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}
_MESSAGE_CALL = {
    "type": "object",
    "required": ["type", "function"],
    "properties": {
        "type": {"const": "function"},
        "id": {"type": "string"},
        "function": {
            "type": "object",
            "required": ["name", "arguments"],
            "properties": {"name": _NAME, "arguments": {"type": ["object", "string"]}},
        },
    },
}
ROLES = ("system", "user", "assistant", "tool")  # who speaks in a conversation
REQUIRED_FIELDS = ("id", "domain", "split", "tools", "messages", "target")  # of every example
EXAMPLE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": list(REQUIRED_FIELDS),
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 256},
        "domain": {"type": "string", "minLength": 1},
        "split": {"type": "string", "minLength": 1},
        "tools": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "function"],
                "properties": {
                    "type": {"const": "function"},
                    "function": {
                        "type": "object",
                        "required": ["name", "parameters"],
                        "properties": {
                            "name": _NAME,
                            "description": {"type": "string"},
                            "parameters": {"type": "object"},
                        },
                    },
                },
            },
        },
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role"],
                "properties": {
                    "role": {"enum": list(ROLES)},
                    "content": {"type": ["string", "null"]},
                    "tool_calls": {"type": "array", "items": _MESSAGE_CALL},
                    "name": {"type": "string"},
                    "tool_call_id": {"type": "string"},
                },
            },
        },
        "target": {
            "type": "object",
            "oneOf": [{"required": ["tool_calls"]}, {"required": ["content"]}],
            "properties": {
                "tool_calls": {"type": "array", "minItems": 1, "items": _CALL},
                "content": {"type": "string"},
            },
            "additionalProperties": False,
        },
        "reasoning": {"type": "string"},
        "turn_type": {"enum": list(TURN_TYPES)},
        "source": {"type": "object"},
    },
    "additionalProperties": False,
}
_VALIDATOR = Draft202012Validator(EXAMPLE_SCHEMA)


@dataclass(frozen=True)
class ToolCall:
    """One call of the target: a function name, its arguments, and (imports only) accepted alternatives."""

    name: str
    arguments: dict[str, Any]
    accepted: dict[str, dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "arguments": self.arguments}
        if self.accepted is not None:
            out["accepted"] = self.accepted
        return out


@dataclass(frozen=True)
class Target:
    """What the assistant must do now: call tools, or answer with `content` (an answer or a question)."""

    tool_calls: tuple[ToolCall, ...] | None = None
    content: str | None = None

    @property
    def is_call(self) -> bool:
        return self.tool_calls is not None

    def to_dict(self) -> dict[str, Any]:
        if self.tool_calls is not None:
            return {"tool_calls": [c.to_dict() for c in self.tool_calls]}
        return {"content": self.content}


@dataclass(frozen=True)
class Example:
    """One line of contract JSONL. `messages` and `tools` are kept as the plain OpenAI-style dicts."""

    id: str
    domain: str
    split: str
    tools: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    target: Target
    reasoning: str | None = None
    turn_type: str | None = None
    source: dict[str, Any] | None = field(default=None)

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.tools]

    @property
    def action(self) -> str:
        """call, answer or clarify (clarify only known from `turn_type`)."""
        if self.turn_type:
            return ACTION_OF_TURN[self.turn_type]
        return "call" if self.target.is_call else "answer"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "domain": self.domain, "split": self.split, "tools": self.tools,
            "messages": self.messages, "target": self.target.to_dict(),
        }
        for key in ("reasoning", "turn_type", "source"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    def to_json(self) -> str:
        """One JSONL line: compact, key order fixed, non-ASCII kept (byte-identical across runs). A NaN or infinite
        number raises ValueError: JSON has none (write_jsonl turns it into DataError naming the row)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str = "<memory>", line: int | None = None) -> "Example":
        error = best_match(_VALIDATOR.iter_errors(d))
        if error is not None:
            where = ".".join(str(p) for p in error.absolute_path) or None
            raise DataError(path, line, where, error.message, "see the data contract in docs/data.md")
        t = d["target"]
        calls = None
        if "tool_calls" in t:
            calls = tuple(ToolCall(c["name"], c["arguments"], c.get("accepted")) for c in t["tool_calls"])
        return cls(
            id=d["id"], domain=d["domain"], split=d["split"], tools=d["tools"], messages=d["messages"],
            target=Target(tool_calls=calls, content=t.get("content")),
            reasoning=d.get("reasoning"), turn_type=d.get("turn_type"), source=d.get("source"),
        )


JSON_LINE_HINT = "each line must be one complete JSON object"


class _NotJson(ValueError):
    """A number JSON cannot carry: the NaN / Infinity tokens Python's json accepts, or one that overflows (1e999)."""


def _no_constant(token: str) -> Any:
    raise _NotJson(f"{token} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(f"the number {text[:40]} is out of range")
    return value


# Strict JSON: json.loads takes NaN, Infinity and 1e999 (as inf); one decoder built once (json.loads with hooks
# builds a new one per call).
_DECODE = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite).decode


def strict_json_loads(text: str) -> Any:
    """JSON text -> value, refusing NaN, Infinity and numbers that overflow (1e999) with a ValueError; deep nesting
    raises RecursionError. The one strict reader of JSON text (data lines, tool-call arguments)."""
    return _DECODE(text)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def loads_strict(text: str) -> Any:
    """json.loads without NaN, Infinity or out-of-range numbers (they raise ValueError); deep nesting may raise
    RecursionError (json_object turns both into DataError)."""
    return _DECODE(text)


def too_deep(obj: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether objects/arrays in `obj` nest deeper than `limit` levels (iterative: never recurses itself)."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if type(value) is dict else value
        stack.extend((v, depth + 1) for v in children if type(v) in (dict, list))
    return False


def bad_text(obj: Any, where: str = "") -> tuple[str | None, str] | None:
    """(field, problem) for the first string (key or value) in `obj` with a lone surrogate, which UTF-8 cannot
    encode, or the first NaN / infinite number, which JSON cannot carry; None when there is none."""
    stack: list[tuple[Any, str]] = [(obj, where)]
    while stack:
        value, at = stack.pop()
        if isinstance(value, str):
            if _has_surrogate(value):
                return at or None, f"text with a lone surrogate ({_first_surrogate(value)}), which UTF-8 cannot encode"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return at or None, f"{value} is not a JSON number"
        elif isinstance(value, dict):
            for key, item in value.items():
                key_text = str(key).encode("utf-8", "backslashreplace").decode("utf-8")  # printable in a message
                name = f"{at}.{key_text}" if at else key_text
                if isinstance(key, str) and _has_surrogate(key):
                    return at or None, f"key with a lone surrogate ({_first_surrogate(key)}), which UTF-8 cannot encode"
                stack.append((item, name))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, f"{at}.{i}" if at else str(i)) for i, item in enumerate(value))
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _first_surrogate(text: str) -> str:
    return ascii(next(c for c in text if "\ud800" <= c <= "\udfff"))


def json_object(raw: bytes | str, path: str = "<memory>", line: int | None = None, hint: str = JSON_LINE_HINT) -> dict:
    """One JSONL line as a JSON object; a line over MAX_LINE_BYTES, not UTF-8, not strict JSON (NaN, Infinity and
    out-of-range numbers are not JSON), nested deeper than MAX_DEPTH, with a lone surrogate (a \\uD800-\\uDFFF
    escape UTF-8 cannot encode) or not an object raises DataError naming the file and line (`hint` says what a line
    should be)."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_LINE_BYTES:
            raise DataError(path, line, None, f"line is {len(raw):,} bytes, over the {MAX_LINE_BYTES:,} limit")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(path, line, None, f"not valid UTF-8 at byte {e.start}", "save the file as UTF-8") from None
    elif len(raw) > MAX_LINE_BYTES:
        raise DataError(path, line, None, f"line is {len(raw):,} characters, over the {MAX_LINE_BYTES:,} limit")
    try:
        if raw.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", raw, 0)
        obj = _DECODE(raw)
    except json.JSONDecodeError as e:
        raise DataError(path, line, None, f"invalid JSON ({e.msg} at column {e.colno})", hint) from None
    except _NotJson as e:
        raise DataError(path, line, None, f"invalid JSON ({e})", "JSON has no NaN or Infinity: write null or a "
                        "finite number") from None
    except RecursionError:
        raise DataError(path, line, None, f"nested more than {MAX_DEPTH} levels deep", hint) from None
    if not isinstance(obj, dict):
        raise DataError(path, line, None, f"expected a JSON object, got {type(obj).__name__}", hint)
    if (raw.count("{") + raw.count("[") > MAX_DEPTH) and too_deep(obj):
        raise DataError(path, line, None, f"nested more than {MAX_DEPTH} levels deep", hint)
    if _SURROGATE_ESCAPE.search(raw):
        bad = bad_text(obj)
        if bad is not None:
            raise DataError(path, line, bad[0], bad[1], "fix the \\uD800-\\uDFFF escape in the source data")
    return obj


def iter_json_lines(path: str | os.PathLike, *, missing_hint: str = "",
                    hint: str = JSON_LINE_HINT) -> Iterator[tuple[int, dict]]:
    """(line number, JSON object) for every non-blank line of a JSONL file: the one reader behind contract data,
    predictions and imported chat files. A missing file or a bad line raises DataError naming the file and line."""
    p = Path(path)
    if not p.is_file():
        raise DataError(str(p), None, None, "file not found", missing_hint)
    with p.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if raw.strip():
                yield number, json_object(raw.rstrip(b"\r\n"), str(p), number, hint)


def parse_line(raw: bytes | str, path: str = "<memory>", line: int | None = None) -> Example:
    """Parse one JSONL line into an Example; every defect raises DataError with file and line."""
    return Example.from_dict(json_object(raw, path, line), path, line)


def iter_jsonl(path: str | os.PathLike) -> Iterator[Example]:
    """Yield the examples of a contract JSONL file; blank lines are skipped."""
    for number, obj in iter_json_lines(path, missing_hint="generate data with `thinkact data generate`"):
        yield Example.from_dict(obj, str(path), number)


def read_jsonl(path: str | os.PathLike) -> list[Example]:
    return list(iter_jsonl(path))


def write_jsonl(path: str | os.PathLike, examples: Iterable[Example]) -> int:
    """Write examples atomically (temporary file, then rename); returns how many were written. An example that
    could not be read back (a NaN, a lone surrogate, nesting over MAX_DEPTH) raises DataError naming it; nothing is
    written then."""
    lines = []
    for row, ex in enumerate(examples, start=1):
        line, problem = _line_of(ex)
        if problem is not None:
            origin = ex.source or {}
            where = f", from {origin['file']}" if origin.get("file") else ""
            if where and origin.get("line"):
                where += f":{origin['line']}"
            raise DataError(str(path), None, problem[0], f"example {row} (id {ascii(ex.id)}{where}): {problem[1]}",
                            "fix the source data; nothing was written")
        lines.append(line)
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def _line_of(ex: Example) -> tuple[str, tuple[str | None, str] | None]:
    """(the JSONL line, None), or ("", (field, problem)) when json_object would not read the line back."""
    try:
        line = ex.to_json()
        line.encode("utf-8")
    except (ValueError, UnicodeEncodeError):  # NaN / Infinity, or a lone surrogate
        return "", bad_text(ex.to_dict()) or (None, "not writable as UTF-8 JSON")
    if line.count("{") + line.count("[") > MAX_DEPTH and too_deep(ex.to_dict()):
        return "", (None, f"nested more than {MAX_DEPTH} levels deep")
    return line, None
