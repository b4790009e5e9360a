"""Slot values for the generator, drawn from disjoint pools per "environment".

`pool="train"` serves train and test_id; `pool="env"` serves test_env, whose ids, names, cities, dates and
amounts never occur in train (SEED-Bench-R1's cross-environment level). Enums, booleans and small integers
are shared (they are part of the tool, not of the environment).
"""
from __future__ import annotations

import random
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
DOMAINS = {"train": ["example.com", "mail.test"], "env": ["inbox.test"]}
STREETS = {"train": ["Main St", "Oak Ave", "Pine Rd", "Elm St", "Lake Dr", "Hill Rd", "Park Ln", "Mill St"],
           "env": ["Harbor Way", "Cedar Ct", "Birch Blvd", "Quarry Row"]}
COUNTRIES = {"train": ["France", "Germany", "Spain", "Italy", "USA", "Canada"], "env": ["Portugal", "Japan", "Ghana"]}
TITLES = {"train": ["Team sync", "Budget review", "1:1 with Sam", "Design review", "Dentist", "Sprint planning",
                    "Lunch with Ana", "Quarterly report"],
          "env": ["Board prep", "Yoga class", "Vendor call", "Hiring panel"]}
YEAR = {"train": 2026, "env": 2027}
DIGITS = {"train": (0, 0.55), "env": (0.55, 1.0)}  # share of the numeric id range each pool uses
LETTERS = {"train": "ABCDEFGHJKLM", "env": "NPQRSTUVWXYZ"}


def _num_id(rng: random.Random, pool: str, width: int) -> str:
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
    return f"{rng.choice(FIRST[pool])}.{rng.choice(LAST[pool])}@{rng.choice(DOMAINS[pool])}"


# Slots with a special sampler; anything else falls back to its JSON Schema (enum, integer range, boolean).
SAMPLERS: dict[str, Any] = {
    "order_id": lambda r, p: "ORD-" + _num_id(r, p, 5),
    "customer_id": lambda r, p: "C" + _num_id(r, p, 6),
    "account_id": lambda r, p: "AC" + _num_id(r, p, 6),
    "from_account": lambda r, p: "AC" + _num_id(r, p, 6),
    "to_account": lambda r, p: "AC" + _num_id(r, p, 6),
    "refund_id": lambda r, p: "RF-" + _num_id(r, p, 5),
    "invoice_id": lambda r, p: "INV-" + _num_id(r, p, 6),
    "booking_ref": lambda r, p: r.choice(LETTERS[p]) + r.choice(LETTERS[p]) + _num_id(r, p, 4),
    "event_id": lambda r, p: "EV" + _num_id(r, p, 5),
    "restaurant_id": lambda r, p: "R" + _num_id(r, p, 4),
    "confirmation": lambda r, p: "T" + _num_id(r, p, 5),
    "policy_id": lambda r, p: "P" + _num_id(r, p, 6),
    "claim_id": lambda r, p: "CL" + _num_id(r, p, 5),
    "card_last4": lambda r, p: _num_id(r, p, 4),
    "city": lambda r, p: r.choice(CITIES[p]),
    "origin": lambda r, p: r.choice(CITIES[p]),
    "destination": lambda r, p: r.choice(CITIES[p]),
    "email": _email,
    "title": lambda r, p: r.choice(TITLES[p]),
    "amount": _amount,
    "min_amount": lambda r, p: float(int(_amount(r, p))),
    "date": _date, "check_in": _date, "incident_date": _date, "start_date": _date, "end_date": _date,
    "start_time": _time, "time": _time,
    "attendees": lambda r, p: sorted({_email(r, p) for _ in range(r.randint(1, 3))}),
    "street": lambda r, p: f"{r.randint(1, 299)} {r.choice(STREETS[p])}",
    "postal_code": lambda r, p: _num_id(r, p, 5),
    "country": lambda r, p: r.choice(COUNTRIES[p]),
    "duration_minutes": lambda r, p: r.choice([15, 30, 45, 60, 90, 120]),
    "year": lambda r, p: r.randint(2019, 2026),
}


def sample_value(name: str, schema: dict[str, Any], rng: random.Random, pool: str) -> Any:
    """One value for slot `name` with JSON Schema `schema`, from the given pool."""
    if name in SAMPLERS:
        return SAMPLERS[name](rng, pool)
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


def render_value(value: Any) -> str:
    """How a slot value reads inside a user message."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " and ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
