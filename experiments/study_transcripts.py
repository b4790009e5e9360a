"""What the RL study's models did on dev, per kind of target (issue #24: "read transcripts per kind"): for each arm's
evaluated model, the action it took against the action the target wanted (a call, or text: answer, clarify), the
think-block measures
(reasoning_present, reasoning_words, reasoning_consistency) and the task scores per kind, plus a few transcripts.

Reads the evaluate stage's stored completions of an rl_study run (`<work>/<arm>/outputs/evaluate/predictions/<model>/
dev.jsonl`; the sft arm holds base and sft). Run after `python experiments/rl_study.py ...`:

    python experiments/study_transcripts.py --work /tmp/thinkact-study-smollm2 [--show 2]
"""
from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter
from pathlib import Path


def rows_of(work: Path) -> dict[str, list[dict]]:
    """'<arm>/<model>' -> its dev predictions, for every arm folder under `work` with an evaluated model."""
    out = {}
    for path in sorted(work.glob("*/outputs/evaluate/predictions/*/dev.jsonl")):
        arm, model = path.parts[-6], path.parts[-2]
        out[f"{arm}/{model}"] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return out


def mean(values: list) -> str:
    values = [v for v in values if v is not None]
    return f"{statistics.fmean(values):.2f}" if values else "-"


def summary(rows: list[dict]) -> str:
    """One Markdown row: actions per gold kind, think measures, task scores."""
    calls = [r for r in rows if r["gold_action"] == "call"]
    texts = [r for r in rows if r["gold_action"] != "call"]   # answer, clarify, no-tool targets
    sc = [r["scores"] for r in rows]
    return (f"{len(calls)} | {sum(r['predicted_action'] == 'call' for r in calls)} | {len(texts)} | "
            f"{sum(r['predicted_action'] == 'call' for r in texts)} | "
            f"{sum(r['predicted_action'] == r['gold_action'] for r in texts)} | "
            f"{mean([s['tool_call_exact'] for s in sc])} | {mean([s['answer'] for s in sc])} | "
            f"{mean([s['format'] for s in sc])} | {mean([s['reasoning_present'] for s in sc])} | "
            f"{mean([s['reasoning_words'] for s in sc])} | {mean([s['reasoning_consistency'] for s in sc])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/thinkact-study-smollm2"))
    ap.add_argument("--show", type=int, default=2, help="transcripts shown per arm and kind of target")
    args = ap.parse_args()
    found = rows_of(args.work)
    if not found:
        raise SystemExit(f"{args.work}: no evaluated arm (run experiments/rl_study.py first)")
    print("| arm/model | call targets | called | text targets | called | right kind | exact | answer F1 | format | "
          "reasoning_present | reasoning_words | reasoning_consistency |")
    print("|---" * 12 + "|")
    for name, rows in found.items():
        print(f"| {name} | {summary(rows)} |")
    for name, rows in found.items():
        for kind in ("call", "answer", "clarify"):
            for r in [r for r in rows if r["gold_action"] == kind][:args.show]:
                print(f"\n--- {name}, {kind} target {r['id']} (did: {r['predicted_action']}):\n{r['completion'][:400]}")


if __name__ == "__main__":
    main()
