"""Stage `evaluate`: base vs SFT vs GRPO on every evaluation split and on agent episodes, with bootstrap CIs and
paired deltas.

Reads params.yaml (`evaluate`, `episodes`, `model`, `grpo.reward_options`, `dev`), `<paths.data>/<split>.jsonl` (the
first `evaluate.max_examples` of each split), `<paths.data>/episodes/<split>.jsonl` for `evaluate.episodes.splits`
(the first `evaluate.episodes.max_examples`; the split `dev` is what thinkact.data.dev holds out of the train rows
and episodes), the BFCL categories of `evaluate.bfcl.categories` from the installed
bfcl-eval package (the first `evaluate.bfcl.max_examples` of each, evaluated as the splits `bfcl_<category>`: an
external benchmark, reported like the other splits and never part of the register stage's promotion gate, which
reads `register.splits` only), the sft and grpo stages' models, `<paths.outputs>/grpo/rewards.json` and
`<paths.outputs>/sft/loss.json` (curves); writes `<paths.outputs>/evaluate/`: headline/ (DVC metrics: a
handful of numbers per model and split in %), metrics.json (model -> split -> metric with `_ci` and `_n`, "deltas",
and "episodes" with the episode metrics in the same shape), report.md (the paper-style table, then the agent
episodes section), predictions/<model>/<split>.jsonl (completions with their scores),
predictions/episodes/<model>/<split>.jsonl (greedy episode transcripts), plots/ (PNG figures, DVC plot data, and
index.html with every figure inline, which opens offline) and run.json (what was evaluated, data hashes, timings,
episode throughput) — all into a staging folder that replaces `<paths.outputs>/evaluate/` whole once everything
is written, so a failed run leaves the last results — and logs all to MLflow (episode metrics as
`episodes/<model>/<split>/<metric>`). Metrics are the reward functions themselves (thinkact.evaluation.metrics,
the episode rewards), so they cannot drift from GRPO's.

    python -m tasks.evaluate          # what `dvc repro evaluate` runs, from the project root
"""
from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from tasks import stage_main
from thinkact import distributed
from thinkact.config import Params
from thinkact.data.dev import source_split, split_file
from thinkact.env.spec import episode_path
from thinkact.evaluation.report import render_headline
from thinkact.importers.bfcl import bfcl_file
from thinkact.io import atomic_dir
from thinkact.tracking import stage_run

STAGE = "evaluate"


def run(params: Params) -> dict:
    """Evaluate params.evaluate.models on params.evaluate.splits, the BFCL categories (bfcl_<category>) and the
    episode splits; returns the headline."""
    # torch and transformers load here, not at import: a stage launched on several processes (tasks.stage_main)
    # does not pay for them in the launching process
    from thinkact.evaluation.runner import (bfcl_split, bfcl_splits, check_models, episode_headline, episode_splits,
                                            eval_splits, log_evaluation, run_evaluation)

    settings = params.evaluate
    models = {name: name for name in settings.models}
    check_models(models, params)  # a missing sft/grpo model fails before anything loads
    examples = {**eval_splits(params, settings.splits), **bfcl_splits(params)}  # bfcl: {} without categories
    episodes = episode_splits(params, settings.episodes.splits)  # {} when evaluate.episodes.splits is empty
    rewards_file = params.paths.stage_dir("grpo") / "rewards.json"
    history = json.loads(rewards_file.read_text(encoding="utf-8")) if rewards_file.is_file() else None
    loss_file = params.paths.stage_dir("sft") / "loss.json"
    loss = json.loads(loss_file.read_text(encoding="utf-8")) if loss_file.is_file() else None
    out = params.paths.stage_dir(STAGE)
    logged = {STAGE: asdict(settings), "model": asdict(params.model), "grpo.reward_options": params.grpo.reward_options,
              "episodes": asdict(params.episodes), **({"dev": asdict(params.dev)} if params.dev.on else {})}
    with stage_run(STAGE, params=logged) as tracked:
        data = Path(params.paths.data)   # the evaluation data as the run's dataset inputs, with their md5s
        tracked.log_datasets({**{s: split_file(data, s) for s in settings.splits},  # dev: train.jsonl, cut
                              **{bfcl_split(c): bfcl_file(c) for c in settings.bfcl.categories},
                              **{f"episodes/{s}": episode_path(data, source_split(s))
                                 for s in settings.episodes.splits}},
                             context="evaluation")
        # the last good results stay whole until this run's are all written; with several processes only the main one
        # writes them (the others generate their slices and score into a folder that is thrown away)
        with atomic_dir(out) if distributed.is_main() else tempfile.TemporaryDirectory() as staged:
            result = run_evaluation(params, models, examples, staged, reward_history=history, loss_history=loss,
                                    title="thinkact evaluation: base vs SFT vs GRPO", episodes=episodes)
        log_evaluation(tracked, result, out)
    ev, eev, info = result
    if not distributed.is_main():
        return {}
    last = settings.models[-1]
    headline = {"seconds": info["seconds"]}
    if ev is not None:
        print(render_headline(ev), flush=True)
        headline.update({f"{last}/{s}/tool_call_exact": ev.summary[last][s]["tool_call_exact"].value
                         for s in ev.splits})
    if eev is not None:
        print(episode_headline(eev), flush=True)
        headline.update({f"episodes/{last}/{s}/episode_success": eev.summary[last][s]["episode_success"].value
                         for s in eev.splits})
    return headline


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
