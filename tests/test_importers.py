"""Importers: BFCL (on the real files of the installed bfcl-eval) and OpenAI-style chat JSONL."""
from __future__ import annotations

import functools
import importlib
import json
import re
import sys
import types
import warnings
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from thinkact.contract import parse_line, read_jsonl
from thinkact.errors import DataError, ThinkactError
from thinkact.importers import import_to_file
from thinkact.importers.bfcl import (NO_TOOL_CONTENT, bfcl_categories, bfcl_raw, data_dir, import_bfcl,
                                     to_json_schema)
from thinkact.importers.openai import import_openai

FIXTURES = Path(__file__).parent / "fixtures"
REQUIRED_CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance",
                       "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance"]


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def bfcl() -> dict[str, list]:
    return {category: import_bfcl(category) for category in bfcl_categories()}


# --------------------------------------------------------------------------------------------- BFCL
def test_categories_cover_the_brief():
    assert set(REQUIRED_CATEGORIES) <= set(bfcl_categories())


@pytest.mark.parametrize("category", REQUIRED_CATEGORIES)
def test_counts_equal_source_records(bfcl, category):
    pattern = re.compile(rf"BFCL_v(\d+)_{category}\.json")
    files = {int(m.group(1)): p for p in data_dir().iterdir() if (m := pattern.fullmatch(p.name))}
    records = _records(files[max(files)])
    examples = bfcl[category]
    assert len(examples) == len(records) > 0
    assert [e.id for e in examples] == [r["id"] for r in records]
    assert all(e.source["id"] == e.id and e.source["format"] == "bfcl" and e.source["category"] == category
               for e in examples)
    assert {e.domain for e in examples} == {f"bfcl_{category}"}
    assert {e.split for e in examples} == {"test_task"}
    assert [e.messages for e in examples] == [r["question"][0] for r in records]


def test_turn_types(bfcl):
    for category, examples in bfcl.items():
        for e in examples:
            if "irrelevance" in category:
                assert e.turn_type == "no_tool" and e.target.content == NO_TOOL_CONTENT
            else:
                assert e.turn_type == ("parallel" if len(e.target.tool_calls) > 1 else "call")
                assert {c.name for c in e.target.tool_calls} <= set(e.tool_names)


def test_round_trip_through_contract(bfcl):
    for examples in bfcl.values():
        for e in examples:
            assert parse_line(e.to_json()).to_dict() == e.to_dict()


def test_tool_schemas_are_json_schema(bfcl):
    schemas = {json.dumps(t["function"]["parameters"], sort_keys=True)  # ~8,500 tools, ~3,000 distinct
               for examples in bfcl.values() for e in examples for t in e.tools}
    for schema in schemas:
        Draft202012Validator.check_schema(json.loads(schema))
    assert len(schemas) > 2000


def test_canonical_arguments_are_schema_valid_where_bfcl_answer_is(bfcl):
    """A canonical call may fail its schema only where no value BFCL accepts passes it (a BFCL defect)."""
    invalid, calls = [], 0
    for examples in bfcl.values():
        for e in examples:
            schemas = {t["function"]["name"]: t["function"]["parameters"] for t in e.tools}
            for call in e.target.tool_calls or ():
                calls += 1
                schema = schemas[call.name]
                for arg, acc in call.accepted.items():
                    assert (arg in call.arguments) == (not acc["optional"] and bool(acc["values"]))
                errors = list(Draft202012Validator(schema).iter_errors(call.arguments))
                extra = set(call.arguments) - set(schema.get("properties", {}))  # BFCL's checker rejects these
                if extra:
                    errors.append(f"not in the schema: {sorted(extra)}")
                for error in errors:
                    if isinstance(error, str):
                        continue
                    if error.validator == "required":
                        missing = set(schema["required"]) - set(call.arguments)
                        assert all(not call.accepted.get(m, {}).get("values") for m in missing), e.id
                    else:
                        arg = error.absolute_path[0]
                        prop = Draft202012Validator(schema["properties"][arg])
                        assert not any(prop.is_valid(v) for v in call.accepted[arg]["values"]), (e.id, arg)
                if errors:
                    invalid.append(f"{e.id}:{call.name}")
    warnings.warn(f"{len(invalid)} of {calls} BFCL answers do not fit their own schema: {invalid}")
    assert len(invalid) < 0.01 * calls


def test_accepted_alternatives_preserved(bfcl):
    by_id = {e.id: e for examples in bfcl.values() for e in examples}
    # {"base": [10], "height": [5], "unit": ["units", ""]}: unit may be left out, so the canonical call omits it
    (call,) = by_id["simple_python_0"].target.tool_calls
    assert call.name == "calculate_triangle_area"
    assert call.arguments == {"base": 10, "height": 5}
    assert call.accepted == {"base": {"values": [10], "optional": False},
                             "height": {"values": [5], "optional": False},
                             "unit": {"values": ["units"], "optional": True}}
    # "formatted": [true, ""] but the schema requires it: BFCL's checker rejects leaving it out
    (call,) = by_id["simple_python_17"].target.tool_calls
    assert call.arguments == {"number": 450, "formatted": True}
    assert call.accepted["formatted"] == {"values": [True], "optional": False}
    # a dict answer lists accepted values per key: every accepted dict is kept
    (call,) = by_id["simple_python_89"].target.tool_calls
    assert call.accepted["conditions"]["values"] == [
        {"department": "Science", "school": "Bluebird High School"},
        {"department": "Science", "school": "Bluebird HS"}]
    assert call.arguments["conditions"] == {"department": "Science", "school": "Bluebird High School"}
    assert call.accepted["fetch_limit"] == {"values": [0], "optional": True}
    # parallel: both calls kept, in order
    calls = by_id["live_parallel_0-0-0"].target.tool_calls
    assert [c.arguments for c in calls] == [{"location": "Beijing, China"}, {"location": "Shanghai, China"}]
    assert calls[0].accepted["unit"] == {"values": ["fahrenheit"], "optional": True}


class _AnyModel(dict):
    """Stands in for bfcl_eval's MODEL_CONFIG_MAPPING (which imports every model handler): keep "." in names."""

    def __missing__(self, key):
        return types.SimpleNamespace(underscore_to_dot=False)


@pytest.fixture
def bfcl_ast_checker(monkeypatch):
    stub = types.ModuleType("bfcl_eval.constants.model_config")
    stub.MODEL_CONFIG_MAPPING = _AnyModel()
    monkeypatch.setitem(sys.modules, "bfcl_eval.constants.model_config", stub)
    name = "bfcl_eval.eval_checker.ast_eval.ast_checker"
    monkeypatch.delitem(sys.modules, name, raising=False)
    from bfcl_eval.constants.enums import Language

    yield functools.partial(importlib.import_module(name).ast_checker, language=Language.PYTHON, model_name="thinkact")
    sys.modules.pop(name, None)  # it holds the stub: the next import gets a fresh module


def test_canonical_calls_pass_bfcl_ast_checker(bfcl, bfcl_ast_checker):
    """BFCL's own checker accepts every canonical call, except where BFCL's answer cannot pass it."""
    failed = []
    for category, examples in bfcl.items():
        if "irrelevance" in category:
            continue
        raw = bfcl_raw(category)
        for e in examples:
            output = json.loads(json.dumps([{c.name: c.arguments} for c in e.target.tool_calls]))
            result = bfcl_ast_checker(raw[e.id]["function"], output, raw[e.id]["ground_truth"], test_category=category)
            if not result["valid"]:
                schemas = {t["function"]["name"]: t["function"]["parameters"] for t in e.tools}
                defects = [m for c in e.target.tool_calls
                           for m in (set(schemas[c.name].get("required", [])) - set(c.arguments))
                           | (set(c.arguments) - set(schemas[c.name]["properties"]))]
                assert defects, (e.id, result)  # a required arg BFCL gives no value for, or one not in the schema
                failed.append(e.id)
    warnings.warn(f"{len(failed)} BFCL answers fail BFCL's own AST checker: {failed}")
    assert len(failed) < 10


def test_type_translation():
    bfcl_schema = {"type": "dict", "required": ["a"], "properties": {
        "a": {"type": "float"}, "b": {"type": "tuple", "items": {"type": "dict", "properties": {"c": {"type": "any"}}}},
        "d": {"type": "any", "description": "anything"}, "e": {"type": "array", "items": {"type": "integer"}}}}
    out = to_json_schema(bfcl_schema)
    assert out == {"type": "object", "required": ["a"], "properties": {
        "a": {"type": "number"}, "b": {"type": "array", "items": {"type": "object", "properties": {"c": {}}}},
        "d": {"description": "anything"}, "e": {"type": "array", "items": {"type": "integer"}}}}
    Draft202012Validator.check_schema(out)
    with pytest.raises(ValueError, match="unknown BFCL type"):
        to_json_schema({"type": "dict", "properties": {"x": {"type": "complex"}}})


def test_category_names():
    assert [e.id for e in import_bfcl("simple")] == [e.id for e in import_bfcl("simple_python")]
    assert {e.split for e in import_bfcl("parallel", split="test_id")} == {"test_id"}
    with pytest.raises(ThinkactError, match="valid: .*simple_python"):
        import_bfcl("nonsense")
    with pytest.raises(ThinkactError, match="not a single-turn Python category"):
        import_bfcl("simple_java")


def test_import_to_file(tmp_path):
    out = tmp_path / "bfcl.jsonl"
    n = import_to_file("bfcl", out, category="live_parallel")
    assert n == len(read_jsonl(out)) == len(import_bfcl("live_parallel"))
    with pytest.raises(ThinkactError, match="needs a category"):
        import_to_file("bfcl", out)


# ------------------------------------------------------------------------------------------- OpenAI
def test_openai_sample():
    examples = import_openai(FIXTURES / "openai_sample.jsonl")
    assert [e.id for e in examples] == ["weather-001:2", "weather-001:4", "weather-002:1", "weather-002:4",
                                        "openai_sample:3:1", "openai_sample:3:3", "openai_sample:3:5", "4:1"]
    by_id = {e.id: e for e in examples}
    first = by_id["weather-001:2"]
    assert [m["role"] for m in first.messages] == ["system", "user"]
    assert first.target.tool_calls[0].arguments == {"city": "Lisbon", "unit": "celsius"}  # parsed from a string
    assert first.turn_type == "call" and first.split == "train" and first.domain == "openai_sample"
    assert first.source == {"format": "openai", "file": "openai_sample.jsonl", "line": 1, "id": "weather-001",
                            "turn": 2}
    parallel = by_id["weather-002:1"]
    assert parallel.turn_type == "parallel"
    assert [(c.name, c.arguments) for c in parallel.target.tool_calls] == [
        ("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Berlin"})]
    answer = by_id["weather-002:4"]
    assert answer.target.content.startswith("Paris: 17") and answer.action == "answer"
    history_call = answer.messages[1]["tool_calls"][1]
    assert history_call["id"] == "call_b" and history_call["function"]["arguments"] == {"city": "Berlin"}
    assert json.loads(answer.messages[3]["content"]) == {"temp": 12, "sky": "rain"}  # a structured tool result
    assert by_id["openai_sample:3:5"].target.content.startswith("Flight IB6801")  # text parts joined
    last = by_id["4:1"]
    assert last.tool_names == ["book_flight"]  # tools given as a JSON string of bare functions
    assert last.reasoning == "The user gave the flight id, so I can book it directly."
    for e in examples:
        assert parse_line(e.to_json()).to_dict() == e.to_dict()
        for tool in e.tools:
            Draft202012Validator.check_schema(tool["function"]["parameters"])


def test_openai_malformed_fixture():
    with pytest.raises(DataError) as info:
        import_openai(FIXTURES / "openai_malformed.jsonl")
    message = str(info.value)
    assert "openai_malformed.jsonl:2" in message and "messages.1.tool_calls.0.function.arguments" in message
    assert info.value.line == 2


@pytest.mark.parametrize("line, field", [
    ('{"messages": [{"role": "user", "content": "hi"}', None),  # truncated JSON
    ('["not", "an", "object"]', None),
    ('{"tools": []}', "messages"),
    ('{"messages": [{"role": "robot", "content": "hi"}]}', "messages.0.role"),
    ('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": null}]}', "messages.1"),
    ('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": '
     '[{"type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}]}]}',
     "messages.1.tool_calls.0.function.arguments"),
    ('{"tools": "{oops", "messages": [{"role": "user", "content": "hi"}]}', "tools"),
])
def test_openai_malformed_lines(tmp_path, line, field):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'
                    + line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        import_openai(path)
    assert "bad.jsonl:2" in str(info.value)
    assert info.value.line == 2 and info.value.field == field


def test_openai_duplicate_ids_and_missing_file(tmp_path):
    path = tmp_path / "dup.jsonl"
    line = '{"id": "x", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
    path.write_text(line + "\n" + line, encoding="utf-8")
    with pytest.raises(DataError, match=r"dup.jsonl:3: field 'id': duplicate id 'x' \(first on line 1\)"):
        import_openai(path)
    with pytest.raises(DataError, match="file not found"):
        import_openai(tmp_path / "missing.jsonl")


def test_openai_import_to_file(tmp_path):
    out = tmp_path / "out.jsonl"
    assert import_to_file("openai", out, source=FIXTURES / "openai_sample.jsonl", split="test_env") == 8
    assert {e.split for e in read_jsonl(out)} == {"test_env"}
