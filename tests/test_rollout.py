"""Episode rollouts (issue #13 part 3): the token streams match the chat template's rendering of the transcript,
env_mask marks exactly the inserted tokens, play is deterministic (greedy, and sampled for a seed), loops are
bounded and malformed calls become counted error results. builtin:tiny, taught a few behaviours in ~2 s each."""
from __future__ import annotations

import copy
import json

import pytest
import torch

from thinkact.chat_format.template import render_target
from thinkact.contract import ToolCall
from thinkact.env.rollout import play_episodes, render, trl_output
from thinkact.env.settings import EpisodesParams
from thinkact.env.spec import EpisodeSpec
from thinkact.world.catalog import TOOLS_BY_NAME
from thinkact.world.simulators import simulate
from thinkact.rewards import build

OFFERED = ("get_order_status", "track_shipment", "cancel_order")
ORDER = {"order_id": "ORD-12345"}
END = "<|im_end|>"


def spec(i=0, held=None, gold=(("get_order_status", ORDER),), facts=("ORD-12345",)):
    user = "Can you check on my order?" if held else f"Can you check on my order ORD-1234{i}, please?"
    return EpisodeSpec(id=f"ep-{i}", user=user, tools=tuple(TOOLS_BY_NAME[n].schema() for n in OFFERED),
                       gold_calls=tuple(ToolCall(n, a) for n, a in gold), facts=facts, held=held or {})


def call_text(*calls, think="I call get_order_status."):
    return render_target({"tool_calls": [{"name": n, "arguments": a} for n, a in calls]}, think)



def teach(model, pairs, steps=60):
    """`model` trained in place to answer each context (token ids) with its target (token ids)."""
    model.train()
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = [(torch.tensor([c + t]), torch.tensor([[-100] * len(c) + t])) for c, t in pairs]
    for _ in range(steps):
        loss = sum(model(input_ids=x, labels=y).loss for x, y in data)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def generated_runs(r):
    """(start, end) in `r.completion_ids` of each generated assistant turn."""
    return [(a, b) for v, a, b in runs(r.env_mask) if v]


def teach_to_repeat(model, tokenizer, s, text, turns, rounds=4):
    """A copy of `model` that answers every assistant turn of `s`'s episode with `text`: taught on the opening
    prompt, then on the contexts its own play reaches, until `turns` turns come out right."""
    model = copy.deepcopy(model)
    target = tokenizer(text + END, add_special_tokens=False)["input_ids"]
    pairs = [(play_episodes(model, tokenizer, [s], EpisodesParams(max_new_tokens=1))[0].prompt_ids, target)]
    for _ in range(rounds):
        teach(model, pairs)
        (r,) = play_episodes(model, tokenizer, [s],
                             EpisodesParams(max_tool_calls=2 * turns - 1, max_new_tokens=len(target) + 8))
        spans = generated_runs(r)
        if len(spans) >= turns and all(r.completion_ids[a:b] == target for a, b in spans):
            return model
        pairs += [(r.prompt_ids + r.completion_ids[:a], target) for a, _ in spans[1:]]
    raise AssertionError("the tiny model did not learn to repeat the turn")


@pytest.fixture(scope="module")
def caller(tiny):
    """A tiny model that answers every assistant turn with a valid get_order_status call and a malformed one."""
    model, tok = tiny
    broken = '\n<tool_call>\n{"name": "get_order_status", "arguments": {\n</tool_call>'
    text = call_text(("get_order_status", ORDER)) + broken
    return teach_to_repeat(model, tok, spec(), text, turns=2), text


def runs(mask):
    """[(value, start, end)] of the runs of equal values in a 0/1 mask."""
    out, start = [], 0
    for i in range(1, len(mask) + 1):
        if i == len(mask) or mask[i] != mask[start]:
            out.append((mask[start], start, i))
            start = i
    return out


def test_a_looping_caller_stops_at_the_bound_fails_and_its_malformed_calls_are_counted(tiny, caller):
    model, tok = tiny
    taught, text = caller
    (r,) = play_episodes(taught, tok, [spec()], EpisodesParams(max_turns=2, max_tool_calls=3, max_new_tokens=90))
    assert [c.error for c in r.calls] == [None, "malformed_call", None, "limit"]  # the 4th call passes the bound
    assert r.done and r.failed and not r.truncated and r.final_answer is None and r.assistant_turns == 2
    assert json.loads(r.messages[3]["content"])["kind"] == "malformed_call" and r.messages[3]["role"] == "tool"
    assert r.messages[1]["tool_calls"][1]["function"] == {"name": "", "arguments": '{"name": "get_order_status", '
                                                                                   '"arguments": {'}
    res = r.result()
    assert json.loads(json.dumps(res)) == res and res["generated_tokens"] == sum(r.env_mask)
    got = {f.name: f([""], episode=[spec().to_json()], episode_result=[res])[0]
           for f in build(["episode_success", "episode_valid_calls", "episode_call_recall"])}
    assert got == {"episode_success": 0.0, "episode_valid_calls": 0.5, "episode_call_recall": 1.0}


def test_env_mask_is_zero_exactly_on_the_inserted_tool_results(tiny, caller):
    model, tok = tiny
    taught, text = caller
    (r,) = play_episodes(taught, tok, [spec()], EpisodesParams(max_tool_calls=3, max_new_tokens=90))
    assert len(r.env_mask) == len(r.completion_ids) and r.assistant_turns == 2
    spans = runs(r.env_mask)
    assert [v for v, _, _ in spans] == [1, 0, 1]
    for value, a, b in spans:
        piece = tok.decode(r.completion_ids[a:b], skip_special_tokens=False)
        if value:
            assert piece == text + END  # the model's turn, as generated
        else:
            assert piece.startswith("\n<|im_start|>user\n<tool_response>\n") and piece.endswith(
                "</tool_response><|im_end|>\n<|im_start|>assistant\n") and piece.count("<tool_response>") == 2


def test_a_budget_cuts_the_episode_before_inserting_past_it(tiny, caller):
    model, tok = tiny
    (r,) = play_episodes(caller[0], tok, [spec()], EpisodesParams(max_new_tokens=90), max_completion_tokens=100)
    assert r.truncated and not r.done and r.assistant_turns == 1 and len(r.completion_ids) < 100
    assert r.env_mask == [1] * len(r.completion_ids) and r.result()["truncated"]


def test_greedy_play_is_deterministic_and_grouped_by_spec(tiny, caller):
    model, tok = tiny
    specs = [spec(0), spec(1, held=ORDER), spec(2)]
    bounds = EpisodesParams(max_tool_calls=2, max_new_tokens=40)
    first = play_episodes(caller[0], tok, specs, bounds, num_samples=2, batch_size=2)
    again = play_episodes(caller[0], tok, specs, bounds, num_samples=2, batch_size=2)
    assert [r.spec.id for r in first] == ["ep-0", "ep-0", "ep-1", "ep-1", "ep-2", "ep-2"]
    assert [r.sample for r in first] == [0, 1] * 3
    assert [(r.messages, r.completion_ids, r.env_mask) for r in first] == \
        [(r.messages, r.completion_ids, r.env_mask) for r in again]
    assert first[0].completion_ids == first[1].completion_ids  # greedy: the samples agree
    plain = play_episodes(model, tok, specs, EpisodesParams(max_new_tokens=12))
    again = play_episodes(model, tok, specs, EpisodesParams(max_new_tokens=12))
    assert [r.result() for r in plain] == [r.result() for r in again]


def test_sampling_is_deterministic_for_a_seed_and_leaves_the_global_rng_alone(tiny):
    model, tok = tiny
    specs = [spec(0), spec(1)]
    state = torch.random.get_rng_state()
    a = play_episodes(model, tok, specs, EpisodesParams(max_new_tokens=12), num_samples=3, temperature=1.0, seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = play_episodes(model, tok, specs, EpisodesParams(max_new_tokens=12), num_samples=3, temperature=1.0, seed=7)
    c = play_episodes(model, tok, specs, EpisodesParams(max_new_tokens=12), num_samples=3, temperature=1.0, seed=8)
    assert [r.completion_ids for r in a] == [r.completion_ids for r in b]
    assert [r.completion_ids for r in a] != [r.completion_ids for r in c]
    assert len({tuple(r.completion_ids) for r in a[:3]}) > 1  # the samples of one spec differ
    assert model.training is False


class GoldPlayer:
    """FOR THE RENDERING-IDENTITY TEST ONLY: a stand-in with `generate`'s signature that writes each episode's gold
    turns (render_target texts, then <|im_end|>), picked by the opening message and the assistant turns so far."""

    device = torch.device("cpu")
    training = False

    def __init__(self, tokenizer, scripts):
        self.tok, self.scripts = tokenizer, scripts

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def generate(self, input_ids, attention_mask, max_new_tokens, eos_token_id, pad_token_id, **_):
        rows = []
        for ids, mask in zip(input_ids.tolist(), attention_mask.tolist()):
            text = self.tok.decode([t for t, m in zip(ids, mask) if m], skip_special_tokens=False)
            user = max((u for u in self.scripts if u in text), key=len)  # the opening message of this episode
            turn = self.scripts[user][text.count("<|im_start|>assistant") - 1]
            rows.append(ids + self.tok(turn + END, add_special_tokens=False)["input_ids"][:max_new_tokens])
        width = max(map(len, rows))
        return torch.tensor([r + [pad_token_id] * (width - len(r)) for r in rows])


def test_prompt_and_completion_decode_to_the_templates_rendering_of_the_transcript(tiny):
    _, tok = tiny
    status = simulate("get_order_status", ORDER)
    both = (("get_order_status", ORDER), ("track_shipment", ORDER))
    track = simulate("track_shipment", ORDER)
    specs = [spec(5, facts=("ORD-12345", status["status"])),
             spec(6, held=ORDER, facts=(status["eta"],)),
             spec(7, gold=both, facts=(track["location"], status["status"]))]
    scripts = {
        specs[0].user: [call_text(("get_order_status", ORDER)),
                        render_target({"content": f"Order ORD-12345 is {status['status']}."}, "Done.")],
        specs[1].user: [render_target({"content": "Which order number is it?"}, "The order id is missing."),
                        call_text(("get_order_status", ORDER)),
                        render_target({"content": f"It arrives on {status['eta']}."}, None)],
        specs[2].user: [call_text(*both, think="Both tools: get_order_status and track_shipment."),
                        render_target({"content": f"It is {status['status']}, now in {track['location']}."})]}
    rollouts = play_episodes(GoldPlayer(tok, scripts), tok, specs, EpisodesParams(max_new_tokens=200), batch_size=2)
    for r in rollouts:
        text = tok.decode(r.prompt_ids + r.completion_ids, skip_special_tokens=False)
        assert text + "\n" == render(tok, r.spec, r.messages, False)
        assert tok.decode(r.prompt_ids, skip_special_tokens=False) == render(tok, r.spec, r.messages[:1], True)
        assert r.done and not r.failed and r.env_mask[-1] == 1
        assert r.assistant_turns == len(scripts[r.spec.user])
        res = [json.dumps(r.result())]
        assert build(["episode_success"])[0]([""], episode=[r.spec.to_json()], episode_result=res) == [1.0]
    assert [m["role"] for m in rollouts[1].messages] == ["user", "assistant", "user", "assistant", "tool", "assistant"]
    assert rollouts[1].messages[2]["content"] == "The order number is ORD-12345."
    assert [m["role"] for m in rollouts[2].messages] == ["user", "assistant", "tool", "tool", "assistant"]


def test_gold_play_of_the_builtin_episodes_renders_identically_and_succeeds(tiny, params):
    """Every kind of built-in episode (thinkact.data.episode_gen), played with its gold turns: the token streams are the
    template's rendering of the transcript, and the episode rewards give full marks."""
    from thinkact.data.episode_gen import generate_episodes, gold_conversation  # the data side of issue #13

    _, tok = tiny
    specs = [s for _, split in generate_episodes(params.data) for s in split[:12]]
    scripts = {}
    for s in specs:
        scripts[s.user] = [render_target({"tool_calls": [c["function"] for c in m["tool_calls"]]} if m.get("tool_calls")
                                         else {"content": m["content"]}, "thinking")
                           for m in gold_conversation(s) if m["role"] == "assistant"]
    rollouts = play_episodes(GoldPlayer(tok, scripts), tok, specs, EpisodesParams(max_new_tokens=400), batch_size=16)
    assert {r.spec.kind for r in rollouts} >= {"single", "chain", "parallel", "clarify", "no_tool"}
    results = [r.result() for r in rollouts]
    for r in rollouts:
        assert tok.decode(r.prompt_ids + r.completion_ids, skip_special_tokens=False) + "\n" == \
            render(tok, r.spec, r.messages, False), r.spec.id
    for reward in build(["episode_success", "episode_call_recall", "episode_answer_facts", "episode_valid_calls"]):
        scores = reward([""] * len(specs), episode=[s.to_json() for s in specs], episode_result=results)
        assert all(v in (None, 1.0) for v in scores), reward.name


def test_trl_output_is_what_a_grpo_rollout_func_returns(tiny, caller):
    _, tok = tiny
    rollouts = play_episodes(caller[0], tok, [spec(0), spec(1)], EpisodesParams(max_tool_calls=3, max_new_tokens=90))
    out = trl_output(rollouts)
    assert set(out) == {"prompt_ids", "completion_ids", "env_mask", "logprobs", "episode_result"}
    assert out["logprobs"] is None and [len(m) for m in out["env_mask"]] == [len(c) for c in out["completion_ids"]]
    end = tok.convert_tokens_to_ids(END)
    assert all(ids[-1] == end for ids in out["completion_ids"])  # ends on the last turn's <|im_end|>: not "truncated"
    success = build(["episode_success"])[0]
    assert success(["", ""], episode=[r.spec.to_json() for r in rollouts], episode_result=out["episode_result"]) == \
        [0.0, 0.0]


def test_a_turn_without_a_closed_think_block_is_no_answer(tiny):
    """The project's format is a closed think block, then the answer: bare text (what a random model writes) ends
    the episode with an empty final answer, which no episode counts as a success."""
    _, tok = tiny
    chat = spec(8, gold=(), facts=())
    scripts = {chat.user: ["Hello there, anything else?"]}
    (r,) = play_episodes(GoldPlayer(tok, scripts), tok, [chat], EpisodesParams(max_new_tokens=40))
    assert r.done and r.final_answer == "" and r.messages[-1]["content"] == ""
    res = [json.dumps(r.result())]
    assert build(["episode_success"])[0]([""], episode=[chat.to_json()], episode_result=res) == [0.0]
    scripts = {chat.user: [render_target({"content": "Hello there, anything else?"}, None)]}
    (r,) = play_episodes(GoldPlayer(tok, scripts), tok, [chat], EpisodesParams(max_new_tokens=40))
    assert r.final_answer == "Hello there, anything else?"
    res = [json.dumps(r.result())]
    assert build(["episode_success"])[0]([""], episode=[chat.to_json()], episode_result=res) == [1.0]


def test_episode_play_and_generation_print_progress_lines(tiny, capsys, monkeypatch):
    """What the evaluate stage prints while it generates and plays: time-based lines with an ETA, then a total."""
    from thinkact.contract import Example, Target
    from thinkact.generation import generate_completions

    monkeypatch.setenv("THINKACT_PROGRESS_SECONDS", "0")
    model, tokenizer = tiny
    play_episodes(model, tokenizer, [spec(i) for i in range(3)],
                  EpisodesParams(max_turns=1, max_tool_calls=1, max_new_tokens=4), batch_size=2,
                  progress="[episodes] base / test_id greedy")
    turns = [Example(id=f"x{i}", domain="d", split="test_id", tools=[],
                     messages=[{"role": "user", "content": f"hi {i}"}], target=Target(content="ok")) for i in range(3)]
    generate_completions(model, tokenizer, turns, max_new_tokens=2, batch_size=2, desc="[evaluate] base / test_id")
    printed = capsys.readouterr().out
    assert "[episodes] base / test_id greedy: 3/3 episodes in " in printed
    assert "[evaluate] base / test_id: 2/3 ex (67%), elapsed" in printed and " eta " in printed
    assert "[evaluate] base / test_id: 3/3 ex in " in printed
