"""Stage `register`: the evaluated SFT and GRPO models become versions of one registered MLflow model, and
`champion` moves to the best one the evidence supports: the GRPO version when it passes the promotion gate, else
the SFT version when it does; the one that passed (else GRPO) holds the alias `challenger`.

Reads `<paths.outputs>/sft/model/`, `<paths.outputs>/grpo/model/`, the evaluate stage's `metrics.json`, `report.md`
and `predictions/<model>/<split>.jsonl`, the evaluation splits in `<paths.data>` (`dev`: the rows thinkact.data.dev
holds out of train.jsonl) and params.yaml (`register`, `evaluate`, `dev`). Logs the evaluation artifacts to the
MLflow run `register`, and each model as a chat model (the saved folder with its chat template and response parser;
`mlflow models serve` answers OpenAI chat requests with tools) to the sft / grpo run that trained it (named in the
folder's model card; the `register` run when that run is not known, with the reason as the version's
`thinkact.source_run_why`), registers them as versions of `register.model_name` tagged with their role, the register
run, the training run, the evaluation data md5, the train file md5, DVC's hash of data/ and the git commit (the
register run names the versions and their runs back), runs the gate (thinkact.promotion.champion.promote_best)
against the current `champion` — with a champion, the paired test against it; with none yet, GRPO must beat the base
model and the SFT baseline, and SFT, tried when GRPO does not pass and the evaluate stage predicted it, must beat
the base model (paired, the same bootstrap and thresholds) — records each decision as tags on its version and writes
`<paths.outputs>/register/decision.json` (DVC metrics; `model` names the role that became champion or stays
challenger) and `decision.md`.

    python -m tasks.register          # what `dvc repro register` runs, from the project root
"""
from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from tasks import stage_main
from thinkact.config import Params
from thinkact.errors import ThinkactError
from thinkact.io import atomic_write_json, atomic_write_text, held_lock
from thinkact.promotion.champion import promote_best
from thinkact.promotion.champion import EVAL_MD5_TAG, PREDICTIONS_ARTIFACT, PREDICTIONS_TAG, eval_md5
from thinkact.tracking import stage_run
from thinkact.tracking.model_registry import CHALLENGER, CHAMPION, LOCK_TAG, Registry

STAGE = "register"
ROLES = ("sft", "grpo")       # registered, in this order
CHALLENGER_ROLE = "grpo"      # @challenger while the gate runs, and after it unless the SFT version passes


def _inputs(params: Params) -> tuple[Path, dict[str, Path]]:
    """The evaluate stage's folder and the models, checked before anything is logged."""
    evaluate = params.paths.stage_dir("evaluate")
    needed = [evaluate / "metrics.json"] + [evaluate / "predictions" / CHALLENGER_ROLE / f"{s}.jsonl"
                                            for s in params.register.splits]
    for path in needed:
        if not path.is_file():
            raise ThinkactError(f"{path}: missing; run the evaluate stage first (dvc repro evaluate), with every "
                                "register.splits split in evaluate.splits and grpo in evaluate.models")
    return evaluate, {role: params.paths.stage_model(role) for role in ROLES}


def run(params: Params) -> dict:
    """Register the models, run the gate, move the aliases; returns the decision as the stage metrics."""
    evaluate, models = _inputs(params)
    out = params.paths.stage_dir(STAGE)
    md5 = eval_md5(params)
    registry = Registry(params.register.model_name)
    tags = {EVAL_MD5_TAG: md5}
    lock = held_lock(out)  # under stage_main: RUNNING register runs under this same lock were killed
    if lock is not None:
        for run_id in registry.close_stale_runs(STAGE, lock):
            print(f"[{STAGE}] run {run_id} of a killed register stage marked KILLED", flush=True)
        tags[LOCK_TAG] = lock
    logged = {STAGE: asdict(params.register), "evaluate": {"bootstrap": asdict(params.evaluate.bootstrap),
                                                           "max_examples": params.evaluate.max_examples},
              **({"dev": asdict(params.dev)} if params.dev.on else {})}
    with stage_run(STAGE, params=logged, tags=tags) as tracked:
        registry.attach(tracked.run_id, evaluate / "metrics.json", "evaluation")
        if (evaluate / "report.md").is_file():
            registry.attach(tracked.run_id, evaluate / "report.md", "evaluation")
        registry.attach(tracked.run_id, evaluate / "predictions", PREDICTIONS_ARTIFACT)
        versions = {}
        for role, folder in models.items():
            tags = {EVAL_MD5_TAG: md5}
            if (evaluate / "predictions" / role).is_dir():  # in this run, not the version's (the training run)
                tags[PREDICTIONS_TAG] = f"runs:/{tracked.run_id}/{PREDICTIONS_ARTIFACT}/{role}"
            versions[role] = registry.log_model(folder, role=role, run_id=tracked.run_id, tags=tags)
            print(f"[{STAGE}] {role}: {versions[role].uri}", flush=True)
        registry.set_alias(CHALLENGER, versions[CHALLENGER_ROLE].version)
        decision = promote_best(registry, versions, params, predictions=evaluate / "predictions")
        champion = registry.alias(CHAMPION)
        result = {**decision.to_dict(), "versions": {r: v.version for r, v in versions.items()},
                  "champion_version": None if champion is None else champion.version}
        atomic_write_json(out / "decision.json", result)
        atomic_write_text(out / "decision.md", decision.to_markdown())
        tracked.set_tags({"thinkact.decision_model": decision.model or "",
                          **{f"thinkact.{r}_version": v.version for r, v in versions.items()},
                          **{f"thinkact.{r}_version_run": v.run_id for r, v in versions.items()}})
        tracked.log_metrics({"promoted": float(decision.promote),
                             **{k: getattr(decision, k) for k in ("delta", "delta_low", "delta_high", "n")
                                if getattr(decision, k) is not None}})
        tracked.log_artifact(out / "decision.json")
        tracked.log_artifact(out / "decision.md")
    print(decision.to_markdown(), flush=True)
    return {"promoted": decision.promote, "challenger": decision.challenger, "champion": result["champion_version"]}


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
