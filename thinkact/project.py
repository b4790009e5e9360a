"""Where a project's files are: its root, params.yaml, the profiles folder, and which params file is in use.

    from thinkact.project import PROJECT_ROOT, params_path
    params_path()      # $THINKACT_PARAMS, else profiles/<name>/params.yaml for $THINKACT_PROFILE, else params.yaml
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from thinkact.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PARAMS_FILE = "params.yaml"
PROFILES_DIR = "profiles"  # profiles/<name>.yaml overlays; profiles/<name>/params.yaml merged (thinkact.profiles)
PROFILE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")  # profiles/<name>.yaml: safe in paths, tags and dvc.yaml
# The loaded params (thinkact.config.Params) as the layers below the root name them: the root composes those layers'
# sections, so they take it by this name instead of importing it (arrows point down).
RunParams = Any


def params_path() -> Path:
    """$THINKACT_PARAMS; else, when THINKACT_PROFILE names a profile, its merged file profiles/<name>/params.yaml
    (thinkact.profiles writes it) — except inside a stage of the project's own dvc.yaml, which is the default
    profile whatever the shell says; else params.yaml in the project root."""
    if os.environ.get("THINKACT_PARAMS"):
        return Path(os.environ["THINKACT_PARAMS"])
    profile = os.environ.get("THINKACT_PROFILE", "").strip()
    in_root_pipeline = bool(os.environ.get("DVC_STAGE")) and ":" not in os.environ["DVC_STAGE"]
    if profile and profile != "default" and not in_root_pipeline:
        path = PROJECT_ROOT / PROFILES_DIR / profile / PARAMS_FILE
        if not path.is_file():
            raise ConfigError("THINKACT_PROFILE", f"{path} is not written yet: run `thinkact profile sync {profile}` "
                                                  "(the flow does it); `thinkact profile list` shows the profiles",
                              "environment")
        return path
    return PROJECT_ROOT / PARAMS_FILE
