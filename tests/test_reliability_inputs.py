"""Malformed input a user can hand over (issue #18, item 7): deeply nested JSON, NaN / Infinity, lone surrogates,
empty data files and BFCL records of the wrong shape — each one clear DataError naming the file, line or field,
never a library traceback. (Faults a kill or a broken folder causes: test_reliability_faults.py.)"""
from __future__ import annotations

import json

import pytest

from thinkact.contract import Example, read_jsonl, write_jsonl
from thinkact.errors import DataError

DEEP = "[" * 100_000 + "]" * 100_000  # RecursionError in json.loads
MID = "[" * 70 + "]" * 70            # parses, but deeper than contract.MAX_DEPTH


def good_line() -> dict:
    """One valid per-turn example (a call of get_order), the base every malformed-input case changes."""
    return {"id": "ex-1", "domain": "orders", "split": "test_id",
            "tools": [{"type": "function", "function": {"name": "get_order", "parameters": {
                "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}],
            "messages": [{"role": "user", "content": "Where is ORD-1?"}],
            "target": {"tool_calls": [{"name": "get_order", "arguments": {"order_id": "ORD-1"}}]}}


# ---------------------------------------------------- 7. deep nesting, NaN, surrogates, empty files (data)
@pytest.mark.parametrize("bad, words", [
    (DEEP, "nested more than 64 levels"),
    (MID, "nested more than 64 levels"),
    ("NaN", "NaN is not a JSON value"),
    ("-Infinity", "-Infinity is not a JSON value"),
    ("1e999", "out of range"),
    ('"\\ud800"', "lone surrogate"),
])
def test_validate_refuses_deep_nesting_nan_and_surrogates_naming_file_and_line(tmp_path, bad, words):
    from thinkact.validation.rows import read_rows

    good = json.dumps(good_line())
    path = tmp_path / "data.jsonl"
    path.write_text(good + "\n" + good[:-1] + f', "source": {{"x": {bad}}}}}\n', encoding="utf-8")
    rows = read_rows(path)
    assert [r["read_error"] is None for r in rows] == [True, False]
    assert rows[1]["where"] == "data.jsonl:2" and words in rows[1]["read_error"]
    with pytest.raises(DataError, match=rf"data.jsonl:2: .*{words}"):
        read_jsonl(path)


@pytest.mark.parametrize("content", ["", "\n  \n\t\n"])
def test_validate_fails_on_an_empty_or_blank_file_naming_it(tmp_path, content):
    from thinkact.validation import validate

    (tmp_path / "train.jsonl").write_text(content)
    report = validate(tmp_path / "train.jsonl")
    assert not report.success
    assert "train.jsonl: no examples: the file is empty or holds only blank lines" in report.summary()
    episodes = tmp_path / "episodes"  # an episode file of a data folder too
    episodes.mkdir()
    (episodes / "test_id.jsonl").write_text(content)
    (tmp_path / "train.jsonl").write_text(json.dumps(good_line()).replace('"test_id"', '"train"') + "\n")
    report = validate(tmp_path, shape=False)
    assert not report.success and "episodes/test_id.jsonl: no examples" in report.summary()


def test_score_refuses_a_deeply_nested_prediction_line_and_scores_a_deep_completion_zero(tmp_path):
    from thinkact.evaluation.score import score_file

    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(good_line()) + "\n")
    preds = tmp_path / "preds.jsonl"
    preds.write_text(f'{{"id": "ex-1", "completion": "x", "extra": {DEEP}}}\n')
    with pytest.raises(DataError, match=r"preds.jsonl:1: nested more than 64 levels"):
        score_file(data, preds, tmp_path / "scores.jsonl")
    for depth in (900, 5000):  # deep arguments in the completion: not a valid call, so 0, never a crash
        nested = "[" * depth + "]" * depth
        completion = ('<think>\nx\n</think>\n\n<tool_call>\n{"name": "get_order", "arguments": {"order_id": '
                      + nested + "}}\n</tool_call>")
        preds.write_text(json.dumps({"id": "ex-1", "completion": completion}) + "\n")
        summary = score_file(data, preds, tmp_path / "scores.jsonl")
        assert summary["test_id"]["tool_call_exact"] == 0.0


@pytest.mark.parametrize("line, field, words", [
    ('{"messages": [{"role": "user", "content": "hi"}], "extra": ' + DEEP + "}", None, "nested more than 64"),
    ('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"type": "function", '
     '"function": {"name": "f", "arguments": {"a": NaN}}}]}]}', None, "NaN is not a JSON value"),
    ('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"type": "function", '
     '"function": {"name": "f", "arguments": "{\\"a\\": Infinity}"}}]}]}',
     "messages.1.tool_calls.0.function.arguments", "Infinity is not a JSON value"),
    ('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"type": "function", '
     '"function": {"name": "f", "arguments": ' + json.dumps('{"a": ' + MID + "}") + '}}]}]}',
     "messages.1.tool_calls.0.function.arguments", "nested more than 64"),
    ('{"id": "x\\ud800", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}',
     "id", "lone surrogate"),
])
def test_openai_import_refuses_deep_nan_and_surrogates_naming_line_and_field(tmp_path, line, field, words):
    from thinkact.importers import import_to_file

    source = tmp_path / "chats.jsonl"
    source.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        import_to_file("openai", tmp_path / "out.jsonl", source=source)
    assert err.value.line == 1 and err.value.field == field and words in str(err.value)
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("change, field, words", [
    (lambda d: d.update(id="x\ud800"), "id", "lone surrogate"),
    (lambda d: d["target"]["tool_calls"][0]["arguments"].update(order_id=float("nan")),
     "target.tool_calls.0.arguments.order_id", "nan is not a JSON number"),
    (lambda d: d["target"]["tool_calls"][0]["arguments"].update(order_id=json.loads(MID)), None, "nested more than"),
])
def test_write_jsonl_refuses_what_could_not_be_read_back_naming_the_row(tmp_path, change, field, words):
    good = good_line()
    bad = good_line()
    change(bad)
    out = tmp_path / "out.jsonl"
    with pytest.raises(DataError) as err:
        write_jsonl(out, [Example.from_dict(good), Example.from_dict(bad)])
    assert err.value.field == field and words in str(err.value) and "example 2 (id " in str(err.value)
    assert not out.exists()
    str(err.value).encode("utf-8")  # the message itself is printable


# ---------------------------------------------------------------------------- 7. BFCL records of the wrong shape
@pytest.fixture
def bfcl_files(tmp_path, monkeypatch):
    """A fake simple_python category: the question file and its possible answers, written by each test."""
    import thinkact.importers.bfcl as bfcl

    path = tmp_path / "BFCL_v4_simple_python.json"
    (tmp_path / "possible_answer").mkdir()
    monkeypatch.setattr(bfcl, "_files", lambda: {"simple_python": path})

    def write(record: dict | str, answer: dict | str):
        for p, obj in ((path, record), (tmp_path / "possible_answer" / path.name, answer)):
            p.write_text((obj if isinstance(obj, str) else json.dumps(obj)) + "\n", encoding="utf-8")
        return path
    return write


RECORD = {"id": "simple_python_0", "question": [[{"role": "user", "content": "Area of a 10 by 5 triangle?"}]],
          "function": [{"name": "area", "description": "Area.", "parameters": {
              "type": "dict", "properties": {"base": {"type": "integer"}, "height": {"type": "integer"}},
              "required": ["base", "height"]}}]}
ANSWER = {"id": "simple_python_0", "ground_truth": [{"area": {"base": [10], "height": [5]}}]}


def _with(base: dict, path: str, value) -> dict:
    out = json.loads(json.dumps(base))
    keys = path.split(".")
    target = out
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[int(keys[-1]) if isinstance(target, list) else keys[-1]] = value
    return out


@pytest.mark.parametrize("record, answer, in_answers, field", [
    ('["not", "an", "object"]', ANSWER, False, None),
    (_with(RECORD, "question", []), ANSWER, False, "question"),
    (_with(RECORD, "function", "area"), ANSWER, False, "function"),
    (_with(RECORD, "function.0", "area"), ANSWER, False, "function.0"),
    (_with(RECORD, "function.0.parameters", []), ANSWER, False, "function.0.parameters"),
    (_with(RECORD, "function.0.parameters.properties.base", "integer"), ANSWER, False,
     "function.0.parameters.properties.base"),
    (RECORD, {"ground_truth": []}, True, "id"),
    (RECORD, _with(ANSWER, "ground_truth", {"area": {}}), True, "ground_truth"),
    (RECORD, _with(ANSWER, "ground_truth.0", ["area"]), True, "ground_truth.0"),
    (RECORD, _with(ANSWER, "ground_truth.0.area", [10, 5]), True, "ground_truth.0.area"),
    (RECORD, _with(ANSWER, "ground_truth.0.area.base", 10), True, "ground_truth.0.area.base"),
    (RECORD, '{"id": "simple_python_0", "ground_truth": [{"area": {"base": [NaN], "height": [5]}}]}', True, None),
])
def test_bfcl_records_of_the_wrong_shape_name_line_and_field(bfcl_files, record, answer, in_answers, field):
    from thinkact.importers.bfcl import import_bfcl

    path = bfcl_files(record, answer)
    with pytest.raises(DataError) as err:
        import_bfcl("simple_python")
    expected = path.parent / "possible_answer" / path.name if in_answers else path
    assert err.value.path == str(expected) and err.value.line == 1 and err.value.field == field, str(err.value)


def test_bfcl_good_fake_record_imports(bfcl_files):
    from thinkact.importers.bfcl import import_bfcl

    bfcl_files(RECORD, ANSWER)
    (example,) = import_bfcl("simple_python")
    assert example.target.tool_calls[0].arguments == {"base": 10, "height": 5}
