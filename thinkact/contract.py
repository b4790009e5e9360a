"""The data contract: one example = one assistant turn to predict (docs/design.md, "The data contract").

A line of contract JSONL is checked against `EXAMPLE_SCHEMA` (JSON Schema, validated with jsonschema),
then turned into frozen dataclasses. Every malformed line raises `DataError` naming file, line and field.

    from thinkact.contract import read_jsonl, write_jsonl
    examples = read_jsonl("data/train.jsonl")
"""
from __future__ import annotations

import json
import os
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
EXAMPLE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "domain", "split", "tools", "messages", "target"],
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
                    "role": {"enum": ["system", "user", "assistant", "tool"]},
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
        """One JSONL line: compact, key order fixed, non-ASCII kept (byte-identical across runs)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

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


def json_object(raw: bytes | str, path: str = "<memory>", line: int | None = None, hint: str = JSON_LINE_HINT) -> dict:
    """One JSONL line as a JSON object; a line over MAX_LINE_BYTES, not UTF-8, not JSON or not an object raises
    DataError naming the file and line (`hint` says what a line should be)."""
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
        obj = json.loads(raw)
    except json.JSONDecodeError as e:
        raise DataError(path, line, None, f"invalid JSON ({e.msg} at column {e.colno})", hint) from None
    if not isinstance(obj, dict):
        raise DataError(path, line, None, f"expected a JSON object, got {type(obj).__name__}", hint)
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
    """Write examples atomically (temporary file, then rename); returns how many were written."""
    lines = [ex.to_json() for ex in examples]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)
