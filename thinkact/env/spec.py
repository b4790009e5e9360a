"""The episode spec: everything an agent episode needs, as one frozen, JSON-round-trippable record.

The data generator writes one spec per episode (a JSON object, e.g. the `episode` column of a GRPO data set);
`thinkact.env.tool_env.ToolEnvironment` plays it. A spec is checked when it is made: its shape against
`EPISODE_SCHEMA` (jsonschema), its tools' parameter schemas, and its gold calls against those schemas (with the
checks of `thinkact.tool_schemas`). A bad spec raises `DataError` naming the field. The built-in episodes
(`data/episodes/<split>.jsonl`, thinkact.data.episode_gen) add where an episode comes from (`split`, `domain`),
what it exercises (`kind`, one of `EPISODE_KINDS`), the system prompt, and the gold texts (`question`, `answer`);
these fields are optional, so a hand-made spec needs only the first six.

    from thinkact.env.spec import EpisodeSpec
    from thinkact.contract import ToolCall
    from thinkact.world.catalog import TOOLS_BY_NAME
    spec = EpisodeSpec(id="ep-1", user="Can you check on my order?",
                       tools=(TOOLS_BY_NAME["get_order_status"].schema(),),
                       gold_calls=(ToolCall("get_order_status", {"order_id": "ORD-12345"}),),
                       facts=("ORD-12345",), held={"order_id": "ORD-12345"})
    assert EpisodeSpec.from_json(spec.to_json()) == spec
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from thinkact.contract import EXAMPLE_SCHEMA, ToolCall, iter_json_lines
from thinkact.errors import DataError
from thinkact.tool_schemas import arguments_error, schema_error, tool_infos, unknown_tool_error

# What an episode exercises (docs/data.md): one call then the answer; a call whose result feeds a second call;
# parallel calls; a clarifying question first; no tool at all. data.episode_mix shares them out.
EPISODE_KINDS = ("single", "chain", "parallel", "clarify", "no_tool")

EPISODE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "user", "tools", "gold_calls"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 256},
        "user": {"type": "string", "minLength": 1},
        "tools": EXAMPLE_SCHEMA["properties"]["tools"],
        "gold_calls": {"type": "array",
                       "items": EXAMPLE_SCHEMA["properties"]["target"]["properties"]["tool_calls"]["items"]},
        "facts": {"type": "array", "items": {"type": "string"}},
        "held": {"type": "object"},
        "split": {"type": "string", "minLength": 1},
        "domain": {"type": "string", "minLength": 1},
        "kind": {"enum": list(EPISODE_KINDS)},
        "system": {"type": "string"},
        "question": {"type": "string", "minLength": 1},
        "answer": {"type": "string"},
    },
    "additionalProperties": False,
}
_VALIDATOR = Draft202012Validator(EPISODE_SCHEMA)
EPISODES_DIR = "episodes"  # a data folder's episode files: <data>/episodes/<split>.jsonl
OPTIONAL = ("split", "domain", "kind", "system", "question", "answer")  # written only when set
HINT = "see EpisodeSpec in thinkact/env/spec.py and docs/data.md"


def shape_error(d: Any, path: str = "<episode>", line: int | None = None) -> DataError | None:
    """The DataError (naming the field) of a value that breaks EPISODE_SCHEMA, or None; tools are not run."""
    error = best_match(_VALIDATOR.iter_errors(d))
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path) or None
    return DataError(path, line, where, error.message, HINT)


def opening_key(user: str) -> str:
    """How opening messages are compared across splits: case and runs of whitespace do not count."""
    return " ".join(user.split()).casefold()


def _as_call(call: Any) -> ToolCall:
    if isinstance(call, ToolCall):
        return call
    return ToolCall(call["name"], call["arguments"], call.get("accepted"))


@dataclass(frozen=True)
class EpisodeSpec:
    """One agent episode.

    id:         unique id of the episode (e.g. "train-00042").
    user:       the opening user message.
    tools:      the tools offered, as OpenAI-style function schemas
                `{"type": "function", "function": {"name", "description", "parameters"}}` (the contract's `tools`).
    gold_calls: the calls that solve the episode, in order (contract `ToolCall`s); may be empty (no tool needed).
    facts:      strings the final answer must state (e.g. values from the simulated results).
    held:       values the user left out of the opening message, by argument name (`{"order_id": "ORD-12345"}`);
                the simulated user gives them when the assistant asks (a clarifying question). Empty: nothing held.
    split, domain: where the episode comes from (`train`, `test_id`, ...; the domain of its first gold call).
    kind:       what it exercises: single, chain, parallel, clarify or no_tool (`EPISODE_KINDS`).
    system:     the system prompt the conversation starts with.
    question:   the gold clarifying question (kind clarify); answer: the gold final answer text.
    Lists are stored as tuples; do not mutate `held` or the tool dicts.
    """

    id: str
    user: str
    tools: tuple[dict[str, Any], ...]
    gold_calls: tuple[ToolCall, ...] = ()
    facts: tuple[str, ...] = ()
    held: dict[str, Any] = field(default_factory=dict)
    split: str | None = None
    domain: str | None = None
    kind: str | None = None
    system: str | None = None
    question: str | None = None
    answer: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tools", tuple(self.tools))
        object.__setattr__(self, "gold_calls", tuple(_as_call(c) for c in self.gold_calls))
        object.__setattr__(self, "facts", tuple(self.facts))
        object.__setattr__(self, "held", dict(self.held))
        self._check_tools()

    def _check_tools(self) -> None:
        infos = tool_infos(list(self.tools))
        problem = schema_error(infos)
        if problem:
            raise DataError("<episode>", None, "tools", f"episode {self.id!r}: {problem}")
        target = {"tool_calls": [c.to_dict() for c in self.gold_calls]}
        problem = unknown_tool_error(infos, target) or arguments_error(infos, target)
        if problem:
            raise DataError("<episode>", None, "gold_calls", f"episode {self.id!r}: gold {problem}")

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.tools]

    @property
    def opening_key(self) -> str:
        return opening_key(self.user)

    def to_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "user": self.user, "tools": list(self.tools),
               "gold_calls": [c.to_dict() for c in self.gold_calls], "facts": list(self.facts),
               "held": dict(self.held)}
        out.update({k: getattr(self, k) for k in OPTIONAL if getattr(self, k) is not None})
        return out

    def to_json(self) -> str:
        """Compact JSON, key order fixed, non-ASCII kept (byte-identical across runs)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: Any, path: str = "<episode>", line: int | None = None) -> "EpisodeSpec":
        """A spec from its `to_dict()` form; a malformed one raises DataError naming the file, line and field."""
        error = shape_error(d, path, line)
        if error is not None:
            raise error
        try:
            return cls(id=d["id"], user=d["user"], tools=d["tools"], gold_calls=d["gold_calls"],
                       facts=d.get("facts", ()), held=d.get("held", {}), **{k: d.get(k) for k in OPTIONAL})
        except DataError as e:  # the tool checks of __post_init__: name the file and line
            raise DataError(path, line, e.field, e.problem, HINT) from None

    @classmethod
    def from_json(cls, text: str | bytes, path: str = "<episode>", line: int | None = None) -> "EpisodeSpec":
        try:
            d = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise DataError(path, line, None, f"episode is not valid JSON ({e})") from None
        return cls.from_dict(d, path, line)

    @classmethod
    def coerce(cls, value: Any) -> "EpisodeSpec":
        """A spec from a spec, its dict, or its JSON text (what a data set's `episode` column holds)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, (str, bytes)):
            return cls.from_json(value)
        if value is None:
            raise DataError("<episode>", None, "episode", "no episode given",
                            "reset(episode=...) needs an EpisodeSpec, its dict or its JSON")
        return cls.from_dict(value)


def episode_path(data: str | Path, split: str) -> Path:
    """<data>/episodes/<split>.jsonl: where a data folder keeps the episodes of `split`."""
    return Path(data) / EPISODES_DIR / f"{split}.jsonl"


def read_episodes(path: str | Path, limit: int = 0) -> list[EpisodeSpec]:
    """The episodes of an episode JSONL file, in file order (the first `limit`; 0: all); a bad line raises
    DataError naming the file, line and field."""
    specs = []
    for number, obj in iter_json_lines(path, missing_hint="generate data with `thinkact data generate`"):
        specs.append(EpisodeSpec.from_dict(obj, str(path), number))
        if limit and len(specs) >= limit:
            break
    return specs
