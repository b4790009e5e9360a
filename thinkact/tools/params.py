"""params.yaml's `episodes.tools`: which tool set the episodes' calls run on, and for how long a call may run.

    episodes:
      tools: {source: builtin}                                             # the simulated world (default)
      tools: {source: python, module: examples/units/tools.py}             # typed, documented Python functions
      tools: {source: python, module: examples/units/tools.py, schemas: examples/units/tools.json}
      tools: {source: mcp, command: "python examples/units/mcp_server.py"}  # an MCP server over stdio
      tools: {source: mcp, url: "http://127.0.0.1:8765/mcp"}                # an MCP server over streamable HTTP

Paths are relative to the project root. GRPO's episode mode, the evaluate stage, the validate gate (gold calls
replayed) and `thinkact chat` all open the same tool set (thinkact.tools.registry.open_tools).
"""
from __future__ import annotations

from dataclasses import dataclass

from thinkact.errors import ConfigError

SOURCES = ("builtin", "python", "mcp")


@dataclass(frozen=True)
class ToolsParams:
    """`episodes.tools`: where tool calls run (docs/your-tools.md)."""

    source: str = "builtin"   # builtin | python | mcp
    module: str = ""          # python: a .py file (relative to the project root) or a dotted module name
    schemas: str = ""         # python, optional: a JSON file of OpenAI tool schemas the module implements by name
    command: str = ""         # mcp over stdio: the command line that starts the server (split as a shell would)
    url: str = ""             # mcp over streamable HTTP: the server's URL
    timeout_s: float = 10.0   # per call; a call still running then gets an error result (kind unavailable)

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ConfigError("episodes.tools.source", f"must be one of {', '.join(SOURCES)}, not {self.source!r}")
        if isinstance(self.timeout_s, bool) or not isinstance(self.timeout_s, (int, float)) or not (
                0 < self.timeout_s <= 3600):
            raise ConfigError("episodes.tools.timeout_s", f"must be a number of seconds in (0, 3600], not "
                                                          f"{self.timeout_s!r}")
        wanted = {"builtin": (), "python": ("module",), "mcp": ()}[self.source]
        for key in wanted:
            if not getattr(self, key):
                raise ConfigError(f"episodes.tools.{key}", f"is needed with source {self.source}")
        if self.source == "mcp" and bool(self.command) == bool(self.url):
            raise ConfigError("episodes.tools", "source mcp needs exactly one of command (stdio) or url "
                                                "(streamable HTTP)")
        allowed = {"builtin": set(), "python": {"module", "schemas"}, "mcp": {"command", "url"}}[self.source]
        for key in ("module", "schemas", "command", "url"):
            if getattr(self, key) and key not in allowed:
                raise ConfigError(f"episodes.tools.{key}", f"does not apply to source {self.source}; remove it")

    def describe(self) -> str:
        """One line naming the tool set, for logs and errors."""
        detail = {"builtin": "the simulated world", "python": self.module + (f" ({self.schemas})" if self.schemas
                                                                               else ""),
                  "mcp": self.command or self.url}[self.source]
        return f"{self.source}: {detail}"
