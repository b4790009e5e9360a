"""Pipeline stages: one module per dvc.yaml stage, each a short entry over thinkact (flows -> tasks -> thinkact).

Every `tasks/<stage>.py` has the same shape: its docstring says what it reads and writes; `run(params)` checks the
stage's inputs, opens the stage's MLflow run (thinkact.tracking.stage_run), calls one library function, writes the
outputs and logs them, and returns the stage's headline figures; `main()` is `stage_main(STAGE, run, __doc__)`.

    python -m tasks.sft --help        # what the stage does, without side effects
    python -m tasks.sft               # what `dvc repro sft` runs, from the project root
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from typing import Any

from thinkact.config import load_params
from thinkact.errors import ThinkactError
from thinkact.quiet import quiet

quiet()  # offline, no telemetry, no library noise: before any stage imports torch or transformers
from thinkact.io import stage_lock


def stage_main(stage: str, run: Callable[[Any], Any], doc: str | None, argv: list[str] | None = None,
               lock: bool = True) -> int:
    """`python -m tasks.<stage>`: `--help` prints the stage's docstring and exits; otherwise run the stage on
    params.yaml ($THINKACT_PARAMS), holding the stage's lock (`<paths.outputs>/.<stage>.lock`, thinkact.io.stage_lock:
    a second run of the same stage fails at once, and what a killed run left there is repaired; `lock=False` for a
    stage that writes nothing); a user error (ThinkactError) prints one line naming the stage and exits 1."""
    parser = argparse.ArgumentParser(prog=f"python -m tasks.{stage}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Parameters come from params.yaml (or the file $THINKACT_PARAMS names).")
    parser.parse_args(argv)
    try:
        params = load_params()
        with stage_lock(stage, params.paths.stage_dir(stage)) if lock else contextlib.nullcontext():
            result = run(params)
    except ThinkactError as e:
        print(f"{stage}: {e}", file=sys.stderr)
        return 1
    print(f"[{stage}] done: {result}", flush=True)
    return 0
