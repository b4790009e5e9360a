"""A registered model as an MLflow chat model: `mlflow models serve` and `mlflow.pyfunc.load_model` answer an
OpenAI-style chat request (`messages`, `tools`) with the assistant message, its reasoning and tool calls apart.

The logged MLflow model is a "models from code" pyfunc (`chat_pyfunc_entry.py` is the code file MLflow runs; MLflow
3.17 refuses to unpickle a pickled PythonModel unless MLFLOW_ALLOW_PICKLE_DESERIALIZATION is set). Its artifact
`model` is the saved model folder as the stages wrote it (weights, tokenizer with the chat template and response
parser, thinkact-card.json); the thinkact package rides along as `code_paths`, so the model also loads where thinkact
is not installed. `predict` renders the prompt with the folder's chat template exactly as training and evaluation
do (`thinkact.generation`), generates (greedy unless a temperature is given) and reads the completion with the one
parser (`thinkact.chat_format.parsing`), as `thinkact chat` does.

Request (the input example logged with every version):

    {"messages": [{"role": "user", "content": "Where is my order ORD-12345?"}],
     "tools": [{"type": "function", "function": {"name": "get_order_status", "parameters": {...}}}],
     "max_tokens": 256, "temperature": 0.0}

History messages are OpenAI's: an assistant turn with `tool_calls` (arguments a JSON string or object) and
`reasoning` (or `reasoning_content`), then `{"role": "tool", "tool_call_id": ..., "content": ...}`.
Response: an OpenAI `chat.completion`; `choices[0].message` = {"role": "assistant", "content", "reasoning",
"tool_calls": [{"id", "type": "function", "function": {"name", "arguments": "<JSON string>"}}]}, `finish_reason`
"tool_calls" / "stop" / "length", `usage` (token counts) and `custom_outputs` {"well_formed", "error", "raw"}
(what the parser made of the completion, and the completion itself).

    mlflow models serve -m models:/thinkact-agent@champion --env-manager local --port 5001
    curl -s localhost:5001/invocations -H 'Content-Type: application/json' -d @request.json
    mlflow.pyfunc.load_model("models:/thinkact-agent@champion").predict(request)
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import torch
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types.schema import AnyType, Array, ColSpec, DataType, Object, Property, Schema

import thinkact
from thinkact.chat_format.parsing import action_text, parse
from thinkact.contract import Example, Target
from thinkact.generation import generate_completions, generated_tokens, prompt_text
from thinkact.models.loading import card_cpu_dtype
from thinkact.tool_schemas import openai_tools
from thinkact.world.catalog import TOOLS_BY_NAME

ARTIFACT = "model"                # the saved model folder, under this artifact name
ENTRY = Path(__file__).resolve().with_name("chat_pyfunc_entry.py")  # absolute: Model.log may run in another cwd
MAX_TOKENS, TEMPERATURE = 256, 0.0   # defaults, as `thinkact chat`; model_config "max_tokens" / "temperature" override
ROLES = {"system", "user", "assistant", "tool", "developer"}

# messages and tools are free-form JSON (any tool JSON Schema, any extra message key an OpenAI client sends back):
# MLflow checks only the top level; `chat_request` checks the rest with messages a client can act on (HTTP 400).
INPUT_SCHEMA = Schema([
    ColSpec(Array(AnyType()), "messages"),
    ColSpec(Array(AnyType()), "tools", required=False),
    ColSpec(DataType.long, "max_tokens", required=False),
    ColSpec(DataType.long, "max_completion_tokens", required=False),
    ColSpec(DataType.double, "temperature", required=False),
    ColSpec(DataType.long, "n", required=False),
    ColSpec(DataType.boolean, "stream", required=False),
])
_CALL = Object([Property("id", DataType.string), Property("type", DataType.string),
                Property("function", Object([Property("name", DataType.string),
                                             Property("arguments", DataType.string)]))])
_MESSAGE = Object([Property("role", DataType.string), Property("content", AnyType(), required=False),
                   Property("reasoning", AnyType(), required=False), Property("tool_calls", Array(_CALL))])
OUTPUT_SCHEMA = Schema([
    ColSpec(DataType.string, "id"), ColSpec(DataType.string, "object"), ColSpec(DataType.long, "created"),
    ColSpec(DataType.string, "model"),
    ColSpec(Array(Object([Property("index", DataType.long), Property("message", _MESSAGE),
                          Property("finish_reason", DataType.string)])), "choices"),
    ColSpec(Object([Property("prompt_tokens", DataType.long), Property("completion_tokens", DataType.long),
                    Property("total_tokens", DataType.long)]), "usage"),
    ColSpec(AnyType(), "custom_outputs", required=False),
])
SIGNATURE = ModelSignature(inputs=INPUT_SCHEMA, outputs=OUTPUT_SCHEMA)


def input_example() -> dict[str, Any]:
    """A chat request with one tool of the built-in catalog (logged with every version; MLflow also checks at log
    time that it serves)."""
    return {"messages": [{"role": "user", "content": "Where is my order ORD-12345?"}],
            "tools": [TOOLS_BY_NAME["get_order_status"].schema()], "max_tokens": 64, "temperature": 0.0}


def bad_request(message: str) -> MlflowException:
    """An error the client caused: the scoring server answers HTTP 400 with this message."""
    return MlflowException.invalid_parameter_value(f"chat request: {message}")


# ---- request -> prompt -------------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """numpy arrays and scalars (what MLflow's schema enforcement may leave in a DataFrame row) as plain Python."""
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def chat_request(model_input: Any) -> dict[str, Any]:
    """The request as a dict, from what pyfunc hands `predict`: a dict, or the one-row DataFrame MLflow makes of
    it when it enforces the signature (absent optional fields dropped)."""
    if isinstance(model_input, pd.DataFrame):
        if len(model_input) != 1:
            raise bad_request(f"one chat request at a time, got {len(model_input)} rows")
        model_input = model_input.iloc[0].to_dict()
    if isinstance(model_input, list) and len(model_input) == 1 and isinstance(model_input[0], dict):
        model_input = model_input[0]
    if not isinstance(model_input, dict):
        raise bad_request(f"expected a JSON object with 'messages', got {type(model_input).__name__}")
    return {k: _plain(v) for k, v in model_input.items() if v is not None and not _is_nan(v)}


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def _text(content: Any, where: str) -> str:
    """Message content as text: a string, null, or OpenAI content parts ({"type": "text", "text": ...})."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(str(p.get("text", "")) for p in content)
    raise bad_request(f"{where}.content: expected a string or a list of text parts")


def prompt_messages(messages: Any) -> list[dict[str, Any]]:
    """OpenAI chat messages as the chat template renders them (thinkact's training format): content as text,
    `reasoning` (or `reasoning_content`) of an assistant turn as `reasoning_content`, tool calls as given."""
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty list of {role, content} objects")
    out = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict) or msg.get("role") not in ROLES:
            raise bad_request(f"{where}: expected an object with a role in {sorted(ROLES)}")
        role = "system" if msg["role"] == "developer" else msg["role"]
        item: dict[str, Any] = {"role": role, "content": _text(msg.get("content"), where)}
        if role == "assistant":
            reasoning = msg.get("reasoning_content", msg.get("reasoning"))
            if isinstance(reasoning, str) and reasoning:
                item["reasoning_content"] = reasoning
            if msg.get("tool_calls"):
                item["tool_calls"] = [_history_call(c, f"{where}.tool_calls[{j}]")
                                      for j, c in enumerate(msg["tool_calls"])]
        if role == "tool" and isinstance(msg.get("name"), str):
            item["name"] = msg["name"]
        out.append(item)
    return out


def _history_call(call: Any, where: str) -> dict[str, Any]:
    fn = call.get("function", call) if isinstance(call, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise bad_request(f"{where}: expected {{'type': 'function', 'function': {{'name', 'arguments'}}}}")
    args = fn.get("arguments", {})
    if isinstance(args, str):  # OpenAI sends a JSON string; the template writes an object (as in training)
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            pass  # rendered as given
    return {"type": "function", "function": {"name": fn["name"], "arguments": args}}


def request_tools(tools: Any) -> list[dict[str, Any]]:
    """OpenAI function tools ({"type": "function", "function": {...}}; a bare {"name", "parameters"} is wrapped)."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise bad_request("'tools' must be a list of {'type': 'function', 'function': {...}} objects")
    try:
        return openai_tools(tools)
    except ValueError as e:
        raise bad_request(f"tools{e}") from None


def _number(request: dict[str, Any], key: str, default: float, kind: type) -> Any:
    value = request.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(f"'{key}' must be a number")
    return kind(value)


# ---- completion -> response --------------------------------------------------------------------------------------
def assistant_message(raw: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the OpenAI assistant message, {"well_formed", "error"}) of a completion, read by the one parser: every
    parsed `<tool_call>` becomes a tool call with JSON-string arguments (content null); otherwise the answer after
    the think block is the content. A completion the parser cannot split keeps its text as the content."""
    p = parse(raw)
    calls = [{"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
              "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}} for name, args in p.calls]
    if calls:
        content = None
    elif p.answer is not None:
        content = p.answer
    else:
        content = action_text(raw).strip() or None
    message = {"role": "assistant", "content": content, "reasoning": p.think, "tool_calls": calls}
    return message, {"well_formed": p.well_formed, "error": p.error}


def completion_response(raw: str, *, model: str, prompt_tokens: int, completion_tokens: int,
                        max_tokens: int) -> dict[str, Any]:
    """The OpenAI `chat.completion` object for one completion."""
    message, check = assistant_message(raw)
    finish = ("tool_calls" if message["tool_calls"] else "length" if completion_tokens >= max_tokens else "stop")
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
            "custom_outputs": {**check, "raw": raw}}


# ---- the pyfunc --------------------------------------------------------------------------------------------------
class ThinkactChatModel(mlflow.pyfunc.PythonModel):
    """The pyfunc MLflow loads (`chat_pyfunc_entry.py`): the model folder from `context.artifacts["model"]` on CUDA
    (bf16 where supported) or the CPU (its card's model.cpu_dtype, else fp32), one request at a time (a lock:
    generation changes tokenizer state)."""

    def load_context(self, context: Any) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = str(context.artifacts[ARTIFACT])
        config = dict(context.model_config or {})
        self.name = str(config.get("name") or "thinkact")
        self.max_tokens = int(config.get("max_tokens", MAX_TOKENS))
        self.temperature = float(config.get("temperature", TEMPERATURE))
        device = "cuda" if torch.cuda.is_available() else "cpu"
        # on a CPU: the dtype the model was trained and evaluated in (its card's model.cpu_dtype), fp32 without one
        dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32) if device == "cuda" else \
            getattr(torch, card_cpu_dtype(folder) or "float32")
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        if self.tokenizer.pad_token is None:  # as thinkact.models does
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=dtype)
        if self.tokenizer.eos_token_id is not None:
            model.generation_config.eos_token_id = self.tokenizer.eos_token_id
        model.generation_config.pad_token_id = self.tokenizer.pad_token_id
        self.model = model.to(device).eval()
        self.lock = threading.Lock()

    # model_input: MLflow enforces the signature by making a one-row DataFrame of the request (a dict is taken too);
    # a DataFrame hint is one MLflow infers no schema from, so the logged signature stands.
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> dict[str, Any]:
        request = {**chat_request(model_input), **(params or {})}
        if request.get("stream"):
            raise bad_request("streaming is not supported; send 'stream': false")
        if _number(request, "n", 1, int) != 1:
            raise bad_request("only n=1 is supported")
        max_tokens = _number(request, "max_tokens", request.get("max_completion_tokens", self.max_tokens), int)
        temperature = _number(request, "temperature", self.temperature, float)
        if max_tokens < 1 or temperature < 0:
            raise bad_request("'max_tokens' must be at least 1 and 'temperature' not negative")
        turn = Example(id="serve", domain="chat", split="chat", tools=request_tools(request.get("tools")),
                       messages=prompt_messages(request.get("messages")), target=Target(content=""))
        with self.lock:
            raw = generate_completions(self.model, self.tokenizer, [turn], max_new_tokens=max_tokens, batch_size=1,
                                       temperature=temperature, progress=False)[0]
            prompt_tokens = len(self.tokenizer(prompt_text(self.tokenizer, turn), add_special_tokens=False).input_ids)
            completion_tokens = generated_tokens(self.tokenizer, raw)
        return completion_response(raw, model=self.name, prompt_tokens=prompt_tokens,
                                   completion_tokens=completion_tokens, max_tokens=max_tokens)


def package_dir() -> Path:
    """The thinkact package folder, logged as the model's `code_paths`."""
    return Path(thinkact.__file__).resolve().parent


PARSER_KEYS = ("response_template", "response_schema")  # transformers' response parser, new and legacy name
WEIGHTS = (".safetensors", ".bin", ".pt", ".gguf")


def has_response_parser(folder: str | Path) -> bool:
    """Whether the folder's tokenizer carries a response parser (`tokenizer.parse_response` works on it)."""
    config = Path(folder) / "tokenizer_config.json"
    return config.is_file() and any(k in json.loads(config.read_text(encoding="utf-8")) for k in PARSER_KEYS)


@contextlib.contextmanager
def with_response_parser(folder: str | Path) -> Iterator[Path]:
    """`folder` itself when its tokenizer has a response parser (every folder the sft and grpo stages write: their
    `save_final` adds it); otherwise a temporary copy (weights hard-linked where the disk allows, never changed)
    whose tokenizer has TRL's Qwen3 parser, as `save_final` gives it."""
    folder = Path(folder)
    if has_response_parser(folder):
        yield folder
        return
    # imported here: TRL (and the chat template read from its package) is needed to log, not to serve
    from transformers import AutoTokenizer

    from thinkact.chat_format.template import add_response_parsing

    with tempfile.TemporaryDirectory(prefix="thinkact-log-") as tmp:
        copy = Path(tmp) / folder.name
        copy.mkdir()
        for item in folder.iterdir():
            if item.is_dir():
                shutil.copytree(item, copy / item.name)
            elif item.suffix in WEIGHTS:
                try:
                    os.link(item, copy / item.name)
                except OSError:
                    shutil.copy2(item, copy / item.name)
            else:  # copied, not linked: the tokenizer files are rewritten below
                shutil.copy2(item, copy / item.name)
        add_response_parsing(AutoTokenizer.from_pretrained(str(copy), local_files_only=True)).save_pretrained(copy)
        yield copy


def log_chat_model(folder: str | Path, *, name: str, run_id: str, registered_model_name: str,
                   pip_requirements: list[str], tags: dict[str, Any], metadata: dict[str, Any],
                   await_registration_for: int = 60) -> Any:
    """Log `folder` to run `run_id` as the chat pyfunc under `name` and register it; returns MLflow's ModelInfo.
    Uses mlflow's process-wide store and working directory (the caller points them at the right store and, for a
    store with relative artifact locations, at its project root: thinkact.tracking.store.store_cwd); `folder` is
    absolute. `Model.log` with the pyfunc flavor is what `mlflow.pyfunc.log_model` runs; called directly, it takes
    the `run_id` of a run this process did not start (`pyfunc.log_model` logs only to the active run), such as the
    finished training run of the model. MLflow then loads the logged model once and answers the input example (its
    serving check: a warning if it fails)."""
    with with_response_parser(folder) as logged:
        return mlflow.models.Model.log(
            artifact_path=None, name=name, flavor=mlflow.pyfunc, python_model=str(ENTRY),
            artifacts={ARTIFACT: str(logged)}, code_paths=[str(package_dir())],
            model_config={"name": registered_model_name, "role": name, "max_tokens": MAX_TOKENS,
                          "temperature": TEMPERATURE},
            signature=SIGNATURE, input_example=input_example(), pip_requirements=pip_requirements,
            metadata=metadata, run_id=run_id, registered_model_name=registered_model_name, tags=tags,
            await_registration_for=await_registration_for)


def artifact_folder(model_dir: str | Path) -> Path | None:
    """Where a downloaded chat pyfunc keeps the saved model folder (from its MLmodel), or None for other models."""
    import yaml

    mlmodel = Path(model_dir) / "MLmodel"
    if not mlmodel.is_file():
        return None
    flavor = ((yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}).get("flavors") or {}).get(
        "python_function") or {}
    path = ((flavor.get("artifacts") or {}).get(ARTIFACT) or {}).get("path")
    return Path(model_dir) / path if path else None
