"""Slots: the argument names tools use, each declared once (`Slot`: how to draw a value, how users name it),
and their values for the generator, drawn from disjoint pools per "environment".

`pool="train"` serves train and test_id; `pool="env"` serves test_env, whose ids, names, cities, dates and
amounts never occur in train (SEED-Bench-R1's cross-environment level). Enums, booleans and small integers
are shared (they are part of the tool, not of the environment).
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CITIES = {
    "train": ["Paris", "Berlin", "Madrid", "Rome", "Lisbon", "Vienna", "Prague", "Dublin", "Oslo", "Warsaw",
              "Boston", "Denver", "Seattle", "Austin", "Chicago", "Toronto", "Sydney", "Tokyo", "Seoul", "Delhi",
              "Cairo", "Nairobi", "Lima", "Quito"],
    "env": ["Porto", "Zurich", "Krakow", "Tallinn", "Halifax", "Memphis", "Osaka", "Perth", "Accra", "Bogota",
            "Hanoi", "Bergen"],
}
FIRST = {"train": ["anna", "ben", "carla", "david", "emma", "felix", "grace", "hugo", "iris", "jonas", "kim",
                   "leo", "maya", "noah", "olga", "paul"],
         "env": ["quinn", "rosa", "sami", "tara", "umar", "vera", "wade", "xena", "yuri", "zoe"]}
LAST = {"train": ["smith", "meyer", "garcia", "rossi", "silva", "novak", "kelly", "berg", "lee", "khan"],
        "env": ["okafor", "lindqvist", "moreau", "tanaka", "quispe", "haddad"]}
EMAIL_DOMAINS = {"train": ["example.com", "mail.test"], "env": ["inbox.test"]}
STREETS = {"train": ["Main St", "Oak Ave", "Pine Rd", "Elm St", "Lake Dr", "Hill Rd", "Park Ln", "Mill St"],
           "env": ["Harbor Way", "Cedar Ct", "Birch Blvd", "Quarry Row"]}
COUNTRIES = {"train": ["France", "Germany", "Spain", "Italy", "USA", "Canada"], "env": ["Portugal", "Japan", "Ghana"]}
TITLES = {"train": ["Team sync", "Budget review", "1:1 with Sam", "Design review", "Dentist", "Sprint planning",
                    "Lunch with Ana", "Quarterly report"],
          "env": ["Board prep", "Yoga class", "Vendor call", "Hiring panel"]}
YEAR = {"train": 2026, "env": 2027}
DIGITS = {"train": (0, 0.55), "env": (0.55, 1.0)}  # share of the numeric id range each pool uses
LETTERS = {"train": "ABCDEFGHJKLM", "env": "NPQRSTUVWXYZ"}


def num_id(rng: random.Random, pool: str, width: int) -> str:
    """A `width`-digit number from the pool's share of the range (DIGITS): train and env ids never meet."""
    lo, hi = DIGITS[pool]
    low, top = 10 ** (width - 1), 10 ** width - 1
    start, stop = low + int((top - low) * lo), low + int((top - low) * hi)
    return str(rng.randint(start, stop))


def _amount(rng: random.Random, pool: str) -> float:
    if pool == "train":
        return rng.randint(10, 799) / 2          # 5.0 .. 399.5, whole or half
    return rng.randint(400, 999) + rng.choice([0.25, 0.75])


def _date(rng: random.Random, pool: str) -> str:
    return f"{YEAR[pool]}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _time(rng: random.Random, pool: str) -> str:
    minutes = ["00", "30"] if pool == "train" else ["15", "45"]
    return f"{rng.randint(7, 20):02d}:{rng.choice(minutes)}"


def _email(rng: random.Random, pool: str) -> str:
    return f"{rng.choice(FIRST[pool])}.{rng.choice(LAST[pool])}@{rng.choice(EMAIL_DOMAINS[pool])}"


@dataclass(frozen=True, kw_only=True)
class Slot:
    """An argument name, with what the generator needs to know about it wherever a tool uses it.

    sample: (rng, pool) -> a value from that pool; None: drawn from the argument's JSON Schema (an enum, an
            integer range, a boolean, an object of slots). Free strings, patterns and numbers need one.
    label:  how a clarifying question and the simulated user name it ("order number"); an anchor (a tool's
            first required argument) needs one.
    """

    name: str
    sample: Callable[[random.Random, str], Any] | None = None
    label: str | None = None


# The shared vocabulary; a domain module may add the slots only its tools use (its SLOTS).
SLOTS: dict[str, Slot] = {s.name: s for s in (
    Slot(name="order_id", label="order number", sample=lambda r, p: "ORD-" + num_id(r, p, 5)),
    Slot(name="customer_id", label="customer ID", sample=lambda r, p: "C" + num_id(r, p, 6)),
    Slot(name="account_id", label="account number", sample=lambda r, p: "AC" + num_id(r, p, 6)),
    Slot(name="from_account", label="account number", sample=lambda r, p: "AC" + num_id(r, p, 6)),
    Slot(name="to_account", sample=lambda r, p: "AC" + num_id(r, p, 6)),
    Slot(name="refund_id", label="refund number", sample=lambda r, p: "RF-" + num_id(r, p, 5)),
    Slot(name="invoice_id", label="invoice number", sample=lambda r, p: "INV-" + num_id(r, p, 6)),
    Slot(name="booking_ref", label="booking reference",
         sample=lambda r, p: r.choice(LETTERS[p]) + r.choice(LETTERS[p]) + num_id(r, p, 4)),
    Slot(name="event_id", label="event ID", sample=lambda r, p: "EV" + num_id(r, p, 5)),
    Slot(name="restaurant_id", label="restaurant ID", sample=lambda r, p: "R" + num_id(r, p, 4)),
    Slot(name="confirmation", label="confirmation code", sample=lambda r, p: "T" + num_id(r, p, 5)),
    Slot(name="policy_id", label="policy number", sample=lambda r, p: "P" + num_id(r, p, 6)),
    Slot(name="claim_id", label="claim number", sample=lambda r, p: "CL" + num_id(r, p, 5)),
    Slot(name="card_last4", sample=lambda r, p: num_id(r, p, 4)),
    Slot(name="city", label="city", sample=lambda r, p: r.choice(CITIES[p])),
    Slot(name="origin", label="departure city", sample=lambda r, p: r.choice(CITIES[p])),
    Slot(name="destination", sample=lambda r, p: r.choice(CITIES[p])),
    Slot(name="email", label="email address", sample=_email),
    Slot(name="title", label="event title", sample=lambda r, p: r.choice(TITLES[p])),
    Slot(name="amount", sample=_amount),
    Slot(name="min_amount", sample=lambda r, p: float(int(_amount(r, p)))),
    Slot(name="date", label="date", sample=_date),
    Slot(name="check_in", sample=_date),
    Slot(name="incident_date", sample=_date),
    Slot(name="start_date", sample=_date),
    Slot(name="end_date", sample=_date),
    Slot(name="start_time", sample=_time),
    Slot(name="time", sample=_time),
    Slot(name="attendees", sample=lambda r, p: sorted({_email(r, p) for _ in range(r.randint(1, 3))})),
    Slot(name="street", sample=lambda r, p: f"{r.randint(1, 299)} {r.choice(STREETS[p])}"),
    Slot(name="postal_code", sample=lambda r, p: num_id(r, p, 5)),
    Slot(name="country", sample=lambda r, p: r.choice(COUNTRIES[p])),
    Slot(name="duration_minutes", sample=lambda r, p: r.choice([15, 30, 45, 60, 90, 120])),
    Slot(name="year", sample=lambda r, p: r.randint(2019, 2026)),
)}

# Labels by slot name (thinkact.world.phrasings.LABELS is this dict); kept in step with SLOTS by add_slots.
LABELS: dict[str, str] = {name: s.label for name, s in SLOTS.items() if s.label is not None}


def add_slots(slots: Any) -> None:
    """Add slots to the vocabulary (thinkact.world.catalog.register calls it); a name already there must come
    with the same sampler and label."""
    for slot in slots:
        old = SLOTS.get(slot.name)
        if old is not None and old != slot:
            raise ValueError(f"slot {slot.name!r} is already declared differently ({old})")
    for slot in slots:
        SLOTS[slot.name] = slot
        if slot.label is not None:
            LABELS[slot.name] = slot.label


def sample_value(name: str, schema: dict[str, Any], rng: random.Random, pool: str) -> Any:
    """One value for slot `name` with JSON Schema `schema`, from the given pool."""
    slot = SLOTS.get(name)
    if slot is not None and slot.sample is not None:
        return slot.sample(rng, pool)
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if kind == "integer":
        return rng.randint(schema.get("minimum", 1), min(schema.get("maximum", 9), 14))
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "object":
        return {k: sample_value(k, s, rng, pool) for k, s in schema["properties"].items()}
    raise KeyError(f"no sampler for slot '{name}' ({schema})")


def can_sample(name: str, schema: dict[str, Any], vocabulary: dict[str, Slot] | None = None) -> bool:
    """Whether `sample_value` can draw slot `name` (with `vocabulary` in place of SLOTS, when given)."""
    slot = (SLOTS if vocabulary is None else vocabulary).get(name)
    if slot is not None and slot.sample is not None:
        return True
    if "enum" in schema or schema.get("type") in ("integer", "boolean"):
        return True
    return schema.get("type") == "object" and all(
        can_sample(k, s, vocabulary) for k, s in schema.get("properties", {}).items())


def json_leaves(value: Any) -> list[Any]:
    """The scalar values of a JSON value, in order (an object's values, an array's items, depth first); a scalar is
    its own one leaf. What an answer may state (`render_value`): the episode importer takes facts from them, the
    gate checks facts against them."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in json_leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in json_leaves(v)]
    return [value]


def render_value(value: Any) -> str:
    """How a slot value reads inside a user message."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " and ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
