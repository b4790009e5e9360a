"""The simulated user of an agent episode: deterministic replies to the assistant's text messages.

A clarifying question gets the values the user held back, in one fixed sentence per value (slot labels from
`thinkact.world.phrasings.LABELS`, values rendered as in generated user messages); anything else gets the
fixed `NOTHING_TO_ADD`. `thinkact.env.tool_env` decides which reply applies; the data generator can
use the same functions to write gold conversations.

    clarification_reply({"order_id": "ORD-12345"})   # "The order number is ORD-12345."
"""
from __future__ import annotations

from typing import Any

from thinkact.world.phrasings import LABELS
from thinkact.world.slots import render_value

NOTHING_TO_ADD = "I have nothing to add."
LIMIT_REPLY = "Sorry, I have to go now."


def label(slot: str) -> str:
    """How the user names an argument: "order_id" -> "order number"."""
    return LABELS.get(slot, slot.replace("_", " "))


def _render(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(_render(v) for v in value.values())
    return render_value(value)


def clarification_reply(values: dict[str, Any]) -> str:
    """The user's answer to a clarifying question: one sentence per held value, in the given order."""
    if not values:
        return NOTHING_TO_ADD
    return " ".join(f"The {label(slot)} is {_render(value)}." for slot, value in values.items())
