"""Read contract JSONL into one table row per line, with derived per-row columns the GX suite checks.

A line that cannot be read (over the size limit, not UTF-8, not JSON, not an object) does not stop the
run: it becomes a row whose `read_error` holds thinkact.contract's DataError message, so the summary lists
every bad line at once. Each other check has an error column (None = passes or does not apply):

    where            file:line, unique; with `id` it names a row in reports and data docs
    read_error       the line is not a JSON object (contract.json_object's message); an empty or blank-only file
                     is one such row (`where`: the file name), so it fails instead of passing with 0 rows
    contract_error   the object breaks contract.EXAMPLE_SCHEMA (field and problem)
    roles_error      messages in an impossible order (e.g. a tool result nobody asked for)
    schema_error     a tool's `parameters` is not a valid JSON Schema
    unknown_tool     a target call names a tool not offered in the example
    args_error       a target call's arguments break the tool's JSON Schema
    leak_error       an evaluation example shares its id or its prompt with a train example

Summaries of the required fields (`tools` and `messages` as counts, `target` as its kind) let the suite
check presence and the one-of rule with plain column expectations; `turn_<type>` columns (0/1) let it
bound the share of each turn type per split.
"""
from __future__ import annotations

import copy
import hashlib
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from thinkact.contract import EXAMPLE_SCHEMA, SPLITS, TRAIN_SPLIT, TURN_TYPES, Example, json_object
from thinkact.errors import DataError
from thinkact import tool_schemas as tool_checks

OVERLAP_BYTES = 4_000_000  # read in a worker process from this much data on (about 2,000 examples)
ERROR_COLUMNS = ("read_error", "contract_error", "roles_error", "schema_error", "unknown_tool", "args_error",
                 "leak_error")


def data_files(path: str | Path) -> list[Path]:
    """The JSONL files to validate: `path` itself, or every *.jsonl in the folder `path`."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.glob("*.jsonl") if f.is_file())
        if not files:
            raise DataError(str(p), None, None, "no .jsonl files in this folder",
                            "generate data with `thinkact data generate` or point at a JSONL file")
        return files
    raise DataError(str(p), None, None, "not found", "give a JSONL file or a folder of <split>.jsonl files")


EMPTY_FILE = "no examples: the file is empty or holds only blank lines"


def empty_file_row(row: dict[str, Any], name: str) -> dict[str, Any]:
    """The row that stands for an empty or blank-only file (its `where` is the file name): unreadable, so the
    readable check fails naming the file, instead of 0 rows passing every row check."""
    return {**row, "where": name}


def _read_line(raw: bytes, name: str, number: int) -> tuple[dict[str, Any] | None, str | None]:
    """(object, None), or (None, the DataError message) for a line that is not one JSON object (contract.json_object:
    also NaN / Infinity, nesting deeper than contract.MAX_DEPTH and lone surrogates)."""
    try:
        return json_object(raw, name, number), None
    except DataError as e:
        return None, e.problem


def _shallow_contract() -> Draft202012Validator:
    """EXAMPLE_SCHEMA without the `tools` items schema: tools are checked one by one, cached (tools.py)."""
    schema = copy.deepcopy(EXAMPLE_SCHEMA)
    del schema["properties"]["tools"]["items"]
    return Draft202012Validator(schema)


_SHALLOW_CONTRACT = _shallow_contract()


def _contract_error(obj: dict[str, Any], infos: list, name: str, number: int) -> str | None:
    """The contract's own message (Example.from_dict) for an object that breaks EXAMPLE_SCHEMA.

    The fast path checks the same schema split in two (items apply to each tool independently), and only
    a failing object pays for the full check with its best-match message."""
    if _SHALLOW_CONTRACT.is_valid(obj) and all(info.contract_ok for _, info in infos):
        return None
    try:
        Example.from_dict(obj, name, number)
    except DataError as e:
        return f"{e.field}: {e.problem}" if e.field else e.problem
    return None  # pragma: no cover - the two checks agree


def _roles_error(messages: Any) -> str | None:
    """System first if at all, then a user turn; a tool message answers a pending assistant call; the
    conversation ends where the assistant speaks next (after a user or tool message)."""
    if not isinstance(messages, list) or not messages:
        return None  # the contract check reports it
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    pending: list[dict[str, Any]] = []  # calls of the last assistant message not yet answered
    first = 1 if roles[0] == "system" else 0
    if first < len(roles) and roles[first] != "user":
        return f"message {first}: the conversation must open with a user message, not {roles[first]!r}"
    for i, (role, msg) in enumerate(zip(roles, messages)):
        if role == "system" and i > 0:
            return f"message {i}: a system message is allowed only first"
        if role == "assistant":
            calls = msg.get("tool_calls") or []
            pending = [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
        elif role == "tool":
            if not pending:
                return f"message {i}: tool message answers no earlier assistant tool call"
            call_id = msg.get("tool_call_id")
            ids = [c.get("id") for c in pending if c.get("id")]
            if call_id and ids:
                if call_id not in ids:
                    return f"message {i}: tool_call_id {call_id!r} matches no pending call ({', '.join(map(str, ids))})"
                pending = [c for c in pending if c.get("id") != call_id]
            else:
                pending = pending[1:]
        elif role == "user":
            pending = []
    if roles[-1] not in ("user", "tool"):
        return f"the last message is {roles[-1]!r}; it must be user or tool (the assistant speaks next)"
    return None


def _target_kind(target: Any) -> str | None:
    if not isinstance(target, dict):
        return None
    has_calls, has_content = "tool_calls" in target, "content" in target
    return {(True, False): "tool_calls", (False, True): "content", (True, True): "both"}.get(
        (has_calls, has_content), "neither")


def _count(value: Any) -> int | None:
    return len(value) if isinstance(value, list) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _prompt_key(infos: list, messages: Any) -> str | None:
    """A digest of the model input: the tools offered (in order) and the conversation."""
    if not isinstance(messages, list):
        return None
    text = b"\n".join([*(key for key, _ in infos), tool_checks.canonical(messages)])
    return hashlib.blake2b(text, digest_size=12).hexdigest()


def _row(obj: dict[str, Any] | None, read_error: str | None, name: str, number: int) -> dict[str, Any]:
    stem = Path(name).stem
    row: dict[str, Any] = {"where": f"{name}:{number}", "file_split": stem if stem in SPLITS else None,
                           "readable": obj is not None, "read_error": read_error}
    o = obj or {}
    target = o.get("target")
    infos = tool_checks.tool_infos(o.get("tools"))
    content = target.get("content") if isinstance(target, dict) else None
    calls = target.get("tool_calls") if isinstance(target, dict) else None
    row.update({
        "id": _str(o.get("id")), "domain": _str(o.get("domain")), "split": _str(o.get("split")),
        "turn_type": _str(o.get("turn_type")),
        "tools": _count(o.get("tools")), "messages": _count(o.get("messages")), "target": _target_kind(target),
        "answer_chars": len(content.strip()) if isinstance(content, str) else None,
        "calls": len(calls) if isinstance(calls, list) else None,
        "contract_error": _contract_error(obj, infos, name, number) if obj is not None else None,
        "roles_error": _roles_error(o.get("messages")),
        "schema_error": tool_checks.schema_error(infos),
        "unknown_tool": tool_checks.unknown_tool_error(infos, target),
        "args_error": tool_checks.arguments_error(infos, target),
        "prompt": _prompt_key(infos, o.get("messages")),
    })
    for turn in TURN_TYPES:
        row[f"turn_{turn}"] = (1.0 if row["turn_type"] == turn else 0.0) if obj is not None else None
    return row


def _leaks(rows: list[dict[str, Any]]) -> None:
    """Fill `leak_error` for evaluation rows that share an id or a prompt (the messages) with train."""
    train_ids: dict[str, str] = {}
    train_prompts: dict[str, str] = {}
    for r in rows:
        if r["split"] == TRAIN_SPLIT:
            if r["id"] is not None:
                train_ids.setdefault(r["id"], r["where"])
            if r["prompt"] is not None:
                train_prompts.setdefault(r["prompt"], r["where"])
    for r in rows:
        r["leak_error"] = None
        if r["split"] in (None, TRAIN_SPLIT):
            continue
        if r["id"] in train_ids:
            r["leak_error"] = f"id also used in train ({train_ids[r['id']]})"
        elif r["prompt"] in train_prompts:
            r["leak_error"] = f"same prompt (tools and messages) as a train example ({train_prompts[r['prompt']]})"


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """One row per non-blank line of every data file (see the module docstring for the columns)."""
    rows: list[dict[str, Any]] = []
    for f in data_files(path):
        before = len(rows)
        with f.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if raw.strip():
                    raw = raw.rstrip(b"\r\n")
                    obj, problem = _read_line(raw, f.name, number)
                    rows.append(_row(obj, problem, f.name, number))
        if len(rows) == before:
            rows.append(empty_file_row(_row(None, EMPTY_FILE, f.name, 0), f.name))
    _leaks(rows)
    return rows


def read_rows_overlapped(path: str | Path, then: Callable[[], Any]) -> list[dict[str, Any]]:
    """read_rows(path) in a worker process while this process runs `then` (importing GX, about 4 s).

    On two cores this hides the import behind the reading. The worker is `python -m
    thinkact.validation.rows PATH` (a plain subprocess, so the caller's __main__ is never re-run); it
    sends the rows back pickled. Small data (where a worker costs more than it saves), one-core machines
    and a worker that fails all read in this process instead."""
    files = data_files(path)
    if sum(f.stat().st_size for f in files) < OVERLAP_BYTES or (os.cpu_count() or 1) < 2:
        then()
        return read_rows(path)
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "thinkact.validation.rows", str(path)], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:
        then()
        return read_rows(path)
    try:
        then()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    out, _ = proc.communicate()
    if proc.returncode == 0:
        try:
            return pickle.loads(out)
        except Exception:  # noqa: BLE001 - a broken worker is not the user's problem: read here
            pass
    return read_rows(path)


def frame(rows: list[dict[str, Any]]):
    """The rows as a pandas DataFrame (default RangeIndex: GX reads a named index as index columns)."""
    import pandas as pd

    columns = list(rows[0]) if rows else ["where", "file_split", "readable", *ERROR_COLUMNS, "id", "domain",
                                          "split", "turn_type", "tools", "messages", "target", "answer_chars",
                                          "calls", "prompt", *(f"turn_{t}" for t in TURN_TYPES)]
    df = pd.DataFrame.from_records(rows, columns=columns)
    for col in ("tools", "messages", "answer_chars", "calls"):
        df[col] = df[col].astype("Int64")
    for col in (f"turn_{t}" for t in TURN_TYPES):
        df[col] = df[col].astype("Float64")
    df["readable"] = df["readable"].astype(bool)
    for col in ("where", "file_split", *ERROR_COLUMNS, "id", "domain", "split", "turn_type", "target", "prompt"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df


if __name__ == "__main__":  # the worker of read_rows_overlapped: pickled rows on stdout
    sys.stdout.buffer.write(pickle.dumps(read_rows(sys.argv[1]), protocol=pickle.HIGHEST_PROTOCOL))
