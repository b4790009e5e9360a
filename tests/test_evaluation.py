"""Evaluation library: metrics on hand-built predictions with known answers, bootstrap intervals, paired deltas,
the written outputs (metrics.json, predictions, figures, DVC plot data, Markdown) and `score_file`."""
from __future__ import annotations

import csv
import json
import pickle

import numpy as np
import pytest

from thinkact.chat_format.template import render_target
from thinkact.contract import Example
from thinkact.errors import DataError
from thinkact.evaluation import (Bootstrap, bootstrap_ci, describe_metrics, evaluate_completions, metric_names,
                                 paired_delta, render_markdown, score_examples, score_file, write_evaluation)
from thinkact.evaluation.metrics import DERIVED, UNBOUNDED, predicted_action
from thinkact.evaluation.report import METRICS_FILE, PLOTS_DIR, PREDICTIONS_DIR, REPORT_FILE
from thinkact.evaluation.score import summary_path
from thinkact.rewards import EPISODE_NAMES, build, names

TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
         for n in ("get_order_status", "cancel_order", "get_forecast", "get_balance")]
FAST = Bootstrap(n_resamples=500)


def ex(i, turn, target, split="test_id"):
    return Example.from_dict({"id": f"{split}-{i}", "domain": "orders", "split": split, "tools": TOOLS,
                              "messages": [{"role": "user", "content": f"request {i}"}], "target": target,
                              "turn_type": turn})


CALL = {"tool_calls": [{"name": "get_order_status", "arguments": {"order_id": "ORD-12345"}}]}
PAR = {"tool_calls": [{"name": "get_forecast", "arguments": {"city": "Paris", "days": 3}},
                      {"name": "get_balance", "arguments": {"account_id": "AC1", "currency": "EUR"}}]}
ANS = {"content": "Order ORD-12345 is shipped."}
CLAR = {"content": "Sure. What is the order id?"}


def calls(*cs, think="get_order_status get_forecast get_balance"):
    return f"<think>\n{think}\n</think>\n\n" + "\n".join(
        f"<tool_call>\n{json.dumps({'name': n, 'arguments': a})}\n</tool_call>" for n, a in cs)


def say(text, think="The result is in; no tool needed."):
    return f"<think>\n{think}\n</think>\n\n{text}"


# (example, completion, expected scores of the derived metrics and of tool_call_exact / answer)
CASES = [
    (ex(0, "call", CALL), calls(("get_order_status", {"order_id": "ORD-12345"})),
     {"tool_call_exact": 1.0, "answer": None, "tool_name_accuracy": 1.0, "argument_accuracy": 1.0,
      "action_type_accuracy": 1.0, "reasoning_present": 1.0}),
    (ex(1, "call", CALL), calls(("get_order_status", {"order_id": "ORD-99999"})),
     {"tool_call_exact": 0.0, "tool_name_accuracy": 1.0, "argument_accuracy": 0.0, "action_type_accuracy": 1.0}),
    (ex(2, "call", CALL), calls(("cancel_order", {"order_id": "ORD-12345"})),
     {"tool_call_exact": 0.0, "tool_call": 0.0, "tool_name_accuracy": 0.0, "argument_accuracy": 0.0,
      "action_type_accuracy": 1.0}),
    (ex(3, "parallel", PAR),  # reversed order, one of three arguments wrong, int written as float
     calls(("get_balance", {"account_id": "AC1", "currency": "USD"}), ("get_forecast", {"city": "paris", "days": 3})),
     {"tool_call_exact": 0.0, "tool_name_accuracy": 1.0, "argument_accuracy": 0.75, "action_type_accuracy": 1.0}),
    (ex(4, "parallel", PAR), calls(("get_forecast", {"city": "Paris", "days": 3})),  # one call missing
     {"tool_call_exact": 0.0, "tool_name_accuracy": 0.5, "argument_accuracy": 0.5}),
    (ex(5, "call", CALL), say("Order ORD-12345 is shipped."),  # answered instead of calling
     {"tool_call_exact": 0.0, "tool_call": 0.0, "tool_name_accuracy": 0.0, "argument_accuracy": 0.0,
      "action_type_accuracy": 0.0}),
    (ex(6, "answer", ANS), say("Order ORD-12345 is shipped."),
     {"tool_call_exact": None, "tool_call": None, "answer": 1.0, "tool_name_accuracy": None,
      "argument_accuracy": None, "action_type_accuracy": 1.0, "format": 1.0}),
    (ex(7, "answer", ANS), "Order ORD-12345 is shipped.",  # no think: format 0, reasoning absent
     {"answer": 1.0, "format": 0.0, "reasoning_present": 0.0, "action_type_accuracy": 1.0}),
    (ex(8, "clarify", CLAR), say("Sure. What is the order id?", think="The order id is missing; ask."),
     {"answer": 1.0, "action_type_accuracy": 1.0}),
    (ex(9, "clarify", CLAR), calls(("get_order_status", {"order_id": "ORD-1"})),  # guessed instead of asking
     {"answer": 0.0, "tool_call_exact": None, "action_type_accuracy": 0.0}),
    (ex(10, "no_tool", {"content": "Hello! How can I help you today?"}), say("Hello! How can I help you today?"),
     {"answer": 1.0, "action_type_accuracy": 1.0}),  # an offer of help is an answer, not a clarification
    (ex(11, "answer", ANS), "<think>\n\n</think>\n\nWhich order do you mean?",  # asked instead of answering
     {"answer": 0.2, "action_type_accuracy": 0.0, "reasoning_present": 0.0, "format": 1.0}),  # token F1
    (ex(12, "call", CALL), "<think>unclosed", {"tool_call_exact": 0.0, "action_type_accuracy": 0.0, "format": 0.0}),
]


def test_metric_names_are_the_rewards_then_the_derived_metrics():
    turn_rewards = [n for n in names() if n not in EPISODE_NAMES]  # episode rewards score episodes, not turns
    assert metric_names() == [*turn_rewards, *DERIVED] and set(EPISODE_NAMES) <= set(names())
    assert {"tool_call_exact", "tool_call", "answer", "format", "reasoning_consistency"} <= set(metric_names())
    assert set(describe_metrics()) == set(metric_names()) and all(describe_metrics().values())


@pytest.mark.parametrize("i", range(len(CASES)))
def test_metrics_on_hand_built_predictions(i):
    example, completion, expected = CASES[i]
    (row,) = score_examples([example], [completion])
    assert list(row) == metric_names()
    for metric, value in expected.items():
        assert row[metric] == (None if value is None else pytest.approx(value)), metric
    assert row["output_length"] == len(completion)
    assert all(v is None or 0 <= v <= 1 for k, v in row.items() if k not in UNBOUNDED)


def test_reward_metrics_are_the_reward_functions_themselves():
    examples, completions = [c[0] for c in CASES], [c[1] for c in CASES]
    rows = score_examples(examples, completions, reward_options={"answer": {"mode": "exact"}})
    targets = [json.dumps(e.target.to_dict()) for e in examples]
    for reward in build([n for n in names() if n not in EPISODE_NAMES], {"answer": {"mode": "exact"}}):
        assert [r[reward.name] for r in rows] == reward(completions, target=targets), reward.name
    conversational = [[{"role": "assistant", "content": c}] for c in completions]
    assert score_examples(examples, conversational, {"answer": {"mode": "exact"}}) == rows


def test_predicted_action():
    assert predicted_action(calls(("f", {}))) == "call"
    assert predicted_action("<think>x</think><tool_call>{broken</tool_call>") == "call"  # intent counts
    assert predicted_action(say("Could you give me the order id?")) == "clarify"
    assert predicted_action(say("Done. Anything else?")) == "answer"
    assert predicted_action(say("Is it 5? No, it is 6.")) == "answer"
    assert predicted_action("<think>x</think>") == "none" and predicted_action("<think>x") == "none"


def test_gold_completions_score_full_marks_on_the_builtin_data(builtin_examples):
    examples = builtin_examples["test_env"]
    rows = score_examples(examples, [render_target(e.target.to_dict(), e.reasoning) for e in examples])
    for metric in metric_names():
        if metric not in UNBOUNDED:
            assert all(r[metric] in (None, 1.0) for r in rows), metric


# -- statistics ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_interval_contains_the_estimate_and_is_reproducible(seed):
    rng = np.random.default_rng(seed)
    values = list((rng.random(200) < 0.3 + 0.1 * seed).astype(float)) + [None] * 7
    est = bootstrap_ci(values, n_resamples=1000, seed=seed)
    assert est.n == 200 and est.value == pytest.approx(np.mean([v for v in values if v is not None]))
    assert est.low < est.value < est.high
    assert bootstrap_ci(values, n_resamples=1000, seed=seed) == est
    lengths = rng.gamma(2.0, 60.0, 300)  # skewed, unbounded (like output_length)
    e = bootstrap_ci(list(lengths), n_resamples=1000, method="percentile")
    assert e.low < e.value < e.high


def test_interval_shrinks_with_more_data():
    rng = np.random.default_rng(0)
    widths = []
    for n in (30, 300, 3000):
        est = bootstrap_ci(list((rng.random(n) < 0.7).astype(float)), n_resamples=1000)
        widths.append(est.high - est.low)
    assert widths[0] > widths[1] > widths[2] > 0
    assert widths[0] / widths[2] > 5  # ~ sqrt(100)


def test_edge_cases():
    assert bootstrap_ci([None, None]).value is None and bootstrap_ci([]).n == 0
    one = bootstrap_ci([0.5, None])
    assert one.value == 0.5 and one.ci is None and one.n == 1
    same = bootstrap_ci([1.0] * 20)
    assert same.ci == [1.0, 1.0]
    with pytest.raises(ValueError, match="method"):
        bootstrap_ci([0, 1], method="student")


def test_paired_delta():
    rng = np.random.default_rng(1)
    base = (rng.random(400) < 0.5).astype(float)
    better = base.copy()
    better[rng.choice(np.flatnonzero(base == 0), 60, replace=False)] = 1.0  # 60 of 400 fixed, none broken
    d = paired_delta(list(better), list(base), n_resamples=1000)
    assert d.value == pytest.approx(0.15) and d.low > 0 and d.excludes_zero and d.low < d.value < d.high
    unpaired = bootstrap_ci(list(better), n_resamples=1000)
    assert d.high - d.low < unpaired.high - unpaired.low  # pairing removes the shared per-example variance
    same = paired_delta(list(base), list(base))
    assert same.value == 0.0 and same.ci == [0.0, 0.0] and not same.excludes_zero
    # None in either model drops that example from the pair
    assert paired_delta([1.0, None, 0.0, 1.0], [0.0, 1.0, None, 0.0]).n == 2
    with pytest.raises(ValueError, match="same examples"):
        paired_delta([1.0], [1.0, 0.0])


# -- evaluation and its outputs ------------------------------------------------------------------------------
def _three_models():
    """base answers everything, sft calls with a wrong value half the time, grpo is right."""
    examples = {"test_id": [c[0] for c in CASES[:9]], "test_env": [c[0] for c in CASES[:9]]}
    gold = {s: [render_target(e.target.to_dict(), "get_order_status get_forecast get_balance no tool needed")
                for e in exs] for s, exs in examples.items()}
    base = {s: [say("I cannot help with that.") for _ in exs] for s, exs in examples.items()}
    sft = {s: [c if i % 2 else CASES[1][1] for i, c in enumerate(gold[s])] for s in examples}
    return examples, {"base": base, "sft": sft, "grpo": gold}


def test_evaluate_completions_summaries_and_deltas():
    examples, completions = _three_models()
    ev = evaluate_completions(examples, completions, bootstrap=FAST)
    m = ev.metrics_json()
    assert list(m) == ["base", "sft", "grpo", "deltas", "bootstrap"]
    grpo = m["grpo"]["test_id"]
    assert grpo["tool_call_exact"] == 1.0 and grpo["tool_call_exact_ci"] == [1.0, 1.0] and grpo["tool_call_exact_n"] == 6
    assert m["base"]["test_id"]["tool_call_exact"] == 0.0 and m["base"]["test_id"]["answer_n"] == 3
    sft = m["sft"]["test_env"]
    assert 0 < sft["tool_call_exact"] < 1 and sft["tool_call_exact_ci"][0] <= sft["tool_call_exact"] <= sft["tool_call_exact_ci"][1]
    assert set(m["deltas"]) == {"sft-base", "grpo-sft"}
    d = m["deltas"]["grpo-sft"]["test_id"]
    assert d["tool_call_exact"] == pytest.approx(1.0 - sft["tool_call_exact"], abs=1e-6)
    assert m["bootstrap"] == {"n_resamples": 500, "confidence": 0.95, "seed": 0, "method": "BCa"}
    again = evaluate_completions(examples, completions, bootstrap=FAST).metrics_json()
    assert again == m  # seeded: reproducible
    with pytest.raises(ValueError, match="completions for"):
        evaluate_completions(examples, {"base": {"test_id": [], "test_env": []}})
    with pytest.raises(ValueError, match="reserved"):
        evaluate_completions(examples, {"deltas": completions["base"]})


def test_write_evaluation_outputs(tmp_path):
    examples, completions = _three_models()
    ev = evaluate_completions(examples, completions, bootstrap=FAST)
    out = tmp_path / "evaluate"
    (out / PREDICTIONS_DIR / "old_model").mkdir(parents=True)  # a stale model of an earlier run
    paths = write_evaluation(ev, out)
    assert json.loads((out / METRICS_FILE).read_text()) == json.loads(json.dumps(ev.metrics_json()))
    assert not (out / PREDICTIONS_DIR / "old_model").exists()
    for model in ev.models:
        for split in ev.splits:
            rows = [json.loads(line) for line in (out / PREDICTIONS_DIR / model / f"{split}.jsonl").read_text().splitlines()]
            assert [r["id"] for r in rows] == [e.id for e in examples[split]]
            assert rows[0]["model"] == model and set(rows[0]["scores"]) == set(metric_names())
            assert {"completion", "predicted_action", "gold_action", "target"} <= set(rows[0])
    plots = out / PLOTS_DIR
    for png in ("metrics.png", "deltas.png"):
        assert (plots / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (plots / "metrics.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == len(ev.models) * len(ev.splits) * len(ev.metrics)
    assert set(table[0]) == {"model", "split", "series", "metric", "value", "ci_low", "ci_high", "n"}
    series = json.loads((plots / "metrics" / "tool_call_exact.json").read_text())
    assert {r["series"] for r in series} == {f"{m}/{s}" for m in ev.models for s in ev.splits}
    assert paths["report"] == out / REPORT_FILE and paths["report"].read_text() == render_markdown(ev)
    assert not list(out.rglob("*.tmp"))


def test_report_renders_the_paper_table():
    examples, completions = _three_models()
    ev = evaluate_completions(examples, completions, bootstrap=FAST)
    md = render_markdown(ev, title="Qwen3 tiny")
    assert md.startswith("# Qwen3 tiny")
    assert "## test_id" in md and "## test_env" in md and "### grpo − sft" in md and "### sft − base" in md
    summary, per_split = md.split("\n## test_id\n")
    assert "## Summary" in summary
    headline = next(line for line in summary.splitlines() if line.startswith("| model |"))
    assert "test_id tool_call_exact" in headline and "test_env answer" in headline
    assert next(line for line in summary.splitlines() if line.startswith("| grpo |")).count("100.0 ± 0.0") == 6
    header = next(line for line in per_split.splitlines() if line.startswith("| model |"))
    assert "tool_call_exact (n=6)" in header and "output_length" in header
    grpo_row = next(line for line in per_split.splitlines() if line.startswith("| grpo |"))
    assert "**100.0 ± 0.0**" in grpo_row
    sft_row = next(line for line in per_split.splitlines() if line.startswith("| sft |"))
    assert " ± " in sft_row
    assert "- `argument_accuracy`:" in md and "- `tool_call_exact`:" in md
    assert "\\*" in md  # some delta excludes 0


def test_evaluation_is_picklable():
    examples, completions = _three_models()
    ev = evaluate_completions(examples, completions, bootstrap=FAST)
    assert pickle.loads(pickle.dumps(ev)).metrics_json() == ev.metrics_json()


# -- score_file ----------------------------------------------------------------------------------------------
@pytest.fixture
def scored_files(tmp_path):
    data = tmp_path / "data.jsonl"
    examples = [c[0] for c in CASES]
    data.write_text("".join(e.to_json() + "\n" for e in examples))
    preds = tmp_path / "preds.jsonl"
    lines = [json.dumps({"id": e.id, "completion": c, "model": "x"}) for e, c, _ in CASES]
    preds.write_text("\n".join(reversed(lines)) + "\n\n")  # any order, blank lines skipped
    return data, preds, tmp_path / "scores.jsonl"


def test_score_file(scored_files):
    data, preds, out = scored_files
    summary = score_file(data, preds, out, bootstrap=FAST)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    expected = score_examples([c[0] for c in CASES], [c[1] for c in CASES])
    assert [r["id"] for r in rows] == [c[0].id for c in CASES]
    assert [{k: r[k] for k in metric_names()} for r in rows] == expected
    assert rows[0]["split"] == "test_id" and rows[0]["predicted_action"] == "call"
    assert json.loads(summary_path(out).read_text()) == summary
    s = summary["test_id"]
    assert s["tool_call_exact_n"] == sum(1 for r in expected if r["tool_call_exact"] is not None)
    assert s["tool_call_exact"] == pytest.approx(np.mean([r["tool_call_exact"] for r in expected
                                                          if r["tool_call_exact"] is not None]), abs=1e-6)
    assert "all" not in summary  # one split


@pytest.mark.parametrize("line, where, message", [
    ("{not json", ":3", "invalid JSON"),
    ('["a list"]', ":3", "expected a JSON object"),
    ('{"completion": "x"}', ":3: field 'id'", "missing"),
    ('{"id": "test_id-0", "completion": "dup"}', ":3: field 'id'", "duplicate id 'test_id-0' (first on line 1)"),
    ('{"id": "nope", "completion": "x"}', ":3: field 'id'", "id 'nope' is not in"),
    ('{"id": "test_id-5", "completion": 7}', ":3: field 'completion'", "not a string"),
])
def test_score_file_errors_name_file_line_and_field(tmp_path, line, where, message):
    data = tmp_path / "data.jsonl"
    data.write_text("".join(c[0].to_json() + "\n" for c in CASES))
    preds = tmp_path / "preds.jsonl"
    good = [json.dumps({"id": c[0].id, "completion": c[1]}) for c in CASES]
    preds.write_text("\n".join([good[0], good[1], line, *good[2:]]) + "\n")
    out = tmp_path / "scores.jsonl"
    with pytest.raises(DataError) as info:
        score_file(data, preds, out)
    assert f"preds.jsonl{where}" in str(info.value) and message in str(info.value)
    assert not out.exists() and not summary_path(out).exists()


def test_score_file_missing_predictions(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text("".join(c[0].to_json() + "\n" for c in CASES))
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"id": CASES[0][0].id, "completion": "x"}) + "\n")
    with pytest.raises(DataError, match=r"no prediction for 12 of 13 examples of .*data.jsonl: 'test_id-1', .*, …"):
        score_file(data, preds, tmp_path / "scores.jsonl")
    with pytest.raises(DataError, match="file not found"):
        score_file(data, tmp_path / "missing.jsonl", tmp_path / "scores.jsonl")
