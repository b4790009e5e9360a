"""The worked example's tools (examples/units/tools.py) as an MCP server, with the official SDK (`mcp`).

The functions are declared once, in tools.py; this file only hands them to MCPServer (the SDK's FastMCP), which
derives each tool's input schema from the same signature and docstring. Over stdio by default (a client starts it
as a subprocess), or over streamable HTTP on 127.0.0.1 with --http PORT (path /mcp):

    python examples/units/mcp_server.py                 # episodes.tools: {source: mcp, command: "python examples/units/mcp_server.py"}
    python examples/units/mcp_server.py --http 8765     # episodes.tools: {source: mcp, url: "http://127.0.0.1:8765/mcp"}

Each tool's input schema is the one thinkact derives from the docstring for `source: python` (descriptions and
unit choices included), so the model sees the same tools either way. A tool that raises ValueError answers with an
MCP error result (isError) carrying its message.
"""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any, Callable

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from transformers.utils import get_json_schema

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tools import TOOLS  # noqa: E402 - the one declaration of the tools, beside this file


def _reporting(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with its ValueError raised as the SDK's ToolError: the client gets the message (any other exception
    reaches it as a generic "Error executing tool")."""
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValueError as e:
            raise ToolError(str(e)) from None
    return call


def mcp_tool(fn: Callable[..., Any]) -> Tool:
    """The SDK's tool for one function of tools.py, with the schema get_json_schema reads from its docstring."""
    function = get_json_schema(fn)["function"]
    return Tool.from_function(_reporting(fn), structured_output=True).model_copy(
        update={"description": function["description"], "parameters": function["parameters"]})


def server() -> MCPServer:
    """The MCP server offering every function of tools.TOOLS, in order."""
    return MCPServer("units", instructions="A unit converter and a calendar that compute real answers.",
                     log_level="WARNING", tools=[mcp_tool(fn) for fn in TOOLS])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP on 127.0.0.1:PORT/mcp "
                                                                 "instead of stdio")
    args = parser.parse_args(argv)
    if args.http is None:
        server().run("stdio")
    else:
        server().run("streamable-http", host="127.0.0.1", port=args.http)


if __name__ == "__main__":
    main()
