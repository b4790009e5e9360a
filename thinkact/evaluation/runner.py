"""Evaluate models end to end: generate on every split, score with the reward functions, write every output.

The one implementation behind the `evaluate` stage (tasks/evaluate.py) and `thinkact evaluate` (any model, any
contract JSONL, BFCL categories). `models` maps a report label to a model spec (see thinkact.evaluation.predict).

    ev, info = run_evaluation(params, {"base": "base", "sft": "sft", "grpo": "grpo"}, examples, "outputs/evaluate")
"""
from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from thinkact.config import Params
from thinkact.contract import Example, read_jsonl
from thinkact.errors import ThinkactError
from thinkact.evaluation.plots import reward_curves_png
from thinkact.evaluation.predict import STAGE_MODELS, predict_model
from thinkact.evaluation.report import PLOTS_DIR, write_evaluation
from thinkact.evaluation.summary import evaluate_completions, Evaluation
from thinkact.io import atomic_write_bytes, atomic_write_json

RUN_FILE = "run.json"                # what was evaluated: models, splits, data md5s, timings
REWARD_CURVES_PNG = "grpo_rewards.png"


def examples_md5(examples: Sequence[Example]) -> str:
    """A content hash of the evaluated examples, in order: equal hashes = the very same evaluation data."""
    digest = hashlib.md5()
    for ex in examples:
        digest.update(ex.to_json().encode())
        digest.update(b"\n")
    return digest.hexdigest()


def label_of(spec: str) -> str:
    """A report label for a model spec: 'models:/agent@champion' -> 'champion', '/x/sft/model' -> 'sft_model'."""
    if "@" in spec:
        spec = spec.rsplit("@", 1)[1]
    parts = [p for p in re.split(r"[/\\]", spec) if p and p not in (".", "..", "models:")]
    label = "_".join(parts[-2:]) if parts else "model"
    return re.sub(r"[^A-Za-z0-9_]+", "_", label).strip("_").lower() or "model"


def eval_splits(params: Params, splits: Sequence[str], key: str = "evaluate.splits") -> dict[str, list[Example]]:
    """split -> the examples evaluated: the first `evaluate.max_examples` of <paths.data>/<split>.jsonl (all when 0).
    The evaluate stage and the promotion gate read them here, so both see the very same examples."""
    limit = params.evaluate.max_examples or None
    out = {}
    for split in splits:
        path = Path(params.paths.data) / f"{split}.jsonl"
        if not path.is_file():
            raise ThinkactError(f"{path}: missing; {key} in params.yaml names split '{split}' "
                                f"(generate the data with `thinkact data generate` or fix {key})")
        out[split] = read_jsonl(path)[:limit]
    return out


def check_models(models: Mapping[str, str], params: Params) -> None:
    """Fail before anything loads when a pipeline model (sft, grpo) has not been trained."""
    for spec in models.values():
        if spec in STAGE_MODELS:
            params.paths.stage_model(spec)


def run_evaluation(params: Params, models: Mapping[str, str], examples: Mapping[str, Sequence[Example]],
                   out_dir: str | Path, *,
                   title: str = "Evaluation", reward_history: list[dict[str, float]] | None = None
                   ) -> tuple[Evaluation, dict[str, Any]]:
    """Generate with each model on each split, score and write `out_dir` (report.py's layout + run.json); the
    caller logs the result to its MLflow run with `log_evaluation`."""
    out = Path(out_dir)
    check_models(models, params)
    t0 = time.perf_counter()
    completions: dict[str, dict[str, list[str]]] = {}
    seconds: dict[str, float] = {}
    for label, spec in models.items():
        completions[label], seconds[label] = predict_model(spec, params, examples)
        print(f"[evaluate] {label} ({spec}): {sum(map(len, examples.values()))} examples in {seconds[label]:.1f} s",
              flush=True)
    ev = evaluate_completions(examples, completions, reward_options=params.grpo.reward_options,
                              bootstrap=params.evaluate.bootstrap)
    write_evaluation(ev, out, title)
    if reward_history:
        atomic_write_bytes(out / PLOTS_DIR / REWARD_CURVES_PNG, reward_curves_png(reward_history))
    info = {"models": dict(models), "splits": {s: len(e) for s, e in examples.items()},
            "eval_data_md5": {s: examples_md5(e) for s, e in examples.items()},
            "generation_seconds": {k: round(v, 1) for k, v in seconds.items()},
            "seconds": round(time.perf_counter() - t0, 1)}
    atomic_write_json(out / RUN_FILE, info)
    return ev, info


def log_evaluation(tracked: Any, ev: Evaluation, out: Path, info: Mapping[str, Any]) -> None:
    """Every mean and delta as an MLflow metric (`<model>/<split>/<metric>`), the files as artifacts."""
    metrics = {f"{m}/{s}/{k}": e.value for m in ev.models for s in ev.splits
               for k, e in ev.summary[m][s].items() if e.value is not None}
    metrics.update({f"delta/{pair}/{s}/{k}": e.value for pair, d in ev.deltas.items() for s in ev.splits
                    for k, e in d[s].items() if e.value is not None})
    metrics.update({f"generation_seconds/{k}": v for k, v in info["generation_seconds"].items()})
    tracked.log_metrics(metrics)
    tracked.set_tags({f"thinkact.eval_md5.{s}": v for s, v in info["eval_data_md5"].items()})
    for name in ("metrics.json", "report.md", RUN_FILE):
        tracked.log_artifact(out / name)
    tracked.log_artifacts(out / PLOTS_DIR, PLOTS_DIR)
    tracked.log_artifacts(out / "predictions", "predictions")
