"""The tool-set interface: what the episode environment needs from wherever tools run.

A tool set offers `schemas()` (OpenAI-style function schemas, `{"type": "function", "function": {"name",
"description", "parameters"}}`) and `run(name, arguments)`, which returns the result text the model sees (a tool
message's content) or raises `ToolFailure`. The environment (thinkact.env.tool_env) has already checked the call
against the offered schema when `run` is called; everything that can still go wrong there — the tool raised, hung
past its timeout, returned something that is not JSON, its server died — is a `ToolFailure` with a kind:

    tool_error    the tool ran and failed (an exception, an error the server reported, a result that is not JSON)
    unavailable   the tool could not answer (a timeout, a server that is gone): not the model's mistake

The environment turns a failure into the error result `{"error": message, "kind": kind}`, so an episode goes on.
"""
from __future__ import annotations

import json
from typing import Any

FAILURE_KINDS = ("tool_error", "unavailable")
RESULT_SEPARATORS = (", ", ": ")  # how a JSON result is written: the tool messages of the generated data too


class ToolFailure(Exception):
    """A call that could not run; `kind` is one of FAILURE_KINDS."""

    def __init__(self, kind: str, message: str):
        if kind not in FAILURE_KINDS:
            raise ValueError(f"kind must be one of {FAILURE_KINDS}, not {kind!r}")
        super().__init__(message)
        self.kind, self.message = kind, message


def result_text(value: Any, tool: str) -> str:
    """The result text of a tool's return value: a string as it is, anything else as JSON (RESULT_SEPARATORS);
    a value JSON cannot carry (a set, NaN, an object) raises ToolFailure(tool_error) naming the tool."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, separators=RESULT_SEPARATORS, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        raise ToolFailure("tool_error", f"tool {tool!r} returned a value that is not JSON "
                                        f"({type(value).__name__}: {e})") from None


class ToolSet:
    """Where calls run. Subclasses set `kind` and implement `schemas` and `run`; `close` frees what they hold."""

    kind = "base"

    def schemas(self) -> list[dict[str, Any]]:
        """The tools, as OpenAI-style function schemas, in declaration order."""
        raise NotImplementedError

    def names(self) -> list[str]:
        return [s["function"]["name"] for s in self.schemas()]

    def run(self, name: str, arguments: dict[str, Any]) -> str:
        """The result text of one call (arguments already checked against the schema), or ToolFailure."""
        raise NotImplementedError

    def close(self) -> None:
        """Free what the tool set holds (a server process, a thread); it is not used afterwards."""

    def __enter__(self) -> "ToolSet":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
