"""Bad-data fixtures for the validate stage: one small good data set, and defects applied one at a time.

`good_dataset()` builds four splits of 12 examples (two of each turn type), contract-valid and passing
every expectation under `TEST_PARAMS`. Each `Defect` changes one thing and names the expectation that must
fail and a phrase its reason must contain. Everything is generated in code (the 10 MB line included);
nothing is committed.

    from tests.fixtures_bad_data import DEFECTS, write_dataset
    write_dataset(tmp_path / "data", DEFECTS["unknown_tool"].apply())
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinkact.validation.params import CountRange, ShareRange, ValidateParams
from thinkact.contract import SPLITS, TURN_TYPES

PER_TURN = 2  # examples of each turn type in each split
TEST_PARAMS = ValidateParams(
    rows={s: CountRange(6, 1000) for s in SPLITS},
    turn_share={t: ShareRange(0.05, 0.5) for t in TURN_TYPES},
)
# The same bounds as params.yaml text, for the DVC tests' project copy.
TEST_PARAMS_YAML = "validate:\n  rows:\n" + "".join(f"    {s}: {{min: 6, max: 1000}}\n" for s in SPLITS) + \
    "  turn_share:\n" + "".join(f"    {t}: {{min: 0.05, max: 0.5}}\n" for t in TURN_TYPES) + "  show_ids: 10\n"

SYSTEM = {"role": "system", "content": "You are a customer-support assistant."}
ORDER = {"type": "string", "pattern": "^ORD-[0-9]{5}$"}
TOOLS = [
    {"type": "function", "function": {"name": "get_order_status", "description": "Status of an order.",
     "parameters": {"type": "object", "properties": {"order_id": ORDER}, "required": ["order_id"]}}},
    {"type": "function", "function": {"name": "cancel_order", "description": "Cancel an order.",
     "parameters": {"type": "object", "properties": {
         "order_id": ORDER, "reason": {"type": "string", "enum": ["changed_mind", "duplicate", "other"]}},
         "required": ["order_id", "reason"]}}},
    {"type": "function", "function": {"name": "get_forecast", "description": "Weather forecast.",
     "parameters": {"type": "object", "properties": {
         "city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
         "required": ["city", "days"]}}},
]


def _history(order: str) -> list[dict[str, Any]]:
    call = {"type": "function", "id": "c1", "function": {"name": "get_order_status", "arguments": {"order_id": order}}}
    return [{"role": "user", "content": f"Where is {order}?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "name": "get_order_status", "content": '{"status": "shipped"}'}]


def example(split: str, turn: str, n: int) -> dict[str, Any]:
    """One contract-valid example of `turn`; `n` makes its id and its prompt unique."""
    order = f"ORD-{n:05d}"
    base = {"id": f"{split}-{turn}-{n}", "domain": "orders", "split": split, "tools": copy.deepcopy(TOOLS)}
    if turn == "call":
        msgs = [SYSTEM, {"role": "user", "content": f"Status of {order}?"}]
        target = {"tool_calls": [{"name": "get_order_status", "arguments": {"order_id": order}}]}
    elif turn == "call_from_history":
        msgs = [SYSTEM, *_history(order), {"role": "assistant", "content": f"{order} has shipped."},
                {"role": "user", "content": "Cancel it please, it was a duplicate."}]
        target = {"tool_calls": [{"name": "cancel_order", "arguments": {"order_id": order, "reason": "duplicate"}}]}
    elif turn == "parallel":
        msgs = [SYSTEM, {"role": "user", "content": f"Forecast for Paris and Rome, {n % 7 + 1} days (#{n})."}]
        target = {"tool_calls": [{"name": "get_forecast", "arguments": {"city": c, "days": n % 7 + 1}}
                                 for c in ("Paris", "Rome")]}
    elif turn == "answer":
        msgs = [SYSTEM, *_history(order)]
        target = {"content": f"Order {order} has shipped."}
    elif turn == "clarify":
        msgs = [SYSTEM, {"role": "user", "content": f"Can you check on my order? (ticket {n})"}]
        target = {"content": "Sure, what is the order number?"}
    else:  # no_tool
        msgs = [SYSTEM, {"role": "user", "content": f"Thanks a lot! (ticket {n})"}]
        target = {"content": "You're welcome!"}
    return {**base, "messages": copy.deepcopy(msgs), "target": target, "reasoning": "r", "turn_type": turn}


Dataset = dict[str, list[Any]]  # split -> lines: a dict (written as JSON) or raw bytes (written as is)


def good_dataset() -> Dataset:
    data: Dataset = {}
    n = 0
    for split in SPLITS:
        data[split] = []
        for turn in TURN_TYPES:
            for _ in range(PER_TURN):
                n += 1
                data[split].append(example(split, turn, n))
    return data


def write_dataset(folder: Path, data: Dataset) -> Path:
    """data/<split>.jsonl for every split in `data` (a split mapped to None gets no file)."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, lines in data.items():
        if lines is None:
            continue
        raw = b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines)
        (folder / f"{split}.jsonl").write_bytes(raw)
    return folder


def _first(data: Dataset, split: str, turn: str) -> dict[str, Any]:
    return next(ex for ex in data[split] if isinstance(ex, dict) and ex["turn_type"] == turn)


@dataclass(frozen=True)
class Defect:
    name: str
    change: Callable[[Dataset], None]  # mutates a good data set in place
    check: str                         # the expectation (Check.name) that must fail
    reason: str                        # a phrase in the reason of an offending row, or in the summary
    where: str | None = None           # the offending row's file:line, when the defect is one row

    def apply(self) -> Dataset:
        data = good_dataset()
        self.change(data)
        return data


def _truncate(d: Dataset) -> None:
    d["train"][-1] = json.dumps(d["train"][-1]).encode()[:150]


def _drop_field(d: Dataset) -> None:
    del d["train"][0]["domain"]


def _unknown_tool(d: Dataset) -> None:
    _first(d, "train", "call")["target"]["tool_calls"][0]["name"] = "refund_order"


def _wrong_type(d: Dataset) -> None:
    _first(d, "train", "parallel")["target"]["tool_calls"][0]["arguments"]["days"] = "three"


def _missing_required(d: Dataset) -> None:
    del _first(d, "train", "call")["target"]["tool_calls"][0]["arguments"]["order_id"]


def _enum(d: Dataset) -> None:
    _first(d, "train", "call_from_history")["target"]["tool_calls"][0]["arguments"]["reason"] = "bored"


def _duplicate_id(d: Dataset) -> None:
    d["train"][1]["id"] = d["train"][0]["id"]


def _leak(d: Dataset) -> None:
    src = d["train"][0]
    d["test_id"][0] = {**copy.deepcopy(src), "id": "test_id-copied", "split": "test_id"}


def _empty_answer(d: Dataset) -> None:
    _first(d, "train", "answer")["target"]["content"] = "   "


def _orphan_tool_message(d: Dataset) -> None:
    ex = _first(d, "train", "call")
    ex["messages"].append({"role": "tool", "tool_call_id": "c9", "content": "{}"})


def _invalid_schema(d: Dataset) -> None:
    d["train"][0]["tools"][2]["function"]["parameters"]["properties"]["days"]["type"] = "integr"


def _non_utf8(d: Dataset) -> None:
    d["train"][2] = json.dumps(d["train"][2]).encode().replace(b"customer-support", b"customer\xff\xfe-support")


def _huge_line(d: Dataset) -> None:
    ex = copy.deepcopy(d["train"][3])
    ex["messages"][-1]["content"] = "x" * 10_000_000
    d["train"][3] = json.dumps(ex).encode()


def _empty_split(d: Dataset) -> None:
    d["test_id"] = []


def _missing_split_file(d: Dataset) -> None:
    d["test_task"] = None


def _turn_missing(d: Dataset) -> None:
    d["test_env"] = [ex for ex in d["test_env"] if ex["turn_type"] != "clarify"]


def _turn_flooded(d: Dataset) -> None:
    d["test_env"] += [example("test_env", "call", 9000 + i) for i in range(12)]


def _both_target_fields(d: Dataset) -> None:
    _first(d, "train", "call")["target"]["content"] = "and also an answer"


def _unknown_split(d: Dataset) -> None:
    d["train"][0]["split"] = "dev"


def _split_mismatch(d: Dataset) -> None:
    d["train"][0]["split"] = "test_task"


def _not_an_object(d: Dataset) -> None:
    d["train"][4] = b'["a", "list"]'


def _system_late(d: Dataset) -> None:
    _first(d, "train", "no_tool")["messages"].append({"role": "system", "content": "late"})


def _ends_with_assistant(d: Dataset) -> None:
    _first(d, "train", "clarify")["messages"].append({"role": "assistant", "content": "Hello"})


def _wrong_call_id(d: Dataset) -> None:
    _first(d, "train", "answer")["messages"][-1]["tool_call_id"] = "nope"


def _unknown_turn_type(d: Dataset) -> None:
    d["train"][0]["turn_type"] = "chitchat"


def _no_turn_type(d: Dataset) -> None:
    del d["train"][0]["turn_type"]


def _where(split: str, index: int) -> str:
    return f"{split}.jsonl:{index + 1}"


_TRAIN_INDEX = {t: i * PER_TURN for i, t in enumerate(TURN_TYPES)}  # first example of each turn in train

DEFECTS: dict[str, Defect] = {d.name: d for d in [
    Defect("truncated_json", _truncate, "contract.readable", "invalid JSON", _where("train", 6 * PER_TURN - 1)),
    Defect("missing_field", _drop_field, "contract.required.domain", "'domain' is missing", _where("train", 0)),
    Defect("unknown_tool", _unknown_tool, "tools.calls_offered", "'refund_order', which is not offered",
           _where("train", _TRAIN_INDEX["call"])),
    Defect("argument_wrong_type", _wrong_type, "tools.arguments_valid",
           "arguments.days: 'three' is not of type 'integer'",
           _where("train", _TRAIN_INDEX["parallel"])),
    Defect("missing_required_argument", _missing_required, "tools.arguments_valid",
           "'order_id' is a required property", _where("train", _TRAIN_INDEX["call"])),
    Defect("enum_violation", _enum, "tools.arguments_valid", "arguments.reason: 'bored' is not one of",
           _where("train", _TRAIN_INDEX["call_from_history"])),
    Defect("duplicate_id", _duplicate_id, "hygiene.ids_unique", "is used more than once", _where("train", 1)),
    Defect("train_test_leak", _leak, "hygiene.no_train_leak", "same prompt (tools and messages) as a train example",
           _where("test_id", 0)),
    Defect("empty_answer", _empty_answer, "contract.answer_not_empty", "target.content is empty",
           _where("train", _TRAIN_INDEX["answer"])),
    Defect("tool_message_without_call", _orphan_tool_message, "contract.roles_order",
           "tool message answers no earlier assistant tool call", _where("train", _TRAIN_INDEX["call"])),
    Defect("invalid_json_schema", _invalid_schema, "tools.schemas_valid", "is not a valid JSON Schema",
           _where("train", 0)),
    Defect("non_utf8_bytes", _non_utf8, "contract.readable", "not valid UTF-8", _where("train", 2)),
    Defect("line_of_10_mb", _huge_line, "contract.readable", "over the 1,000,000 limit", _where("train", 3)),
    Defect("empty_split", _empty_split, "shape.rows.test_id", "observed 0"),
    Defect("missing_split_file", _missing_split_file, "shape.rows.test_task", "observed 0"),
    Defect("turn_type_missing", _turn_missing, "shape.turn_share.test_env.clarify", "observed 0.0"),
    Defect("turn_type_flooded", _turn_flooded, "shape.turn_share.test_env.call", "expected 0.05 to 0.5"),
    Defect("target_both_fields", _both_target_fields, "contract.target_one_of", "target has both",
           _where("train", _TRAIN_INDEX["call"])),
    Defect("unknown_split", _unknown_split, "contract.split_allowed", "unknown split 'dev'", _where("train", 0)),
    Defect("split_not_matching_file", _split_mismatch, "contract.split_matches_file",
           "split 'test_task' is in file train.jsonl", _where("train", 0)),
    Defect("line_not_an_object", _not_an_object, "contract.readable", "expected a JSON object", _where("train", 4)),
    Defect("system_message_late", _system_late, "contract.roles_order", "a system message is allowed only first",
           _where("train", _TRAIN_INDEX["no_tool"])),
    Defect("ends_with_assistant", _ends_with_assistant, "contract.roles_order", "the last message is 'assistant'",
           _where("train", _TRAIN_INDEX["clarify"])),
    Defect("tool_call_id_mismatch", _wrong_call_id, "contract.roles_order",
           "tool_call_id 'nope' matches no pending call",
           _where("train", _TRAIN_INDEX["answer"])),
    Defect("unknown_turn_type", _unknown_turn_type, "contract.turn_type_allowed", "unknown turn type 'chitchat'",
           _where("train", 0)),
    Defect("turn_type_absent", _no_turn_type, "shape.turn_type_present", "turn_type is missing", _where("train", 0)),
]}
