"""How fast all rewards together score completions (target: >= 50,000 completions/s on one core).

    python benchmarks/bench_rewards.py [--n 20000] [--repeats 7] [--out benchmarks/results/bench_rewards.json]

Completions are unique (so the per-text parse cache cannot hit across completions, only across rewards,
as in a GRPO step) and built from the built-in data: right calls, wrong values, answers and garbage.
Scored in batches of 64 (a GRPO batch) by every registered reward, like TRL's reward loop does, in one thread.
Every repeat starts with every reward cache empty (parse, call scores, targets, normalised strings), like the first
pass over new completions. `completions_per_second` counts the scoring thread's own CPU time (`time.thread_time`:
what one core spends, which a shared machine's other jobs cannot inflate by taking the core away) and is the best
of the repeats, as `timeit` reports; medians and wall-clock rates (equal to it on an idle machine) and the load
average are reported beside it. The result also goes to benchmarks/results/bench_rewards.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET = 50_000

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
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_rewards.json"),
                    help="where the result JSON goes ('' for nowhere)")
    args = ap.parse_args()
    params = load_params()
    examples = [ex for _, split in generate(params.data) for ex in split]
    rng = random.Random(0)
    rows = [rng.choice(examples) for _ in range(args.n)]
    completions = [completion_for(ex, rng, i) for i, ex in enumerate(rows)]
    targets = [json.dumps(ex.target.to_dict()) for ex in rows]
    turn_types = [ex.turn_type for ex in rows]
    rewards = build(names())
    cpu_rates, wall_rates = [], []
    load = os.getloadavg()[0]
    for _ in range(args.repeats):
        clear_caches()
        wall, cpu = time.perf_counter(), time.thread_time()
        for b in range(0, args.n, args.batch):
            sl = slice(b, b + args.batch)
            for fn in rewards:
                fn(completions[sl], target=targets[sl], turn_type=turn_types[sl])
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        cpu_rates.append(args.n / cpu)
        wall_rates.append(args.n / wall)
    best = max(cpu_rates)
    result = {"completions": args.n, "batch": args.batch, "repeats": args.repeats,
              "rewards": [r.name for r in rewards], "completions_per_second": round(best),
              "median_completions_per_second": round(statistics.median(cpu_rates)),
              "wall_completions_per_second": round(max(wall_rates)),
              "median_wall_completions_per_second": round(statistics.median(wall_rates)),
              "target": TARGET, "meets_target": best >= TARGET, "ratio_to_target": round(best / TARGET, 2),
              "load_average_1m": round(max(load, os.getloadavg()[0]), 2), "cpu_count": os.cpu_count(),
              "python": platform.python_version()}
    print(json.dumps(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


def clear_caches() -> None:
    """Empty every lru_cache of the reward modules, so no repeat reuses an earlier one's work."""
    from thinkact.rewards import compare, functions, parsing

    for module in (compare, functions, parsing):
        for value in vars(module).values():
            if hasattr(value, "cache_clear"):
                value.cache_clear()


if __name__ == "__main__":
    main()
