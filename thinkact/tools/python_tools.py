"""Your own tools as Python functions: a module of typed, documented functions is the tool set (`source: python`).

Declare the tools once, in a module. Each tool is a function with a type hint on every argument and a Google-style
docstring (a description, then an `Args:` line per argument); its OpenAI schema is derived exactly as
transformers' `get_json_schema` derives it (`(choices: [...])` at the end of an argument line becomes an `enum`):

    # tools/units.py
    def convert_length(value: float, unit: str) -> dict:
        '''Convert a length to metres.

        Args:
            value: The length to convert.
            unit: The unit it is in (choices: ["cm", "km", "mi"])
        '''
        return {"metres": value * {"cm": 0.01, "km": 1000.0, "mi": 1609.344}[unit]}

The tools are the module's `TOOLS` list when it defines one (`TOOLS = [convert_length]`), else every public
function defined in the module itself (not imported into it, name not starting with `_`), in source order. Or
write the schemas yourself: a JSON file of OpenAI tool schemas (a list, or `{"tools": [...]}`), each implemented
by the module's function of the same name (then no docstring or type hint is needed).

Configure it in params.yaml (paths relative to the project root; else to the current directory):

    episodes:
      tools: {source: python, module: tools/units.py, timeout_s: 10}            # schemas from the functions
      tools: {source: python, module: tools/units.py, schemas: tools/units.json}
      tools: {source: python, module: mypackage.tools}                          # an importable dotted name

How a call runs: the environment has checked the arguments against the schema; the function is called with them
as keyword arguments (a copy: the tool cannot change the recorded call) in a fresh daemon thread, waited on for
`timeout_s` seconds. The result text is a returned string as it is, anything else as JSON. Nothing a tool does
stops an episode — each failure is an error result `{"error": ..., "kind": ...}` the model sees, and the episode
goes on:

    raises                  kind tool_error:   tool 'f' failed: ValueError: <message>
    returns non-JSON        kind tool_error:   tool 'f' returned a value that is not JSON (set: ...)
    still running           kind unavailable:  tool 'f' did not answer within 10 s   (the thread is left behind)

Opening the tool set fails with one line naming the key (`episodes.tools.module` / `.schemas`), the path and the
function: a file or module not found, an import that raises, a function without a docstring, an argument without
a type hint or a description, a schema naming a function the module lacks, an invalid JSON Schema.

    from thinkact.tools.python_tools import PythonTools
    tools = PythonTools.from_params(params.episodes.tools)      # what open_tools does for source python
    tools = PythonTools.from_functions([convert_length], timeout_s=2.0)
    tools.run("convert_length", {"value": 3, "unit": "km"})     # '{"metres": 3000.0}'
"""
from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import inspect
import json
import re
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from thinkact.errors import ConfigError, ThinkactError
from thinkact.project import PROJECT_ROOT
from thinkact.tool_schemas import offered_function, openai_tools, schema_error, tool_infos
from thinkact.tools.base import ToolFailure, ToolSet, result_text
from thinkact.tools.params import ToolsParams

MODULE_KEY = "episodes.tools.module"
SCHEMAS_KEY = "episodes.tools.schemas"
_HOW = ("a type hint on every argument and a Google-style docstring: a description, then an Args: line per "
        "argument")


class _Refused(Exception):
    """A tool set that cannot be built; `key` names the params key (None: programmatic use)."""

    def __init__(self, key: str | None, message: str):
        super().__init__(message)
        self.key, self.message = key, message


def _error(e: _Refused) -> ThinkactError:
    return ConfigError(e.key, e.message) if e.key else ThinkactError(f"tools: {e.message}")


# -- finding the module and the file ---------------------------------------------------------------------------
def _is_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def resolve_path(path: str) -> Path:
    """A params path: absolute as it is; relative to the project root, else to the current directory when only
    there it exists (the project root when neither has it, for the error message)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    at_root = PROJECT_ROOT / p
    return at_root if at_root.exists() or not p.exists() else p.resolve()


def _file_module(path: Path) -> ModuleType:
    """Import a .py file under a stable name unique to its path (so two `tools.py` do not collide)."""
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode("utf-8")).hexdigest()[:10]
    stem = re.sub(r"\W", "_", resolved.stem)
    name = f"thinkact_user_tools_{stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise _Refused(MODULE_KEY, f"{path}: cannot be imported as a Python module (a .py file is needed)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses, pickling and typing look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException as e:  # noqa: BLE001 - whatever the user's module raises is one line naming it
        sys.modules.pop(name, None)
        if isinstance(e, KeyboardInterrupt):
            raise
        raise _Refused(MODULE_KEY, f"importing {path} failed: {type(e).__name__}: {e}") from None
    return module


def import_tools_module(spec: str) -> tuple[ModuleType, str]:
    """(module, how to name it in messages) of `episodes.tools.module`: a .py path or a dotted module name."""
    if _is_path(spec):
        path = resolve_path(spec)
        if not path.is_file():
            raise _Refused(MODULE_KEY, f"{spec}: no such file (looked in {PROJECT_ROOT} and the current directory); "
                                       "give the path of a .py file relative to the project root, or a dotted "
                                       "module name")
        return _file_module(path), spec
    try:
        return importlib.import_module(spec), spec
    except ModuleNotFoundError as e:
        if e.name and (spec == e.name or spec.startswith(e.name + ".")):
            raise _Refused(MODULE_KEY, f"no module named {spec!r}: give a .py file (relative to the project "
                                       "root) or a module importable from here") from None
        raise _Refused(MODULE_KEY, f"importing {spec} failed: ModuleNotFoundError: {e}") from None
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, KeyboardInterrupt):
            raise
        raise _Refused(MODULE_KEY, f"importing {spec} failed: {type(e).__name__}: {e}") from None


def module_functions(module: ModuleType, where: str) -> list[Callable[..., Any]]:
    """The module's tools: its TOOLS list, else its public functions defined there, in source order."""
    if hasattr(module, "TOOLS"):
        listed = module.TOOLS
        if not isinstance(listed, (list, tuple)):
            raise _Refused(MODULE_KEY, f"{where}: TOOLS must be a list of functions, not {type(listed).__name__}")
        for i, f in enumerate(listed):
            if not callable(f) or not isinstance(getattr(f, "__name__", None), str):
                raise _Refused(MODULE_KEY, f"{where}: TOOLS[{i}] is not a function ({f!r})")
        return list(listed)
    found: dict[int, Callable[..., Any]] = {}
    for name, f in vars(module).items():
        if inspect.isfunction(f) and f.__module__ == module.__name__ and not name.startswith("_"):
            found.setdefault(id(f), f)
    return sorted(found.values(), key=lambda f: f.__code__.co_firstlineno)


# -- schemas ---------------------------------------------------------------------------------------------------
_NO_HINT = re.compile(r"Argument (\w+) is missing a type hint")
_NO_ARG_DOC = re.compile(r"no description for the argument '(\w+)'")


def derived_schema(f: Callable[..., Any], key: str | None, where: str) -> dict[str, Any]:
    """The OpenAI schema of a typed, documented function, as transformers' get_json_schema derives it."""
    from transformers.utils.chat_template_utils import get_json_schema  # ~0.7 s; only when schemas are derived

    name = getattr(f, "__name__", repr(f))
    at = f"{where}: function {name!r}"
    try:
        schema = get_json_schema(f)
    except Exception as e:  # noqa: BLE001 - transformers' parsing exceptions, NameError from a type hint, ...
        text = str(e)
        if "has no docstring" in text:
            raise _Refused(key, f"{at} has no docstring; add one: {_HOW}") from None
        if m := _NO_HINT.search(text):
            raise _Refused(key, f"{at}: argument {m.group(1)!r} has no type hint; add one (str, int, float, bool, "
                                "list[...], dict, Literal[...])") from None
        if m := _NO_ARG_DOC.search(text):
            raise _Refused(key, f"{at}: the docstring does not describe argument {m.group(1)!r}; add "
                                f"'{m.group(1)}: ...' under Args:") from None
        raise _Refused(key, f"{at}: no schema can be derived ({type(e).__name__}: {text}); it needs {_HOW}") \
            from None
    if not isinstance(schema["function"].get("description"), str):
        raise _Refused(key, f"{at}: the docstring has no description before Args:; add one line saying what the "
                            "tool does")
    # what the model is offered: no "return" (get_json_schema adds it from a Returns: line)
    return {"type": "function", "function": offered_function(schema["function"])}


def read_schemas(path: str) -> list[dict[str, Any]]:
    """The OpenAI tool schemas of `episodes.tools.schemas`: a JSON list, or {"tools": [...]}."""
    file = resolve_path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _Refused(SCHEMAS_KEY, f"{path}: no such file (paths are relative to the project root)") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise _Refused(SCHEMAS_KEY, f"{path}: not valid JSON ({e}); expected a list of OpenAI tool schemas") \
            from None
    if isinstance(data, dict) and isinstance(data.get("tools"), list):
        data = data["tools"]
    if not isinstance(data, list):
        raise _Refused(SCHEMAS_KEY, f"{path}: expected a JSON list of OpenAI tool schemas, or {{\"tools\": [...]}}")
    try:
        return openai_tools(data)
    except ValueError as e:
        raise _Refused(SCHEMAS_KEY, f"{path}: item {e}") from None


def _checked(schemas: list[dict[str, Any]], key: str | None, where: str) -> None:
    infos = tool_infos(schemas)
    problem = schema_error(infos)
    if problem is None:
        problem = next((f"tool {info.name!r} does not have the shape of an OpenAI function schema "
                        '({"type": "function", "function": {"name", "description", "parameters"}})'
                        for _, info in infos if not info.contract_ok), None)
    if problem:
        raise _Refused(key, f"{where}: {problem}")


# -- the tool set ----------------------------------------------------------------------------------------------
class PythonTools(ToolSet):
    """Python functions as tools: a call runs the function of that name in a thread, at most `timeout_s` seconds."""

    kind = "python"

    def __init__(self, functions: dict[str, Callable[..., Any]], schemas: list[dict[str, Any]],
                 timeout_s: float = 10.0):
        self._functions, self._schemas, self.timeout_s = dict(functions), list(schemas), float(timeout_s)

    @classmethod
    def from_params(cls, params: ToolsParams) -> "PythonTools":
        """The tool set of `episodes.tools` with source python; ConfigError naming the key, path and function."""
        try:
            module, where = import_tools_module(params.module)
            functions = module_functions(module, where)
            if params.schemas:
                schemas = read_schemas(params.schemas)
                return cls._build(functions, schemas, params.timeout_s, SCHEMAS_KEY, params.schemas, module, where)
            return cls._build(functions, None, params.timeout_s, MODULE_KEY, where, module)
        except _Refused as e:
            raise _error(e) from None

    @classmethod
    def from_functions(cls, functions: Sequence[Callable[..., Any]], *, timeout_s: float = 10.0,
                       schemas: Sequence[dict[str, Any]] | None = None) -> "PythonTools":
        """A tool set of these functions (schemas derived from them, or the given OpenAI schemas, each naming one
        of the functions); a ThinkactError names the function and what to add."""
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
            raise ThinkactError(f"tools: timeout_s must be a number of seconds > 0, not {timeout_s!r}")
        try:
            given = None if schemas is None else openai_tools(list(schemas))
        except ValueError as e:
            raise ThinkactError(f"tools: schemas item {e}") from None
        try:
            return cls._build(list(functions), given, timeout_s, None, "functions", None)
        except _Refused as e:
            raise _error(e) from None

    @classmethod
    def _build(cls, functions: list[Callable[..., Any]], schemas: list[dict[str, Any]] | None, timeout_s: float,
               key: str | None, where: str, module: ModuleType | None, module_label: str = "") -> "PythonTools":
        if schemas is None:
            if not functions:
                raise _Refused(key, f"{where}: defines no tools; add a typed, documented public function "
                                    "(or a TOOLS list)")
            schemas = [derived_schema(f, key, where) for f in functions]
            by_name = {s["function"]["name"]: f for s, f in zip(schemas, functions)}
        else:
            named = {getattr(f, "__name__", None): f for f in functions}
            by_name = {}
            for s in schemas:
                name = s["function"]["name"]
                f = named.get(name)
                if f is None and module is not None:
                    f = getattr(module, name, None)  # any function of the module implements a schema of its name
                if not callable(f):
                    lacks = f"module {module_label}" if module is not None else "the functions given"
                    raise _Refused(key, f"{where}: tool {name!r} has no function of that name in {lacks}; "
                                        f"add def {name}(...) or remove the schema")
                by_name[name] = f
        _checked(list(schemas), key, where)
        return cls(by_name, schemas, timeout_s)

    def schemas(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._schemas)

    def names(self) -> list[str]:
        return [s["function"]["name"] for s in self._schemas]

    def run(self, name: str, arguments: dict[str, Any]) -> str:
        f = self._functions.get(name)
        if f is None:
            raise ToolFailure("tool_error", f"tool {name!r} is not available right now")
        kwargs = copy.deepcopy(arguments)
        box: dict[str, Any] = {}

        def call() -> None:
            try:
                box["value"] = f(**kwargs)
            except BaseException as e:  # noqa: BLE001 - SystemExit too: a tool never ends the episode
                box["error"] = e

        thread = threading.Thread(target=call, name=f"thinkact-tool-{name}", daemon=True)
        thread.start()
        thread.join(self.timeout_s)
        if thread.is_alive():
            raise ToolFailure("unavailable", f"tool {name!r} did not answer within {self.timeout_s:g} s")
        if "error" in box:
            e = box["error"]
            raise ToolFailure("tool_error", f"tool {name!r} failed: {type(e).__name__}: {e}")
        return result_text(box.get("value"), name)

