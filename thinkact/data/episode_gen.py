"""Seeded, deterministic agent episodes of the built-in data set: data/episodes/<split>.jsonl (issue #13).

    from thinkact.data.episode_gen import generate_episodes, gold_conversation, gold_examples
    for split, specs in generate_episodes(params.data):      # EpisodeSpecs, in contract split order
        ...
    messages = gold_conversation(spec)   # the gold conversation; tool results from ToolEnvironment itself
    examples = gold_examples(spec)       # one contract Example per gold assistant turn

An episode is one opening user message, the tools offered, the gold calls in order, the facts a correct final
answer states (values of the simulated results), and, for `clarify`, the value the simulated user gives when
asked. Kinds (`data.episode_mix`): `single` (one call, then the answer), `chain` (a value of the first result is
the anchor argument of a second call, `CHAINS`), `parallel` (two calls at once), `clarify` (the opening message
leaves out the anchor argument: ask, then call, then answer), `no_tool` (small talk, capabilities, or a request
no offered tool serves).

Episodes reuse the per-turn generator's pieces (`SplitBuilder`: phrasings and slot values per pool, offered
tools and distractors, held-out domains) on their own random stream (`{seed}-episodes-{split}`), so the per-turn
files stay byte-identical. Opening messages are unique across all episode files (case and spacing ignored).
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from thinkact.env.spec import EPISODE_KINDS, EpisodeSpec, opening_key
from thinkact.env.tool_env import ToolEnvironment
from thinkact.tools.base import ToolSet
from thinkact.data.params import DataParams
from thinkact.contract import SPLITS, Example, Target, ToolCall
from thinkact.world import phrasings as P
from thinkact.world.catalog import TOOLS, TOOLS_BY_NAME, ToolDef, domain_tools
from thinkact.data.generator import MAX_TRIES, SplitBuilder, fill, slots_of, turn_counts
from thinkact.world.simulators import simulate
from thinkact.world.slots import render_value, sample_value
from thinkact.errors import ConfigError

# (first tool, second tool): the second tool's anchor (its first required argument) is a value of the first
# tool's result that the user never states, e.g. the city of a booking, then the weather there.
CHAINS: tuple[tuple[str, str], ...] = (
    ("get_booking", "get_current_weather"), ("get_booking", "get_forecast"), ("get_booking", "book_hotel"),
    ("book_hotel", "get_booking"), ("request_refund", "get_refund_status"),
    ("find_restaurants", "make_reservation"), ("file_claim", "get_claim_status"),
)


@dataclass
class _Draft:
    """An episode before its tools and results: what the user says and which calls solve it."""

    user: str
    domain: str
    calls: list[tuple[ToolDef, dict[str, Any]]] = field(default_factory=list)
    given: list[dict[str, Any]] = field(default_factory=list)  # per call: arguments the user states
    report: tuple[int, ...] = ()        # calls whose results the final answer reports
    held: dict[str, Any] = field(default_factory=dict)
    question: str | None = None
    reply: str | None = None            # no_tool: the gold answer
    avoid: set[str] = field(default_factory=set)  # domains never offered (no_tool: the one asked about)


def _facts(tool: ToolDef, given: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Values of `result` the answer template states, less echoes of what the user said (all of them when
    the result only echoes, e.g. a confirmation); rendered as in the answer."""
    keys = [k for k in slots_of(tool.answer) if k in result]
    new = [k for k in keys if not (k in given and given[k] == result[k])]
    return [render_value(result[k]) for k in (new or keys)]


class EpisodeBuilder:
    """Builds the episodes of one split on the per-turn generator's pieces, with its own random stream."""

    def __init__(self, split: str, params: DataParams, seen: set[str]):
        self.split, self.seen = split, seen
        self.turns = SplitBuilder(split, params, set())
        self.rng = self.turns.rng = random.Random(f"{params.seed}-episodes-{split}")

    def _tool(self) -> ToolDef:
        return self.rng.choice([t for t in TOOLS if t.domain in self.turns.target_domains])

    # -- kinds: each returns a _Draft ----------------------------------------------------------------------
    def single(self) -> _Draft:
        (msg,), calls, _ = self.turns.call(self._tool())
        return _Draft(msg["content"], calls[0][0].domain, calls, [calls[0][1]], (0,))

    def parallel(self) -> _Draft:
        (msg,), calls, _ = self.turns.parallel(self._tool())
        return _Draft(msg["content"], calls[0][0].domain, calls, [a for _, a in calls], (0, 1))

    def chain(self) -> _Draft:
        domains = self.turns.target_domains
        pairs = [(TOOLS_BY_NAME[a], TOOLS_BY_NAME[b]) for a, b in CHAINS
                 if TOOLS_BY_NAME[a].domain in domains and TOOLS_BY_NAME[b].domain in domains]
        if not pairs:
            raise ConfigError("data.episode_mix.chain", f"no tool chain (CHAINS in thinkact/data/episode_gen.py) lies "
                              f"within the domains of {self.split} ({', '.join(domains)}); set it to 0 or hold out "
                              "other domains")
        first, second = self.rng.choice(pairs)
        t1, t2 = self.turns._request(first), self.turns._request(second, "followups")
        a1 = self.turns._args(first, t1)
        a2 = self.turns._args(second, t2, {second.anchor: simulate(first.name, a1)[second.anchor]})
        given = {k: v for k, v in a2.items() if k != second.anchor}
        return _Draft(f"{fill(t1, a1)} {fill(t2, a2)}", first.domain, [(first, a1), (second, a2)], [a1, given], (1,))

    def clarify(self) -> _Draft:
        tool = self._tool()
        template, anchor = self.turns._request(tool, "followups"), tool.anchor
        value = sample_value(anchor, tool.properties[anchor], self.rng, self.turns.pool)
        args = self.turns._args(tool, template, {anchor: value})
        question = self.rng.choice(P.CLARIFY[self.turns.pool]).format(intent=tool.intent, label=P.LABELS[anchor])
        return _Draft(fill(template, args), tool.domain, [(tool, args)], [args], (0,), {anchor: value}, question)

    def no_tool(self) -> _Draft:
        tool = self._tool()
        (msg,), reply, _, avoid = self.turns.no_tool(tool)
        return _Draft(msg["content"], tool.domain, reply=reply, avoid=set(avoid))

    # -- assembly ------------------------------------------------------------------------------------------
    def _offer(self, draft: _Draft) -> list[dict[str, Any]]:
        """The draft's domains' tools plus distractors from other domains (`data.distractors`), shuffled."""
        extra = list(dict.fromkeys(t.domain for t, _ in draft.calls if t.domain != draft.domain))
        offered = self.turns._tools(draft.domain, draft.avoid | set(extra))
        offered += [t.schema() for d in extra for t in domain_tools(d)]
        self.rng.shuffle(offered)
        return offered

    def episode(self, index: int, kind: str) -> EpisodeSpec:
        """Episode `index` of the split: a draft of `kind` whose opening message no episode has used yet."""
        for _ in range(MAX_TRIES):
            draft = getattr(self, kind)()
            key = opening_key(draft.user)
            if key not in self.seen and not _mentions(draft.user, draft.held):
                self.seen.add(key)
                return self._spec(f"ep-{self.split}-{index:04d}", kind, draft)
        raise RuntimeError(f"could not make a unique {kind} episode for {self.split} in {MAX_TRIES} tries")

    def _spec(self, episode_id: str, kind: str, draft: _Draft) -> EpisodeSpec:
        """The spec of a draft: offered tools, gold calls, and the answer and facts from the simulated results."""
        reported = [(draft.calls[i][0], draft.calls[i][1], draft.given[i]) for i in draft.report]
        results = [simulate(t.name, a) for t, a, _ in reported]
        answer = draft.reply if draft.reply is not None else \
            " ".join(fill(t.answer, {**a, **r}) for (t, a, _), r in zip(reported, results))
        facts = dict.fromkeys(f for (t, _, given), r in zip(reported, results) for f in _facts(t, given, r))
        return EpisodeSpec(
            id=episode_id, user=draft.user, tools=self._offer(draft),
            gold_calls=[ToolCall(t.name, a) for t, a in draft.calls], facts=list(facts), held=draft.held,
            split=self.split, domain=draft.domain, kind=kind, system=P.SYSTEM, question=draft.question, answer=answer)


def _mentions(text: str, held: dict[str, Any]) -> bool:
    """Whether the text states a held value (a string value, case ignored)."""
    return any(isinstance(v, str) and v.casefold() in text.casefold() for v in held.values())


def generate_episodes(params: DataParams) -> Iterator[tuple[str, list[EpisodeSpec]]]:
    """Yield (split, episodes) for every split in params.episode_sizes, in contract split order."""
    seen: set[str] = set()
    for split in SPLITS:
        n = params.episode_sizes.get(split, 0)
        if not n:
            continue
        builder = EpisodeBuilder(split, params, seen)
        counts = turn_counts(n, params.episode_mix, EPISODE_KINDS)
        order = [k for k, c in counts.items() for _ in range(c)]
        builder.rng.shuffle(order)
        yield split, [builder.episode(i, k) for i, k in enumerate(order)]


# -- the gold conversation ----------------------------------------------------------------------------------
def gold_steps(spec: EpisodeSpec) -> list[tuple[ToolCall, ...]]:
    """The gold calls grouped by assistant turn: a chain makes one call per turn, the others all at once."""
    if not spec.gold_calls:
        return []
    return [(c,) for c in spec.gold_calls] if spec.kind == "chain" else [spec.gold_calls]


def gold_conversation(spec: EpisodeSpec, env: ToolEnvironment | None = None) -> list[dict[str, Any]]:
    """The gold conversation of an episode: system, user, [question, the simulated user's reply], the gold calls
    with their results, the gold answer. It is played on `env` (a fresh ToolEnvironment when None), so the
    tool results are exactly what the environment returns; inspect `env.calls` / `env.turns` afterwards."""
    steps = gold_steps(spec)
    env = env or ToolEnvironment(max_turns=2, max_tool_calls=max(1, len(spec.gold_calls)))
    env.reset(episode=spec)
    messages = ([{"role": "system", "content": spec.system}] if spec.system else []) + \
        [{"role": "user", "content": spec.user}]
    if spec.question is not None:
        messages += [{"role": "assistant", "content": spec.question},
                     {"role": "user", "content": env.respond(spec.question)}]
    for step in steps:
        messages.append({"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in step]})
        messages += [{"role": "tool", "name": c.name, "content": env.call(c.name, c.arguments)} for c in step]
    if spec.answer is not None:
        messages.append({"role": "assistant", "content": spec.answer})
        env.respond(spec.answer)
    return messages


def _turn_type(spec: EpisodeSpec, message: dict[str, Any], calls_before: int, asked: bool) -> str:
    if message.get("tool_calls"):
        if len(message["tool_calls"]) > 1:
            return "parallel"
        return "call" if calls_before == 0 and not asked else "call_from_history"
    if spec.question is not None and not asked:
        return "clarify"
    return "answer" if spec.gold_calls else "no_tool"


def gold_examples(spec: EpisodeSpec, tools: ToolSet | None = None) -> list[Example]:
    """The gold conversation cut at each assistant turn: one contract Example per turn (`<id>.t<n>`); the gold calls
    run on `tools` (None: the built-in world), so imported episodes get their own tools' results."""
    env = ToolEnvironment(max_turns=2, max_tool_calls=max(1, len(spec.gold_calls)), tools=tools)
    messages, out, calls, asked = gold_conversation(spec, env), [], 0, False
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        turn = _turn_type(spec, m, calls, asked)
        calls_made = m.get("tool_calls") or []
        target = Target(tool_calls=tuple(ToolCall(c["function"]["name"], c["function"]["arguments"])
                                         for c in calls_made)) if calls_made else Target(content=m["content"])
        out.append(Example(id=f"{spec.id}.t{len(out)}", domain=spec.domain or "unknown", split=spec.split or "train",
                           tools=list(spec.tools), messages=messages[:i], target=target, turn_type=turn))
        calls += len(calls_made)
        asked = asked or turn == "clarify"
    return out
