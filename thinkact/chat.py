"""Chat with a model: its `<think>` reasoning, then its tool calls or its answer, shown apart (rich).

The model is a registry URI (`models:/NAME@ALIAS`, `models:/NAME/VERSION`: downloaded once by
thinkact.tracking.model_registry), a pipeline model (`sft`, `grpo`, `base`), a saved model folder or a built-in. Prompts
are rendered with the project chat template exactly as training and evaluation render them (tools included) and
completions are read by the one parser (thinkact.rewards.parsing). Greedy unless a temperature is given.

    thinkact chat --model models:/thinkact-agent@champion                         # interactive
    thinkact chat --model models:/thinkact-agent@champion --tools tools.json \\
                  --message "Where is my order 8812?"                            # one shot
    thinkact chat --model outputs/grpo/model --message "hi" --json                # machine-readable

In the interactive prompt a tool call asks for the tool's result (JSON or text; empty skips), which goes back into
the conversation as a `tool` message; `/reset` starts over, `/exit` (or Ctrl-D) leaves.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thinkact.config import Params
from thinkact.contract import Example, Target
from thinkact.errors import ThinkactError
from thinkact.evaluation.predict import load_for_eval
from thinkact.generation import generate_completions
from thinkact.rewards.parsing import parse


def load_tools(path: str | Path | None) -> list[dict[str, Any]]:
    """A JSON list of OpenAI function schemas ({"type": "function", "function": {"name", "parameters", ...}});
    bare {"name", "parameters"} items are wrapped. Anything else: one error naming the file and the item."""
    if path is None:
        return []
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ThinkactError(f"{path}: tools file not found") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise ThinkactError(f"{path}: not valid JSON ({err}); expected a list of OpenAI function schemas") from None
    if isinstance(data, dict) and isinstance(data.get("tools"), list):
        data = data["tools"]
    if not isinstance(data, list):
        raise ThinkactError(f"{path}: expected a JSON list of OpenAI function schemas "
                            '([{"type": "function", "function": {"name": ..., "parameters": {...}}}])')
    tools = []
    for i, item in enumerate(data):
        fn = item.get("function", item) if isinstance(item, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"].strip():
            raise ThinkactError(f"{path}: item [{i}]: a tool needs a function name "
                                '({"type": "function", "function": {"name": ..., "parameters": {...}}})')
        if not isinstance(fn.get("parameters", {}), dict):
            raise ThinkactError(f"{path}: item [{i}] ('{fn['name']}'): 'parameters' must be a JSON Schema object")
        tools.append({"type": "function", "function": fn})
    return tools


def load_chat_model(spec: str, params: Params) -> tuple[Any, Any]:
    """(model, tokenizer) for `spec` in eval mode, on the auto-detected device."""
    return load_for_eval(spec, params)


def reply(model: Any, tokenizer: Any, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]], *,
          max_new_tokens: int = 256, temperature: float = 0.0) -> dict[str, Any]:
    """Generate the next assistant turn; returns {"reasoning", "tool_calls", "answer", "well_formed", "raw"}."""
    turn = Example(id="chat", domain="chat", split="chat", tools=list(tools), messages=list(messages),
                   target=Target(content=""))
    raw = generate_completions(model, tokenizer, [turn], max_new_tokens=max_new_tokens, batch_size=1,
                               temperature=temperature, progress=False)[0]
    return turn_of(raw)


def turn_of(raw: str) -> dict[str, Any]:
    """A completion read by the one parser: {"reasoning", "tool_calls", "answer", "well_formed", "error", "raw"}."""
    p = parse(raw)
    return {"reasoning": p.think, "tool_calls": [{"name": n, "arguments": a} for n, a in p.calls],
            "answer": p.answer, "well_formed": p.well_formed, "error": p.error, "raw": raw}


def assistant_message(turn: dict[str, Any]) -> dict[str, Any]:
    """The assistant message to keep in the conversation (TRL's format, as the template renders history)."""
    msg: dict[str, Any] = {"role": "assistant", "content": turn["answer"] or ""}
    if turn["reasoning"]:
        msg["reasoning_content"] = turn["reasoning"]
    if turn["tool_calls"]:
        msg["content"] = ""
        msg["tool_calls"] = [{"type": "function", "function": c} for c in turn["tool_calls"]]
    return msg


def show(console: Any, turn: dict[str, Any]) -> None:
    """Reasoning (dim), then each tool call (JSON) or the answer, each in its own panel."""
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.text import Text

    if turn["reasoning"]:
        console.print(Panel(Text(turn["reasoning"], style="italic"), title="thinking", border_style="dim",
                            title_align="left"))
    for call in turn["tool_calls"]:
        body = json.dumps(call["arguments"], indent=2, ensure_ascii=False)
        console.print(Panel(Syntax(body, "json", word_wrap=True), title=f"tool call: {call['name']}",
                            border_style="cyan", title_align="left"))
    if not turn["tool_calls"]:
        console.print(Panel(Text(turn["answer"] or "(no answer)"), title="answer", border_style="green",
                            title_align="left"))
    if not turn["well_formed"]:
        console.print(Text(f"(not in the expected format: {turn['error'] or 'missing <think> block'}; raw output: "
                           f"{turn['raw']!r})", style="yellow"))


def one_shot(model: Any, tokenizer: Any, message: str, tools: Sequence[dict[str, Any]], *, system: str | None = None,
             **generation: Any) -> dict[str, Any]:
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": message}]
    return reply(model, tokenizer, messages, tools, **generation)


def interactive(model: Any, tokenizer: Any, tools: Sequence[dict[str, Any]], console: Any, *,
                system: str | None = None, **generation: Any) -> None:
    """A read-eval loop on the console; tool calls ask for their results."""
    start = [{"role": "system", "content": system}] if system else []
    messages = list(start)
    names = ", ".join(t["function"]["name"] for t in tools) or "none"
    console.print(f"[bold]thinkact chat[/] — tools: {names}. /reset starts over, /exit leaves.")
    while True:
        try:
            text = console.input("[bold blue]you> [/]").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if text in ("/exit", "/quit"):
            return
        if text == "/reset":
            messages = list(start)
            console.print("[dim](conversation cleared)[/]")
            continue
        if not text:
            continue
        messages.append({"role": "user", "content": text})
        while True:
            turn = reply(model, tokenizer, messages, tools, **generation)
            show(console, turn)
            messages.append(assistant_message(turn))
            if not turn["tool_calls"]:
                break
            results = _ask_results(console, turn["tool_calls"])
            if results is None:
                break
            messages.extend(results)


def _ask_results(console: Any, calls: Sequence[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """A `tool` message per call from what the user types; None when every result is skipped."""
    out = []
    for call in calls:
        try:
            text = console.input(f"[cyan]result of {call['name']} (JSON or text, empty skips)> [/]").strip()
        except (EOFError, KeyboardInterrupt):
            return None
        if text:
            out.append({"role": "tool", "name": call["name"], "content": text})
    return out or None
