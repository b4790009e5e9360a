"""MCP servers as tool sets: the tools a Model Context Protocol server lists are the tools an episode offers.

`McpTools` opens one client session (the official `mcp` SDK) to a server and keeps it for the life of the process:
the server's `tools/list` schemas become the offered tools (`{"type": "function", "function": {"name",
"description", "parameters": inputSchema}}`, each checked by thinkact.tool_schemas) and `run` sends `tools/call`.
GRPO's episode mode, the evaluate stage and `thinkact chat` reach it through thinkact.tools.registry.open_tools.

    episodes:
      tools: {source: mcp, command: "python examples/units/mcp_server.py"}   # stdio: started by thinkact
      tools: {source: mcp, url: "http://127.0.0.1:8765/mcp", timeout_s: 5}   # streamable HTTP: already running

    from thinkact.tools.mcp_tools import McpTools
    with McpTools(command="python tests/fixtures/mcp_server_fixture.py", timeout_s=5) as tools:
        tools.schemas()                          # the server's tools, OpenAI-style
        tools.run("add", {"a": 1, "b": 2})       # '{"result": 3}'

stdio: `command` is split as a shell would (shlex), run from the current directory (the project root in a stage)
with this process's environment; the server's stderr goes to a temporary file whose last lines are quoted in errors.
How it runs: the ToolSet API is synchronous, so the session lives on a background thread with its own asyncio loop,
in one long-lived task that enters the transport and `ClientSession`, initializes, lists the tools and then waits to
be cancelled (anyio's context managers are entered and left in that one task); each `run` submits `call_tool` to
that loop and waits. An MCP call costs about 1 ms more than calling the function in-process
(benchmarks/bench_mcp.py, benchmarks/results/mcp.json).

The failure rules (a call never raises anything but ToolFailure, and never waits past its timeout):

    tool_error    the server reported an error (isError: its text is the message), answered content a tool message
                  cannot carry (an image, audio, a resource), a result the SDK rejects (malformed, or not matching
                  the tool's outputSchema), or a JSON-RPC error (an unknown tool, bad arguments)
    unavailable   no answer within `episodes.tools.timeout_s`; the server exited or the connection closed during
                  the call (the message quotes the end of a stdio server's stderr). A server found gone is started
                  (stdio) or reconnected (HTTP) once, on the next call; the call that met the crash is never
                  resent (a tool may have half-run). Gone a second time, every later call answers unavailable.

The result text is the call's structuredContent as JSON (thinkact.tools.base.result_text) when the server sends
it, else its text contents joined by newlines. Opening fails with one ConfigError naming `episodes.tools.command`
or `episodes.tools.url`, never a hang: a command that cannot be started, a server that exits before it answers
`initialize` (with the end of its stderr), a URL where nothing answers, no answer within `start_timeout_s` (30 s),
no tools, or a tool whose schema cannot be used (named). `close()` ends the session and the server (stdin closed,
then SIGTERM, SIGKILL: bounded by the SDK); it is idempotent.

    python -m pytest tests/test_mcp_tools.py -q       # a real server over stdio and streamable HTTP
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import shlex
import tempfile
import threading
from typing import Any

import anyio
import pydantic
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT, PaginatedRequestParams

from thinkact.errors import ConfigError
from thinkact.tool_schemas import schema_error, tool_infos
from thinkact.tools.base import ToolFailure, ToolSet, result_text
from thinkact.tools.params import ToolsParams

START_TIMEOUT_S = 30.0   # from starting the server to its tool list
STOP_TIMEOUT_S = 10.0    # the SDK's own shutdown is bounded (stdin closed, 2 s, SIGTERM, 2 s, SIGKILL)
RESTARTS = 1             # a server found gone is started again this many times, on the next call
_CALL_GRACE_S = 1.0      # the SDK times the call out first; this bounds the wait if it does not
_MAX_PAGES = 100         # tools/list pages followed
_TAIL_CHARS = 400


class _Connection:
    """One session and what the caller's thread needs to know about it (set on the loop's thread)."""

    def __init__(self) -> None:
        self.ready = threading.Event()   # set once the tool list is in, or the task has ended
        self.session: ClientSession | None = None
        self.tools: list[Any] = []
        self.error: BaseException | None = None
        self.ended = False                # the task has left the session (closed, crashed transport)
        self.gone = False                 # a call found the server gone
        self.scope: anyio.CancelScope | None = None
        self.cancelled = False
        self.task: concurrent.futures.Future | None = None

    def cancel(self) -> None:
        """Leave the session (runs on the loop's thread)."""
        self.cancelled = True
        if self.scope is not None:
            self.scope.cancel()


class McpTools(ToolSet):
    """The tools of one MCP server: `command` (stdio) or `url` (streamable HTTP), exactly one."""

    kind = "mcp"

    def __init__(self, *, command: str = "", url: str = "", timeout_s: float = 10.0,
                 start_timeout_s: float = START_TIMEOUT_S, restarts: int = RESTARTS):
        if bool(command) == bool(url):
            raise ValueError("McpTools needs exactly one of command or url")
        self.command, self.url, self.timeout_s = command, url, float(timeout_s)
        self.start_timeout_s, self._restarts_left = float(start_timeout_s), restarts
        self.key = "episodes.tools.command" if command else "episodes.tools.url"
        self.again = "started again" if command else "reconnected"
        self.where = f"MCP server {command or url!r}"
        self._argv = self._split(command) if command else []
        self._stderr = tempfile.TemporaryFile() if command else None
        self._lock = threading.Lock()
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="thinkact-mcp", daemon=True)
        self._thread.start()
        try:
            self._conn = self._open()
            self._schemas = self._to_schemas(self._conn.tools)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_params(cls, params: ToolsParams) -> "McpTools":
        """The tool set of `episodes.tools` with source mcp."""
        return cls(command=params.command, url=params.url, timeout_s=params.timeout_s)

    # -- the ToolSet API ---------------------------------------------------------------------------------------
    def schemas(self) -> list[dict[str, Any]]:
        return [dict(s, function=dict(s["function"])) for s in self._schemas]

    def run(self, name: str, arguments: dict[str, Any]) -> str:
        conn = self._live(name)
        call = conn.session.call_tool(name, arguments, read_timeout_seconds=self.timeout_s)
        future = asyncio.run_coroutine_threadsafe(call, self._loop)
        try:
            result = future.result(self.timeout_s + _CALL_GRACE_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise self._late(name) from None
        except MCPError as e:
            if e.code == REQUEST_TIMEOUT:
                raise self._late(name) from None
            if e.code == CONNECTION_CLOSED:
                raise self._gone(conn, name) from None
            raise ToolFailure("tool_error", f"the {self.where} answered tool {name!r} with an error: "
                                            f"{e.message}") from None
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream) as e:
            raise self._gone(conn, name, e) from None
        except Exception as e:  # noqa: BLE001 - a malformed answer (pydantic), a result off its outputSchema
            if conn.ended:
                raise self._gone(conn, name, e) from None
            raise ToolFailure("tool_error", f"tool {name!r} answered a result that could not be read: "
                                            f"{_describe(e)}") from None
        return self._text(name, result)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            conn, self._conn = getattr(self, "_conn", None), None
        if conn is not None:
            self._stop(conn)
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_TIMEOUT_S)
        if not self._thread.is_alive():
            self._loop.close()
        if self._stderr is not None:
            self._stderr.close()

    # -- the session -------------------------------------------------------------------------------------------
    def _split(self, command: str) -> list[str]:
        try:
            argv = shlex.split(command)
        except ValueError as e:
            raise ConfigError("episodes.tools.command", f"cannot be split as a shell would ({e}): {command!r}")
        if not argv:
            raise ConfigError("episodes.tools.command", "is empty; give the command that starts the MCP server")
        return argv

    def _transport(self) -> Any:
        if self.url:
            return streamable_http_client(self.url)
        server = StdioServerParameters(command=self._argv[0], args=self._argv[1:], env=dict(os.environ),
                                       cwd=os.getcwd())
        return stdio_client(server, errlog=self._stderr)

    async def _hold(self, conn: _Connection) -> None:
        """The one task that owns the session: open it, list the tools, then wait until cancelled."""
        with anyio.CancelScope() as conn.scope:
            if conn.cancelled:
                conn.scope.cancel()
            try:
                async with contextlib.AsyncExitStack() as stack:
                    read, write = (await stack.enter_async_context(self._transport()))[:2]
                    session = await stack.enter_async_context(ClientSession(read, write))
                    await session.initialize()
                    conn.tools = await _list_tools(session)
                    conn.session = session
                    conn.ready.set()
                    await anyio.sleep_forever()
            except Exception as e:  # noqa: BLE001 - reported to the caller's thread
                conn.error = e
            finally:
                conn.ended = True
                conn.ready.set()

    def _open(self) -> _Connection:
        """A started, initialized session with its tool list, or ConfigError naming the key."""
        conn = _Connection()
        conn.task = asyncio.run_coroutine_threadsafe(self._hold(conn), self._loop)
        if not conn.ready.wait(self.start_timeout_s):
            self._stop(conn)
            raise ConfigError(self.key, f"the {self.where} did not list its tools within {self.start_timeout_s:g} s"
                                        f"{self._tail()}; check that it speaks MCP")
        if conn.session is None:
            self._stop(conn)
            raise ConfigError(self.key, self._start_problem(conn.error))
        return conn

    def _start_problem(self, error: BaseException | None) -> str:
        e = _leaf(error)
        if isinstance(e, OSError) and self.command:
            return (f"could not start {self.command!r} ({e.strerror or e}: {e.filename or self._argv[0]}); "
                    f"check the command (it runs from {os.getcwd()}, split as a shell would)")
        if isinstance(e, MCPError) and e.code == CONNECTION_CLOSED and self.command:
            return f"the {self.where} exited before it answered initialize{self._tail()}; run it by hand to see why"
        if self.url and not isinstance(e, MCPError):
            return f"no MCP server answered at {self.url} ({_describe(e)}); start the server first, or check the URL"
        return f"the {self.where} could not be opened: {_describe(e)}{self._tail()}"

    def _stop(self, conn: _Connection) -> None:
        if self._loop.is_closed() or conn.task is None:
            return
        self._loop.call_soon_threadsafe(conn.cancel)
        with contextlib.suppress(Exception):
            conn.task.result(STOP_TIMEOUT_S)

    def _live(self, name: str) -> _Connection:
        """The open session; a server found gone is started again once (RESTARTS), else ToolFailure unavailable."""
        with self._lock:
            conn = self._conn
            if self._closed or conn is None:
                raise ToolFailure("unavailable", f"the {self.where} has been closed")
            if not (conn.gone or conn.ended):
                return conn
            if self._restarts_left <= 0:
                raise ToolFailure("unavailable", f"the {self.where} is gone (it was {self.again} once already)"
                                                 f"{self._tail()}")
            self._restarts_left -= 1
            self._stop(conn)
            try:
                self._conn = self._open()
            except ConfigError as e:
                self._conn = conn
                raise ToolFailure("unavailable", f"the {self.where} is gone and could not be {self.again}: "
                                                 f"{e.problem}") from None
            if self._to_schemas(self._conn.tools) != self._schemas:
                raise ToolFailure("unavailable", f"the {self.where} was {self.again} but now lists other tools")
            return self._conn

    # -- results and failures ----------------------------------------------------------------------------------
    def _text(self, name: str, result: Any) -> str:
        texts, other = [], []
        for block in result.content or []:
            if getattr(block, "type", None) == "text" and isinstance(getattr(block, "text", None), str):
                texts.append(block.text)
            else:
                other.append(str(getattr(block, "type", type(block).__name__)))
        if result.is_error:
            message = _one_line(" ".join(texts)) or "no message"
            raise ToolFailure("tool_error", f"tool {name!r} failed: {message}")
        if result.structured_content is not None:
            return result_text(result.structured_content, name)
        if other:
            raise ToolFailure("tool_error", f"tool {name!r} answered {', '.join(sorted(set(other)))} content, which "
                                            f"a tool message cannot carry (only text or structured content)")
        return "\n".join(texts)

    def _late(self, name: str) -> ToolFailure:
        return ToolFailure("unavailable", f"tool {name!r} did not answer within {self.timeout_s:g} s "
                                          f"(episodes.tools.timeout_s)")

    def _gone(self, conn: _Connection, name: str, error: BaseException | None = None) -> ToolFailure:
        conn.gone = True
        why = f" ({_describe(error)})" if error is not None else ""
        again = f"; it is {self.again} on the next call" if self._restarts_left > 0 else ""
        return ToolFailure("unavailable", f"the {self.where} exited or closed the connection during the call of "
                                          f"{name!r}{again}{why}{self._tail()}")

    def _tail(self) -> str:
        """The end of a stdio server's stderr, on one line ('' when it wrote nothing)."""
        if self._stderr is None or self._stderr.closed:
            return ""
        fd = self._stderr.fileno()
        size = os.fstat(fd).st_size
        raw = os.pread(fd, 4 * _TAIL_CHARS, max(0, size - 4 * _TAIL_CHARS))  # pread: the server's offset stays
        text = _one_line(raw.decode("utf-8", "replace"))[-_TAIL_CHARS:]
        return f" (its stderr ends: {text})" if text else ""

    def _to_schemas(self, tools: list[Any]) -> list[dict[str, Any]]:
        """The OpenAI-style schemas of the listed tools, each usable (thinkact.tool_schemas), else ConfigError."""
        schemas = []
        for tool in tools:
            fn = {"name": tool.name, "description": tool.description, "parameters": tool.input_schema}
            if not tool.description:  # the key order of get_json_schema's and the data's schemas: name, description
                del fn["description"]
            schemas.append({"type": "function", "function": fn})
        if not schemas:
            raise ConfigError(self.key, f"the {self.where} lists no tools; an episode needs at least one")
        infos = tool_infos(schemas)
        problem = schema_error(infos) or next((f"tool {info.name!r} is not an OpenAI function tool (a name of 1 to "
                                               f"128 characters, a parameters object)"
                                               for _, info in infos if not info.contract_ok), None)
        if problem:
            raise ConfigError(self.key, f"the {self.where} offers a tool that cannot be used: {problem}")
        return schemas


async def _list_tools(session: ClientSession) -> list[Any]:
    """Every tool the server lists, following its pages."""
    tools, cursor = [], None
    for _ in range(_MAX_PAGES):
        page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _leaf(error: BaseException | None) -> BaseException | None:
    """The first exception inside (nested) exception groups: what the transport's task group really met."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _one_line(text: str) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _describe(error: BaseException | None) -> str:
    """An exception on one short line (a pydantic error: its first problem)."""
    if isinstance(error, pydantic.ValidationError) and error.error_count():
        first = error.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "the value"
        return f"{error.title} is malformed ({error.error_count()} problems; {where}: {first.get('msg')})"
    return f"{type(error).__name__}: {_one_line(str(error))[:_TAIL_CHARS]}"


class _OneLineTraceback(logging.Filter):
    """The SDK logs a traceback for every line a stdio server writes that is not JSON-RPC: kept, on one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg, record.args = f"{record.getMessage()}: {_describe(record.exc_info[1])}", ()
            record.exc_info = None
        return True


logging.getLogger("mcp.client.stdio").addFilter(_OneLineTraceback())
