"""What a tracked run is about, read from the project and never from mlflow (thinkact.tracking.runs tags every run
with it): the git commit and whether the user's tree was dirty (`thinkact.git_dirty`: a changed tracked file, the
files the pipeline itself rewrites, PIPELINE_FILES, excepted; `thinkact.git_dirty_paths` names the first few),
DVC's hash of data/ from data.dvc (`thinkact.data_dvc_md5`, a `<md5>.dir`), the md5 of params.yaml and the profile
it belongs to; and where the project is (the params file in use, the project root, a path as the project names it).
"""
from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import yaml

from thinkact.io import file_md5 as io_file_md5
from thinkact.project import PARAMS_FILE, PROFILES_DIR, params_path

DATA_DVC_MD5_TAG = "thinkact.data_dvc_md5"  # DVC's hash of data/ (data.dvc's `md5`, "<md5>.dir")
TRAIN_MD5_TAG = "thinkact.train_md5"        # md5 of the train file a training stage read (as in its model card)
PROFILE_TAG = "thinkact.profile"           # the profile (thinkact.profiles) whose params the run used
# Tracked files that the pipeline rewrites itself (DVC rewrites dvc.lock after each stage that ran): a change to
# them is not a change the user made, so it does not make `thinkact.git_dirty` true. Git-ignored files (outputs/,
# mlflow/, data/) never count either.
PIPELINE_FILES = ("dvc.lock",)
DIRTY_PATHS_SHOWN = 10


def params_file_in_use(root: Path | None = None) -> Path:
    """$THINKACT_PARAMS, else params.yaml in `root` (default: the project root)."""
    if root is None or os.environ.get("THINKACT_PARAMS"):
        return params_path().resolve()
    return (Path(root) / PARAMS_FILE).resolve()


def params_profile(params_file: Path) -> str:
    """The profile a params file belongs to (thinkact.profiles writes `profile: <name>` into a profile's merged
    params; params.yaml is "default")."""
    with contextlib.suppress(Exception):
        with open(params_file, encoding="utf-8") as f:
            for line in f:  # the key is written first; no need to parse the whole file
                if line.startswith("profile:"):
                    return str(yaml.safe_load(line)["profile"])
    return "default"


def project_root(root: Path | None = None) -> Path:
    """`root`, else the folder of the params file in use — for a profile's merged params
    (<project>/profiles/<name>/params.yaml, thinkact.profiles) the project two levels up, so every profile shares
    the project's MLflow store and registry."""
    if root is not None:
        return Path(root).resolve()
    folder = params_file_in_use().parent
    if folder.parent.name == PROFILES_DIR and (folder.parent.parent / PARAMS_FILE).is_file():
        return folder.parent.parent
    return folder


def file_md5(path: Path) -> str | None:
    """md5 of a file's bytes (read in blocks, thinkact.io.file_md5), or None when it cannot be read."""
    try:
        return io_file_md5(path)
    except OSError:
        return None


def git_tags(root: Path) -> dict[str, str]:
    """The commit of `root`'s git checkout and whether the user's tree differs from it: a tracked file changed,
    staged or not, other than PIPELINE_FILES (relative to `root`); untracked and git-ignored files never count.
    {} outside a git checkout or without git."""
    tags: dict[str, str] = {}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return tags
        tags["mlflow.source.git.commit"] = commit.stdout.strip()
        # ":/" (the whole checkout, as before) less the pipeline's own files, named relative to root
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":/",
                                 *(f":(exclude){name}" for name in PIPELINE_FILES)],
                                cwd=root, capture_output=True, text=True, timeout=10)
        if status.returncode == 0:
            changed = [line[3:] for line in status.stdout.splitlines() if line.strip()]
            tags["thinkact.git_dirty"] = str(bool(changed)).lower()
            if changed:
                more = len(changed) - DIRTY_PATHS_SHOWN
                tags["thinkact.git_dirty_paths"] = (", ".join(changed[:DIRTY_PATHS_SHOWN])
                                                    + (f" (+{more} more)" if more > 0 else ""))
    return tags


def context_tags(root: Path | None = None) -> dict[str, str]:
    """Git commit (+ dirty flag, `git_tags`), DVC's hash of data/ (data.dvc) and params.yaml's md5, when readable."""
    params_file = params_file_in_use(root)
    root = project_root(root)
    tags = git_tags(root)
    params_md5 = file_md5(params_file)
    if params_md5:
        tags["thinkact.params_md5"] = params_md5
    tags[PROFILE_TAG] = params_profile(params_file)
    dvc_file = root / "data.dvc"
    if dvc_file.is_file():
        with contextlib.suppress(Exception):
            outs = (yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}).get("outs") or [{}]
            if outs[0].get("md5"):
                tags[DATA_DVC_MD5_TAG] = str(outs[0]["md5"])
    return tags


def project_path(path: Path) -> str:
    """`path` as the project names it: relative to the project root when inside it (as params.yaml's paths are)."""
    if not path.is_absolute():
        return path.as_posix()
    with contextlib.suppress(ValueError):
        return path.resolve().relative_to(project_root()).as_posix()
    return path.as_posix()
