"""Stage `sft`: the paper's baseline, TRL's SFTTrainer on the train split (no thinking by default).

Reads `<paths.data>/train.jsonl` — and, with `sft.episode_cuts` (the default), the gold train episodes
`<paths.data>/episodes/train.jsonl` cut at each assistant turn (chains, parallel calls, clarifications: the
multi-turn demonstrations that make the baseline a fair agent) — less the dev split (`dev`: thinkact.data.dev) —
and params.yaml (`model`, `sft`, `dev`), writes
`<paths.outputs>/sft/model/` (safetensors, tokenizer with the chat template, model card naming the train file's md5
and this stage's MLflow run, which the register stage logs the registered version to), `steps/<step>/` (the model
of each step in `sft.keep_steps`, whole and carded the same way, for `grpo.init: sft@<step>`; `steps/kept.json`
lists them, [] by default),
`metrics.json` (DVC metrics) and `loss.json` (DVC plot); logs params, the train file as the run's dataset input
(with its md5), the loss curve and the model card to MLflow. A rerun after a crash resumes from the last checkpoint
in `<paths.outputs>/sft/checkpoints/` (the steps kept so far wait there too); the previous model and steps stay in
place until the new ones are complete.

    python -m tasks.sft               # what `dvc repro sft` runs, from the project root
"""
from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from tasks import stage_main
from thinkact.config import Params
from thinkact.contract import Example, read_jsonl
from thinkact.data.dev import kept_episodes
from thinkact.errors import ConfigError
from thinkact.io import atomic_write_json, file_md5
from thinkact.tracking import TRAIN_MD5_TAG, stage_run
from thinkact.tracking.model_registry import CARD_RUN_KEY

STAGE = "sft"


def episode_cuts(params: Params) -> tuple[list[Example], Path | None]:
    """With sft.episode_cuts: one example per gold assistant turn of each train episode the dev split leaves
    (`dev.episodes`: thinkact.data.dev; thinkact.data.episode_gen.gold_examples) and the episode file; else
    nothing."""
    if not params.sft.episode_cuts:
        return [], None
    from thinkact.data.episode_gen import gold_examples
    from thinkact.env.spec import episode_path, read_episodes
    from thinkact.tools.registry import open_tools

    path = episode_path(params.paths.data, "train")
    if not path.is_file():
        raise ConfigError("sft.episode_cuts", f"is true but {path} does not exist: generate the episodes (`thinkact "
                                              "data generate`) or set sft.episode_cuts: false")
    tools = open_tools(params.episodes.tools)  # the gold calls run on the project's tools, as in GRPO and evaluation
    return [cut for spec in kept_episodes(params.dev, read_episodes(path)) for cut in gold_examples(spec, tools)], path


def run(params: Params) -> dict:
    """Train and save the SFT model; returns the stage metrics."""
    # torch, transformers and TRL load here, not at import: a stage launched on several processes (tasks.stage_main)
    # does not pay for them in the launching process
    from thinkact.training.checkpoints import STEPS, update_card
    from thinkact.training.sft import check_params, train_sft

    out = params.paths.stage_dir(STAGE)
    check_params(params, out / "checkpoints")  # bad params fail before anything loads or runs
    train_path = Path(params.paths.data) / "train.jsonl"
    train = read_jsonl(train_path)
    cuts, episodes = episode_cuts(params)
    files = {"train": train_path, **({"episodes/train": episodes} if episodes else {})}
    digests = {name: file_md5(path) for name, path in files.items()}
    md5 = digests["train"]
    logged = {"model": asdict(params.model), STAGE: asdict(params.sft),
              **({"dev": asdict(params.dev)} if params.dev.on else {})}
    with stage_run(STAGE, params=logged, tags={TRAIN_MD5_TAG: md5}) as tracked:
        tracked.log_datasets(files, context="training", digests=digests)
        result = train_sft(params, train, out, tracked, data_md5=md5, cuts=cuts,
                           cuts_md5=digests.get("episodes/train"))
        if tracked.run_id:  # the registered version's run will be this one (and the kept steps' run)
            for folder in (out / "model", *(out / STEPS / str(step) for step in params.sft.keep_steps)):
                update_card(folder, {CARD_RUN_KEY: tracked.run_id})
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
