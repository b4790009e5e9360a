"""Episode rewards (issue #13 part 3): the reward contract (right, wrong, malformed, not applicable, extra columns,
picklable, never raises, in [0, 1] or None) on hand-built episode results, and None on per-turn batches."""
from __future__ import annotations

import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thinkact.env.spec import EpisodeSpec
from thinkact.contract import ToolCall
from thinkact.world.catalog import TOOLS_BY_NAME
from thinkact.rewards import EPISODE_NAMES, build, describe, names
from thinkact.rewards.episode_rewards import state_changing

OFFERED = ("get_order_status", "track_shipment", "cancel_order", "get_balance")
CANCEL = {"order_id": "ORD-12345", "reason": "duplicate"}
BALANCE = {"account_id": "AC123456"}
SPEC = EpisodeSpec(id="ep-1", user="Cancel ORD-12345 (a duplicate) and tell me the balance of AC123456.",
                   tools=tuple(TOOLS_BY_NAME[n].schema() for n in OFFERED),
                   gold_calls=(ToolCall("cancel_order", CANCEL), ToolCall("get_balance", BALANCE)),
                   facts=("ORD-12345", "1,204.50"))
CALL_T = json.dumps({"tool_calls": [{"name": "get_order_status", "arguments": {"order_id": "ORD-12345"}}]})


def call(name, arguments, error=None):
    return {"name": name, "arguments": arguments, "error": error}


def result(calls=(), answer="Order ORD-12345 is cancelled; the balance is 1204.50 USD.", done=True, failed=False,
           turns=3):
    return {"id": SPEC.id, "calls": list(calls), "final_answer": answer, "done": done, "failed": failed,
            "assistant_turns": turns, "max_turns": 4, "max_tool_calls": 6, "turns": ["answer"] if answer else []}


GOLD = [call("get_balance", BALANCE), call("cancel_order", {"order_id": "ord-12345", "reason": "duplicate"})]


def scores(res, spec=SPEC, name=None):
    """{reward: score} for one episode (every episode reward, or just `name`)."""
    chosen = [name] if name else list(EPISODE_NAMES)
    return {f.name: f([""], episode=[spec.to_json()], episode_result=[json.dumps(res)])[0] for f in build(chosen)}


def test_episode_rewards_are_registered_with_docs_and_after_the_per_turn_ones():
    assert list(EPISODE_NAMES) == ["episode_success", "episode_call_recall", "episode_call_precision",
                                   "episode_answer_facts", "episode_valid_calls", "episode_turns"]
    assert names()[-len(EPISODE_NAMES):] == list(EPISODE_NAMES)
    assert all(doc.startswith("Episodes:") for n, doc in describe() if n in EPISODE_NAMES)


def test_all_gold_calls_in_any_order_and_every_fact_is_a_success():
    s = scores(result(GOLD))
    assert s == {"episode_success": 1.0, "episode_call_recall": 1.0, "episode_call_precision": 1.0,
                 "episode_answer_facts": 1.0, "episode_valid_calls": 1.0, "episode_turns": 0.3}


@pytest.mark.parametrize("res, expected", [
    (result(GOLD[:1]), {"episode_success": 0.0, "episode_call_recall": 0.5, "episode_call_precision": 1.0}),
    (result([*GOLD, call("cancel_order", {"order_id": "ORD-54321", "reason": "duplicate"})]),   # extra, changes state
     {"episode_success": 0.0, "episode_call_recall": 1.0, "episode_call_precision": 2 / 3}),
    (result([*GOLD, call("track_shipment", {"order_id": "ORD-12345"})]),                      # extra, read only
     {"episode_success": 1.0, "episode_call_precision": 2 / 3}),
    (result([*GOLD, call("cancel_order", "{broken", "malformed_call")]),                      # invalid: no change
     {"episode_success": 1.0, "episode_valid_calls": 2 / 3, "episode_call_precision": 2 / 3}),
    (result(GOLD, answer="Order ORD-12345 is cancelled."),                                   # a fact missing
     {"episode_success": 0.0, "episode_answer_facts": 0.5}),
    (result(GOLD, answer=None, done=False), {"episode_success": 0.0, "episode_answer_facts": 0.0}),
    (result(GOLD, done=True, failed=True), {"episode_success": 0.0, "episode_call_recall": 1.0}),  # bound passed
    (result([call("cancel_order", {"order_id": "ORD-12345", "reason": "other"}), GOLD[0]]),  # wrong value
     {"episode_success": 0.0, "episode_call_recall": 0.5, "episode_call_precision": 0.5}),
    (result([call("cancel_order", CANCEL, "tool_error"), GOLD[0]]),                           # the call failed
     {"episode_success": 0.0, "episode_call_recall": 0.5, "episode_valid_calls": 0.5}),
    (result([], turns=12), {"episode_success": 0.0, "episode_call_precision": None, "episode_valid_calls": None,
                           "episode_turns": 1.0}),
])
def test_wrong_episodes(res, expected):
    got = scores(res)
    assert {k: got[k] for k in expected} == pytest.approx(expected)


def test_the_same_state_changing_gold_call_twice_is_an_extra_change():
    assert scores(result([*GOLD, GOLD[1]]))["episode_success"] == 0.0
    assert scores(result([*GOLD, GOLD[0]]))["episode_success"] == 1.0  # a repeated read changes nothing


def test_an_episode_without_gold_calls_or_facts():
    chat = EpisodeSpec(id="ep-2", user="Hi!", tools=SPEC.tools)
    s = scores(result([], answer="Hello! How can I help?"), spec=chat)
    assert s["episode_success"] == 1.0 and s["episode_call_recall"] is None and s["episode_answer_facts"] is None
    assert scores(result([call("cancel_order", CANCEL)]), spec=chat)["episode_success"] == 0.0
    # where no tool is needed, any call attempt fails the episode (a read-only one, or a malformed one, too),
    # and so does an empty final answer (the rollout gives a turn without a closed think block no answer)
    assert scores(result([call("get_balance", BALANCE)], answer="Hello!"), spec=chat)["episode_success"] == 0.0
    assert scores(result([call(None, "{broken", "malformed_call")], answer="Hello!"),
                  spec=chat)["episode_success"] == 0.0
    assert scores(result([], answer="  "), spec=chat)["episode_success"] == 0.0


def test_state_changing_follows_the_verb():
    assert all(state_changing(n) for n in ("cancel_order", "book_hotel", "transfer_funds", "update_email",
                                           "file_claim", "make_reservation", "bank.transfer_money"))
    assert not any(state_changing(n) for n in ("get_order_status", "list_events", "track_shipment",
                                               "search_flights", "find_restaurants", None, "", "calculate_area"))


def test_not_applicable_on_per_turn_batches_and_unreadable_rows():
    for fn in build(list(EPISODE_NAMES)):
        assert fn(["x", "y"], target=[CALL_T] * 2, turn_type=["call"] * 2) == [None, None]
        assert fn(["x"], episode=[SPEC.to_json()]) == [None] and fn(["x"], episode_result=[result(GOLD)]) == [None]
        assert fn(["x"] * 4, episode=[SPEC.to_json(), "{not json", "[]", SPEC.to_json()],
                  episode_result=["{not json", result(GOLD), result(GOLD), 7]) == [None] * 4


def test_dicts_and_json_read_alike_extra_columns_ignored_and_picklable():
    for fn in build(list(EPISODE_NAMES)):
        by_json = fn([""], episode=[SPEC.to_json()], episode_result=[json.dumps(result(GOLD))])
        by_dict = fn([[{"role": "assistant", "content": "x"}]], episode=[SPEC.to_dict()],
                     episode_result=[result(GOLD)], target=[CALL_T], tools=["[]"], anything=[object()])
        again = pickle.loads(pickle.dumps(fn))
        assert by_json == by_dict == again([""], episode=[SPEC.to_json()], episode_result=[result(GOLD)])
        assert by_json[0] is not None


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                     max_size=4), max_leaves=12)
CALLS = st.lists(st.one_of(JSONISH, st.fixed_dictionaries(
    {"name": st.sampled_from([*OFFERED, "", None, 7]), "arguments": st.one_of(st.just(CANCEL), st.just(BALANCE),
                                                                                JSONISH),
     "error": st.sampled_from([None, "malformed_call", "limit", 3])})), max_size=6)
RESULTS = st.one_of(JSONISH, st.fixed_dictionaries({"calls": st.one_of(CALLS, JSONISH)}, optional={
    "final_answer": st.one_of(st.text(max_size=60), JSONISH), "done": JSONISH, "failed": JSONISH,
    "assistant_turns": st.one_of(st.integers(-5, 50), JSONISH), "max_turns": st.one_of(st.integers(-3, 9), JSONISH),
    "max_tool_calls": st.one_of(st.integers(-3, 9), JSONISH)}))


@settings(max_examples=300, deadline=None)
@given(res=RESULTS, as_json=st.booleans(), spec=st.sampled_from([SPEC.to_json(), SPEC.to_dict(), "{}", "garbage",
                                                                  '{"gold_calls": [{"name": 1}]}', None, 3]))
def test_random_results_and_garbage_never_raise_and_stay_in_range(res, as_json, spec):
    try:
        column = json.dumps(res) if as_json else res
    except ValueError:  # NaN in strict JSON: pass the object itself
        column = res
    for fn in build(list(EPISODE_NAMES)):
        out = fn(["", ""], episode=[spec, spec], episode_result=[column, column])
        assert len(out) == 2 and all(v is None or 0.0 <= v <= 1.0 for v in out), (fn.name, out)
