"""Logged OpenAI-format conversations as agent episodes (thinkact.importers.openai_episodes, issue #26 item 2).

Each kind of conversation becomes the expected spec (gold calls, facts, held, kind); other shapes give their
reason; an undeclared tool stops the import with nothing written; the CLI names a broken line and writes
nothing; built-in episodes logged as OpenAI conversations come back as the same episodes and pass the gate's
row and episode checks (the GX run itself is the one slow test).

    python -m pytest tests/test_import_episodes.py -m "not slow"
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from thinkact.contract import read_jsonl
from thinkact.env.spec import EpisodeSpec, episode_path, read_episodes
from thinkact.errors import DataError
from thinkact.importers import import_with_episodes
from thinkact.importers.openai_episodes import import_openai_episodes

FN = "function"


def _tool(name: str, props: dict, required: list[str]) -> dict:
    return {"type": FN, FN: {"name": name, "description": name.replace("_", " "),
                             "parameters": {"type": "object", "properties": props, "required": required}}}


S = {"type": "string"}
WEATHER = _tool("get_weather", {"city": S, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, ["city"])
BOOKING = _tool("get_booking", {"booking_ref": S}, ["booking_ref"])
FLIGHTS = _tool("search_flights", {"origin": S, "destination": S, "date": S, "passengers": {"type": "integer"}},
                ["origin", "destination", "date"])
ORDER = _tool("get_order", {"order_id": S}, ["order_id"])


def _call(name: str, args: dict, cid: str | None = None) -> dict:
    call = {"type": FN, FN: {"name": name, "arguments": json.dumps(args)}}
    return {**call, "id": cid} if cid else call


def _calls(*calls: dict, text: str | None = None) -> dict:
    return {"role": "assistant", "content": text, "tool_calls": list(calls)}


def _result(content, cid: str | None = None) -> dict:
    m = {"role": "tool", "content": content if isinstance(content, str) else json.dumps(content)}
    return {**m, "tool_call_id": cid} if cid else m


def _user(text: str) -> dict:
    return {"role": "user", "content": text}


def _says(text: str) -> dict:
    return {"role": "assistant", "content": text}


def _line(cid: str, tools: list, *messages: dict) -> dict:
    return {"id": cid, "tools": tools, "messages": list(messages)}


GOOD = [
    _line("single", [WEATHER], {"role": "system", "content": "Be brief."}, _user("Weather in Lisbon, in celsius?"),
          _calls(_call("get_weather", {"city": "Lisbon", "unit": "celsius"}, "c1")),
          _result({"temp": 21, "sky": "sunny", "wind": 5.0, "alert": False}, "c1"),
          _says("It is 21 °C and sunny in Lisbon.")),
    _line("parallel", [WEATHER], _user("Compare the weather in Paris and Berlin."),
          _calls(_call("get_weather", {"city": "Paris"}, "a"), _call("get_weather", {"city": "Berlin"}, "b")),
          _result({"temp": 12, "sky": "rain"}, "b"), _result({"temp": 17, "sky": "cloudy"}, "a"),  # answered by id
          _says("Paris: 17 °C and cloudy. Berlin: 12 °C with rain.")),
    _line("chain", [BOOKING, WEATHER], _user("Show booking DL1646. And the weather there?"),
          _calls(_call("get_booking", {"booking_ref": "DL1646"})), _result({"city": "Geneva", "date": "2026-01-02"}),
          _calls(_call("get_weather", {"city": "Geneva"})), _result({"temp": -4, "sky": "rainy"}),
          _says("It is -4 degrees and rainy in Geneva.")),
    _line("clarify", [FLIGHTS], _user("Find me a flight to Tokyo."),
          _says("Where are you flying from, and on which date?"), _user("From Madrid on 2025-05-02, two of us."),
          _calls(_call("search_flights", {"origin": "Madrid", "destination": "Tokyo", "date": "2025-05-02",
                                          "passengers": 2})),
          _result('[{"flight_id": "IB6801", "price": 912}]'), _says("Flight IB6801 costs 912 EUR per person.")),
    _line("no_tool", [WEATHER], _user("Hi there!"), _says("Hello! How can I help?")),
    _line("sequence", [WEATHER], _user("Weather in Oslo? Then Rome."),
          _calls(_call("get_weather", {"city": "Oslo"})), _result({"temp": 3}),
          _calls(_call("get_weather", {"city": "Rome"})), _result({"temp": 19}),
          _says("Oslo is at 3 degrees, Rome at 19.")),
    _line("text", [ORDER], _user("Where is order ORD-123?"), _calls(_call("get_order", {"order_id": "ORD-123"})),
          _result("Order ORD-123 shipped on 2025-01-02 via DHL, 2 parcels."),
          _says("Your order ORD-123 shipped via DHL on 2025-01-02.")),
]

EXPECTED = {  # id: (kind, facts, held)
    "single": ("single", ["21", "sunny"], {}),
    "parallel": ("parallel", ["17", "cloudy", "12", "rain"], {}),
    "chain": ("chain", ["Geneva", "-4", "rainy"], {}),
    "clarify": ("clarify", ["IB6801", "912"], {"origin": "Madrid", "date": "2025-05-02"}),
    "no_tool": ("no_tool", [], {}),
    "sequence": ("parallel", ["3", "19"], {}),
    "text": ("single", ["2025-01-02", "DHL"], {}),  # ORD-123 is the user's own
}

SKIPS = [
    (_line("ends_with_result", [WEATHER], _user("Oslo?"), _calls(_call("get_weather", {"city": "Oslo"})),
           _result({"temp": 3})), "no final answer"),
    (_line("ends_with_call", [WEATHER], _user("Oslo?"), _calls(_call("get_weather", {"city": "Oslo"}))),
     "a call without a result"),
    (_line("unanswered", [WEATHER], _user("Oslo?"), _calls(_call("get_weather", {"city": "Oslo"})),
           _says("It is cold.")), "a call without a result"),
    (_line("two_asks", [WEATHER], _user("Weather?"), _says("Where?"), _user("Hmm."), _says("Which city?"),
           _user("Oslo."), _calls(_call("get_weather", {"city": "Oslo"})), _result({"temp": 3}), _says("3 degrees.")),
     "several user turns beyond one clarification"),
    (_line("follow_up", [WEATHER], _user("Oslo?"), _calls(_call("get_weather", {"city": "Oslo"})),
           _result({"temp": 3}), _says("3 degrees."), _user("And Rome?"), _says("No idea.")),
     "a user turn after a tool call"),
    (_line("error", [WEATHER], _user("Oslo?"), _calls(_call("get_weather", {"city": "Oslo"})),
           _result({"error": "service down"}), _says("Sorry, try later.")),
     "the result of call 1 (get_weather) is an error"),
    (_line("vague_reply", [WEATHER], _user("Weather?"), _says("Where?"), _user("Somewhere nice."),
           _calls(_call("get_weather", {"city": "Oslo"})), _result({"temp": 3}), _says("Oslo: 3 degrees.")),
     "the user's reply gives no argument of a call"),
    (_line("chat", [], _user("Hi"), _says("Hello!"), _user("Bye"), _says("Bye!")),
     "several user turns without a tool call"),
    (_line("stray_result", [WEATHER], _user("Hi"), _result("x"), _says("Hello!")), "a tool result answers no call"),
    (_line("bad_args", [WEATHER], _user("Oslo in kelvin?"),
           _calls(_call("get_weather", {"city": "Oslo", "unit": "kelvin"})), _result({"temp": 276}),
           _says("276 K.")), "call 'get_weather': arguments.unit: 'kelvin' is not one of"),
]


def _write(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8")
    return path


def test_each_kind_becomes_the_expected_spec(tmp_path):
    found = import_openai_episodes(_write(tmp_path / "logs.jsonl", GOOD), split="test_id")
    assert found.conversations == len(GOOD) and not found.skipped
    by_id = {s.id: s for s in found.episodes}
    for cid, (kind, facts, held) in EXPECTED.items():
        spec = by_id[cid]
        assert (spec.kind, list(spec.facts), spec.held) == (kind, facts, held), cid
        assert spec.split == "test_id" and spec.domain == "logs"
    single = by_id["single"]
    assert single.system == "Be brief." and single.user == "Weather in Lisbon, in celsius?"
    assert [c.to_dict() for c in single.gold_calls] == [{"name": "get_weather",
                                                          "arguments": {"city": "Lisbon", "unit": "celsius"}}]
    assert [c.arguments["city"] for c in by_id["parallel"].gold_calls] == ["Paris", "Berlin"]
    clarify = by_id["clarify"]
    assert clarify.question == "Where are you flying from, and on which date?"
    assert clarify.answer == "Flight IB6801 costs 912 EUR per person."
    assert by_id["no_tool"].gold_calls == () and by_id["no_tool"].facts == ()
    assert {e.turn_type for e in found.examples} == {"call", "parallel", "call_from_history", "answer", "clarify",
                                                     "no_tool"}


@pytest.mark.parametrize("line, reason", SKIPS, ids=[line["id"] for line, _ in SKIPS])
def test_conversations_that_are_not_episodes_say_why(tmp_path, line, reason):
    found = import_openai_episodes(_write(tmp_path / "logs.jsonl", [GOOD[0], line]))
    assert [e.id for e in found.episodes] == ["single"]
    [skipped] = found.skipped
    assert skipped.where == f"{tmp_path / 'logs.jsonl'}:2" and skipped.id == line["id"]
    assert reason in skipped.reason


def test_an_undeclared_tool_stops_the_import_and_writes_nothing(tmp_path):
    bad = _line("x", [WEATHER], _user("Book it."), _calls(_call("book_flight", {"flight_id": "IB1"})),
                _result({"ok": True}), _says("Booked."))
    source = _write(tmp_path / "logs.jsonl", [GOOD[0], bad])
    out, episodes = tmp_path / "train.jsonl", tmp_path / "episodes" / "train.jsonl"
    out.write_text("kept\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        import_with_episodes(source, out, episodes)
    e = info.value
    assert (e.path, e.line, e.field) == (str(source), 2, "messages.1.tool_calls.0.function.name")
    assert "'book_flight' is not declared" in str(e) and "get_weather" in str(e)
    assert out.read_text(encoding="utf-8") == "kept\n" and not episodes.exists()


def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    from thinkact.cli import main

    monkeypatch.setattr(sys, "argv", ["thinkact", "data", "import", *args])
    with pytest.raises(SystemExit) as info:
        main()
    return info.value.code or 0, capsys.readouterr().err


def test_cli_names_a_broken_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    source = _write(tmp_path / "logs.jsonl", [GOOD[0], '{"id": "cut", "messages": [', GOOD[1]])
    out, episodes = tmp_path / "train.jsonl", tmp_path / "episodes" / "train.jsonl"
    code, err = _cli(monkeypatch, capsys, str(source), "--out", str(out), "--episodes", str(episodes))
    assert code == 2 and f"{source}:2" in " ".join(err.split())
    assert not out.exists() and not episodes.exists()


def test_cli_writes_turns_and_episodes_and_lists_the_skipped(tmp_path, monkeypatch, capsys):
    source = _write(tmp_path / "logs.jsonl", [*GOOD[:3], SKIPS[0][0]])
    out, episodes = tmp_path / "data" / "test_id.jsonl", episode_path(tmp_path / "data", "test_id")
    code, err = _cli(monkeypatch, capsys, str(source), "--out", str(out), "--episodes", str(episodes),
                     "--split", "test_id")
    text = " ".join(err.split())
    assert code == 0, err
    assert "4 conversations → 8 turns, 3 episodes; 1 not episodes:" in text
    assert f"{source}:4 (ends_with_result): no final answer" in text
    assert [s.id for s in read_episodes(episodes)] == ["single", "parallel", "chain"]
    assert {e.split for e in read_jsonl(out)} == {"test_id"}


@pytest.fixture(scope="module")
def logged_builtin(tmp_path_factory):
    """Built-in episodes (train, test_id) logged as OpenAI conversations, imported into a data folder."""
    from thinkact.config import load_params
    from thinkact.data.episode_gen import generate_episodes, gold_conversation

    root = tmp_path_factory.mktemp("logged")
    data = dataclasses.replace(load_params().data, sizes={"train": 6, "test_id": 6},
                               episode_sizes={"train": 25, "test_id": 10})
    specs = dict(generate_episodes(data))
    for split, group in specs.items():
        logs = _write(root / f"{split}_logs.jsonl", [{"id": s.id, "tools": list(s.tools),
                                                       "messages": gold_conversation(s)} for s in group])
        import_with_episodes(logs, root / "data" / f"{split}.jsonl", episode_path(root / "data", split), split=split)
    return root / "data", specs


def test_logged_builtin_episodes_come_back_and_pass_the_checks(logged_builtin):
    from thinkact.validation.episode_checks import ERROR_COLUMNS, episode_files, read_episode_rows
    from thinkact.validation.rows import ERROR_COLUMNS as ROW_ERRORS, read_rows

    folder, specs = logged_builtin
    for split, group in specs.items():
        back = {s.id: s for s in read_episodes(episode_path(folder, split))}  # EpisodeSpec.from_dict on each line
        assert list(back) == [s.id for s in group]
        for s in group:
            got = back[s.id]
            assert (got.kind, got.gold_calls, got.held, got.question, got.answer) == \
                (s.kind, s.gold_calls, s.held, s.question, s.answer)
            assert EpisodeSpec.from_json(got.to_json()) == got
    rows = read_episode_rows(episode_files(folder))
    assert len(rows) == 35 and [(r["where"], c, r[c]) for r in rows for c in ERROR_COLUMNS if r[c]] == []
    turns = read_rows(folder)
    assert [(r["where"], c, r[c]) for r in turns for c in ROW_ERRORS if r[c]] == []


@pytest.mark.slow
def test_an_imported_folder_passes_the_gate_with_the_import_overlay(logged_builtin):
    """The whole GX gate on train + test_id, with docs/data.md's validate overlay merged into params.yaml."""
    import yaml

    from thinkact.profiles import merge
    from thinkact.project import PROJECT_ROOT
    from thinkact.typed_yaml import build
    from thinkact.validation import validate
    from thinkact.validation.params import ValidateParams

    overlay = yaml.safe_load("""
validate:
  rows: {train: {min: 1}, test_id: {min: 1}, test_env: {min: 0}, test_task: {min: 0}}
  turn_share: {call: {min: 0, max: 1}, call_from_history: {min: 0, max: 1}, parallel: {min: 0, max: 1},
               answer: {min: 0, max: 1}, clarify: {min: 0, max: 1}, no_tool: {min: 0, max: 1}}
""")
    base = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    params = build(ValidateParams, merge(base, overlay)["validate"], "validate")
    report = validate(logged_builtin[0], params)
    assert report.success, report.summary()
