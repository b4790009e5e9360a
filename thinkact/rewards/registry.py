"""The one registry of reward functions (verl-style): an explicit table of the built-ins (BUILTIN), to which
`register` adds one for the rest of the process and `registered` for one `with` block (tests); a name is registered
once, duplicates are refused. The stages run in processes of their own and see BUILTIN: a project's reward goes
there (docs/how-to-add-a-reward.md).

A reward has TRL's signature `fn(completions, **columns) -> list[float | None]` (None = not applicable).
Its registered name is the function's `__name__`, which is what TRL logs (`rewards/<name>/mean`) and what
evaluation reports, so what GRPO optimises and what the report measures cannot drift apart.
Options (keyword-only parameters with defaults) are set from params.yaml through `build`.

    from thinkact.rewards import build, names
    funcs = build(["tool_call", "format"], options={"answer": {"mode": "exact"}})
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from thinkact.errors import ConfigError
from thinkact.rewards.episode_rewards import (EPISODE_NAMES, episode_answer_facts, episode_call_precision,
                                             episode_call_recall, episode_success, episode_turns,
                                             episode_valid_calls)
from thinkact.rewards.functions import answer, format, reasoning_consistency, tool_call, tool_call_exact

RewardFn = Callable[..., list[float | None]]
BUILTIN: tuple[RewardFn, ...] = (
    tool_call, tool_call_exact, answer, format, reasoning_consistency,  # per turn: `target` column
    # per episode (thinkact.rewards.episode_rewards): `episode`, `episode_result` columns; None on a per-turn batch
    episode_success, episode_call_recall, episode_call_precision, episode_answer_facts, episode_valid_calls,
    episode_turns)
_REGISTRY: dict[str, RewardFn] = {fn.__name__: fn for fn in BUILTIN}


def register(fn: RewardFn) -> RewardFn:
    """Decorator: add `fn` to the registry under its own name; a second function of that name is refused."""
    name = fn.__name__
    if name in _REGISTRY:
        raise ValueError(f"reward '{name}' is already registered ({_REGISTRY[name].__module__})")
    _REGISTRY[name] = fn
    return fn


@contextmanager
def registered(*fns: RewardFn) -> Iterator[tuple[RewardFn, ...]]:
    """Register `fns` for one `with` block only (a test, a notebook) and remove them afterwards, even if the block
    fails. A name already registered (or given twice) is refused before any is added. Only this process sees them:
    the stages (their own processes) see the rewards in BUILTIN (docs/how-to-add-a-reward.md)."""
    new = [fn.__name__ for fn in fns]
    taken = [name for i, name in enumerate(new) if name in _REGISTRY or name in new[:i]]
    if taken:
        raise ValueError(f"reward(s) {', '.join(taken)} already registered")
    for fn in fns:
        _REGISTRY[fn.__name__] = fn
    try:
        yield fns
    finally:
        for fn in fns:
            _REGISTRY.pop(fn.__name__, None)


def names() -> list[str]:
    return list(_REGISTRY)


def get(name: str) -> RewardFn:
    if name not in _REGISTRY:
        raise ConfigError("rewards", f"unknown reward '{name}'; registered: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def describe() -> list[tuple[str, str]]:
    """(name, first paragraph of its docstring, on one line) for every reward, for `thinkact rewards list` and the docs."""
    return [(n, " ".join((inspect.getdoc(f) or "").split("\n\n", 1)[0].split())) for n, f in _REGISTRY.items()]


def options_of(name: str) -> dict[str, Any]:
    """The keyword-only options of a reward and their defaults."""
    sig = inspect.signature(get(name))
    return {p.name: p.default for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY}


@dataclass(frozen=True)
class Reward:
    """A registered reward with its options bound; picklable, callable like the function, same `__name__`."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def __name__(self) -> str:  # TRL names the metric after this
        return self.name

    def __call__(self, completions: list[Any], **columns: Any) -> list[float | None]:
        return get(self.name)(completions, **columns, **self.options)


def build(selected: list[str], options: dict[str, dict[str, Any]] | None = None) -> list[Reward]:
    """Resolve reward names and options from params; unknown names or options fail at once, naming the key."""
    options = options or {}
    for name in options:
        if name not in selected:
            get(name)  # an option for an unknown reward is still an error
    out = []
    for name in selected:
        known = options_of(name)
        for key in options.get(name, {}):
            if key not in known:
                raise ConfigError(f"rewards.options.{name}.{key}",
                                  f"unknown option; '{name}' takes: {', '.join(known) or 'none'}")
        out.append(Reward(name, dict(options.get(name, {}))))
    return out


# A completion of each kind and the reward columns of two rows: an option with a bad value (answer: {mode: fuzzy})
# fails when params load, not at GRPO's first step or after evaluation's generation.
_PROBE_COMPLETIONS = ["<think>\nx\n</think>\n\nok", "ok"]
_PROBE_COLUMNS = {"target": ['{"content": "ok"}', '{"tool_calls": [{"name": "f", "arguments": {}}]}'],
                  "turn_type": ["answer", "call"]}


def check_selection(selected: tuple[str, ...], options: dict[str, dict[str, Any]], *, episodes: bool,
                    weights: Any = None, section: str = "grpo") -> None:
    """The rules of params' reward keys (`<section>.rewards`, `.reward_options`, `.trainer.reward_weights`): at
    least one reward, each registered and listed once, episode rewards exactly when `episodes`, one weight per
    reward, every option a real option of its reward with a value the reward accepts. ConfigError names the key."""
    key = f"{section}.rewards"
    if not selected:
        raise ConfigError(key, "list at least one reward (`thinkact rewards list` shows them)")
    for i, name in enumerate(selected):
        if name in selected[:i]:
            raise ConfigError(key, f"{name!r} is listed twice")
        if name not in _REGISTRY:
            raise ConfigError(key, f"unknown reward {name!r}; registered: {', '.join(_REGISTRY)}")
    wrong = [n for n in selected if (n in EPISODE_NAMES) != episodes]
    if wrong and episodes:
        raise ConfigError(key, f"grpo.mode: episodes needs episode rewards ({', '.join(EPISODE_NAMES)}); "
                               f"{', '.join(wrong)} score(s) single turns")
    if wrong:
        raise ConfigError(key, f"{wrong[0]!r} scores whole episodes (grpo.mode: episodes); with grpo.mode: turns it "
                               "would be None on every completion")
    if weights is not None and len(weights) != len(selected):
        raise ConfigError(f"{section}.trainer.reward_weights", f"has {len(weights)} weight(s); needs one per reward "
                                                               f"in {key} ({len(selected)}), in the same order")
    for name, opts in options.items():
        where = f"{section}.reward_options.{name}"
        if name not in _REGISTRY:
            raise ConfigError(where, f"unknown reward; registered: {', '.join(_REGISTRY)}")
        takes = options_of(name)
        for option in opts:
            if option not in takes:
                raise ConfigError(f"{where}.{option}", f"unknown option; '{name}' takes: {', '.join(takes) or 'none'}")
        try:
            Reward(name, dict(opts))(_PROBE_COMPLETIONS, **_PROBE_COLUMNS)
        except (ValueError, TypeError) as e:
            raise ConfigError(where, str(e).splitlines()[0]) from None
