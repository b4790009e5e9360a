"""MCP servers as tool sets (thinkact.tools.mcp_tools): a real server (tests/fixtures/mcp_server_fixture.py, the SDK's
MCPServer) over stdio and streamable HTTP, a hand-written one that answers garbage, and servers that cannot start.

One stdio server serves the module (started once); the tests that crash or time out a server start their own.

    python -m pytest tests/test_mcp_tools.py -q --durations=0      # about 10 s
"""
from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from thinkact.distributed import free_port
from thinkact.env.spec import EpisodeSpec
from thinkact.env.tool_env import ToolEnvironment
from thinkact.errors import ConfigError
from thinkact.tools.base import ToolFailure
from thinkact.tools.mcp_tools import McpTools
from thinkact.tools.params import ToolsParams
from thinkact.tools.registry import close_all, open_tools

SERVER = Path(__file__).resolve().parent / "fixtures" / "mcp_server_fixture.py"
COMMAND = f"{shlex.quote(sys.executable)} {shlex.quote(str(SERVER))}"
FIXTURE_TOOLS = ["add", "echo", "fail", "slow", "crash", "garbage"]


@pytest.fixture(scope="module")
def tools():
    with McpTools(command=COMMAND, timeout_s=0.5) as opened:
        yield opened


def _failure(tool_set: McpTools, name: str, arguments: dict) -> ToolFailure:
    with pytest.raises(ToolFailure) as caught:
        tool_set.run(name, arguments)
    return caught.value


def test_the_servers_tools_become_the_offered_schemas(tools):
    assert tools.kind == "mcp" and tools.names() == FIXTURE_TOOLS
    add = tools.schemas()[0]
    assert add["type"] == "function" and add["function"]["description"] == "Add two whole numbers."
    parameters = add["function"]["parameters"]
    assert parameters["type"] == "object" and sorted(parameters["required"]) == ["a", "b"]
    assert parameters["properties"]["a"]["type"] == "integer"
    tools.schemas()[0]["function"]["name"] = "changed"   # a copy: the offered tools stay as listed
    assert tools.names()[0] == "add"


def test_calls_answer_the_structured_result_as_json(tools):
    assert json.loads(tools.run("add", {"a": 2, "b": 40})) == {"result": 42}
    assert json.loads(tools.run("echo", {"text": "héllo"})) == {"result": "héllo"}


def test_a_call_inside_an_episode_of_the_tool_environment(tools):
    offered = tuple(s for s in tools.schemas() if s["function"]["name"] in ("add", "fail"))
    spec = EpisodeSpec(id="mcp-1", user="What is 2 + 3?", tools=offered,
                       gold_calls=({"name": "add", "arguments": {"a": 2, "b": 3}},), facts=("5",))
    env = ToolEnvironment(spec, tools=tools)
    assert json.loads(env.call("add", '{"a": 2, "b": 3}')) == {"result": 5}
    rejected = json.loads(env.call("add", {"a": "two", "b": 3}))  # checked against the server's schema first
    assert rejected["kind"] == "invalid_arguments"
    failed = json.loads(env.call("fail", {}))
    assert failed["kind"] == "tool_error" and "failed on purpose" in failed["error"]
    assert env.respond("2 + 3 = 5.") and env.done and not env.failed
    assert [c.error for c in env.calls] == [None, "invalid_arguments", "tool_error"]


def test_content_a_tool_message_cannot_carry_is_a_tool_error(tools):
    failure = _failure(tools, "garbage", {})
    assert failure.kind == "tool_error" and "'garbage'" in failure.message and "image" in failure.message


def test_a_call_past_the_timeout_is_unavailable_and_the_next_one_answers(tools):
    start = time.monotonic()
    failure = _failure(tools, "slow", {"seconds": 1.2})
    assert time.monotonic() - start < 1.5
    assert failure.kind == "unavailable" and "0.5 s" in failure.message and "timeout_s" in failure.message
    assert json.loads(tools.run("add", {"a": 1, "b": 1})) == {"result": 2}


def test_a_server_that_exits_mid_episode_is_unavailable_then_started_again_once():
    with McpTools(command=COMMAND, timeout_s=2) as own:
        env = ToolEnvironment(EpisodeSpec(id="mcp-crash", user="Crash it.", tools=tuple(own.schemas())), tools=own)
        crashed = json.loads(env.call("crash", {}))
        assert crashed["kind"] == "unavailable" and "exited" in crashed["error"]
        assert not env.calls[-1].mistaken                                           # not the model's mistake
        assert json.loads(env.call("add", {"a": 1, "b": 2})) == {"result": 3}       # a new server answers
        again = _failure(own, "crash", {})
        assert again.kind == "unavailable" and again.message.endswith("exiting with status 3)")  # its stderr's end
        start = time.monotonic()
        gone = _failure(own, "add", {"a": 1, "b": 2})
        assert gone.kind == "unavailable" and "started again once already" in gone.message
        assert time.monotonic() - start < 0.5
    start = time.monotonic()
    own.close()  # idempotent
    assert time.monotonic() - start < 0.1 and _failure(own, "add", {"a": 1, "b": 2}).kind == "unavailable"


def test_malformed_answers_are_tool_errors_and_the_session_goes_on():
    with McpTools(command=f"{COMMAND} --fake", timeout_s=2) as fake:  # a stray non-JSON line before every answer
        failure = _failure(fake, "add", {"a": 1, "b": 2})
        assert failure.kind == "tool_error" and "'add'" in failure.message and "malformed" in failure.message
        assert fake.run("echo", {"text": "still here"}) == "still here"   # text content, no structured content


def _one_line_config_error(key: str, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        McpTools(**kwargs)
    error = caught.value
    assert error.key == key and "\n" not in str(error), str(error)
    return error


def test_a_server_that_cannot_start_is_one_line_naming_the_key():
    start = time.monotonic()
    missing = _one_line_config_error("episodes.tools.command", command="thinkact-no-such-mcp-server --stdio")
    assert "thinkact-no-such-mcp-server" in str(missing) and "No such file" in str(missing)
    script = "import sys; print('missing API key', file=sys.stderr); sys.exit(2)"
    exited = _one_line_config_error("episodes.tools.command", command=f"{shlex.quote(sys.executable)} -c "
                                                                      f"{shlex.quote(script)}")
    assert "exited before it answered initialize" in str(exited) and "missing API key" in str(exited)
    bad = _one_line_config_error("episodes.tools.command", command=f"{COMMAND} --fake-bad-schema")
    assert "'add'" in str(bad) and "not a valid JSON Schema" in str(bad)
    assert time.monotonic() - start < 3


def test_a_server_that_never_answers_is_a_start_timeout_not_a_hang():
    start = time.monotonic()
    silent = _one_line_config_error("episodes.tools.command", command="sleep 30", start_timeout_s=0.5)
    assert "within 0.5 s" in str(silent)
    assert time.monotonic() - start < 6   # the SDK's stop: stdin closed, 2 s, SIGTERM


def test_the_registry_opens_an_mcp_tool_set_once():
    params = ToolsParams(source="mcp", command=f"{COMMAND} --fake", timeout_s=2)
    try:
        opened = open_tools(params)
        assert isinstance(opened, McpTools) and open_tools(params) is opened and opened.names() == ["add", "echo"]
    finally:
        close_all()
    assert _failure(opened, "echo", {"text": "x"}).kind == "unavailable"  # closed with the registry


@pytest.fixture(scope="module")
def http_url():
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(SERVER), "--http", "--port", str(port)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "the HTTP MCP server did not listen in time"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def test_streamable_http_lists_and_calls(http_url):
    with McpTools.from_params(ToolsParams(source="mcp", url=http_url, timeout_s=2)) as remote:
        assert remote.names() == FIXTURE_TOOLS
        assert json.loads(remote.run("add", {"a": 20, "b": 22})) == {"result": 42}
        assert _failure(remote, "fail", {}).kind == "tool_error"


def test_a_url_where_nothing_answers_is_one_line_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}/mcp"
    refused = _one_line_config_error("episodes.tools.url", url=url, start_timeout_s=5)
    assert url in str(refused) and "start the server first" in str(refused)
