"""Adversarial completions through every registered reward (issue #18, item 1): none may raise, every score must be
None or a finite number in [0, 1], and no call may take long. Not in CI (about two minutes).

    python benchmarks/bench_reward_fuzz.py [--n 100000] [--seed 0] [--out benchmarks/results/reward_fuzz.json]

`--n` completions (default 100,000), drawn round-robin from the kinds in KINDS: integers past a float's range (309
to 6,000 digits, past Python's 4,300-digit int-from-string limit too), NaN / Infinity / 1e999, deep nesting (up to
200,000 levels), huge strings (up to 2 million characters), broken JSON, lone unicode surrogates (as characters and
as JSON escapes), values of the wrong type (None, numbers, bytes, dicts, odd message lists), tag soup and
end-of-turn floods, hundreds of tool calls, huge answers. Each is scored alone (a batch of one, so the slowest call
is one completion's) by every reward in the registry, with TRL's columns: a `target` (a call, parallel calls,
numbers, a huge integer, nested values or an answer), its `turn_type`, and an agent episode (`episode`) with an
`episode_result` that carries the same adversarial value (as the calls' arguments, the final answer, or the whole
result) for the episode rewards. Seeded: the same --n and --seed make the same completions.

Reports (stdout as JSON, and --out): completions, calls, exceptions (0 expected; the first few with their reward,
kind and message), scores out of contract (0 expected), how many scores were not None per reward (the fuzz reaches
the scoring, not only the "not applicable" exits), the slowest call (reward, kind, seconds, characters) and its
ratio to the median call, and the slowest call per reward. Call times are the scoring thread's CPU time
(`time.thread_time`, as bench_rewards.py: other jobs on a shared machine cannot inflate it) with the garbage
collector run between completions, not during a call; the slowest wall-clock call is reported beside it.
Exits 1 when a reward raised or left its contract.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from thinkact.rewards import build, names  # noqa: E402
from thinkact.world.catalog import TOOLS_BY_NAME  # noqa: E402

THINK = "<think>\nThe user wants the order status, so I call get_order_status.\n</think>\n\n"
TARGETS = {  # (target JSON, turn type)
    "call": (json.dumps({"tool_calls": [{"name": "get_order_status", "arguments": {"order_id": "ORD-12345"}}]}),
             "call"),
    "parallel": (json.dumps({"tool_calls": [{"name": "get_forecast", "arguments": {"city": "Paris", "days": 3}},
                                            {"name": "get_balance", "arguments": {"account_id": "AC123456"}}]}),
                 "parallel"),
    "float": (json.dumps({"tool_calls": [{"name": "set_budget", "arguments": {"amount": 12.5}}]}), "call"),
    "huge_int": (json.dumps({"tool_calls": [{"name": "get_forecast", "arguments": {"days": 10 ** 400}}]}), "call"),
    "nested": (json.dumps({"tool_calls": [{"name": "f", "arguments": {"a": [[1, {"b": [2.5, "x"]}]], "c": None},
                                           "accepted": {"c": {"values": [None, "none"], "optional": True}}}]}),
               "call"),
    "answer": (json.dumps({"content": "Order ORD-12345 is shipped; expected delivery 2026-03-02."}), "answer"),
    "clarify": (json.dumps({"content": "Which order do you mean?"}), "clarify"),
}
TARGET_KEYS = list(TARGETS)
SPEC = json.dumps({"id": "ep-fuzz", "user": "Cancel ORD-12345 and tell me the balance of AC123456.",
                   "tools": [TOOLS_BY_NAME[n].schema() for n in ("cancel_order", "get_balance")],
                   "gold_calls": [{"name": "cancel_order", "arguments": {"order_id": "ORD-12345"}},
                                  {"name": "get_balance", "arguments": {"account_id": "AC123456"}}],
                   "facts": ["ORD-12345", "1,204.50"]})
PIECES = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "{", "}", "[", "]", '"name": "f"',
          '"name": "get_order_status"', '"arguments": {}', '"arguments": {"order_id": "ORD-12345"}', ", ", ":", "NaN",
          "null", "\n", " ", "<|im_end|>", "<|endoftext|>", "<|", "Order shipped.", "?", '\\"', "{{", '"', "\\u",
          "\ud800", "\udfff", "\x00", "\u202e", "e\u0301" * 3, "\U0001F600"]


def call(name: Any, arguments: str) -> str:
    return THINK + '<tool_call>\n{"name": %s, "arguments": %s}\n</tool_call>' % (json.dumps(name), arguments)


def big_int(rng: random.Random, i: int) -> Any:
    digits = rng.choice([309, 310, 400, 1000, 4300, 4301, 6000, rng.randint(309, 6000)])
    value = ("-" if rng.random() < 0.3 else "") + str(rng.randint(1, 9)) + "".join(
        rng.choice("0123456789") for _ in range(digits - 1))
    where = rng.random()
    if where < 0.6:
        return call("get_forecast", '{"days": %s, "n": %d}' % (value, i))
    if where < 0.8:
        return THINK + f"The balance is {value} ({i})."
    return call("set_budget", json.dumps('{"amount": %s, "n": %d}' % (value, i)))  # arguments as a JSON string


def nan_inf(rng: random.Random, i: int) -> Any:
    value = rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "0.1e-400", "1E+309", "nan", "inf",
                        "-0.0", "[NaN, Infinity]", '{"x": -Infinity}'])
    if rng.random() < 0.7:
        return call(rng.choice(["set_budget", "get_forecast", "f"]), '{"amount": %s, "n": %d}' % (value, i))
    return call("set_budget", json.dumps('{"amount": %s, "n": %d}' % (value, i)))  # arguments as a JSON string


def deep_nesting(rng: random.Random, i: int) -> Any:
    depth = rng.choice([rng.randint(1, 1000), rng.randint(1000, 8000), 200_000])
    open_, close = rng.choice([("[", "]"), ('{"a":', "}"), ('{"a":[', "]}")])
    value = open_ * depth + str(i) + close * depth
    if rng.random() < 0.15:
        value = value[: len(value) - depth // 2]  # unbalanced
    return call("f", '{"a": %s}' % value) if rng.random() < 0.8 else THINK + value


def huge_string(rng: random.Random, i: int) -> Any:
    n = rng.choice([16_000, 63_900, 64_000, 64_001, rng.randint(1, 200_000), 2_000_000 if rng.random() < 0.05 else 5])
    kind = rng.random()
    if kind < 0.4:
        return call("get_order_status", '{"order_id": %s}' % json.dumps("ORD-" + "9" * n + str(i)))
    if kind < 0.7:
        return THINK + ("word%d " % i) * (n // 6 + 1)
    if kind < 0.85:
        return "<think>\n" + "x" * n + "\n</think>\n\nok"
    return call("x" * n, "{}")


def broken_json(rng: random.Random, i: int) -> Any:
    good = '{"name": "get_order_status", "arguments": {"order_id": "ORD-12345", "n": %d}}' % i
    broken = rng.choice([
        good[: rng.randint(0, len(good) - 1)], good.replace('"', "'"), good.replace("}}", ",}}"), good + "}",
        "{" + good, good.replace(": ", ": :"), '{"name": "f", "arguments": {"a": }}', '{"name": "f", "arguments": "{"}',
        '{"name": "f", "arguments": "{\\"a\\": NaN}"}', '{"name": "f", "arguments": "[1, 2]"}', '{"name": null}',
        '{"name": "f", "arguments": {"a": "\\u12"}}', '{"name": "f", "arguments": {"a": "\x01\x02"}}',
        '{"name": "f", "arguments": {"a": 1, "a": 2}}', '{"name": ["f"], "arguments": {}}', "[]", "null", "1",
        '"just a string"', '{"name": "f", "arguments": {"a": 01}}', '{"name": "f", "arguments": {"a": .5}}',
        '{"name": "f" "arguments": {}}', '{"name": "", "arguments": {}}', '{"name": "   ", "arguments": {}}',
        '{"name": "f", "arguments": {"<tool_call>": "</tool_call>"}}'])
    return THINK + "<tool_call>\n" + broken + "\n</tool_call>" + rng.choice(["", "", " trailing text", "<tool_call>"])


def surrogates(rng: random.Random, i: int) -> Any:
    lone = rng.choice(["\ud800", "\udfff", "\udbff\udbff", "\ud83d", "\ude00\ud83d"])
    kind = rng.random()
    if kind < 0.3:
        return f"<think>\n{lone} get_order_status {i}\n</think>\n\nOrder {lone} shipped."
    if kind < 0.6:
        return call("get_order_status" + lone, '{"order_id": "ORD-%s%d"}' % (lone, i))
    if kind < 0.8:  # as JSON escapes: json.loads makes lone surrogates out of them
        return call("get_order_status", '{"order_id": "ORD-\\ud800%d", "k\\udfff": "\\udbff"}' % i)
    return lone * rng.randint(1, 70_000)


class Weird:
    """An object of a type no reward expects (its repr is long)."""

    def __repr__(self) -> str:
        return "W" * 100_000


def wrong_type(rng: random.Random, i: int) -> Any:
    return rng.choice([
        None, i, -i, float("nan"), float("inf"), 10 ** 400, True, False, b"<think>x</think>\n\nok", bytearray(b"ok"),
        [], [None], [i], [{}], [{"role": "assistant"}], [{"role": "assistant", "content": None}],
        [{"role": "assistant", "content": i}], [{"role": "assistant", "content": ["a", {"b": 1}]}],
        [{"role": "assistant", "content": {"text": "x"}}], [{"role": "assistant", "content": Weird()}],
        [{"role": "assistant", "content": call("get_order_status", '{"order_id": "ORD-12345"}')}, "tail"],
        [[{"role": "assistant", "content": "nested"}]], {"content": call("f", "{}")}, {"content": None}, {"x": 1},
        ("tuple",), {"set"}, Weird(), object(), {"role": "assistant", "content": ["<think>"] * 3}, "", " ", "\x00",
    ])


def tag_soup(rng: random.Random, i: int) -> Any:
    kind = rng.random()
    if kind < 0.2:
        return THINK + "Done." + "<|im_end|>" * rng.choice([1, 100, 6_399, 6_400, 10_000])
    if kind < 0.3:
        return "<think>" * rng.randint(1, 20_000) + "</think>" * rng.randint(0, 3) + str(i)
    if kind < 0.4:
        return THINK + "<tool_call></tool_call>" * rng.choice([63, 64, 65, 1000, 2700]) + str(i)
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 400))) + str(i)


def many_calls(rng: random.Random, i: int) -> Any:
    n = rng.choice([2, 5, 6, 63, 64, 65, 300])
    name = rng.choice(["get_order_status", "get_forecast", "get_balance", "f"])
    body = "\n".join('<tool_call>\n{"name": "%s", "arguments": {"order_id": "ORD-%05d", "k%d": %d}}\n</tool_call>'
                     % (name, (i + j) % 100_000, j, j) for j in range(n))
    return THINK + body


def huge_answer(rng: random.Random, i: int) -> Any:
    n = rng.choice([1_000, 10_000, 60_000])
    words = " ".join(f"w{rng.randint(0, 10 ** 6)}" for _ in range(n // 8))
    return THINK + rng.choice(["", "Order ORD-12345 is shipped; ", "Which order? " * 500]) + words[:n] + f" {i}?"


def many_keys(rng: random.Random, i: int) -> Any:
    n = rng.choice([100, 1_000, 3_000])
    args = {f"k{j}": rng.choice([j, str(j), None, [j], {"j": j}, 1.5, True]) for j in range(n)}
    args["order_id"] = f"ORD-{i % 100_000:05d}"
    return call(rng.choice(["get_order_status", "f"]), json.dumps(args))


KINDS: dict[str, Callable[[random.Random, int], Any]] = {
    "big_int": big_int, "nan_inf": nan_inf, "deep_nesting": deep_nesting, "huge_string": huge_string,
    "broken_json": broken_json, "surrogates": surrogates, "wrong_type": wrong_type, "tag_soup": tag_soup,
    "many_calls": many_calls, "huge_answer": huge_answer, "many_keys": many_keys,
}


def episode_result(rng: random.Random, completion: Any, i: int) -> Any:
    """An `episode_result` carrying the completion's adversarial content where a played episode keeps model output."""
    text = completion if isinstance(completion, str) else None
    kind = rng.random()
    if kind < 0.1:
        return completion  # the whole column of the wrong type / garbage
    args: Any = {"order_id": "ORD-12345"}
    if text and "<tool_call>" in text and rng.random() < 0.5:
        body = text.split("<tool_call>", 1)[1].split("</tool_call>", 1)[0]
        try:
            args = json.loads(body).get("arguments", body)
        except (ValueError, RecursionError, AttributeError):
            args = body
    elif not text:
        args = completion
    result = {"id": "ep-fuzz", "calls": [{"name": "cancel_order", "arguments": args, "error": None},
                                         {"name": rng.choice(["get_balance", None, 7, "x" * 10]), "arguments": args,
                                          "error": rng.choice([None, "malformed_call", 3])}],
              "final_answer": text if text is not None else completion, "done": rng.choice([True, False, "yes", None]),
              "failed": rng.choice([False, True, None, 0]),
              "assistant_turns": rng.choice([3, -1, 10 ** 400, "x", None]),
              "max_turns": rng.choice([4, 0, -3, "4", None]), "max_tool_calls": rng.choice([6, 0, 10 ** 30, None]),
              "n": i}
    if kind < 0.55:
        try:
            return json.dumps(result, ensure_ascii=rng.random() < 0.5)
        except (TypeError, ValueError, RecursionError):
            return result
    return result


def fuzz(n: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    rewards = build(names())
    kinds = list(KINDS)
    per_reward_max: dict[str, tuple[float, str]] = {r.name: (0.0, "") for r in rewards}
    durations: list[float] = []
    slowest = (0.0, "", "", 0)
    exceptions: list[dict[str, str]] = []
    errors, scored, out_of_contract = Counter(), Counter(), 0
    by_kind = Counter()
    slowest_wall = (0.0, "", "")
    start, cpu_start = time.perf_counter(), time.thread_time()
    gc.disable()  # a collection would land on whichever call was running: collect between completions instead
    for i in range(n):
        if i % 1000 == 0:
            gc.collect()
        kind = kinds[i % len(kinds)]
        by_kind[kind] += 1
        completion = KINDS[kind](rng, i)
        target, turn_type = TARGETS[TARGET_KEYS[rng.randrange(len(TARGET_KEYS))]]
        columns = {"target": [target], "turn_type": [turn_type], "episode": [SPEC],
                   "episode_result": [episode_result(rng, completion, i)], "id": [f"fuzz-{i}"]}
        size = len(completion) if isinstance(completion, (str, bytes, list)) else 0
        for reward in rewards:
            c0, t0 = time.thread_time(), time.perf_counter()
            try:
                out = reward([completion], **columns)
            except Exception as e:  # noqa: BLE001 - counting them is the point
                seconds, wall = time.thread_time() - c0, time.perf_counter() - t0
                errors[reward.name] += 1
                if len(exceptions) < 20:
                    exceptions.append({"reward": reward.name, "kind": kind, "completion_chars": str(size),
                                       "error": f"{type(e).__name__}: {str(e)[:300]}",
                                       "where": traceback.format_exc().strip().splitlines()[-3][:300]})
            else:
                seconds, wall = time.thread_time() - c0, time.perf_counter() - t0
                ok = (isinstance(out, list) and len(out) == 1 and (out[0] is None or (
                    isinstance(out[0], float) and 0.0 <= out[0] <= 1.0)))
                out_of_contract += not ok
                scored[reward.name] += ok and out[0] is not None
            durations.append(seconds)
            if seconds > per_reward_max[reward.name][0]:
                per_reward_max[reward.name] = (seconds, kind)
            if seconds > slowest[0]:
                slowest = (seconds, reward.name, kind, size)
            if wall > slowest_wall[0]:
                slowest_wall = (wall, reward.name, kind)
    gc.enable()
    elapsed, cpu = time.perf_counter() - start, time.thread_time() - cpu_start
    median = statistics.median(durations)
    return {
        "completions": n, "seed": seed, "rewards": [r.name for r in rewards], "calls": len(durations),
        "kinds": dict(by_kind), "exceptions": sum(errors.values()), "exceptions_by_reward": dict(errors),
        "exception_examples": exceptions, "out_of_contract": out_of_contract,
        "scored_not_none": {r.name: scored[r.name] for r in rewards},  # the fuzz reaches each reward's scoring
        "slowest_call": {"reward": slowest[1], "kind": slowest[2], "seconds": round(slowest[0], 4),
                         "completion_chars": slowest[3]},
        "median_call_seconds": round(median, 7), "slowest_over_median": round(slowest[0] / median, 1),
        "slowest_by_reward": {k: {"seconds": round(s, 4), "kind": kd} for k, (s, kd) in per_reward_max.items()},
        "slowest_wall_clock_call": {"reward": slowest_wall[1], "kind": slowest_wall[2],
                                    "seconds": round(slowest_wall[0], 4)},
        "seconds": round(elapsed, 1), "cpu_seconds": round(cpu, 1),  # both with making the completions
        "reward_cpu_seconds": round(sum(durations), 1),  # the calls alone
        "completions_per_second": round(n / sum(durations)),  # through all rewards, CPU time of the calls
        "load_average_1m": round(os.getloadavg()[0], 2), "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="adversarial completions (default 100,000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "reward_fuzz.json"),
                    help="where the result JSON goes ('' for nowhere)")
    args = ap.parse_args()
    result = fuzz(args.n, args.seed)
    print(json.dumps(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    sys.exit(1 if result["exceptions"] or result["out_of_contract"] else 0)


if __name__ == "__main__":
    main()
