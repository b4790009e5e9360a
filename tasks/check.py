"""Stage `check`: every key of params.yaml checked before any stage does work.

Loads params.yaml ($THINKACT_PARAMS) into thinkact.config's typed sections — an unknown key, a wrong type, a value
out of range or a broken cross-field rule stops here with one line naming the key and the file — and checks the TRL
trainer settings (`sft.trainer`, `grpo.trainer`) against SFTConfig / GRPOConfig. Reads nothing else, writes
nothing, opens no MLflow run. dvc.yaml runs it first, on the bytes of params.yaml (a file dependency, not DVC's
params: DVC compares values, so `true` for `1` or a new unknown top-level key would look unchanged), and the
Prefect flow runs dvc.yaml's stages in order, so a bad parameter fails here, before DVC touches any stage's
outputs. Every stage loads params the same way, so one run by hand (`python -m tasks.sft`) checks them too.

    python -m tasks.check            # what `dvc repro check` runs, from the project root
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tasks import stage_main
from thinkact.config import Params, params_path

STAGE = "check"


def run(params: Params) -> dict:
    """The params are already loaded (and so checked) by stage_main; build the TRL and PEFT configs the sft and grpo
    stages build (the same functions), which checks them against TRL. Loads no model, reads no data."""
    from thinkact.training import grpo, sft  # torch + TRL: seconds, so not on `--help`

    with tempfile.TemporaryDirectory(prefix="thinkact-check-") as tmp:  # TRL configs want an output_dir
        sft.check_params(params, Path(tmp) / "sft")
        grpo.check_params(params, Path(tmp) / "grpo")
    return {"params": str(params_path())}


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, run, __doc__, argv, lock=False)  # writes nothing, takes no lock


if __name__ == "__main__":
    sys.exit(main())
