"""Stage `sft`: the paper's baseline, TRL's SFTTrainer on the train split (no thinking by default).

Reads `<paths.data>/train.jsonl` and params.yaml (`model`, `sft`), writes `<paths.outputs>/sft/model/`
(safetensors, tokenizer with the chat template, model card naming the train file's md5 and this stage's MLflow
run, which the register stage logs the registered version to), `metrics.json` (DVC metrics) and `loss.json`
(DVC plot); logs params, the train file as the run's dataset input (with its md5), the loss curve and the model
card to MLflow. A rerun after a crash resumes from the last checkpoint in `<paths.outputs>/sft/checkpoints/`; the
previous model stays in place until the new one is complete.

    python -m tasks.sft               # what `dvc repro sft` runs, from the project root
"""
from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from tasks import stage_main
from thinkact.config import Params
from thinkact.contract import read_jsonl
from thinkact.io import atomic_write_json, file_md5
from thinkact.tracking import TRAIN_MD5_TAG, stage_run
from thinkact.tracking.model_registry import CARD_RUN_KEY

STAGE = "sft"


def run(params: Params) -> dict:
    """Train and save the SFT model; returns the stage metrics."""
    # torch, transformers and TRL load here, not at import: a stage launched on several processes (tasks.stage_main)
    # does not pay for them in the launching process
    from thinkact.training.checkpoints import update_card
    from thinkact.training.sft import check_params, train_sft

    out = params.paths.stage_dir(STAGE)
    check_params(params, out / "checkpoints")  # bad params fail before anything loads or runs
    train_path = Path(params.paths.data) / "train.jsonl"
    train = read_jsonl(train_path)
    md5 = file_md5(train_path)
    logged = {"model": asdict(params.model), STAGE: asdict(params.sft)}
    with stage_run(STAGE, params=logged, tags={TRAIN_MD5_TAG: md5}) as tracked:
        tracked.log_datasets({"train": train_path}, context="training", digests={"train": md5})
        result = train_sft(params, train, out, tracked, data_md5=md5)
        if tracked.run_id:  # the registered version's run will be this one
            update_card(out / "model", {CARD_RUN_KEY: tracked.run_id})
        metrics = result.to_dict()
        atomic_write_json(out / "metrics.json", metrics)
        tracked.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        tracked.log_artifact(out / "metrics.json")
        tracked.log_artifact(out / "model" / "thinkact-card.json", "model")
        tracked.log_artifact(out / "loss.json")
    return metrics


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
