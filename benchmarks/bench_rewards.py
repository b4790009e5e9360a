"""How fast all rewards together score completions (target: >= 50,000 completions/s on one core).

    python benchmarks/bench_rewards.py [--n 20000]

Completions are unique (so the per-text parse cache cannot hit across completions, only across rewards,
as in a GRPO step) and built from the built-in data: right calls, wrong values, answers and garbage.
Scored in batches of 64 (a GRPO batch) by every registered reward, like TRL's reward loop does.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from thinkact.config import load_params  # noqa: E402
from thinkact.data.generator import generate  # noqa: E402
from thinkact.rewards import build, names  # noqa: E402


def completion_for(ex, rng: random.Random, i: int) -> str:
    think = f"<think>\n{ex.reasoning} ({i})\n</think>\n\n"
    kind = rng.random()
    if ex.target.is_call and kind < 0.8:
        calls = []
        for c in ex.target.tool_calls:
            args = dict(c.arguments)
            if kind < 0.3 and args:
                args[next(iter(args))] = f"wrong-{i}"
            calls.append(f"<tool_call>\n{json.dumps({'name': c.name, 'arguments': args})}\n</tool_call>")
        return think + "\n".join(calls)
    if kind < 0.9:
        return think + (ex.target.content or f"I cannot help with that ({i}).")
    return f"garbage {i} <tool_call>{{broken"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    params = load_params()
    examples = [ex for _, split in generate(params.data) for ex in split]
    rng = random.Random(0)
    rows = [rng.choice(examples) for _ in range(args.n)]
    completions = [completion_for(ex, rng, i) for i, ex in enumerate(rows)]
    targets = [json.dumps(ex.target.to_dict()) for ex in rows]
    turn_types = [ex.turn_type for ex in rows]
    rewards = build(names())
    start = time.perf_counter()
    for b in range(0, args.n, args.batch):
        sl = slice(b, b + args.batch)
        for fn in rewards:
            fn(completions[sl], target=targets[sl], turn_type=turn_types[sl])
    elapsed = time.perf_counter() - start
    rate = args.n / elapsed
    print(json.dumps({"completions": args.n, "rewards": [r.name for r in rewards], "seconds": round(elapsed, 3),
                      "completions_per_second": round(rate), "target": 50000, "meets_target": rate >= 50000}))


if __name__ == "__main__":
    main()
