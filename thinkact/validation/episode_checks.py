"""Episode files in the data gate: <data>/episodes/<split>.jsonl, checked in the same GX run (docs/data.md).

    from thinkact.validation.episode_checks import episode_table
    found = episode_table("data")        # None when the folder has no episodes/
    found.table, found.counts            # a suite.Table for run_suite(extra=...), episodes per split
    episode_table("data", tools=params.episodes.tools)    # gold calls replayed on that tool set (default: built-in)

Episodes are optional (an imported data set has none); when a data folder has them, every line becomes one row
with error columns (None: passes or does not apply), each checked by a GX expectation:

    read_error      the line is not one JSON object (thinkact.contract's message)
    contract_error  the object breaks the episode contract (EpisodeSpec's schema; tools' parameters), field named
    kind_error      the kind disagrees with the gold calls (no_tool: none; single: one; chain, parallel: two or
                    more; clarify: held values)
    calls_error     a gold call names no offered tool, breaks its tool's JSON Schema, or fails when played on the
                    ToolEnvironment over the configured tool set (params.yaml `episodes.tools`: the simulated world
                    by default; a tool the set lacks, a tool that raises, hangs or returns non-JSON)
    facts_error     a fact is not a value of the gold results (the tool set's own results; a plain-text result:
                    the fact must occur in the text)
    held_error      a held value is stated in the opening message, or no gold call uses it
    shared_error    an evaluation episode opens with the same message as a train episode (case and spacing ignored)
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinkact.env.spec import EPISODES_DIR, EpisodeSpec, opening_key, shape_error
from thinkact.env.tool_env import ToolEnvironment
from thinkact.tools.base import ToolSet
from thinkact.tools.params import ToolsParams
from thinkact.tools.registry import open_tools
from thinkact.contract import SPLITS, TRAIN_SPLIT, json_object
from thinkact.world.slots import json_leaves, render_value
from thinkact.errors import DataError
from thinkact import tool_schemas as tool_checks
from thinkact.validation.rows import EMPTY_FILE, empty_file_row
from thinkact.validation.suite import Check, Table, expectation

ERROR_COLUMNS = ("read_error", "contract_error", "kind_error", "calls_error", "facts_error", "held_error",
                 "shared_error")
COLUMNS = ("where", "file_split", "id", "split", "kind", "opening", *ERROR_COLUMNS)
CALL_BOUNDS = {"no_tool": (0, 0), "single": (1, 1), "chain": (2, None), "parallel": (2, None), "clarify": (1, None)}


@dataclass
class Found:
    """The episode files of a data folder, ready for the suite."""

    table: Table
    counts: dict[str, int]  # episodes per split (file name), and total


def episode_files(path: str | Path) -> list[Path]:
    """The episode files of a data folder (<path>/episodes/*.jsonl); [] for a file or a folder without them."""
    folder = Path(path) / EPISODES_DIR
    return sorted(f for f in folder.glob("*.jsonl") if f.is_file()) if folder.is_dir() else []


def _message(problem: DataError) -> str:
    return f"{problem.field}: {problem.problem}" if problem.field else problem.problem


def _calls_error(infos: list, calls: list[dict[str, Any]]) -> str | None:
    for i, call in enumerate(calls):
        target = {"tool_calls": [call]}
        problem = tool_checks.unknown_tool_error(infos, target) or tool_checks.arguments_error(infos, target)
        if problem:
            return f"gold_calls.{i}: {problem}"
    return None


def _in_results(fact: str, results: list[Any]) -> bool:
    """A fact is a value of a result as the answer renders it (or part of a text value)."""
    for leaf in (x for r in results for x in json_leaves(r)):
        if fact in (render_value(leaf), json.dumps(leaf)) or (isinstance(leaf, str) and fact in leaf):
            return True
    return False


def _decoded(result: str) -> Any:
    """A result as JSON when it is JSON, else its text (a user's tool may answer in plain text)."""
    try:
        return json.loads(result)
    except ValueError:
        return result


def _played(spec: EpisodeSpec, tools: ToolSet | None = None) -> tuple[str | None, list[Any]]:
    """(error, decoded results) of the gold calls played on a ToolEnvironment over `tools` (None: the built-in
    world)."""
    env = ToolEnvironment(max_tool_calls=max(1, len(spec.gold_calls)), tools=tools)
    env.reset(episode=spec)
    results = [_decoded(env.call(c.name, c.arguments)) for c in spec.gold_calls]
    for i, record in enumerate(env.calls):
        if record.error:
            return f"gold_calls.{i}: the environment returns {record.error}: {json.loads(record.result)['error']}", []
    return None, results


def _held_error(spec: EpisodeSpec) -> str | None:
    said = spec.user.casefold()
    for key, value in spec.held.items():
        stated = [v for v in json_leaves(value) if isinstance(v, str) and v and v.casefold() in said]
        if stated:
            return f"held.{key}: the opening message already states {stated[0]!r}"
        if not any(key in c.arguments and c.arguments[key] == value for c in spec.gold_calls):
            return f"held.{key}: no gold call has {key} = {value!r}"
    return None


def _kind_error(kind: Any, calls: int, held: Any) -> str | None:
    if kind not in CALL_BOUNDS:
        return None  # no kind, or one the contract check reports
    low, high = CALL_BOUNDS[kind]
    if calls < low or (high is not None and calls > high):
        want = f"{low}" if low == high else f"at least {low}"
        return f"kind: a {kind} episode has {want} gold call(s), this one has {calls}"
    if (kind == "clarify") != bool(held):
        return "kind: a clarify episode needs held values" if kind == "clarify" else \
            f"kind: a {kind} episode holds no values back (held is for clarify)"
    return None


def _errors(obj: dict[str, Any], name: str, number: int, tools: ToolSet | None) -> dict[str, str | None]:
    """The error columns of one readable line."""
    problem = shape_error(obj, name, number)
    if problem is not None:
        return {"contract_error": _message(problem)}
    infos = tool_checks.tool_infos(obj["tools"])
    schema = tool_checks.schema_error(infos)
    if schema:
        return {"contract_error": f"tools: {schema}"}
    out = {"kind_error": _kind_error(obj.get("kind"), len(obj["gold_calls"]), obj.get("held")),
           "calls_error": _calls_error(infos, obj["gold_calls"])}
    if out["calls_error"]:
        return out
    spec = EpisodeSpec.from_dict(obj, name, number)
    out["calls_error"], results = _played(spec, tools)
    missing = [f for f in spec.facts if not _in_results(f, results)]
    if missing and out["calls_error"] is None:
        out["facts_error"] = f"facts.{spec.facts.index(missing[0])}: {missing[0]!r} is not a value of any gold result"
    out["held_error"] = _held_error(spec)
    return out


def _row(obj: dict[str, Any] | None, read_error: str | None, name: str, number: int,
         tools: ToolSet | None = None) -> dict[str, Any]:
    stem = Path(name).stem
    o = obj or {}
    row = dict.fromkeys(COLUMNS)
    row.update({"where": f"{name}:{number}", "file_split": stem if stem in SPLITS else None,
                "read_error": read_error, "id": o.get("id") if isinstance(o.get("id"), str) else None,
                "split": o.get("split") if isinstance(o.get("split"), str) else None,
                "kind": o.get("kind") if isinstance(o.get("kind"), str) else None,
                "opening": opening_key(o["user"]) if isinstance(o.get("user"), str) else None})
    if obj is not None:
        row.update(_errors(obj, name, number, tools))
    return row


def _shared(rows: list[dict[str, Any]]) -> None:
    """Fill `shared_error` for evaluation episodes whose opening message a train episode has too."""
    train = {}
    for r in rows:
        if r["file_split"] == TRAIN_SPLIT and r["opening"] is not None:
            train.setdefault(r["opening"], r["where"])
    for r in rows:
        if r["file_split"] not in (None, TRAIN_SPLIT) and r["opening"] in train:
            r["shared_error"] = f"user: same opening message as a train episode ({train[r['opening']]})"


def read_episode_rows(files: list[Path], tools: ToolSet | None = None) -> list[dict[str, Any]]:
    """One row per non-blank line of the episode files (where: `episodes/<file>:<line>`); gold calls are replayed
    on `tools` (None: the built-in world)."""
    rows = []
    for f in files:
        name = f"{EPISODES_DIR}/{f.name}"
        before = len(rows)
        with f.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if raw.strip():
                    try:
                        obj, problem = json_object(raw.rstrip(b"\r\n"), name, number), None
                    except DataError as e:
                        obj, problem = None, e.problem
                    rows.append(_row(obj, problem, name, number, tools))
        if len(rows) == before:
            rows.append(empty_file_row(_row(None, EMPTY_FILE, name, 0), name))
    _shared(rows)
    return rows


def episode_expectations() -> list[tuple[Check, Any]]:
    """(check, GX expectation) pairs over the episode rows, in the order the summary lists them."""
    import great_expectations.expectations as gxe  # only when the suite runs (GX takes about 4 s)

    def null(name: str, column: str, text: str) -> tuple[Check, Any]:
        return expectation(Check(name, text, column), gxe.ExpectColumnValuesToBeNull, column=column)

    return [
        null("episodes.readable", "read_error", 
             "every episode line is one JSON object, UTF-8, within the line size limit"),
        null("episodes.contract", "contract_error", "every episode matches the episode contract (EpisodeSpec)"),
        expectation(Check("episodes.split_matches_file", "an episode's split matches its file name",
                          reason="split {split!r} is in file episodes/{file_split}.jsonl"),
                    gxe.ExpectColumnPairValuesToBeEqual, column_A="split", column_B="file_split",
                    ignore_row_if="either_value_is_missing"),
        expectation(Check("episodes.ids_unique", "episode ids are unique across all episode files",
                          reason="id {value!r} is used more than once"), gxe.ExpectColumnValuesToBeUnique, column="id"),
        null("episodes.kind_matches_calls", "kind_error",
             "an episode's kind agrees with its gold calls and held values"),
        null("episodes.gold_calls_valid", "calls_error",
             "every gold call names an offered tool, validates against its JSON Schema and runs in the environment"),
        null("episodes.facts_in_results", "facts_error", "every fact is a value of the gold calls' results"),
        null("episodes.held_values", "held_error",
             "held values are not in the opening message and are arguments of a gold call"),
        null("episodes.no_shared_opening", "shared_error", "no evaluation episode opens like a train episode"),
    ]


def frame(rows: list[dict[str, Any]]):
    """The episode rows as a pandas DataFrame (every column plain objects, None for missing)."""
    import pandas as pd  # with the suite only, like GX

    df = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
    for col in COLUMNS:
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df


def episode_table(path: str | Path, tools: ToolsParams | None = None) -> Found | None:
    """The episode checks of a data folder, or None when it has no episode files. `tools`: the tool set the gold
    calls are replayed on (params.yaml `episodes.tools`; None: the built-in world), opened only when there are
    episode files (a module that cannot be opened is one ConfigError naming the key)."""
    files = episode_files(path)
    if not files:
        return None
    rows = read_episode_rows(files, open_tools(tools))
    counts = Counter(Path(r["where"].rsplit(":", 1)[0]).stem for r in rows if r["read_error"] != EMPTY_FILE)
    ordered = sorted(counts.items(), key=lambda kv: (SPLITS.index(kv[0]) if kv[0] in SPLITS else len(SPLITS), kv[0]))
    table = Table("episodes", "thinkact_episodes", frame(rows), episode_expectations())
    return Found(table, {"total": len(rows), **dict(ordered)})
