"""The built-in data set: determinism, split hygiene, schema-valid targets, grounded answers, data.dvc pin."""
from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from collections import Counter

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from thinkact.project import PROJECT_ROOT
from thinkact.contract import EVAL_SPLITS, SPLITS, TURN_TYPES
from thinkact.world.catalog import DOMAINS, TOOLS
from thinkact.data.generator import slots_of
from thinkact.data.writer import write_dataset


def _read(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_catalog_size_and_schemas():
    assert len(DOMAINS) >= 8 and len(TOOLS) >= 25
    kinds = set()
    for tool in TOOLS:
        schema = tool.schema()["function"]["parameters"]
        Draft202012Validator.check_schema(schema)
        kinds |= {p.get("type") for p in schema["properties"].values()} | {"enum" for p in schema["properties"].values() if "enum" in p}
        for template in tool.requests + tool.requests_env:  # every request names every required argument
            assert set(tool.required) <= set(slots_of(template)), (tool.name, template)
        for template in tool.followups + tool.followups_env:  # ... except the anchor, which history gives
            assert set(tool.required) - {tool.anchor} <= set(slots_of(template)), (tool.name, template)
    assert {"string", "integer", "number", "boolean", "array", "object", "enum"} <= kinds


def test_same_seed_same_bytes_and_other_seed_other_data(tmp_path, params, builtin_data):
    write_dataset(tmp_path / "again", params.data)
    assert _read(tmp_path / "again") == _read(builtin_data)
    write_dataset(tmp_path / "other", dataclasses.replace(params.data, seed=params.data.seed + 1))
    assert (tmp_path / "other" / "train.jsonl").read_bytes() != (builtin_data / "train.jsonl").read_bytes()


def test_sizes_and_every_turn_type_in_every_split(builtin_examples, params):
    for split in SPLITS:
        examples = builtin_examples[split]
        assert len(examples) == params.data.sizes[split]
        assert set(Counter(e.turn_type for e in examples)) == set(TURN_TYPES), split
        assert len({e.id for e in examples}) == len(examples)


def _prompt(ex):
    return json.dumps([ex.messages, sorted(ex.tool_names)], sort_keys=True)


def _values(examples):
    """String and float argument values of target calls (enums, booleans and small integers are shared)."""
    out = set()
    for ex in examples:
        for call in ex.target.tool_calls or ():
            for key, value in call.arguments.items():
                tool = next(t for t in ex.tools if t["function"]["name"] == call.name)
                prop = tool["function"]["parameters"]["properties"][key]
                if "enum" in prop or isinstance(value, (bool, int)):
                    continue
                out |= set(map(str, value)) if isinstance(value, list) else \
                    {json.dumps(v) for v in value.values()} if isinstance(value, dict) else {str(value)}
    return out


def test_split_hygiene(builtin_examples, params):
    train = builtin_examples["train"]
    train_prompts, train_users = {_prompt(e) for e in train}, {m["content"] for e in train for m in e.messages if m["role"] == "user"}
    for split in EVAL_SPLITS:
        assert not train_prompts & {_prompt(e) for e in builtin_examples[split]}, split
    env = builtin_examples["test_env"]
    assert not train_users & {m["content"] for e in env for m in e.messages if m["role"] == "user"}
    assert not _values(train) & _values(env)
    held_out = set(params.data.held_out_domains)
    held_tools = {t.name for t in TOOLS if t.domain in held_out}
    assert held_out and all(e.domain in held_out for e in builtin_examples["test_task"])
    for e in train:
        assert e.domain not in held_out and not held_tools & set(e.tool_names)


def test_examples_offer_own_domain_plus_one_to_three_distractors(builtin_examples, params):
    for split, examples in builtin_examples.items():
        for e in examples:
            own = {t.name for t in TOOLS if t.domain == e.domain}
            assert own <= set(e.tool_names), e.id
            extra = len(e.tool_names) - len(own)
            assert params.data.distractors.min <= extra <= params.data.distractors.max, e.id


def test_every_target_call_validates_against_its_tool(builtin_examples):
    checker = FormatChecker()
    for examples in builtin_examples.values():
        for e in examples:
            schemas = {t["function"]["name"]: t["function"]["parameters"] for t in e.tools}
            for call in e.target.tool_calls or ():
                Draft202012Validator(schemas[call.name], format_checker=checker).validate(call.arguments)
            if e.turn_type == "parallel":
                assert len(e.target.tool_calls) == 2
            assert e.reasoning


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_ID = re.compile(r"\b[A-Z]{1,3}-?\d{3,}\b")


def test_answers_are_grounded_in_the_tool_result(builtin_examples):
    checked = 0
    for examples in builtin_examples.values():
        for e in (e for e in examples if e.turn_type == "answer"):
            tool_msg = e.messages[-1]
            assert tool_msg["role"] == "tool"
            result = tool_msg["content"]
            numbers = {float(n) for n in _NUMBER.findall(result)}
            for n in _NUMBER.findall(e.target.content):
                assert float(n) in numbers, (e.id, n, e.target.content, result)
            for ident in _ID.findall(e.target.content):
                assert ident in result, (e.id, ident)
            checked += 1
    assert checked > 500


def test_generated_data_matches_data_dvc(builtin_data):
    """A fresh generation reproduces the md5 pinned in data.dvc (DVC's own hashing)."""
    sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
    from check_data import dir_md5, pinned_md5

    want, _ = pinned_md5(PROJECT_ROOT / "data.dvc")
    assert dir_md5(builtin_data) == want


@pytest.mark.parametrize("args, words", [
    (["data", "import", "--format", "openai"], "needs an input JSONL file"),
    (["data", "import", "--format", "openai", "missing.jsonl"], "missing.jsonl"),
])
def test_cli_user_errors_are_one_line(args, words, tmp_path):
    run = subprocess.run([sys.executable, "-m", "thinkact.cli", *args], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2
    assert words in run.stderr and "Traceback" not in run.stderr
