"""Deterministic simulated tools: `simulate(name, arguments)` returns the tool result as a dict.

Each tool's simulator is declared with the tool (`ToolDef.simulate`, thinkact/world/tools/); `SIMULATORS` maps
the registered tools' names to them (thinkact.world.catalog). The same call always gives the same result (the
random stream is seeded by a hash of the call), so answers written from a result are grounded in it and
reproducible byte for byte.
"""
from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from thinkact.world.catalog import SIMULATORS

__all__ = ["SIMULATORS", "simulate"]


def _rng(name: str, args: dict[str, Any]) -> random.Random:
    digest = hashlib.sha256(f"{name}:{json.dumps(args, sort_keys=True)}".encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def simulate(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The result of calling tool `name` with `arguments` (deterministic)."""
    return SIMULATORS[name](arguments, _rng(name, arguments))
