"""One agent episode over a tool set: tool calls are checked, run, recorded and bounded.

`ToolEnvironment` plays one `EpisodeSpec` (thinkact.env.spec). Every tool call goes through `call` (or
`call_raw` for a raw call object): it is checked against the offered tool's JSON Schema
(thinkact.tool_schemas), then run by the tool set (thinkact.tools: by default the deterministic simulators of
thinkact.world; a Python module or an MCP server with `episodes.tools`). Whatever the model sends, the result is
a string, never an exception: the tool's result text (the simulators' JSON is formatted as the tool messages of
the generated data), or `{"error": "...", "kind": K}` with K one of `ERROR_KINDS`. The assistant's
text messages go to `respond`: while the spec holds values the user left out and has not given yet, any text
(instead of a call) is a clarifying question and the simulated user gives them all (thinkact.env.user);
otherwise text is the final answer, the user has nothing to add and the episode ends. Calls past
`max_tool_calls`, or texts past `max_turns`, end the episode as failed. Results depend only on the calls and
texts, in order (the simulators seed on the call itself). With `faults` (params.yaml `episodes.faults`, off by
default) a call that would succeed may meet an injected fault instead (thinkact.env.faults): an error result of
kind `transient`, `rate_limit` or `validation` (`FAULT_KINDS`), recorded as the call's error (`CallRecord.faulted`),
drawn from the episode id and the call, at most once per distinct call (the same call sent again runs).

    env = ToolEnvironment(max_turns=4, max_tool_calls=8)
    env.reset(episode=spec.to_json())        # a data set row: reset(**row); spec.held = {"order_id": "ORD-12345"}
    env.respond("Which order number?")       # "The order number is ORD-12345."
    env.call("get_order_status", '{"order_id": 7}')          # '{"error": "call ...", "kind": "invalid_arguments"}'
    env.call("get_order_status", {"order_id": "ORD-12345"})  # '{"order_id": "ORD-12345", "eta": ...}'
    env.respond("Order ORD-12345 has shipped.")  # "I have nothing to add."; env.done is now True
    env.calls, env.turns, env.failed         # the records, for rewards and evaluation

Who drives it: `thinkact.env.rollout.play_episodes`, the one rollout loop — per assistant message, `call_raw(c)` for
each tool call (a tool message each) or `respond(text)` for a text (a user message), until `done` — used by episode
evaluation and, through TRL's `rollout_func`, by GRPO (`thinkact.training.episode_rollouts`). TRL's own
`environment_factory` is not used: it renders tools from method signatures, not the data's JSON Schemas, and its
tool loop cannot answer a clarifying question with a user turn.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from thinkact.contract import strict_json_loads
from thinkact.env.faults import call_key, draw_fault
from thinkact.env.settings import FAULT_KINDS, FaultParams
from thinkact.env.spec import EpisodeSpec
from thinkact.env.user import LIMIT_REPLY, NOTHING_TO_ADD, clarification_reply
from thinkact.tool_schemas import arguments_error, tool_infos
from thinkact.tools.base import ToolFailure, ToolSet
from thinkact.tools.builtin import BuiltinTools

# unavailable: the tool set could not answer (a timeout, a server gone; thinkact.tools.base): not the model's mistake
ERROR_KINDS = ("unknown_tool", "invalid_arguments", "malformed_call", "tool_error", "unavailable", "limit")
TURN_KINDS = ("clarify", "answer", "limit", "ended")
_MAX_MESSAGE = 300


@dataclass(frozen=True)
class CallRecord:
    """One tool call as the environment saw it."""

    name: str | None   # the tool name; None when the call named none
    arguments: Any     # the parsed arguments object when parsing got that far, else the raw value given
    result: str        # the JSON string returned to the model
    error: str | None  # None for a valid call, else one of ERROR_KINDS, or of FAULT_KINDS for an injected fault

    @property
    def valid(self) -> bool:
        """The call ran (no error, no fault)."""
        return self.error is None

    @property
    def faulted(self) -> bool:
        """The call was valid but met an injected fault (thinkact.env.faults): not the model's mistake."""
        return self.error in FAULT_KINDS

    @property
    def mistaken(self) -> bool:
        """The model's mistake: the call was rejected, and not by an injected fault or a tool that could not
        answer (kind unavailable)."""
        return self.error is not None and not self.faulted and self.error != "unavailable"


@dataclass(frozen=True)
class TurnRecord:
    """One assistant text message and the simulated user's reply."""

    assistant: str
    user: str
    kind: str  # one of TURN_KINDS


class _Rejected(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.result = error_result(kind, message)


def error_result(kind: str, message: str) -> str:
    """The JSON error a rejected call returns to the model (ASCII: lone surrogates are escaped)."""
    return json.dumps({"error": _clip(message), "kind": kind})


def _clip(text: str, limit: int = _MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _loads(text: str) -> Any:
    """Strict JSON (no NaN, no Infinity, no 1e999); anything unreadable raises `_Rejected` (malformed_call)."""
    try:
        return strict_json_loads(text)
    except RecursionError:
        raise _Rejected("malformed_call", "not valid JSON: nested too deeply") from None
    except ValueError as e:
        raise _Rejected("malformed_call", f"not valid JSON: {e}") from None


def _parse_arguments(arguments: Any) -> dict[str, Any]:
    """The arguments as a plain JSON object: from JSON text or a dict (None: no arguments)."""
    if arguments is None:
        return {}
    if isinstance(arguments, str):
        value = _loads(arguments)
    elif isinstance(arguments, dict):
        try:  # keep exactly what JSON can carry (no NaN, no sets, no over-long integers)
            value = json.loads(json.dumps(arguments, allow_nan=False))
        except (TypeError, ValueError, RecursionError) as e:
            raise _Rejected("malformed_call", f"arguments are not JSON: {type(e).__name__}: {e}") from None
    else:
        value = arguments
    if not isinstance(value, dict):
        raise _Rejected("malformed_call", f"arguments must be a JSON object, not {type(value).__name__}")
    return value


def unpack_call(tool_call: Any) -> tuple[Any, Any, str | None]:
    """(name, arguments, problem) of a raw call: OpenAI-style `{"function": {...}}` or `{"name", "arguments"}`,
    as a dict or JSON text; `problem` says why it is not a call object."""
    if isinstance(tool_call, str):
        try:
            tool_call = _loads(tool_call)
        except _Rejected as r:
            return None, tool_call, f"the call is {r}"
    if not isinstance(tool_call, dict):
        return None, tool_call, f"the call must be a JSON object, not {type(tool_call).__name__}"
    inner = tool_call.get("function")
    fn = inner if isinstance(inner, dict) else tool_call
    return fn.get("name"), fn.get("arguments"), None


class ToolEnvironment:
    """Plays one episode; `reset` starts the next. Bounds: `max_turns` texts, `max_tool_calls` calls (faulted ones
    too). `faults`: the injected tool faults (None: none, as for the gold demonstrations). `tools`: where calls run
    (thinkact.tools; None: the simulated world's tools)."""

    def __init__(self, spec: EpisodeSpec | None = None, *, max_turns: int = 4, max_tool_calls: int = 8,
                 faults: FaultParams | None = None, tools: ToolSet | None = None):
        if max_turns < 1 or max_tool_calls < 1:
            raise ValueError(f"max_turns and max_tool_calls must be >= 1, got {max_turns}, {max_tool_calls}")
        self.max_turns, self.max_tool_calls = max_turns, max_tool_calls
        self.tools = tools if tools is not None else BuiltinTools()
        self.faults = faults if faults is not None and faults.on else None
        self._start(spec)

    def _start(self, spec: EpisodeSpec | None) -> None:
        self._spec = spec
        self._infos = tool_infos(list(spec.tools)) if spec is not None else []
        self._offered = sorted(spec.tool_names) if spec is not None else []
        self._calls: list[CallRecord] = []
        self._turns: list[TurnRecord] = []
        self._given: set[str] = set()
        self._faulted: set[str] = set()  # the calls (call_key) that met a fault: sent again, they run
        self._done = self._failed = False
        self._final: str | None = None

    def reset(self, episode: Any = None, **row: Any) -> str | None:
        """Start the episode of a data set row (`episode`: an EpisodeSpec, its dict or JSON); fresh records.

        Returns the opening user message when the row has no `prompt` (for TRL to use), else None."""
        self._start(EpisodeSpec.coerce(episode))
        return None if "prompt" in row else self._spec.user

    # -- tool calls ------------------------------------------------------------------------------------------
    def call(self, name: str, arguments: str | dict[str, Any] | None = None) -> str:
        """Run one tool call (arguments as JSON text or a dict); always returns a JSON string."""
        return self._call(name, arguments, None)

    def call_raw(self, tool_call: Any) -> str:
        """Run one raw call object (see `unpack_call`); always returns a JSON string."""
        return self._call(*unpack_call(tool_call))

    def _call(self, name: Any, arguments: Any, problem: str | None) -> str:
        kept = arguments
        try:
            self._check_open()
            if problem is None and (not isinstance(name, str) or not name):
                problem = f"the call names no tool (name is {type(name).__name__})"
            if problem is not None:
                raise _Rejected("malformed_call", problem)
            kept = _parse_arguments(arguments)
            result, error = self._execute(name, kept), None
        except _Rejected as r:
            result, error = r.result, r.kind
        self._calls.append(CallRecord(name if isinstance(name, str) else None, kept, result, error))
        return result

    def _check_open(self) -> None:
        if self._done:
            raise _Rejected("limit", "the episode has ended; no more tool calls are answered")
        if len(self._calls) >= self.max_tool_calls:
            self._done = self._failed = True
            raise _Rejected("limit", f"tool call limit reached ({self.max_tool_calls} calls); the episode has ended")

    def _execute(self, name: str, arguments: dict[str, Any]) -> str:
        if name not in self._offered:
            offered = ", ".join(self._offered) or "none"
            raise _Rejected("unknown_tool", f"no tool named {_clip(name, 60)!r} is offered (offered: {offered})")
        problem = arguments_error(self._infos, {"tool_calls": [{"name": name, "arguments": arguments}]})
        if problem:
            raise _Rejected("invalid_arguments", problem)
        try:
            result = self.tools.run(name, arguments)
        except ToolFailure as e:
            raise _Rejected(e.kind, e.message) from None
        except Exception as e:  # noqa: BLE001 - a tool set's own bug is a tool result, not a crash
            raise _Rejected("tool_error", f"tool {name!r} failed: {type(e).__name__}: {e}") from None
        self._inject(name, arguments)
        return result

    def _inject(self, name: str, arguments: dict[str, Any]) -> None:
        """Raise the injected fault this call meets, if any: at most once per distinct call in an episode."""
        if self.faults is None:
            return
        key = call_key(name, arguments)
        fault = None if key in self._faulted else draw_fault(self.faults, self._spec.id, name, arguments)
        if fault is not None:
            self._faulted.add(key)
            raise _Rejected(*fault)

    # -- text messages ---------------------------------------------------------------------------------------
    def respond(self, text: str) -> str:
        """The simulated user's reply (plain text) to an assistant text message."""
        text = text if isinstance(text, str) else repr(text)
        if self._done:
            kind, reply = "ended", NOTHING_TO_ADD
        elif len(self._turns) >= self.max_turns:
            self._done = self._failed = True
            kind, reply = "limit", LIMIT_REPLY
        elif self.outstanding:
            held = self._spec.held
            kind, reply = "clarify", clarification_reply({k: held[k] for k in self.outstanding})
            self._given.update(self.outstanding)
        else:
            self._done, self._final = True, text
            kind, reply = "answer", NOTHING_TO_ADD
        self._turns.append(TurnRecord(text, reply, kind))
        return reply

    # -- state -----------------------------------------------------------------------------------------------
    @property
    def spec(self) -> EpisodeSpec | None:
        return self._spec

    @property
    def done(self) -> bool:
        """The episode has ended: a final answer, or a bound passed (then `failed`)."""
        return self._done

    @property
    def failed(self) -> bool:
        """The episode ended by passing `max_turns` or `max_tool_calls`."""
        return self._failed

    @property
    def calls(self) -> tuple[CallRecord, ...]:
        return tuple(self._calls)

    @property
    def turns(self) -> tuple[TurnRecord, ...]:
        return tuple(self._turns)

    @property
    def invalid_calls(self) -> int:
        """The model's invalid calls: rejected calls, injected faults left out."""
        return sum(c.mistaken for c in self._calls)

    @property
    def faulted_calls(self) -> int:
        """Calls that met an injected fault."""
        return sum(c.faulted for c in self._calls)

    @property
    def outstanding(self) -> tuple[str, ...]:
        """Held values the user has not given yet (argument names, in spec order)."""
        held = self._spec.held if self._spec is not None else {}
        return tuple(k for k in held if k not in self._given)

    @property
    def final_answer(self) -> str | None:
        """The assistant text that ended the episode, if one did."""
        return self._final
