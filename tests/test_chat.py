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

from conftest import QUICK, new_mlflow_store, write_params
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
    env = {"MLFLOW_TRACKING_URI": new_mlflow_store(root / "mlflow.db"), "THINKACT_PARAMS": str(write_params(root))}
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
    assert turn["model"] == {"spec": f"models:/{NAME}@champion", "name": NAME, "version": 1, "alias": "champion"}


def test_json_names_the_model_that_answered(env, registered):
    """--json says which model answered: a registry URI by its registered name and version number."""
    from thinkact.cli import app

    def answer(*args):
        result = CliRunner().invoke(app, ["chat", "--message", "hi", "--max-new-tokens", "2", "--json", *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout.strip().splitlines()[-1])

    assert answer("--model", f"models:/{NAME}/1")["model"] == {"spec": f"models:/{NAME}/1", "name": NAME,
                                                                "version": 1, "alias": None}
    folder = str(registered[2])
    assert answer("--model", folder)["model"] == {"spec": folder, "name": None, "version": None, "alias": None}
    simulated = answer("--model", f"models:/{NAME}@champion", "--simulate")
    assert simulated["model"]["version"] == 1 and simulated["model"]["name"] == NAME


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


# -- --simulate: tool calls answered by the simulators through the tool environment -------------------------
MESSAGE = "Where is my order ORD-12345?"
CALL = {"name": "get_order_status", "arguments": {"order_id": "ORD-12345"}}


def _catalog_tools():
    from thinkact.world.catalog import TOOLS_BY_NAME

    return [TOOLS_BY_NAME[n].schema() for n in ("get_order_status", "cancel_order")]


def _result(name, arguments):
    from thinkact.tools.base import RESULT_SEPARATORS
    from thinkact.world.simulators import simulate

    return json.dumps(simulate(name, arguments), separators=RESULT_SEPARATORS)


def test_simulated_calls_get_the_simulator_result_or_the_environment_error():
    env = chat.simulator(_catalog_tools(), max_tool_calls=5)

    def run(body):
        return chat.run_tools(env, chat.turn_of(f"<think>\n\n</think>\n\n<tool_call>\n{body}\n</tool_call><|im_end|>"))

    (ok,) = run(json.dumps(CALL))
    assert ok == {**CALL, "result": _result(**CALL), "error": None}
    (unknown,) = run('{"name": "book_flight", "arguments": {}}')
    assert unknown["error"] == "unknown_tool" and json.loads(unknown["result"])["kind"] == "unknown_tool"
    (bad,) = run('{"name": "get_order_status", "arguments": {"order_id": 7}}')
    assert bad["error"] == "invalid_arguments" and "order_id" in json.loads(bad["result"])["error"]
    (broken,) = run('{"name": "get_order_status", "arguments": {')
    assert broken["error"] == "malformed_call"
    assert chat.run_tools(env, chat.turn_of("<think>\n\n</think>\n\nIt has shipped.")) == []
    both = chat.run_tools(env, chat.turn_of("<think>\n\n</think>\n\n" + "\n".join(
        f"<tool_call>\n{json.dumps(CALL)}\n</tool_call>" for _ in range(2))))
    assert [r["error"] for r in both] == [None, "limit"] and env.done  # the 6th call passes max_tool_calls=5
    messages = chat.tool_messages(chat.turn_of(f"<think>\n\n</think>\n\n<tool_call>\n{json.dumps(CALL)}\n"
                                               "</tool_call>"), [ok])
    assert messages[0]["tool_calls"][0]["function"] == CALL
    assert messages[1] == {"role": "tool", "name": "get_order_status", "content": ok["result"]}
    console = Console(record=True, width=200)
    chat.show_results(console, [ok, unknown])
    text = console.export_text()
    assert f"result of get_order_status> {ok['result']}" in text and "result of book_flight> " in text
    with pytest.raises(ThinkactError, match="--tools: "):
        chat.simulator([{"type": "function", "function": {"name": "x", "parameters": {"type": "nope"}}}], 3)


@pytest.fixture(scope="module")
def caller(tmp_path_factory):
    """builtin:tiny taught, through chat's own prompt rendering, to call get_order_status for MESSAGE and then to
    answer from the simulated result; (saved folder, tokens a turn needs)."""
    import torch

    from thinkact.chat_format.template import render_target
    from thinkact.contract import Example, Target
    from thinkact.generation import prompt_text
    from thinkact.models.loading import load_model

    root = tmp_path_factory.mktemp("caller")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model, tok = load_model("builtin:tiny", root / "models", tiny_size=QUICK["model"]["tiny"])
    tools = _catalog_tools()
    call = chat.turn_of(render_target({"tool_calls": [CALL]}))
    status = json.loads(_result(**CALL))["status"]
    answer = render_target({"content": f"Order ORD-12345 is {status}."})
    user = [{"role": "user", "content": MESSAGE}]
    turns = [(user, call["raw"]),
             (user + chat.tool_messages(call, chat.run_tools(chat.simulator(tools, 2), call)), answer)]
    data = []
    for messages, target in turns:
        prompt = Example(id="t", domain="chat", split="chat", tools=tools, messages=messages, target=Target(content=""))
        context = tok(prompt_text(tok, prompt), add_special_tokens=False)["input_ids"]
        ids = tok(target + "<|im_end|>", add_special_tokens=False)["input_ids"]
        data.append((torch.tensor([context + ids]), torch.tensor([[-100] * len(context) + ids]), len(ids)))
    model.train()
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(120):
        loss = sum(model(input_ids=x, labels=y).loss for x, y, _ in data)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    folder = root / "model"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    torch.set_num_threads(threads)
    return folder, max(n for _, _, n in data) + 4, status


@pytest.mark.slow
def test_simulate_answers_a_taught_call_with_the_simulator_result(caller, tmp_path, monkeypatch):
    from thinkact.cli import app

    folder, tokens, status = caller
    monkeypatch.setenv("THINKACT_PARAMS", str(write_params(tmp_path, {"episodes": {"max_tool_calls": 2}})))
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(_catalog_tools()))
    base = ["chat", "--model", str(folder), "--tools", str(tools), "--simulate", "--max-new-tokens", str(tokens)]
    shot = CliRunner().invoke(app, [*base, "--message", MESSAGE, "--json"])
    assert shot.exit_code == 0, shot.output
    reply = json.loads(shot.stdout.strip().splitlines()[-1])
    first = reply["turns"][0]
    assert first["tool_calls"] == [CALL]
    assert first["tool_results"] == [{**CALL, "result": _result(**CALL), "error": None}]
    assert reply["answer"] == f"Order ORD-12345 is {status}." and len(reply["turns"]) == 2
    shown = CliRunner().invoke(app, [*base, "--message", MESSAGE])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.stdout.split())
    assert "tool call: get_order_status" in text and "result of get_order_status> {" in text and status in text
    talk = CliRunner().invoke(app, base, input=f"{MESSAGE}\n/exit\n")
    assert talk.exit_code == 0, talk.output
    text = " ".join(talk.stdout.split())
    assert "tools (simulated): get_order_status, cancel_order" in text and "result of get_order_status> {" in text
    assert f"Order ORD-12345 is {status}." in text


# -- interactive line editing and history (readline, when stdin is a terminal) -------------------------------
def test_line_editing_loads_and_saves_the_history(tmp_path, monkeypatch):
    readline = pytest.importorskip("readline")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = chat.history_file()
    assert path == tmp_path / "state" / "thinkact" / "chat_history"
    path.parent.mkdir(parents=True)
    path.write_text("earlier question\n")
    with chat.line_editing(True) as editing:
        assert editing
        items = [readline.get_history_item(i) for i in range(1, readline.get_current_history_length() + 1)]
        assert items[-1] == "earlier question"
        readline.add_history("a new question")
    assert path.read_text().splitlines()[-2:] == ["earlier question", "a new question"]
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert chat.history_file() == tmp_path / "home" / ".thinkact_history"
    with chat.line_editing(False) as editing:  # not a terminal: plain input, no history file
        assert not editing
    assert not (tmp_path / "home" / ".thinkact_history").exists()
    monkeypatch.setitem(sys.modules, "readline", None)  # no readline at all: chat still works
    with chat.line_editing(True) as editing:
        assert not editing


def _pty_chat(folder, home, keys):
    """`thinkact chat` on a pseudo-terminal: type each of `keys` at a `you>` prompt; the whole screen output."""
    import pty
    import select
    import time

    main, child = pty.openpty()
    env = {**os.environ, "HOME": str(home), "TERM": "xterm", "COLUMNS": "100"}
    env.pop("XDG_STATE_HOME", None)
    proc = subprocess.Popen([sys.executable, "-m", "thinkact.cli", "chat", "--model", str(folder),
                             "--max-new-tokens", "4"], stdin=child, stdout=child, stderr=child, env=env)
    os.close(child)
    screen, pending = b"", list(keys)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(main, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                screen += chunk
            if pending and screen.count(b"you>") > len(keys) - len(pending):
                os.write(main, pending.pop(0).encode())
            if proc.poll() is not None and not ready:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(main)
    return proc.returncode, screen.decode(errors="replace")


def test_interactive_prompt_has_line_editing_and_history(env, registered, tmp_path):
    """On a terminal the Up arrow recalls the last line (from ~/.thinkact_history), the Left arrow moves the
    cursor, and the lines are saved for the next session."""
    pytest.importorskip("readline")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".thinkact_history").write_text("from history\n")
    code, screen = _pty_chat(registered[2], home, ["\x1b[A\r", "abc\x1b[DX\r", "/exit\r"])
    assert code == 0, screen
    assert "^[[A" not in screen and "^[[D" not in screen, screen
    assert "from history" in screen.split("you>", 1)[1], screen  # recalled by the Up arrow
    assert (home / ".thinkact_history").read_text().splitlines() == ["from history", "abXc", "/exit"]
