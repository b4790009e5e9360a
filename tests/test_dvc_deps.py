"""dvc.yaml's code deps are derived from the stage modules' imports (scripts/dvc_deps.py), never typed: the committed
lists equal what the generator derives, and a change to a module a stage imports (even inside a function) makes
`dvc status` report the stage changed."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "dvc_deps.py"
FIX = "run `python scripts/dvc_deps.py`, then `thinkact profile sync <name>` for each profile"


def _generator():
    spec = importlib.util.spec_from_file_location("dvc_deps", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dvc_deps = _generator()


@pytest.mark.parametrize("pipeline", ["dvc.yaml"] + [p.relative_to(ROOT).as_posix()
                                                    for p in dvc_deps.profile_pipelines(ROOT)])
def test_the_stage_deps_are_the_derived_ones(pipeline):
    problems = dvc_deps.drift(ROOT / pipeline, ROOT)
    assert not problems, "\n".join(problems + [FIX])


def test_the_generator_leaves_dvc_yaml_as_it_is():
    text = (ROOT / "dvc.yaml").read_text(encoding="utf-8")
    assert dvc_deps.rewrite(text, ROOT) == text, FIX


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_what_counts_as_an_import(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/used.py": "from . import sibling\n",               # relative: pkg.sibling
        "pkg/sibling.py": "",
        "pkg/typed.py": "",
        "pkg/unused.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/a.py": "from ..used import X\n",              # pkg.used, pkg/__init__.py
        "pkg/sub/data.json": "{}",                              # package data: goes with the package
        "other/__init__.py": "import pkg.sub.a\n",
        "tasks/__init__.py": "",
        "tasks/other_step.py": "",
        "tasks/step.py": """\
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from pkg import typed                           # never runs
            def run():
                from pkg import sub                             # the submodule pkg/sub/__init__.py
                from pkg.sub import a
                import json, os                                 # not the project's
            """,
    })
    deps, missing = dvc_deps.module_deps(tmp_path, "tasks.step")
    # pkg/sub is whole (both modules and its data file); pkg is not (typed, unused); other is never imported
    assert deps == ["pkg/__init__.py", "pkg/sibling.py", "pkg/sub", "pkg/used.py", "tasks/__init__.py",
                    "tasks/step.py"]
    assert missing == set()


def _run(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
    return proc


def _dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(cwd, sys.executable, "-m", "dvc", *args, check=check)


def _status(cwd: Path) -> dict:
    return json.loads(_dvc(cwd, "status", "--json").stdout or "{}")


def test_a_change_to_a_module_imported_inside_a_function_makes_dvc_rerun_the_stage(tmp_path):
    """A throwaway project: its stage imports lib.helper only inside run(); the generator writes the deps, DVC records
    the stage, and editing lib/helper.py shows up in `dvc status` (editing an unimported module does not)."""
    _write(tmp_path, {
        "lib/__init__.py": "",
        "lib/helper.py": "VALUE = 1\n",
        "lib/other.py": "VALUE = 2\n",
        "tasks/__init__.py": "",
        "tasks/other_step.py": "",                      # another stage: not this one's dependency
        "tasks/step.py": """\
            from pathlib import Path

            def run():
                from lib.helper import VALUE   # only inside the function
                Path("out.txt").write_text(f"{VALUE}\\n")

            if __name__ == "__main__":
                run()
            """,
        "input.txt": "data\n",
        "dvc.yaml": """\
            stages:
              step:
                cmd: python -m tasks.step
                deps:
                  - input.txt   # data, kept
                  - lib/other.py
                outs:
                  - out.txt
            """,
    })
    _run(tmp_path, sys.executable, str(SCRIPT), "--root", str(tmp_path))
    text = (tmp_path / "dvc.yaml").read_text()
    assert "- input.txt   # data, kept\n" in text
    deps = dvc_deps._load(text, "dvc.yaml")["stages"]["step"]["deps"]
    assert deps == ["input.txt", "lib/__init__.py", "lib/helper.py", "tasks/__init__.py", "tasks/step.py"]
    assert _run(tmp_path, sys.executable, str(SCRIPT), "--root", str(tmp_path), "--check").returncode == 0

    _dvc(tmp_path, "init", "--no-scm", "-q")
    with (tmp_path / ".dvcignore").open("a") as f:  # as the project's: bytecode is nobody's dependency
        f.write("__pycache__/\n*.pyc\n")
    _dvc(tmp_path, "repro", "-q")
    assert (tmp_path / "out.txt").read_text() == "1\n"
    assert _status(tmp_path) == {}

    (tmp_path / "lib" / "other.py").write_text("VALUE = 3\n")  # not imported: not a dependency
    assert _status(tmp_path) == {}

    (tmp_path / "lib" / "helper.py").write_text("VALUE = 2\n")
    status = _status(tmp_path)
    changed = [entry["changed deps"] for entry in status.get("step", []) if "changed deps" in entry]
    assert changed and changed[0].get("lib/helper.py") == "modified", status

    # a new import makes dvc.yaml stale: --check says which stage and path, and the rewrite adds it
    (tmp_path / "tasks" / "step.py").write_text((tmp_path / "tasks" / "step.py").read_text().replace(
        "    from lib.helper import VALUE", "    from lib import other\n    from lib.helper import VALUE"))
    proc = _run(tmp_path, sys.executable, str(SCRIPT), "--root", str(tmp_path), "--check", check=False)
    assert proc.returncode == 1
    assert "stage 'step': missing lib/other.py" in proc.stdout and "python scripts/dvc_deps.py" in proc.stdout
    _run(tmp_path, sys.executable, str(SCRIPT), "--root", str(tmp_path))
    assert dvc_deps._load((tmp_path / "dvc.yaml").read_text(), "dvc.yaml")["stages"]["step"]["deps"] == [
        "input.txt", "lib", "tasks/__init__.py", "tasks/step.py"]
