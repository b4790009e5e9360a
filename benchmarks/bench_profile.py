"""A profile end to end through the Prefect flow, timed stage by stage, with its results in one JSON file.

Runs `python -m flows.pipeline --profile NAME` (every stage of profiles/NAME/dvc.yaml through DVC, as README command
1 does with THINKACT_PROFILE=NAME) and records each stage's wall time against the profile's budget, then reads the
profile's outputs: per model and split the headline metrics with their 95 % intervals (exact, partial, answer,
format, reasoning_present, reasoning_consistency; BFCL splits included), the paired deltas, episode success, and
over GRPO's steps the mean reward and the mean reasoning length of the sampled completions (words inside
<think>…</think>, from the grpo stage's samples/) — so "did reasoning emerge" is a number. Stages DVC skips count
as skipped (rerun on a clean profile, or `rm -r outputs/profiles/NAME`, for a full timing).

    python benchmarks/bench_profile.py smollm2 --budget-min 90   # -> benchmarks/results/profile_smollm2.json
    python benchmarks/bench_profile.py smollm2 --collect-only     # results of the last run, no stage rerun
    python benchmarks/bench_profile.py smollm2 --markdown         # the recorded results as Markdown tables
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from thinkact import profiles  # noqa: E402
from thinkact.io import atomic_write_json  # noqa: E402
from thinkact.chat_format.parsing import parse  # noqa: E402

METRICS = {"exact": "tool_call_exact", "partial": "tool_call", "answer": "answer", "format": "format",
           "reasoning_present": "reasoning_present", "reasoning_consistency": "reasoning_consistency"}


def run_flow(name: str) -> tuple[float, dict]:
    """Run the profile's flow in a subprocess; (wall seconds, the flow's stage lines parsed from the summary)."""
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "flows.pipeline", "--profile", name], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    for line in proc.stdout:  # type: ignore[union-attr]  # streamed: the stages' progress lines as they come
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line)
    code = proc.wait()
    seconds = time.monotonic() - start
    if code != 0:
        raise SystemExit(f"the {name} pipeline failed (exit {code}); its output is above")
    return seconds, stage_times("".join(lines))


def stage_times(text: str) -> dict:
    """stage -> {"status", "seconds"} from the summary table the flow prints (| stage | result | time |)."""
    out = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].split(" ")[0] in ("ran", "skipped", "failed", "not"):
            out[cells[0]] = {"status": cells[1], "seconds": parse_duration(cells[2])}
    return out


def parse_duration(text: str) -> float | None:
    """'3 s', '2 min 5 s', '1 h 2 min' (flows.summary.duration) -> seconds."""
    units, total, parts = {"h": 3600, "min": 60, "s": 1}, 0.0, text.split()
    if len(parts) < 2 or len(parts) % 2:
        return None
    for value, unit in zip(parts[::2], parts[1::2]):
        total += float(value) * units.get(unit, 0)
    return total


def think_words(completion: str) -> int:
    """Words of the reasoning inside <think>…</think> (0 when empty or absent)."""
    think = parse(completion).think
    return len(think.split()) if think else 0


def grpo_curves(out: Path) -> list[dict]:
    """Per GRPO step: mean reward (rewards.json) and the mean reasoning length of that step's samples."""
    rewards = json.loads((out / "grpo" / "rewards.json").read_text()) if (out / "grpo" / "rewards.json").is_file() \
        else []
    lengths = {}
    for path in sorted((out / "grpo" / "samples").glob("step-*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if rows:
            words = [think_words(r["completion"]) for r in rows]
            lengths[rows[0]["step"]] = {"think_words": sum(words) / len(words),
                                        "with_reasoning": sum(w > 0 for w in words) / len(words)}
    return [{**row, **lengths.get(row.get("step"), {})} for row in rewards]


def results(out: Path) -> dict:
    metrics = json.loads((out / "evaluate" / "metrics.json").read_text())
    table = {}
    for model, splits in metrics.items():
        if model in ("bootstrap", "deltas", "episodes") or not isinstance(splits, dict):
            continue
        table[model] = {split: {k: {"value": m.get(v), "ci": m.get(f"{v}_ci"), "n": m.get(f"{v}_n")}
                                for k, v in METRICS.items() if v in m}
                        for split, m in splits.items()}
    episodes = {model: {split: {"success": m.get("episode_success"), "ci": m.get("episode_success_ci"),
                                "n": m.get("episode_success_n")} for split, m in splits.items()}
                for model, splits in (metrics.get("episodes") or {}).items() if isinstance(splits, dict)
                and model in table}
    return {"models": table, "deltas": metrics.get("deltas"), "episodes": episodes}


def _cell(m: dict | None) -> str:
    if not m or m.get("value") is None:
        return "–"
    lo, hi = (m.get("ci") or [None, None])[:2]
    ci = f" [{100 * lo:.0f}, {100 * hi:.0f}]" if lo is not None and hi is not None else ""
    return f"{100 * m['value']:.1f}{ci}"


def markdown(record: dict) -> str:
    """The record's tables in Markdown: per split, model x metric in % with 95 % intervals; episodes; GRPO curve."""
    models = record["models"]
    order = ["base", "sft", "grpo"]
    names = sorted(models, key=lambda m: (order.index(m) if m in order else len(order), m))
    first = ["test_id", "test_env", "test_task"]
    splits = sorted(next(iter(models.values())), key=lambda s: (first.index(s) if s in first else len(first), s))
    lines = []
    for split in splits:
        n = {k: v.get("n") for k, v in models[names[0]][split].items()}
        lines += [f"**{split}** (n: {', '.join(f'{k} {v}' for k, v in n.items() if v)})", "",
                  "| model | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
        lines += [f"| {m} | " + " | ".join(_cell(models[m][split].get(k)) for k in METRICS) + " |" for m in names]
        lines.append("")
    if record.get("episodes"):
        eps = record["episodes"]
        for m, splits_ in eps.items():
            for split, e in splits_.items():
                lines.append(f"- episodes {split}, {m}: success {_cell({'value': e['success'], 'ci': e['ci']})} "
                             f"(n {e['n']})")
        lines.append("")
    curve = record.get("grpo_curve") or []
    if curve:
        lines += ["| GRPO step | reward | think words (mean) | completions with a reasoning |", "|---|---|---|---|"]
        lines += [f"| {r['step']} | {r.get('reward', 0):.3f} | {r.get('think_words', 0):.1f} | "
                  f"{100 * r.get('with_reasoning', 0):.0f} % |" for r in curve]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile")
    parser.add_argument("--budget-min", type=float, default=90.0, help="the profile's time budget in minutes")
    parser.add_argument("--collect-only", action="store_true", help="read the last run's outputs; run nothing")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/profile_<profile>.json")
    parser.add_argument("--markdown", action="store_true", help="print the recorded results as Markdown tables; run "
                                                               "nothing")
    args = parser.parse_args(argv)
    params = profiles.load_profile(args.profile)
    out_file = args.out or ROOT / "benchmarks" / "results" / f"profile_{args.profile}.json"
    previous = json.loads(out_file.read_text()) if out_file.is_file() else {}
    if args.markdown:
        print(markdown(previous))
        return 0
    if args.collect_only:
        seconds, stages = previous.get("seconds"), previous.get("stages", {})
    else:
        seconds, stages = run_flow(args.profile)
    outputs = ROOT / params.paths.outputs
    record = {
        "profile": args.profile, "date": str(date.today()), "machine": f"{platform.machine()}, "
        f"{__import__('os').cpu_count()} cores", "command": f"python benchmarks/bench_profile.py {args.profile}",
        "model": params.model.base, "seconds": round(seconds, 1) if seconds else seconds, "stages": stages,
        "budget_s": args.budget_min * 60, "within_budget": bool(seconds and seconds <= args.budget_min * 60),
        "all_ran": bool(stages) and all(s["status"] == "ran" for s in stages.values()),
        "prompt": {"system": params.prompt.system, "tool_json": params.prompt.tool_json},
        "examples_per_split": params.evaluate.max_examples, "bfcl": {
            "categories": list(params.evaluate.bfcl.categories), "max_examples": params.evaluate.bfcl.max_examples},
        **results(outputs), "grpo_curve": grpo_curves(outputs),
    }
    atomic_write_json(out_file, record)
    print(f"{out_file}: {record['seconds']} s (budget {record['budget_s']:.0f} s, within: {record['within_budget']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
