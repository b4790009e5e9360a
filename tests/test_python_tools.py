"""Your own tools as Python functions (thinkact.tools.python_tools, `episodes.tools: {source: python}`): schemas as
transformers' get_json_schema derives them or from a JSON file, the TOOLS list, and every way a tool can go wrong —
raises, hangs, returns non-JSON: an error result of a named kind and the episode goes on; a module that cannot be
a tool set: one ConfigError naming the key, the path and the function. Also the places that run an episode's calls
on the configured tool set: the validate gate's gold-call replay and `thinkact chat --simulate`. Fast: no model."""
from __future__ import annotations

import json
import time

import pytest

from thinkact import chat
from thinkact.contract import ToolCall
from thinkact.env.spec import EpisodeSpec
from thinkact.env.tool_env import ToolEnvironment
from thinkact.errors import ConfigError, ThinkactError
from thinkact.tools.base import ToolFailure
from thinkact.tools.params import ToolsParams
from thinkact.tools.python_tools import PythonTools
from thinkact.tools.registry import open_tools
from thinkact.validation import episode_checks

OK = "tests/fixtures/tools_ok.py"
LISTED = "tests/fixtures/tools_listed.py"
OK_NAMES = ["convert_length", "greet", "explode", "hang", "tags"]


def _tools(module: str = OK, **more) -> PythonTools:
    return PythonTools.from_params(ToolsParams(source="python", module=module, **more))


@pytest.fixture
def release():
    """Lets the fixture module's hanging tool finish once the test is over (its daemon thread ends)."""
    held = []
    yield held.append
    for tools in held:
        tools._functions["hang"].__globals__["RELEASE"].set()


# -- declaring the tools ---------------------------------------------------------------------------------------
def test_schemas_are_get_json_schemas_of_the_public_functions_in_source_order():
    from transformers.utils import get_json_schema

    import tests.fixtures.tools_ok as module  # the same file by its dotted name

    tools = _tools()
    assert tools.kind == "python" and tools.names() == OK_NAMES  # not _helper, not the imported json.dumps
    derived = [get_json_schema(getattr(module, n)) for n in OK_NAMES]
    assert any("return" in d["function"] for d in derived)  # a Returns: line: the model is not offered it
    for d in derived:
        d["function"].pop("return", None)
    assert tools.schemas() == derived
    assert tools.schemas()[0]["function"]["parameters"]["properties"]["unit"]["enum"] == ["cm", "km", "mi"]
    dotted = PythonTools.from_params(ToolsParams(source="python", module="tests.fixtures.tools_ok"))
    assert dotted.schemas() == tools.schemas()
    assert json.loads(tools.run("convert_length", {"value": 3, "unit": "km"})) == {"metres": 3000.0}
    assert tools.run("greet", {"name": "Ada"}) == "Hello, Ada!"  # a string is the result text as it is


def test_the_tools_list_says_which_functions_are_tools_and_their_order():
    tools = _tools(LISTED)
    assert tools.names() == ["negate", "add"]
    assert tools.run("add", {"a": 2, "b": 3}) == "5"
    with pytest.raises(ToolFailure, match="'not_a_tool' is not available") as e:
        tools.run("not_a_tool", {"a": 1})
    assert e.value.kind == "tool_error"


def test_a_schemas_file_with_the_module_implementing_it(tmp_path):
    schema = {"type": "function", "function": {
        "name": "add", "description": "Sum.",
        "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                       "required": ["a", "b"]}}}
    bare = {"name": "not_a_tool", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}
    path = tmp_path / "tools.json"
    path.write_text(json.dumps({"tools": [schema, bare]}))
    tools = _tools(LISTED, schemas=str(path))
    assert tools.schemas() == [schema, {"type": "function", "function": bare}]  # the file's, a bare one wrapped
    assert tools.run("add", {"a": 1, "b": 2}) == "3" and tools.run("not_a_tool", {"a": 4}) == "4"


def test_from_functions_for_programmatic_use():
    def shout(text: str) -> str:
        """Upper-case a text.

        Args:
            text: The text.
        """
        return text.upper()

    def quiet(text):
        return text

    tools = PythonTools.from_functions([shout], timeout_s=1.0)
    assert tools.names() == ["shout"] and tools.run("shout", {"text": "hi"}) == "HI"
    given = [{"type": "function", "function": {"name": "quiet", "parameters": {"type": "object"}}}]
    assert PythonTools.from_functions([quiet], schemas=given).run("quiet", {"text": "a"}) == "a"
    with pytest.raises(ThinkactError, match="function 'quiet' has no docstring"):
        PythonTools.from_functions([quiet])


# -- calls that go wrong: error results, the episode goes on -----------------------------------------------------
def _episode(tools: PythonTools, *names: str) -> ToolEnvironment:
    offered = tuple(s for s in tools.schemas() if s["function"]["name"] in names)
    return ToolEnvironment(EpisodeSpec(id="ep", user="hi", tools=offered), max_tool_calls=5, tools=tools)


def test_a_tool_that_raises_is_a_tool_error_result_and_the_episode_goes_on():
    env = _episode(_tools(), "explode", "greet")
    result = json.loads(env.call("explode", {"reason": "disk full"}))
    assert result == {"error": "tool 'explode' failed: ValueError: disk full", "kind": "tool_error"}
    assert env.calls[-1].error == "tool_error" and not env.done
    assert env.call("greet", {"name": "Bo", "style": "long"}) == "Hello there, Bo, and welcome!"
    assert env.calls[-1].valid
    env.respond("Done.")
    assert env.done and not env.failed and env.final_answer == "Done."


def test_a_tool_that_hangs_is_unavailable_after_the_timeout(release):
    tools = _tools(timeout_s=0.2)
    release(tools)
    env = _episode(tools, "hang", "greet")
    start = time.perf_counter()
    result = json.loads(env.call("hang", {"seconds": 60}))
    assert time.perf_counter() - start < 1.0
    assert result == {"error": "tool 'hang' did not answer within 0.2 s", "kind": "unavailable"}
    assert env.calls[-1].error == "unavailable" and not env.calls[-1].mistaken  # not the model's mistake
    assert env.call("greet", {"name": "Cy"}) == "Hello, Cy!"


def test_a_result_that_is_not_json_is_a_tool_error_naming_the_tool():
    env = _episode(_tools(), "tags")
    result = json.loads(env.call("tags", {"word": "x"}))
    assert result["kind"] == "tool_error" and "tool 'tags' returned a value that is not JSON (set" in result["error"]


def test_a_tool_cannot_change_the_recorded_call():
    def grab(items: list) -> int:
        """Empties the list it is given.

        Args:
            items: Some items.
        """
        items.clear()
        return 0

    tools = PythonTools.from_functions([grab])
    env = ToolEnvironment(EpisodeSpec(id="ep", user="hi", tools=tuple(tools.schemas())), tools=tools)
    env.call("grab", {"items": [1, 2]})
    assert env.calls[-1].arguments == {"items": [1, 2]}


# -- modules that cannot be a tool set: one line naming the key, the path and the function ------------------------
@pytest.mark.parametrize("module, wanted", [
    ("tests/fixtures/tools_nodoc.py", ["key 'episodes.tools.module'", "tests/fixtures/tools_nodoc.py",
                                       "function 'undocumented' has no docstring", "Args:"]),
    ("tests/fixtures/tools_nohint.py", ["key 'episodes.tools.module'", "tests/fixtures/tools_nohint.py",
                                        "function 'untyped'", "argument 'city' has no type hint"]),
    ("tests/fixtures/tools_missing.py", ["key 'episodes.tools.module'", "tests/fixtures/tools_missing.py",
                                         "no such file"]),
    ("no_such_package.tools", ["key 'episodes.tools.module'", "no module named 'no_such_package.tools'"]),
])
def test_a_module_that_cannot_be_a_tool_set_is_one_config_error(module, wanted):
    with pytest.raises(ConfigError) as e:
        _tools(module)
    assert all(w in str(e.value) for w in wanted), str(e.value)
    assert "\n" not in str(e.value)


def test_a_module_that_raises_on_import_is_one_config_error(tmp_path):
    path = tmp_path / "tools_broken.py"
    path.write_text("raise RuntimeError('no database')\n")
    with pytest.raises(ConfigError, match=r"key 'episodes.tools.module': importing .*tools_broken.py failed: "
                                          r"RuntimeError: no database"):
        _tools(str(path))


def test_a_schema_naming_a_function_the_module_lacks_is_one_config_error(tmp_path):
    path = tmp_path / "tools.json"
    path.write_text(json.dumps([{"type": "function", "function": {"name": "teleport", "parameters": {
        "type": "object", "properties": {}}}}]))
    with pytest.raises(ConfigError) as e:
        _tools(LISTED, schemas=str(path))
    message = str(e.value)
    assert "key 'episodes.tools.schemas'" in message and str(path) in message and "'teleport'" in message
    assert LISTED in message
    path.write_text(json.dumps([{"type": "function", "function": {"name": "add", "parameters": {"type": "nope"}}}]))
    with pytest.raises(ConfigError, match="tool 'add': parameters is not a valid JSON Schema"):
        _tools(LISTED, schemas=str(path))


# -- the validate gate replays gold calls on the configured tool set ---------------------------------------------
def _spec(id_: str, tools: PythonTools, call: ToolCall, facts: tuple[str, ...]) -> dict:
    offered = [s for s in tools.schemas() if s["function"]["name"] == call.name]
    return {"id": id_, "user": "Please help.", "tools": offered, "kind": "single",
            "gold_calls": [{"name": call.name, "arguments": call.arguments}], "facts": list(facts)}


def test_the_gate_replays_gold_calls_on_a_python_tool_set(tmp_path, monkeypatch):
    tools = _tools()
    episodes = [
        _spec("text", tools, ToolCall("greet", {"name": "Ada"}), ("Hello, Ada",)),          # a plain-text result
        _spec("json", tools, ToolCall("convert_length", {"value": 2, "unit": "km"}), ("2000",)),
        _spec("raises", tools, ToolCall("explode", {"reason": "no"}), ()),
        _spec("no_fact", tools, ToolCall("greet", {"name": "Ada"}), ("Goodbye",)),
    ]
    folder = tmp_path / "data" / "episodes"
    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_text("".join(json.dumps(e) + "\n" for e in episodes))
    monkeypatch.setattr(episode_checks, "episode_expectations", lambda: [])  # the rows, without importing GX
    settings = ToolsParams(source="python", module=OK)
    found = episode_checks.episode_table(tmp_path / "data", tools=settings)
    rows = {r["id"]: r for r in found.table.frame.to_dict("records")}
    assert rows["text"]["calls_error"] is None and rows["text"]["facts_error"] is None
    assert rows["json"]["calls_error"] is None and rows["json"]["facts_error"] is None
    assert rows["raises"]["calls_error"] == ("gold_calls.0: the environment returns tool_error: tool 'explode' "
                                             "failed: ValueError: no")
    assert rows["no_fact"]["facts_error"] == "facts.0: 'Goodbye' is not a value of any gold result"
    assert open_tools(settings) is open_tools(settings)  # the gate's tool set, opened once per process
    builtin = {r["id"]: r for r in episode_checks.read_episode_rows([folder / "train.jsonl"])}
    assert "tool 'greet' is not available" in builtin["text"]["calls_error"]  # the built-in world has no greet


# -- thinkact chat --simulate runs calls on the configured tool set ----------------------------------------------
def test_chat_simulate_offers_and_runs_the_configured_tool_set():
    tool_set, offered = chat.simulated_tools(ToolsParams(source="python", module=OK), [])
    assert tool_set.kind == "python" and offered == tool_set.schemas()  # no --tools: the tool set's own
    env = chat.simulator(offered, 3, tool_set)
    call = {"name": "greet", "arguments": {"name": "Ada"}}
    turn = chat.turn_of(f"<think>\n\n</think>\n\n<tool_call>\n{json.dumps(call)}\n</tool_call><|im_end|>")
    assert chat.run_tools(env, turn) == [{**call, "result": "Hello, Ada!", "error": None}]
    given = [offered[1]]
    assert chat.simulated_tools(ToolsParams(source="python", module=OK), given)[1] == given  # --tools wins
    builtin, none = chat.simulated_tools(ToolsParams(), [])
    assert builtin.kind == "builtin" and none == []  # the built-in world offers nothing unasked, as before


def test_thinkact_validate_takes_the_tool_set_from_params(tmp_path, monkeypatch):
    from conftest import write_params
    from thinkact.cli.validate import _params

    tools = {"source": "python", "module": OK, "timeout_s": 2.5}
    monkeypatch.setenv("THINKACT_PARAMS", str(write_params(tmp_path, {"episodes": {"tools": tools}})))
    assert _params()[1] == ToolsParams(**tools)
