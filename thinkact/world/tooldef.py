"""What a tool declaration is made of: `ToolDef` (everything about one tool, its simulator included), the JSON
Schema pieces several tools share, and helpers for simulators.

A declaration is checked when it is made: the required arguments are properties, every request names every
required argument, every follow-up every required argument but the anchor (history gives it), and templates
only name properties. What needs the rest of the world (slot samplers, labels, unique names) is checked when
the tool is registered (thinkact.world.catalog.register).
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# (arguments, random stream seeded by the call) -> the tool result, a JSON object
Simulator = Callable[[dict[str, Any], random.Random], dict[str, Any]]

PLACEHOLDER = re.compile(r"\{([a-z_0-9.]+)\}")  # a slot path in a template: {order_id}, {address.city}

S = {"type": "string"}
DATE = {"type": "string", "format": "date"}
ORDER = {"type": "string", "pattern": "^ORD-[0-9]{5}$"}
CUSTOMER = {"type": "string", "pattern": "^C[0-9]{6}$"}
ACCOUNT = {"type": "string", "pattern": "^AC[0-9]{6}$"}
CITY = {"type": "string"}
ADDRESS = {"type": "object", "properties": {"street": S, "city": S, "postal_code": S, "country": S},
           "required": ["street", "city", "postal_code", "country"]}
UNITS = {"type": "string", "enum": ["celsius", "fahrenheit"]}


def random_date(r: random.Random, year: int = 2026) -> str:
    """A date in a simulated result."""
    return f"{year}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"


def random_money(r: random.Random, lo: int, hi: int) -> float:
    """An amount in a simulated result, rounded to the cent."""
    return round(r.uniform(lo, hi), 2)


def template_slots(template: str) -> list[str]:
    """Top-level slot names a template fills (`{address.city}` -> `address`), in order."""
    return list(dict.fromkeys(m.split(".")[0] for m in PLACEHOLDER.findall(template)))


@dataclass(frozen=True, kw_only=True)
class ToolDef:
    """One tool: what the model sees, how users ask for it, and what it returns. Sequences become tuples.

    Templates hold placeholders (`{order_id}`, `{address.city}`); a request fills exactly the arguments it names.
    """

    name: str
    domain: str
    description: str
    properties: dict[str, Any]        # JSON Schema of each argument, in the order the model sees them
    required: tuple[str, ...]         # the first one is the anchor
    requests: tuple[str, ...]         # train / test_id phrasings
    requests_env: tuple[str, ...]     # test_env phrasings (never seen in train)
    followups: tuple[str, ...]        # the anchor comes from an earlier turn
    followups_env: tuple[str, ...]
    vague: str                        # a request missing the anchor (the assistant asks for it)
    vague_env: str
    answer: str                       # filled from the arguments and the tool result
    intent: str                       # "check an order's status", for reasoning strings
    simulate: Simulator = field(repr=False, compare=False)  # deterministic: seeded by the call

    def __post_init__(self):
        for name in ("required", "requests", "requests_env", "followups", "followups_env"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        problem = self._problem()
        if problem:
            raise ValueError(f"tool {self.name!r}: {problem}")

    def _problem(self) -> str | None:
        if not self.required:
            return "needs at least one required argument (the first is the anchor)"
        if missing := [a for a in self.required if a not in self.properties]:
            return f"required {missing} are not properties"
        for kind in ("requests", "requests_env", "followups", "followups_env"):
            templates = getattr(self, kind)
            if not templates:
                return f"needs at least one of {kind}"
            need = set(self.required) - ({self.anchor} if kind.startswith("followups") else set())
            for template in templates:
                slots = set(template_slots(template))
                if unknown := slots - set(self.properties):
                    return f"{kind} {template!r} names {sorted(unknown)}, which are not properties"
                if need - slots:
                    return f"{kind} {template!r} leaves out required {sorted(need - slots)}"
        return None

    @property
    def anchor(self) -> str:
        return self.required[0]

    def schema(self) -> dict[str, Any]:
        """The OpenAI-style function schema offered to the model."""
        params = {"type": "object", "properties": self.properties, "required": list(self.required)}
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": params}}
