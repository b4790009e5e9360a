"""Derive each dvc.yaml stage's code dependencies from what its stage module imports, and write them into dvc.yaml.

A stage runs `python -m tasks.<stage>`; its code dependencies are the project's source files Python runs for it:
tasks/<stage>.py and every project module it imports, transitively. Imports are read with `ast`, anywhere in a
module (the stage modules import most code inside `run()`), except under `if TYPE_CHECKING:`; `from pkg import name`
is the submodule pkg/name.py when there is one; importing a submodule runs its packages' `__init__.py`, so they are
dependencies too; relative imports resolve against the importing module. Only files of the project's packages (the
top-level folders with an `__init__.py`: thinkact/, tasks/) count; the non-Python files of an imported package
(data it reads) come with it. The list is compact: a folder when every file in it is a dependency (e.g.
`thinkact/rewards`), else the files, sorted.

In dvc.yaml each stage's `deps:` keeps its other entries (`${paths.data}/...`, `${paths.outputs}/...`,
params.yaml) with their comments and order; the entries inside the project's packages are replaced by the derived
list, where the first of them stood. Nothing else in the file changes. profiles/<name>/dvc.yaml are written from
dvc.yaml by `thinkact profile sync <name>` (thinkact/profiles.py), so they follow.

    python scripts/dvc_deps.py            # rewrite dvc.yaml (only if a list changed)
    python scripts/dvc_deps.py --check    # exit 1 and print the differences when dvc.yaml or a profile's is stale

tests/test_dvc_deps.py fails when dvc.yaml or a profile's dvc.yaml differs from what this derives. The import-graph
reader is scripts/dvc_deps_imports.py, the dvc.yaml rewriter and drift check scripts/dvc_deps_pipeline.py.
"""
from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:  # the sibling modules, however this file is loaded (a script, a test)
    sys.path.insert(0, HERE)

from dvc_deps_imports import (DepsError, compact, imports_of, module_closure, module_deps,  # noqa: E402
                              module_index, package_roots)
from dvc_deps_pipeline import (PIPELINE, PROFILES, ROOT, _load, derived, drift, is_code_dep,  # noqa: E402
                               profile_pipelines, rewrite, stage_modules)

__all__ = ["PIPELINE", "PROFILES", "ROOT", "DepsError", "_load", "compact", "derived", "drift", "imports_of",
           "is_code_dep", "main", "module_closure", "module_deps", "module_index", "package_roots",
           "profile_pipelines", "rewrite", "stage_modules"]
FIX = "python scripts/dvc_deps.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and print the differences when dvc.yaml (or a profile's) is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project folder (default: this checkout)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    path = root / PIPELINE
    try:
        text = path.read_text(encoding="utf-8")
        new = rewrite(text, root)
        _, missing = derived(root)
        for m in sorted(missing):
            print(f"warning: {m} is imported but not on disk", file=sys.stderr)
        if args.check:
            problems = drift(path, root)
            if new != text:
                if not problems:
                    problems = [f"{PIPELINE}: differs from the derived text"]
                sys.stdout.writelines(difflib.unified_diff(text.splitlines(keepends=True),
                                                           new.splitlines(keepends=True),
                                                           f"{PIPELINE} (on disk)", f"{PIPELINE} (derived)"))
                problems.append(f"run `{FIX}` to rewrite {PIPELINE}")
            stale = {p: drift(p, root) for p in profile_pipelines(root)}
            for p, found in stale.items():
                if found:
                    problems += found + [f"run `thinkact profile sync {p.parent.name}` (after `{FIX}`)"]
            for line in problems:
                print(line)
            return 1 if problems else 0
        if new != text:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(new, encoding="utf-8")
            tmp.replace(path)  # DVC never reads half a file
            print(f"{PIPELINE}: code deps rewritten")
        else:
            print(f"{PIPELINE}: up to date")
        for p in profile_pipelines(root):
            if drift(p, root):
                print(f"{p.relative_to(root).as_posix()}: stale; run `thinkact profile sync {p.parent.name}`")
    except (DepsError, OSError) as e:
        print(f"dvc_deps: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
