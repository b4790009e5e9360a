"""The built-in rewards. Each is also an evaluation metric of the same name (thinkact.evaluation); the table of
them is thinkact.rewards.registry.BUILTIN (this module imports nothing from the registry).

Columns come from the contract, as the GRPO dataset holds them: `target` (JSON string of the contract's
target) and optionally `turn_type`. Completions are strings or TRL conversational completions
(`[{"role": "assistant", "content": ...}]`). Unknown extra columns are ignored. Never raises on a
completion, whatever it holds; every score is in [0, 1] or None (not applicable).
"""
from __future__ import annotations

import functools
import json
import re
from typing import Any

from thinkact.chat_format.parsing import Parsed, parse
from thinkact.rewards.compare import call_scores, normalize_string

MAX_TARGET_CHARS = 200_000


@functools.lru_cache(maxsize=65536)
def _target(raw: str) -> tuple[list[tuple[str, dict, dict | None]] | None, str | None]:
    """(gold calls, gold content) from a `target` column value (a JSON string or a dict)."""
    t = json.loads(raw) if len(raw) <= MAX_TARGET_CHARS else {}
    if t.get("tool_calls"):
        return [(c["name"], c.get("arguments") or {}, c.get("accepted")) for c in t["tool_calls"]], None
    return None, t.get("content")


def gold(target: Any) -> tuple[list[tuple[str, dict, dict | None]] | None, str | None]:
    return _target(_target_key(target))


def text_of(completion: Any) -> str:
    """The text of a completion: a string, or the content of TRL's conversational message list."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content") or "")
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    return ""


def _parsed(completion: Any) -> Parsed:
    return parse(completion if type(completion) is str else text_of(completion))


@functools.lru_cache(maxsize=65536)
def _call_scores(text: str, target: str) -> tuple[float, float]:
    """(partial credit, exact) of one completion against a call target; shared by the two call rewards."""
    return call_scores(parse(text).calls, _target(target)[0])


def _target_key(target: Any) -> str:
    return target if type(target) is str else json.dumps(target, sort_keys=True)


# -- rewards (listed in thinkact.rewards.registry.BUILTIN) ----------------------------------------------------


def tool_call(completions: list[Any], target: list[Any], **_: Any) -> list[float | None]:
    """Partial credit in [0, 1] for tool-call targets: names, then keys, then values (1.0 only when exact)."""
    out: list[float | None] = []
    for completion, t in zip(completions, target):
        key = t if type(t) is str else _target_key(t)
        out.append(None if _target(key)[0] is None else
                   _call_scores(completion if type(completion) is str else text_of(completion), key)[0])
    return out


def tool_call_exact(completions: list[Any], target: list[Any], **_: Any) -> list[float | None]:
    """1 when the set of calls matches the target exactly (names and every argument), else 0."""
    out: list[float | None] = []
    for completion, t in zip(completions, target):
        key = t if type(t) is str else _target_key(t)
        out.append(None if _target(key)[0] is None else
                   _call_scores(completion if type(completion) is str else text_of(completion), key)[1])
    return out


_WORD = re.compile(r"\w+")


def token_f1(pred: str, gold_text: str) -> float:
    p, g = _WORD.findall(pred.lower()), _WORD.findall(gold_text.lower())
    if not p or not g:
        return float(p == g)
    common = sum(min(p.count(w), g.count(w)) for w in set(p) & set(g))
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def answer(completions: list[Any], target: list[Any], *, mode: str = "f1", **_: Any) -> list[float | None]:
    """Answer and clarification targets: normalized exact match (mode=exact) or token F1 (mode=f1)."""
    if mode not in ("exact", "f1"):
        raise ValueError(f"answer: mode must be 'exact' or 'f1', got {mode!r}")
    out: list[float | None] = []
    for completion, t in zip(completions, target):
        calls, content = gold(t)
        if calls is not None:
            out.append(None)
            continue
        p = _parsed(completion)
        if p.calls or p.answer is None:
            out.append(0.0)
        elif normalize_string(p.answer) == normalize_string(content or ""):
            out.append(1.0)
        else:
            out.append(token_f1(p.answer, content or "") if mode == "f1" else 0.0)
    return out


FORM_THINK, FORM_KIND, FORM_WELL = 0.5, 0.25, 0.25  # format's parts: the think, the right kind, well-formed


def format(completions: list[Any], target: list[Any] | None = None, **_: Any) -> list[float | None]:
    """`<think>…</think>` first (0.5), then the kind of action the target asks for (+0.25), well-formed (+0.25);
    free text on a call turn scores 0.5 like no action at all, so dropping a broken call for text never pays.

    0 without a leading, closed `<think>…</think>` (an empty one counts: the SFT baseline writes it empty). After it,
    the action the target asks for (`<tool_call>` blocks for a call target, text for an answer or clarification
    target) adds 0.25, and 0.25 more when it is well-formed: exactly one kind of action; every `<tool_call>` block
    a JSON object with a non-empty `name` and an `arguments` object; an answer non-empty, without stray
    `<think>`/`<tool_call>` tags. Call target: valid calls 1.0, a broken call (or calls beside text) 0.75, free text
    0.5. Answer target: an answer 1.0, one with stray tags 0.75, a call 0.5. Without a `target` column the kind is
    not judged: 1.0 for a well-formed action, 0.5 otherwise.
    Why text earns no action credit on a call turn: the reward is per completion and GRPO ranks the completions of
    one prompt against each other. The task reward is 0 for a broken call and for text alike, so a form bonus for
    well-formed text pays the policy to stop calling tools: measured with the earlier form-only `format`, GRPO
    raised format 0.59 -> 0.95 in 32 steps by answering call turns in text while tool_call stayed 0. Crediting
    the right kind keeps valid call > broken call > text on call turns; tool_call and answer judge the content.
    """
    out: list[float | None] = []
    targets = target if target is not None else [None] * len(completions)
    for completion, t in zip(completions, targets):
        p = parse(completion if type(completion) is str else text_of(completion))
        if p.think is None:
            out.append(0.0)
            continue
        well = p.well_formed and not p.bare_calls
        if t is None:
            out.append(1.0 if well else FORM_THINK)
        elif p.action != ("answer" if _target(t if type(t) is str else _target_key(t))[0] is None else "call"):
            out.append(FORM_THINK)
        else:
            out.append(FORM_THINK + FORM_KIND + (FORM_WELL if well else 0.0))
    return out


NO_TOOL_CUES = ("no tool", "without a tool", "not a task for a tool", "directly", "ask", "missing", "required",
                "returned", "result", "output", "can't", "cannot", "none of")


def reasoning_consistency(completions: list[Any], target: list[Any] | None = None, **_: Any) -> list[float | None]:
    """The thought names every tool it then calls (share named), or for an answer says no call is needed; 0 when the
    action is not the kind the target asks for, so a thought that argues for text never pays on a call turn.

    Why the kind gate: with it off, text on a call turn whose thought held a no-tool cue ("directly", "required",
    ...) earned 0.3 (at the weight 0.3) while a wrong-name call with an empty thought earned 0.2 from format alone:
    GRPO could learn to stop calling tools, which is what the smollm2 profile's GRPO did with answers (issue #24).
    Without a `target` column the kind is not judged."""
    out: list[float | None] = []
    targets = target if target is not None else [None] * len(completions)
    for completion, t in zip(completions, targets):
        p = _parsed(completion)
        thought = (p.think or "").lower()
        if not thought.strip() or not p.well_formed:
            out.append(0.0)
        elif t is not None and p.action != ("answer" if _target(_target_key(t))[0] is None else "call"):
            out.append(0.0)
        elif p.calls:
            names = {name for name, _ in p.calls}
            out.append(sum(1 for n in names if n.lower() in thought) / len(names))
        else:
            out.append(1.0 if any(cue in thought for cue in NO_TOOL_CUES) else 0.0)
    return out
