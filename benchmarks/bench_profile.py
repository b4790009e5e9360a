"""A profile end to end through the Prefect flow, timed stage by stage, with its results in one JSON file.

Runs `python -m flows.pipeline --profile NAME` (every stage of profiles/NAME/dvc.yaml through DVC, as README command
1 does with THINKACT_PROFILE=NAME) and records each stage's wall time against the profile's budget, then reads the
profile's outputs: per model and split the headline metrics with their 95 % intervals (exact, partial, answer,
format, reasoning_present, reasoning_consistency; BFCL splits included; reasoning_words, the mean words of the
think block, when the run has it), the paired deltas, episode success, and over GRPO's steps the mean reward and
the mean reasoning length of the sampled completions (words inside <think>…</think>, from the grpo stage's
samples/) — so "did reasoning emerge" is a number. Stages DVC skips count as skipped (rerun on a clean profile, or
`rm -r outputs/profiles/NAME`, for a full timing).

Then the arms (issue #24 item 6; defined in benchmarks/profile_arms.py): each a params overlay on the profile that
trains one stage again, measured as its own row and paired with the main run's models on the very same examples:

- `base_grpo`: GRPO straight from the base model (grpo.init: base); vs the main run's base and sft;
- `think`: GRPO from the main run's SFT model with the think block opened (prompt.open_think, think_start "The
  user wants"); vs sft and grpo;
- `sft_reasoning`: SFT on the gold reasoning (sft.with_reasoning); vs sft.

An arm's params file, outputs/profiles/NAME/arms/<arm>/params.yaml, is profiles/NAME/params.yaml with the overlay,
its own paths.outputs (that folder; a GRPO arm links sft/ to the main run's) and evaluate.models [its model]; every
arm is checked before any stage runs. It runs `python -m tasks.<stage>` then `python -m tasks.evaluate` on that
file (THINKACT_PARAMS, MLflow off). The record's `arms` hold, per arm, its stage seconds, its model's metrics and
episodes, and under `vs` per main-run model, split (BFCL included) and metric: both means, the paired delta with
its 95 % interval (paired bootstrap, as the register gate) and n. `seconds` is the flow's plus the arms' stages
(`flow_seconds`: the flow alone), against the budget.

    python benchmarks/bench_profile.py smollm2 --budget-min 90   # -> benchmarks/results/profile_smollm2.json
    python benchmarks/bench_profile.py smollm2 --arms think       # the flow, then one arm (--arms "": none)
    python benchmarks/bench_profile.py smollm2 --arms-only        # the arms again on the last run's outputs
    python benchmarks/bench_profile.py smollm2 --collect-only     # results of the last run, no stage rerun
    python benchmarks/bench_profile.py smollm2 --markdown         # the recorded results as Markdown tables
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from thinkact import profiles  # noqa: E402
from thinkact.io import atomic_write_json  # noqa: E402
from thinkact.chat_format.parsing import parse  # noqa: E402
from profile_arms import ARMS, Arm, arm_raw, check_arm, select_arms  # noqa: E402,F401 (the arms: profile_arms.py)

METRICS = {"exact": "tool_call_exact", "partial": "tool_call", "answer": "answer", "format": "format",
           "reasoning_present": "reasoning_present", "reasoning_consistency": "reasoning_consistency"}
WORDS = "reasoning_words"  # words in the think block: unbounded, reported as is (not in %), never paired here


def stream(cmd: list[str], env: dict | None = None) -> tuple[int, str, float]:
    """Run `cmd` from ROOT, its output streamed as it comes (the stages' progress lines); (exit, output, seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    for line in proc.stdout:  # type: ignore[union-attr]
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line)
    return proc.wait(), "".join(lines), time.monotonic() - start


def run_flow(name: str) -> tuple[float, dict]:
    """Run the profile's flow in a subprocess; (wall seconds, the flow's stage lines parsed from the summary)."""
    code, text, seconds = stream([sys.executable, "-m", "flows.pipeline", "--profile", name])
    if code != 0:
        raise SystemExit(f"the {name} pipeline failed (exit {code}); its output is above")
    return seconds, stage_times(text)


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
                                for k, v in {**METRICS, WORDS: WORDS}.items() if v in m}
                        for split, m in splits.items()}
    episodes = {model: {split: {"success": m.get("episode_success"), "ci": m.get("episode_success_ci"),
                                "n": m.get("episode_success_n")} for split, m in splits.items()}
                for model, splits in (metrics.get("episodes") or {}).items() if isinstance(splits, dict)
                and model in table}
    return {"models": table, "deltas": metrics.get("deltas"), "episodes": episodes}


def prepare_arm(profile: str, arm: str, outputs: str) -> Path:
    """A fresh outputs/…/arms/<arm>/ with its params.yaml (checked) and, for a GRPO arm, sft/ -> the main run's."""
    base = yaml.safe_load(profiles.params_file(profile).read_text(encoding="utf-8"))
    raw = arm_raw(base, arm, outputs)
    check_arm(raw, profile, arm)
    folder = ROOT / raw["paths"]["outputs"]
    shutil.rmtree(folder, ignore_errors=True)  # no stale model or evaluation of an earlier arm run
    folder.mkdir(parents=True)
    if ARMS[arm].trains == "grpo":  # grpo.init: sft reads <paths.outputs>/sft/model
        (folder / "sft").symlink_to(Path("..", "..", "sft"), target_is_directory=True)
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")
    return path


def run_stage(arm: str, stage: str, params_file: Path) -> float:
    """`python -m tasks.<stage>` on the arm's params file (MLflow off), streamed; its wall seconds."""
    env = {**os.environ, "THINKACT_PARAMS": str(params_file), "THINKACT_TRACKING": "0"}
    env.pop("THINKACT_PROFILE", None)
    print(f"[arms] {arm}: python -m tasks.{stage}", flush=True)
    code, _, seconds = stream([sys.executable, "-m", f"tasks.{stage}"], env)
    if code != 0:
        raise SystemExit(f"arm {arm}: stage {stage} failed (exit {code}) after {seconds:.0f} s; its output is above")
    print(f"[arms] {arm}: {stage} {seconds:.1f} s", flush=True)
    return round(seconds, 1)


def run_arms(profile: str, arms: list[str], outputs: Path, outputs_rel: str) -> dict[str, dict]:
    """Train and evaluate each arm on the main run's outputs; arm -> {stage: seconds}."""
    for needed in ("sft/model/config.json", "evaluate/metrics.json"):
        if arms and not (outputs / needed).is_file():
            raise SystemExit(f"{outputs / needed} is missing: run the profile's flow first (without --arms-only)")
    seconds = {}
    for arm in arms:
        params_file = prepare_arm(profile, arm, outputs_rel)
        print(f"[arms] {arm}: overlay {json.dumps(ARMS[arm].overlay)}", flush=True)
        seconds[arm] = {stage: run_stage(arm, stage, params_file) for stage in (ARMS[arm].trains, "evaluate")}
    return seconds


def completions(folder: Path, split: str, examples: list) -> dict[str, str]:
    """id -> completion from the evaluate stage's <folder>/<split>.jsonl, one for every example."""
    from thinkact.promotion.champion import read_completions

    got = read_completions(folder, [split])[split]
    missing = [ex.id for ex in examples if ex.id not in got]
    if missing:
        raise SystemExit(f"{folder / f'{split}.jsonl'}: no completion for {len(missing)} of {len(examples)} "
                         f"examples (e.g. {missing[0]}); rerun its evaluate stage")
    return got


def paired(params: Any, arm_preds: Path, main_preds: Path, others: tuple) -> dict:
    """other -> split -> metric -> the arm's model vs the main run's `other` on the very same examples: both means,
    the paired delta, its interval and n (the register gate's compare), on every split the arm's evaluation wrote."""
    from thinkact.evaluation.runner import BFCL_PREFIX, bfcl_splits, eval_splits
    from thinkact.promotion.champion import score
    from thinkact.promotion.gate import compare

    written = sorted(p.stem for p in arm_preds.glob("*.jsonl"))
    examples = {**eval_splits(params, [s for s in written if not s.startswith(BFCL_PREFIX)]),
                **{s: exs for s, exs in (bfcl_splits(params) if any(s.startswith(BFCL_PREFIX) for s in written)
                                         else {}).items() if s in written}}
    out: dict = {other: {} for other in others}
    boot = params.evaluate.bootstrap
    for split, exs in examples.items():
        mine = score({split: exs}, {split: completions(arm_preds, split, exs)}, params)
        for other in others:
            theirs = score({split: exs}, {split: completions(main_preds / other, split, exs)}, params)
            out[other][split] = {k: _pair(compare(mine, theirs, m, boot, 0.0, other)) for k, m in METRICS.items()}
    return out


def _pair(c: Any) -> dict:
    return {"arm": c.challenger_mean, "other": c.other_mean, "delta": c.delta, "low": c.low, "high": c.high, "n": c.n}


def arm_record(params: Any, arm: str, outputs: Path, seconds: dict) -> dict:
    """The arm's entry: overlay, stage seconds, its model's metrics and episodes, its paired deltas."""
    spec, out = ARMS[arm], outputs / "arms" / arm
    res = results(out)
    record = {"overlay": spec.overlay, "trains": spec.trains, "seconds": seconds,
              "models": {spec.trains: res["models"].get(spec.trains, {})}, "episodes": res["episodes"],
              "vs": paired(params, out / "evaluate" / "predictions" / spec.trains,
                           outputs / "evaluate" / "predictions", spec.vs)}
    if spec.trains == "grpo":
        record["grpo_curve"] = grpo_curves(out)
    return record


def _cell(m: dict | None, percent: bool = True) -> str:
    if not m or m.get("value") is None:
        return "–"
    if not percent:
        return f"{m['value']:.1f}"
    lo, hi = (m.get("ci") or [None, None])[:2]
    ci = f" [{100 * lo:.0f}, {100 * hi:.0f}]" if lo is not None and hi is not None else ""
    return f"{100 * m['value']:.1f}{ci}"


def _pp(d: dict | None) -> str:
    """A paired delta in percentage points: +1.2 [-3.0, +5.1]."""
    if not d or d.get("delta") is None:
        return "–"
    ci = "" if d.get("low") is None else f" [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]"
    return f"{100 * d['delta']:+.1f}{ci}"


def _splits(names: list) -> list:
    first = ["test_id", "test_env", "test_task"]
    return sorted(names, key=lambda s: (first.index(s) if s in first else len(first), s))


def split_tables(models: dict, labels: dict | None = None) -> list[str]:
    """Per split, model x metric in % with 95 % intervals (reasoning_words in words when recorded)."""
    names, labels = list(models), labels or {}
    cols = list(METRICS) + ([WORDS] if any(WORDS in m for s in models.values() for m in s.values()) else [])
    lines = []
    for split in _splits(list(next(iter(models.values())))):
        n = {k: v.get("n") for k, v in models[names[0]][split].items()}
        lines += [f"**{split}** (n: {', '.join(f'{k} {v}' for k, v in n.items() if v)})", "",
                  "| model | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        lines += [f"| {labels.get(m, m)} | " + " | ".join(_cell(models[m][split].get(k), k != WORDS) for k in cols)
                  + " |" for m in names]
        lines.append("")
    return lines


def episode_lines(eps: dict) -> list[str]:
    lines = [f"- episodes {split}, {m}: success {_cell({'value': e['success'], 'ci': e['ci']})} (n {e['n']})"
             for m, splits_ in eps.items() for split, e in splits_.items()]
    return lines + [""] if lines else []


def curve_lines(curve: list) -> list[str]:
    if not curve:
        return []
    lines = ["| GRPO step | reward | think words (mean) | completions with a reasoning |", "|---|---|---|---|"]
    return lines + [f"| {r['step']} | {r.get('reward', 0):.3f} | {r.get('think_words', 0):.1f} | "
                    f"{100 * r.get('with_reasoning', 0):.0f} % |" for r in curve]


def arm_lines(arm: str, rec: dict) -> list[str]:
    """One arm: its per-split table, then per main-run model the paired deltas (split x metric, in points)."""
    secs = ", ".join(f"{k} {rec['seconds'][k]:.0f} s" for k in sorted(rec["seconds"], key=lambda k: k == "evaluate"))
    lines = ["", f"### arm {arm}: overlay {json.dumps(rec['overlay'])}, trains {rec['trains']} ({secs})", ""]
    lines += split_tables(rec["models"], {m: f"{arm} ({m})" for m in rec["models"]})
    lines += episode_lines(rec.get("episodes") or {})
    for other, splits in rec["vs"].items():
        lines += [f"{arm} − {other}: paired delta in points [95 % CI]", "",
                  "| split | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
        lines += [f"| {s} | " + " | ".join(_pp(splits[s].get(k)) for k in METRICS) + " |" for s in _splits(splits)]
        lines.append("")
    return lines + curve_lines(rec.get("grpo_curve") or [])


def markdown(record: dict) -> str:
    """The record's tables in Markdown: per split, model x metric in % with 95 % intervals; episodes; GRPO curve;
    then each arm."""
    order = ["base", "sft", "grpo"]
    models = {m: record["models"][m] for m in sorted(record["models"], key=lambda m: (
        order.index(m) if m in order else len(order), m))}
    lines = split_tables(models) + episode_lines(record.get("episodes") or {}) + curve_lines(
        record.get("grpo_curve") or [])
    arms = record.get("arms") or {}
    for arm in sorted(arms, key=lambda a: (list(ARMS).index(a) if a in ARMS else len(ARMS), a)):
        lines += arm_lines(arm, arms[arm])
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile")
    parser.add_argument("--budget-min", type=float, default=90.0, help="the profile's time budget in minutes")
    parser.add_argument("--collect-only", action="store_true", help="read the last run's outputs; run nothing")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated arms after the flow (default: "
                        f"{','.join(ARMS)}; \"\": none)")
    parser.add_argument("--arms-only", action="store_true", help="run only the arms, on the last run's outputs")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/profile_<profile>.json")
    parser.add_argument("--markdown", action="store_true", help="print the recorded results as Markdown tables; run "
                                                               "nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    params = profiles.load_profile(args.profile)
    out_file = args.out or ROOT / "benchmarks" / "results" / f"profile_{args.profile}.json"
    previous = json.loads(out_file.read_text()) if out_file.is_file() else {}
    if args.markdown:
        print(markdown(previous))
        return 0
    arms, outputs_rel = select_arms(args.arms), str(params.paths.outputs).rstrip("/")
    for arm in arms:  # every arm's params checked before the flow or any arm runs
        check_arm(arm_raw(profiles.profile_raw(args.profile), arm, outputs_rel), args.profile, arm)
    if args.collect_only or args.arms_only:
        seconds, stages = previous.get("flow_seconds", previous.get("seconds")), previous.get("stages", {})
    else:
        seconds, stages = run_flow(args.profile)
    outputs = ROOT / outputs_rel
    if args.collect_only:
        arm_seconds = {a: ((previous.get("arms") or {}).get(a) or {}).get("seconds", {}) for a in arms
                       if (outputs / "arms" / a / "evaluate" / "metrics.json").is_file()}
    else:
        arm_seconds = run_arms(args.profile, arms, outputs, outputs_rel)
    total = seconds + sum(s for secs in arm_seconds.values() for s in secs.values()) if seconds else seconds
    record = {
        "profile": args.profile, "date": str(date.today()), "machine": f"{platform.machine()}, "
        f"{os.cpu_count()} cores", "command": f"python benchmarks/bench_profile.py {args.profile}",
        "model": params.model.base, "seconds": round(total, 1) if total else total,
        "flow_seconds": round(seconds, 1) if seconds else seconds, "stages": stages,
        "budget_s": args.budget_min * 60, "within_budget": bool(total and total <= args.budget_min * 60),
        "all_ran": bool(stages) and all(s["status"] == "ran" for s in stages.values()),
        "prompt": {"system": params.prompt.system, "tool_json": params.prompt.tool_json},
        "examples_per_split": params.evaluate.max_examples, "bfcl": {
            "categories": list(params.evaluate.bfcl.categories), "max_examples": params.evaluate.bfcl.max_examples},
        **results(outputs), "grpo_curve": grpo_curves(outputs),
        "arms": {a: arm_record(params, a, outputs, s) for a, s in arm_seconds.items()},
    }
    atomic_write_json(out_file, record)
    arms_text = ", ".join(record["arms"]) or "none"
    print(f"{out_file}: {record['seconds']} s (flow {record['flow_seconds']} s; arms: {arms_text}; budget "
          f"{record['budget_s']:.0f} s, within: {record['within_budget']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
