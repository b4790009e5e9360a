"""`thinkact chat`: one shot and interactive on a tiny registered model, reasoning and tool calls shown apart,
tools files checked, and a bad alias is one clear line (no traceback)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from rich.console import Console
from typer.testing import CliRunner

from conftest import QUICK, write_params
from thinkact import chat
from thinkact.errors import ThinkactError

NAME = "thinkact-agent"
ORDER = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
TOOLS = [{"type": "function", "function": {"name": "get_order_status", "description": "Status of an order.",
                                           "parameters": ORDER}}]


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """A sqlite store with a tiny model registered as version 1 @champion; env for this module's tests."""
    from thinkact.models import tiny
    from thinkact.tracking import stage_run
    from thinkact.tracking.model_registry import Registry

    root = tmp_path_factory.mktemp("chat")
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}", "THINKACT_PARAMS": str(write_params(root))}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        folder = tiny.build_cached(root / "models", corpus=["hello there, the order is on hold"] * 20, seed=0,
                                   size=QUICK["model"]["tiny"])
        registry = Registry(NAME)
        with stage_run("register") as run:
            version = registry.log_model(folder, role="grpo", run_id=run.run_id)
        registry.set_alias("champion", version.version)
        yield root, env, folder


@pytest.fixture
def env(registered, monkeypatch):
    root, env, _ = registered
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return root


def test_one_shot_from_the_registry_json(env):
    from thinkact.cli import app

    tools = env / "tools.json"
    tools.write_text(json.dumps(TOOLS))
    result = CliRunner().invoke(app, ["chat", "--model", f"models:/{NAME}@champion", "--message", "Where is ORD-1?",
                                      "--tools", str(tools), "--max-new-tokens", "8", "--json"])
    assert result.exit_code == 0, result.output
    turn = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(turn) >= {"reasoning", "tool_calls", "answer", "well_formed", "raw"} and isinstance(turn["raw"], str)


def test_one_shot_rich_and_interactive(env, registered):
    from thinkact.cli import app

    folder = str(registered[2])
    shot = CliRunner().invoke(app, ["chat", "--model", folder, "--message", "hi", "--max-new-tokens", "6"])
    assert shot.exit_code == 0, shot.output
    assert "answer" in shot.stdout or "tool call" in shot.stdout
    talk = CliRunner().invoke(app, ["chat", "--model", folder, "--max-new-tokens", "4"], input="hello\n/reset\n/exit\n")
    assert talk.exit_code == 0, talk.output
    assert "thinkact chat" in talk.stdout and "conversation cleared" in talk.stdout


def test_reasoning_and_tool_calls_are_shown_apart():
    raw = ('<think>\nThe user gave an order id, so I check it.\n</think>\n\n<tool_call>\n'
           '{"name": "get_order_status", "arguments": {"order_id": "ORD-1"}}\n</tool_call><|im_end|>')
    turn = chat.turn_of(raw)
    assert turn["well_formed"]
    assert turn["tool_calls"] == [{"name": "get_order_status", "arguments": {"order_id": "ORD-1"}}]
    console = Console(record=True, width=100)
    chat.show(console, turn)
    text = console.export_text()
    assert "thinking" in text and "I check it" in text and "tool call: get_order_status" in text and "ORD-1" in text
    message = chat.assistant_message(turn)
    assert message["tool_calls"][0]["function"]["name"] == "get_order_status"
    assert message["reasoning_content"].startswith("The user")
    answer = chat.turn_of("<think>\nsmall talk\n</think>\n\nHello! How can I help?")
    console = Console(record=True, width=100)
    chat.show(console, answer)
    assert "How can I help?" in console.export_text() and chat.assistant_message(answer)["content"].startswith("Hello")


def test_tools_file_checks(tmp_path):
    path = tmp_path / "tools.json"
    path.write_text(json.dumps([TOOLS[0]["function"]]))          # bare function schemas are wrapped
    assert chat.load_tools(path) == TOOLS
    path.write_text(json.dumps([{"type": "function", "function": {"description": "no name"}}]))
    with pytest.raises(ThinkactError, match=r"tools.json: item \[0\]: a tool needs a function name"):
        chat.load_tools(path)
    path.write_text("{not json")
    with pytest.raises(ThinkactError, match="tools.json: not valid JSON"):
        chat.load_tools(path)
    with pytest.raises(ThinkactError, match="tools file not found"):
        chat.load_tools(tmp_path / "missing.json")


def test_bad_alias_is_one_clear_line(env):
    run = subprocess.run([sys.executable, "-m", "thinkact.cli", "chat", "--model", f"models:/{NAME}@nope",
                          "--message", "hi"], capture_output=True, text=True, env={**os.environ})
    assert run.returncode == 2
    assert "no alias 'nope'; aliases: @champion -> 1; versions: 1" in run.stderr
    assert "Traceback" not in run.stderr
