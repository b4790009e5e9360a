"""Shared-prefix KV reuse in generation (issue #24 item 1): today's plain batched `generate` against the
prefix-sharing path of thinkact.generation.generate_rows, on the same work, in one process, interleaved
plain, shared, shared, plain, ... so drifting load on a shared machine hits both alike.

  evaluate  greedy completions of the first --examples test_id examples of the profile's data, at its
            evaluate.batch_size and evaluate.max_new_tokens, through generate_completions (share_prefix off / on):
            an evaluation batch shares only the prefix its prompts have in common (the tools differ per example).
  group     GRPO's sampling: --prompts train prompts, each repeated num_generations times (grpo.trainer), batches of
            per_device_train_batch_size rows as TRL's generation batch, sampled at the trainer's temperature and
            max_completion_length with the same seed both ways: the G copies of a prompt share all of it.
Reported: generated tokens per second (new tokens up to each row's stop), seconds, the ratio shared/plain of the
throughput, the prompt tokens shared and whether the outputs are token-identical (greedy and seeded sampling).
The model is the profile's base model (model.base; builtin:smollm2-135m under THINKACT_PROFILE=smollm2), on
the profile's evaluate.cpu_threads.

    THINKACT_PROFILE=smollm2 python benchmarks/bench_prefix_cache.py [--examples 24] [--prompts 4] [--rounds 2] \\
        --out benchmarks/results/prefix_cache.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)


def generated_tokens(rows, stop: list[int], pad: int) -> int:
    total = 0
    for row in rows.tolist():
        n = len(row)
        for i, tok in enumerate(row):
            if tok in stop or tok == pad:
                n = i + 1 if tok in stop else i
                break
        total += n
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=24, help="test_id examples for the evaluation part")
    ap.add_argument("--prompts", type=int, default=4, help="train prompts for the group part (0: skip it)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of plain+shared (order alternates each round)")
    ap.add_argument("--out", type=Path, help="also write the result JSON here")
    args = ap.parse_args()

    import torch

    from thinkact.config import load_params
    from thinkact.contract import read_jsonl
    from thinkact.evaluation.predict import load_for_eval
    from thinkact.generation import generate_completions, generate_rows, prefix_groups, prompt_text
    from thinkact.models.base import set_cpu_threads

    params = load_params()
    settings, trainer = params.evaluate, params.grpo.trainer
    set_cpu_threads(settings.cpu_threads)
    data = Path(params.paths.data)
    test = read_jsonl(data / "test_id.jsonl")[: args.examples]
    train = read_jsonl(data / "train.jsonl")[: args.prompts]
    model, tokenizer = load_for_eval("base", params, read_jsonl(data / "train.jsonl"))
    stop = [t for t in {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")} if isinstance(t, int)]
    pad = tokenizer.pad_token_id
    batch = settings.batch_size
    result: dict = {"model": params.model.base, "profile": params.profile or "default",
                    "cpu_threads": torch.get_num_threads(), "rounds": args.rounds}

    # evaluation: greedy, generate_completions as predict_splits calls it
    texts = [prompt_text(tokenizer, ex) for ex in test]
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    shared_tokens = 0
    for s in range(0, len(order), batch):
        groups = prefix_groups([ids[i] for i in order[s:s + batch]])
        shared_tokens += sum((len(m) - 1) * p for m, p in groups or [])
    eval_times: dict[str, list[float]] = {"plain": [], "shared": []}
    outputs: dict[str, list[str]] = {}
    for r in range(args.rounds):
        for mode in (("plain", "shared") if r % 2 == 0 else ("shared", "plain")):
            t0 = time.perf_counter()
            outputs[mode] = generate_completions(model, tokenizer, test, max_new_tokens=settings.max_new_tokens,
                                                 batch_size=batch, progress=False, share_prefix=mode == "shared")
            eval_times[mode].append(time.perf_counter() - t0)
    new_tokens = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in outputs["plain"])
    e_plain, e_shared = statistics.median(eval_times["plain"]), statistics.median(eval_times["shared"])
    result["evaluate"] = {
        "examples": len(test), "batch_size": batch, "max_new_tokens": settings.max_new_tokens,
        "prompt_tokens": sum(map(len, ids)), "prompt_tokens_shared": shared_tokens, "generated_tokens": new_tokens,
        "plain_seconds": [round(x, 2) for x in eval_times["plain"]],
        "shared_seconds": [round(x, 2) for x in eval_times["shared"]],
        "plain_tokens_per_s": round(new_tokens / e_plain, 2), "shared_tokens_per_s": round(new_tokens / e_shared, 2),
        "ratio": round(e_plain / e_shared, 3), "identical": outputs["plain"] == outputs["shared"]}
    print(json.dumps({"evaluate": result["evaluate"]}), flush=True)

    # GRPO's group sampling: each prompt num_generations times, TRL's generation batch, sampled with one seed
    if args.prompts:
        g = trainer.get("num_generations", 8)
        per_batch = trainer.get("per_device_train_batch_size", 8)
        rows = [r for ex in train for r in [tokenizer(prompt_text(tokenizer, ex), add_special_tokens=False)
                                             ["input_ids"]] * g]
        sampling = {"do_sample": True, "temperature": trainer.get("temperature", 1.0), "top_p": 1.0, "top_k": 0}
        limit = trainer.get("max_completion_length", 256)
        times: dict[str, list[float]] = {"plain": [], "shared": []}
        made: dict[str, list] = {}
        for r in range(args.rounds):
            for mode in (("plain", "shared") if r % 2 == 0 else ("shared", "plain")):
                torch.manual_seed(1234)
                model.eval()
                t0 = time.perf_counter()
                made[mode] = [generate_rows(model, rows[s:s + per_batch], max_new_tokens=limit, eos_token_id=stop,
                                            pad_token_id=pad, share_prefix=mode == "shared", **sampling)
                              for s in range(0, len(rows), per_batch)]
                times[mode].append(time.perf_counter() - t0)
        tokens = sum(generated_tokens(x, stop, pad) for x in made["plain"])
        shared = sum(sum((len(m) - 1) * p for m, p in prefix_groups(rows[s:s + per_batch]) or [])
                     for s in range(0, len(rows), per_batch))
        g_plain, g_shared = statistics.median(times["plain"]), statistics.median(times["shared"])
        result["group"] = {
            "prompts": len(train), "num_generations": g, "rows_per_generate": per_batch, "max_new_tokens": limit,
            "temperature": sampling["temperature"], "prompt_tokens": sum(map(len, rows)),
            "prompt_tokens_shared": shared, "generated_tokens": tokens,
            "plain_seconds": [round(x, 2) for x in times["plain"]],
            "shared_seconds": [round(x, 2) for x in times["shared"]],
            "plain_tokens_per_s": round(tokens / g_plain, 2), "shared_tokens_per_s": round(tokens / g_shared, 2),
            "ratio": round(g_plain / g_shared, 3),
            "identical": all(torch.equal(a, b) for a, b in zip(made["plain"], made["shared"]))}
        print(json.dumps({"group": result["group"]}), flush=True)
    result["conditions"] = (f"{platform.machine()} {os.cpu_count()}-core CPU, load average "
                            f"{os.getloadavg()[0]:.2f} at the end (other processes share the machine); "
                            + " ".join(["python", *sys.argv]))
    print(json.dumps(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
