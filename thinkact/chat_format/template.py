"""The one chat template every model uses, and the assistant text it renders for a target.

The template is TRL's training variant of Qwen3's chat template (`trl/chat_templates/qwen3_training.jinja`),
read from the installed TRL package (without importing TRL, which costs ~6 s). It renders `tools` into the
system turn, every assistant turn as `<think>\\n{reasoning}\\n</think>\\n\\n{content}` followed by one
`<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>` block per call, and tool results as
`<tool_response>` blocks inside a user turn. Unlike Qwen3's original template it is prefix-preserving (an
assistant turn renders the same whatever follows it) and carries `{% generation %}` markers, so
`return_assistant_tokens_mask=True` works and TRL's SFTTrainer / GRPOTrainer use it as is instead of
swapping in their own; training, generation and evaluation therefore see the very same prompt text.

Messages go in structured (`reasoning_content`, `tool_calls`), never as pre-rendered text; for a Hugging Face
dataset use `json_arguments(messages)` and keep `tools` as a JSON string (TRL json.loads it).

Completions are parsed by the project's one parser, `thinkact.chat_format.parsing.parse`:

    from thinkact.chat_format.template import apply_template, render_target
    from thinkact.chat_format.parsing import parse
    apply_template(tokenizer)
    text = render_target({"tool_calls": [{"name": "f", "arguments": {"x": 1}}]}, reasoning=None)
    parse(text).calls   # [("f", {"x": 1})]
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from thinkact.chat_format.prompt import PromptParams

TEMPLATE_FILE = "qwen3_training.jinja"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"


def _load_trl_template(name: str) -> str:
    spec = importlib.util.find_spec("trl")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("thinkact needs the `trl` package for its chat template; install the project deps")
    return (Path(list(spec.submodule_search_locations)[0]) / "chat_templates" / name).read_text(encoding="utf-8")


CHAT_TEMPLATE: str = _load_trl_template(TEMPLATE_FILE)
PROMPT_KEY = "prompt"  # the model card's key for the prompt settings the model was trained with
_TOOL_JSON = "{{- tool | tojson }}"
_GENERATION_PROMPT = "{{- '<|im_start|>assistant\\n' }}\n    {%- if enable_thinking"
_SYSTEM_WITH_TOOLS = "{%- if messages[0].role == 'system' %}\n        {{- messages[0].content + '\\n\\n' }}\n    {%- endif %}"
_SYSTEM_NO_TOOLS = ("{%- if messages[0].role == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0].content + "
                    "'<|im_end|>\\n' }}\n    {%- endif %}")


def prompt_settings(prompt: Any = None) -> dict[str, Any]:
    """{"system", "tool_json", "open_think", "think_start"} from params' `prompt` section (a PromptParams, or a
    mapping such as a model card's, whose missing keys take PromptParams' defaults); the defaults for None."""
    defaults = PromptParams()
    if prompt is None:
        prompt = defaults
    get = prompt.get if isinstance(prompt, dict) else (lambda k, d: getattr(prompt, k, d))
    out: dict[str, Any] = {key: str(get(key, getattr(defaults, key)) or getattr(defaults, key))
                           for key in ("system", "tool_json", "think_start")}
    out["open_think"] = get("open_think", defaults.open_think) is True
    return out


def opening(prompt: Any = None) -> str:
    """What the generation prompt writes of the assistant turn for params' `prompt` section: "" normally;
    with open_think, `<think>\n` and think_start (the model goes on from there)."""
    settings = prompt_settings(prompt)
    return THINK_OPEN + "\n" + settings["think_start"] if settings["open_think"] else ""


def chat_template(prompt: Any = None) -> str:
    """The project template for params' `prompt` section: with no settings (or the defaults) TRL's template
    unchanged; `system` adds that system line before a conversation that has no system turn of its own,
    `tool_json: compact` writes each offered tool schema as JSON without spaces after "," and ":", and
    `open_think` ends the generation prompt inside the think block (`opening`)."""
    settings = prompt_settings(prompt)
    text = CHAT_TEMPLATE
    if settings["open_think"]:
        if _GENERATION_PROMPT not in text:
            raise RuntimeError(f"TRL's {TEMPLATE_FILE} changed: no `{_GENERATION_PROMPT}` to open the think block in")
        text = text.replace(_GENERATION_PROMPT, "{{- '<|im_start|>assistant\\n' + " + json.dumps(opening(prompt))
                            + " }}\n    {%- if enable_thinking")
    if settings["tool_json"] == "compact":
        if _TOOL_JSON not in text:
            raise RuntimeError(f"TRL's {TEMPLATE_FILE} changed: no `{_TOOL_JSON}` to make compact")
        text = text.replace(_TOOL_JSON, "{{- tool | tojson(separators=(',', ':')) }}")
    if settings["system"]:
        if _SYSTEM_WITH_TOOLS not in text or _SYSTEM_NO_TOOLS not in text:
            raise RuntimeError(f"TRL's {TEMPLATE_FILE} changed: its system-turn blocks are not where expected")
        line = json.dumps(settings["system"])  # a JSON string is a valid Jinja string literal
        text = text.replace(_SYSTEM_WITH_TOOLS, _SYSTEM_WITH_TOOLS.replace(
            "    {%- endif %}", f"    {{%- else %}}\n        {{{{- {line} + '\\n\\n' }}}}\n    {{%- endif %}}"))
        text = text.replace(_SYSTEM_NO_TOOLS, _SYSTEM_NO_TOOLS.replace(
            "    {%- endif %}", f"    {{%- else %}}\n        {{{{- '<|im_start|>system\\n' + {line} + '<|im_end|>\\n' }}}}"
                              "\n    {%- endif %}"))
    return text


def apply_template(tokenizer: Any, prompt: Any = None) -> Any:
    """Set the project chat template (for params' `prompt` section, see chat_template) on `tokenizer` (in place)
    and return it."""
    tokenizer.chat_template = chat_template(prompt)
    return tokenizer


def assistant_opening(tokenizer: Any) -> str:
    """The part of the assistant turn `tokenizer`'s chat template writes in the generation prompt ("" unless
    prompt.open_think): a completion generated after that prompt is `assistant_opening(tokenizer) + new text`.
    Read off the template itself, so every stage, `thinkact chat` and the served model agree with what it renders."""
    probe = [{"role": "user", "content": "x"}]
    head = tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=False)
    full = tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
    tail = full[len(head):] if full.startswith(head) else ""
    marker = "<|im_start|>assistant\n"
    return tail[tail.index(marker) + len(marker):] if marker in tail else ""


def add_response_parsing(tokenizer: Any) -> Any:
    """Give `tokenizer` TRL's Qwen3 response parser: plain transformers' `parse_response` then works (it is saved
    with the tokenizer, so every model folder the stages write has it) and TRL's native tool loop accepts it.

    TRL's `add_response_schema` recognises only Qwen3's *original* template, not the training variant
    used here, so the trainers would raise "Unrecognized chat template"; setting the parser first makes them
    skip that lookup. Imports TRL (slow): call it only where TRL is loaded anyway.
    """
    from trl.chat_template_utils import qwen3_schema, qwen3_template  # noqa: PLC0415
    from trl.chat_template_utils import _SUPPORTS_RESPONSE_TEMPLATE  # noqa: PLC0415

    if _SUPPORTS_RESPONSE_TEMPLATE:
        tokenizer.response_template = qwen3_template
    else:
        tokenizer.response_schema = qwen3_schema
    return tokenizer


def _call_json(name: str, arguments: dict[str, Any] | str) -> str:
    # Exactly what the template writes: the name unescaped, arguments through `tojson`
    # (transformers overrides it as json.dumps(x, ensure_ascii=False)); string arguments go in raw.
    args = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return '{"name": "' + name + '", "arguments": ' + args + "}"


def render_target(target: dict[str, Any], reasoning: str | None = None) -> str:
    """The assistant text the template renders for a contract target (after `<|im_start|>assistant\\n`,
    before `<|im_end|>`): the think block (empty when `reasoning` is None), then the calls or the content."""
    text = THINK_OPEN + "\n" + (reasoning or "").strip("\n") + "\n" + THINK_CLOSE + "\n\n"
    if target.get("tool_calls"):
        blocks = [CALL_OPEN + "\n" + _call_json(c["name"], c["arguments"]) + "\n" + CALL_CLOSE
                  for c in target["tool_calls"]]
        return text + "\n".join(blocks)
    return text + str(target.get("content") or "").lstrip("\n")


def target_message(target: dict[str, Any], reasoning: str | None = None) -> dict[str, Any]:
    """The assistant message (TRL's conversational format) whose rendering is `render_target(target, reasoning)`."""
    msg: dict[str, Any] = {"role": "assistant", "content": "" if target.get("tool_calls") else target.get("content", "")}
    if reasoning:
        msg["reasoning_content"] = reasoning
    if target.get("tool_calls"):
        msg["tool_calls"] = [{"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                             for c in target["tool_calls"]]
    return msg


def json_arguments(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of `messages` with every tool call's arguments as a JSON string, rendered exactly like dict
    arguments. Needed for Hugging Face datasets, which pad dicts with different keys into one struct (an
    argument dict would come back with null keys of every other call, and the template would render them)."""
    out = []
    for msg in messages:
        if msg.get("tool_calls"):
            calls = []
            for call in msg["tool_calls"]:
                fn = call.get("function", call)
                args = fn["arguments"]
                fn = {**fn, "arguments": args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)}
                calls.append({**call, "function": fn} if "function" in call else fn)
            msg = {**msg, "tool_calls": calls}
        out.append(msg)
    return out
