"""Import the Berkeley Function Calling Leaderboard (single-turn categories) into the data contract.

The JSONL files are read from the installed `bfcl-eval` package (installed with --no-deps; none of its
modules is imported). Each BFCL record becomes one Example: `tools` = its functions with BFCL's types
translated to JSON Schema, `messages` = its first (only) turn, `target` = for every argument that may not be
left out, the first accepted value valid under the schema, and `ToolCall.accepted` keeps every value BFCL
accepts ("" alternatives become "optional"; dict answers with per-key alternatives are expanded). Irrelevance categories
have no answer: the target is a "no tool applies" text and turn_type "no_tool".

    thinkact data import --format bfcl --category simple_python --out bfcl_simple.jsonl
    from thinkact.importers.bfcl import bfcl_categories, import_bfcl

Evaluated (the evaluate stage's `evaluate.bfcl`, `thinkact evaluate --bfcl`), a category is the split
`bfcl_<category>` (thinkact.evaluation.runner.bfcl_split).
"""
from __future__ import annotations

import importlib.util
import itertools
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from thinkact.contract import Example, iter_json_lines
from thinkact.errors import ConfigError, DataError, ThinkactError

NO_TOOL_CONTENT = "None of the available tools can help with this request, so I will not call any of them."
ALIASES = {"simple": "simple_python"}  # BFCL v1-v3 name of simple_python
# Single-turn Python categories. Left out: simple_java / simple_javascript (arguments are Java/JS source
# strings that BFCL's converters parse: not JSON values), live_relevance (any call is right: no answer),
# and the multi_turn, memory, web_search and format_sensitivity categories (not single-turn).
_SUPPORTED = re.compile(r"(live_)?(simple(_python)?|multiple|parallel|parallel_multiple|irrelevance)")
_FILE = re.compile(r"BFCL_v(\d+)_(\w+)\.json")
# BFCL type -> JSON Schema type (the names of BFCL's GORILLA_TO_OPENAPI); None = any value (no type).
_TYPES: dict[str, str | None] = {
    "dict": "object", "object": "object", "HashMap": "object", "Hashtable": "object",
    "float": "number", "double": "number", "number": "number",
    "integer": "integer", "int": "integer", "long": "integer", "short": "integer", "byte": "integer",
    "Bigint": "integer",
    "boolean": "boolean", "bool": "boolean", "Boolean": "boolean",
    "string": "string", "String": "string", "char": "string",
    "array": "array", "tuple": "array", "list": "array", "Array": "array", "ArrayList": "array",
    "Queue": "array", "Stack": "array",
    "any": None, "Any": None, "": None,
}
_DICT_TYPES = {"dict", "object", "HashMap", "Hashtable"}
_LIST_TYPES = {"array", "tuple", "list", "Array", "ArrayList", "Queue", "Stack"}
_OMIT = object()  # an optional key left out of an expanded dict alternative
MAX_EXPANSION = 10_000  # alternatives of one dict-valued argument, after expanding its keys
_LINE_HINT = "each line of a BFCL data file is one JSON object"
_SHAPE_HINT = "not the shape of a BFCL single-turn record; is the bfcl-eval package intact?"


def data_dir() -> Path:
    """The `data/` folder of the installed bfcl-eval package, found without importing it."""
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise ThinkactError("bfcl-eval is not installed: run `bash scripts/setup-env.sh` "
                            "(it installs bfcl-eval with --no-deps)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@cache
def _files() -> dict[str, Path]:
    """category -> question file of the newest BFCL version the package ships."""
    found: dict[str, tuple[int, Path]] = {}
    for path in data_dir().glob("BFCL_v*_*.json"):
        m = _FILE.fullmatch(path.name)
        if m and _SUPPORTED.fullmatch(m.group(2)) and int(m.group(1)) >= found.get(m.group(2), (-1,))[0]:
            found[m.group(2)] = (int(m.group(1)), path)
    return {cat: p for cat, (_, p) in sorted(found.items())}


def bfcl_categories() -> list[str]:
    """The single-turn categories the installed bfcl-eval ships, e.g. simple_python, live_parallel."""
    return list(_files())


def canonical_category(category: str) -> str | None:
    """The name of a supported category as bfcl_categories() lists it ('simple' -> 'simple_python'); None when
    the installed bfcl-eval has no such single-turn category. Lists the data folder only; imports nothing."""
    files = _files()
    category = category if category in files else ALIASES.get(category, category)
    return category if category in files else None


def check_categories(categories: tuple[str, ...], key: str) -> None:
    """params' BFCL categories (`evaluate.bfcl.categories`): each a single-turn category the installed bfcl-eval
    ships (or its alias: simple), each once; ConfigError names the key. Nothing is looked up for an empty list."""
    if not categories:
        return
    try:
        known = bfcl_categories()
    except ThinkactError as e:  # bfcl-eval not installed
        raise ConfigError(key, str(e)) from None
    seen: dict[str, int] = {}
    for i, name in enumerate(categories):
        category = canonical_category(name)
        if category is None:
            raise ConfigError(f"{key}[{i}]", f"unknown BFCL category {name!r}; known: {', '.join(known)}")
        if category in seen:
            raise ConfigError(f"{key}[{i}]", f"{name!r} is {categories[seen[category]]!r} ({key}[{seen[category]}]) "
                                             "again: both would be the split bfcl_" + category)
        seen[category] = i


def bfcl_file(category: str) -> Path:
    """The question file a category is read from (in the installed bfcl-eval); a bad name raises as import_bfcl."""
    return _resolve(category)[1]


def _read(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) of every line of a BFCL JSONL file; a line that is not one strict JSON object (NaN,
    Infinity, deep nesting, lone surrogates included) raises DataError naming the file and line."""
    return list(iter_json_lines(path, missing_hint="reinstall bfcl-eval", hint=_LINE_HINT))


def record_error(record: dict[str, Any]) -> tuple[str, str] | None:
    """(field, problem) when a BFCL question record is not of the shape the importer reads, else None."""
    if not isinstance(record.get("id"), str) or not record["id"]:
        return "id", "must be a non-empty string"
    question = record.get("question")
    if not (isinstance(question, list) and question and isinstance(question[0], list) and question[0]):
        return "question", 'must be [[{"role": "user", "content": ...}, ...]]: one non-empty list of messages'
    for i, message in enumerate(question[0]):
        if not isinstance(message, dict):
            return f"question.0.{i}", "each message must be an object"
    functions = record.get("function")
    if not isinstance(functions, list):
        return "function", "must be a list of function documents"
    for i, function in enumerate(functions):
        where = f"function.{i}"
        if not isinstance(function, dict):
            return where, "each function document must be an object"
        if not isinstance(function.get("name"), str) or not function["name"]:
            return f"{where}.name", "must be a non-empty string"
        parameters = function.get("parameters")
        if not isinstance(parameters, dict):
            return f"{where}.parameters", "must be an object (a BFCL parameter schema)"
        properties = parameters.get("properties", {})
        if not isinstance(properties, dict):
            return f"{where}.parameters.properties", "must be an object"
        for name, schema in properties.items():
            if not isinstance(schema, dict):
                return f"{where}.parameters.properties.{name}", "must be an object (a BFCL parameter schema)"
        required = parameters.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            return f"{where}.parameters.required", "must be a list of parameter names"
    return None


def answer_error(answer: dict[str, Any]) -> tuple[str, str] | None:
    """(field, problem) when a BFCL possible-answer record is not of the shape the importer reads, else None."""
    if not isinstance(answer.get("id"), str) or not answer["id"]:
        return "id", "must be a non-empty string"
    calls = answer.get("ground_truth")
    if not isinstance(calls, list):
        return "ground_truth", "must be a list of calls"
    for i, call in enumerate(calls):
        if not isinstance(call, dict) or len(call) != 1:
            return f"ground_truth.{i}", 'must be one {"function name": {"argument": [accepted values]}} object'
        (name, args), = call.items()
        if not isinstance(args, dict):
            return f"ground_truth.{i}.{name}", "must map each argument to its list of accepted values"
        for arg, values in args.items():
            if not isinstance(values, list):
                return f"ground_truth.{i}.{name}.{arg}", "must be a list of accepted values"
    return None


def _checked(path: Path, check) -> list[tuple[int, dict[str, Any]]]:
    """_read(path), each record passed through `check` (record_error or answer_error): DataError naming the line
    and the field of the first one of the wrong shape."""
    records = _read(path)
    for number, record in records:
        problem = check(record)
        if problem is not None:
            raise DataError(str(path), number, problem[0], problem[1], _SHAPE_HINT)
    return records


def _resolve(category: str) -> tuple[str, Path]:
    """(canonical category name, its question file); a bad name raises with the list of valid ones."""
    files = _files()
    found = canonical_category(category)
    if found is None:
        category = ALIASES.get(category, category)
        shipped = any((m := _FILE.fullmatch(p.name)) and m.group(2) == category for p in data_dir().iterdir())
        what = "not a single-turn Python category this importer supports" if shipped else "unknown"
        raise ThinkactError(f"BFCL category {category!r} is {what}; valid: {', '.join(files) or '(none found)'}")
    return found, files[found]


def _answer_path(path: Path) -> Path:
    return path.parent / "possible_answer" / path.name


def bfcl_raw(category: str) -> dict[str, dict[str, Any]]:
    """id -> {"function": BFCL's own function docs, "ground_truth": its possible answer (None for
    irrelevance)}: what BFCL's AST checker takes (it needs BFCL's types, not the translated schemas)."""
    _, path = _resolve(category)
    answer_path = _answer_path(path)
    answers = ({a["id"]: a["ground_truth"] for _, a in _checked(answer_path, answer_error)}
               if answer_path.is_file() else {})
    return {r["id"]: {"function": r["function"], "ground_truth": answers.get(r["id"])}
            for _, r in _checked(path, record_error)}


def to_json_schema(schema: Any, where: str = "parameters") -> Any:
    """Translate a BFCL parameter schema to JSON Schema (dict->object, float->number, tuple->array,
    any->no type), recursively through properties, items and additionalProperties."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if "type" in schema:
        bfcl_type = schema["type"]
        if bfcl_type not in _TYPES:
            raise ValueError(f"{where}: unknown BFCL type {bfcl_type!r}")
        if _TYPES[bfcl_type] is None:
            del out["type"]
        else:
            out["type"] = _TYPES[bfcl_type]
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {k: to_json_schema(v, f"{where}.{k}") for k, v in schema["properties"].items()}
    if isinstance(schema.get("items"), dict):
        out["items"] = to_json_schema(schema["items"], f"{where}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = to_json_schema(schema["additionalProperties"], f"{where}{{}}")
    return out


def _tool(function: dict[str, Any]) -> dict[str, Any]:
    out = {"name": function["name"]}
    if "description" in function:
        out["description"] = function["description"]
    out["parameters"] = to_json_schema(function["parameters"], function["name"])
    return {"type": "function", "function": out}


def _expand_dict(alternative: dict[str, Any]) -> list[dict[str, Any]]:
    """A BFCL dict answer maps each key to its accepted values ("" = may be left out): list every dict
    it accepts, the canonical one (first value of each key, optional keys left out) first."""
    choices = []
    for values in alternative.values():
        values = values if isinstance(values, list) else [values]
        kept = [v for v in values if v != ""]
        choices.append([_OMIT, *kept] if len(kept) < len(values) else kept)
    size = math.prod(len(c) for c in choices)
    if size > MAX_EXPANSION:
        raise ValueError(f"a dict answer with {size:,} alternatives, over the {MAX_EXPANSION:,} limit")
    keys = list(alternative)
    return [{k: v for k, v in zip(keys, combo) if v is not _OMIT} for combo in itertools.product(*choices)]


def _concrete(values: list[Any], bfcl_schema: dict[str, Any]) -> list[Any]:
    """Concrete accepted values of one argument (dict answers expanded, as BFCL's dict checkers read them)."""
    kind = bfcl_schema.get("type")
    items = bfcl_schema.get("items")
    item_kind = items.get("type") if isinstance(items, dict) else None
    out: list[Any] = []
    for value in values:
        if kind in _DICT_TYPES and isinstance(value, dict):
            out.extend(_expand_dict(value))
        elif kind in _LIST_TYPES and item_kind in _DICT_TYPES and isinstance(value, list) \
                and all(isinstance(v, dict) for v in value):
            per_item = [_expand_dict(v) for v in value]
            if math.prod(map(len, per_item)) > MAX_EXPANSION:
                raise ValueError(f"a list-of-dicts answer with over {MAX_EXPANSION:,} alternatives")
            out.extend(list(combo) for combo in itertools.product(*per_item))
        else:
            out.append(value)
    return out


def _call(answer: dict[str, Any], functions: dict[str, dict[str, Any]], tools: dict[str, dict[str, Any]]
          ) -> dict[str, Any]:
    """One ground-truth call -> {name, arguments, accepted}. An argument may be left out when BFCL accepts
    "" for it and the schema does not require it (BFCL's checker rejects a missing required argument).
    The canonical value is the first accepted value that is valid under the translated schema."""
    if not isinstance(answer, dict) or len(answer) != 1:
        raise ValueError(f"a ground-truth call must be one {{name: arguments}} object, got {answer!r:.80}")
    (name, args), = answer.items()
    bfcl_props = functions.get(name, {}).get("parameters", {}).get("properties", {})
    schema = tools.get(name, {}).get("parameters", {})
    required = set(schema.get("required", []))
    arguments, accepted = {}, {}
    for arg, values in args.items():
        kept = _concrete([v for v in values if v != ""], bfcl_props.get(arg, {}))
        optional = "" in values and arg not in required
        accepted[arg] = {"values": kept, "optional": optional}
        if not optional and kept:
            check = Draft202012Validator(schema.get("properties", {}).get(arg, {})).is_valid
            arguments[arg] = next((v for v in kept if check(v)), kept[0])
    return {"name": name, "arguments": arguments, "accepted": accepted}


def _example(record: dict[str, Any], answer: dict[str, Any] | None, category: str, split: str,
             file: str) -> Example:
    functions = {f["name"]: f for f in record["function"]}
    tools = [_tool(f) for f in record["function"]]
    d: dict[str, Any] = {
        "id": record["id"], "domain": f"bfcl_{category}", "split": split,
        "tools": tools,
        "messages": record["question"][0],
        "source": {"format": "bfcl", "category": category, "id": record["id"], "file": file},
    }
    if answer is None:
        d["target"], d["turn_type"] = {"content": NO_TOOL_CONTENT}, "no_tool"
    else:
        by_name = {t["function"]["name"]: t["function"] for t in tools}
        calls = [_call(a, functions, by_name) for a in answer["ground_truth"]]
        d["target"], d["turn_type"] = {"tool_calls": calls}, "parallel" if len(calls) > 1 else "call"
    return Example.from_dict(d)


def import_bfcl(category: str, split: str = "test_task") -> list[Example]:
    """All examples of one BFCL category, in file order; `split` is written into each example."""
    category, path = _resolve(category)
    records = _checked(path, record_error)
    answers: dict[str, dict[str, Any]] = {}
    answer_path = _answer_path(path)
    if "irrelevance" not in category:
        if not answer_path.is_file():
            raise DataError(str(answer_path), None, None, "possible-answer file missing from bfcl-eval",
                            "reinstall bfcl-eval")
        answers = {a["id"]: a for _, a in _checked(answer_path, answer_error)}
    examples = []
    for number, record in records:
        rid = record["id"]
        if "irrelevance" not in category and rid not in answers:
            raise DataError(str(answer_path), None, "id", f"no possible answer for {rid!r}")
        try:
            examples.append(_example(record, answers.get(rid), category, split, path.name))
        except DataError as e:
            raise DataError(str(path), number, e.field, f"{rid}: {e.problem}") from None
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            raise DataError(str(path), number, None, f"{rid}: cannot import ({type(e).__name__}: {e})") from None
    return examples
