"""The RL study (issue #23, item 6): GRPO recipes ("arms") against the SFT baseline on a dev split cut from train —
never on the test splits — with paired 95 % intervals, so the team can pick the default recipe.

Every arm (experiments/rl_study_arms.py, `ARMS`: the baseline `sft`, the controls `grpo_lr0`, `sft_more` and
`sft_more_ep`, the per-turn levers `grpo`, `grpo_band`, `grpo_dynamic`, `grpo_init_step`, `grpo_all`, the episode
arms `grpo_ep*`, and the faulty world's `sft_faults`; each a params overlay and a one-line why) runs the real stages as
`python -m tasks.<stage>` with THINKACT_PARAMS (MLflow off) in its own outputs folder `<work>/<arm>/outputs`:
`sft` trains the baseline once (keeping its step at --init-step for `sft@step`) and evaluates base and sft; a GRPO
arm links `<work>/<its start arm>/outputs/sft` (sft, or sft_more), trains grpo and evaluates grpo alone; `sft_more`
retrains SFT with as many extra steps as the `grpo` arm's training seconds buy (compute-matched). Evaluation:
`evaluate.splits` and `evaluate.episodes.splits` are [dev] only. Each arm is then paired with its reference arm (sft,
sft_faults or sft_more; sft itself with base) on the very same
dev rows and episodes, reusing the register gate's code (thinkact.promotion: completions re-scored, paired
bootstrap by example id) and the evaluate stage's per-kind episode summary (thinkact.evaluation.episode_kinds); a
GRPO arm is also paired with the base model (the sft arm's base completions: the record's `vs_base`).

Needs the built-in data in data/ (`thinkact data generate`, README; dev is cut from data/train.jsonl and
data/episodes/train.jsonl). Run from the project root after `source scripts/env.sh`:

    python experiments/rl_study.py                      # every unfinished arm (about an hour on 2 cores)
    python experiments/rl_study.py --arms sft,grpo      # only these (sft_more needs sft and grpo done)
    python experiments/rl_study.py --force grpo_band    # redo one (--force all: every selected arm)
    python experiments/rl_study.py --report             # the table of the finished arms
    python experiments/rl_study.py --smoke              # every arm at the quick profile's sizes, a few minutes
    python experiments/rl_study.py --profile smollm2 --dev-examples 120 --dev-episodes 0 \
        --arms sft,grpo,grpo_base,grpo_think,grpo_think_lr0  # a profile's recipes (issue #24): results/smollm2

Writes, per finished arm, experiments/results/rl_study_<arm>.json (atomically: overlay, git commit, dev cut,
figures, GRPO diagnostics, seconds per stage); a rerun skips the arms whose record exists for the same dev cut.
--report prints the Markdown table and writes experiments/results/rl_study.md. The stages' outputs and logs go to
--work (default /tmp/thinkact-study; nothing there belongs in git). --smoke uses /tmp/thinkact-study-smoke for
both the outputs and the records (`--smoke --report` shows its table).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "experiments")]

from rl_study_arms import ARMS, BY_NAME, Arm, arm_overlay, arm_raw, base_raw, matched_steps  # noqa: E402

DEV = "dev"
WORK, SMOKE_WORK = Path("/tmp/thinkact-study"), Path("/tmp/thinkact-study-smoke")
PREFIX = "rl_study_"
GROUPS = ("single", "chain", "parallel", "clarify", "no_tool", "tool_needing")  # episode_kinds.GROUPS
TURN_METRICS = ("answer", "format", "reasoning_present")  # also paired per arm: what moved besides calls
GRPO_KEYS = ("steps", "examples", "seconds_per_step", "reward_first", "reward_last", "zero_spread_first",
             "zero_spread_last", "entropy_first", "entropy_last")


def git_state() -> dict[str, Any]:
    """The commit and whether the code the stages run (thinkact/, tasks/, params.yaml) differs from it."""
    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--", "thinkact", "tasks", "params.yaml"))}


def run_stage(arm: str, stage: str, params_file: Path) -> float:
    """`python -m tasks.<stage>` on `params_file`, its output in <folder>/<stage>.log; the wall seconds."""
    env = {**os.environ, "THINKACT_PARAMS": str(params_file), "THINKACT_TRACKING": "0"}
    env.pop("THINKACT_PROFILE", None)
    log = params_file.parent / f"{stage}.log"
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        code = subprocess.run([sys.executable, "-m", f"tasks.{stage}"], cwd=ROOT, env=env, stdout=out,
                              stderr=subprocess.STDOUT).returncode
    seconds = round(time.perf_counter() - start, 1)
    if code:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise SystemExit(f"{tail}\n[study] {arm}: `python -m tasks.{stage}` failed (exit {code}) after {seconds} s; "
                         f"log {log}")
    print(f"[study] {arm}: {stage} {seconds} s", flush=True)
    return seconds


def _pair(c: Any) -> dict[str, Any]:
    """A gate Comparison (thinkact.promotion.gate.compare) as a record entry."""
    return {"n": c.n, "arm": c.challenger_mean, "ref": c.other_mean, "delta": c.delta, "low": c.low, "high": c.high}


def _episode_rows(evaluate: Path, model: str, specs: list) -> list[dict[str, Any]]:
    """The per-episode scores of the evaluate stage's greedy transcripts, in `specs` order."""
    path = evaluate / "predictions" / "episodes" / model / f"{DEV}.jsonl"
    by_id = {row["id"]: row["scores"] for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())}
    missing = [s.id for s in specs if s.id not in by_id]
    if missing:
        raise SystemExit(f"{path}: no transcript of {len(missing)} dev episode(s), e.g. {missing[0]}")
    return [by_id[s.id] for s in specs]


def figures(params: Any, arm_eval: Path, arm_model: str, ref_eval: Path, ref_model: str) -> dict[str, Any]:
    """The arm's model vs the reference model on the same dev rows and episodes: per-turn metrics (the headline's
    tool_call_exact and the gate's primary metric) and greedy episode success overall and per kind, each with n,
    both means, the paired delta and its interval."""
    from thinkact.evaluation.episode_kinds import summarize_kinds
    from thinkact.evaluation.runner import episode_splits, eval_splits
    from thinkact.promotion.champion import read_completions, score
    from thinkact.promotion.gate import compare

    boot = params.evaluate.bootstrap
    examples = eval_splits(params, [DEV])
    a = score(examples, read_completions(arm_eval / "predictions" / arm_model, [DEV]), params)
    b = score(examples, read_completions(ref_eval / "predictions" / ref_model, [DEV]), params)
    out = {m: _pair(compare(a, b, m, boot, 0.0, ref_model))
           for m in dict.fromkeys(("tool_call_exact", params.register.primary_metric, *TURN_METRICS))}
    if not params.evaluate.episodes.splits:  # a cut without episodes (--dev-episodes 0)
        return out
    specs = episode_splits(params, [DEV])[DEV]
    rows = {"arm": _episode_rows(arm_eval, arm_model, specs), "ref": _episode_rows(ref_eval, ref_model, specs)}
    keyed = {k: {f"{DEV}/{s.id}": r for s, r in zip(specs, v)} for k, v in rows.items()}
    out["episode_success"] = _pair(compare(keyed["arm"], keyed["ref"], "episode_success", boot, 0.0, ref_model))
    summary, deltas = summarize_kinds({DEV: specs}, {k: {DEV: v} for k, v in rows.items()}, [("arm", "ref")],
                                      boot.kwargs())
    for group, est in deltas["arm-ref"][DEV].items():
        d = est["episode_success"]
        out[f"episode_success/{group}"] = {
            "n": d.n, "arm": summary["arm"][DEV][group]["episode_success"].value,
            "ref": summary["ref"][DEV][group]["episode_success"].value, "delta": d.value, "low": d.low,
            "high": d.high}
    return out


def prepare(arm: Arm, raw: dict, work: Path, records: dict[str, dict], smoke: bool) -> tuple[Path, dict, Any]:
    """A fresh <work>/<arm>/ with its params.yaml (checked) and, for a GRPO arm, the shared SFT outputs linked."""
    from thinkact.config import params_from_raw

    folder = work / arm.name
    shutil.rmtree(folder, ignore_errors=True)  # an unfinished arm starts over: honest seconds, no stale checkpoint
    outputs = folder / "outputs"
    outputs.mkdir(parents=True)
    if arm.trains in ("grpo", "none"):
        shared = work / arm.start / "outputs" / "sft"
        if not (shared / "model" / "config.json").is_file():
            raise SystemExit(f"[study] {arm.name}: {shared}/model is gone (the --work folder was cleared?); redo "
                             f"the baseline with --force {arm.start}, then the arms after it")
        (outputs / "sft").symlink_to(shared, target_is_directory=True)
    over = arm_overlay(arm, raw, records, smoke)
    full = arm_raw(raw, over, outputs, ["base", "sft"] if arm.name == "sft" else [evaluated(arm)])
    params = params_from_raw(full, f"experiments/rl_study.py, arm {arm.name}")  # a bad overlay fails here
    (folder / "params.yaml").write_text(yaml.safe_dump(full, sort_keys=False), encoding="utf-8")
    return folder, over, params


def run_arm(arm: Arm, raw: dict, work: Path, records: dict[str, dict], smoke: bool) -> dict[str, Any]:
    """Train and evaluate one arm, then pair it with its reference; its record."""
    folder, over, params = prepare(arm, raw, work, records, smoke)
    print(f"[study] {arm.name}: {arm.why}; overlay {json.dumps(over)}", flush=True)
    seconds = {} if arm.trains == "none" else {arm.trains: run_stage(arm.name, arm.trains, folder / "params.yaml")}
    seconds["evaluate"] = run_stage(arm.name, "evaluate", folder / "params.yaml")
    outputs = folder / "outputs"
    train = {} if arm.trains == "none" else \
        json.loads((outputs / arm.trains / "metrics.json").read_text(encoding="utf-8"))
    ref_model, ref_eval = ("base", outputs / "evaluate") if arm.name == "sft" else \
        ("sft", work / arm.ref / "outputs" / "evaluate")
    t0 = time.perf_counter()
    figs = figures(params, outputs / "evaluate", evaluated(arm), ref_eval, ref_model)
    seconds["figures"] = round(time.perf_counter() - t0, 1)
    vs = "base" if arm.name == "sft" else arm.ref
    record = {"arm": arm.name, "why": arm.why, "trains": arm.trains, "vs": vs, "overlay": over,
              "smoke": smoke, "dev": raw["dev"], "git": git_state(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                                time.gmtime()),
              "sft_finished": None if arm.name == "sft" else records["sft"]["finished"],
              "figures": figs, "train": train, "seconds": seconds, "work": str(folder)}
    if arm.trains == "grpo":
        record["grpo"] = {**{k: train.get(k) for k in GRPO_KEYS}, "difficulty": train.get("difficulty")}
        # GRPO - base as well (issue #24's target for grpo.init: base): the base model's dev completions of the sft arm
        record["vs_base"] = figures(params, outputs / "evaluate", evaluated(arm), work / "sft" / "outputs" / "evaluate",
                                    "base")
    if arm.match:
        record["matched"] = {"arm": arm.match, **matched_steps(records["sft"], records[arm.match])}
    return record


def evaluated(arm: Arm) -> str:
    """The model an arm's evaluate stage plays: the one it trains, or sft for an arm that trains none."""
    return "sft" if arm.trains == "none" else arm.trains


def read_records(results: Path) -> dict[str, dict]:
    """arm -> its record, for every experiments/results/rl_study_<arm>.json of a known arm, in ARMS order."""
    found = {p.stem[len(PREFIX):]: p for p in results.glob(f"{PREFIX}*.json")}
    return {a.name: json.loads(found[a.name].read_text(encoding="utf-8")) for a in ARMS if a.name in found}


def pp(d: dict[str, Any] | None, n: bool = True) -> str:
    """A paired delta in percentage points: +1.2 [-3.0, +5.1] n=240."""
    if not d or d.get("delta") is None:
        return "-"
    ci = "" if d.get("low") is None else f" [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]"
    return f"{100 * d['delta']:+.1f}{ci}" + (f" n={d['n']}" if n else "")


def _span(grpo: dict[str, Any], key: str) -> str:
    """A GRPO diagnostic over the first -> last 10 % of steps; "-" for an SFT arm."""
    first, last = grpo.get(f"{key}_first"), grpo.get(f"{key}_last")
    if first is None and last is None:
        return "-"
    return " → ".join("-" if x is None else f"{x:.2f}" for x in (first, last))


def _means(figures: dict[str, Any]) -> str:
    """The means behind the deltas: arm and reference, in %."""
    return ", ".join(f"{k} {100 * v['arm']:.1f} vs {100 * v['ref']:.1f}" for k, v in figures.items()
                     if "/" not in k and v.get("arm") is not None and v.get("ref") is not None)


def report(records: dict[str, dict]) -> str:
    """The Markdown tables of the finished arms: deltas vs the reference, GRPO diagnostics, seconds; per kind."""
    sft = records.get("sft", {})
    size = "smoke: quick-profile sizes, the numbers mean nothing" if sft.get("smoke") else "full size"
    head = (f"RL study on the dev split ({size}; dev {sft.get('dev')}; commit "
            f"{sft.get('git', {}).get('commit', '?')[:8]}). Paired deltas in "
            "percentage points, arm − vs, with 95 % paired-bootstrap intervals (BCa) and n paired items; "
            "zero-spread: share of zero-spread GRPO groups, first → last 10 % of steps.")
    lines = [head, "", "| arm | vs | tool_call_exact | tool_call | episode success | tool_needing episodes | "
             "zero-spread | reward | seconds |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in records.items():
        f, g = r["figures"], r.get("grpo") or {}
        stale = " (stale: sft redone since)" if r.get("sft_finished") not in (None, sft.get("finished")) else ""
        secs = " + ".join(f"{k} {r['seconds'][k]:.0f}" for k in (r["trains"], "evaluate") if k in r["seconds"])
        lines.append(f"| {name}{stale} | {r['vs']} | {pp(f.get('tool_call_exact'))} | {pp(f.get('tool_call'))} | "
                     f"{pp(f.get('episode_success'))} | {pp(f.get('episode_success/tool_needing'))} | "
                     f"{_span(g, 'zero_spread')} | {_span(g, 'reward')} | {secs} |")
    episodes = any("episode_success" in r["figures"] for r in records.values())  # none: a cut without episodes
    lines += ["", "Episode success per kind (greedy), paired delta in points [95 % CI] (n episodes):", "",
              "| arm | " + " | ".join(GROUPS) + " |", "|---" * (len(GROUPS) + 1) + "|"] if episodes else []
    for name, r in records.items() if episodes else ():
        cells = [pp(r["figures"].get(f"episode_success/{g}"), n=False)
                 + (f" ({r['figures'][f'episode_success/{g}']['n']})" if f"episode_success/{g}" in r["figures"]
                    else "") for g in GROUPS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Means on dev (%, arm vs its reference):", ""]
    lines += [f"- {name} vs {r['vs']}: {_means(r['figures'])}" for name, r in records.items()]
    lines += ["", "GRPO arms vs the base model (tool_call_exact; answer):", ""]
    lines += [f"- {name}: {pp(r['vs_base'].get('tool_call_exact'))}; {pp(r['vs_base'].get('answer'))}"
              for name, r in records.items() if r.get("vs_base")]
    for name, r in records.items():
        if "matched" in r:
            m = r["matched"]
            lines += ["", f"{name}: {m.get('sft_steps')} + {m.get('extra_steps')} SFT steps (the "
                          f"{m.get('arm', 'grpo')} arm's {m.get('grpo_seconds')} s of training at "
                          f"{m.get('sft_seconds_per_step')} s per SFT step)."]
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arms", default=",".join(a.name for a in ARMS), help="comma-separated arms (default: all)")
    ap.add_argument("--force", default="", help="comma-separated arms to redo though finished; `all`: every one")
    ap.add_argument("--report", action="store_true", help="print the table of the finished arms and write the .md")
    ap.add_argument("--smoke", action="store_true", help="tiny settings in /tmp/thinkact-study-smoke")
    ap.add_argument("--dev-examples", type=int, help="dev.examples: train rows held out (default 240; smoke 16)")
    ap.add_argument("--dev-episodes", type=int, help="dev.episodes: train episodes held out (default 60; smoke 10)")
    ap.add_argument("--episode-k", type=int, default=1, help="evaluate.episodes.k (pass^k samples; the study "
                    "compares greedy success, so 1 keeps the episode time low)")
    ap.add_argument("--init-step", type=int, help="the SFT step kept for grpo.init: sft@STEP (default: half of "
                    "sft.trainer.max_steps)")
    ap.add_argument("--profile", help="run the study on a profile (profiles/<name>.yaml over params.yaml), e.g. "
                    "smollm2; its records go to experiments/results/<name>/, its outputs to /tmp/thinkact-study-<name>")
    ap.add_argument("--work", type=Path, help="the stages' outputs (default /tmp/thinkact-study)")
    ap.add_argument("--results", type=Path, help="the records (default experiments/results; smoke: <work>/results)")
    args = ap.parse_args(argv)
    unknown = [a for a in (args.arms + "," + args.force).split(",") if a and a != "all" and a not in BY_NAME]
    if unknown:
        ap.error(f"unknown arm(s) {', '.join(unknown)}; arms: {', '.join(BY_NAME)}")
    suffix = f"-{args.profile}" if args.profile else ""
    args.work = args.work or Path(f"{SMOKE_WORK if args.smoke else WORK}{suffix}")
    args.results = args.results or (args.work / "results" if args.smoke else
                                    ROOT / "experiments" / "results" / (args.profile or ""))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.report:
        records = read_records(args.results)
        if not records:
            raise SystemExit(f"no finished arm in {args.results}")
        text = report(records)
        args.results.mkdir(parents=True, exist_ok=True)
        (args.results / "rl_study.md").write_text(text, encoding="utf-8")
        print(text, end="")
        return 0
    for needed in ("train.jsonl", "episodes/train.jsonl"):
        if not (ROOT / "data" / needed).is_file():
            raise SystemExit(f"data/{needed} is missing: generate the built-in data first (`thinkact data generate`)")
    run_arms(args)
    return main([*(["--smoke"] if args.smoke else []), *(["--profile", args.profile] if args.profile else []),
                 "--work", str(args.work), "--results", str(args.results),
                 "--report"])


def run_arms(args: argparse.Namespace) -> None:
    """Run every selected arm that has no record for this dev cut (or is forced), in ARMS order."""
    from thinkact.io import atomic_write_json

    raw = base_raw(ROOT, smoke=args.smoke, dev_examples=args.dev_examples, dev_episodes=args.dev_episodes,
                   episode_k=args.episode_k, init_step=args.init_step, profile=args.profile)
    records = {k: r for k, r in read_records(args.results).items() if r["dev"] == raw["dev"]}
    selected, forced = set(args.arms.split(",")), set(args.force.split(","))
    args.results.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for arm in ARMS:
        fresh = {k: r for k, r in read_records(args.results).items() if r["dev"] == raw["dev"]}
        records.update(fresh)
        if arm.name not in selected or (arm.name in fresh and not forced & {arm.name, "all"}):
            continue  # (re-read before each arm: another runner on other arms may have finished one meanwhile)
        missing = [n for n in arm.needs if n not in records]
        if missing:
            raise SystemExit(f"[study] {arm.name} needs the arm(s) {', '.join(missing)} first (add them to --arms)")
        t0 = time.perf_counter()
        records[arm.name] = run_arm(arm, raw, args.work, records, args.smoke)
        records[arm.name]["seconds"]["arm"] = round(time.perf_counter() - t0, 1)
        atomic_write_json(args.results / f"{PREFIX}{arm.name}.json", records[arm.name])
        print(f"[study] {arm.name}: done in {records[arm.name]['seconds']['arm']} s -> "
              f"{args.results / f'{PREFIX}{arm.name}.json'}", flush=True)
    print(f"[study] {time.perf_counter() - start:.0f} s in all", flush=True)


if __name__ == "__main__":
    sys.exit(main())
