"""A world with faults: the simulated tools fail the way real ones do, at the rates of `episodes.faults`.

A tool call that would succeed (offered tool, arguments valid under its JSON Schema, the simulator ran) meets a
fault instead with the configured probabilities (thinkact.env.settings.FaultParams): `transient` ("temporarily
unavailable (503)"), `rate_limit` ("rate limited (429)") or `validation` ("validation failed (422)", naming one of
the call's arguments and what was wrong with it). The model sees an error result of the usual shape,
`{"error": "...", "kind": K}` with K one of `FAULT_KINDS`, and the call is recorded with that error.

Deterministic: the draw is a hash of (faults.seed, episode id, tool name, arguments), so the same call in the same
episode meets the same fault in GRPO's rollouts and in evaluation, whatever the batch, the sample or the calls made
before it; another seed draws other faults. Not sticky: the environment faults a distinct call (tool + arguments) at
most once per episode, so sending the same call again runs it — a retry after any fault succeeds. With every rate
0 nothing is drawn and nothing changes. A call without arguments has no field to name: it meets no validation fault.

    fault = draw_fault(params.episodes.faults, spec.id, "get_order_status", {"order_id": "ORD-12345"})
    fault   # None, or ("transient", "get_order_status is temporarily unavailable (503) ...")
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from thinkact.env.settings import FAULT_KINDS, FaultParams

_SCALE = float(1 << 64)


def call_key(name: str, arguments: dict[str, Any]) -> str:
    """A call's identity within an episode: the tool and its arguments, key order and spacing aside."""
    return json.dumps([name, arguments], sort_keys=True, separators=(",", ":"))


def _draws(faults: FaultParams, episode_id: str, key: str) -> tuple[float, int]:
    """(a uniform draw in [0, 1) that picks the fault, an integer that picks the field) of one call."""
    digest = hashlib.sha256(json.dumps([faults.seed, episode_id, key]).encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE, int.from_bytes(digest[8:16], "big")


def _shown(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason(value: Any) -> str:
    """What the service says was wrong with a value, by its type."""
    if isinstance(value, bool):
        return "is not allowed for this request"
    if isinstance(value, (int, float)):
        return "is outside the range the service accepts right now"
    if isinstance(value, str):
        return "could not be verified against the service's records"
    return "holds an entry the service could not verify"


def fault_message(kind: str, name: str, arguments: dict[str, Any], pick: int) -> str | None:
    """The error text of fault `kind` for a call; None for a validation fault of a call without arguments."""
    if kind == "transient":
        return f"{name} is temporarily unavailable (503); the call did not run: retry it"
    if kind == "rate_limit":
        return f"rate limited (429): too many requests to {name}; the call did not run: retry it"
    if not arguments:
        return None
    fields = sorted(arguments)
    field = fields[pick % len(fields)]
    value = arguments[field]
    return (f"validation failed (422): field {field!r}: the value {_shown(value)} {_reason(value)}; check {field!r} "
            "and send the call again")


def draw_fault(faults: FaultParams, episode_id: str, name: str, arguments: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, message) of the fault this call meets, or None (always None when every rate is 0). The kinds share
    [0, 1) in `FAULT_KINDS` order: transient first, then rate_limit, then validation, the rest runs."""
    if not faults.on:
        return None
    u, pick = _draws(faults, episode_id, call_key(name, arguments))
    edge = 0.0
    for kind in FAULT_KINDS:
        edge += getattr(faults, kind)
        if u < edge:
            message = fault_message(kind, name, arguments, pick)
            return None if message is None else (kind, message)
    return None
