"""Does a model still write the format on prompts unlike the train split? The `format` reward on a few variants.

Greedy completions (48 new tokens) for the first `--n` examples of each variant, scored by the `format` reward:
test_task as is (held-out tools, never in the tiny tokenizer's corpus), test_task with those tools removed, test_id
as is, test_id with 2 held-out tools added, test_id with ~130 tokens of ordinary train words added to its system
turn. builtin:tiny with the copy warm-up writes the format on test_id but not on the unseen-tool or long-system
variants; docs/experiments.md.

    python experiments/prompt_robustness.py outputs/sft/model
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from thinkact.contract import Example, read_jsonl  # noqa: E402
from thinkact.rewards import build  # noqa: E402


def variants(data: Path, n: int) -> dict[str, list[Example]]:
    train = read_jsonl(data / "train.jsonl")
    seen = {t["function"]["name"] for e in train for t in e.tools}
    task, ids = read_jsonl(data / "test_task.jsonl")[:n], read_jsonl(data / "test_id.jsonl")[:n]
    unseen = [t for e in task for t in e.tools if t["function"]["name"] not in seen][:2]
    words = " ".join(e.messages[-1]["content"] for e in train[:40] if e.messages[-1]["role"] == "user")[:600]

    def long_system(e: Example) -> Example:
        messages = [dict(m) for m in e.messages]
        messages[0]["content"] = f"{messages[0]['content']} {words}"
        return dataclasses.replace(e, messages=messages)

    return {"test_task": task,
            "test_task, unseen tools removed": [
                dataclasses.replace(e, tools=[t for t in e.tools if t["function"]["name"] in seen]) for e in task],
            "test_id": ids,
            "test_id + 2 unseen tools": [dataclasses.replace(e, tools=e.tools + unseen) for e in ids],
            "test_id + long system turn": [long_system(e) for e in ids]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path, help="a saved model folder, e.g. outputs/sft/model")
    ap.add_argument("--n", type=int, default=40, help="examples per variant")
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    args = ap.parse_args()

    from thinkact.generation import generate_completions, prompt_text
    from thinkact.models.loading import load_model
    from thinkact.models.base import set_cpu_threads

    set_cpu_threads(1)  # as the evaluate stage generates
    model, tokenizer = load_model(str(args.model), ROOT / ".cache" / "models")
    fmt = build(["format"])[0]
    results = {}
    for name, examples in variants(args.data, args.n).items():
        texts = generate_completions(model, tokenizer, examples, max_new_tokens=48, batch_size=16, progress=False)
        scores = fmt(texts, target=[json.dumps(e.target.to_dict()) for e in examples],
                     turn_type=[e.turn_type for e in examples])
        tokens = sum(len(tokenizer(prompt_text(tokenizer, e))["input_ids"]) for e in examples) / len(examples)
        results[name] = {"format": round(sum(scores) / len(scores), 3), "prompt_tokens": round(tokens),
                         "first_completion": texts[0][:60]}
        print(f"{name:34s} format {results[name]['format']:.3f}  prompt tokens {results[name]['prompt_tokens']:4d}  "
              f"{texts[0][:50]!r}", flush=True)
    print(json.dumps({"model": str(args.model), "n": args.n, "variants": results}))


if __name__ == "__main__":
    main()
