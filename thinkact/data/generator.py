"""Seeded, deterministic generator of the built-in conversational tool-use data set.

    thinkact data generate            # writes data/<split>.jsonl and data/manifest.json from params.yaml

Splits follow SEED-Bench-R1's three levels: `test_id` (in-distribution), `test_env` (phrasings and slot
values never seen in train), `test_task` (domains and tools never seen in train). Every prompt is unique
across all splits. Same params -> byte-identical files.
"""
from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from typing import Any

from thinkact.data.params import DataParams
from thinkact.contract import SPLITS, TURN_TYPES, Example, Target, ToolCall
from thinkact.tools.base import RESULT_SEPARATORS
from thinkact.world import phrasings as P
from thinkact.world.catalog import DOMAINS, TOOLS, ToolDef, domain_tools
from thinkact.world.simulators import simulate
from thinkact.world.slots import render_value, sample_value

_SLOT = re.compile(r"\{([a-z_0-9.]+)\}")
MAX_TRIES = 200


def slots_of(template: str) -> list[str]:
    """Top-level slot names a template fills (`{address.city}` -> `address`), in order."""
    return list(dict.fromkeys(m.split(".")[0] for m in _SLOT.findall(template)))


def fill(template: str, values: dict[str, Any]) -> str:
    def one(m: re.Match) -> str:
        value: Any = values
        for part in m.group(1).split("."):
            value = value[part]
        return render_value(value)
    return _SLOT.sub(one, template)


class SplitBuilder:
    """Builds the examples of one split; `pool` picks slot values and phrasings ("train" or "env")."""

    def __init__(self, split: str, params: DataParams, seen: set[str]):
        self.split, self.params, self.seen = split, params, seen
        self.rng = random.Random(f"{params.seed}:{split}")
        self.pool = "env" if split == "test_env" else "train"
        held_out = set(params.held_out_domains)
        train_domains = [d for d in DOMAINS if d not in held_out]
        self.target_domains = sorted(held_out) if split == "test_task" else train_domains
        self.distractor_domains = train_domains  # tools of held-out domains never reach train prompts

    # -- pieces -------------------------------------------------------------------------------------------
    def _args(self, tool: ToolDef, template: str, fixed: dict[str, Any] | None = None) -> dict[str, Any]:
        props = tool.properties
        args = {s: sample_value(s, props[s], self.rng, self.pool) for s in slots_of(template) if s not in (fixed or {})}
        args.update(fixed or {})
        if "start_date" in args and "end_date" in args and args["start_date"] > args["end_date"]:
            args["start_date"], args["end_date"] = args["end_date"], args["start_date"]
        for a, b in (("origin", "destination"), ("from_account", "to_account")):
            while a in args and args.get(a) == args.get(b):
                args[b] = sample_value(b, props[b], self.rng, self.pool)
        return {k: args[k] for k in props if k in args}  # schema order

    def _tools(self, domain: str, avoid: set[str] = frozenset()) -> list[dict[str, Any]]:
        others = [t for t in TOOLS if t.domain in self.distractor_domains and t.domain != domain
                  and t.domain not in avoid]
        k = self.rng.randint(self.params.distractors.min, self.params.distractors.max)
        offered = domain_tools(domain) + self.rng.sample(others, k)
        self.rng.shuffle(offered)
        return [t.schema() for t in offered]

    def _request(self, tool: ToolDef, kind: str = "requests") -> str:
        return self.rng.choice(getattr(tool, kind + ("_env" if self.pool == "env" else "")))

    def _reason(self, key: str, **kw: Any) -> str:
        return self.rng.choice(P.REASONING[key]).format(**kw)

    @staticmethod
    def _call_msg(calls: list[tuple[ToolDef, dict]]) -> dict[str, Any]:
        return {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": t.name, "arguments": a}} for t, a in calls]}

    @staticmethod
    def _tool_msg(tool: ToolDef, result: dict[str, Any]) -> dict[str, Any]:
        return {"role": "tool", "name": tool.name, "content": json.dumps(result, separators=RESULT_SEPARATORS)}

    # -- turn types: each returns (domain, messages, target, reasoning) ----------------------------------
    def call(self, tool: ToolDef):
        template = self._request(tool)
        args = self._args(tool, template)
        slots = ", ".join(args)
        return [{"role": "user", "content": fill(template, args)}], [(tool, args)], \
            self._reason("call", intent=tool.intent, tool=tool.name, slots=slots)

    def call_from_history(self, tool: ToolDef):
        template = self._request(tool, "followups")
        anchor = tool.anchor
        value = sample_value(anchor, tool.properties[anchor], self.rng, self.pool)
        args = self._args(tool, template, {anchor: value})
        peers = [t for t in domain_tools(tool.domain) if t is not tool and t.anchor == anchor]
        if peers:  # a whole earlier exchange with another tool on the same anchor value
            peer = self.rng.choice(peers)
            peer_template = self.rng.choice([r for r in self._peer_requests(peer)])
            peer_args = self._args(peer, peer_template, {anchor: value})
            result = simulate(peer.name, peer_args)
            history = [{"role": "user", "content": fill(peer_template, peer_args)}, self._call_msg([(peer, peer_args)]),
                       self._tool_msg(peer, result), {"role": "assistant", "content": fill(peer.answer, {**peer_args, **result})}]
        else:
            user, reply = self.rng.choice(P.INTRO[self.pool])
            kw = {"label": P.LABELS[anchor], "value": render_value(value)}
            history = [{"role": "user", "content": user.format(**kw)}, {"role": "assistant", "content": reply.format(**kw)}]
        messages = history + [{"role": "user", "content": fill(template, args)}]
        return messages, [(tool, args)], self._reason(
            "call_from_history", intent=tool.intent, tool=tool.name, slots=", ".join(args), anchor=P.LABELS[anchor])

    def _peer_requests(self, tool: ToolDef) -> tuple[str, ...]:
        return tool.requests_env if self.pool == "env" else tool.requests

    def parallel(self, tool: ToolDef):
        second = self.rng.choice(domain_tools(tool.domain))
        t1, t2 = self._request(tool), self._request(second)
        a1, a2 = self._args(tool, t1), self._args(second, t2)
        while second is tool and a1 == a2:
            a2 = self._args(second, t2)
        text2 = fill(t2, a2)
        text = f"{fill(t1, a1)} {self.rng.choice(P.CONNECTORS[self.pool])} {text2[0].lower()}{text2[1:]}"
        names = f"{tool.name} and {second.name}" if second is not tool else f"{tool.name} twice"
        intents = f"{tool.intent} and {second.intent}" if second is not tool else f"{tool.intent}, twice"
        return [{"role": "user", "content": text}], [(tool, a1), (second, a2)], \
            self._reason("parallel", intents=intents, tools=names)

    def answer(self, tool: ToolDef):
        template = self._request(tool)
        args = self._args(tool, template)
        result = simulate(tool.name, args)
        messages = [{"role": "user", "content": fill(template, args)}, self._call_msg([(tool, args)]),
                    self._tool_msg(tool, result)]
        return messages, fill(tool.answer, result), self._reason("answer", tool=tool.name)

    def clarify(self, tool: ToolDef):
        label = P.LABELS[tool.anchor]
        user = tool.vague_env if self.pool == "env" else tool.vague
        question = self.rng.choice(P.CLARIFY[self.pool]).format(intent=tool.intent, label=label)
        return [{"role": "user", "content": user}], question, \
            self._reason("clarify", intent=tool.intent, tool=tool.name, label=label)

    def no_tool(self, tool: ToolDef):
        kind = self.rng.choice(["small_talk", "capabilities", "out_of_scope"])
        if kind == "small_talk":
            user, reply = self.rng.choice(P.SMALL_TALK[self.pool])
            return [{"role": "user", "content": user}], reply, self._reason("no_tool"), set()
        if kind == "capabilities":
            intents = [t.intent for t in domain_tools(tool.domain)]
            reply = P.CAPABILITY_ANSWER.format(intents=", ".join(intents[:-1]) + " or " + intents[-1])
            return [{"role": "user", "content": self.rng.choice(P.CAPABILITIES[self.pool])}], reply, \
                self._reason("no_tool"), set()
        foreign = self.rng.choice([t for t in TOOLS if t.domain in self.target_domains and t.domain != tool.domain])
        template = self._request(foreign)
        text = fill(template, self._args(foreign, template))
        return [{"role": "user", "content": text}], P.OUT_OF_SCOPE.format(intent=foreign.intent), \
            self._reason("out_of_scope", intent=foreign.intent), {foreign.domain}

    # -- assembly ------------------------------------------------------------------------------------------
    def example(self, index: int, turn_type: str) -> Example:
        for _ in range(MAX_TRIES):
            tool = self.rng.choice([t for t in TOOLS if t.domain in self.target_domains])
            avoid: set[str] = set()
            if turn_type in ("call", "call_from_history", "parallel"):
                messages, calls, reasoning = getattr(self, turn_type)(tool)
                target = Target(tool_calls=tuple(ToolCall(t.name, a) for t, a in calls))
            elif turn_type == "no_tool":
                messages, content, reasoning, avoid = self.no_tool(tool)
                target = Target(content=content)
            else:
                messages, content, reasoning = getattr(self, turn_type)(tool)
                target = Target(content=content)
            messages = [{"role": "system", "content": P.SYSTEM}, *messages]
            tools = self._tools(tool.domain, avoid)
            key = json.dumps([messages, sorted(t["function"]["name"] for t in tools)], sort_keys=True)
            if key not in self.seen:
                self.seen.add(key)
                return Example(id=f"{self.split}-{index:05d}", domain=tool.domain, split=self.split, tools=tools,
                               messages=messages, target=target, reasoning=reasoning, turn_type=turn_type)
        raise RuntimeError(f"could not make a unique {turn_type} example for {self.split} in {MAX_TRIES} tries")


def turn_counts(n: int, mix: dict[str, float], types: tuple[str, ...] = TURN_TYPES) -> dict[str, int]:
    """Split n examples among `types` (turn types, or episode kinds) by the shares in `mix` (largest remainder;
    every type with share>0 gets >=1)."""
    total = sum(mix.values()) or 1.0
    raw = {t: n * mix.get(t, 0.0) / total for t in types}
    counts = {t: int(v) for t, v in raw.items()}
    for t in sorted(raw, key=lambda t: raw[t] - counts[t], reverse=True)[: n - sum(counts.values())]:
        counts[t] += 1
    for t in types:
        if mix.get(t, 0) > 0 and counts[t] == 0 and n >= len(types):
            donor = max(counts, key=counts.get)
            counts[donor] -= 1
            counts[t] += 1
    return counts


def generate(params: DataParams) -> Iterator[tuple[str, list[Example]]]:
    """Yield (split, examples) for every split in params.sizes, in contract split order."""
    seen: set[str] = set()
    for split in SPLITS:
        n = params.sizes.get(split, 0)
        if not n:
            continue
        builder = SplitBuilder(split, params, seen)
        order = [t for t, c in turn_counts(n, params.turn_mix).items() for _ in range(c)]
        builder.rng.shuffle(order)
        yield split, [builder.example(i, t) for i, t in enumerate(order)]
