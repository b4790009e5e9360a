"""Pipeline stages: one module per dvc.yaml stage, each a short entry over thinkact (flows -> tasks -> thinkact).

Every `tasks/<stage>.py` has the same shape: its docstring says what it reads and writes; `run(params)` checks the
stage's inputs, opens the stage's MLflow run (thinkact.tracking.stage_run), calls one library function, writes the
outputs and logs them, and returns the stage's headline figures; `main()` is `stage_main(STAGE, run, __doc__)`.

    python -m tasks.sft --help        # what the stage does, without side effects
    python -m tasks.sft               # what `dvc repro sft` runs, from the project root
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from thinkact.config import load_params
from thinkact.errors import ThinkactError


def stage_main(stage: str, run: Callable[[Any], Any], doc: str | None, argv: list[str] | None = None) -> int:
    """`python -m tasks.<stage>`: `--help` prints the stage's docstring and exits; otherwise run the stage on
    params.yaml ($THINKACT_PARAMS); a user error (ThinkactError) prints one line naming the stage and exits 1."""
    parser = argparse.ArgumentParser(prog=f"python -m tasks.{stage}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Parameters come from params.yaml (or the file $THINKACT_PARAMS names).")
    parser.parse_args(argv)
    try:
        result = run(load_params())
    except ThinkactError as e:
        print(f"{stage}: {e}", file=sys.stderr)
        return 1
    print(f"[{stage}] done: {result}", flush=True)
    return 0
