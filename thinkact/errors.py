"""User-facing errors: one clear message naming the file, row or key and what to do.

The CLI catches `ThinkactError` and prints its message without a traceback; anything else is a bug.
"""
from __future__ import annotations

import os


class ThinkactError(Exception):
    """An error the user can fix (bad data, bad params, missing model)."""


class DataError(ThinkactError):
    """A malformed data file: the message names the file, the line and the field."""

    def __init__(self, path: str, line: int | None, field: str | None, problem: str, hint: str = ""):
        self.path, self.line, self.field, self.problem = str(path), line, field, problem
        where = self.path + (f":{line}" if line is not None else "")
        what = f"field '{field}': " if field else ""
        msg = f"{where}: {what}{problem}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class ConfigError(ThinkactError):
    """A bad parameter: the message names the params file and the key."""

    def __init__(self, key: str, problem: str, path: str | None = None):
        # the file actually in use: $THINKACT_PARAMS when set (thinkact.config.params_path), else params.yaml
        path = path or os.environ.get("THINKACT_PARAMS") or "params.yaml"
        self.key, self.problem, self.path = key, problem, path
        super().__init__(f"{path}: key '{key}': {problem}")
