"""The two data set columns an episode leaves for the episode rewards (thinkact.rewards.episode_rewards), read.

- `episode`: the EpisodeSpec as JSON (`spec.to_json()`, or its dict): its `gold_calls` and `facts` (`gold_of`);
- `episode_result`: `EpisodeRollout.result()` (thinkact.env.rollout; a dict or its JSON): `calls` [{name,
  arguments, error}], `final_answer`, `done`, `failed`, `assistant_turns`, `max_turns`, `max_tool_calls`
  (`played_of`).

`played.calls` are the calls the model answers for: a call that met an injected tool fault (its error one of
thinkact.env.settings.FAULT_KINDS: the tool failed, not the model) is left out of them and counted in
`played.faulted`, so no reward counts a fault as the model's invalid or unmatched call.

Both readers never raise: a value they cannot read (not JSON, the wrong shape, longer than `MAX_COLUMN_CHARS`)
gives None, which the rewards score as not applicable. Specs are cached by their text: every reward of a batch
reads the same ones.

    gold, played = gold_of(row["episode"]), played_of(row["episode_result"])
    gold.calls, gold.facts, played.calls, played.final_answer, played.ended
"""
from __future__ import annotations

import functools
import json
from typing import Any, NamedTuple

from thinkact.env.settings import FAULT_KINDS

MAX_COLUMN_CHARS = 1_000_000  # a spec or result longer than this is unreadable (None)


class Gold(NamedTuple):
    calls: tuple[tuple[str, dict, dict | None], ...]
    facts: tuple[str, ...]


class Played(NamedTuple):
    calls: tuple[tuple[str | None, Any, bool], ...]   # (name, arguments, valid); injected faults left out
    final_answer: str | None
    ended: bool                                         # done and not failed
    turns: int
    max_messages: int
    faulted: int = 0                                    # calls that met an injected tool fault


def _faulted(call: Any) -> bool:
    return isinstance(call, dict) and isinstance(call.get("error"), str) and call["error"] in FAULT_KINDS


def _load(value: Any) -> Any:
    if isinstance(value, (str, bytes)):
        return json.loads(value) if len(value) <= MAX_COLUMN_CHARS else None
    return value


@functools.lru_cache(maxsize=16384)
def _gold_of(text: str | bytes) -> Gold | None:
    d = _load(text)
    calls = tuple((c["name"], c.get("arguments") or {}, c.get("accepted")) for c in d.get("gold_calls") or ())
    if not all(isinstance(n, str) and isinstance(a, dict) for n, a, _ in calls):
        return None
    return Gold(calls, tuple(str(f) for f in d.get("facts") or ()))


def gold_of(spec: Any) -> Gold | None:
    """Gold calls and facts of an `episode` value (JSON or dict); None when unreadable."""
    try:
        return _gold_of(spec if isinstance(spec, (str, bytes)) else json.dumps(spec, sort_keys=True))
    except Exception:  # noqa: BLE001 - a reward never raises: an unreadable spec is "not applicable"
        return None


def played_of(result: Any) -> Played | None:
    """The parts of an `episode_result` value (JSON or dict) the rewards read; None when unreadable."""
    try:
        d = _load(result)
        made = d.get("calls") or ()
        calls = tuple((c.get("name") if isinstance(c.get("name"), str) else None, c.get("arguments"),
                       c.get("error") is None) if isinstance(c, dict) else (None, c, False)
                      for c in made if not _faulted(c))
        final = d.get("final_answer")
        limit = int(d.get("max_turns") or 0) + int(d.get("max_tool_calls") or 0)
        turns = int(d.get("assistant_turns") or 0)
        return Played(calls, final if isinstance(final, str) else None,
                      d.get("done") is True and d.get("failed") is not True, max(turns, 0), limit,
                      sum(map(_faulted, made)))
    except Exception:  # noqa: BLE001 - garbage in a result column is "not applicable", never a crash
        return None
