"""The data contract: round trip, and one clear error (file, line, field) for every malformed line."""
from __future__ import annotations

import json

import pytest

from thinkact.contract import Example, parse_line, read_jsonl, write_jsonl
from thinkact.errors import DataError

GOOD = {
    "id": "ex-1", "domain": "orders", "split": "train",
    "tools": [{"type": "function", "function": {"name": "get_order_status", "description": "d",
               "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}],
    "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "Where is ORD-12345?"}],
    "target": {"tool_calls": [{"name": "get_order_status", "arguments": {"order_id": "ORD-12345"}}]},
    "reasoning": "call it", "turn_type": "call",
}


def test_round_trip_is_exact():
    ex = Example.from_dict(GOOD)
    assert ex.target.is_call and ex.target.tool_calls[0].arguments == {"order_id": "ORD-12345"}
    again = parse_line(ex.to_json())
    assert again == ex and again.to_json() == ex.to_json()
    assert json.loads(ex.to_json()) == GOOD


def test_accepted_alternatives_survive_round_trip():
    d = json.loads(json.dumps(GOOD))
    d["target"]["tool_calls"][0]["accepted"] = {"order_id": {"values": ["ORD-12345", "12345"], "optional": False}}
    assert parse_line(json.dumps(d)).target.tool_calls[0].accepted["order_id"]["values"] == ["ORD-12345", "12345"]


def test_write_and_read_file(tmp_path):
    path = tmp_path / "x.jsonl"
    assert write_jsonl(path, [Example.from_dict(GOOD)] * 3) == 3
    assert [e.id for e in read_jsonl(path)] == ["ex-1"] * 3


def _mutate(fn):
    d = json.loads(json.dumps(GOOD))
    fn(d)
    return json.dumps(d)


@pytest.mark.parametrize("line, field, words", [
    ('{"id": "x", ', None, "invalid JSON"),
    ("[1, 2]", None, "expected a JSON object"),
    (_mutate(lambda d: d.pop("messages")), None, "'messages' is a required property"),
    (_mutate(lambda d: d.update(id=7)), "id", "not of type 'string'"),
    (_mutate(lambda d: d["messages"].append({"role": "robot", "content": "x"})), "messages.2.role", "robot"),
    (_mutate(lambda d: d.update(target={"content": "a", "tool_calls": [{"name": "f", "arguments": {}}]})), "target", "valid under each"),
    (_mutate(lambda d: d.update(target={})), "target", "not valid under any"),
    (_mutate(lambda d: d["target"]["tool_calls"][0].update(arguments="x")), "target.tool_calls.0.arguments", "not of type 'object'"),
    (_mutate(lambda d: d.update(turn_type="dance")), "turn_type", "dance"),
    (_mutate(lambda d: d.update(extra=1)), None, "'extra' was unexpected"),
])
def test_malformed_lines_name_file_line_and_field(line, field, words):
    with pytest.raises(DataError) as err:
        parse_line(line, "data/train.jsonl", 12)
    msg = str(err.value)
    assert msg.startswith("data/train.jsonl:12: ")
    assert words in msg
    assert err.value.field == field


def test_non_utf8_and_huge_lines(tmp_path):
    with pytest.raises(DataError, match="not valid UTF-8"):
        parse_line(b'{"id": "\xff"}', "f.jsonl", 3)
    with pytest.raises(DataError, match="over the"):
        parse_line(b"x" * 1_000_001, "f.jsonl", 4)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(json.dumps(GOOD).encode() + b"\n\n" + b'{"id": 1\n')
    with pytest.raises(DataError, match=r"bad.jsonl:3: invalid JSON"):
        read_jsonl(bad)


def test_missing_file_says_how_to_make_it(tmp_path):
    with pytest.raises(DataError, match="thinkact data generate"):
        read_jsonl(tmp_path / "nope.jsonl")
