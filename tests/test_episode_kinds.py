"""Episode success per kind (issue #23): built-in episodes of every kind played on the real environment by two
scripted policies — the gold one (episode_gen.gold_conversation) and one that never calls a tool — and a mix of
the two, scored by the real episode rewards (score_rollouts) and summarised by summarize_episodes: the per-kind
counts, the pooled tool-needing group, the deltas against the paired bootstrap on each subset, absent kinds."""
from __future__ import annotations

import dataclasses
import json

import pytest

from thinkact.config import Params
from thinkact.data.episode_gen import gold_conversation, generate_episodes
from thinkact.data.params import DataParams
from thinkact.env.rollout import EpisodeRollout, opening_messages
from thinkact.env.spec import EPISODE_KINDS
from thinkact.env.tool_env import ToolEnvironment
from thinkact.evaluation.episode_eval import render_episode_markdown, score_rollouts, summarize_episodes
from thinkact.evaluation.params import BootstrapParams, EvaluateParams
from thinkact.evaluation.stats import bootstrap_ci, paired_delta
from thinkact.evaluation.summary import flatten

MIX = {"single": 0.3, "chain": 0.2, "parallel": 0.15, "clarify": 0.2, "no_tool": 0.15}
(_, TEST_ID), (_, TEST_ENV) = generate_episodes(DataParams(episode_sizes={"test_id": 24, "test_env": 10},
                                                           episode_mix=MIX))
SPLITS = {"test_id": TEST_ID,
          "no_parallel": [s for s in TEST_ENV if s.kind != "parallel"],           # a kind absent from a split
          "kindless": [dataclasses.replace(s, kind=None) for s in TEST_ENV[:4]]}  # hand-made specs: no kind
PARAMS = Params(evaluate=EvaluateParams(bootstrap=BootstrapParams(n_resamples=300)))
BOOT = PARAMS.evaluate.bootstrap.kwargs()
MODELS = ("never", "mixed", "gold")  # default pairs: mixed-never, gold-mixed
TOOL_KINDS = [k for k in EPISODE_KINDS if k != "no_tool"]


def _rollout(spec, env, messages):
    return EpisodeRollout(spec, 0, messages, [], calls=env.calls, turns=env.turns, final_answer=env.final_answer,
                          done=env.done, failed=env.failed,
                          assistant_turns=sum(m["role"] == "assistant" for m in messages))


def play_gold(spec):
    env = ToolEnvironment(max_turns=4, max_tool_calls=8)
    return _rollout(spec, env, gold_conversation(spec, env))


def play_never(spec):
    """Answers straight away (the gold answer text), never calling a tool; a clarify episode's user replies first."""
    env, messages = ToolEnvironment(spec, max_turns=4, max_tool_calls=8), opening_messages(spec)
    while not env.done:
        text = spec.answer or "I cannot look that up."
        messages += [{"role": "assistant", "content": text}, {"role": "user", "content": env.respond(text)}]
    return _rollout(spec, env, messages)


def play(model, split, specs):
    policies = {"gold": lambda i: play_gold, "never": lambda i: play_never,
                "mixed": lambda i: play_gold if i % 2 else play_never}
    rollouts = [policies[model](i)(spec) for i, spec in enumerate(specs)]
    rows = score_rollouts(rollouts)
    transcripts = [{"id": r.spec.id, "model": model, "split": split, "messages": r.messages,
                    "success": row["episode_success"], "scores": row, "result": r.result(), "samples_success": None}
                   for r, row in zip(rollouts, rows)]
    return rows, transcripts, {"greedy_episodes_per_second": 0.0, "seconds": 0.0}


@pytest.fixture(scope="module")
def ev():
    played = {m: {sp: play(m, sp, specs) for sp, specs in SPLITS.items()} for m in MODELS}
    return summarize_episodes(played, SPLITS, PARAMS, k=0)  # greedy only: the policies are deterministic


def success(ev, model, split, keep):
    return [row["episode_success"] for spec, row in zip(SPLITS[split], ev.rows[model][split]) if keep(spec.kind)]


def test_the_data_has_every_kind_and_the_policies_do_what_they_say(ev):
    assert {s.kind for s in TEST_ID} == set(EPISODE_KINDS)
    for kind in EPISODE_KINDS:
        assert set(success(ev, "gold", "test_id", lambda k: k == kind)) == {1.0}
        assert set(success(ev, "never", "test_id", lambda k: k == kind)) == {1.0 if kind == "no_tool" else 0.0}


def test_per_kind_counts_sum_to_the_split_and_tool_needing_pools_every_kind_but_no_tool(ev):
    for m in MODELS:
        for sp in ("test_id", "no_parallel"):
            groups = ev.by_kind[m][sp]
            assert sum(groups[k]["episode_success"].n for k in EPISODE_KINDS if k in groups) == len(SPLITS[sp])
            pooled = success(ev, m, sp, lambda k: k != "no_tool")
            assert groups["tool_needing"]["episode_success"] == bootstrap_ci(pooled, **BOOT)
            assert groups["tool_needing"]["episode_success"].n == sum(groups[k]["episode_success"].n
                                                                      for k in TOOL_KINDS if k in groups)
            for kind in EPISODE_KINDS:
                if kind in groups:
                    assert groups[kind]["episode_success"] == bootstrap_ci(
                        success(ev, m, sp, lambda k: k == kind), **BOOT)
    # the degenerate never-call policy: a real share overall, all of it from no_tool
    never = ev.by_kind["never"]["test_id"]
    assert ev.summary["never"]["test_id"]["episode_success"].value > 0
    assert never["no_tool"]["episode_success"].value == 1.0 and never["tool_needing"]["episode_success"].value == 0.0


def test_kind_deltas_are_the_paired_bootstrap_on_each_subset(ev):
    assert set(ev.kind_deltas) == {"mixed-never", "gold-mixed"}
    intervals = 0
    for pair, by_split in ev.kind_deltas.items():
        a, b = pair.split("-")
        for sp in ("test_id", "no_parallel"):
            for group, keep in [*((k, lambda x, k=k: x == k) for k in EPISODE_KINDS),
                                ("tool_needing", lambda x: x != "no_tool")]:
                if group not in by_split[sp]:
                    continue
                want = paired_delta(success(ev, a, sp, keep), success(ev, b, sp, keep), **BOOT)
                assert by_split[sp][group]["episode_success"] == want
                intervals += want.low is not None and want.low < want.high
    assert intervals > 0  # not only constant differences: real intervals were compared
    assert ev.kind_deltas["gold-mixed"]["test_id"]["no_tool"]["episode_success"].value == 0.0


def test_an_absent_kind_is_left_out_and_a_split_without_kinds_has_no_figures(ev):
    js = json.loads(json.dumps(ev.metrics_json()))["by_kind"]
    assert set(js) == {*MODELS, "deltas"}
    for source in (js["gold"], js["deltas"]["gold-mixed"]):
        assert "parallel" not in source["no_parallel"] and "single" in source["no_parallel"]
        assert list(source["test_id"]) == [*EPISODE_KINDS, "tool_needing"]
        assert source["kindless"] == {}
    assert js["never"]["test_id"]["chain"] == flatten(ev.by_kind["never"]["test_id"]["chain"])
    names = ev.mlflow_metrics()
    assert not any("/kindless/" in n and "/by_kind/" in n for n in names)
    assert not any(n.startswith("episodes/by_kind/gold/no_parallel/parallel") for n in names)
    md = render_episode_markdown(ev)
    kindless = md[md.index("### kindless"):]
    assert "success by kind" not in kindless and "| gold |" in kindless  # the overall table is still there


def test_metrics_json_mlflow_and_report_carry_the_per_kind_figures(ev):
    js = ev.metrics_json()
    n_chain = sum(s.kind == "chain" for s in TEST_ID)
    assert js["by_kind"]["gold"]["test_id"]["chain"]["episode_success_n"] == n_chain
    assert js["by_kind"]["deltas"]["gold-mixed"]["test_id"]["tool_needing"]["episode_success_ci"] is not None
    assert js["gold"]["test_id"]["episode_success_n"] == len(TEST_ID)  # the overall figures are unchanged
    names = ev.mlflow_metrics()
    assert names["episodes/by_kind/never/test_id/no_tool/episode_success"] == 1.0
    assert names["episodes/by_kind/delta/gold-mixed/test_id/chain/episode_success"] == pytest.approx(
        ev.kind_deltas["gold-mixed"]["test_id"]["chain"]["episode_success"].value)
    md = render_episode_markdown(ev)
    section = md[md.index("### test_id"):md.index("### no_parallel")]
    counts = " | ".join(f"{k} ({sum(s.kind == k for s in TEST_ID)})" for k in EPISODE_KINDS)
    tool_needing = sum(s.kind != "no_tool" for s in TEST_ID)
    assert f"| success by kind | {counts} | tool-needing ({tool_needing}) |" in section
    assert "| never | 0.0 ± 0.0 | 0.0 ± 0.0 | 0.0 ± 0.0 | 0.0 ± 0.0 | 100.0 ± 0.0 | 0.0 ± 0.0 |" in section
    assert "| gold − mixed |" in section and section.count("| mixed − never |") == 2  # overall and by kind
