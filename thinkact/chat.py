"""Chat with a model: its `<think>` reasoning, then its tool calls or its answer, shown apart (rich).

The model is a registry URI (`models:/NAME@ALIAS`, `models:/NAME/VERSION`: downloaded once by
thinkact.tracking.model_registry), a pipeline model (`sft`, `grpo`, `base`), a saved model folder or a built-in. Prompts
are rendered with the project chat template exactly as training and evaluation render them (tools included) and
completions are read by the one parser (thinkact.chat_format.parsing). Greedy unless a temperature is given.

    thinkact chat --model models:/thinkact-agent@champion                         # interactive
    thinkact chat --model models:/thinkact-agent@champion --tools tools.json \\
                  --message "Where is my order 8812?"                            # one shot
    thinkact chat --model outputs/grpo/model --message "hi" --json                # machine-readable

In the interactive prompt a tool call asks for the tool's result (JSON or text; empty skips), which goes back into
the conversation as a `tool` message; `/reset` starts over, `/exit` (or Ctrl-D) leaves. On a terminal the prompt
has line editing and history (Python's readline, where the platform has it): the arrows, Ctrl-R, and the lines of
past sessions, kept in `$XDG_STATE_HOME/thinkact/chat_history` or else `~/.thinkact_history` (best-effort).

`--json` names the model that answered: {"model": {"spec", "name", "version", "alias"}}, with a registry URI's
registered name and version number (the alias resolved at load time); name and version are null otherwise.

With `--simulate` nobody is asked: every `<tool_call>` block is run through `thinkact.env.tool_env.ToolEnvironment` over
the offered tools on the configured tool set (params.yaml `episodes.tools`, thinkact.tools: the built-in simulators by
default, or your Python module or MCP server; an unknown tool, bad arguments, a malformed call, a tool that fails
or does not answer in time come back as the environment's error result), shown as a typed result would be, and the
model continues until it answers or `episodes.max_tool_calls` calls were made for the message (one shot and
interactive alike). With your own tool set and no `--tools` file, its tools are the ones offered:

    thinkact chat --model grpo --tools tools.json --simulate --message "Where is order ORD-12345?"
    thinkact chat --model grpo --simulate --message "3 km in miles?"     # episodes.tools: {source: python, ...}
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from thinkact.chat_format.parsing import action_text, parse
from thinkact.contract import Example, Target
from thinkact.env.rollout import call_bodies
from thinkact.env.spec import EpisodeSpec
from thinkact.env.tool_env import ToolEnvironment
from thinkact.errors import DataError, ThinkactError
from thinkact.evaluation.predict import load_for_eval, resolve_spec
from thinkact.generation import generate_completions
from thinkact.tool_schemas import openai_tools
from thinkact.tools.base import ToolSet
from thinkact.tools.params import ToolsParams
from thinkact.tools.registry import open_tools
from thinkact.tracking.model_registry import MARKER, PREFIX, parse_uri

if TYPE_CHECKING:  # the root of params (thinkact.config) composes the layers' sections: a type only here
    from thinkact.config import Params


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
    try:
        return openai_tools(data)
    except ValueError as e:
        raise ThinkactError(f"{path}: item {e}") from None


def load_chat_model(spec: str, params: Params) -> tuple[Any, Any]:
    """(model, tokenizer) for `spec` in eval mode, on the auto-detected device."""
    return load_for_eval(spec, params)


def resolve_chat_model(spec: str, params: Params) -> tuple[str, dict[str, Any]]:
    """(what `load_chat_model` loads, {"spec", "name", "version", "alias"}): a registry URI is downloaded (once)
    and named by its registered name and version number, read from the downloaded folder's registry marker (so
    an alias names the version it points to now); name and version are None for any other model."""
    info: dict[str, Any] = {"spec": spec, "name": None, "version": None, "alias": None}
    if spec == "base":
        return spec, info
    loadable = resolve_spec(spec, params)
    if spec.startswith(PREFIX):
        info["alias"] = parse_uri(spec)[1]
        marker = Path(loadable) / MARKER
        if marker.is_file():
            found = json.loads(marker.read_text(encoding="utf-8"))
            version = str(found.get("version", ""))
            info.update(name=found.get("name"), version=int(version) if version.isdigit() else version or None)
    return loadable, info


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


# -- simulated tools -----------------------------------------------------------------------------------------
def simulated_tools(settings: ToolsParams | None,
                    offered: Sequence[dict[str, Any]]) -> tuple[ToolSet, list[dict[str, Any]]]:
    """(the tool set `--simulate` runs calls on, the tools offered): the configured tool set (params.yaml
    `episodes.tools`; None: the built-in one), opened once per process; the offered tools are `offered` (the
    `--tools` file), or, when none is given and the tool set is not the built-in world, the tool set's own."""
    tool_set = open_tools(settings)
    tools = list(offered)
    if not tools and tool_set.kind != "builtin":
        tools = tool_set.schemas()
    return tool_set, tools


def simulator(tools: Sequence[dict[str, Any]], max_tool_calls: int,
              tool_set: ToolSet | None = None) -> ToolEnvironment:
    """A tool environment over the offered tools, run on `tool_set` (None: the built-in simulators), at most
    `max_tool_calls` calls; a schema the environment cannot use is one error."""
    try:
        spec = EpisodeSpec(id="chat", user="chat", tools=tuple(tools))
    except DataError as e:
        raise ThinkactError(f"--tools: {e.problem}") from None
    return ToolEnvironment(spec, max_tool_calls=max_tool_calls, tools=tool_set)


def run_tools(env: ToolEnvironment, turn: dict[str, Any]) -> list[dict[str, Any]]:
    """Answer the turn's tool calls through `env`, one per `<tool_call>` block (a malformed one too, as an error):
    [{"name", "arguments", "result", "error"}]; [] when the turn calls nothing."""
    p = parse(turn["raw"])
    if not (p.calls or p.action == "call"):
        return []
    out = []
    for body in call_bodies(action_text(turn["raw"])):
        result = env.call_raw(body)
        record = env.calls[-1]
        out.append({"name": record.name, "arguments": record.arguments, "result": result, "error": record.error})
    return out


def tool_messages(turn: dict[str, Any], results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The assistant message with the calls the environment ran, then a `tool` message per result."""
    msg = assistant_message(turn)
    msg["content"] = ""
    msg["tool_calls"] = [{"type": "function", "function": {
        "name": r["name"] or "", "arguments": r["arguments"] if isinstance(r["arguments"], dict)
        else str(r["arguments"])}} for r in results]
    return [msg, *({"role": "tool", "name": r["name"] or "", "content": r["result"]} for r in results)]


def show_results(console: Any, results: Sequence[dict[str, Any]]) -> None:
    """Each tool result as a typed one appears: `result of NAME> TEXT`."""
    for r in results:
        console.print(Text.assemble((f"result of {r['name'] or '?'}> ", "cyan"), r["result"]))


def simulated_exchange(model: Any, tokenizer: Any, messages: list[dict[str, Any]], tools: Sequence[dict[str, Any]],
                       env: ToolEnvironment, console: Any = None, **generation: Any) -> list[dict[str, Any]]:
    """Reply to `messages` (extended in place) until the model answers or `env` ends on its call bound; each
    turn gets its `tool_results`. With `console`, every turn and result is shown as it comes."""
    turns = []
    while True:
        turn = reply(model, tokenizer, messages, tools, **generation)
        results = run_tools(env, turn)
        turn["tool_results"] = results
        turns.append(turn)
        if console is not None:
            show(console, turn)
            show_results(console, results)
        if not results:
            messages.append(assistant_message(turn))
            return turns
        messages.extend(tool_messages(turn, results))
        if env.done:
            if console is not None:
                console.print(f"[dim](tool call limit reached: {env.max_tool_calls} calls for this message)[/]")
            return turns


def simulated_one_shot(model: Any, tokenizer: Any, message: str, tools: Sequence[dict[str, Any]],
                       max_tool_calls: int, *, system: str | None = None, console: Any = None,
                       tool_set: ToolSet | None = None, **generation: Any) -> list[dict[str, Any]]:
    """`one_shot` with the tools run on `tool_set` (None: the built-in simulators): every turn until the answer (or
    the call bound)."""
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": message}]
    return simulated_exchange(model, tokenizer, messages, tools, simulator(tools, max_tool_calls, tool_set), console,
                              **generation)


# -- the interactive prompt: line editing and history on a terminal ------------------------------------------
HISTORY_LENGTH = 1000


def history_file() -> Path:
    """$XDG_STATE_HOME/thinkact/chat_history when XDG_STATE_HOME is set, else ~/.thinkact_history."""
    state = os.environ.get("XDG_STATE_HOME")
    return Path(state) / "thinkact" / "chat_history" if state else Path.home() / ".thinkact_history"


@contextlib.contextmanager
def line_editing(enabled: bool | None = None) -> Iterator[bool]:
    """Line editing and history for `input()` through Python's readline while the block runs: past sessions'
    lines loaded from `history_file()`, this session's appended to it at the end (at most HISTORY_LENGTH kept).
    Enabled when stdin and stdout are terminals (`enabled` overrides); yields whether it is on. Best-effort: no
    readline module (some platforms) or an unreadable/unwritable history file only loses the history."""
    if enabled is None:
        enabled = sys.stdin.isatty() and sys.stdout.isatty()
    try:
        import readline
    except ImportError:
        readline = None
    if not enabled or readline is None:
        yield False
        return
    path = history_file()
    try:
        readline.read_history_file(str(path))
    except (OSError, UnicodeDecodeError):
        pass
    before = readline.get_current_history_length()
    try:
        yield True
    finally:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.set_history_length(HISTORY_LENGTH)
            new = readline.get_current_history_length() - before
            if path.is_file() and hasattr(readline, "append_history_file"):
                readline.append_history_file(max(new, 0), str(path))  # other sessions' lines are kept
            else:
                readline.write_history_file(str(path))
        except OSError:
            pass


_ESCAPE = re.compile(r"(\x1b\[[0-9;?]*[A-Za-z])")


def ask(console: Any, prompt: str, editing: bool = False) -> str:
    """Read a line after the (rich markup) prompt. With line editing the prompt is handed to `input()`, its
    colour codes marked invisible, so readline redraws it with the line (the Up arrow does not erase it)."""
    if not editing:
        return console.input(prompt)
    with console.capture() as captured:
        console.print(prompt, end="")
    return input(_ESCAPE.sub("\x01\\1\x02", captured.get()))


def interactive(model: Any, tokenizer: Any, tools: Sequence[dict[str, Any]], console: Any, *,
                system: str | None = None, simulate_calls: int = 0, label: str | None = None,
                editing: bool | None = None, tool_set: ToolSet | None = None, **generation: Any) -> None:
    """A read-eval loop on the console; tool calls ask for their results, or with `simulate_calls` > 0 are
    answered by `tool_set` (None: the built-in simulators; at most that many calls per message). `label` names the
    model in the banner; `editing`: line editing and history (default: when stdin and stdout are terminals,
    `line_editing`)."""
    if simulate_calls:
        simulator(tools, simulate_calls, tool_set)  # a tools list the environment cannot use fails before the first
    with line_editing(editing) as on:
        _loop(model, tokenizer, tools, console, system, simulate_calls, label, on, generation, tool_set)


def _loop(model: Any, tokenizer: Any, tools: Sequence[dict[str, Any]], console: Any, system: str | None,
          simulate_calls: int, label: str | None, editing: bool, generation: dict[str, Any],
          tool_set: ToolSet | None = None) -> None:
    start = [{"role": "system", "content": system}] if system else []
    messages = list(start)
    names = ", ".join(t["function"]["name"] for t in tools) or "none"
    mode = " (simulated)" if simulate_calls else ""
    model_part = f" — {escape(label)}" if label else ""
    console.print(f"[bold]thinkact chat[/]{model_part} — tools{mode}: {names}. /reset starts over, /exit leaves.")
    while True:
        try:
            text = ask(console, "[bold blue]you> [/]", editing).strip()
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
        if simulate_calls:
            simulated_exchange(model, tokenizer, messages, tools, simulator(tools, simulate_calls, tool_set),
                               console, **generation)
            continue
        while True:
            turn = reply(model, tokenizer, messages, tools, **generation)
            show(console, turn)
            messages.append(assistant_message(turn))
            if not turn["tool_calls"]:
                break
            results = _ask_results(console, turn["tool_calls"], editing)
            if results is None:
                break
            messages.extend(results)


def _ask_results(console: Any, calls: Sequence[dict[str, Any]], editing: bool = False) -> list[dict[str, Any]] | None:
    """A `tool` message per call from what the user types; None when every result is skipped."""
    out = []
    for call in calls:
        try:
            text = ask(console, f"[cyan]result of {escape(call['name'])} (JSON or text, empty skips)> [/]",
                       editing).strip()
        except (EOFError, KeyboardInterrupt):
            return None
        if text:
            out.append({"role": "tool", "name": call["name"], "content": text})
    return out or None
