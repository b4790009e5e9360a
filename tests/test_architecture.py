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

