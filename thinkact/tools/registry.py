"""The tool set of a ToolsParams, opened once per process and closed when the process exits.

A stage opens its tool set the first time an episode needs it (a Python module is imported, an MCP server
started) and every later episode of the process reuses it, so a server is not started per episode.

    from thinkact.tools.registry import open_tools
    tools = open_tools(params.episodes.tools)          # the same object on every call with equal params
"""
from __future__ import annotations

import atexit
import threading

from thinkact.tools.base import ToolSet
from thinkact.tools.builtin import BuiltinTools
from thinkact.tools.params import ToolsParams

_OPEN: dict[ToolsParams, ToolSet] = {}
_LOCK = threading.Lock()


def _make(params: ToolsParams) -> ToolSet:
    if params.source == "builtin":
        return BuiltinTools()
    if params.source == "python":
        from thinkact.tools.python_tools import PythonTools
        return PythonTools.from_params(params)
    from thinkact.tools.mcp_tools import McpTools
    return McpTools.from_params(params)


def open_tools(params: ToolsParams | None = None) -> ToolSet:
    """The (shared, open) tool set of `params` (None: the built-in one). Opening failures raise a ThinkactError
    naming `episodes.tools` and what to do."""
    params = params or ToolsParams()
    with _LOCK:
        if params not in _OPEN:
            _OPEN[params] = _make(params)
        return _OPEN[params]


def close_all() -> None:
    """Close every opened tool set (at exit, and in tests)."""
    with _LOCK:
        opened = list(_OPEN.values())
        _OPEN.clear()
    for tools in opened:
        tools.close()


atexit.register(close_all)
