"""Stage `evaluate`: base vs SFT vs GRPO on every evaluation split, with bootstrap CIs and paired deltas.

Reads params.yaml (`evaluate`, `model`, `grpo.reward_options`), `<paths.data>/<split>.jsonl` (the first
`evaluate.max_examples` of each split), the sft and grpo stages' models and `<paths.outputs>/grpo/rewards.json`;
writes `<paths.outputs>/evaluate/`: metrics.json (DVC metrics: model -> split -> metric with `_ci` and `_n`, and
"deltas"), report.md (the paper-style table), predictions/<model>/<split>.jsonl (completions with their scores),
plots/ (PNG figures, DVC plot data) and run.json (what was evaluated, data hashes, timings); logs all to MLflow.
Metrics are the reward functions themselves (thinkact.evaluation.metrics), so they cannot drift from GRPO's.

    python -m tasks.evaluate          # what `dvc repro evaluate` runs, from the project root
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict

from tasks import stage_main
from thinkact.config import Params
from thinkact.evaluation.report import render_headline
from thinkact.evaluation.runner import check_models, eval_splits, log_evaluation, run_evaluation
from thinkact.tracking import stage_run

STAGE = "evaluate"


def run(params: Params) -> dict:
    """Evaluate params.evaluate.models on params.evaluate.splits; returns the headline figures."""
    settings = params.evaluate
    models = {name: name for name in settings.models}
    check_models(models, params)  # a missing sft/grpo model fails before anything loads
    examples = eval_splits(params, settings.splits)
    rewards_file = params.paths.stage_dir("grpo") / "rewards.json"
    history = json.loads(rewards_file.read_text(encoding="utf-8")) if rewards_file.is_file() else None
    out = params.paths.stage_dir(STAGE)
    logged = {STAGE: asdict(settings), "model": asdict(params.model), "grpo.reward_options": params.grpo.reward_options}
    with stage_run(STAGE, params=logged) as tracked:
        ev, info = run_evaluation(params, models, examples, out, reward_history=history,
                                  title="thinkact evaluation: base vs SFT vs GRPO")
        log_evaluation(tracked, ev, out, info)
    print(render_headline(ev), flush=True)
    last = ev.models[-1]
    return {"seconds": info["seconds"], **{f"{last}/{s}/tool_call_exact": ev.summary[last][s]["tool_call_exact"].value
                                           for s in ev.splits}}


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
