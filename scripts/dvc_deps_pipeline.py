"""The dvc.yaml side of scripts/dvc_deps.py: the project modules each stage runs, its derived code deps
(scripts/dvc_deps_imports.py), the text rewrite that puts them in place of the typed ones (every other line, comment
and entry kept), and the drift check of dvc.yaml or a profile's.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from pathlib import Path

import yaml

from dvc_deps_imports import DepsError, files_under, module_deps, module_index, package_roots

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = "dvc.yaml"
PROFILES = "profiles"


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
        current = (pipeline["stages"][stage] or {}).get("deps") or []
        kept = [d for d in current if not (isinstance(d, str) and is_code_dep(d, roots))]
        edit, expect[stage] = _stage_edit(lines, blocks[stage], stage, deps, kept, roots)
        edits.append(edit)
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


def _stage_edit(lines: list[str], block: tuple[int, int, int], stage: str, deps: list[str], kept: list[str],
                roots: Iterable[str]) -> tuple[tuple[int, int, list[str]], list[str]]:
    """The text edit that puts `deps` in place of one stage's code deps (`kept`: its other deps, in order):
    ((from line, to line, new lines), the deps list the stage has after it)."""
    first, stop, stage_indent = block
    keys = [i for i in range(first + 1, stop)
            if not _blank(lines[i]) and _indent(lines[i]) > stage_indent]
    key_indent = min((_indent(lines[i]) for i in keys), default=stage_indent + 2)
    deps_line = next((i for i in keys if _indent(lines[i]) == key_indent and lines[i].strip().startswith("deps:")),
                     None)
    if deps_line is None:  # no deps yet: after cmd
        cmd_line = next((i for i in keys if _indent(lines[i]) == key_indent
                         and lines[i].strip().startswith("cmd:")), first)
        after = next((i for i in range(cmd_line + 1, stop)
                      if not _blank(lines[i]) and _indent(lines[i]) <= key_indent), stop)
        pad = " " * key_indent
        return (after, after, [f"{pad}deps:\n"] + [f"{pad}  - {d}\n" for d in deps]), deps
    if not re.match(r"^\s*deps:\s*(#.*)?$", lines[deps_line]):
        raise DepsError(f"{PIPELINE}:{deps_line + 1}: stage {stage!r}: write `deps:` as a block list to derive it")
    items, item_indent = _deps_items(lines, deps_line, stop, key_indent)
    if not items:
        raise DepsError(f"{PIPELINE}:{deps_line + 1}: stage {stage!r}: `deps:` has no list to derive")
    pad = " " * item_indent
    listed = [f"{pad}- {d}\n" for d in deps]
    new: list[str] = []
    first_code = None
    for n, (value, start, last) in enumerate(items):
        if value is not None and start == last and is_code_dep(value, roots):
            if first_code is None:
                first_code = n
                new += listed
        else:
            new += lines[start:last + 1]
        # full-line comments after an item stay after it
        new += lines[last + 1:items[n + 1][1] if n + 1 < len(items) else last + 1]
    if first_code is None:
        new += listed
    before = first_code if first_code is not None else len(kept)  # the items before it are all kept
    return (items[0][1], items[-1][2] + 1, new), kept[:before] + deps + kept[before:]


def _deps_items(lines: list[str], deps_line: int, stop: int, key_indent: int) -> tuple[list[list], int | None]:
    """([value or None, first line, last line] of each item of the `deps:` list at `deps_line` (an item may span
    lines), the items' indent)."""
    items: list[list] = []
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
    return items, item_indent


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
        out |= {f.as_posix() for f in files_under(path, root)} if path.is_dir() else {d}
    return out


def profile_pipelines(root: Path = ROOT) -> list[Path]:
    return sorted((Path(root) / PROFILES).glob("*/dvc.yaml"))
