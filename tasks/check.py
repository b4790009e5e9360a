"""Stage `check`: every key of params.yaml checked before any stage does work.

Loads params.yaml ($THINKACT_PARAMS) into thinkact.config's typed sections — an unknown key, a wrong type, a value
out of range or a broken cross-field rule stops here with one line naming the key and the file — and checks the TRL
trainer settings (`sft.trainer`, `grpo.trainer`) against SFTConfig / GRPOConfig. Reads nothing else, writes
nothing, opens no MLflow run. dvc.yaml runs it first, on the bytes of params.yaml (a file dependency, not DVC's
params: DVC compares values, so `true` for `1` or a new unknown top-level key would look unchanged), and the
Prefect flow runs dvc.yaml's stages in order, so a bad parameter fails here, before DVC touches any stage's
outputs. Every stage loads params the same way, so one run by hand (`python -m tasks.sft`) checks them too.
It also checks that `model.base` is on this machine (nothing is downloaded at run time): if not, it stops with
the one-line fetch instruction before any stage loads a model.

With `--profile NAME` (the check stage of profiles/NAME/dvc.yaml, thinkact.profiles) it first writes the
profile's merged params (profiles/NAME/params.yaml, from params.yaml + profiles/NAME.yaml; a key that params.yaml
does not have stops naming it and the profile file) and checks those.

    python -m tasks.check            # what `dvc repro check` runs, from the project root
    python -m tasks.check --profile smollm2
"""
from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

from tasks import stage_main
from thinkact.config import Params
from thinkact.project import params_path
from thinkact.errors import ConfigError, ThinkactError

STAGE = "check"


def run(params: Params) -> dict:
    """The params are already loaded (and so checked) by stage_main; build the TRL and PEFT configs the sft and grpo
    stages build (the same functions), which checks them against TRL. Loads no model, reads no data."""
    from thinkact.models.loading import check_available
    from thinkact.training import grpo, sft  # torch + TRL: seconds, so not on `--help`

    try:
        check_available(params.model.base)
    except ThinkactError as e:
        raise ConfigError("model.base", str(e), str(params_path())) from None
    if params.launch.num_processes > 1 or params.launch.config_file:
        from thinkact.distributed import check_launch

        check_launch(params.launch.num_processes, params.launch.config_file, str(params_path()))
    for key, on in (("grpo.trainer.use_vllm", params.grpo.trainer.get("use_vllm")),
                    ("evaluate.use_vllm", params.evaluate.use_vllm)):
        if on and importlib.util.find_spec("vllm") is None:  # else it would fail only after sft, at grpo's start
            raise ConfigError(key, "is true but vllm is not installed: pip install -c constraints.txt vllm on the CUDA "
                                   "machine, or set it to false", str(params_path()))

    with tempfile.TemporaryDirectory(prefix="thinkact-check-") as tmp:  # TRL configs want an output_dir
        sft.check_params(params, Path(tmp) / "sft")
        grpo.check_params(params, Path(tmp) / "grpo")
    return {"params": str(params_path())}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--profile" in argv[:-1]:  # profiles/<name>/dvc.yaml's check: write the merged params, then check them
        i = argv.index("--profile")
        name, argv = argv[i + 1], argv[:i] + argv[i + 2:]
        from thinkact import profiles

        try:
            os.environ["THINKACT_PARAMS"] = str(profiles.write_params(name))
        except ThinkactError as e:
            print(f"{STAGE}: {e}", file=sys.stderr)
            return 1
    return stage_main(STAGE, run, __doc__, argv, lock=False)  # writes no stage outputs, takes no lock


if __name__ == "__main__":
    sys.exit(main())
