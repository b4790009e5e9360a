"""A registered model is an MLflow chat model (issue #15 item 1): `mlflow.pyfunc.load_model("models:/NAME@ALIAS")`
and a real `mlflow models serve` answer an OpenAI chat request with tools with the assistant message, its reasoning
and tool calls as structured fields; the prompt is the one training renders; the downloaded folder parses responses
in plain transformers; the logged model loads where thinkact is not installed (its code rides along).

A tiny model taught one tool call for the request below (as tests/test_rollout.py teaches) answers it for real.
    pytest tests/test_serve_chat.py              # the HTTP server and the no-thinkact load are `slow`
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
import torch

from conftest import QUICK, new_mlflow_store
from servers import BIN, free_port, server_process
from thinkact.chat_format.template import render_target
from thinkact.project import PROJECT_ROOT
from thinkact.contract import Example, Target
from thinkact.generation import generate_completions, prompt_text
from thinkact.world.catalog import TOOLS_BY_NAME

NAME = "thinkact-agent"
ORDER = {"order_id": "ORD-12345"}
THINK = "The user wants order ORD-12345."
CALL = render_target({"tool_calls": [{"name": "get_order_status", "arguments": ORDER}]}, THINK)
REQUEST = {"messages": [{"role": "user", "content": "Where is my order ORD-12345?"}],
           "tools": [TOOLS_BY_NAME["get_order_status"].schema()], "max_tokens": 64}


def turn_of(request):
    return Example(id="t", domain="chat", split="chat", tools=request["tools"], messages=request["messages"],
                   target=Target(content=""))


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    """A tiny model folder (saved without a response parser) that answers REQUEST with CALL, and its tokenizer."""
    from thinkact.models.loading import load_model

    root = tmp_path_factory.mktemp("taught")
    model, tok = load_model("builtin:tiny", root / "cache", tiny_size=QUICK["model"]["tiny"])
    context = tok(prompt_text(tok, turn_of(REQUEST)), add_special_tokens=False).input_ids
    target = tok(CALL + "<|im_end|>", add_special_tokens=False).input_ids
    x, y = torch.tensor([context + target]), torch.tensor([[-100] * len(context) + target])
    model.train()
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(80):
        loss = model(input_ids=x, labels=y).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    out = generate_completions(model, tok, [turn_of(REQUEST)], max_new_tokens=64, progress=False)[0]
    assert out == CALL, f"the tiny model did not learn the call: {out!r}"
    folder = root / "model"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder, tok


@pytest.fixture(scope="module")
def registered(tmp_path_factory, taught):
    """A sqlite store with the taught folder as version 1 @champion; MLFLOW_TRACKING_URI points at it meanwhile."""
    from thinkact.tracking import stage_run
    from thinkact.tracking.model_registry import Registry

    root = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", new_mlflow_store(root / "mlflow.db"))
        mp.delenv("THINKACT_TRACKING", raising=False)
        registry = Registry(NAME)
        with stage_run("register") as run:
            version = registry.log_model(taught[0], role="grpo", run_id=run.run_id)
        registry.set_alias("champion", version.version)
        yield root


def check_call(response):
    """The OpenAI chat.completion of CALL: one get_order_status call (arguments a JSON string), the reasoning apart."""
    assert response["object"] == "chat.completion" and response["id"].startswith("chatcmpl-")
    (choice,) = response["choices"]
    message = choice["message"]
    assert choice["finish_reason"] == "tool_calls"
    assert message["role"] == "assistant" and message["content"] is None and message["reasoning"] == THINK
    (call,) = message["tool_calls"]
    assert call["id"].startswith("call_") and call["type"] == "function"
    assert call["function"]["name"] == "get_order_status" and isinstance(call["function"]["arguments"], str)
    assert json.loads(call["function"]["arguments"]) == ORDER
    prompt, completion, total = (response["usage"][k] for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
    assert prompt > 0 and completion > 0 and total == prompt + completion
    assert response["custom_outputs"]["well_formed"] is True and response["custom_outputs"]["raw"] == CALL
    return message


def check_shape(response):
    """Any answer: the assistant message with content (text or null), reasoning (text or null) and tool calls."""
    (choice,) = response["choices"]
    message = choice["message"]
    assert set(message) == {"role", "content", "reasoning", "tool_calls"} and message["role"] == "assistant"
    assert message["content"] is None or isinstance(message["content"], str)
    assert message["reasoning"] is None or isinstance(message["reasoning"], str)
    assert isinstance(message["tool_calls"], list) and choice["finish_reason"] in ("stop", "length", "tool_calls")


def test_pyfunc_answers_a_chat_request_with_tools(registered, taught):
    import mlflow
    from mlflow.exceptions import MlflowException

    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    message = check_call(model.predict(REQUEST))
    assert model.metadata.get_input_schema().input_names()[:2] == ["messages", "tools"]
    # the prompt is the one training and evaluation render (the folder's template = thinkact's template)
    chat = model.unwrap_python_model()
    assert prompt_text(chat.tokenizer, turn_of(REQUEST)) == prompt_text(taught[1], turn_of(REQUEST))
    # the next turn, OpenAI-style: the returned assistant message, then the tool's result
    result = {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": '{"status": "shipped"}'}
    follow = {**REQUEST, "messages": [*REQUEST["messages"], message, result], "max_tokens": 8}
    check_shape(model.predict(follow))
    rendered = prompt_text(chat.tokenizer, turn_of({"tools": REQUEST["tools"], "messages": [
        *REQUEST["messages"], {"role": "assistant", "content": "", "reasoning_content": THINK,
                               "tool_calls": [{"type": "function", "function": {"name": "get_order_status",
                                                                               "arguments": ORDER}}]},
        {"role": "tool", "content": result["content"]}]}))
    assert CALL + "<|im_end|>" in rendered  # the history renders as training renders it
    for bad, why in (({"tools": REQUEST["tools"]}, "missing inputs"), ({"messages": [{"role": "robot"}]}, "role"),
                     ({**REQUEST, "stream": True}, "streaming")):
        with pytest.raises(MlflowException, match=why):
            model.predict(bad)


def test_the_registered_folder_parses_responses_in_plain_transformers(registered, taught):
    from transformers import AutoTokenizer

    from thinkact.tracking.chat_pyfunc import has_response_parser
    from thinkact.tracking.model_registry import resolve_model

    assert not has_response_parser(taught[0])  # logging added it to the logged copy, not to the source
    folder = resolve_model(f"models:/{NAME}@champion", registered / "cache")
    tok = AutoTokenizer.from_pretrained(str(folder))
    parsed = tok.parse_response(CALL + "<|im_end|>", prefix=prompt_text(tok, turn_of(REQUEST)))
    assert parsed["reasoning_content"] == THINK
    assert parsed["tool_calls"] == [{"type": "function", "function": {"name": "get_order_status", "arguments": ORDER}}]


@pytest.mark.slow
def test_mlflow_models_serve_answers_openai_chat_requests_over_http(registered, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{NAME}/1", "--env-manager", "local",
           "--host", "127.0.0.1", "--port", str(port)]
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{registered / 'mlflow.db'}", "MLFLOW_DISABLE_TELEMETRY": "true"}
    start = time.monotonic()
    with server_process(cmd, url, f"{url}/ping", tmp_path / "serve.log", env=env, timeout=180) as server:
        server.wait()
        up = time.monotonic() - start
        reply = httpx.post(f"{url}/invocations", json=REQUEST, timeout=60)
        first = time.monotonic() - start
        assert reply.status_code == 200, reply.text
        check_call(reply.json())
        other = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
                 "tools": REQUEST["tools"], "max_tokens": 8, "temperature": 0.7}
        check_shape(httpx.post(f"{url}/invocations", json=other, timeout=60).json())
        bad = httpx.post(f"{url}/invocations", json={"messages": "hi"}, timeout=60)
        assert bad.status_code == 400, bad.text
    print(f"mlflow models serve: healthy after {up:.1f} s, first answer after {first:.1f} s")


@pytest.mark.slow
def test_the_logged_model_loads_where_thinkact_is_not_installed(registered, tmp_path):
    """The editable install hidden (its import finder removed, run outside the repository), thinkact comes from the
    model's own code folder (`code_paths`) and the model answers."""
    (tmp_path / "request.json").write_text(json.dumps(REQUEST))
    script = f"""
import json, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
import mlflow
model = mlflow.pyfunc.load_model("models:/{NAME}/1")
import thinkact
answer = model.predict(json.load(open("request.json")))
print(json.dumps({{"thinkact": thinkact.__file__, "answer": answer}}))
"""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{registered / 'mlflow.db'}"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert not found["thinkact"].startswith(str(PROJECT_ROOT)) and "/code/thinkact/" in found["thinkact"]
    check_call(found["answer"])
