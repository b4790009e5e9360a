"""model.cpu_dtype (issue #24 item 1): the same work in float32 and in bfloat16 weights on this CPU, in one process,
interleaved float32, bfloat16, bfloat16, float32, ... so drifting load hits both alike.

  generate  greedy completions of the first --examples dev-free test_id examples (the profile's data, prompt and
            evaluate.batch_size / max_new_tokens) through thinkact.generation.generate_completions, as evaluation
            generates; also scored with evaluation's metrics (tool_call_exact, format) to show what bf16 costs.
  train     --steps LoRA steps (the profile's grpo.lora, AdamW) on batches of 4 train prompts of the profile
            (forward + backward with gradient checkpointing, as the profile's stages run them).
Reported: seconds per work unit each way, the ratio float32 / bfloat16 (above 1: bf16 faster), the share of
completions identical in both dtypes and the metric means each way (n = examples).

    THINKACT_PROFILE=smollm2 python benchmarks/bench_cpu_dtype.py [--model FOLDER] [--examples 32] [--steps 3] \\
        --out benchmarks/results/cpu_dtype.json

--model: a trained model folder (default: the profile's base model), e.g. an SFT model, whose completions mean
something to score.
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

DTYPES = ("float32", "bfloat16")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="a model folder (default: the profile's model.base)")
    ap.add_argument("--examples", type=int, default=32, help="test_id examples to generate for")
    ap.add_argument("--steps", type=int, default=3, help="LoRA training steps each way per round (0: skip)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds (the dtype order alternates each round)")
    ap.add_argument("--out", type=Path, help="also write the result JSON here")
    args = ap.parse_args()

    import torch
    from peft import get_peft_model

    from thinkact.config import load_params
    from thinkact.contract import read_jsonl
    from thinkact.evaluation.metrics import score_examples
    from thinkact.generation import generate_completions, prompt_text
    from thinkact.models.base import set_cpu_threads
    from thinkact.models.loading import load_model, resolve_device
    from thinkact.training.trl_config import lora_config

    params = load_params()
    set_cpu_threads(params.evaluate.cpu_threads)
    spec = args.model or params.model.base
    data = Path(params.paths.data)
    examples = read_jsonl(data / "test_id.jsonl")[: args.examples]
    train = read_jsonl(data / "train.jsonl")[: 4 * max(args.steps, 1)]

    def load(dtype: str):
        return load_model(spec, params.paths.models_cache, prompt=params.prompt,
                          device=resolve_device(cpu_dtype=dtype))

    seconds: dict[str, dict[str, list[float]]] = {d: {"generate": [], "train_step": []} for d in DTYPES}
    texts: dict[str, list[str]] = {}
    for r in range(args.rounds):
        for dtype in (DTYPES if r % 2 == 0 else DTYPES[::-1]):
            model, tokenizer = load(dtype)
            t0 = time.perf_counter()
            out = generate_completions(model, tokenizer, examples, max_new_tokens=params.evaluate.max_new_tokens,
                                       batch_size=params.evaluate.batch_size, progress=False)
            seconds[dtype]["generate"].append(time.perf_counter() - t0)
            texts.setdefault(dtype, out)
            if args.steps:
                lora = get_peft_model(model, lora_config(params.grpo.lora or {"r": 16, "lora_alpha": 32,
                                                                               "target_modules": "all-linear"}, "grpo"))
                lora.gradient_checkpointing_enable()
                lora.enable_input_require_grads()
                lora.train()
                opt = torch.optim.AdamW([p for p in lora.parameters() if p.requires_grad], lr=1e-5)
                for step in range(args.steps):
                    batch = [prompt_text(tokenizer, ex) for ex in train[4 * step: 4 * step + 4]]
                    enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False)
                    t0 = time.perf_counter()
                    loss = lora(**enc, labels=enc["input_ids"]).loss
                    loss.backward()
                    opt.step()
                    opt.zero_grad()
                    seconds[dtype]["train_step"].append(time.perf_counter() - t0)
            print(f"round {r + 1} {dtype}: generate {seconds[dtype]['generate'][-1]:.1f} s"
                  + (f", train step {statistics.median(seconds[dtype]['train_step']):.1f} s" if args.steps else ""),
                  flush=True)
            del model

    scores = {d: score_examples(examples, texts[d]) for d in DTYPES}

    def mean(d: str, metric: str) -> dict[str, float | int]:
        vals = [row[metric] for row in scores[d] if row[metric] is not None]
        return {"mean": round(sum(vals) / len(vals), 4) if vals else None, "n": len(vals)}

    med = {d: {k: round(statistics.median(v), 3) if v else None for k, v in seconds[d].items()} for d in DTYPES}
    result = {
        "model": spec, "examples": len(examples), "steps": args.steps, "rounds": args.rounds,
        "seconds_median": med,
        "ratio_fp32_over_bf16": {k: round(med["float32"][k] / med["bfloat16"][k], 3)
                                 for k in ("generate", "train_step") if med["bfloat16"][k]},
        "identical_completions": round(sum(a == b for a, b in zip(texts["float32"], texts["bfloat16"]))
                                       / len(examples), 4),
        "metrics": {d: {m: mean(d, m) for m in ("tool_call_exact", "tool_call", "format", "answer")} for d in DTYPES},
        "threads": params.evaluate.cpu_threads, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"), "command": "python benchmarks/bench_cpu_dtype.py " + " ".join(sys.argv[1:]),
    }
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
