"""Stage `grpo`: TRL's GRPOTrainer from the SFT model (or, with `grpo.init: sft@<step>`, the model the sft stage kept
at that step of `sft.keep_steps`; with `grpo.init: base`, the base model), with the registry's rewards (tool-call
accuracy, answer correctness, format, reasoning consistency) weighted as params.yaml says. With `grpo.mode: episodes`
it trains on whole agent episodes (`<paths.data>/episodes/train.jsonl`), tools running in every rollout, on episode
rewards. Either way the dev split (`dev`: thinkact.data.dev) is held out of what it trains on and of the
difficulty pre-pass.

Reads `<paths.outputs>/sft/model/` (or `sft/steps/<step>/`), `<paths.data>/train.jsonl` and params.yaml (`model`,
`grpo`, `dev`); writes `<paths.outputs>/grpo/model/` (safetensors, tokenizer with the chat template, model card naming
the model it started from (`init`, `start`, `start_steps`; `start` is an MLflow param too), the train file's md5 and
this stage's MLflow run, which the register stage logs the registered version to), `metrics.json` (DVC metrics:
steps, time, mean total reward and share of zero-spread groups over the first and last 10 % of steps, the
difficulty pre-pass's summary and pass-rate histogram), `rewards.json` (DVC plot: the reward per step),
`difficulty.jsonl` (with `grpo.difficulty`: each candidate prompt's pass rate, mean reward and spread under the
starting policy, and whether it is in the band; empty when off) and `samples/step-NNNNN.jsonl` (completions with
their rewards every `grpo.sample_every` steps);
logs the train file as the run's dataset input (with its md5), every TRL metric per step, the samples and the model
card to MLflow. A rerun after a crash resumes from the last checkpoint in `<paths.outputs>/grpo/checkpoints/`; the
previous model and samples stay until the new ones are complete (`model/` and `samples/` are DVC outs with
`persist: true`: DVC leaves them to the stage, which replaces each in one step).

    python -m tasks.grpo              # what `dvc repro grpo` runs, from the project root
"""
from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from tasks import stage_main
from thinkact.env.spec import episode_path, read_episodes
from thinkact.config import Params
from thinkact.contract import read_jsonl
from thinkact.io import atomic_write_json, file_md5
from thinkact.tracking import TRAIN_MD5_TAG, stage_run
from thinkact.tracking.model_registry import CARD_RUN_KEY

STAGE = "grpo"


def run(params: Params) -> dict:
    """Train and save the GRPO model; returns the stage metrics."""
    from thinkact.training.checkpoints import update_card  # heavy (TRL): not in a launching process (tasks.sft)
    from thinkact.training.grpo import check_params, start_folder, train_grpo

    out = params.paths.stage_dir(STAGE)
    check_params(params, out / "checkpoints")  # bad params fail before anything loads or runs
    start = start_folder(params)               # and so does a missing SFT model (or kept step)
    if params.grpo.mode == "episodes":
        train_path, name = episode_path(params.paths.data, "train"), "episodes/train"
        train = read_episodes(train_path)
    else:
        train_path, name = Path(params.paths.data) / "train.jsonl", "train"
        train = read_jsonl(train_path)
    md5 = file_md5(train_path)
    logged = {"model": asdict(params.model), STAGE: asdict(params.grpo), "episodes": asdict(params.episodes),
              "start": str(start or params.model.base),  # the model it starts from (grpo.init)
              **({"dev": asdict(params.dev)} if params.dev.on else {})}
    with stage_run(STAGE, params=logged, tags={TRAIN_MD5_TAG: md5}) as tracked:
        tracked.log_datasets({name: train_path}, context="training", digests={name: md5})
        result = train_grpo(params, train, out, tracked, data_md5=md5)
        if tracked.run_id:  # the registered version's run will be this one
            update_card(out / "model", {CARD_RUN_KEY: tracked.run_id})
        metrics = result.to_dict()
        atomic_write_json(out / "metrics.json", metrics)
        tracked.log_metrics({**{k: v for k, v in metrics.items() if isinstance(v, (int, float))},
                             **{f"reward_last/{k}": v for k, v in metrics["rewards_last"].items()}})
        tracked.log_artifact(out / "metrics.json")
        tracked.log_artifact(out / "model" / "thinkact-card.json", "model")
        tracked.log_artifact(out / "rewards.json")
        if metrics["difficulty"]:  # the pre-pass's records (its histogram went to the run as metrics)
            tracked.log_artifact(out / "difficulty.jsonl")
    return metrics


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
