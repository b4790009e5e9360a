"""docs/how-to-add-a-reward.md: its worked example (brevity) runs as written, in the namespace of
thinkact/rewards/functions.py where the page says it goes, and, registered for one test with `registered`, keeps
the reward contract, is selectable and checked in params, and is an evaluation metric; the registry is exactly as
before afterwards."""
from __future__ import annotations

import json
import pickle
import re

import pytest
import yaml

from thinkact.config import load_params
from thinkact.contract import Example
from thinkact.errors import ConfigError
from thinkact.evaluation.metrics import DERIVED, describe_metrics, metric_names, score_examples
from thinkact.project import PROJECT_ROOT
from thinkact.rewards import functions
from thinkact.rewards.registry import build, check_selection, describe, get, names, options_of, registered

DOC = PROJECT_ROOT / "docs" / "how-to-add-a-reward.md"
MARKER = "<!-- worked-example"
OPTIONS = {"answer": {"mode": "f1"}, "brevity": {"max_chars": 20}}

CALL_T = json.dumps({"tool_calls": [{"name": "get_order_status", "arguments": {"order_id": "ORD-12345"}}]})
ANS_T = json.dumps({"content": "Order ORD-12345 is shipped."})
SHORT = "<think>\nThe result is in; no tool needed.\n</think>\n\nOrder ORD-12345 is shipped."
LONG = SHORT + " It left our warehouse this morning."
N_SHORT, N_LONG = 27, 63   # characters of the answers (after the think)
CALL = '<think>\nget_order_status\n</think>\n\n<tool_call>\n{"name": "get_order_status", ' \
       '"arguments": {"order_id": "ORD-12345"}}\n</tool_call>'
MALFORMED = ["", "<think>unclosed", "<tool_call>{not json}</tool_call>", "<think>x</think> text <tool_call>{}",
             "x" * 70_000, "<think>x</think>" + "y" * 70_000]


def worked_example():
    """The function the code block after the marker defines, run in functions.py's namespace (where it goes)."""
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, f"{DOC} lost its worked-example marker"
    code = re.search(r"```python\n(.*?)```", text.split(MARKER, 1)[1], re.S).group(1)
    namespace = dict(vars(functions))
    before = set(namespace)
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    (name,) = set(namespace) - before  # the block defines one function and nothing else
    return namespace[name]


@pytest.fixture
def brevity():
    fn = worked_example()
    before = dict(zip(names(), map(get, names())))
    with registered(fn):
        yield fn
    assert dict(zip(names(), map(get, names()))) == before


def score(completions, targets, **options):
    return build(["brevity"], {"brevity": options} if options else None)[0](completions, target=targets,
                                                                            turn_type=["answer"] * len(targets))


def test_the_example_is_a_new_reward_with_an_option():
    fn = worked_example()
    assert fn.__name__ == "brevity" and "brevity" not in names() and "brevity" not in DERIVED
    assert fn.__module__ == functions.__name__


def test_scores_with_trls_signature(brevity):
    assert options_of("brevity") == {"max_chars": 200}
    assert score([SHORT, LONG, CALL], [ANS_T] * 3) == [1.0, 1.0, 0.0]       # a call on an answer turn: no answer
    short, long_, call = score([SHORT, LONG, CALL], [ANS_T] * 3, max_chars=50)
    assert short == 1.0 and long_ == pytest.approx(2 - N_LONG / 50) and call == 0.0
    assert score([SHORT, CALL], [CALL_T] * 2) == [None, None]                 # not applicable on call targets
    conversational = [[{"role": "assistant", "content": SHORT}]]
    reward = build(["brevity"], {"brevity": {"max_chars": 10}})[0]
    assert reward.__name__ == "brevity"                                       # TRL logs rewards/brevity/mean
    assert reward(conversational, target=[ANS_T], prompts=["p"], trainer_state=None, anything=[object()]) == \
        reward([SHORT], target=[ANS_T])
    assert pickle.loads(pickle.dumps(reward))([SHORT], target=[ANS_T]) == reward([SHORT], target=[ANS_T])


def test_never_raises_and_stays_in_range(brevity):
    for target in (ANS_T, CALL_T):
        out = score(MALFORMED, [target] * len(MALFORMED), max_chars=1)
        assert len(out) == len(MALFORMED) and all(v is None or 0.0 <= v <= 1.0 for v in out)
        assert all(isinstance(v, float) or v is None for v in out)


def test_listed_with_its_option_and_one_line_doc(brevity):
    doc = dict(describe())["brevity"]
    assert doc.startswith("Answer and clarification targets") and "\n" not in doc
    assert describe_metrics()["brevity"] == doc


def test_check_selection_takes_the_option_and_names_a_bad_one(brevity):
    selected = ("tool_call", "answer", "brevity")
    check_selection(selected, OPTIONS, episodes=False, weights=[1.0, 1.0, 0.1])
    with pytest.raises(ConfigError) as err:
        check_selection(selected, {"brevity": {"max_char": 20}}, episodes=False)
    assert err.value.key == "grpo.reward_options.brevity.max_char" and "max_chars" in err.value.problem
    with pytest.raises(ConfigError) as err:
        check_selection(selected, {"brevity": {"max_chars": 0}}, episodes=False)   # a value it refuses
    assert err.value.key == "grpo.reward_options.brevity" and "positive integer" in err.value.problem
    with pytest.raises(ConfigError) as err:
        check_selection(selected, OPTIONS, episodes=False, weights=[1.0, 1.0])
    assert err.value.key == "grpo.trainer.reward_weights"


def test_unknown_outside_the_block():
    with pytest.raises(ConfigError, match="unknown reward 'brevity'"):
        check_selection(("brevity",), {}, episodes=False)


def example(i, target, turn):
    return Example.from_dict({"id": f"test_id-{i}", "domain": "orders", "split": "test_id",
                              "tools": [{"type": "function", "function": {"name": "get_order_status", "parameters":
                                         {"type": "object", "properties": {}}}}],
                              "messages": [{"role": "user", "content": f"request {i}"}],
                              "target": json.loads(target), "turn_type": turn})


def test_an_evaluation_metric_under_its_name(brevity):
    names_ = metric_names()
    assert "brevity" in names_ and names_.index("brevity") < names_.index(DERIVED[0])
    examples = [example(0, ANS_T, "answer"), example(1, ANS_T, "answer"), example(2, CALL_T, "call")]
    rows = score_examples(examples, [SHORT, LONG, CALL], OPTIONS)
    assert [r["brevity"] for r in rows] == [pytest.approx(2 - N_SHORT / 20), 0.0, None]
    assert rows[2]["tool_call"] == 1.0 and list(rows[0]) == names_
    assert [r["brevity"] for r in score_examples(examples, [SHORT, LONG, CALL])] == [1.0, 1.0, None]  # default 200


def test_params_selecting_it_load(brevity, tmp_path):
    raw = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    grpo = raw["grpo"]
    grpo["rewards"] = [*grpo["rewards"], "brevity"]
    grpo["reward_options"] = {**(grpo.get("reward_options") or {}), "brevity": {"max_chars": 120}}
    if grpo["trainer"].get("reward_weights") is not None:
        grpo["trainer"]["reward_weights"] = [*grpo["trainer"]["reward_weights"], 0.1]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    params = load_params(path)
    assert params.grpo.rewards[-1] == "brevity" and params.grpo.reward_options["brevity"] == {"max_chars": 120}
    raw["grpo"]["reward_options"]["brevity"] = {"max_char": 120}
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_params(path)
    assert err.value.key == "grpo.reward_options.brevity.max_char" and str(path) in str(err.value)


def test_registered_refuses_a_taken_name_and_cleans_up_when_the_block_fails():
    fn = worked_example()
    with pytest.raises(ValueError, match="already registered"):
        with registered(get("tool_call")):
            pass
    with pytest.raises(ValueError, match="already registered"):
        with registered(fn, fn):
            pass
    assert "brevity" not in names()
    with pytest.raises(RuntimeError), registered(fn):
        assert get("brevity") is fn
        raise RuntimeError("boom")
    assert "brevity" not in names()
