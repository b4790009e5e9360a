"""Contract tests for every reward (TRL's test_rewards style) and for the registry."""
from __future__ import annotations

import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thinkact.errors import ConfigError
from thinkact.rewards import build, describe, get, names, register
from thinkact.rewards.compare import calls_score, values_equal
from thinkact.chat_format.parsing import parse

CALL_T = json.dumps({"tool_calls": [{"name": "get_order_status", "arguments": {"order_id": "ORD-12345"}}]})
PAR_T = json.dumps({"tool_calls": [{"name": "get_forecast", "arguments": {"city": "Paris", "days": 3}},
                                   {"name": "get_balance", "arguments": {"account_id": "AC123456"}}]})
ANS_T = json.dumps({"content": "Order ORD-12345 is shipped; expected delivery 2026-03-02."})


def call(name, args, think="get_order_status fits."):
    return f"<think>\n{think}\n</think>\n\n<tool_call>\n{json.dumps({'name': name, 'arguments': args})}\n</tool_call>"


RIGHT = call("get_order_status", {"order_id": "ORD-12345"})
WRONG_VALUE = call("get_order_status", {"order_id": "ORD-99999"})
WRONG_NAME = call("cancel_order", {"order_id": "ORD-12345"})
ANSWER = "<think>\nThe result is in; no tool needed.\n</think>\n\nOrder ORD-12345 is shipped; expected delivery 2026-03-02."
MALFORMED = ["", "<think>unclosed", "<tool_call>{not json}</tool_call>", "<think>x</think><tool_call>{\"name\": 1}</tool_call>",
             "<think>x</think> text <tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>", "x" * 70_000]
ALL = names()


def score(name, completions, target, **options):
    return build([name], {name: options} if options else None)[0](completions, target=target, turn_type=["call"] * len(completions))


def test_registry_lists_the_paper_rewards_with_docs():
    assert {"tool_call", "tool_call_exact", "answer", "format", "reasoning_consistency"} <= set(ALL)
    assert all(doc for _, doc in describe())


def test_duplicate_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        register(get("tool_call"))
    with pytest.raises(ConfigError, match="unknown reward 'tool_calls'"):
        build(["tool_calls"])
    with pytest.raises(ConfigError, match="rewards.options.answer.nope"):
        build(["answer"], {"answer": {"nope": 1}})


def test_tool_call_right_wrong_partial():
    assert score("tool_call", [RIGHT, WRONG_VALUE, WRONG_NAME], [CALL_T] * 3) == [1.0, pytest.approx(2 / 3), 0.0]
    assert score("tool_call_exact", [RIGHT, WRONG_VALUE, WRONG_NAME], [CALL_T] * 3) == [1.0, 0.0, 0.0]


def test_parallel_calls_are_order_insensitive_and_extras_cost():
    a = {"name": "get_forecast", "arguments": {"city": "paris", "days": 3}}
    b = {"name": "get_balance", "arguments": {"account_id": "AC123456"}}
    both = "<think>get_forecast and get_balance</think>" + "".join(f"<tool_call>{json.dumps(c)}</tool_call>" for c in (b, a))
    one = f"<think>get_forecast</think><tool_call>{json.dumps(a)}</tool_call>"
    extra = both + f"<tool_call>{json.dumps(b)}</tool_call>"
    assert score("tool_call_exact", [both, one, extra], [PAR_T] * 3) == [1.0, 0.0, 0.0]
    full, half, more = score("tool_call", [both, one, extra], [PAR_T] * 3)
    assert full == 1.0 and 0 < half < 1 and 0 < more < 1


def test_answer_exact_and_f1():
    close = "<think>no tool needed</think> Order ORD-12345 is shipped."
    assert score("answer", [ANSWER, close, RIGHT], [ANS_T] * 3, mode="exact") == [1.0, 0.0, 0.0]
    f1 = score("answer", [ANSWER, close, RIGHT], [ANS_T] * 3)
    assert f1[0] == 1.0 and 0.3 < f1[1] < 1.0 and f1[2] == 0.0


def test_format_and_consistency():
    assert score("format", [RIGHT, ANSWER, "Order shipped.", MALFORMED[3]], [CALL_T] * 4) == [1.0, 0.5, 0.0, 0.75]
    inconsistent = call("get_order_status", {"order_id": "ORD-12345"}, think="I will look at the weather.")
    assert score("reasoning_consistency", [RIGHT, ANSWER, inconsistent, "Order shipped."], [CALL_T] * 4) == [1.0, 0.0, 0.0, 0.0]
    # the same answer, with its no-tool thought, is consistent on an answer turn; a call there is the wrong kind
    assert score("reasoning_consistency", [ANSWER, RIGHT], [ANS_T] * 2) == [1.0, 0.0]
    assert score("reasoning_consistency", [ANSWER, RIGHT], None) == [1.0, 1.0]  # no target: the kind is not judged


BROKEN_CALL = '<think>\nget_order_status\n</think>\n\n<tool_call>\n{"name": "get_order_status", "arguments": {"order_id"\n</tool_call>'
GIBBERISH = "<think>\n\n</think>\n\nblorp order zzkx the the of"  # tag-free text after an (empty) think


def test_format_ranks_call_turns_valid_call_over_broken_call_over_text():
    """The exploit GRPO found: on call turns, well-formed text outscored a broken call. Now text earns only the think."""
    assert score("format", [RIGHT, WRONG_NAME, BROKEN_CALL, GIBBERISH, ANSWER], [CALL_T] * 5) == [1.0, 1.0, 0.75, 0.5, 0.5]
    # and the mirror image on answer turns: a call is the wrong kind of action, whatever its form
    assert score("format", [ANSWER, GIBBERISH, RIGHT, BROKEN_CALL, "<think>x</think>Shipped. </think>"], [ANS_T] * 5) == \
        [1.0, 1.0, 0.5, 0.5, 0.75]


@pytest.mark.parametrize("text, expected", [
    ("<think>x</think>", 0.5),                                                            # no action at all
    ("<think>x</think>   \n", 0.5),
    ('<think>x</think><tool_call>{"name": "get_order_status"}</tool_call>', 0.75),          # no "arguments" key
    ('<think>x</think><tool_call>{"name": "f", "arguments": null}</tool_call>', 0.75),
    ('<think>x</think><tool_call>{"name": "", "arguments": {}}</tool_call>', 0.75),
    ('<think>x</think><tool_call>{"name": "f", "arguments": {}}', 0.75),                    # never closed
    ('<think>x</think>Let me check. <tool_call>{"name": "f", "arguments": {}}</tool_call>', 0.75),  # two kinds
    ('<think>x</think><tool_call>{"name": "f", "arguments": {}}</tool_call><think>y</think>', 0.75),
    ('<think>x</think><tool_call>{"name": "f", "arguments": {}}</tool_call><|im_end|>', 1.0),  # end marker stripped
    ('<think>x</think>\n<tool_call>{"name": "f", "arguments": "{\\"a\\": 1}"}</tool_call>', 1.0),  # string arguments
    ('I will call it. <think>x</think><tool_call>{"name": "f", "arguments": {}}</tool_call>', 0.0),  # think not first
    ('<tool_call>{"name": "get_order_status", "arguments": {"order_id": "ORD-12345"}}</tool_call>', 0.0),
])
def test_format_malformed_calls(text, expected):
    assert score("format", [text], [CALL_T]) == [expected]


def test_format_without_a_target_judges_form_only():
    fmt = build(["format"])[0]
    assert fmt([RIGHT, ANSWER, GIBBERISH, BROKEN_CALL, "<think>x</think>", "no think"]) == [1.0, 1.0, 1.0, 0.5, 0.5, 0.0]
    assert fmt([RIGHT, ANSWER], target=[None, None]) == [1.0, 1.0]
    assert fmt([RIGHT], target=[{"tool_calls": [{"name": "get_order_status", "arguments": {}}]}]) == [1.0]  # a dict


def test_describe_gives_one_line_per_reward():
    docs = dict(describe())
    assert all("\n" not in d for d in docs.values())
    assert "free text on a call turn" in docs["format"]


@pytest.mark.parametrize("name", ["tool_call", "tool_call_exact", "answer"])
def test_not_applicable_is_none(name):
    other = ANS_T if name.startswith("tool_call") else CALL_T
    assert score(name, [RIGHT, ANSWER], [other] * 2) == [None, None]


@pytest.mark.parametrize("name", ALL)
def test_malformed_never_raise_and_score_zero_or_none(name):
    target = ANS_T if name == "answer" else CALL_T
    out = score(name, MALFORMED, [target] * len(MALFORMED))
    assert len(out) == len(MALFORMED) and all(v is None or v in (0.0, 0.5, 0.75) for v in out)
    assert all(v is None or v < 1.0 for v in out)


@pytest.mark.parametrize("name", ALL)
def test_extra_columns_ignored_conversational_completions_and_picklable(name):
    fn = build([name])[0]
    conv = [[{"role": "assistant", "content": RIGHT}]]
    assert fn(conv, target=[CALL_T], turn_type=["call"], tools=["[]"], id=["x"], anything=[object()]) == \
        fn([RIGHT], target=[CALL_T])
    again = pickle.loads(pickle.dumps(fn))
    assert again.__name__ == name and again([RIGHT], target=[CALL_T]) == fn([RIGHT], target=[CALL_T])


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=400), st.builds(lambda a, b: f"<think>{a}</think><tool_call>{b}</tool_call>",
                                                         st.text(max_size=50), st.text(max_size=200))),
       target=st.sampled_from([CALL_T, PAR_T, ANS_T]))
def test_adversarial_completions_stay_in_range(text, target):
    for name in ALL:
        (v,) = score(name, [text], [target])
        assert v is None or 0.0 <= v <= 1.0


PIECES = ["<think>", "</think>", "<tool_call>", "</tool_call>", "{", "}", '"name": "f"', '"name": "get_order_status"',
          '"arguments": {}', '"arguments": {"order_id": "ORD-12345"}', ", ", ":", "[1]", "NaN", "null", "\n", " ",
          "<|im_end|>", "Order shipped.", "x" * 20, '\\"', "{{", '"']


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(st.sampled_from(PIECES) | st.text(max_size=8), max_size=40),
       target=st.sampled_from([CALL_T, PAR_T, ANS_T]))
def test_format_adversarial_never_pays_text_on_call_turns(parts, target):
    """Completions spliced from tags, JSON fragments and text: format stays on its grid, full marks only for a
    well-formed action of the target's kind, and never more than the think's 0.5 for text on a call turn."""
    text = "".join(parts)
    (v,) = score("format", [text], [target])
    p = parse(text)
    assert v in (0.0, 0.5, 0.75, 1.0)
    assert (v == 0.0) == (p.think is None)
    if v == 1.0:
        assert p.well_formed and not p.bare_calls and p.error is None
        assert bool(p.calls) == (target != ANS_T) and (p.answer is None) == (target != ANS_T)
    if target != ANS_T and not p.calls and "<tool_call>" not in text:
        assert v <= 0.5  # no call attempted: the think is all a call turn's form can earn
    for other in ALL:  # and every reward stays in range on the same text
        (w,) = score(other, [text], [target])
        assert w is None or 0.0 <= w <= 1.0


@settings(max_examples=200, deadline=None)
@given(args=st.dictionaries(st.text(min_size=1, max_size=8), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8),
    max_size=4))
def test_any_call_scores_exactly_against_itself(args):
    text = f"<think>f</think><tool_call>{json.dumps({'name': 'f', 'arguments': args})}</tool_call>"
    target = json.dumps({"tool_calls": [{"name": "f", "arguments": args}]})
    assert score("tool_call_exact", [text], [target]) == [1.0] and score("tool_call", [text], [target]) == [1.0]


def test_value_rules():
    assert values_equal("New York", "new york") and values_equal("2026-01-05", "20260105")
    assert values_equal(5, 5.0) and not values_equal(5.0, 5) and not values_equal(True, 1) and not values_equal("5", 5)
    assert values_equal([1, "a"], [1.0, "A"]) and not values_equal([1, 2], [2, 1])
    accepted = {"unit": {"values": ["celsius", "c"], "optional": True}}
    gold = [("f", {"city": "Paris"}, accepted)]
    assert calls_score([("f", {"city": "Paris"})], gold) == 1.0
    assert calls_score([("f", {"city": "Paris", "unit": "c"})], gold) == 1.0
    assert calls_score([("f", {"city": "Paris", "unit": "kelvin"})], gold) < 1.0


def test_parse_reads_think_calls_and_answer():
    p = parse(RIGHT + "<|im_end|>")
    assert p.think == "get_order_status fits." and p.calls == [("get_order_status", {"order_id": "ORD-12345"})]
    assert p.well_formed and p.answer is None
    p = parse('<think></think><tool_call>{"name": "f", "arguments": "{\\"a\\": 1}"}</tool_call>')
    assert p.calls == [("f", {"a": 1})] and p.think == ""
    assert parse("just text").think is None and parse("just text").answer == "just text"


NUM_T = json.dumps({"tool_calls": [{"name": "get_forecast", "arguments": {"city": "Paris", "days": 3}}]})
FLOAT_T = json.dumps({"tool_calls": [{"name": "set_budget", "arguments": {"amount": 12.5}}]})
ADVERSARIAL_VALUES = st.one_of(
    st.integers(min_value=10 ** 308, max_value=10 ** 4000).map(str),          # past float's range (OverflowError once)
    st.integers(min_value=-10 ** 400, max_value=-10 ** 308).map(str),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" * 5000, "0.1e-400"]),
    st.integers(1, 3000).map(lambda n: "[" * n + "1" + "]" * n),               # deep nesting
    st.integers(1, 3000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.integers(10_000, 200_000).map(lambda n: json.dumps("x" * n)),           # huge strings
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@settings(max_examples=120, deadline=None)
@given(value=ADVERSARIAL_VALUES, key=st.sampled_from(["days", "amount", "city"]),
       target=st.sampled_from([NUM_T, FLOAT_T, CALL_T]))
def test_adversarial_argument_values_never_raise(value, key, target):
    """Big integers, NaN/Infinity, deep nesting and huge strings in a completion's arguments: every reward returns a
    score in [0, 1] or None (a 309-digit integer against a number used to raise OverflowError in tool_call)."""
    name = json.loads(target)["tool_calls"][0]["name"]
    completion = ('<think>\nx\n</think>\n\n<tool_call>\n{"name": "%s", "arguments": {"%s": %s}}\n</tool_call>'
                  % (name, key, value))
    for reward in names():
        (score,) = get(reward)([completion], target=[target])
        assert score is None or 0.0 <= score <= 1.0, (reward, score)


def test_huge_integers_compare_exactly():
    big = 10 ** 400
    assert values_equal(big, big) and not values_equal(big, 3) and not values_equal(3, float(10 ** 300))
    assert values_equal(5, 5.0) and not values_equal(5.0, 5)  # BFCL: an int for a float gold, never the reverse
