"""Where artifacts live: relative to the project in the embedded store, so a moved or copied checkout reads its own.

A store laid out like the embedded one (`<root>/mlflow/mlflow.db`) records every artifact location relative to
`<root>` (`mlflow/artifacts/...`). MLflow's own tools (`mlflow ui --backend-store-uri sqlite:///mlflow/mlflow.db`,
`mlflow models serve`, `mlflow.pyfunc.load_model`) resolve a relative location against their working directory,
so they are started in `<root>`; thinkact's code resolves it against `<root>` from any directory
(`artifact_anchor`, `resolve_location`, `artifact_repo`, `store_cwd` for the one MLflow call that takes no
location). MLflow's `create_experiment` makes every local location absolute and has no call to change one, so a
store written with absolute paths is rewritten to relative ones the first time thinkact opens it
(`portable_store`, with sqlite3 on MLflow 3.17's tables). Any other store keeps the absolute locations MLflow writes.

    from thinkact.tracking.store import artifact_anchor, resolve_location
    resolve_location("mlflow/artifacts/1/abc/artifacts", "sqlite:////work/proj/mlflow/mlflow.db")
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

EXPERIMENT = "thinkact"   # the one experiment a project's runs live in
STORE_DIR, STORE_FILE, ARTIFACTS_DIR = "mlflow", "mlflow.db", "artifacts"  # the embedded store's layout


def sqlite_file(uri: str | None) -> Path | None:
    """The database file of a `sqlite:///...` store URI, or None for any other store."""
    return Path(uri[len("sqlite:///"):]) if uri and uri.startswith("sqlite:///") else None


def artifact_anchor(uri: str | None) -> Path | None:
    """`<root>` for a sqlite store at `<root>/mlflow/mlflow.db` (the embedded store's layout, wherever it is): the
    folder its artifact locations are relative to; None for any other store (absolute locations, as MLflow writes)."""
    db = sqlite_file(uri)
    if db is None or db.name != STORE_FILE or db.parent.name != STORE_DIR:
        return None
    return db.resolve().parent.parent


def _is_relative(location: str) -> bool:
    return bool(location) and not urlparse(location).scheme and not location.startswith("/")


def resolve_location(location: str, uri: str | None) -> str:
    """An artifact location as stored in store `uri`, usable from any working directory: a relative one (the
    embedded store's) joined to the store's anchor; any other returned as it is."""
    anchor = artifact_anchor(uri)
    return str(anchor / location) if anchor is not None and _is_relative(location) else location


def artifact_repo(client: Any, run_id: str, uri: str | None) -> Any | None:
    """The artifact repository of run `run_id` when its location is relative (resolved against the store's anchor,
    not the working directory MLflow's client would use); None otherwise (then the client's own calls are right)."""
    if artifact_anchor(uri) is None:
        return None
    location = client.get_run(run_id).info.artifact_uri
    if not _is_relative(location):
        return None
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    return get_artifact_repository(resolve_location(location, uri))


@contextlib.contextmanager
def store_cwd(uri: str | None) -> Iterator[None]:
    """The working directory is the store's anchor for the block (nothing changes for another store): for MLflow
    code that resolves a relative artifact location itself and takes no location (`Model.log` writing a logged
    model's files). Paths handed to the block must be absolute."""
    anchor = artifact_anchor(uri)
    if anchor is None:
        yield
        return
    before = os.getcwd()
    os.chdir(anchor)
    try:
        yield
    finally:
        os.chdir(before)


_MOVABLE = (("experiments", "artifact_location"), ("runs", "artifact_uri"), ("logged_models", "artifact_location"),
            ("model_versions", "storage_location"), ("model_versions", "source"))


def _local_path(location: str) -> str | None:
    parsed = urlparse(location)
    if parsed.scheme == "file" and not parsed.netloc:
        return unquote(parsed.path)
    return location if not parsed.scheme and location.startswith("/") else None


def portable_store(uri: str | None) -> int:
    """Record the thinkact experiment's artifact locations in the embedded store relative to its anchor
    (`mlflow/artifacts/...`): the experiment's own and those of its runs, logged models and model versions that
    still hold an absolute path of its artifacts folder (one written by thinkact before artifact locations were
    relative, perhaps in another checkout the store was moved or copied from, or a run created in the instant
    between the experiment's creation and this call). MLflow has no call that changes a location, and
    `create_experiment` makes every local location absolute, so this writes the store's tables. A location
    someone chose (another folder, a remote store) is left alone. Returns the number of locations rewritten."""
    anchor, db = artifact_anchor(uri), sqlite_file(uri)
    if anchor is None or db is None or not db.is_file():
        return 0
    relative = f"{STORE_DIR}/{ARTIFACTS_DIR}"
    current = anchor / STORE_DIR / ARTIFACTS_DIR
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=30)) as con, con:
            row = con.execute("SELECT artifact_location FROM experiments WHERE name = ?", (EXPERIMENT,)).fetchone()
            if row is None:
                return 0
            prefixes = {str(current), current.as_uri()}
            old = _local_path(row[0])
            if old is not None and PurePosixPath(old).parts[-2:] == (STORE_DIR, ARTIFACTS_DIR):
                prefixes |= {row[0], old}
            elif row[0] != relative:
                return 0  # a location someone chose
            # names are constants (_MOVABLE); read first, so a store with nothing to rewrite is never locked
            where = [(table, column, f"WHERE {column} = ? OR substr({column}, 1, ?) = ?",
                      (prefix, len(prefix) + 1, prefix + "/"))
                     for prefix in sorted(prefixes) for table, column in _MOVABLE]
            if not any(con.execute(f"SELECT 1 FROM {table} {cond} LIMIT 1", args).fetchone()  # noqa: S608
                       for table, _, cond, args in where):
                return 0
            return sum(con.execute(f"UPDATE {table} SET {column} = ? || substr({column}, ?) {cond}",  # noqa: S608
                                   (relative, len(args[0]) + 1, *args)).rowcount for table, column, cond, args in where)
    except sqlite3.Error:  # a read-only store or another schema: MLflow's own calls say what is wrong
        return 0


