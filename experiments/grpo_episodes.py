"""GRPO on agent episodes from a trained SFT model, then SFT vs GRPO on the episode splits (greedy, paired).

Trains the grpo stage with `grpo.mode: episodes` on <data>/episodes/train.jsonl (tools running in every rollout,
episode rewards), starting from an SFT model folder, into a scratch folder; then plays the test episodes with both
models and prints episode success with 95 % intervals and the paired GRPO − SFT delta. Records everything in
experiments/results/grpo_episodes_<name>.json. Needs the built-in data (`thinkact data generate`) and an SFT model
(the sft stage's outputs/sft/model, or README command 1).

    python experiments/grpo_episodes.py --sft outputs/sft/model --steps 120 --lr 1e-4 --name lr1e-4
    python experiments/grpo_episodes.py --sft outputs/sft/model --steps 120 --lr 0 --name control   # no update
    python experiments/grpo_episodes.py --sft outputs/sft/model --lr 3e-4 --num-generations 8 --temperature 1.0 \
        --weights 1,0.5,0.5,1 --name g8-t1-valid
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.grpo import run as run_grpo  # noqa: E402
from thinkact.config import load_params, params_from_raw  # noqa: E402
from thinkact.env.spec import episode_path, read_episodes  # noqa: E402
from thinkact.evaluation.episode_eval import evaluate_episodes  # noqa: E402
from thinkact.models.loading import load_model# noqa: E402
from thinkact.models.base import set_cpu_threads

REWARDS = ["episode_success", "episode_call_recall", "episode_answer_facts", "episode_valid_calls"]
WEIGHTS = [1.0, 0.5, 0.5, 0.2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sft", type=Path, required=True, help="the SFT model folder GRPO starts from")
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--max-completion-length", type=int, default=640, help="tokens of a whole episode")
    ap.add_argument("--num-generations", type=int, default=4, help="completions per episode (the group)")
    ap.add_argument("--weights", default=",".join(map(str, WEIGHTS)),
                    help="reward weights in the order " + ", ".join(REWARDS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pool", choices=("all", "mixed"), default="all",
                    help="train episodes: all, or only those where the SFT model's group is mixed (num-generations "
                         "samples at the temperature; some succeed, some fail), the ones GRPO has an advantage on")
    ap.add_argument("--splits", default="test_id,test_env")
    ap.add_argument("--name", default="run")
    ap.add_argument("--results", type=Path, default=ROOT / "experiments" / "results")
    args = ap.parse_args()

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    with tempfile.TemporaryDirectory(prefix="thinkact-grpo-episodes-") as tmp:
        work = Path(tmp)
        shutil.copytree(args.sft, work / "outputs" / "sft" / "model")
        raw["paths"] = {**raw["paths"], "outputs": str(work / "outputs")}
        pool = None
        if args.pool == "mixed":
            raw["paths"]["data"] = str(work / "data")
            pool = mixed_pool(args, ROOT / "data", work / "data", raw)
        raw["grpo"].update({"mode": "episodes", "rewards": REWARDS, "reward_options": {}})
        raw["grpo"]["trainer"].update({"max_steps": args.steps, "learning_rate": args.lr,
                                       "reward_weights": [float(w) for w in args.weights.split(",")],
                                       "num_generations": args.num_generations, "seed": args.seed,
                                       "temperature": args.temperature, "save_steps": 10_000,
                                       "max_completion_length": args.max_completion_length})
        (work / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
        os.environ["THINKACT_PARAMS"] = str(work / "params.yaml")
        os.environ.setdefault("THINKACT_TRACKING", "0")
        params = load_params(work / "params.yaml")
        train = run_grpo(params)

        set_cpu_threads(params.evaluate.cpu_threads)
        cache = params.paths.models_cache
        models = {"sft": lambda: load_model(str(args.sft), cache),
                  "grpo": lambda: load_model(str(work / "outputs" / "grpo" / "model"), cache)}
        splits = {s: read_episodes(episode_path(params.paths.data, s)) for s in args.splits.split(",")}
        t0 = time.perf_counter()
        ev = evaluate_episodes(models, splits, params, k=0)  # greedy only
        metrics = ev.metrics_json()
    keep = ("episode_success", "episode_success_ci", "episode_call_recall", "invalid_call_rate")
    record = {"name": args.name, "date": time.strftime("%Y-%m-%d"), "args": {k: str(v) for k, v in vars(args).items()},
              "pool": pool, "grpo": train, "eval_seconds": round(time.perf_counter() - t0, 1),
              "success": {m: {s: {k: metrics[m][s][k] for k in keep} for s in splits} for m in models},
              "delta": {s: {k: metrics["deltas"]["grpo-sft"][s][k] for k in ("episode_success", "episode_success_ci")}
                        for s in splits}}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"grpo_episodes_{args.name}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["success"]), json.dumps(record["delta"]), sep="\n")


def mixed_pool(args: argparse.Namespace, data: Path, dst: Path, raw: dict) -> dict:
    """Copy `data` to `dst`, keeping in episodes/train.jsonl only the episodes where the SFT model's group of
    --num-generations samples at --temperature is mixed; returns the pool's size and how it was found."""
    shutil.copytree(data, dst)
    episodes = read_episodes(episode_path(dst, "train"))
    params = params_from_raw({**raw, "model": {**raw["model"], "seed": args.seed}}, "params.yaml + --seed")
    set_cpu_threads(raw["grpo"]["cpu_threads"])  # token-by-token play: one thread, as GRPO's rollouts
    t0 = time.perf_counter()
    ev = evaluate_episodes({"sft": lambda: load_model(str(args.sft), params.paths.models_cache)},
                           {"train": episodes}, params, k=args.num_generations, temperature=args.temperature)
    shares = [row["sampled_success"] for row in ev.rows["sft"]["train"]]
    keep = {spec.id for spec, share in zip(episodes, shares) if 0 < share < 1}
    path = episode_path(dst, "train")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and json.loads(line)["id"] in keep]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    print(f"[pool] {len(lines)} of {len(episodes)} train episodes are mixed for the SFT model", flush=True)
    return {"episodes": len(episodes), "mixed": len(lines), "all_succeed": sum(s == 1 for s in shares),
            "all_fail": sum(s == 0 for s in shares), "seconds": round(time.perf_counter() - t0, 1)}


if __name__ == "__main__":
    main()
