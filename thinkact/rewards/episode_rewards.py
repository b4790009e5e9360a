"""Episode rewards: score a whole played agent episode (thinkact.env.rollout), not one assistant turn.

Same contract as the per-turn rewards (TRL's `fn(completions, **columns) -> list[float | None]`, never raises,
scores in [0, 1] or None, picklable, registered in thinkact.rewards.registry and reported as evaluation metrics
of the same name). They read two columns, through thinkact.env.columns, and ignore the completion text:

- `episode`: the EpisodeSpec as JSON (`spec.to_json()`, or its dict): `gold_calls` and `facts` (`gold_of`);
- `episode_result`: `EpisodeRollout.result()` (a dict or its JSON): `calls` [{name, arguments, error}],
  `final_answer`, `done`, `failed`, `assistant_turns`, `max_turns`, `max_tool_calls` (`played_of`).

Without an `episode_result` column (a per-turn batch), or where a row's spec or result is unreadable, every score
is None (not applicable). Gold calls are matched to the valid calls made (error None) one to one, in any order,
a pair matching when the names are equal and every argument matches under compare.py's rules (`pair_score` 1, 1).
A made call left unmatched is extra; an extra call is state-changing when the catalog marks its tool so
(a `state_changing` attribute of thinkact.world.catalog.ToolDef, if the catalog has one) or, failing that, when
its name's first word is one of `CHANGING_VERBS` (cancel_order, book_hotel, transfer_funds, …). A fact is stated
when its normalised text (compare.normalize_string) is a substring of the normalised final answer.

Injected tool faults (params.yaml `episodes.faults`, thinkact.env.faults) are the world's, not the model's: a
faulted call is not among the calls the rewards count (`Played.calls` leaves it out), so it costs neither precision
nor valid calls, and never matches a gold call (it did not run: the model must send it again). It still counts as
a call attempt where no tool is needed, and its turn counts in `episode_turns` (a retry costs a turn).
"""
from __future__ import annotations

from typing import Any

from thinkact.env.columns import Gold, Played, gold_of, played_of
from thinkact.rewards.compare import max_matching, normalize_string, pair_score
from thinkact.world.catalog import TOOLS_BY_NAME

CHANGING_VERBS = frozenset({
    "add", "apply", "approve", "book", "buy", "cancel", "change", "close", "create", "delete", "edit", "file",
    "make", "modify", "order", "pause", "pay", "place", "post", "purchase", "refund", "register", "remove",
    "request", "reserve", "reset", "resume", "schedule", "send", "set", "submit", "subscribe", "transfer",
    "unsubscribe", "update"})


def state_changing(name: str | None) -> bool:
    """Whether a call to tool `name` changes state (the catalog's marker, else the verb its name starts with)."""
    if not isinstance(name, str) or not name:
        return False
    marker = getattr(TOOLS_BY_NAME.get(name), "state_changing", None)
    if isinstance(marker, bool):
        return marker
    return name.rsplit(".", 1)[-1].split("_", 1)[0].lower() in CHANGING_VERBS


def matched(calls: tuple[tuple[str | None, Any, bool], ...], gold: Gold) -> tuple[int, list[int]]:
    """(gold calls matched, indices of the made calls left unmatched): a maximum one-to-one matching of valid
    made calls to gold calls that fit exactly (Kuhn's augmenting paths; calls are few)."""
    fits = [[valid and name == g[0] and isinstance(args, dict) and pair_score(args, g[1], g[2]) == (1.0, 1.0)
             for g in gold.calls] for name, args, valid in calls]
    owner = max_matching(fits) if fits else [-1] * len(gold.calls)
    used = set(owner) - {-1}
    return len(used), [i for i in range(len(calls)) if i not in used]


def facts_stated(final_answer: str | None, gold: Gold) -> float | None:
    if not gold.facts:
        return None
    said = normalize_string(final_answer or "")
    return sum(normalize_string(f) in said for f in gold.facts) / len(gold.facts) if final_answer else 0.0


def _scores(completions: list[Any], episode: list[Any] | None, episode_result: list[Any] | None, score) -> list:
    if episode_result is None or episode is None:
        return [None] * len(completions)
    out: list[float | None] = []
    for _, spec, result in zip(completions, episode, episode_result):
        gold, played = gold_of(spec), played_of(result)
        try:
            value = None if gold is None or played is None else score(gold, played)
        except Exception:  # noqa: BLE001 - never raises on a row, whatever it holds
            value = None
        out.append(None if value is None else min(1.0, max(0.0, float(value))))
    return out


# -- rewards (listed in thinkact.rewards.registry.BUILTIN) ----------------------------------------------------


def _success(gold: Gold, played: Played) -> float:
    hits, extra = matched(played.calls, gold)
    changed = any(played.calls[i][2] and state_changing(played.calls[i][0]) for i in extra)
    facts = facts_stated(played.final_answer, gold)
    answered = bool(played.final_answer and played.final_answer.strip())
    needless = not gold.calls and bool(played.calls or played.faulted)  # no tool needed: any call attempt fails it
    ok = played.ended and answered and hits == len(gold.calls) and not changed and not needless
    return float(ok and facts in (None, 1.0))


def episode_success(completions: list[Any], episode: list[Any] | None = None,
                    episode_result: list[Any] | None = None, **_: Any) -> list[float | None]:
    """Episodes: 1 when every gold call was made with matching arguments (any order), no extra state-changing call
    was made (no call at all where none is needed), a non-empty final answer (after a closed think block) states
    every fact, and the episode ended without passing a bound; else 0."""
    return _scores(completions, episode, episode_result, _success)


def episode_call_recall(completions: list[Any], episode: list[Any] | None = None,
                        episode_result: list[Any] | None = None, **_: Any) -> list[float | None]:
    """Episodes: share of the gold calls made with matching arguments (None when no call is needed)."""
    return _scores(completions, episode, episode_result,
                   lambda g, p: matched(p.calls, g)[0] / len(g.calls) if g.calls else None)


def episode_call_precision(completions: list[Any], episode: list[Any] | None = None,
                           episode_result: list[Any] | None = None, **_: Any) -> list[float | None]:
    """Episodes: share of the calls made (invalid ones included) that match a gold call (None when no call made)."""
    return _scores(completions, episode, episode_result,
                   lambda g, p: matched(p.calls, g)[0] / len(p.calls) if p.calls else None)


def episode_answer_facts(completions: list[Any], episode: list[Any] | None = None,
                         episode_result: list[Any] | None = None, **_: Any) -> list[float | None]:
    """Episodes: share of the required facts the final answer states (0 without one; None when no facts)."""
    return _scores(completions, episode, episode_result, lambda g, p: facts_stated(p.final_answer, g))


def episode_valid_calls(completions: list[Any], episode: list[Any] | None = None,
                        episode_result: list[Any] | None = None, **_: Any) -> list[float | None]:
    """Episodes: share of the calls made that the environment accepted and ran (None when no call made)."""
    return _scores(completions, episode, episode_result,
                   lambda g, p: sum(v for _, _, v in p.calls) / len(p.calls) if p.calls else None)


def episode_turns(completions: list[Any], episode: list[Any] | None = None,
                  episode_result: list[Any] | None = None, **_: Any) -> list[float | None]:
    """Episodes: assistant messages used / (max_turns + max_tool_calls), capped at 1; lower is better (a cost)."""
    return _scores(completions, episode, episode_result,
                   lambda g, p: p.turns / p.max_messages if p.max_messages > 0 else None)


EPISODE_REWARDS = (episode_success, episode_call_recall, episode_call_precision, episode_answer_facts,
                   episode_valid_calls, episode_turns)
EPISODE_NAMES: tuple[str, ...] = tuple(f.__name__ for f in EPISODE_REWARDS)  # metrics that need an episode
