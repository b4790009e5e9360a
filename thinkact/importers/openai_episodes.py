"""Logged OpenAI-format conversations as agent episodes (EpisodeSpec, thinkact.env.spec), or why one cannot be.

The shape an episode needs (docs/data.md, "Logged conversations as episodes"): an optional system message, the
opening user message, at most ONE clarifying exchange before any call (an assistant text, then the user's
reply), assistant turns with `tool_calls` each answered by its `tool` results, and a final assistant text.
From it:

    gold_calls  every logged call, in order (arguments parsed)
    facts       the values of the logged results that the final answer states verbatim (whole words, case
                ignored): JSON leaves rendered as the gate renders them (thinkact.world.slots.render_value), or,
                for a plain-text result, its words that carry a digit or a capital letter; less what the user
                said (all of them when the answer only repeats the request)
    held        clarify only: the arguments of the gold calls whose values the user's reply gives and the
                opening message does not (the simulated user gives them when asked)
    kind        clarify (a clarifying exchange), chain (a later call's argument is a value of an earlier result
                the user never said), parallel (two or more calls otherwise, at once or one after the other),
                single (one call), no_tool (no call)
    question, answer, system, user   the logged texts; tools: the line's tools
    id          the line's id, else <file stem>:<line>; split: the caller's; domain: the caller's, else the
                first call's namespace (`ns.tool`), else the file stem (the domain of its turns)

A conversation of another shape is not an episode; `episode_of` returns the reason (a short phrase), e.g. "no
final answer", "a call without a result", "several user turns beyond one clarification", "the result of call 2
(get_weather) is an error". A malformed line, or a call to a tool the line does not declare, raises DataError
(thinkact.importers.openai.read_conversations): the whole import stops.

    from thinkact.importers.openai_episodes import import_openai_episodes
    found = import_openai_episodes("chats.jsonl", split="train")   # .examples, .episodes, .skipped
    thinkact data import chats.jsonl --out data/train.jsonl --episodes data/episodes/train.jsonl
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinkact.contract import Example, loads_strict
from thinkact.env.spec import EpisodeSpec
from thinkact.errors import DataError
from thinkact.importers.openai import Conversation, read_conversations
from thinkact.world.slots import json_leaves, render_value

_WORD = re.compile(r"\S+")
_EDGE = "\"'.,;:!?()[]{}<>"


@dataclass(frozen=True)
class Skipped:
    """A conversation that is not an episode: where it is (`<file>:<line>`), its id, and why."""

    where: str
    id: str
    reason: str

    def line(self) -> str:
        return f"{self.where} ({self.id}): {self.reason}"


@dataclass
class Imported:
    """What one chat file gave: its per-turn examples, its episodes, and the conversations that are not episodes."""

    conversations: int = 0
    examples: list[Example] = field(default_factory=list)
    episodes: list[EpisodeSpec] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass
class _Shape:
    """A conversation cut into the parts of an episode."""

    user: str
    system: str | None = None
    question: str | None = None
    reply: str | None = None
    steps: list[list[tuple[dict[str, Any], str]]] = field(default_factory=list)  # per assistant turn: (call, result)
    answer: str | None = None


class _Not(Exception):
    """The reason a conversation is not an episode."""


# -- the shape ------------------------------------------------------------------------------------------------


def _is_error(text: str) -> bool:
    """A logged result that reports a failure: a JSON object with a true `error` / `is_error`, or text that starts
    with "error"."""
    try:
        value = loads_strict(text)
    except (ValueError, RecursionError):
        value = text
    if isinstance(value, dict):
        return bool(value.get("error")) or value.get("is_error") is True
    return isinstance(value, str) and value.lstrip().lower().startswith("error")


def _results(step: list[dict[str, Any]], tool_msgs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """Each call of one assistant turn with its result: by tool_call_id where the result names one, else in order."""
    pending = list(range(len(step)))
    out: dict[int, str] = {}
    for m in tool_msgs:
        if not pending:
            raise _Not("a tool result answers no call")
        ref = m.get("tool_call_id")
        match = [k for k in pending if ref is not None and step[k].get("id") == ref]
        k = match[0] if match else pending[0]
        pending.remove(k)
        out[k] = m.get("content") or ""
    if pending:
        raise _Not("a call without a result")
    return [(step[k], out[k]) for k in range(len(step))]


def _shape(messages: list[dict[str, Any]]) -> _Shape:
    i, system = 0, None
    if messages[0]["role"] == "system":
        system, i = messages[0]["content"] or "", 1
    if i >= len(messages) or messages[i]["role"] != "user" or not (messages[i]["content"] or "").strip():
        raise _Not("no opening user message")
    shape, i = _Shape(user=messages[i]["content"], system=system), i + 1
    while i < len(messages):
        m = messages[i]
        if m["role"] == "assistant" and m.get("tool_calls"):
            j = i + 1
            while j < len(messages) and messages[j]["role"] == "tool":
                j += 1
            shape.steps.append(_results(m["tool_calls"], messages[i + 1:j]))
            i = j
        elif m["role"] == "assistant":
            if i == len(messages) - 1:
                if not (m["content"] or "").strip():
                    raise _Not("the final answer is empty")
                shape.answer = m["content"]
                break
            if messages[i + 1]["role"] != "user":
                raise _Not("an assistant text that is neither a clarifying question nor the final answer")
            if shape.steps:
                raise _Not("a user turn after a tool call")
            if shape.question is not None:
                raise _Not("several user turns beyond one clarification")
            shape.question, shape.reply, i = m["content"], messages[i + 1]["content"] or "", i + 2
        elif m["role"] == "tool":
            raise _Not("a tool result answers no call")
        elif m["role"] == "user":
            raise _Not("several user turns beyond one clarification")
        else:
            raise _Not("a system message after the opening")
    if shape.answer is None:
        raise _Not("a call without a result" if messages[-1].get("tool_calls") else "no final answer")
    return shape


# -- facts, held values, kind -----------------------------------------------------------------------------------


def _stated(value: str, text: str) -> bool:
    """`value` occurs in `text` as a whole word or number (case ignored; "12" is not in "2012" or "12.5")."""
    if not value.strip():
        return False
    pattern = r"(?<!\w)(?<!\d[.,])" + re.escape(value) + r"(?!\w)(?![.,]\d)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _values(result: str) -> list[str]:
    """The values of one logged result, rendered as an answer states them: JSON leaves (no booleans or nulls), or
    the words of a plain-text result that carry a digit or a capital letter."""
    try:
        value = loads_strict(result)
    except (ValueError, RecursionError):
        value = None
    if isinstance(value, (dict, list)) or (value is not None and not isinstance(value, str)):
        return [render_value(v) for v in json_leaves(value) if v is not None and not isinstance(v, bool)]
    text = value if isinstance(value, str) else result
    words = (w.strip(_EDGE) for w in _WORD.findall(text))
    return [w for w in words if w and any(ch.isdigit() or ch.isupper() for ch in w)]


def _facts(shape: _Shape) -> list[str]:
    stated = [v for step in shape.steps for _, result in step for v in _values(result) if _stated(v, shape.answer)]
    stated = list(dict.fromkeys(stated))
    said = f"{shape.user}\n{shape.reply or ''}"
    new = [v for v in stated if not _stated(v, said)]
    return new or stated


def _held(shape: _Shape) -> dict[str, Any]:
    """Arguments the reply gives (every value of it, as a word) and the opening does not (as the gate reads it)."""
    held: dict[str, Any] = {}
    opening = shape.user.casefold()
    for step in shape.steps:
        for call, _ in step:
            for key, value in call["function"]["arguments"].items():
                leaves = [v for v in json_leaves(value) if v is not None and not isinstance(v, bool)]
                if key in held or not leaves:
                    continue
                given = all(_stated(render_value(v), shape.reply or "") for v in leaves)
                in_opening = any((isinstance(v, str) and v.casefold() in opening) or _stated(render_value(v),
                                                                                           shape.user)
                                 for v in leaves)
                if given and not in_opening:
                    held[key] = value
    return held


def _chained(shape: _Shape) -> bool:
    """A later call's argument is a value of an earlier result that the user never said."""
    said = f"{shape.user}\n{shape.reply or ''}"
    seen: list[str] = []
    for step in shape.steps:
        for call, _ in step:
            for v in json_leaves(call["function"]["arguments"]):
                if v is None or isinstance(v, bool) or _stated(render_value(v), said):
                    continue
                if any(render_value(v).casefold() == s.casefold() for s in seen):
                    return True
        seen += [v for _, result in step for v in _values(result)]
    return False


def _kind(shape: _Shape, calls: int) -> str:
    if shape.question is not None:
        return "clarify"
    if calls == 0:
        return "no_tool"
    if calls == 1:
        return "single"
    return "chain" if _chained(shape) else "parallel"


def _domain(shape: _Shape, default: str) -> str:
    first = shape.steps[0][0][0]["function"]["name"] if shape.steps else ""
    return first.split(".", 1)[0] if "." in first.strip(".") else default


# -- one conversation, one file -----------------------------------------------------------------------------------


def _spec(conv: Conversation, shape: _Shape, split: str, domain: str) -> EpisodeSpec:
    calls = [c for step in shape.steps for c, _ in step]
    for n, (call, result) in enumerate(((c, r) for step in shape.steps for c, r in step), start=1):
        if _is_error(result):
            raise _Not(f"the result of call {n} ({call['function']['name']}) is an error")
    kind = _kind(shape, len(calls))
    if kind == "clarify" and not calls:
        raise _Not("several user turns without a tool call")
    held = _held(shape) if kind == "clarify" else {}
    if kind == "clarify" and not held:
        raise _Not("the user's reply gives no argument of a call")
    try:
        return EpisodeSpec(id=conv.id, user=shape.user, tools=conv.tools,
                           gold_calls=[{"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                                       for c in calls],
                           facts=_facts(shape) if calls else (), held=held, split=split, domain=domain, kind=kind,
                           system=shape.system, question=shape.question, answer=shape.answer)
    except DataError as e:  # a gold call that breaks its tool's schema, a tool schema that is not one
        raise _Not(e.problem.removeprefix(f"episode {conv.id!r}: ").removeprefix("gold ")) from None


def episode_of(conv: Conversation, split: str = "train", domain: str | None = None) -> EpisodeSpec | str:
    """The episode of one parsed conversation, or the reason (a short phrase) it cannot be one."""
    try:
        shape = _shape(conv.messages)
        return _spec(conv, shape, split, domain or _domain(shape, Path(conv.path).stem))
    except _Not as e:
        return str(e)


def import_openai_episodes(path: str | os.PathLike, split: str = "train", domain: str | None = None) -> Imported:
    """The examples and episodes of one OpenAI-style chat JSONL file, read once, in file order, and the
    conversations that are not episodes. A malformed line (or a call to an undeclared tool) raises DataError."""
    out = Imported()
    for conv in read_conversations(path, split, domain):
        out.conversations += 1
        out.examples.extend(conv.examples)
        found = episode_of(conv, split, domain)
        if isinstance(found, str):
            out.skipped.append(Skipped(f"{conv.path}:{conv.line}", conv.id, found))
        else:
            out.episodes.append(found)
    return out


def episode_lines(specs: list[EpisodeSpec]) -> str:
    """The episode JSONL text of `specs` (one `to_json()` per line)."""
    return "".join(s.to_json() + "\n" for s in specs)

