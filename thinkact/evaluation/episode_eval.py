"""Evaluate models on agent episodes: success (pass^1, greedy) and pass^k (k samples, all succeed), with intervals.

Every model plays every split's episodes with `thinkact.env.rollout.play_episodes`, once greedily and, when
`k` > 0, `k` times sampled at `temperature`. The settings are params' own: the `episodes` section bounds each
episode (thinkact.env.settings.EpisodesParams), `evaluate.episodes` gives k and the temperature (a caller may
override those two; k = 0 plays greedy only), `evaluate.batch_size` the batch, `evaluate.bootstrap` the intervals,
`model.seed` the sampling seed; `settings_record` is how metrics.json and run.json record them. Each episode is
scored by the episode rewards themselves (thinkact.rewards.episode_rewards: rewards are metrics), plus `pass_k`
(1 when all k samples succeed), `sampled_success` (share of the k samples that succeed), `calls_per_episode`,
`turns_per_episode` (assistant messages) and `invalid_call_rate` (share of an episode's calls the environment
rejected; None without calls). Every metric gets a bootstrap interval over episodes, and each model a paired delta
against the one before it (same episodes); throughput (episodes per second, greedy and sampled) is reported beside
them. Episode success is also reported per kind and for the tool-needing kinds pooled, deltas included
(thinkact.evaluation.episode_kinds: metrics.json's `by_kind`). With tool faults on (any rate of `episodes.faults`
above 0: thinkact.env.faults) every figure is played with them, and each split is also played greedily without
them: `episode_success_no_faults` (with its interval, deltas and per-kind figures) beside `episode_success`; with
every rate 0 that pass is not played and nothing of it is written.

    ev = evaluate_episodes({"sft": (model, tokenizer), "grpo": lambda: load(...)}, {"test_env": specs}, params,
                           k=4, temperature=0.8, out_dir="outputs/evaluate")
    ev.metrics_json()["grpo"]["test_env"]["episode_success_ci"]; render_episode_markdown(ev)

`evaluate_episodes` is `play_model` per model (one loaded model on every split) then `summarize_episodes`; the
evaluate stage calls those two itself, to play the episodes with the model it loaded for the per-turn examples.
With `out_dir`, the greedy transcripts go to `<out_dir>/predictions/episodes/<model>/<split>.jsonl` (one line per
episode: id, model, split, messages, success, scores, result, samples_success), replacing that folder whole.
`thinkact.evaluation.report.write_evaluation` replaces `predictions/` whole: write episodes after it.
"""
from __future__ import annotations

import copy
import gc
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from thinkact import distributed
from thinkact.env.rollout import EpisodeRollout, play_episodes
from thinkact.env.settings import EpisodesParams
from thinkact.env.spec import EpisodeSpec
from thinkact.evaluation.episode_kinds import (KEY as BY_KIND, KIND_METRICS, TOOL_NEEDING, ByKind, kind_groups,
                                               kinds_json, kinds_mlflow, summarize_kinds)
from thinkact.evaluation.report import jsonl
from thinkact.evaluation.stats import Estimate, bootstrap_ci, paired_delta
from thinkact.evaluation.summary import default_pairs, flatten
from thinkact.io import atomic_dir, atomic_write_text
from thinkact.project import RunParams
from thinkact.rewards import EPISODE_NAMES, build

DERIVED = ("pass_k", "sampled_success", "calls_per_episode", "turns_per_episode", "invalid_call_rate")
UNBOUNDED = frozenset({"calls_per_episode", "turns_per_episode"})  # counts, not scores in [0, 1]
NO_FAULTS = "episode_success_no_faults"  # greedy success with the tools' faults off (only when they are on)
RESERVED = ("deltas", "settings", BY_KIND)
TRANSCRIPTS_DIR = Path("predictions") / "episodes"
ModelSource = tuple[Any, Any] | Callable[[], tuple[Any, Any]]


def sampling(params: RunParams, k: int | None = None, temperature: float | None = None) -> tuple[int, float]:
    """(k, temperature) of the pass^k samples: `evaluate.episodes`' unless given; k = 0: greedy only."""
    ev = params.evaluate.episodes
    return (ev.k if k is None else k), (ev.temperature if temperature is None else temperature)


def settings_record(params: RunParams, k: int | None = None, temperature: float | None = None) -> dict[str, Any]:
    """How episodes are played and summarised, as metrics.json (`settings`) and run.json record it."""
    k, temperature = sampling(params, k, temperature)
    ep, ev = params.episodes, params.evaluate
    out = {"k": k, "temperature": temperature, "max_new_tokens": ep.max_new_tokens, "max_turns": ep.max_turns,
           "max_tool_calls": ep.max_tool_calls, "batch_size": ev.batch_size, "seed": params.model.seed,
           "bootstrap": asdict(ev.bootstrap)}
    return {**out, "faults": asdict(ep.faults)} if ep.faults.on else out


@dataclass
class EpisodeEvaluation:
    """Per-episode scores and their summaries for models x splits."""

    models: list[str]
    splits: list[str]
    metrics: list[str]
    settings: dict[str, Any]                                          # settings_record: how they were played
    specs: dict[str, list[EpisodeSpec]]
    rows: dict[str, dict[str, list[dict[str, float | None]]]]         # model -> split -> metrics per episode
    transcripts: dict[str, dict[str, list[dict[str, Any]]]]            # model -> split -> greedy transcript rows
    summary: dict[str, dict[str, dict[str, Estimate]]]                # model -> split -> metric -> estimate
    deltas: dict[str, dict[str, dict[str, Estimate]]]                 # "a-b" -> split -> metric -> a − b
    throughput: dict[str, dict[str, dict[str, float]]]                # model -> split -> episodes/s, seconds
    by_kind: ByKind                                                   # model -> split -> kind -> metric -> estimate
    kind_deltas: ByKind                                               # "a-b" -> split -> kind -> metric -> a − b

    def metrics_json(self) -> dict[str, Any]:
        """{model: {split: {metric, metric_ci, metric_n, episodes_per_second…}}, "deltas": …, "by_kind": {model:
        {split: {kind: …}}, "deltas": …}, "settings": …}."""
        out: dict[str, Any] = {m: {s: {**flatten(self.summary[m][s]), **self.throughput[m][s]} for s in self.splits}
                               for m in self.models}
        out["deltas"] = {pair: {s: flatten(d[s]) for s in self.splits} for pair, d in self.deltas.items()}
        out[BY_KIND] = kinds_json(self.by_kind, self.kind_deltas)
        out["settings"] = copy.deepcopy(self.settings)
        return out

    def mlflow_metrics(self, prefix: str = "episodes") -> dict[str, float]:
        """Every mean, delta and throughput as MLflow metric names `<prefix>/<model>/<split>/<metric>`, the per-kind
        ones as `<prefix>/by_kind/<model>/<split>/<kind>/<metric>` (episode_kinds.kinds_mlflow)."""
        out = {f"{prefix}/{m}/{s}/{k}": e.value for m in self.models for s in self.splits
               for k, e in self.summary[m][s].items() if e.value is not None}
        out.update({f"{prefix}/{m}/{s}/{k}": v for m in self.models for s in self.splits
                    for k, v in self.throughput[m][s].items()})
        out.update({f"{prefix}/delta/{pair}/{s}/{k}": e.value for pair, d in self.deltas.items()
                    for s in self.splits for k, e in d[s].items() if e.value is not None})
        out.update(kinds_mlflow(self.by_kind, self.kind_deltas, prefix))
        return out


def score_rollouts(rollouts: Sequence[EpisodeRollout]) -> list[dict[str, float | None]]:
    """The episode rewards of each rollout (by calling the registered rewards), plus calls, turns, and the invalid
    rate of the model's calls (injected faults are the tools', not the model's: left out)."""
    episodes = [r.spec.to_json() for r in rollouts]
    results = [json.dumps(r.result()) for r in rollouts]
    blank = [""] * len(rollouts)
    columns = {f.name: f(blank, episode=episodes, episode_result=results) for f in build(list(EPISODE_NAMES))}
    rows = []
    for i, r in enumerate(rollouts):
        row = {name: values[i] for name, values in columns.items()}
        row["calls_per_episode"] = float(len(r.calls))
        row["turns_per_episode"] = float(r.assistant_turns)
        made = [c for c in r.calls if not c.faulted]
        row["invalid_call_rate"] = (sum(c.mistaken for c in made) / len(made)) if made else None
        rows.append(row)
    return rows


def _play(model: Any, tokenizer: Any, specs: list[EpisodeSpec], params: RunParams, k: int, temperature: float,
          label: str, settings: EpisodesParams | None = None) -> list[EpisodeRollout]:
    """`k` rollouts of every spec (greedy when `temperature` is 0) under params' episode settings (or `settings`)
    and batch size."""
    return play_episodes(model, tokenizer, specs, settings or params.episodes, num_samples=k, temperature=temperature,
                         batch_size=params.evaluate.batch_size, seed=params.model.seed, progress=label)


def _sampled(model: Any, tokenizer: Any, specs: list[EpisodeSpec], params: RunParams, k: int, temperature: float,
             label: str) -> tuple[list, float]:
    """(per spec: the k samples' successes, seconds); `label`: progress lines (thinkact.progress)."""
    t0 = time.perf_counter()
    rollouts = _play(model, tokenizer, specs, params, k, temperature, label)
    seconds = time.perf_counter() - t0
    success = [row["episode_success"] for row in score_rollouts(rollouts)]
    return [success[i * k:(i + 1) * k] for i in range(len(specs))], seconds


def _transcript(label: str, split: str, r: EpisodeRollout, row: dict[str, Any], samples: list | None) -> dict:
    return {"id": r.spec.id, "model": label, "split": split, "messages": r.messages,
            "success": row["episode_success"], "scores": row, "result": r.result(), "samples_success": samples}


def _no_faults(model: Any, tokenizer: Any, label: str, specs: list[EpisodeSpec], params: RunParams,
               rows: list[dict]) -> float:
    """With the tools' faults on: the same greedy play without them, its success into `rows` (NO_FAULTS); seconds."""
    if not params.episodes.faults.on:
        return 0.0
    t0 = time.perf_counter()
    settings = params.episodes.without_faults()
    clean = distributed.shard_map(specs, lambda part: _play(
        model, tokenizer, part, params, 1, 0.0, f"[episodes] {label} greedy, no faults", settings))
    for row, clean_row in zip(rows, score_rollouts(clean)):
        row[NO_FAULTS] = clean_row["episode_success"]
    return time.perf_counter() - t0


def _play_split(model: Any, tokenizer: Any, label: str, split: str, specs: list[EpisodeSpec], params: RunParams,
                k: int, temperature: float) -> tuple[list[dict], list[dict], dict[str, float]]:
    """(metric rows, transcript rows, throughput) of one model on one split."""
    t0 = time.perf_counter()
    # with several processes (launch.num_processes) each plays a slice; every process gets all, in order
    greedy = distributed.shard_map(specs, lambda part: _play(
        model, tokenizer, part, params, 1, 0.0, f"[episodes] {label} / {split} greedy"))
    greedy_s = time.perf_counter() - t0
    rows = score_rollouts(greedy)
    clean_s = _no_faults(model, tokenizer, f"{label} / {split}", specs, params, rows)
    if k > 0 and specs:
        t1 = time.perf_counter()
        samples = distributed.shard_map(specs, lambda part: _sampled(
            model, tokenizer, part, params, k, temperature, f"[episodes] {label} / {split} pass^{k} samples")[0])
        sampled_s = time.perf_counter() - t1
    else:
        samples, sampled_s = [None] * len(specs), 0.0
    for row, k_succ in zip(rows, samples if k > 0 else ()):
        ok = None if None in k_succ else [float(v) for v in k_succ]
        row["pass_k"] = None if ok is None else float(all(ok))
        row["sampled_success"] = None if ok is None else sum(ok) / len(ok)
    speed = {"greedy_episodes_per_second": round(len(specs) / greedy_s, 3) if greedy_s > 0 else 0.0,
             "seconds": round(greedy_s + clean_s + sampled_s, 2)}
    if k > 0:
        speed["sampled_episodes_per_second"] = round(len(specs) * k / sampled_s, 3) if sampled_s > 0 else 0.0
    transcripts = [_transcript(label, split, r, row, k_succ) for r, row, k_succ in zip(greedy, rows, samples)]
    succeeded = sum(row["episode_success"] or 0 for row in rows)
    print(f"[episodes] {label} / {split}: {len(specs)} episodes, {succeeded:.0f} succeeded (greedy), "
          f"{greedy_s + clean_s + sampled_s:.1f} s", flush=True)
    return rows, transcripts, speed


def check_models(models: Sequence[str], pairs: Sequence[tuple[str, str]], k: int, temperature: float) -> None:
    """ValueError for a model label unfit for metric names, a delta naming an unknown model, or a bad k."""
    for m in models:
        if m in RESERVED or "-" in m or "/" in m:
            raise ValueError(f"model name {m!r} is reserved or contains '-' or '/' (used in delta and metric names)")
    for a, b in pairs:
        if a not in models or b not in models:
            raise ValueError(f"delta {a}-{b}: unknown model; models: {', '.join(models)}")
    if k < 0 or (k > 0 and temperature <= 0):
        raise ValueError(f"k must be >= 0 and pass^k needs a temperature > 0 (k={k}, temperature={temperature})")


Played = dict[str, tuple[list[dict], list[dict], dict[str, float]]]  # split -> (metric rows, transcripts, speed)


def play_model(model: Any, tokenizer: Any, label: str, splits: Mapping[str, Sequence[EpisodeSpec]], params: RunParams,
               *, k: int | None = None, temperature: float | None = None) -> Played:
    """Play every split with one loaded model (greedy, then the k samples): what `summarize_episodes` takes.
    `k`/`temperature` override `evaluate.episodes`' (k = 0: greedy only)."""
    k, temperature = sampling(params, k, temperature)
    return {split: _play_split(model, tokenizer, label, split, list(specs), params, k, temperature)
            for split, specs in splits.items()}


def summarize_episodes(played: Mapping[str, Played], splits: Mapping[str, Sequence[EpisodeSpec]], params: RunParams,
                       *, k: int | None = None, temperature: float | None = None,
                       pairs: Sequence[tuple[str, str]] | None = None) -> EpisodeEvaluation:
    """Intervals and paired deltas over what `play_model` returned for each model (in the order given), played
    with the same `params` and `k`/`temperature`."""
    names, split_names, s = list(played), list(splits), settings_record(params, k, temperature)
    pairs = list(default_pairs(names) if pairs is None else pairs)
    check_models(names, pairs, s["k"], s["temperature"])
    specs = {k: list(v) for k, v in splits.items()}
    rows = {m: {sp: played[m][sp][0] for sp in split_names} for m in names}
    transcripts = {m: {sp: played[m][sp][1] for sp in split_names} for m in names}
    speed = {m: {sp: played[m][sp][2] for sp in split_names} for m in names}
    sampled = ["pass_k", "sampled_success"] if s["k"] > 0 else []
    clean = [NO_FAULTS] if params.episodes.faults.on else []
    metrics = [EPISODE_NAMES[0], *clean, *sampled, *EPISODE_NAMES[1:], *DERIVED[2:]]  # success and pass^k first
    boot = params.evaluate.bootstrap.kwargs()
    summary = {m: {sp: {k: bootstrap_ci([r[k] for r in rows[m][sp]], **boot) for k in metrics}
                   for sp in split_names} for m in names}
    deltas = {f"{a}-{b}": {sp: {k: paired_delta([r[k] for r in rows[a][sp]], [r[k] for r in rows[b][sp]], **boot)
                                for k in metrics} for sp in split_names} for a, b in pairs}
    by_kind, kind_deltas = summarize_kinds(specs, rows, pairs, boot, (*KIND_METRICS, *clean))
    return EpisodeEvaluation(names, split_names, metrics, s, specs, rows, transcripts, summary, deltas, speed,
                             by_kind, kind_deltas)


def evaluate_episodes(models: Mapping[str, ModelSource], splits: Mapping[str, Sequence[EpisodeSpec]], params: RunParams,
                      *, k: int | None = None, temperature: float | None = None,
                      pairs: Sequence[tuple[str, str]] | None = None,
                      out_dir: str | Path | None = None) -> EpisodeEvaluation:
    """Play and score every split with every model. `models` maps a label to (model, tokenizer) or to a callable
    returning them (loaded when its turn comes, released after). `k`/`temperature` override `evaluate.episodes`'
    (k = 0: greedy only). `pairs`: (a, b) for the deltas a − b (default: each model against the one before it).
    With `out_dir`, writes the transcripts (see the module docstring)."""
    names = list(models)
    k, temperature = sampling(params, k, temperature)
    check_models(names, list(default_pairs(names) if pairs is None else pairs), k, temperature)
    played: dict[str, Played] = {}
    for label, source in models.items():
        model, tokenizer = source() if callable(source) else source
        played[label] = play_model(model, tokenizer, label, splits, params, k=k, temperature=temperature)
        del model, tokenizer
        gc.collect()
    ev = summarize_episodes(played, splits, params, k=k, temperature=temperature, pairs=pairs)
    if out_dir is not None:
        write_transcripts(ev, out_dir)
    return ev


def write_transcripts(ev: EpisodeEvaluation, out_dir: str | Path) -> Path:
    """`<out_dir>/predictions/episodes/<model>/<split>.jsonl`, the folder replaced whole; returns the folder."""
    folder = Path(out_dir) / TRANSCRIPTS_DIR
    with atomic_dir(folder) as tmp:
        for m in ev.models:
            for sp in ev.splits:
                atomic_write_text(tmp / m / f"{sp}.jsonl", jsonl(ev.transcripts[m][sp]))
    return folder


# -- Markdown ------------------------------------------------------------------------------------------------
LABELS = {"episode_success": "success", NO_FAULTS: "success (no faults)", "pass_k": "pass^k",
          "sampled_success": "sampled success",
          "episode_call_recall": "call recall", "episode_call_precision": "call precision",
          "episode_answer_facts": "facts stated", "episode_valid_calls": "valid calls",
          "episode_turns": "turn budget used", "calls_per_episode": "calls/episode",
          "turns_per_episode": "turns/episode", "invalid_call_rate": "invalid calls"}


def _cell(e: Estimate, metric: str, signed: bool = False) -> str:
    """'61.0 ± 9.5' (percent for scores in [0, 1], counts as they are); deltas signed, '*' when the CI excludes 0."""
    if e.value is None:
        return "–"
    k = 1.0 if metric in UNBOUNDED else 100.0
    value = f"{e.value * k:+.1f}" if signed else f"{e.value * k:.1f}"
    if e.low is None or e.high is None:
        return value
    if signed:
        return f"{value} [{e.low * k:+.1f}, {e.high * k:+.1f}]" + ("\\*" if e.excludes_zero else "")
    return f"{value} ± {max(e.value - e.low, e.high - e.value) * k:.1f}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _clip(text: Any, limit: int) -> str:
    text = " ⏎ ".join(str(text).split("\n"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def transcript_lines(messages: Sequence[dict[str, Any]], limit: int = 240) -> list[str]:
    """`role: text` lines of a transcript; reasoning as `assistant (thinking)`, tool calls as `name(arguments)`."""
    lines = []
    for m in messages:
        role = m.get("role", "?")
        if role == "assistant":
            if m.get("reasoning"):
                lines.append(f"assistant (thinking): {_clip(m['reasoning'], limit)}")
            for call in m.get("tool_calls") or ():
                fn = call.get("function", {})
                lines.append(f"assistant: {_clip(str(fn.get('name')) + '(' + str(fn.get('arguments')) + ')', limit)}")
            if m.get("content") or not m.get("tool_calls"):
                lines.append(f"assistant: {_clip(m.get('content') or '', limit)}")
        else:
            lines.append(f"{role}: {_clip(m.get('content') or '', limit)}")
    return lines


def _fenced(lines: list[str]) -> list[str]:
    text = "\n".join(lines)
    fence = "`" * max(3, max(map(len, re.findall(r"`+", text)), default=0) + 1)  # longer than any run inside
    return [fence + "text", text, fence]


def _example(ev: EpisodeEvaluation, split: str, succeeded: bool) -> list[str]:
    for m in reversed(ev.models):
        for t in ev.transcripts[m][split]:
            if (t["success"] == 1.0) == succeeded and t["success"] is not None:
                head = f"**{'Succeeded' if succeeded else 'Failed'}** ({m}, `{t['id']}`): " + ", ".join(
                    f"{LABELS.get(k, k)} {v:.2f}" for k, v in t["scores"].items() if v is not None)
                return [head, "", *_fenced(transcript_lines(t["messages"])), ""]
    return [f"No {'succeeded' if succeeded else 'failed'} episode in {split}.", ""]


def _kind_table(ev: EpisodeEvaluation, split: str) -> list[str]:
    """Success by kind: kinds (episodes in brackets) as columns, models and deltas as rows; none without kinds."""
    groups = kind_groups(ev.specs[split])
    if not groups:
        return []
    metric = "episode_success"
    head = [f"{g.replace('_', '-') if g == TOOL_NEEDING else g} ({len(idx)})" for g, idx in groups.items()]
    lines = [_row(["success by kind", *head]), _row(["---"] * (len(groups) + 1))]
    lines += [_row([m, *(_cell(ev.by_kind[m][split][g][metric], metric) for g in groups)]) for m in ev.models]
    lines += [_row([f"{a} − {b}", *(_cell(d[split][g][metric], metric, signed=True) for g in groups)])
              for pair, d in ev.kind_deltas.items() for a, b in [pair.split("-", 1)]]
    return [*lines, ""]


def _faults_note(settings: dict[str, Any]) -> str:
    f = settings.get("faults")
    if not f:
        return ""
    return (f" Tool faults on (per call: transient {f['transient']:g}, rate limit {f['rate_limit']:g}, validation "
            f"{f['validation']:g}; seed {f['seed']}): every figure is with them; success (no faults) is the same "
            "greedy play without them.")


def render_episode_markdown(ev: EpisodeEvaluation, title: str = "Agent episodes", level: int = 2) -> str:
    """A report section: per split a table (models x metrics, mean ± CI), the paired deltas, success by kind
    (tool-needing: every kind but no_tool), and one succeeded and one failed greedy transcript (from the last model
    that has one)."""
    s, boot, h = ev.settings, ev.settings["bootstrap"], "#" * level
    lines = [f"{h} {title}", "",
             f"Greedy play (success = pass^1) and, with k = {s['k']}, {s['k']} samples per episode at temperature "
             f"{s['temperature']} (pass^k: all k succeed). Bounds: {s['max_turns']} text turns, "
             f"{s['max_tool_calls']} tool calls, {s['max_new_tokens']} new tokens a turn. Cells: mean ± the larger "
             f"side of the {boot['confidence']:.0%} {boot['method']} bootstrap CI over episodes; scores in %, "
             "calls and turns per episode as counts. Success by kind: the kind's episodes in brackets; tool-needing "
             "pools every kind but no_tool." + _faults_note(s), ""]
    for split in ev.splits:
        lines += [f"{h}# {split} ({len(ev.specs[split])} episodes)", "",
                  _row(["model", *(LABELS.get(k, k) for k in ev.metrics), "episodes/s"]),
                  _row(["---"] * (len(ev.metrics) + 2))]
        lines += [_row([m, *(_cell(ev.summary[m][split][k], k) for k in ev.metrics),
                        f"{ev.throughput[m][split]['greedy_episodes_per_second']:.2f}"]) for m in ev.models]
        lines += [_row([f"{a} − {b}", *(_cell(d[split][k], k, signed=True) for k in ev.metrics), ""])
                  for pair, d in ev.deltas.items() for a, b in [pair.split("-", 1)]]
        lines += ["", *_kind_table(ev, split), *_example(ev, split, True), *_example(ev, split, False)]
    return "\n".join(lines) + "\n"
