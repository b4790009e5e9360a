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
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from thinkact.config import load_params
from thinkact.project import params_path
from thinkact.errors import ThinkactError
from thinkact.quiet import quiet

quiet()  # offline, no telemetry, no library noise: before any stage imports torch or transformers
from thinkact import distributed  # noqa: E402
from thinkact.io import stage_lock  # noqa: E402

LAUNCHED_STAGES = ("sft", "grpo", "evaluate")  # run on launch.num_processes processes; the others on one


def stage_main(stage: str, run: Callable[[Any], Any], doc: str | None, argv: list[str] | None = None,
               lock: bool = True) -> int:
    """`python -m tasks.<stage>`: `--help` prints the stage's docstring and exits; otherwise run the stage on
    params.yaml ($THINKACT_PARAMS), holding the stage's lock (`<paths.outputs>/.<stage>.lock`, thinkact.io.stage_lock:
    a second run of the same stage fails at once, and what a killed run left there is repaired; `lock=False` for a
    stage that writes nothing); a user error (ThinkactError) prints one line naming the stage and exits 1.

    sft, grpo and evaluate with `launch.num_processes` > 1: this process checks the launch, takes the lock and runs
    the stage again under `accelerate launch` (thinkact.distributed); those processes skip the lock (this one holds
    it) and only their main one logs, writes and prints the result."""
    parser = argparse.ArgumentParser(prog=f"python -m tasks.{stage}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Parameters come from params.yaml (or the file $THINKACT_PARAMS names).")
    parser.parse_args(argv)
    try:
        params = load_params()
        n = params.launch.num_processes
        if stage in LAUNCHED_STAGES and n > 1 and not distributed.launched():
            distributed.check_launch(n, params.launch.config_file, str(params_path()))  # before any model loads
            with stage_lock(stage, params.paths.stage_dir(stage)):
                return _launch(stage, n, params.launch.config_file)
        held = lock and not distributed.launched()  # launched processes: the launching one holds the lock
        with stage_lock(stage, params.paths.stage_dir(stage)) if held else contextlib.nullcontext():
            result = run(params)
    except ThinkactError as e:
        print(f"{stage}{f' (rank {distributed.rank()})' if distributed.launched() else ''}: {e}", file=sys.stderr)
        return 1
    if distributed.is_main():
        print(f"[{stage}] done: {result}", flush=True)
    return 0


def _launch(stage: str, n: int, config_file: str | None) -> int:
    """Run `python -m tasks.<stage>` on n processes through `accelerate launch`; 0 when all of them finished."""
    cmd = distributed.launch_command(f"tasks.{stage}", n, config_file)
    print(f"[{stage}] {n} processes: accelerate launch{f' --config_file {config_file}' if config_file else ''} "
          f"-m tasks.{stage}", flush=True)
    start = time.monotonic()
    code = subprocess.run(cmd, env={**os.environ, distributed.LAUNCHED_ENV: "1"}).returncode
    if code != 0:  # torchrun stops every process when one fails; a stuck one hits launch.timeout_s
        print(f"{stage}: one of its {n} processes failed (accelerate launch exit {code}, after "
              f"{time.monotonic() - start:.0f} s); the first error is above. A rerun resumes from the last "
              "checkpoint.", file=sys.stderr)
        return 1
    return 0
