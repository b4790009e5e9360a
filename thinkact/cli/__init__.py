"""The `thinkact` command line. Heavy libraries are imported inside each command, so `--help` is instant.

    thinkact --help
    thinkact data generate            # the built-in data set into data/ (params.yaml: data)
    thinkact data import --format bfcl --category simple_python --out bfcl_simple.jsonl
    thinkact validate data/train.jsonl
    thinkact profile list             # the named profiles (profiles/*.yaml)
"""
from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from thinkact.cli.helptext import CONTEXT, Command, Group, version_callback
from thinkact.cli.profile import profile_app
from thinkact.cli.serve import serve
from thinkact.errors import ThinkactError
from thinkact.quiet import quiet

quiet()  # offline, no telemetry, no library noise (docs/design.md: telemetry switches); users may override any

# Help conventions (thinkact/cli/helptext.py): -h, no Python type names, an Examples section in every help.
app = typer.Typer(help="Train tool-using assistants that think before they act.\n\n\b\nExamples:\n"
                       "thinkact data generate\nthinkact validate data/train.jsonl\n"
                       "thinkact chat --model grpo --message \"Where is order ORD-12345?\"\nthinkact chat -h",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False, cls=Group,
                  context_settings=CONTEXT)
data_app = typer.Typer(help="Generate, import and inspect contract data sets.\n\n\b\nExamples:\n"
                            "thinkact data generate --seed 7\nthinkact data stats --split test_env",
                       no_args_is_help=True, cls=Group, context_settings=CONTEXT)
rewards_app = typer.Typer(help="The reward registry (rewards are also the evaluation metrics).\n\n\b\n"
                               "Examples:\nthinkact rewards list", no_args_is_help=True, cls=Group,
                          context_settings=CONTEXT)
app.add_typer(data_app, name="data")
app.add_typer(rewards_app, name="rewards")
app.add_typer(profile_app, name="profile")
console = Console(stderr=True)


@app.callback()
def _options(version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=version_callback,
        help="Print the versions of thinkact, trl, transformers, torch, mlflow and python, and exit.")] = False,
) -> None:
    pass


class ImportFormat(str, Enum):
    bfcl = "bfcl"
    openai = "openai"


@data_app.command("generate", cls=Command)
def data_generate(
    out: Annotated[Optional[Path], typer.Option(metavar="DIR", help="Output folder (default: paths.data from "
                                                                    "params.yaml).")] = None,
    seed: Annotated[Optional[int], typer.Option(metavar="N", help="Override data.seed.")] = None,
) -> None:
    """Write the built-in data set: <split>.jsonl per split and manifest.json (byte-identical for a seed).

    \b
    Examples:
    thinkact data generate
    thinkact data generate --seed 7 --out /tmp/data-seed7
    """
    import dataclasses

    from thinkact.config import load_params
    from thinkact.data.writer import write_dataset

    params = load_params()
    data = params.data if seed is None else dataclasses.replace(params.data, seed=seed)
    target = out or Path(params.paths.data)
    manifest = write_dataset(target, data)
    for split, info in manifest["splits"].items():
        console.print(f"{target}/{info['file']}: {info['examples']} examples")


@data_app.command("import", cls=Command)
def data_import(
    source: Annotated[Optional[Path], typer.Argument(metavar="FILE", help="Input JSONL (for --format openai).")]
    = None,
    format: Annotated[ImportFormat, typer.Option("--format", metavar="FORMAT", help="Source format: openai or "
                                                                                    "bfcl.")] = ImportFormat.openai,
    category: Annotated[Optional[str], typer.Option(metavar="CATEGORY", help="BFCL category, e.g. simple_python, "
                                                                             "parallel, live_simple.")] = None,
    split: Annotated[Optional[str], typer.Option(metavar="SPLIT", help="Split of each example and episode (bfcl: "
                                                                       "test_task, openai: train).")] = None,
    out: Annotated[Path, typer.Option(metavar="FILE", help="Output contract JSONL.")] = Path("imported.jsonl"),
    episodes: Annotated[Optional[Path], typer.Option(metavar="FILE", help="Also write the conversations' agent "
                                                                          "episodes here (openai).")] = None,
    domain: Annotated[Optional[str], typer.Option(metavar="NAME", help="Domain of each example and episode (openai; "
                                                                       "default: the file's name).")] = None,
) -> None:
    """Convert BFCL (from the installed bfcl-eval package) or OpenAI-style chat JSONL to contract JSONL; with
    --episodes, logged conversations also become agent episodes (those that cannot are listed with the reason).

    \b
    Examples:
    thinkact data import chats.jsonl --out my_train.jsonl
    thinkact data import chats.jsonl --out data/train.jsonl --episodes data/episodes/train.jsonl --domain units
    thinkact data import --format bfcl --category simple_python --out bfcl_simple.jsonl
    """
    from thinkact.importers import import_to_file, import_with_episodes

    if episodes is None:
        n = import_to_file(format.value, out, category=category, source=source, split=split, domain=domain)
        console.print(f"{out}: {n} examples")
        return
    if format is not ImportFormat.openai or source is None:
        raise ThinkactError("--episodes needs --format openai and an input FILE of logged conversations")
    found = import_with_episodes(source, out, episodes, split=split, domain=domain)
    skipped, shown = found.skipped, 20
    console.print(f"{found.conversations} conversations → {len(found.examples)} turns, {len(found.episodes)} episodes"
                  f"; {len(skipped)} not episodes" + (":" if skipped else ""), highlight=False, soft_wrap=True)
    for s in skipped[:shown]:
        console.print(f"  {s.line()}", highlight=False, soft_wrap=True, markup=False)
    if len(skipped) > shown:
        console.print(f"  … and {len(skipped) - shown} more", highlight=False)
    console.print(f"wrote {out} and {episodes}", highlight=False, soft_wrap=True, markup=False)


@data_app.command("stats", cls=Command)
def data_stats(
    model: Annotated[Optional[str], typer.Option(metavar="SPEC", help="Model spec whose tokenizer counts "
                                                                      "(default: model.base).")] = None,
    split: Annotated[str, typer.Option(metavar="SPLIT", help="Split to measure.")] = "test_id",
) -> None:
    """Tokens per example (prompt with tools, gold completion with reasoning) under the chat template.

    \b
    Examples:
    thinkact data stats
    thinkact data stats --model Qwen/Qwen3-1.7B --split test_env
    """
    import json

    from thinkact.config import load_params
    from thinkact.contract import read_jsonl
    from thinkact.data.stats import token_stats
    from thinkact.models.loading import TINY, load_tokenizer
    from thinkact.models.base import tiny_corpus

    params = load_params()
    spec = model or params.model.base
    data = Path(params.paths.data)
    corpus = tiny_corpus(read_jsonl(data / "train.jsonl")) if spec == TINY else None
    tokenizer = load_tokenizer(spec, params.paths.models_cache, corpus=corpus, seed=params.model.seed,
                               tiny_size=params.model.tiny if spec == TINY else None)
    stats = {"model": spec, "split": split, **token_stats(tokenizer, read_jsonl(data / f"{split}.jsonl"))}
    Console().print_json(json.dumps(stats))


@app.command("validate", cls=Command)
def validate(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="A contract JSONL file, or a folder of "
                                                               "<split>.jsonl files.")],
    report_dir: Annotated[Optional[Path], typer.Option(metavar="DIR", help="Also write report.json and GX data "
                                                                           "docs here.")] = None,
) -> None:
    """Run the Great Expectations data gate on any contract data (exit 1 when an expectation fails).

    \b
    Examples:
    thinkact validate data/train.jsonl
    thinkact validate data/ --report-dir outputs/validate-cli
    """
    from thinkact.cli.validate import validate_command

    raise typer.Exit(validate_command(path, report_dir))


@app.command("score", cls=Command)
def score(
    data: Annotated[Path, typer.Option(metavar="FILE", help="Contract JSONL with the examples.")],
    predictions: Annotated[Path, typer.Option(metavar="FILE", help='JSONL of {"id", "completion"} produced '
                                                                   'elsewhere.')],
    out: Annotated[Path, typer.Option(metavar="FILE", help="Per-example scores (JSONL); the summary goes beside "
                                                           "it.")],
) -> None:
    """Score completions made elsewhere (by an API model, say) with the same metrics as evaluation: no model needed.

    \b
    Examples:
    thinkact score --data data/test_id.jsonl --predictions api_completions.jsonl --out scores/test_id.jsonl
    """
    import json

    from thinkact.evaluation.score import score_file

    summary = score_file(data, predictions, out)
    Console().print_json(json.dumps(summary))


@app.command("evaluate", cls=Command)
def evaluate(
    model: Annotated[Optional[list[str]], typer.Option(
        metavar="SPEC",
        help="Model to evaluate, repeatable: base, sft, grpo, a saved folder, a Hugging Face id in the local cache, "
             "models:/NAME@ALIAS or models:/NAME/VERSION; LABEL=SPEC names it in the report. "
             "Default: evaluate.models from params.yaml.")] = None,
    data: Annotated[Optional[list[Path]], typer.Option(
        metavar="FILE",
        help="Contract JSONL to evaluate on, repeatable (its file name is the split label); with --episodes an "
             "episode JSONL (one episode spec per line). Default: evaluate.splits from paths.data.")] = None,
    bfcl: Annotated[Optional[list[str]], typer.Option(
        metavar="CATEGORY",
        help="A BFCL category from the installed bfcl-eval package (e.g. simple_python), repeatable.")] = None,
    max_examples: Annotated[Optional[int], typer.Option(
        metavar="N", help="First N examples per data set (default: evaluate.max_examples; with --episodes: "
                          "episodes per split, default evaluate.episodes.max_examples; 0: all).")] = None,
    episodes: Annotated[bool, typer.Option(
        "--episodes", metavar="",
        help="Play agent episodes (tools: episodes.tools) instead of per-turn examples: success (greedy) "
             "and pass^k per split.")] = False,
    episode_splits: Annotated[Optional[list[str]], typer.Option(
        "--episode-splits", metavar="SPLIT",
        help="With --episodes: <paths.data>/episodes/SPLIT.jsonl, repeatable or comma-separated. Default: "
             "evaluate.episodes.splits, else test_id, test_env and test_task.")] = None,
    k: Annotated[Optional[int], typer.Option(
        "--k", metavar="N", help="With --episodes: samples per episode for pass^k (default: evaluate.episodes.k; "
                                 "0: greedy only).")] = None,
    temperature: Annotated[Optional[float], typer.Option(
        metavar="T", help="With --episodes: sampling temperature of the k samples (default: "
                          "evaluate.episodes.temperature).")] = None,
    out: Annotated[Path, typer.Option(metavar="DIR", help="Output folder (metrics.json, report.md, predictions/, "
                                                          "plots/).")] = Path("outputs/evaluate-cli"),
) -> None:
    """Evaluate any models on any contract data, BFCL categories or agent episodes with the pipeline's metrics and CIs.

    \b
    Examples:
    thinkact evaluate --model models:/thinkact-agent@champion --data data/test_env.jsonl
    thinkact evaluate --model grpo --model qwen=Qwen/Qwen3-1.7B --bfcl simple_python --max-examples 100
    thinkact evaluate --episodes --model sft --model grpo --episode-splits test_env --k 5 --temperature 1.0
    thinkact evaluate --episodes --model grpo --data my_episodes.jsonl
    """
    from thinkact.cli.evaluate import evaluate_command, evaluate_episodes_command

    if episodes:
        if bfcl:
            raise ThinkactError("--bfcl evaluates per-turn examples; it does not combine with --episodes")
        report = evaluate_episodes_command(model or [], data or [], episode_splits or [], max_examples, k,
                                           temperature, out)
    else:
        given = [name for name, value in (("--episode-splits", episode_splits), ("--k", k),
                                          ("--temperature", temperature)) if value not in (None, [])]
        if given:
            raise ThinkactError(f"{', '.join(given)}: only with --episodes (agent episodes)")
        report = evaluate_command(model or [], data or [], bfcl or [], max_examples, out)
    Console().print(report)


@rewards_app.command("list", cls=Command)
def rewards_list() -> None:
    """Print every registered reward with its options and one-line doc.

    \b
    Examples:
    thinkact rewards list
    """
    from rich.table import Table

    from thinkact.rewards import describe, options_of

    table = Table("reward", "options", "what it scores")
    for name, doc in describe():
        table.add_row(name, ", ".join(f"{k}={v!r}" for k, v in options_of(name).items()), doc)
    Console().print(table)


@app.command("promote", cls=Command)
def promote(
    version: Annotated[Optional[str], typer.Option(
        metavar="N", help="Make this version @champion by hand (rollback / force), recorded with who, why and the "
                          "previous champion.")] = None,
    reason: Annotated[str, typer.Option(metavar="TEXT", help="Why (with --version); stored as a tag on the "
                                                             "version.")] = "",
) -> None:
    """Run the promotion gate again for the current @challenger, or with --version N roll @champion back to N.

    \b
    Examples:
    thinkact promote
    thinkact promote --version 3 --reason "v4 regressed on test_env"
    """
    from thinkact.promotion.champion import promote_challenger, promote_version
    from thinkact.config import load_params

    params = load_params()
    decision = (promote_version(params, version, why=reason) if version is not None
                else promote_challenger(params))
    from rich.markdown import Markdown

    Console().print(Markdown(decision.to_markdown()))


@app.command("chat", cls=Command)
def chat(
    model: Annotated[str, typer.Option(
        metavar="SPEC", help="models:/NAME@ALIAS, models:/NAME/VERSION, sft, grpo, base, a saved model folder or a "
                             "built-in.")] = "models:/thinkact-agent@champion",
    message: Annotated[Optional[str], typer.Option(metavar="TEXT", help="One-shot: answer this message and exit.")]
    = None,
    tools: Annotated[Optional[Path], typer.Option(metavar="FILE", help="JSON list of OpenAI function schemas "
                                                                       "offered (with --simulate and your own "
                                                                       "episodes.tools: those tools when left "
                                                                       "out).")] = None,
    system: Annotated[Optional[str], typer.Option(metavar="TEXT", help="A system message.")] = None,
    max_new_tokens: Annotated[int, typer.Option(metavar="N", help="Longest reply in tokens.")] = 256,
    temperature: Annotated[float, typer.Option(metavar="T", help="0: greedy.")] = 0.0,
    simulate: Annotated[bool, typer.Option(
        "--simulate", metavar="",
        help="Answer the model's tool calls with the tool set of episodes.tools (the built-in simulators by "
             "default) instead of asking you (an unknown tool, bad arguments, a tool that fails or times out get "
             "the environment's error result); at most episodes.max_tool_calls calls per message.")] = False,
    json_out: Annotated[bool, typer.Option("--json", metavar="", help="One-shot: print the parsed reply as JSON "
                                                                      "(with --simulate: the last turn, and every "
                                                                      "turn under \"turns\"), and under \"model\" "
                                                                      "the spec, registered name, version number "
                                                                      "and alias that answered.")] = False,
) -> None:
    """Talk to a model (the registry's champion by default): shows its reasoning, then its tool calls or answer.

    On a terminal the prompt has line editing and history (~/.thinkact_history, or under $XDG_STATE_HOME).

    \b
    Examples:
    thinkact chat --model models:/thinkact-agent@champion
    thinkact chat --model grpo --tools tools.json --simulate --message "Where is order ORD-12345?"
    thinkact chat --model models:/thinkact-agent/3 --message "hi" --json
    """
    from thinkact import chat as chat_mod
    from thinkact.config import load_params

    params = load_params()
    tool_list = chat_mod.load_tools(tools)
    tool_set = None
    if simulate:  # the configured tool set runs the calls; your own offers its tools when --tools is left out
        tool_set, tool_list = chat_mod.simulated_tools(params.episodes.tools, tool_list)
        chat_mod.simulator(tool_list, params.episodes.max_tool_calls, tool_set)  # unusable schemas: one error, first
        if not tool_list:
            console.print("[yellow]--simulate without --tools: no tool is offered, every call gets an "
                          "unknown_tool error[/]")
    loadable, info = chat_mod.resolve_chat_model(model, params)
    loaded, tokenizer = chat_mod.load_chat_model(loadable, params)
    generation = {"max_new_tokens": max_new_tokens, "temperature": temperature}
    out = Console()
    calls = params.episodes.max_tool_calls if simulate else 0
    if message is None:
        label = model + (f" (version {info['version']})" if info["version"] is not None else "")
        chat_mod.interactive(loaded, tokenizer, tool_list, out, system=system, simulate_calls=calls, label=label,
                             tool_set=tool_set, **generation)
        return
    _answer_once(loaded, tokenizer, message, tool_list, calls if simulate else None, system=system,
                 json_out=json_out, info=info, out=out, generation=generation, tool_set=tool_set)


def _answer_once(loaded: Any, tokenizer: Any, message: str, tool_list: list, calls: int | None, *,
                 system: str | None, json_out: bool, info: dict, out: Console, generation: dict,
                 tool_set: Any = None) -> None:
    """`thinkact chat --message`: one reply shown (or printed as JSON with `info`, the model that answered); with
    `calls` (--simulate: at most that many tool calls) `tool_set` (the configured one) answers its tool calls, every
    turn shown."""
    import json

    from thinkact import chat as chat_mod

    if calls is not None:
        turns = chat_mod.simulated_one_shot(loaded, tokenizer, message, tool_list, calls, system=system,
                                            console=None if json_out else out, tool_set=tool_set, **generation)
        if json_out:
            print(json.dumps({**turns[-1], "turns": turns, "model": info}, ensure_ascii=False))
        return
    turn = chat_mod.one_shot(loaded, tokenizer, message, tool_list, system=system, **generation)
    if json_out:
        print(json.dumps({**turn, "model": info}, ensure_ascii=False))
    else:
        chat_mod.show(out, turn)


app.command("serve", cls=Command)(serve)  # thinkact/cli/serve.py: the model behind the OpenAI API


def main() -> None:
    """Entry point: user errors print one clear line (no traceback) and exit 2."""
    try:
        app(prog_name="thinkact")  # also under python -m thinkact.cli: usage reads as the examples
    except ThinkactError as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
