"""SFT learning curves: exact tool-call match on test_id and test_env against training minutes.

Runs the project's own sft core (thinkact.training.sft.train_sft) with a probe callback that, every
`--every` steps, pauses the clock, generates greedily for the first `--n` call targets of each split and
scores them with the `tool_call_exact` reward (the same function GRPO and evaluation use).

    python experiments/learning_curves.py --profile tiny --every 500 --n 130 --name tiny-copy-warmup  # the default
    python experiments/learning_curves.py --profile smollm2-lora --minutes 8 --n 20 --max-steps 5000
    python experiments/learning_curves.py --profile tiny --set model.tiny.hidden_size=128 --name tiny-h128

`--set KEY=VALUE` overrides any model.* / sft.* key of params.yaml (VALUE is read as YAML). `--clock cpu` counts
the process's CPU seconds instead of wall seconds toward `--minutes`: with one torch thread (sft.cpu_threads: 1)
that is the wall time of a quiet machine, so runs on a shared machine compare fairly.

Writes experiments/results/learning_curve_<name>.json (and a PNG of all curves present).
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

import yaml  # noqa: E402
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
                # max_length 1536: with SmolLM2's tokenizer 57 % of the train examples are over 768 tokens (prompts
                # average ~750, up to 1,226) and TRL would cut their target turn
                "trainer": {"learning_rate": 1.0e-3, "per_device_train_batch_size": 4, "warmup_steps": 2,
                            "max_length": 1536}},
    },
}
RESULTS = ROOT / "experiments" / "results"
DEFAULT_CURVE = "tiny-copy-warmup"  # the params.yaml default's run, drawn bold


class Probe(TrainerCallback):
    """Every `every` steps: exact match on held-out call targets; the time it takes is not training time."""

    def __init__(self, tokenizer, splits, every, minutes, clock="wall"):
        self.tokenizer, self.splits, self.every, self.budget = tokenizer, splits, every, minutes * 60
        self.exact = build(["tool_call_exact"])[0]
        self.partial = build(["tool_call"])[0]
        self.clock = time.process_time if clock == "cpu" else time.monotonic
        self.points, self.train_seconds, self.wall_seconds, self._mark, self._wall = [], 0.0, 0.0, None, None

    def on_train_begin(self, args, state, control, model=None, **kw):
        self._mark, self._wall = self.clock(), time.monotonic()

    def on_step_end(self, args, state, control, model=None, **kw):
        self.train_seconds += self.clock() - self._mark
        self.wall_seconds += time.monotonic() - self._wall
        if state.global_step % self.every == 0 or self.train_seconds >= self.budget:
            point = {"step": state.global_step, "minutes": round(self.train_seconds / 60, 2),
                     "wall_minutes": round(self.wall_seconds / 60, 2)}
            for split, examples in self.splits.items():
                texts = generate_completions(model, self.tokenizer, examples, max_new_tokens=96, batch_size=16,
                                             progress=False)
                targets = [json.dumps(e.target.to_dict()) for e in examples]
                scores = self.exact(texts, target=targets)
                point[split] = round(sum(scores) / len(scores), 3)
                partial = self.partial(texts, target=targets)
                point[f"{split}_partial"] = round(sum(partial) / len(partial), 3)
            self.points.append(point)
            print(json.dumps(point), flush=True)
            if self.train_seconds >= self.budget:
                control.should_training_stop = True
        self._mark, self._wall = self.clock(), time.monotonic()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", choices=PROFILES, default="tiny")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--max-steps", type=int, help="override sft.trainer.max_steps (the schedule's length)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a model.* or sft.* key, e.g. sft.trainer.learning_rate=0.01")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--name", help="results file suffix (default: the profile)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder for the JSON and the PNG")
    args = ap.parse_args()
    params = load_params()
    over = json.loads(json.dumps(PROFILES[args.profile]))
    for item in args.set:  # model.base=..., model.tiny.hidden_size=..., sft.cpu_threads=..., sft.trainer.X=...
        key, _, value = item.partition("=")
        section, *path = key.split(".")
        if section not in ("model", "sft") or len(path) not in (1, 2):
            ap.error(f"--set {item}: use model.KEY=VALUE, sft.KEY=VALUE or sft.trainer.KEY=VALUE")
        if len(path) == 2:
            base = dict(getattr(getattr(params, section), path[0]) or {})
            over[section][path[0]] = {**base, **over[section].get(path[0], {}), path[1]: yaml.safe_load(value)}
        else:
            over[section][path[0]] = yaml.safe_load(value)
    trainer = {**params.sft.trainer, **over["sft"].get("trainer", {}), "save_steps": 10**9, "logging_steps": args.every}
    if args.max_steps:
        trainer["max_steps"] = args.max_steps
    params = dataclasses.replace(
        params, model=dataclasses.replace(params.model, **over["model"]),
        sft=dataclasses.replace(params.sft, trainer=trainer, **{k: v for k, v in over["sft"].items() if k != "trainer"}))
    data = Path(params.paths.data)
    train = read_jsonl(data / "train.jsonl")
    splits = {s: [e for e in read_jsonl(data / f"{s}.jsonl") if e.target.is_call][: args.n] for s in ("test_id", "test_env")}
    from thinkact.models.loading import read_meta
    from thinkact.models.base import load_base

    _, tokenizer = load_base(params, train)  # builds builtin:tiny (and its copy warm-up) before the clock starts
    warmup = read_meta(tokenizer.name_or_path).get("copy_warmup")  # the folder it was built into; None otherwise
    probe = Probe(tokenizer, splits, args.every, args.minutes, args.clock)
    name = args.name or args.profile
    out = Path("/tmp") / f"learning_curve_{name}"
    started = time.monotonic()
    result = train_sft(params, train, out, NullRun(), callbacks=[probe])
    args.results.mkdir(parents=True, exist_ok=True)
    record = {"profile": name, "base": params.model.base, "tiny": params.model.tiny, "lora": params.sft.lora,
              "cpu_threads": params.sft.cpu_threads, "clock": args.clock, "overrides": args.set,
              "trainer": {k: v for k, v in trainer.items() if k not in ("save_steps", "save_total_limit", "report_to")},
              "copy_warmup": warmup, "probe_examples": args.n, "steps": result.steps,
              "wall_seconds": round(time.monotonic() - started),
              "train_seconds_per_step": round(probe.train_seconds / max(result.steps, 1), 3),
              "train_wall_seconds_per_step": round(probe.wall_seconds / max(result.steps, 1), 3),
              "load_average": os.getloadavg(), "points": probe.points}
    (args.results / f"learning_curve_{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    plot(args.results)


def plot(results: Path = RESULTS) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    paths = sorted(results.glob("learning_curve_*.json"))
    for i, path in enumerate(paths):  # test_id only: test_env stays near 0 for all
        rec = json.loads(path.read_text())
        name = path.stem.removeprefix("learning_curve_")  # the run's --name: profile and variant
        start = ((rec.get("copy_warmup") or {}).get("seconds") or 0) / 60  # builtin:tiny's copy warm-up is training
        ax.plot([start + p["minutes"] for p in rec["points"]], [p["test_id"] for p in rec["points"]], marker="o",
                color="black" if name == DEFAULT_CURVE else plt.cm.tab20(i % 20),
                lw=2.5 if name == DEFAULT_CURVE else 1, label=name)
    ax.set_xlabel("training minutes, builtin:tiny's copy warm-up included (this 2-core CPU)")
    ax.set_ylabel("exact tool-call match, test_id")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(results / "learning_curves.png", dpi=110)


if __name__ == "__main__":
    main()
