"""Agent environments (issue #13, part 2): call semantics, the simulated user, bounds, reset, determinism, and a
fuzz test (>= 10,000 random and malformed calls: no exception, every result a JSON string)."""
from __future__ import annotations

import contextlib
import copy
import json
import random
import time
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thinkact.env.spec import EpisodeSpec
from thinkact.env.tool_env import ERROR_KINDS, CallRecord, ToolEnvironment
from thinkact.env.user import LIMIT_REPLY, NOTHING_TO_ADD, clarification_reply
from thinkact.contract import ToolCall
from thinkact.world.catalog import TOOLS, TOOLS_BY_NAME
from thinkact.data.generator import SplitBuilder
from thinkact.world.simulators import SIMULATORS, simulate
from thinkact.world.slots import sample_value
from thinkact.errors import DataError

ORDER = {"order_id": "ORD-12345"}
OFFERED = ("get_order_status", "track_shipment", "cancel_order", "book_hotel")


def order_spec(held=None):
    """An order episode offering four real catalog tools; the user may have held back the order number."""
    return EpisodeSpec(id="ep-order", user="Can you check on my order?",
                       tools=tuple(TOOLS_BY_NAME[n].schema() for n in OFFERED),
                       gold_calls=(ToolCall("get_order_status", ORDER),), facts=("ORD-12345",),
                       held=ORDER if held is None else held)


def _variant(**parameters):  # get_order_status renamed or stricter, as imported tools may be
    tool = copy.deepcopy(TOOLS_BY_NAME["get_order_status"].schema())
    name = tool["function"]["name"] = parameters.pop("name", "get_order_status")
    tool["function"]["parameters"].update(parameters)
    return EpisodeSpec(id="ep-variant", user="Status?", tools=(tool,), gold_calls=(ToolCall(name, ORDER),))


def _env(spec=None, **kw):
    env = ToolEnvironment(**kw)
    env.reset(episode=(spec or order_spec()).to_json())
    return env


def _error(result):
    assert set(obj := json.loads(result)) == {"error", "kind"} and isinstance(obj["error"], str) and obj["error"]
    return obj["kind"]


# -- the spec -----------------------------------------------------------------------------------------------
def test_spec_round_trips_through_json():
    spec = order_spec()
    assert EpisodeSpec.from_json(spec.to_json()) == spec == EpisodeSpec.coerce(json.loads(spec.to_json()))
    assert EpisodeSpec.from_json(spec.to_json()).to_json() == spec.to_json() and spec.tool_names == list(OFFERED)


@pytest.mark.parametrize("change, field", [
    (lambda d: d.pop("user"), None), (lambda d: d.update(extra=1), None),
    (lambda d: d.update(tools=d["tools"] * 2), "tools"),
    (lambda d: d.update(gold_calls=[{"name": "get_weather", "arguments": {}}]), "gold_calls"),
    (lambda d: d.update(gold_calls=[{"name": "get_order_status", "arguments": {"order_id": 5}}]), "gold_calls")])
def test_spec_rejects_malformed(change, field):
    d = order_spec().to_dict()
    change(d)
    with pytest.raises(DataError) as info:
        EpisodeSpec.from_dict(d)
    assert field is None or info.value.field == field
    with pytest.raises(DataError):
        EpisodeSpec.from_json("{not json")


# -- calls --------------------------------------------------------------------------------------------------
def test_valid_call_returns_the_simulated_result_as_in_generated_data_and_is_recorded():
    env = _env()
    result = env.call("get_order_status", json.dumps(ORDER))
    expected = SplitBuilder._tool_msg(TOOLS_BY_NAME["get_order_status"], simulate("get_order_status", ORDER))
    assert result == expected["content"] and json.loads(result)["order_id"] == "ORD-12345"
    assert env.call("get_order_status", dict(ORDER)) == result  # a dict gives the same result as its JSON
    assert env.calls[0] == CallRecord("get_order_status", ORDER, result, None) == env.calls[1]
    call = {"type": "function", "function": {"name": "get_order_status", "arguments": json.dumps(ORDER)}}
    assert env.call_raw(json.dumps(call)) == env.call_raw(call["function"]) == result  # raw calls: both shapes
    assert env.calls[0].valid and env.invalid_calls == 0 and not env.done


NOT_JSON = [{"order_id": float("nan")}, {"order_id": {1, 2}}, 42, '{"a": NaN}', '{"amount": 1e999}', '{"order_id": 1']
RAW = [["get_order_status"], 7, None, "not json", '"text"', "{]", {"arguments": "{}"}, {"function": {"arguments": {}}}]


@pytest.mark.parametrize("name, arguments, kind", [
    ("get_weather", "{}", "unknown_tool"), ("get_balance", {"account_id": "AC123456"}, "unknown_tool"),  # not offered
    ("get_order_status" * 1000, ORDER, "unknown_tool"),
    ("get_order_status", {"order_id": 12345}, "invalid_arguments"), ("get_order_status", {}, "invalid_arguments"),
    ("get_order_status", {"order_id": "12345"}, "invalid_arguments"),  # wrong type, missing, pattern
    ("cancel_order", {"order_id": "ORD-12345", "reason": "bored"}, "invalid_arguments"),  # enum
    ("book_hotel", {"city": "Paris", "check_in": "2026-02-30", "nights": 2}, "invalid_arguments"),  # date format
    ("get_order_status", '["ORD-12345"]', "malformed_call"), ("", "{}", "malformed_call"), (None, {}, "malformed_call"),
    *[("get_order_status", a, "malformed_call") for a in NOT_JSON], *[(RAW, a, "malformed_call") for a in RAW]])
def test_bad_call_returns_a_json_error_of_its_kind(name, arguments, kind):
    env = _env()  # name RAW: `arguments` is a raw call that is not an object or names no tool
    assert _error(env.call_raw(arguments) if name is RAW else env.call(name, arguments)) == kind
    assert env.invalid_calls == 1 and env.calls[0].error == kind and not env.calls[0].valid
    assert not env.done and not env.failed and (name is not RAW or env.calls[0].name is None)


def test_extra_property_is_invalid_only_where_the_schema_forbids_it():
    extra = {**ORDER, "priority": "high"}
    assert _env().call("get_order_status", extra).startswith('{"order_id"')  # the catalog schema allows extras
    env = _env(_variant(additionalProperties=False))
    assert _error(env.call("get_order_status", extra)) == "invalid_arguments"
    assert "priority" in json.loads(env.calls[0].result)["error"]


def test_simulator_failure_or_missing_simulator_is_a_tool_error(monkeypatch):
    assert _error(_env(_variant(name="unsimulated_tool")).call("unsimulated_tool", ORDER)) == "tool_error"
    assert _error(ToolEnvironment().call("get_order_status", ORDER)) == "unknown_tool"  # before any reset
    monkeypatch.setitem(SIMULATORS, "get_order_status", lambda a, r: 1 / 0)
    env = _env()
    result = env.call("get_order_status", ORDER)
    assert _error(result) == "tool_error" and "ZeroDivisionError" in result and env.invalid_calls == 1


# -- the simulated user -------------------------------------------------------------------------------------
def test_clarifying_question_gets_the_held_value_then_the_answer_ends_the_episode():
    env = _env()
    assert env.outstanding == ("order_id",)
    assert env.respond("Sure, what is the order number?") == "The order number is ORD-12345."
    assert env.turns[0].kind == "clarify" and env.outstanding == () and not env.done
    assert json.loads(env.call("get_order_status", ORDER))["order_id"] == "ORD-12345"
    assert env.respond("Order ORD-12345 is shipped.") == NOTHING_TO_ADD
    assert env.done and not env.failed and env.final_answer == "Order ORD-12345 is shipped."
    assert [t.kind for t in env.turns] == ["clarify", "answer"]
    assert _error(env.call("get_order_status", ORDER)) == "limit" and not env.failed  # after the end


def test_text_with_nothing_held_gets_the_fixed_reply():
    env = _env(order_spec(held={}))
    assert env.respond("Which order do you mean?") == NOTHING_TO_ADD
    assert env.turns[0].kind == "answer" and env.done and not env.failed
    assert env.respond("Anything else?") == NOTHING_TO_ADD and env.turns[1].kind == "ended"
    assert clarification_reply({"order_id": "ORD-12345", "reason": "duplicate"}) == \
        "The order number is ORD-12345. The reason is duplicate."
    address = {"street": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "France"}
    assert clarification_reply({"address": address}) == "The address is 1 Main St, Paris, 75001, France."


# -- bounds, reset, determinism -----------------------------------------------------------------------------
def test_bounds_end_the_episode_as_failed():
    env = _env(max_tool_calls=2)
    env.call("get_order_status", ORDER), env.call("nope", "{}")
    assert not env.done and _error(env.call("get_order_status", ORDER)) == "limit"
    assert env.done and env.failed and len(env.calls) == 3 and env.calls[-1].error == "limit"
    assert _error(env.call("get_order_status", ORDER)) == "limit"
    env = _env(max_turns=1)
    env.respond("What is the order number?")
    assert env.respond("Anything else?") == LIMIT_REPLY
    assert env.done and env.failed and env.final_answer is None and env.turns[-1].kind == "limit"
    with pytest.raises(ValueError):
        ToolEnvironment(max_turns=0)


def test_reset_gives_a_fresh_state_from_a_data_set_row():
    env = _env(max_tool_calls=1)
    env.respond("Order number?"), env.call("get_order_status", ORDER), env.call("get_order_status", ORDER)
    assert env.done and env.failed
    row = {"prompt": [{"role": "user", "content": "Hi"}], "episode": order_spec().to_json(), "tools": "[]"}
    assert env.reset(**row) is None  # TRL: the prompt column already holds the user message
    assert (env.calls, env.turns, env.done, env.failed, env.outstanding) == ((), (), False, False, ("order_id",))
    assert env.reset(episode=order_spec().to_dict()) == "Can you check on my order?"  # no prompt: TRL appends it
    assert env.reset(order_spec()) == "Can you check on my order?"
    for bad in ({"prompt": []}, {"episode": '{"id": "x"}'}):
        with pytest.raises(DataError):
            env.reset(**bad)


def _script(env):
    out = [env.call("get_order_status", ORDER), env.call("track_shipment", {**ORDER, "carrier": "dhl"}),
           env.respond("Which order?"), env.call("cancel_order", '{"order_id": "ORD-54321", "reason": "other"}'),
           env.call_raw("{oops"), env.call("book_hotel", {"city": "Oslo", "check_in": "2026-03-04", "nights": 3}),
           env.respond("Done.")]
    return out, env.calls, env.turns


def test_same_calls_same_results():
    first, results = _env(), _script(_env())
    assert _script(first) == results
    first.reset(episode=order_spec().to_json())  # after a reset the same script gives the same results again
    assert _script(first) == results


# -- fuzz ---------------------------------------------------------------------------------------------------
def _text(r: random.Random) -> str:
    """Random text: ASCII, control characters, other planes, lone surrogates, emoji, JSON punctuation."""
    ranges = [(32, 126), (0, 31), (0xA0, 0x2FFF), (0xD800, 0xDFFF), (0x1F300, 0x1FAFF), (34, 34), (44, 44), (58, 58),
              (91, 93), (123, 125)]
    return "".join(chr(r.randint(*r.choice(ranges))) for _ in range(r.randint(0, 20)))


def _value(r: random.Random, depth: int = 0):
    """A random JSON value: any type, nested up to 5 deep, huge integers, odd floats, unicode, lone surrogates."""
    kind = r.randrange(8 if depth < 4 else 6)
    if kind >= 6:
        return [_value(r, depth + 1) for _ in range(r.randint(0, 4))] if kind == 6 else \
            {_text(r): _value(r, depth + 1) for _ in range(r.randint(0, 4))}
    return [r.choice([None, True, False]), r.randint(-10**6, 10**6), r.choice([-1, 1]) * 10 ** r.randint(19, 400),
            r.choice([r.uniform(-1e9, 1e9), 1e308, -0.0, 5e-324]), _text(r),
            r.choice(["NaN", "Infinity", "ORD-12345", "2026-02-30", "", "\ud800"])][kind]


NASTY = ["", "null", "NaN", "-Infinity", '{"order_id": NaN}', "[" * 5000, '{"a":' * 3000, '{"n": ' + "9" * 5000 + "}",
         '"\\ud800"', '{"\\udfff": 1}', "{'order_id': 'ORD-12345'}", "{}}", "\x00", "\ufeff{}", "1e999999"]


def _fuzz_specs():
    """One episode per catalog tool (sampled valid arguments, three other tools offered), one unsimulated tool."""
    r, specs = random.Random(7), []
    for i, tool in enumerate(TOOLS):
        args = {k: sample_value(k, s, r, "train") for k, s in tool.properties.items()}
        others = r.sample([t for t in TOOLS if t is not tool], 3)
        specs.append(EpisodeSpec(id=f"fuzz-{i}", user="Please help.", tools=tuple(t.schema() for t in [tool, *others]),
                                 gold_calls=(ToolCall(tool.name, args),), held={tool.anchor: args[tool.anchor]}))
    return [*specs, _variant(name="unsimulated_tool")]


def _arguments(r: random.Random, spec: EpisodeSpec):
    """Valid, near-valid (one argument dropped, changed or added) or malformed arguments, as JSON text or objects."""
    gold = copy.deepcopy(spec.gold_calls[0].arguments)
    mode, key = r.randrange(10), r.choice(sorted(gold))
    if mode == 2:
        gold.pop(key) if r.random() < 0.3 else gold.update({key: _value(r)})
    if mode <= 2:
        return json.dumps(gold) if mode == 1 else gold
    if mode == 6:  # Python values that JSON cannot carry
        loop: dict = {key: r.choice([float("nan"), float("inf"), 10**5000, b"x"])}
        loop["self"] = loop if r.random() < 0.5 else {1, 2}
        return loop
    value = {**gold, _text(r): _value(r)} if mode == 3 else _value(r)
    if mode in (4, 5):
        return r.choice(NASTY) if mode == 4 else _text(r)
    try:
        return json.dumps(value, ensure_ascii=r.random() < 0.5) if mode == 7 else value
    except ValueError:  # an integer too long for str()
        return value


def _name(r: random.Random, spec: EpisodeSpec):
    mode = r.randrange(10)  # mostly the gold tool, else any catalog tool, random text or no name at all
    return spec.tools[0]["function"]["name"] if mode <= 4 else r.choice(TOOLS).name if mode <= 6 else \
        r.choice([_text(r), "", None, 7, ["get_order_status"], {"name": "x"}])


def _check(env: ToolEnvironment, result) -> str:
    assert isinstance(result, str) and result.isascii()
    obj, record = json.loads(result), env.calls[-1]
    assert isinstance(obj, dict) and record.result == result
    if "error" in obj:
        assert obj["kind"] in ERROR_KINDS and record.error == obj["kind"]
        return obj["kind"]
    assert record.valid and obj == simulate(record.name, record.arguments)
    return "ok"


def test_fuzz_ten_thousand_random_and_malformed_calls():
    r, specs, kinds, started = random.Random(13), _fuzz_specs(), Counter(), time.perf_counter()
    for n in range(10_000):
        if n % 50 == 0:  # every spec in turn; a few episodes hit the call bound
            env = ToolEnvironment(max_tool_calls=5 if n % 500 == 0 else 1000, max_turns=r.choice([1, 3]))
            env.reset(episode=specs[n // 50 % len(specs)].to_json())
        if r.random() < 0.1:
            call = {"name": _name(r, env.spec), "arguments": _arguments(r, env.spec)}
            raw = r.choice([call, {"type": "function", "function": call}, _value(r), _text(r)])
            with contextlib.suppress(TypeError, ValueError):
                raw = json.dumps(raw) if r.random() < 0.5 else raw
            result = env.call_raw(raw)
        else:
            result = env.call(_name(r, env.spec), _arguments(r, env.spec))
        kinds[_check(env, result)] += 1
        if r.random() < 0.005:  # texts: clarifications, answers (which end the episode), the turn bound
            assert isinstance(env.respond(_text(r)), str)
    assert sum(kinds.values()) == 10_000 and set(kinds) == {"ok", *ERROR_KINDS} - {"unavailable"}, kinds  # the simulators always answer
    assert min(kinds["ok"], kinds["invalid_arguments"], kinds["malformed_call"]) > 500 and kinds["limit"] < 2000, kinds
    assert time.perf_counter() - started < 30


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(), lambda inner: st.lists(
    inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.one_of(st.sampled_from([t.name for t in TOOLS]), st.text()),
       arguments=st.one_of(st.text(), _JSON, _JSON.map(json.dumps)))
def test_any_call_gives_a_json_string(name, arguments):
    env = ToolEnvironment(order_spec(), max_tool_calls=3)
    assert {_check(env, env.call(name, arguments)) for _ in range(4)} <= {"ok", *ERROR_KINDS}
    assert env.done and env.failed
