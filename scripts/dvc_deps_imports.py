"""The import-graph reader of scripts/dvc_deps.py: which of the project's source files `python -m <module>` runs.

The project's packages are the top-level folders with an `__init__.py` (thinkact/, tasks/). Imports are read with
`ast`, anywhere in a module (the stage modules import most code inside `run()`), except under `if TYPE_CHECKING:`;
`from pkg import name` is the submodule pkg/name.py when there is one; importing a submodule runs its packages'
`__init__.py`, so they are dependencies too; relative imports resolve against the importing module. The non-Python
files of an imported package (data it reads) come with it. The list is compact: a folder when every file in it is a
dependency (e.g. `thinkact/rewards`), else the files, sorted.
"""
from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

IGNORED_DIRS = {"__pycache__"}  # as .dvcignore: bytecode is nobody's dependency
IGNORED_SUFFIXES = {".pyc", ".pyo"}


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


def files_under(folder: Path, root: Path) -> list[Path]:
    """Every file below `folder` that DVC would hash, relative to root."""
    return [p.relative_to(root) for p in folder.rglob("*") if p.is_file() and not _ignored(p.relative_to(root))]


def module_index(root: Path) -> dict[str, Path]:
    """Module name -> file (relative to root) for every .py file of the project's packages."""
    index = {}
    for package in package_roots(root):
        for rel in files_under(root / package, root):
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
            below = files_under(root / folder, root)
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
        for rel in files_under(folder, root):
            if rel.suffix != ".py" and _owning_package(rel, root) == index[m].parent:
                files.add(rel)
    return compact(files, root), missing


def _owning_package(rel: Path, root: Path) -> Path | None:
    for parent in rel.parents:
        if (root / parent / "__init__.py").is_file():
            return parent
    return None
