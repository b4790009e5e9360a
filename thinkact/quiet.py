"""Offline, no telemetry, and no library noise the user cannot act on — set once, here, for the CLI and the stages.

`quiet()` sets environment defaults (a value the user already set wins) before the heavy libraries are imported:
no hub downloads, no telemetry (MLflow, DVC, GX, Prefect), no per-checkpoint "Loading weights" bars (Hugging Face
progress bars off; thinkact prints its own time-based progress lines, thinkact.progress); and it filters library
warnings about the libraries' own internals (deprecations inside transformers/TRL that our settings do not cause
and cannot change). Called at import by `thinkact/cli` and `tasks/__init__.py`.

    from thinkact.quiet import quiet
    quiet()
"""
from __future__ import annotations

import os
import warnings

ENV_DEFAULTS = {
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",   # offline: no hub at run time
    "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "DVC_NO_ANALYTICS": "1",
    "GX_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",     # telemetry off
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",       # transformers' "Loading weights" bar at every model load
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",  # TRL's dataset preparation bars ("Dropping fully masked examples")
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}
# (category, message regex): warnings raised inside the libraries about their own internals.
LIBRARY_WARNINGS = (
    # transformers 5 renamed gradient checkpointing; TRL's configs and trainers still use the old names (ten of
    # these in a default run's log, 2026-12-01)
    (FutureWarning, r".*`?(is_)?gradient_checkpointing`? is deprecated"),
)


def quiet() -> None:
    """Set the environment defaults and the warning filters (idempotent)."""
    for key, value in ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    for category, message in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
