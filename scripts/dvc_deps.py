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

tests/test_dvc_deps.py fails when dvc.yaml or a profile's dvc.yaml differs from what this derives.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import re
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = "dvc.yaml"
PROFILES = "profiles"
IGNORED_DIRS = {"__pycache__"}  # as .dvcignore: bytecode is nobody's dependency
IGNORED_SUFFIXES = {".pyc", ".pyo"}
FIX = "python scripts/dvc_deps.py"


class DepsError(Exception):
    """dvc.yaml or a source file this cannot read; the message says which."""


# --- the project's modules -------------------------------------------------------------------------------------

def _ignored(path: Path) -> bool:
    return (any(p in IGNORED_DIRS or p.startswith(".") for p in path.parts)
            or path.suffix in IGNORED_SUFFIXES)


def package_roots(root: Path) -> list[str]:
    """The project's top-level packages: folders beside dvc.yaml with an __init__.py (thinkact, tasks, ...)."""
    return sorted(p.name for p in Path(root).iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / "__init__.py").is_file())


def _files_under(folder: Path, root: Path) -> list[Path]:
    """Every file below `folder` that DVC would hash, relative to root."""
    return [p.relative_to(root) for p in folder.rglob("*") if p.is_file() and not _ignored(p.relative_to(root))]


def module_index(root: Path) -> dict[str, Path]:
    """Module name -> file (relative to root) for every .py file of the project's packages."""
    index = {}
    for package in package_roots(root):
        for rel in _files_under(root / package, root):
            if rel.suffix != ".py":
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if all(p.isidentifier() for p in parts):
                index[".".join(parts)] = rel
    return index


def _prefixes(name: str) -> list[str]:
    """a.b.c -> a, a.b, a.b.c: importing a.b.c runs a/__init__.py and a/b/__init__.py first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _is_type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool):
        self.package = module if is_package else module.rpartition(".")[0]
        self.names: set[str] = set()      # modules the file imports (and their parent packages)
        self.optional: set[str] = set()   # `from pkg import name`: pkg.name, a module only if such a file exists

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):  # not run: only the else branch is
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.names.update(_prefixes(alias.name))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base_parts = self.package.split(".") if self.package else []
            if node.level - 1 > len(base_parts):
                return
            base_parts = base_parts[:len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        if not base:
            return
        self.names.update(_prefixes(base))
        self.optional.update(f"{base}.{a.name}" for a in node.names if a.name != "*")


_PARSED: dict[tuple, tuple[set[str], set[str]]] = {}  # (file, its size and mtime, module) -> the names it imports


def _imported_names(file: Path, module: str) -> tuple[set[str], set[str]]:
    """(modules and packages the file imports, `pkg.name` of each `from pkg import name`), read once per version."""
    stat = file.stat()
    key = (str(file), stat.st_size, stat.st_mtime_ns, module)
    if key not in _PARSED:
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        except (SyntaxError, UnicodeDecodeError) as e:
            raise DepsError(f"{file}: cannot be parsed ({e})") from None
        visitor = _Imports(module, file.name == "__init__.py")
        visitor.visit(tree)
        _PARSED[key] = (visitor.names, visitor.optional)
    return _PARSED[key]


def imports_of(path: Path, module: str, index: dict[str, Path], root: Path,
               roots: Iterable[str] | None = None) -> tuple[set[str], set[str]]:
    """(project modules the file imports, imported names under a project package that are not on disk)."""
    names, optional = _imported_names(Path(root) / path, module)
    found = {n for n in names | optional if n in index}
    unknown = {n for n in names if n not in index}  # the standard library's, third-party, or project modules gone
    roots = set(package_roots(root) if roots is None else roots)
    missing = {n for n in unknown if n.split(".")[0] in roots
               and not (Path(root) / n.replace(".", "/")).is_dir()}  # a folder without __init__.py still imports
    return found, missing


def module_closure(root: Path, module: str, index: dict[str, Path] | None = None) -> tuple[set[str], set[str]]:
    """(every project module `python -m module` runs, imports of missing project modules as 'file: name')."""
    index = module_index(root) if index is None else index
    if module not in index:
        raise DepsError(f"{module}: no such module in {root}")
    seen: set[str] = set()
    missing: set[str] = set()
    roots = package_roots(root)
    todo = [m for m in _prefixes(module) if m in index]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found, absent = imports_of(index[name], name, index, root, roots)
        missing.update(f"{index[name].as_posix()}: {a}" for a in absent)
        todo.extend(found - seen)
    return seen, missing


def compact(files: Iterable[Path], root: Path) -> list[str]:
    """The files as dvc.yaml deps: a folder where every file below it is in `files`, else the file; sorted."""
    files = {Path(f) for f in files}
    complete: dict[Path, bool] = {}

    def is_complete(folder: Path) -> bool:
        if folder not in complete:
            below = _files_under(root / folder, root)
            complete[folder] = bool(below) and all(f in files for f in below)
        return complete[folder]

    roots = {Path(p) for p in package_roots(root)}
    out = set()
    for f in files:
        listed = f
        for parent in reversed(f.parents):  # the outermost complete folder inside a package
            if parent == Path(".") or not any(parent == r or r in parent.parents for r in roots):
                continue
            if is_complete(parent):
                listed = parent
                break
        out.add(listed.as_posix())
    return sorted(out)


def module_deps(root: Path, module: str | Iterable[str],
                index: dict[str, Path] | None = None) -> tuple[list[str], set[str]]:
    """(the compact dependency list of `python -m module` (or of several modules), missing imports)."""
    root = Path(root)
    index = module_index(root) if index is None else index
    modules, missing = set(), set()
    for entry in [module] if isinstance(module, str) else module:
        more, absent = module_closure(root, entry, index)
        modules |= more
        missing |= absent
    files = {index[m] for m in modules}
    for m in modules:  # a package's own non-Python files (data its code reads), not a subpackage's
        if index[m].name != "__init__.py":
            continue
        folder = root / index[m].parent
        for rel in _files_under(folder, root):
            if rel.suffix != ".py" and _owning_package(rel, root) == index[m].parent:
                files.add(rel)
    return compact(files, root), missing


def _owning_package(rel: Path, root: Path) -> Path | None:
    for parent in rel.parents:
        if (root / parent / "__init__.py").is_file():
            return parent
    return None


# --- dvc.yaml ----------------------------------------------------------------------------------------------------

_MODULE_ARG = re.compile(r"^[A-Za-z_][\w.]*$")


def stage_modules(name: str, spec: dict, index: dict[str, Path]) -> list[str]:
    """The project modules a stage runs: each `-m <module>` or `<path>.py` in its cmd (a string or a list), else
    tasks.<stage> if there is one."""
    cmds = spec.get("cmd") or []
    found = []
    by_path = {path.as_posix(): module for module, path in index.items()}
    for cmd in [cmds] if isinstance(cmds, str) else cmds:
        try:
            words = shlex.split(str(cmd))
        except ValueError:
            words = str(cmd).split()
        for i, word in enumerate(words):
            if word == "-m" and i + 1 < len(words) and _MODULE_ARG.match(words[i + 1]) and words[i + 1] in index:
                found.append(words[i + 1])
            elif word.removeprefix("./") in by_path:
                found.append(by_path[word.removeprefix("./")])
    fallback = f"tasks.{name}"
    return found or ([fallback] if fallback in index else [])


def is_code_dep(dep: str, roots: Iterable[str]) -> bool:
    dep = dep.rstrip("/").removeprefix("./")
    return any(dep == r or dep.startswith(r + "/") for r in roots)


def _load(text: str, where: str) -> dict:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise DepsError(f"{where}: not valid YAML ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("stages") or {}, dict):
        raise DepsError(f"{where}: expected a mapping with `stages:`")
    return data


def derived(root: Path = ROOT, pipeline: dict | None = None) -> tuple[dict[str, list[str]], set[str]]:
    """({stage: its derived code deps} for each dvc.yaml stage that runs a project module, missing imports)."""
    root = Path(root)
    if pipeline is None:
        pipeline = _load((root / PIPELINE).read_text(encoding="utf-8"), PIPELINE)
    index = module_index(root)
    out, missing = {}, set()
    for name, spec in (pipeline.get("stages") or {}).items():
        modules = stage_modules(name, spec or {}, index)
        if modules:
            out[name], absent = module_deps(root, modules, index)
            missing |= absent
    return out, missing


_ITEM = re.compile(r"""^(?P<indent>\s*)-\s+(?P<q>['"]?)(?P<value>[^'"#\s][^'"#]*?)(?P=q)\s*(?P<comment>#.*)?$""")
_KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[\w.-]+):\s*(#.*)?$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _blank(line: str) -> bool:
    return not line.strip() or line.lstrip().startswith("#")


def _stage_blocks(lines: list[str]) -> dict[str, tuple[int, int, int]]:
    """{stage: (first line, end line, key indent)} of each stage under the top-level `stages:` (block style)."""
    start = next((i for i, line in enumerate(lines) if re.match(r"^stages:\s*(#.*)?$", line)), None)
    if start is None:
        raise DepsError(f"{PIPELINE}: no top-level `stages:` block")
    end = next((i for i in range(start + 1, len(lines)) if not _blank(lines[i]) and _indent(lines[i]) == 0),
               len(lines))
    body = [i for i in range(start + 1, end) if not _blank(lines[i])]
    if not body:
        return {}
    stage_indent = _indent(lines[body[0]])
    heads = [i for i in body if _indent(lines[i]) == stage_indent]
    blocks = {}
    for n, i in enumerate(heads):
        m = _KEY.match(lines[i])
        if not m:
            raise DepsError(f"{PIPELINE}:{i + 1}: expected `<stage>:`, got {lines[i].strip()!r}")
        stop = heads[n + 1] if n + 1 < len(heads) else end
        blocks[m.group("key")] = (i, stop, stage_indent)
    return blocks


def rewrite(text: str, root: Path = ROOT) -> str:
    """dvc.yaml's text with each stage's code deps replaced by the derived ones (everything else kept)."""
    root = Path(root)
    pipeline = _load(text, PIPELINE)
    wanted, _ = derived(root, pipeline)
    roots = package_roots(root)
    lines = text.splitlines(keepends=True)
    blocks = _stage_blocks(lines)
    edits: list[tuple[int, int, list[str]]] = []  # (from, to, new lines), applied bottom-up
    expect: dict[str, list[str]] = {}
    for stage, deps in wanted.items():
        if stage not in blocks:
            raise DepsError(f"{PIPELINE}: stage {stage!r} is not in block style; cannot rewrite its deps")
        first, stop, stage_indent = blocks[stage]
        keys = [i for i in range(first + 1, stop)
                if not _blank(lines[i]) and _indent(lines[i]) > stage_indent]
        key_indent = min((_indent(lines[i]) for i in keys), default=stage_indent + 2)
        deps_line = next((i for i in keys if _indent(lines[i]) == key_indent and lines[i].strip().startswith("deps:")),
                         None)
        current = (pipeline["stages"][stage] or {}).get("deps") or []
        kept = [d for d in current if not (isinstance(d, str) and is_code_dep(d, roots))]
        if deps_line is None:  # no deps yet: after cmd
            cmd_line = next((i for i in keys if _indent(lines[i]) == key_indent
                             and lines[i].strip().startswith("cmd:")), first)
            after = next((i for i in range(cmd_line + 1, stop)
                          if not _blank(lines[i]) and _indent(lines[i]) <= key_indent), stop)
            pad = " " * key_indent
            edits.append((after, after, [f"{pad}deps:\n"] + [f"{pad}  - {d}\n" for d in deps]))
            expect[stage] = deps
            continue
        if not re.match(r"^\s*deps:\s*(#.*)?$", lines[deps_line]):
            raise DepsError(f"{PIPELINE}:{deps_line + 1}: stage {stage!r}: write `deps:` as a block list to derive it")
        items = []  # [value or None, first line, last line] of each list item (an item may span lines)
        item_indent = None
        i = deps_line + 1
        while i < stop:
            line = lines[i]
            if _blank(line):
                i += 1
                continue
            ind = _indent(line)
            if item_indent is None and line.lstrip().startswith("-") and ind >= key_indent:
                item_indent = ind
            if item_indent is None or ind < item_indent or (ind == item_indent and not line.lstrip().startswith("-")):
                break
            if ind > item_indent:  # continuation of the item above (e.g. a mapping item)
                items[-1][2] = i
            else:
                m = _ITEM.match(line.rstrip("\n"))
                items.append([m.group("value").strip() if m else None, i, i])
            i += 1
        if not items:
            raise DepsError(f"{PIPELINE}:{deps_line + 1}: stage {stage!r}: `deps:` has no list to derive")
        pad = " " * item_indent
        block = [f"{pad}- {d}\n" for d in deps]
        new: list[str] = []
        first_code = None
        for n, (value, start, last) in enumerate(items):
            if value is not None and start == last and is_code_dep(value, roots):
                if first_code is None:
                    first_code = n
                    new += block
            else:
                new += lines[start:last + 1]
            # full-line comments after an item stay after it
            new += lines[last + 1:items[n + 1][1] if n + 1 < len(items) else last + 1]
        if first_code is None:
            new += block
        edits.append((items[0][1], items[-1][2] + 1, new))
        before = first_code if first_code is not None else len(kept)  # the items before it are all kept
        expect[stage] = kept[:before] + deps + kept[before:]
    for begin, end, new in sorted(edits, reverse=True):
        lines[begin:end] = new
    result = "".join(lines)
    check = _load(result, f"{PIPELINE} (rewritten)")
    for stage, deps in expect.items():  # the text edit did what was meant, or nothing is written
        got = (check["stages"][stage] or {}).get("deps") or []
        if got != deps:
            raise DepsError(f"{PIPELINE}: rewriting stage {stage!r}'s deps went wrong (got {got}, wanted {deps}); "
                            "is its `deps:` list in an unusual layout?")
    return result


# --- drift ---------------------------------------------------------------------------------------------------------

def drift(path: Path, root: Path = ROOT) -> list[str]:
    """One line per stage of the dvc.yaml at `path` (the project's or a profile's) whose code deps differ from the
    derived ones: the files missing and the files extra (a folder counts as its files), or that the same files are
    listed another way (not compacted, not sorted)."""
    root, path = Path(root), Path(path)
    where = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    pipeline = _load(path.read_text(encoding="utf-8"), where)
    base = _load((root / PIPELINE).read_text(encoding="utf-8"), PIPELINE) if path != root / PIPELINE else pipeline
    wanted, _ = derived(root, base)  # a profile's stages run the project's commands
    roots = package_roots(root)
    problems = []
    for stage, deps in wanted.items():
        spec = (pipeline.get("stages") or {}).get(stage)
        if spec is None:
            problems.append(f"{where}: stage {stage!r} is missing")
            continue
        have = [d.rstrip("/").removeprefix("./") for d in (spec.get("deps") or [])
                if isinstance(d, str) and is_code_dep(d, roots)]
        want_files, have_files = _expand(deps, root), _expand(have, root)
        missing = sorted(want_files - have_files)
        extra = sorted(have_files - want_files)
        if missing or extra:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"extra {', '.join(extra)}"] if extra
                                                                              else [])
            problems.append(f"{where}: stage {stage!r}: {'; '.join(parts)}")
        elif have != deps:
            problems.append(f"{where}: stage {stage!r}: the same files, listed as {have} instead of {deps}")
    return problems


def _expand(deps: Iterable[str], root: Path) -> set[str]:
    """The files the deps name (a folder: every file below it); a path not on disk as itself."""
    out = set()
    for d in deps:
        path = root / d
        out |= {f.as_posix() for f in _files_under(path, root)} if path.is_dir() else {d}
    return out


def profile_pipelines(root: Path = ROOT) -> list[Path]:
    return sorted((Path(root) / PROFILES).glob("*/dvc.yaml"))


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
