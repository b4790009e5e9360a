"""The house rules the code keeps (docs/design.md): arrows point down (flows -> tasks -> thinkact), no import circles
inside thinkact, mlflow only in thinkact.tracking, and every stage module answers --help without side effects."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from thinkact.project import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "thinkact"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """Modules of `known` that `path` imports anywhere in its body (module level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import sub` imports the submodule pkg.sub when there is one
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                     for a in node.names]
        else:
            continue
        found.update(n for n in names if n in known)
    return found


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    files = {_module_name(p): p for p in root.rglob("*.py")}
    known = set(files)
    return {name: _imports(path, known) - {name} for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_circles_inside_thinkact():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def _imported_roots(folder: Path) -> dict[str, set[str]]:
    out = {}
    for path in folder.rglob("*.py"):
        roots = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                roots.add(node.module.split(".")[0])
        out[str(path.relative_to(PROJECT_ROOT))] = roots
    return out


def test_arrows_point_down():
    upward = {f: r & {"tasks", "flows"} for f, r in _imported_roots(PACKAGE).items() if r & {"tasks", "flows"}}
    upward.update({f: r & {"flows"} for f, r in _imported_roots(PROJECT_ROOT / "tasks").items() if "flows" in r})
    assert not upward, f"modules importing a layer above them: {upward}"


def test_mlflow_is_imported_only_by_thinkact_tracking():
    users = sorted(f for f, r in _imported_roots(PACKAGE).items()
                   if "mlflow" in r and not f.startswith("thinkact/tracking/"))
    assert not users, f"mlflow imported outside thinkact/tracking: {users}"


@pytest.mark.parametrize("stage", ["check", "validate", "sft", "grpo", "evaluate", "register"])
def test_stage_help_has_no_side_effects(tmp_path, stage):
    """`python -m tasks.<stage> --help` prints the stage's docstring and exits 0, touching nothing: run in an empty
    folder with a params file that names outputs there, nothing is written and no MLflow run is opened."""
    params = tmp_path / "params.yaml"
    params.write_text(f"paths: {{data: {tmp_path}/data, outputs: {tmp_path}/outputs}}\n", encoding="utf-8")
    env = {**os.environ, "THINKACT_PARAMS": str(params), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    before = sorted(tmp_path.rglob("*"))
    done = subprocess.run([sys.executable, "-m", f"tasks.{stage}", "--help"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"Stage `{stage}`" in done.stdout and "usage: python -m tasks." in done.stdout
    assert sorted(tmp_path.rglob("*")) == before



def room_of(module: str) -> str:
    """The room a module stands in, as docs/design.md draws the house: a subpackage of thinkact is one room
    (thinkact.training), a top-level module of thinkact is one (thinkact.config)."""
    parts = module.split(".")
    return ".".join(parts[:2])


def room_graph() -> dict[str, set[str]]:
    """Which room imports which (any import: module level, inside a function, or under TYPE_CHECKING)."""
    rooms: dict[str, set[str]] = {}
    for module, imported in import_graph().items():
        rooms.setdefault(room_of(module), set()).update(room_of(m) for m in imported)
    return {room: targets - {room} for room, targets in rooms.items()}


def test_no_import_points_up():
    """Every room stands above all it imports: a loop between rooms (config imports training's section while
    training imports config) is an arrow that runs back up, even when no two modules form a circle."""
    cycle = find_cycle(room_graph())
    assert cycle is None, "rooms importing each other (an arrow runs back up): " + " -> ".join(cycle)


def _choice_lists(path: Path) -> list[tuple[frozenset[str], int]]:
    """Literal tuples/lists of 3+ distinct strings written in a module (the shape of an allowed-values list)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Tuple, ast.List)) and len(node.elts) >= 3 and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            values = frozenset(e.value for e in node.elts)
            if len(values) == len(node.elts) and all(v.isidentifier() for v in values):
                found.append((values, node.lineno))
    return found


def test_no_choice_list_is_written_twice():
    """An allowed-values list (reward modes, loss types, splits, kinds ...) has one owner that others import: the
    same literal set of names in two modules is a rule written twice, which drifts."""
    seen: dict[frozenset[str], str] = {}
    twice = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = str(path.relative_to(PROJECT_ROOT))
        for values, line in _choice_lists(path):
            if values in seen and not seen[values].startswith(where + ":"):
                twice.append(f"{sorted(values)} in {seen[values]} and {where}:{line}")
            seen.setdefault(values, f"{where}:{line}")
    assert not twice, "choice lists written in two modules:\n" + "\n".join(twice)


def test_the_choice_list_finder_finds_a_repeat(tmp_path):
    (tmp_path / "a.py").write_text('MODES = ("turns", "episodes", "mixed")\n')
    (tmp_path / "b.py").write_text('def f(x):\n    return x in ["episodes", "mixed", "turns"]\n')
    assert _choice_lists(tmp_path / "a.py")[0][0] == _choice_lists(tmp_path / "b.py")[0][0]


MAX_MODULE_LINES = 400  # the house's budgets (docs/design.md)
MAX_FUNCTION_LINES = 60


def test_modules_and_functions_keep_their_budgets():
    too_long = []
    code = [p for folder in ("thinkact", "tasks", "flows", "scripts") for p in (PROJECT_ROOT / folder).rglob("*.py")]
    for path in sorted(code):
        text = path.read_text(encoding="utf-8")
        where = str(path.relative_to(PROJECT_ROOT))
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{where}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{where}:{node.lineno} {node.name}(): {length} lines")
    assert not too_long, "over budget:\n" + "\n".join(too_long)


def test_dvc_code_deps_follow_the_import_graph():
    """dvc.yaml's code deps are derived (scripts/dvc_deps.py); this fails when they and the imports differ."""
    done = subprocess.run([sys.executable, "scripts/dvc_deps.py", "--check"], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
