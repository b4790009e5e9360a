"""The built-in tool set: the simulated world's tools (thinkact.world), deterministic, the default.

    from thinkact.tools.builtin import BuiltinTools
    BuiltinTools().run("get_weather", {"city": "Oslo"})   # '{"city": "Oslo", "temperature": ...}'
"""
from __future__ import annotations

from typing import Any

from thinkact.tools.base import ToolFailure, ToolSet, result_text
from thinkact.world.catalog import TOOLS
from thinkact.world.simulators import SIMULATORS, simulate


class BuiltinTools(ToolSet):
    """Every registered tool of the simulated world; a call runs its simulator."""

    kind = "builtin"

    def schemas(self) -> list[dict[str, Any]]:
        return [t.schema() for t in TOOLS]

    def names(self) -> list[str]:
        return list(SIMULATORS)

    def run(self, name: str, arguments: dict[str, Any]) -> str:
        if name not in SIMULATORS:
            raise ToolFailure("tool_error", f"tool {name!r} is not available right now")
        try:
            value = simulate(name, arguments)
        except Exception as e:  # noqa: BLE001 - a simulator failure is a tool result, not a crash
            raise ToolFailure("tool_error", f"tool {name!r} failed: {type(e).__name__}: {e}") from None
        return result_text(value, name)
