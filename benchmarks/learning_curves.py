"""SFT learning curves: exact tool-call match on test_id and test_env against training minutes.

Runs the project's own sft core (thinkact.training.sft.train_sft) with a probe callback that, every
`--every` steps, pauses the clock, generates greedily for the first `--n` call targets of each split and
scores them with the `tool_call_exact` reward (the same function GRPO and evaluation use).

    python benchmarks/learning_curves.py --profile tiny   --minutes 5
    python benchmarks/learning_curves.py --profile smollm2-lora --minutes 8 --n 20

Writes benchmarks/results/learning_curve_<profile>.json (and a PNG of all curves present).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("THINKACT_TRACKING", "0")

from transformers import TrainerCallback  # noqa: E402

from thinkact.config import load_params  # noqa: E402
from thinkact.contract import read_jsonl  # noqa: E402
from thinkact.generation import generate_completions  # noqa: E402
from thinkact.rewards import build  # noqa: E402
from thinkact.tracking import NullRun  # noqa: E402
from thinkact.training.sft import train_sft  # noqa: E402

PROFILES = {  # overrides of params.yaml (model, sft)
    "tiny": {"model": {}, "sft": {}},
    "smollm2-lora": {
        "model": {"base": "builtin:smollm2-135m"},
        "sft": {"lora": {"r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": "all-linear"},
                "trainer": {"learning_rate": 1.0e-3, "per_device_train_batch_size": 4, "warmup_steps": 2}},
    },
}
RESULTS = ROOT / "benchmarks" / "results"


class Probe(TrainerCallback):
    """Every `every` steps: exact match on held-out call targets; the time it takes is not training time."""

    def __init__(self, tokenizer, splits, every, minutes):
        self.tokenizer, self.splits, self.every, self.budget = tokenizer, splits, every, minutes * 60
        self.exact = build(["tool_call_exact"])[0]
        self.points, self.train_seconds, self._mark = [], 0.0, None

    def on_train_begin(self, args, state, control, model=None, **kw):
        self._mark = time.monotonic()

    def on_step_end(self, args, state, control, model=None, **kw):
        now = time.monotonic()
        self.train_seconds += now - self._mark
        if state.global_step % self.every == 0 or self.train_seconds >= self.budget:
            point = {"step": state.global_step, "minutes": round(self.train_seconds / 60, 2)}
            for split, examples in self.splits.items():
                texts = generate_completions(model, self.tokenizer, examples, max_new_tokens=96, batch_size=16,
                                             progress=False)
                scores = self.exact(texts, target=[json.dumps(e.target.to_dict()) for e in examples])
                point[split] = round(sum(scores) / len(scores), 3)
            self.points.append(point)
            print(json.dumps(point), flush=True)
            if self.train_seconds >= self.budget:
                control.should_training_stop = True
        self._mark = time.monotonic()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", choices=PROFILES, default="tiny")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--max-steps", type=int, default=5000)
    args = ap.parse_args()
    params = load_params()
    over = PROFILES[args.profile]
    trainer = {**params.sft.trainer, **over["sft"].get("trainer", {}), "max_steps": args.max_steps,
               "save_steps": 10**9, "logging_steps": args.every}
    params = dataclasses.replace(
        params, model=dataclasses.replace(params.model, **over["model"]),
        sft=dataclasses.replace(params.sft, trainer=trainer, **{k: v for k, v in over["sft"].items() if k != "trainer"}))
    data = Path(params.paths.data)
    train = read_jsonl(data / "train.jsonl")
    splits = {s: [e for e in read_jsonl(data / f"{s}.jsonl") if e.target.is_call][: args.n] for s in ("test_id", "test_env")}
    from thinkact.training.common import load_base

    _, tokenizer = load_base(params, train)
    probe = Probe(tokenizer, splits, args.every, args.minutes)
    out = Path("/tmp") / f"learning_curve_{args.profile}"
    started = time.monotonic()
    result = train_sft(params, train, out, NullRun(), callbacks=[probe])
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {"profile": args.profile, "base": params.model.base, "lora": params.sft.lora,
              "trainer": {k: trainer[k] for k in ("learning_rate", "per_device_train_batch_size", "max_length")
                          if k in trainer},
              "probe_examples": args.n, "steps": result.steps, "wall_seconds": round(time.monotonic() - started),
              "points": probe.points}
    (RESULTS / f"learning_curve_{args.profile}.json").write_text(json.dumps(record, indent=1) + "\n")
    plot()


def plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for path in sorted(RESULTS.glob("learning_curve_*.json")):
        rec = json.loads(path.read_text())
        for split, style in (("test_id", "-"), ("test_env", "--")):
            ax.plot([p["minutes"] for p in rec["points"]], [p[split] for p in rec["points"]], style, marker="o",
                    label=f"{rec['profile']} {split}")
    ax.set_xlabel("training minutes (this 2-core CPU)")
    ax.set_ylabel("exact tool-call match")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "learning_curves.png", dpi=110)


if __name__ == "__main__":
    main()
