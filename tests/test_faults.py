"""A world with faults (issue #23 item 3): the simulated tools fail at the rates of `episodes.faults` — transient
(503), rate limit (429), validation (422, naming the field) — drawn per seed, episode and call, the same in GRPO's
rollouts and in evaluation; a faulted call runs when sent again; faults are not the model's mistakes in the rewards;
evaluation adds success without faults only when faults are on; with every rate 0 nothing changes; the gold
demonstrations never meet one. Real environment, rollout loop, rewards and evaluation; the policies are scripted
(a stand-in with `generate`'s signature that plays each episode's gold calls), and the tokenizer is builtin:tiny's."""
from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter, defaultdict
from types import SimpleNamespace

import pytest
import torch

from conftest import QUICK, write_params
from thinkact.chat_format.template import render_target
from thinkact.config import Params, load_params
from thinkact.env.columns import played_of
from thinkact.env.faults import draw_fault, fault_message
from thinkact.env.rollout import play_episodes
from thinkact.env.settings import FAULT_KINDS, EpisodesParams, FaultParams
from thinkact.env.tool_env import ToolEnvironment
from thinkact.errors import ConfigError
from thinkact.evaluation.episode_eval import NO_FAULTS, evaluate_episodes, render_episode_markdown
from thinkact.evaluation.params import BootstrapParams, EpisodeEvalParams, EvaluateParams
from thinkact.evaluation.runner import episode_headline, episode_metrics_json
from thinkact.models.loading import load_tokenizer
from thinkact.rewards import build
from thinkact.training.episode_rollouts import EpisodeRollouts, episode_rows
from thinkact.world.simulators import simulate

END = "<|im_end|>"
ON = FaultParams(transient=0.3, rate_limit=0.2, validation=0.2, seed=0)
BOUNDS = {"max_turns": 3, "max_tool_calls": 8, "max_new_tokens": 400}
RESPONSE = re.compile(r"<tool_response>\n(.*?)\n</tool_response>", re.S)
RESULT_KEYS = {"id", "sample", "calls", "turns", "final_answer", "done", "failed", "truncated", "assistant_turns",
               "max_turns", "max_tool_calls", "completion_tokens", "generated_tokens"}


def run_params(faults: FaultParams = FaultParams()) -> Params:
    return Params(episodes=EpisodesParams(**BOUNDS, faults=faults),
                  evaluate=EvaluateParams(batch_size=16, bootstrap=BootstrapParams(n_resamples=100),
                                          episodes=EpisodeEvalParams(k=1, temperature=1.0)))


class GoldCaller:
    """A scripted policy: each turn it reads the context, sends the next gold call (one a turn) and, when the gold
    calls are done, answers stating every fact. With `retry` a call whose result is an error is sent again (it
    moves on only after a result that ran); without, it moves on after any result."""

    device = torch.device("cpu")
    training = False

    def __init__(self, tokenizer, specs, retry: bool):
        self.tok, self.specs, self.retry = tokenizer, list(specs), retry

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def turn(self, text: str) -> str:
        spec = max((s for s in self.specs if s.user in text), key=lambda s: len(s.user))
        results = [json.loads(body) for body in RESPONSE.findall(text)]
        done = sum("error" not in r for r in results) if self.retry else len(results)
        if done < len(spec.gold_calls):
            call = spec.gold_calls[done]
            return render_target({"tool_calls": [{"name": call.name, "arguments": call.arguments}]}, "I call it.")
        return render_target({"content": "Here it is: " + "; ".join(spec.facts) + "."}, "The tools answered.")

    def generate(self, input_ids, attention_mask, max_new_tokens, eos_token_id, pad_token_id, **_):
        rows = []
        for ids, mask in zip(input_ids.tolist(), attention_mask.tolist()):
            text = self.tok.decode([t for t, m in zip(ids, mask) if m], skip_special_tokens=False)
            rows.append(ids + self.tok(self.turn(text) + END, add_special_tokens=False)["input_ids"][:max_new_tokens])
        width = max(map(len, rows))
        return torch.tensor([r + [pad_token_id] * (width - len(r)) for r in rows])


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return load_tokenizer("builtin:tiny", tmp_path_factory.mktemp("models"), tiny_size=QUICK["model"]["tiny"])


@pytest.fixture(scope="module")
def specs(params):
    """The first episodes of every built-in split: every kind, ids unique."""
    from thinkact.data.episode_gen import generate_episodes

    out = [s for _, split in generate_episodes(params.data) for s in split[:8]]
    assert {s.kind for s in out} >= {"single", "chain", "parallel", "clarify", "no_tool"}
    return out


def calls_of(result: dict) -> list[tuple]:
    return [(c["name"], json.dumps(c["arguments"], sort_keys=True), c["error"]) for c in result["calls"]]


def faulted(results) -> int:
    return sum(c["error"] in FAULT_KINDS for r in results for c in r["calls"])


# -- params ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("faults, key", [
    ({"transient": 1.5}, "episodes.faults.transient"), ({"rate_limit": -0.1}, "episodes.faults.rate_limit"),
    ({"validation": "0.1"}, "episodes.faults.validation"), ({"transient": True}, "episodes.faults.transient"),
    ({"rate_limit": None}, "episodes.faults.rate_limit"), ({"validation": [0.1]}, "episodes.faults.validation"),
    ({"seed": -1}, "episodes.faults.seed"), ({"seed": 1.5}, "episodes.faults.seed"),
    ({"transient": 0.6, "rate_limit": 0.5}, "episodes.faults"), ({"transinet": 0.1}, "episodes.faults.transinet"),
    ("often", "episodes.faults")])
def test_bad_fault_settings_are_refused_when_params_load_naming_the_key(tmp_path, faults, key):
    with pytest.raises(ConfigError) as caught:
        load_params(write_params(tmp_path, {"episodes": {"faults": faults}}))
    assert caught.value.key == key and str(tmp_path / "params.yaml") in str(caught.value)


def test_fault_settings_load_and_are_off_by_default(tmp_path):
    with pytest.raises(ConfigError, match=r"episodes\.faults\.validation"):
        FaultParams(validation=2.0)
    on = load_params(write_params(tmp_path, {"episodes": {"faults": {"transient": 0.1, "validation": 0.05}}}))
    assert on.episodes.faults == FaultParams(transient=0.1, validation=0.05) and on.episodes.faults.on
    assert not load_params(write_params(tmp_path)).episodes.faults.on


# -- the draw ----------------------------------------------------------------------------------------------------

def test_faults_are_deterministic_per_seed_episode_and_call(specs):
    calls = [(s.id, c.name, c.arguments) for s in specs for c in s.gold_calls]
    draws = [draw_fault(ON, *c) for c in calls]
    assert draws == [draw_fault(ON, *c) for c in calls]                                     # same seed: same faults
    assert draws != [draw_fault(dataclasses.replace(ON, seed=1), *c) for c in calls]  # another: others
    assert {d[0] for d in draws if d} == set(FAULT_KINDS)
    assert all(draw_fault(FaultParams(seed=3), *c) is None for c in calls)
    many = Counter((draw_fault(ON, f"ep-{i}", "get_order_status", {"order_id": "ORD-12345"}) or ("ran",))[0]
                   for i in range(4000))
    for kind, rate in [("transient", 0.3), ("rate_limit", 0.2), ("validation", 0.2), ("ran", 0.3)]:
        assert abs(many[kind] / 4000 - rate) < 0.03, many


def test_a_faulted_call_runs_when_sent_again(specs):
    spec = next(s for s in specs if len(s.gold_calls) > 1)
    call, second = spec.gold_calls[:2]
    for kind, code in [("transient", "503"), ("rate_limit", "429")]:
        env = ToolEnvironment(spec, faults=FaultParams(**{kind: 1.0}))
        first = json.loads(env.call(call.name, call.arguments))
        assert first["kind"] == kind and code in first["error"] and "retry" in first["error"]
        assert env.calls[0].faulted and not env.calls[0].valid and env.invalid_calls == 0 and env.faulted_calls == 1
        assert json.loads(env.call(call.name, dict(reversed(call.arguments.items())))) == \
            simulate(call.name, call.arguments)                             # the same call (key order aside) runs
        assert env.calls[1].valid and env.invalid_calls == 0
        assert json.loads(env.call(call.name, "{"))["kind"] == "malformed_call"
        assert env.invalid_calls == 1 and env.faulted_calls == 1            # the model's own mistake is counted
        assert json.loads(env.call(second.name, second.arguments))["kind"] == kind  # another call: its own fault
        assert json.loads(env.call(second.name, second.arguments)) == simulate(second.name, second.arguments)


def test_a_validation_fault_names_a_field_of_the_call_and_what_was_wrong(specs):
    env = ToolEnvironment(faults=FaultParams(validation=1.0, seed=4))
    named = set()
    for spec in (s for s in specs if s.gold_calls):
        env.reset(episode=spec)
        call = spec.gold_calls[0]
        error = json.loads(env.call(call.name, call.arguments))
        assert error["kind"] == "validation" and error["error"].startswith("validation failed (422): field ")
        field = re.match(r"validation failed \(422\): field '([^']+)': the value ", error["error"])
        assert field and field[1] in call.arguments, error
        assert json.dumps(call.arguments[field[1]], ensure_ascii=False)[:39] in error["error"]
        assert re.search(r"(is outside|could not be verified|is not allowed|holds an entry)", error["error"])
        named.add(field[1])
        assert json.loads(env.call(call.name, call.arguments)) == simulate(call.name, call.arguments)
    assert len(named) > 1
    assert fault_message("validation", "f", {}, 3) is None  # no argument to name: no validation fault


# -- play ----------------------------------------------------------------------------------------------------------

def test_with_every_rate_zero_play_and_evaluation_are_unchanged(tok, specs):
    player = GoldCaller(tok, specs, retry=True)
    plain = play_episodes(player, tok, specs, EpisodesParams(**BOUNDS))
    seeded = play_episodes(player, tok, specs, EpisodesParams(**BOUNDS, faults=FaultParams(seed=11)))
    for a, b in zip(plain, seeded):
        assert (a.messages, a.prompt_ids, a.completion_ids, a.env_mask) == (b.messages, b.prompt_ids, b.completion_ids,
                                                                           b.env_mask)
        assert json.dumps(a.result()) == json.dumps(b.result()) and set(a.result()) == RESULT_KEYS
        assert all(set(c) == {"name", "arguments", "error"} and c["error"] is None for c in a.result()["calls"])
        for m in a.messages:
            if m["role"] == "tool":
                call = next(c for c in a.calls if c.result == m["content"])
                assert json.loads(m["content"]) == simulate(call.name, call.arguments)
    assert all(r.done and not r.failed for r in plain)
    off = evaluate_episodes({"gold": (player, tok)}, {"s": specs}, run_params(), k=0)
    same = evaluate_episodes({"gold": (player, tok)}, {"s": specs}, run_params(FaultParams(seed=11)), k=0)
    assert json.dumps(episode_metrics_json(off)) == json.dumps(episode_metrics_json(same))
    assert off.transcripts == same.transcripts and NO_FAULTS not in off.metrics
    assert "no_faults" not in json.dumps(episode_metrics_json(off)) and "faults" not in off.settings
    assert "no faults" not in render_episode_markdown(off) + episode_headline(off)


def _grpo_results(tok, player, specs, settings: EpisodesParams, prompts):
    """The episode results of GRPO's rollout_func (thinkact.training.episode_rollouts) for `prompts`, with the
    trainer reduced to what the rollout reads (args, accelerator, model, tokenizer, metric buffer)."""
    accelerator = SimpleNamespace(device=torch.device("cpu"), process_index=0, unwrap_model=lambda m: m,
                                  gather=lambda t: t)
    trainer = SimpleNamespace(args=SimpleNamespace(seed=0, temperature=1.0, top_p=1.0, top_k=0,
                                                   max_completion_length=4400),
                              accelerator=accelerator, model=player, processing_class=tok,
                              _metrics={"train": defaultdict(list), "eval": defaultdict(list)})
    rollout = EpisodeRollouts(specs, episode_rows(specs, tok), settings)
    out = rollout(prompts, trainer)
    return [json.loads(r) for r in out["episode_result"]], trainer._metrics["eval"]


def test_grpo_rollouts_and_evaluation_meet_the_same_faults(tok, specs):
    player = GoldCaller(tok, specs, retry=True)
    params = run_params(ON)
    ev = evaluate_episodes({"gold": (player, tok)}, {"s": specs}, params, k=0)
    evaluated = {t["id"]: calls_of(t["result"]) for t in ev.transcripts["gold"]["s"]}
    rows = episode_rows(specs, tok)
    prompts = [r["prompt"] for r in reversed(rows) for _ in range(2)]  # another order, each twice (num_generations)
    results, metrics = _grpo_results(tok, player, specs, params.episodes, prompts)
    assert [r["id"] for r in results] == [s.id for s in reversed(specs) for _ in range(2)]
    assert all(calls_of(r) == evaluated[r["id"]] for r in results)
    assert faulted(results) > 5 and {c["error"] for r in results for c in r["calls"]} - {None} == set(FAULT_KINDS)
    assert metrics["tools/fault_frequency"][0] > 0 and metrics["tools/failure_frequency"] == [0.0]
    _, quiet = _grpo_results(tok, player, specs, EpisodesParams(**BOUNDS), prompts[:4])
    assert "tools/fault_frequency" not in quiet  # faults off: nothing new logged


def test_faults_are_not_the_models_mistakes_in_the_rewards(tok, specs):
    retry, once = GoldCaller(tok, specs, retry=True), GoldCaller(tok, specs, retry=False)
    settings = EpisodesParams(**BOUNDS, faults=ON)
    names = ["episode_success", "episode_call_precision", "episode_valid_calls", "episode_call_recall"]
    for player, solved in [(retry, True), (once, False)]:
        rollouts = play_episodes(player, tok, specs, settings)
        results = [json.dumps(r.result()) for r in rollouts]
        scores = {f.name: f([""] * len(specs), episode=[s.to_json() for s in specs], episode_result=results)
                  for f in build(names)}
        hit = [any(c.faulted for c in r.calls) for r in rollouts]
        assert sum(hit) > 3
        assert all(v in (None, 1.0) for v in scores["episode_call_precision"] + scores["episode_valid_calls"])
        for r, res in zip(rollouts, results):  # the rewards read the model's calls; faults counted apart
            played, faults = played_of(res), sum(c.faulted for c in r.calls)
            assert played.faulted == faults and len(played.calls) == len(r.calls) - faults
        if solved:  # the retrying policy solves every episode, faults and all
            assert scores["episode_success"] == [1.0] * len(specs)
        else:       # the one that never retries fails exactly where a gold call faulted
            assert scores["episode_success"] == [0.0 if h else 1.0 for h in hit]
    no_tool = next(s for s in specs if not s.gold_calls)
    attempt = {"calls": [{"name": "get_order_status", "arguments": {}, "error": "rate_limit"}],
               "final_answer": "; ".join(no_tool.facts) or "ok", "done": True, "failed": False, "assistant_turns": 2,
               "max_turns": 3, "max_tool_calls": 8}
    assert build(["episode_success"])[0]([""], episode=[no_tool.to_json()], episode_result=[attempt]) == [0.0]


def test_evaluation_reports_success_without_faults_only_when_they_are_on(tok, specs):
    once = GoldCaller(tok, specs, retry=False)
    ev = evaluate_episodes({"once": (once, tok)}, {"s": specs}, run_params(ON), k=1, temperature=1.0)
    assert ev.metrics[:3] == ["episode_success", NO_FAULTS, "pass_k"]
    js = json.loads(json.dumps(episode_metrics_json(ev)))
    split = js["once"]["s"]
    assert split[NO_FAULTS] == 1.0 and split[f"{NO_FAULTS}_n"] == len(specs) and f"{NO_FAULTS}_ci" in split
    assert split["episode_success"] < split[NO_FAULTS] and split["invalid_call_rate"] == 0.0
    assert js["settings"]["faults"] == dataclasses.asdict(ON)
    assert {NO_FAULTS, "episode_success"} <= set(js["by_kind"]["once"]["s"]["tool_needing"])
    assert js["by_kind"]["once"]["s"]["no_tool"][NO_FAULTS] == 1.0
    assert f"episodes/once/s/{NO_FAULTS}" in ev.mlflow_metrics()
    md = render_episode_markdown(ev)
    assert "success (no faults)" in md and "Tool faults on (per call: transient 0.3" in md
    assert "success (no faults)" in episode_headline(ev)
    failed = [t for t in ev.transcripts["once"]["s"] if t["success"] == 0.0]
    assert failed and all(t["scores"][NO_FAULTS] == 1.0 for t in failed)
    assert any(json.loads(m["content"]).get("kind") in FAULT_KINDS for t in failed for m in t["messages"]
               if m["role"] == "tool")


def test_gold_demonstrations_show_no_faults(specs):
    """What SFT trains on (the episode cuts, thinkact.data.episode_gen.gold_examples) is played without faults."""
    from thinkact.data.episode_gen import gold_examples

    for spec in specs:
        for example in gold_examples(spec):
            for m in example.messages:
                if m["role"] == "tool":
                    result = json.loads(m["content"])
                    assert "error" not in result and result.get("kind") not in FAULT_KINDS, spec.id
