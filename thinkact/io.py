"""Files: atomic writes, file hashes, the name of a model folder's meta file, and the lock a stage holds.

Outputs go to a temporary path and are moved into place, so a crash never leaves a half-written result and earlier
results stay untouched until the new one is complete. A temporary path carries its writer's process id
(`.<name>.p<pid>-XXXXXXXX.tmp`), so the next write of the same target removes what a killed writer left and never
touches a live writer's; a kill between the two renames of a folder swap is repaired from `.<name>.old`
(`recover_dir`). An output path that is a folder (or under a file) is one clear ThinkactError.

    from thinkact.io import atomic_dir, atomic_write_json, file_md5, stage_lock
"""
from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from thinkact.errors import ThinkactError

META_FILE = "thinkact-model.json"  # written last into a built model folder: its presence means "complete"
LOCK_SUFFIX = ".lock"  # `.<stage folder>.lock` beside a stage's output folder while the stage runs (stage_lock)
# a temporary sibling of <name>: ".<name>.", the writer's pid, mkstemp/mkdtemp's 8 random characters, ".tmp"
# (older versions wrote no pid: such a sibling is always a leftover)
_TMP_NAME = re.compile(r"\.(.+)\.(?:p(\d+)-)?[a-z0-9_]{8}\.tmp")
_HELD: dict[str, str] = {}  # lock file -> its identity, for the stage locks this process holds


def file_md5(path: str | os.PathLike) -> str:
    """The md5 of a file's bytes (read in 1 MiB blocks), as hex."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8, newlines as given) to `path` through a temporary file in the same folder."""
    atomic_write_bytes(path, text.encode("utf-8"))


def output_file(path: str | os.PathLike, create: bool = True) -> Path:
    """`path` as a file to write: ThinkactError when it is a folder, or when a file stands where one of its parent
    folders must go. Creates the parent folders (with `create=False` only checks, e.g. before long work)."""
    p = Path(path)
    if p.is_dir():
        raise ThinkactError(f"{p}: is a folder, but a file is to be written there; give a file path "
                            f"(e.g. {p / 'out.jsonl'}) or remove the folder")
    if create:
        ensure_dir(p.parent)
    else:
        _no_file_above(p.parent)
    return p


def ensure_dir(path: str | os.PathLike, create: bool = True) -> Path:
    """Create the folder `path` (and its parents); ThinkactError when a file stands in the way (with
    `create=False` only checks)."""
    p = Path(path)
    if not create:
        _no_file_above(p)
        return p
    try:
        p.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        _no_file_above(p)
        raise
    return p


def _no_file_above(folder: Path) -> None:
    blocker = next((q for q in (folder, *folder.parents) if q.exists() and not q.is_dir()), None)
    if blocker is not None:
        raise ThinkactError(f"{folder}: cannot create this folder: {blocker} is a file; give another output path "
                            "or move the file away")


def _alive(pid: int) -> bool:
    """Whether process `pid` runs on this machine (where that cannot be told: yes, so nothing live is removed)."""
    if pid == os.getpid() or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, under another user
        return True
    return True


def _tmp_prefix(name: str) -> str:
    return f".{name}.p{os.getpid()}-"


def _orphans(target: Path) -> list[Path]:
    """Temporary siblings of `target` (files or folders) whose writer is gone: what a kill during a write left."""
    found = []
    for p in target.parent.glob(glob.escape(f".{target.name}.") + "*.tmp"):
        m = _TMP_NAME.fullmatch(p.name)
        if m and m.group(1) == target.name and (m.group(2) is None or not _alive(int(m.group(2)))):
            found.append(p)
    return found


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def recover_dir(path: str | os.PathLike) -> bool:
    """Repair what a killed writer left beside the folder `path`: when `path` is missing but `.<name>.old` exists
    (a kill between the two renames of atomic_dir's swap), the previous folder is moved back; a stale `.old` beside
    a complete folder and temporary siblings of dead writers are removed. Returns whether the folder came back."""
    final = Path(path)
    old = final.with_name(f".{final.name}.old")
    restored = False
    if old.is_dir():
        if not final.exists():
            with contextlib.suppress(FileNotFoundError, FileExistsError, OSError):
                os.replace(old, final)
                restored = True
        else:
            shutil.rmtree(old, ignore_errors=True)
    if final.parent.is_dir():
        for orphan in _orphans(final):
            _remove(orphan)
    return restored


def recover_dirs(folder: str | os.PathLike) -> list[Path]:
    """recover_dir for every entry of `folder` that a write left half done (a `.<name>.old` folder or a temporary
    `.<name>.*.tmp` sibling); returns the folders that came back."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    names = {p.name[1:-len(".old")] for p in folder.glob(".?*.old") if p.is_dir()}
    names |= {m.group(1) for p in folder.glob(".*.tmp") if (m := _TMP_NAME.fullmatch(p.name))}
    return [folder / n for n in sorted(names) if recover_dir(folder / n)]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` (e.g. a PNG) to `path` through a temporary file in the same folder. The file gets the
    ordinary permissions of a new file (0666 less the umask), not mkstemp's 0600. A folder at `path` is a
    ThinkactError; temporary files a killed writer of `path` left are removed."""
    p = output_file(path)
    for orphan in _orphans(p):
        _remove(orphan)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(p.name), suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `path`; on success it replaces `path`, on error it is removed.

        with atomic_dir("outputs/sft/model") as tmp:
            model.save_pretrained(tmp)
    """
    final = Path(path)
    ensure_dir(final.parent)
    if final.exists() and not final.is_dir():
        raise ThinkactError(f"{final}: is a file, but a folder is to be written there; remove it or give another "
                            "output path")
    recover_dir(final)  # a kill in an earlier swap: the previous folder back, dead writers' temporary folders gone
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(final.name), suffix=".tmp", dir=final.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; the final folder gets ordinary permissions
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _swap(tmp, final)


def _swap(tmp: Path, final: Path) -> None:
    """Put the folder `tmp` at `final` by two renames (`final` -> `.<name>.old`, `tmp` -> `final`), then drop the old
    one. A kill between the renames leaves `.<name>.old`, which recover_dir moves back."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    for attempt in range(3):
        if final.exists():
            os.replace(final, old)
        try:
            os.replace(tmp, final)
            break
        except OSError as e:  # another process put a folder back at `final` meanwhile (recover_dir): again
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt == 2:
                raise
            shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)


def held_lock(folder: str | os.PathLike) -> str | None:
    """The identity (`host:lock file`) of the stage lock on `folder` when this process holds it, else None."""
    return _HELD.get(str(lock_path(folder).resolve()))


def lock_path(folder: str | os.PathLike) -> Path:
    """The stage lock of output folder `folder`: `.<name>.lock` beside it, not inside, so a stage that replaces
    its whole folder (the evaluate stage) keeps holding the same lock file."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}{LOCK_SUFFIX}"


@contextlib.contextmanager
def stage_lock(stage: str, folder: str | os.PathLike) -> Iterator[str]:
    """Hold `lock_path(folder)` (`.<stage>.lock` beside the stage's folder) while stage `stage` runs: a second run of the stage (two `python -m tasks.sft` at once)
    fails at once with one line naming the stage, the lock file and the holder, instead of resuming from the
    first's live checkpoints or writing over its outputs. The operating system drops the lock when its process
    dies, so a killed run never blocks the next one. Once held, what a killed run left in `folder` is repaired
    (recover_dirs). Yields the lock's identity (`host:lock file`)."""
    folder = ensure_dir(folder)
    path = lock_path(folder)
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        holder = _holder(path)
        raise ThinkactError(f"stage '{stage}' is already running{holder}: {path} is locked; wait for that run to "
                            "finish (or stop it), then run again") from None
    key = str(path.resolve())
    owner = f"{socket.gethostname()}:{key}"
    try:
        with contextlib.suppress(OSError):
            path.write_text(json.dumps({"stage": stage, "pid": os.getpid(), "host": socket.gethostname(),
                                        "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n", encoding="utf-8")
        _HELD[key] = owner
        recover_dirs(folder)
        yield owner
    finally:
        _HELD.pop(key, None)
        with contextlib.suppress(OSError):
            path.write_text("", encoding="utf-8")
        lock.release()


def _holder(path: Path) -> str:
    """' (pid N on HOST since T)' from a held lock file, or '' when it says nothing readable."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
        return f" (pid {int(info['pid'])} on {info['host']} since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""
