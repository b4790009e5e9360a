"""`thinkact serve` (issue #26 item 1): the `openai` SDK against a real server on loopback — a tool call, a streamed
tool call, a three-turn conversation with a tool result, 400s in OpenAI's error shape — and the served prompt is
byte-for-byte the prompt evaluation renders (per-turn examples and agent episodes). Streams are token by token: their
deltas join into the non-stream reply, and a client that leaves early stops its generation.

One server for the module: uvicorn in a thread of this process (thinkact.serving.server.running) serving a
builtin:tiny folder. No test fixture holds a trained model, so the served model is taught here, in place and through
the server's own prompt rendering, the two turns the tests ask for (as tests/test_chat.py teaches its `caller`).

    python -m pytest -q -p no:cacheprovider --durations=10 tests/test_serve.py
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
import torch

from conftest import QUICK
from thinkact.chat_format.template import render_target
from thinkact.env.rollout import render
from thinkact.env.spec import EpisodeSpec
from thinkact.errors import ThinkactError
from thinkact.evaluation.predict import load_for_eval
from thinkact.generation import generate_completions, prompt_text
from thinkact.importers.openai import import_openai
from thinkact.models.loading import load_model
from thinkact.project import PROJECT_ROOT
from thinkact.serving.engine import Cancelled, ServedModel
from thinkact.serving.request import MAX_BODY_BYTES, chat_request
from thinkact.serving.response import Deltas, message_of
from thinkact.serving.server import check_port, running
from thinkact.world.catalog import TOOLS_BY_NAME

TOOLS = [TOOLS_BY_NAME["get_order_status"].schema(), TOOLS_BY_NAME["cancel_order"].schema()]
ASK = [{"role": "user", "content": "Where is my order ORD-12345?"}]
ORDER = {"order_id": "ORD-12345"}
THINK = "The user wants order ORD-12345."
RESULT = '{"order_id": "ORD-12345", "status": "shipped"}'
ANSWER = "Order ORD-12345 is shipped."
CALL = render_target({"tool_calls": [{"name": "get_order_status", "arguments": ORDER}]}, THINK)
ANSWER_TEXT = render_target({"content": ANSWER})
OPENAI_SAMPLE = PROJECT_ROOT / "tests" / "fixtures" / "openai_sample.jsonl"


def _history(call_id: str = "call_0") -> list[dict]:
    """The conversation after the call, as an OpenAI client sends it back (arguments as JSON text)."""
    call = {"id": call_id, "type": "function", "function": {"name": "get_order_status", "arguments": json.dumps(ORDER)}}
    return [*ASK, {"role": "assistant", "content": None, "reasoning_content": THINK, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call_id, "content": RESULT}]


def _teach(served: ServedModel, max_steps: int = 300) -> None:
    """Train `served.model` in place (Adam) until it answers ASK with CALL and the conversation after
    the tool's result with ANSWER, greedily. One sequence holds both turns: the template is prefix-preserving, so
    the second turn's prompt starts with the first turn's prompt and completion (asserted)."""
    tok, model = served.tokenizer, served.model
    first, second = (chat_request({"messages": m, "tools": TOOLS}, served.ids).example for m in (ASK, _history()))
    p1, p2 = served.prompt(first), served.prompt(second)
    assert p2.startswith(p1 + CALL + "<|im_end|>")
    pieces = [tok(text, add_special_tokens=False)["input_ids"]
              for text in (p1, CALL + "<|im_end|>", p2[len(p1 + CALL + "<|im_end|>"):], ANSWER_TEXT + "<|im_end|>")]
    x = torch.tensor([[i for piece in pieces for i in piece]])
    y = torch.tensor([[i if k % 2 else -100 for k, piece in enumerate(pieces) for i in piece]])
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    try:
        for step in range(1, max_steps + 1):
            model.train()
            loss = model(input_ids=x, labels=y).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 10 == 0 and generate_completions(model, tok, [first, second], max_new_tokens=64, batch_size=1,
                                                       progress=False) == [CALL, ANSWER_TEXT]:
                return
        raise AssertionError(f"the tiny model did not learn the two turns in {max_steps} steps")
    finally:
        model.eval()


@pytest.fixture(scope="module")
def server(tmp_path_factory, params):
    """(OpenAI client, base URL, ServedModel, model folder): a taught tiny model served on a free loopback port."""
    root = tmp_path_factory.mktemp("serve")
    model, tok = load_model("builtin:tiny", root / "models", tiny_size=QUICK["model"]["tiny"])
    folder = root / "model"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    served = ServedModel.load(str(folder), params)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # this tiny model trains and generates several times faster on one thread of a busy CPU
    try:
        _teach(served)
        with running(served) as url:
            yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0), url, served, folder
    finally:
        torch.set_num_threads(threads)


def test_health_and_models(server):
    client, url, served, _ = server
    assert httpx.get(f"{url}/health").json() == {"status": "ok", "model": served.id}
    assert [m.id for m in client.models.list().data] == [served.id]
    assert client.models.retrieve(served.id).owned_by == "thinkact"


def test_a_busy_port_is_one_error_before_the_model_loads(server):
    _, url, _, _ = server
    with pytest.raises(ThinkactError, match=r"cannot listen on 127\.0\.0\.1:\d+ .*pick another --port"):
        check_port("127.0.0.1", int(url.rsplit(":", 1)[1]))


def test_a_tool_call(server):
    client, _, served, _ = server
    reply = client.chat.completions.create(model=served.id, messages=ASK, tools=TOOLS, max_tokens=64)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert choice.message.reasoning_content == THINK
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_") and call.function.name == "get_order_status"
    assert isinstance(call.function.arguments, str) and json.loads(call.function.arguments) == ORDER
    assert reply.usage.prompt_tokens > 0 and 0 < reply.usage.completion_tokens < 64


def test_a_streamed_tool_call(server):
    client, _, served, _ = server
    chunks = list(client.chat.completions.create(model=served.id, messages=ASK, tools=TOOLS, max_tokens=64,
                                                 stream=True, stream_options={"include_usage": True}))
    calls: dict[int, dict] = {}
    reasoning, finish = "", None
    for chunk in chunks[:-1]:
        delta = chunk.choices[0].delta
        reasoning += getattr(delta, "reasoning_content", None) or ""
        for part in delta.tool_calls or []:
            call = calls.setdefault(part.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = part.id or call["id"]
            call["name"] += (part.function.name or "") if part.function else ""
            call["arguments"] += (part.function.arguments or "") if part.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert chunks[0].choices[0].delta.role == "assistant" and reasoning == THINK and finish == "tool_calls"
    assert list(calls) == [0] and calls[0]["name"] == "get_order_status" and calls[0]["id"].startswith("call_")
    assert json.loads(calls[0]["arguments"]) == ORDER
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def _joined(chunks: list) -> dict:
    """A streamed reply put together as the SDK's chunks give it: reasoning, content, the tool calls (name and
    arguments), the finish reason, the `thinkact` object, and how many deltas carried reasoning and content."""
    out = {"reasoning": "", "content": "", "calls": {}, "finish": None, "thinkact": None, "deltas": [0, 0]}
    for chunk in chunks:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for i, key in enumerate(("reasoning", "content")):
            text = getattr(delta, "reasoning_content", None) if key == "reasoning" else delta.content
            out[key] += text or ""
            out["deltas"][i] += bool(text)
        for part in delta.tool_calls or []:
            call = out["calls"].setdefault(part.index, ["", ""])
            call[0] += part.function.name or ""
            call[1] += part.function.arguments or ""
        out["finish"] = chunk.choices[0].finish_reason or out["finish"]
        out["thinkact"] = (chunk.model_extra or {}).get("thinkact") or out["thinkact"]
    return out


def test_a_stream_joins_into_the_non_stream_reply_token_by_token(server):
    """Streamed as generated (a call turn, an answer turn, tool_choice "none"): the deltas join into exactly the
    non-stream reply to the same request (greedy); the think block and the answer come in several deltas."""
    client, _, served, _ = server
    for ask, extra in ((ASK, {}), (_history(), {}), (ASK, {"tool_choice": "none"})):
        args = {"model": served.id, "messages": ask, "tools": TOOLS, "max_tokens": 64, **extra}
        reply = client.chat.completions.create(**args)
        whole = reply.choices[0]
        streamed = _joined(list(client.chat.completions.create(**args, stream=True)))
        assert streamed["reasoning"] == (whole.message.reasoning_content or "")
        assert streamed["content"] == (whole.message.content or "")
        assert list(streamed["calls"].values()) == [[c.function.name, c.function.arguments]
                                                    for c in whole.message.tool_calls or []]
        assert streamed["finish"] == whole.finish_reason and streamed["thinkact"] == reply.model_extra["thinkact"]
        if ask is ASK and not extra:
            assert streamed["calls"] and streamed["deltas"][0] > 1  # the reasoning as it comes, the call at the end
        if ask is not ASK:
            assert streamed["content"] == ANSWER and streamed["deltas"][1] > 1


def test_stream_deltas_hold_back_what_the_parser_may_still_cut():
    """The streamed deltas of a completion fed one character at a time join into the parsed message's reasoning and
    content: whitespace, an unfinished `<think>` or `</think>`, end-of-turn markers and a tool call are held back (a
    completion without a think block is all action, as the parser reads it)."""
    for raw in (CALL, ANSWER_TEXT, "  <think>  a < b </th </think>  The answer <|endoftext|>\n<|im_end|> ",
                "<think>a</think> x <|im_e y <", "<think>a</think>\n<tool_call> broken </tool_call>",
                " no think:\n\nall answer <|im_end|>", "\n" + CALL[CALL.index("<tool_call>"):], "<thinking> </think>"):
        for calls_allowed in (True, False):
            deltas, joined = Deltas(calls_allowed), {"reasoning_content": "", "content": ""}
            for key, text in [d for c in raw for d in deltas.feed(c)]:
                joined[key] += text
            *_, rest = deltas.finish(raw)
            for delta in rest:
                for key in joined:
                    joined[key] += delta.get(key, "")
            message, _ = message_of(raw, calls_allowed)
            assert joined == {key: message[key] or "" for key in joined}, raw


def test_a_client_that_leaves_a_stream_early_stops_its_generation(server, monkeypatch):
    """The stream is closed after its first reasoning delta: the generation is cancelled at its next token (not run
    to max_tokens), the model is free again, and the next request is answered."""
    client, url, served, _ = server
    started, steps, forward = [], [], served.model.forward

    def slow_forward(*args, **kwargs):  # 20 ms a token: cancelled early, the generation takes far fewer than 56
        steps.append(1)
        time.sleep(0.02)
        return forward(*args, **kwargs)

    def stream(request):
        started.append(live := ServedModel.stream(served, request))
        return live

    monkeypatch.setattr(served.model, "forward", slow_forward)
    monkeypatch.setattr(served, "stream", stream)
    body = {"model": served.id, "messages": ASK, "tools": TOOLS, "max_tokens": 64, "stream": True}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=5) as answer:
        assert answer.status_code == 200
        for line in answer.iter_lines():
            if '"reasoning_content"' in line:
                break
    [live] = started
    assert live.finished.wait(5) and isinstance(live.error, Cancelled) and len(steps) < 40, len(steps)
    monkeypatch.undo()
    reply = client.with_options(timeout=10).chat.completions.create(model=served.id, messages=_history(), tools=TOOLS,
                                                                    max_tokens=64)
    assert reply.choices[0].message.content == ANSWER


def test_a_three_turn_conversation_with_a_tool_result(server):
    """user -> the model calls the tool -> the tool's result -> the model answers from it; the assistant message
    goes back as the SDK returned it (a pydantic object, arguments as JSON text, reasoning_content)."""
    client, _, served, _ = server
    messages: list = list(ASK)
    first = client.chat.completions.create(model=served.id, messages=messages, tools=TOOLS, max_tokens=64)
    message = first.choices[0].message
    messages += [message, {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": RESULT}]
    second = client.chat.completions.create(model=served.id, messages=messages, tools=TOOLS, max_tokens=64)
    assert second.choices[0].finish_reason == "stop" and not second.choices[0].message.tool_calls
    assert second.choices[0].message.content == ANSWER


def test_concurrent_requests_are_answered_alike(server):
    """Requests that wait while one generates are answered together in one batch: each gets its own reply, the
    same as alone (4 clients at once; the tokenizer is shared, so this also checks it is used by one at a time)."""
    client, _, served, _ = server
    asks = [(ASK, "tool_calls"), (_history(), "stop")] * 3
    with ThreadPoolExecutor(len(asks)) as pool:
        replies = list(pool.map(lambda ask: client.chat.completions.create(
            model=served.id, messages=ask[0], tools=TOOLS, max_tokens=64).choices[0], asks))
    assert [r.finish_reason for r in replies] == [want for _, want in asks]
    assert all(json.loads(r.message.tool_calls[0].function.arguments) == ORDER for r in replies[::2])
    assert all(r.message.content == ANSWER for r in replies[1::2])


def test_tool_choice_none_offers_no_tool_and_returns_no_call(server):
    client, _, served, _ = server
    reply = client.chat.completions.create(model=served.id, messages=ASK, tools=TOOLS, tool_choice="none",
                                           max_tokens=64, extra_body={"return_prompt": True})
    assert not reply.choices[0].message.tool_calls and reply.choices[0].finish_reason != "tool_calls"
    assert "get_order_status" not in reply.model_extra["thinkact"]["prompt"]


@pytest.mark.parametrize("request_args, param", [
    ({"messages": []}, "messages"),
    ({"messages": ASK, "tools": [{"type": "function", "function": {"name": "f", "parameters": "order_id"}}]}, "tools"),
    ({"messages": ASK, "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]},
     "tools"),
    ({"messages": ASK, "model": "gpt-4o"}, "model"),
    ({"messages": ASK, "tool_choice": "required"}, "tool_choice"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages"),
    ({"messages": ASK, "max_tokens": 0}, "max_tokens"),
    ({"messages": ASK, "max_tokens": 4096, "stream": True}, "messages"),  # over the context: a 400 before any event
])
def test_a_bad_request_is_a_400_in_openai_error_shape(server, request_args, param):
    client, _, served, _ = server
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**{"model": served.id, **request_args})
    assert caught.value.status_code == 400 and caught.value.param == param
    assert set(caught.value.body) == {"message", "type", "param", "code"} and caught.value.body["message"]


def test_a_body_over_the_limit_or_not_json_is_a_400(server):
    _, url, _, _ = server
    big = json.dumps({"messages": [{"role": "user", "content": "x" * MAX_BODY_BYTES}]})
    for body in (big.encode(), (b"x" * 64 for _ in range(MAX_BODY_BYTES // 32)), b"{not json", b"[]"):
        answer = httpx.post(f"{url}/v1/chat/completions", content=body, timeout=30)
        assert answer.status_code == 400, answer.text
        assert set(answer.json()["error"]) == {"message", "type", "param", "code"}
    assert httpx.get(f"{url}/v1/nothing").json()["error"]["type"] == "invalid_request_error"


def _served_prompt(client: openai.OpenAI, model: str, messages: list[dict], tools: list[dict]) -> str:
    reply = client.chat.completions.create(model=model, messages=messages, tools=tools or openai.NOT_GIVEN,
                                           max_tokens=1, extra_body={"return_prompt": True})
    return reply.model_extra["thinkact"]["prompt"]


def test_the_served_prompt_is_evaluations_byte_for_byte(server, params):
    """Per-turn: each OpenAI-format conversation of tests/fixtures/openai_sample.jsonl, sent as logged (arguments as
    JSON text, content null, tool_call_ids) up to an assistant turn, is served with the very prompt evaluation renders
    for the example the importer makes of that turn. Episodes: a transcript as the rollout keeps it is served with
    the prompt the rollout renders. The evaluation side loads the folder the way evaluation does (load_for_eval)."""
    client, _, served, folder = server
    _, tokenizer = load_for_eval(str(folder), params)
    lines = [json.loads(line) for line in OPENAI_SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    examples = import_openai(OPENAI_SAMPLE)
    assert len(examples) >= 4
    for example in examples:
        logged = lines[example.source["line"] - 1]
        tools = logged.get("tools")  # a data file may hold them as JSON text (the importer reads both); a client sends a list
        tools = json.loads(tools) if isinstance(tools, str) else tools
        sent = _served_prompt(client, served.id, logged["messages"][:example.source["turn"]], tools)
        assert sent == prompt_text(tokenizer, example), example.id
    spec = EpisodeSpec(id="e", user=ASK[0]["content"], tools=tuple(TOOLS))
    transcript = [*ASK, {**_history()[1], "content": "", "reasoning": THINK}, _history()[2],
                  {"role": "assistant", "content": ANSWER, "reasoning": ""}, {"role": "user", "content": "Thanks!"}]
    transcript[1].pop("reasoning_content")
    assert _served_prompt(client, served.id, transcript, TOOLS) == render(tokenizer, spec, transcript, True)


