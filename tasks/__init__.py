"""Pipeline stages: one module per dvc.yaml stage, each a thin I/O entry over thinkact (flows -> tasks -> thinkact)."""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def stage_main(stage: str, run: Callable[[Any], dict]) -> int:
    """`python -m tasks.<stage>`: run the stage on params.yaml; a user error prints one line and exits 1."""
    from thinkact.config import load_params
    from thinkact.errors import ThinkactError

    try:
        metrics = run(load_params())
    except ThinkactError as e:
        print(f"{stage}: {e}", file=sys.stderr)
        return 1
    print(f"[{stage}] done: {metrics}")
    return 0
