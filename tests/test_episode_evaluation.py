"""Episode evaluation (issue #13 part 5): success and pass^k per model x split with intervals and paired deltas,
deterministic greedy results, the transcripts files and the report section. builtin:tiny, one copy taught to
solve one episode (a call, then an answer stating the facts) in a few seconds."""
from __future__ import annotations

import copy
import json

import pytest
import torch

from conftest import QUICK
from thinkact.chat_format.template import render_target
from thinkact.evaluation.params import BootstrapParams, EpisodeEvalParams, EvaluateParams
from thinkact.config import Params
from thinkact.contract import ToolCall
from thinkact.env.rollout import play_episodes
from thinkact.env.settings import EpisodesParams
from thinkact.env.spec import EpisodeSpec
from thinkact.world.catalog import TOOLS_BY_NAME
from thinkact.world.simulators import simulate
from thinkact.evaluation.episode_eval import evaluate_episodes, render_episode_markdown, transcript_lines
from thinkact.models.loading import load_model
from thinkact.rewards import EPISODE_NAMES

TOOLS = tuple(TOOLS_BY_NAME[n].schema() for n in ("get_order_status", "cancel_order"))
END = "<|im_end|>"


def order_spec(i):
    order = {"order_id": f"ORD-1234{i}"}
    return EpisodeSpec(id=f"ep-{i}", user=f"What is the status of order ORD-1234{i}?", tools=TOOLS,
                       gold_calls=(ToolCall("get_order_status", order),),
                       facts=(order["order_id"], simulate("get_order_status", order)["status"]))


SPECS = [order_spec(i) for i in range(3)]
PARAMS = Params(episodes=EpisodesParams(max_turns=2, max_tool_calls=2, max_new_tokens=60),
                evaluate=EvaluateParams(batch_size=4, bootstrap=BootstrapParams(n_resamples=200),
                                        episodes=EpisodeEvalParams(k=2, temperature=1.0)))


def teach_episode(model, tokenizer, spec, turns, rounds=4, steps=60):
    """A copy of `model` that plays `spec` with the texts `turns` (one per assistant turn): taught on the contexts
    its own greedy play reaches, until it plays every turn right."""
    model = copy.deepcopy(model)
    targets = [tokenizer(t + END, add_special_tokens=False)["input_ids"] for t in turns]
    pairs: dict[tuple, list[int]] = {}
    for _ in range(rounds):
        (r,) = play_episodes(model, tokenizer, [spec], EpisodesParams(max_new_tokens=max(map(len, targets)) + 4))
        starts = [i for i, m in enumerate(r.env_mask) if m and (i == 0 or not r.env_mask[i - 1])]
        got = [r.completion_ids[a:a + len(t)] for a, t in zip(starts, targets)]
        if got == targets and len(starts) == len(targets):
            return model
        pairs.update({tuple(r.prompt_ids + r.completion_ids[:a]): t for a, t in zip(starts, targets)})
        model.train()
        torch.manual_seed(0)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        data = [(torch.tensor([list(c) + t]), torch.tensor([[-100] * len(c) + t])) for c, t in pairs.items()]
        for _ in range(steps):
            loss = sum(model(input_ids=x, labels=y).loss for x, y in data)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
    raise AssertionError("the tiny model did not learn the episode")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{"base": builtin:tiny, "solver": a copy taught to solve SPECS[0]}, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model, tok = load_model("builtin:tiny", tmp_path_factory.mktemp("models"), tiny_size=QUICK["model"]["tiny"])
    call = render_target({"tool_calls": [{"name": "get_order_status", "arguments": {"order_id": "ORD-12340"}}]},
                         "get_order_status")
    answer = render_target({"content": f"Order ORD-12340 is {SPECS[0].facts[1]}."}, "The tool answered.")
    yield {"base": (model, tok), "solver": (teach_episode(model, tok, SPECS[0], [call, answer]), tok)}
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def evaluated(models, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluate")
    solver = models["solver"]
    ev = evaluate_episodes({"base": models["base"], "solver": lambda: solver}, {"test_env": SPECS}, PARAMS,
                           out_dir=out)
    return ev, out


def test_success_pass_k_and_deltas_per_model_and_split(evaluated):
    ev, _ = evaluated
    assert ev.models == ["base", "solver"] and ev.splits == ["test_env"]
    assert ev.metrics == ["episode_success", "pass_k", "sampled_success", *EPISODE_NAMES[1:], "calls_per_episode",
                          "turns_per_episode", "invalid_call_rate"]
    solver = ev.summary["solver"]["test_env"]
    assert [r["episode_success"] for r in ev.rows["solver"]["test_env"]] == [1.0, 0.0, 0.0]
    assert solver["episode_success"].value == pytest.approx(1 / 3) and solver["episode_success"].n == 3
    assert solver["calls_per_episode"].value >= 1 / 3 and ev.summary["base"]["test_env"]["episode_success"].value == 0
    delta = ev.deltas["solver-base"]["test_env"]["episode_success"]
    assert delta.value == pytest.approx(1 / 3) and delta.n == 3
    for row in ev.rows["solver"]["test_env"]:
        assert row["pass_k"] in (0.0, 1.0) and 0 <= row["sampled_success"] <= 1
        assert row["pass_k"] == float(row["sampled_success"] == 1.0)
    speed = ev.throughput["solver"]["test_env"]
    assert speed["greedy_episodes_per_second"] > 0 and speed["sampled_episodes_per_second"] > 0
    js = json.loads(json.dumps(ev.metrics_json()))
    assert js["solver"]["test_env"]["episode_success_n"] == 3 and "pass_k_ci" in js["base"]["test_env"]
    assert js["settings"]["k"] == 2 and set(js["deltas"]) == {"solver-base"}
    assert ev.mlflow_metrics()["episodes/solver/test_env/episode_success"] == pytest.approx(1 / 3)


def test_greedy_results_are_deterministic(models, evaluated):
    ev, _ = evaluated
    again = evaluate_episodes({"solver": models["solver"], "base": models["base"]}, {"test_env": SPECS}, PARAMS,
                              k=0)
    for model in ("base", "solver"):
        assert again.transcripts[model]["test_env"] == [{**t, "samples_success": None, "scores": {
            k: v for k, v in t["scores"].items() if k not in ("pass_k", "sampled_success")}}
            for t in ev.transcripts[model]["test_env"]]
    assert "pass_k" not in again.metrics and set(again.deltas) == {"base-solver"}


def test_transcripts_files(evaluated):
    ev, out = evaluated
    for model in ("base", "solver"):
        lines = (out / "predictions" / "episodes" / model / "test_env.jsonl").read_text().splitlines()
        rows = [json.loads(line) for line in lines]
        assert [r["id"] for r in rows] == ["ep-0", "ep-1", "ep-2"] and {r["model"] for r in rows} == {model}
        for r in rows:
            assert {"id", "model", "split", "messages", "success", "scores", "result", "samples_success"} <= set(r)
            assert r["messages"][0] == {"role": "user", "content": SPECS[int(r["id"][-1])].user}
            assert set(r["scores"]) == set(ev.metrics) and len(r["samples_success"]) == 2
    solved = json.loads((out / "predictions/episodes/solver/test_env.jsonl").read_text().splitlines()[0])
    assert solved["success"] == 1.0 and [m["role"] for m in solved["messages"]] == ["user", "assistant", "tool",
                                                                                     "assistant"]


def test_report_section_has_the_table_and_a_succeeded_and_a_failed_transcript(evaluated):
    ev, _ = evaluated
    md = render_episode_markdown(ev)
    assert md.startswith("## Agent episodes") and "### test_env (3 episodes)" in md
    assert "| model | success |" in md and "| solver − base |" in md and "pass^k" in md
    assert "**Succeeded** (solver, `ep-0`)" in md and "**Failed** (solver, `ep-1`)" in md
    assert 'assistant: get_order_status({"order_id": "ORD-12340"})' in md
    assert "tool: {" in md and "user: What is the status of order ORD-12340?" in md


def test_transcript_lines_and_bad_settings():
    lines = transcript_lines([{"role": "user", "content": "hi\nthere"},
                              {"role": "assistant", "content": "", "reasoning": "r",
                               "tool_calls": [{"function": {"name": "f", "arguments": '{"a": 1}'}}]},
                              {"role": "tool", "content": "x" * 500}])
    assert lines[:3] == ["user: hi ⏎ there", "assistant (thinking): r", 'assistant: f({"a": 1})']
    assert lines[3].startswith("tool: xxx") and len(lines[3]) == len("tool: ") + 240
    with pytest.raises(ValueError, match="reserved"):
        evaluate_episodes({"deltas": (None, None)}, {"s": []}, Params())
    with pytest.raises(ValueError, match="temperature"):
        evaluate_episodes({"a": (None, None)}, {"s": []}, Params(), k=2, temperature=0.0)
