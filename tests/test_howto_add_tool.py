"""docs/how-to-add-a-tool.md: its worked example (a support domain) runs as written and works end to end, while
registered with `with_tools`; the catalog is exactly as before afterwards."""
from __future__ import annotations

import json
import re
import types

import pytest

from thinkact.project import PROJECT_ROOT
from thinkact.data.params import DataParams, DistractorParams
from thinkact.contract import TURN_TYPES, Example
from thinkact.data.episode_gen import generate_episodes, gold_conversation
from thinkact.data.generator import generate
from thinkact.data.params import DataParams, DistractorParams
from thinkact.env.spec import EPISODE_KINDS, EpisodeSpec
from thinkact.env.tool_env import ToolEnvironment
from thinkact.tool_schemas import arguments_error, schema_error, tool_infos
from thinkact.world.catalog import DOMAINS, SIMULATORS, TOOLS, TOOLS_BY_NAME, ToolDef, register, with_tools
from thinkact.world.phrasings import LABELS
from thinkact.world.simulators import simulate
from thinkact.world.slots import SLOTS, Slot

DOC = PROJECT_ROOT / "docs" / "how-to-add-a-tool.md"
MARKER = "<!-- worked-example"


def worked_example() -> types.ModuleType:
    """The code block after the marker in the how-to, run as a module."""
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, f"{DOC} lost its worked-example marker"
    code = re.search(r"```python\n(.*?)```", text.split(MARKER, 1)[1], re.S).group(1)
    module = types.ModuleType("support")
    exec(compile(code, str(DOC), "exec"), module.__dict__)  # noqa: S102 - our own documentation
    return module


def _state():
    return tuple(TOOLS), tuple(DOMAINS), dict(TOOLS_BY_NAME), dict(SIMULATORS), dict(SLOTS), dict(LABELS)


@pytest.fixture
def support():
    """The worked example's domain, registered for one test; afterwards the catalog is as it was."""
    example = worked_example()
    before = _state()
    with with_tools(*example.TOOLS, slots=example.SLOTS):
        yield example
    assert _state() == before


def _params(**kw) -> DataParams:
    """Support and insurance held out: test_task draws only from them, train never sees them."""
    return DataParams(seed=11, held_out_domains=("support", "insurance"), distractors=DistractorParams(1, 3), **kw)


def test_the_example_declares_a_domain_of_tools():
    example = worked_example()
    assert example.DOMAIN == "support" and len(example.TOOLS) >= 2
    assert all(isinstance(t, ToolDef) and t.domain == example.DOMAIN for t in example.TOOLS)
    assert all(isinstance(s, Slot) for s in example.SLOTS)
    assert "support" not in DOMAINS and not set(TOOLS_BY_NAME) & {t.name for t in example.TOOLS}


def test_registered_everywhere_then_gone(support):
    names = [t.name for t in support.TOOLS]
    assert [t.name for t in TOOLS[-len(names):]] == names and DOMAINS[-1] == "support"
    assert all(TOOLS_BY_NAME[n] is t and SIMULATORS[n] is t.simulate for n, t in zip(names, support.TOOLS))
    assert LABELS["ticket_id"] == "ticket number"


def test_schemas_pass_the_tool_checks(support):
    infos = tool_infos([t.schema() for t in support.TOOLS])
    assert schema_error(infos) is None
    assert all(info.contract_ok and info.validator is not None for _, info in infos)
    good = {"tool_calls": [{"name": "get_ticket_status", "arguments": {"ticket_id": "TK12345"}}]}
    assert arguments_error(infos, good) is None
    bad = {"tool_calls": [{"name": "get_ticket_status", "arguments": {"ticket_id": "12345"}}]}
    assert "ticket_id" in arguments_error(infos, bad)


def test_same_call_same_result(support):
    call = {"customer_id": "C123456", "topic": "login", "urgent": False}
    first = simulate("open_ticket", call)
    assert first == simulate("open_ticket", dict(call)) and re.fullmatch(r"TK\d{5}", first["ticket_id"])
    assert json.loads(json.dumps(first)) == first
    assert simulate("get_ticket_status", {"ticket_id": "TK12345"}) == simulate("get_ticket_status",
                                                                                {"ticket_id": "TK12345"})


def test_generator_makes_every_turn_type_with_it(support):
    params = _params(sizes={"train": 60, "test_task": 120}, turn_mix=dict.fromkeys(TURN_TYPES, 1.0))
    splits = dict(generate(params))
    ours = [e for e in splits["test_task"] if e.domain == "support"]
    assert {e.turn_type for e in ours} == set(TURN_TYPES)
    support_names = {t.name for t in support.TOOLS}
    assert not any(support_names & set(e.tool_names) for e in splits["train"])  # held out of train
    for e in ours:
        assert Example.from_dict(json.loads(e.to_json())) == e  # the contract takes it as written
        infos = tool_infos(list(e.tools))
        assert schema_error(infos) is None and support_names <= set(e.tool_names)
        calls = [{"name": c.name, "arguments": c.arguments} for c in e.target.tool_calls or ()]
        assert arguments_error(infos, {"tool_calls": calls}) is None, e.id
        assert "{" not in (e.target.content or ""), e.id  # answer and question templates fully filled
    called = {c.name for e in ours for c in e.target.tool_calls or ()}
    assert called == support_names


def test_episodes_with_it_play_on_the_tool_environment(support):
    params = _params(episode_sizes={"test_task": 40}, episode_mix=dict.fromkeys(EPISODE_KINDS, 1.0))
    specs = [s for _, split in generate_episodes(params) for s in split if s.domain == "support"]
    assert {s.kind for s in specs} >= {"single", "clarify", "parallel"}
    for spec in specs:
        env = ToolEnvironment(max_turns=2, max_tool_calls=max(1, len(spec.gold_calls)))
        gold_conversation(spec, env)
        assert [c.name for c in env.calls] == [c.name for c in spec.gold_calls] and env.invalid_calls == 0
        assert env.done and not env.failed


def test_tool_environment_runs_a_call_and_asks_the_user(support):
    tools = tuple(t.schema() for t in support.TOOLS)
    spec = EpisodeSpec(id="ep-support", user="Any update on my ticket?", tools=tools, held={"ticket_id": "TK12345"})
    env = ToolEnvironment(spec)
    assert env.respond("Which ticket number?") == "The ticket number is TK12345."
    result = env.call("get_ticket_status", '{"ticket_id": "TK12345"}')
    assert json.loads(result) == simulate("get_ticket_status", {"ticket_id": "TK12345"}) and env.calls[0].valid
    assert json.loads(env.call("get_ticket_status", {"ticket_id": 7}))["kind"] == "invalid_arguments"


def test_with_tools_restores_the_catalog_when_the_block_fails():
    example, before = worked_example(), _state()
    with pytest.raises(RuntimeError), with_tools(*example.TOOLS, slots=example.SLOTS):
        assert "open_ticket" in TOOLS_BY_NAME
        raise RuntimeError("boom")
    assert _state() == before


def test_register_refuses_what_the_generator_could_not_use():
    example = worked_example()
    before = _state()
    with pytest.raises(ValueError, match="ticket_id"):  # its slot left out: no sampler, no label
        register(*example.TOOLS)
    with pytest.raises(ValueError, match="already registered"):
        register(TOOLS_BY_NAME["get_order_status"])
    assert _state() == before
    with pytest.raises(ValueError, match="leaves out required"):
        ToolDef(**{**_fields(example.TOOLS[1]), "requests": ("What's new?",)})


def _fields(tool: ToolDef) -> dict:
    return {f: getattr(tool, f) for f in tool.__dataclass_fields__}
