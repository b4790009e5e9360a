"""Does a model play the train episodes it was trained on better than fresh ones? Greedy and sampled episode success
on the RL study's dev episodes against as many train episodes (seeded random), same settings (issue #23, "RL study
runner" in docs/experiments.md: SFT 75.0 vs 61.7 % greedy; a GRPO arm adds about as little on both).

Reads the study's `sft` arm (its params.yaml and its dev transcripts name the dev episodes), so run it after
`python experiments/rl_study.py --arms sft`; prints one line per set. Nothing is written.

    python experiments/train_vs_dev.py /tmp/thinkact-study/sft/outputs/sft/model
    python experiments/train_vs_dev.py /tmp/thinkact-study/grpo_ep/outputs/grpo/model --k 4 --temperature 0.7
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from thinkact.config import params_from_raw  # noqa: E402
from thinkact.env.spec import episode_path, read_episodes  # noqa: E402
from thinkact.evaluation.episode_eval import evaluate_episodes  # noqa: E402
from thinkact.models.base import set_cpu_threads  # noqa: E402
from thinkact.models.loading import load_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a saved model folder")
    ap.add_argument("--study", type=Path, default=Path("/tmp/thinkact-study"), help="the RL study's --work folder")
    ap.add_argument("--k", type=int, default=4, help="samples per episode")
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=0, help="which train episodes are drawn")
    args = ap.parse_args()

    arm = args.study / "sft"
    params = params_from_raw(yaml.safe_load((arm / "params.yaml").read_text(encoding="utf-8")), str(arm))
    dev_log = arm / "outputs" / "evaluate" / "predictions" / "episodes" / "sft" / "dev.jsonl"
    dev_ids = [json.loads(line)["id"] for line in dev_log.read_text(encoding="utf-8").splitlines()]
    train = {e.id: e for e in read_episodes(episode_path(params.paths.data, "train"))}
    rest = [e for i, e in train.items() if i not in set(dev_ids)]
    random.Random(args.seed).shuffle(rest)
    sets = {"dev": [train[i] for i in dev_ids], "train": rest[:len(dev_ids)]}
    set_cpu_threads(1)
    t0 = time.perf_counter()
    ev = evaluate_episodes({"model": lambda: load_model(args.model, params.paths.models_cache)}, sets, params,
                           k=args.k, temperature=args.temperature)
    for name, rows in ev.rows["model"].items():
        greedy = sum(r["episode_success"] or 0 for r in rows) / len(rows)
        sampled = sum(r["sampled_success"] or 0 for r in rows) / len(rows)
        print(f"{name}: {len(rows)} episodes, greedy {100 * greedy:.1f} %, {args.k} samples at T {args.temperature} "
              f"{100 * sampled:.1f} %")
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
