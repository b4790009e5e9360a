"""Which argument values an SFT model copies right: per argument name, and what goes wrong in ids.

Generates greedily (as the evaluate stage does) for the first `--n` call targets of a split and compares each
argument of each gold call with the predicted call of the same name. For ids (a letter prefix and digits) it
counts the wrong ones whose first three digits are right and those that are a train-split id (memorised).

    python experiments/argument_errors.py outputs/sft/model
    python experiments/argument_errors.py outputs/sft/model --split test_env --n 130
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from thinkact.contract import read_jsonl  # noqa: E402
from thinkact.chat_format.parsing import parse  # noqa: E402

ID = re.compile(r"[A-Z]{1,3}-?\d{4,6}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path, help="a saved model folder, e.g. outputs/sft/model")
    ap.add_argument("--split", default="test_id")
    ap.add_argument("--n", type=int, default=130, help="call targets (test_id has 130)")
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    args = ap.parse_args()

    from thinkact.generation import generate_completions
    from thinkact.models.loading import load_model
    from thinkact.models.base import set_cpu_threads

    set_cpu_threads(1)  # as the evaluate stage generates
    model, tokenizer = load_model(str(args.model), ROOT / ".cache" / "models")
    examples = [e for e in read_jsonl(args.data / f"{args.split}.jsonl") if e.target.is_call][: args.n]
    texts = generate_completions(model, tokenizer, examples, max_new_tokens=144, batch_size=32, progress=False)
    train_ids = set(ID.findall((args.data / "train.jsonl").read_text(encoding="utf-8")))

    right, total, exact = Counter(), Counter(), 0
    ids = Counter()
    for example, text in zip(examples, texts):
        gold = [(c["name"], c["arguments"]) for c in example.target.to_dict()["tool_calls"]]
        predicted = list(parse(text).calls or [])
        exact += predicted == gold
        by_name = dict(predicted)
        for name, arguments in gold:
            for key, value in arguments.items():
                total[key] += 1
                got = by_name.get(name, {}).get(key)
                right[key] += got == value
                if isinstance(value, str) and ID.fullmatch(value) and got is not None and got != value:
                    ids["wrong"] += 1
                    ids["first 3 digits right"] += re.sub(r"\D", "", str(got))[:3] == re.sub(r"\D", "", value)[:3]
                    ids["a train id"] += str(got) in train_ids
    print(f"{args.model} on {args.split}: exact {exact}/{len(examples)}")
    for key in sorted(total, key=lambda k: -total[k]):
        print(f"  {key:18s} {right[key]:4d}/{total[key]:4d}")
    print("  wrong ids:", dict(ids))


if __name__ == "__main__":
    main()
