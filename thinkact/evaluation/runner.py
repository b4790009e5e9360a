"""Evaluate models end to end: generate on every split, play agent episodes, score, write every output.

The one implementation behind the `evaluate` stage (tasks/evaluate.py) and `thinkact evaluate` (any model, any
contract JSONL, BFCL categories, episode files). `models` maps a report label to a model spec (see
thinkact.evaluation.predict). Each model is loaded once: it generates on the per-turn examples, then plays the
episodes (thinkact.evaluation.episode_eval), then is released. Nothing is written until every model has run, so a
failure leaves the previous results as they were; then every file is written atomically.

    res = run_evaluation(params, {"base": "base", "sft": "sft", "grpo": "grpo"}, examples, "outputs/evaluate",
                         episodes=episode_splits(params, ["test_env"]))   # played as params' episodes sections say
    res.turns, res.episodes, res.info      # Evaluation, EpisodeEvaluation (None without episodes), run.json
    log_evaluation(tracked, res, "outputs/evaluate")   # the caller's MLflow run

Episodes add to the per-turn layout of thinkact.evaluation.report: metrics.json gets an `episodes` key (model ->
split -> metric, metric_ci, metric_n; deltas; by_kind: success per episode kind, thinkact.evaluation.episode_kinds;
settings), report.md the episode section, predictions/episodes/<model>/<split>.jsonl the greedy transcripts,
run.json an `episodes` entry (episodes per split, their md5, settings, seconds, throughput). With no per-turn
examples (`thinkact evaluate --episodes`) only the episode part is written.
"""
from __future__ import annotations

import gc
import hashlib
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from thinkact.contract import Example, read_jsonl
from thinkact.data.dev import DEV, held_episodes, held_rows, source_split, split_file
from thinkact.env.spec import EpisodeSpec, episode_path, read_episodes
from thinkact.errors import DataError, ThinkactError
from thinkact.evaluation.episode_eval import (LABELS, NO_FAULTS, EpisodeEvaluation, Played,
                                              check_models as check_labels, play_model, render_episode_markdown,
                                              sampling, settings_record, summarize_episodes, write_transcripts)
from thinkact.evaluation.headline import HEADLINE_DIR, write_headline
from thinkact.evaluation.plots import reward_curves_png
from thinkact.evaluation.plots_page import write_plots_page
from thinkact.evaluation.predict import STAGE_MODELS, load_for_eval, predict_model, predict_splits
from thinkact.evaluation.report import (METRICS_FILE, PLOTS_DIR, PREDICTIONS_DIR, REPORT_FILE, cell,
                                        write_evaluation)
from thinkact.evaluation.summary import RESERVED, default_pairs, evaluate_completions, Evaluation
from thinkact.importers.bfcl import ALIASES as BFCL_ALIASES, import_bfcl
from thinkact.io import atomic_dir, atomic_write_bytes, atomic_write_json, atomic_write_text, output_file
from thinkact.models.base import set_cpu_threads
from thinkact.project import RunParams

RUN_FILE = "run.json"                # what was evaluated: models, splits, data md5s, timings
REWARD_CURVES_PNG = "grpo_rewards.png"
EPISODES_KEY = "episodes"            # the episode evaluation's key in metrics.json and run.json
EPISODE_PREFIX = "episodes"          # MLflow metric names of the episode evaluation: episodes/<model>/<split>/...
BFCL_PREFIX = "bfcl_"                # a BFCL category's split: bfcl_<category>


def examples_md5(examples: Sequence[Example] | Sequence[EpisodeSpec]) -> str:
    """A content hash of the evaluated examples (or episodes), in order: equal hashes = the very same data."""
    digest = hashlib.md5()
    for ex in examples:
        digest.update(ex.to_json().encode())
        digest.update(b"\n")
    return digest.hexdigest()


def label_of(spec: str) -> str:
    """A report label for a model spec: 'models:/agent@champion' -> 'champion', '/x/sft/model' -> 'sft_model'."""
    if "@" in spec:
        spec = spec.rsplit("@", 1)[1]
    parts = [p for p in re.split(r"[/\\]", spec) if p and p not in (".", "..", "models:")]
    label = "_".join(parts[-2:]) if parts else "model"
    return re.sub(r"[^A-Za-z0-9_]+", "_", label).strip("_").lower() or "model"


def eval_splits(params: RunParams, splits: Sequence[str], key: str = "evaluate.splits") -> dict[str, list[Example]]:
    """split -> the examples evaluated: the first `evaluate.max_examples` of <paths.data>/<split>.jsonl (all when 0);
    `dev`: of the rows thinkact.data.dev holds out of train.jsonl (`dev.examples`). The evaluate stage and the
    promotion gate read them here, so both see the very same examples."""
    limit = params.evaluate.max_examples or None
    out = {}
    for split in splits:
        path = split_file(params.paths.data, split)
        if not path.is_file():
            raise ThinkactError(f"{path}: missing; {key} in params.yaml names split '{split}' "
                                f"(generate the data with `thinkact data generate` or fix {key})")
        rows = read_jsonl(path)
        out[split] = (held_rows(params.dev, rows, key) if split == DEV else rows)[:limit]
    return out


def split_label(text: str) -> str:
    """A split label from a name (a data file's stem, a BFCL category): every run of non-word characters -> '_'."""
    return re.sub(r"\W+", "_", text)


def bfcl_split(category: str) -> str:
    """The split a BFCL category is evaluated as, the same in the evaluate stage (`evaluate.bfcl`) and in `thinkact
    evaluate --bfcl`: 'simple_python' -> 'bfcl_simple_python'; an alias by its category ('simple' ->
    'bfcl_simple_python')."""
    return BFCL_PREFIX + split_label(BFCL_ALIASES.get(category, category))


def bfcl_splits(params: RunParams, categories: Sequence[str] | None = None,
                limit: int | None = None) -> dict[str, list[Example]]:
    """bfcl_<category> -> the examples evaluated: the first `limit` (default `evaluate.bfcl.max_examples`; 0: all)
    of each category (default `evaluate.bfcl.categories`; none: {}), read from the installed bfcl-eval package.
    An external benchmark: the promotion gate reads register.splits (eval_splits) only, never these."""
    settings = params.evaluate.bfcl
    categories = settings.categories if categories is None else categories
    limit = settings.max_examples if limit is None else limit
    return {bfcl_split(c): import_bfcl(c)[:limit or None] for c in categories}


def check_models(models: Mapping[str, str], params: RunParams) -> None:
    """Fail before anything loads when a pipeline model (sft, grpo) has not been trained."""
    for spec in models.values():
        if spec in STAGE_MODELS:
            params.paths.stage_model(spec)


def nonempty(path: str | Path, specs: list[EpisodeSpec]) -> list[EpisodeSpec]:
    """`specs`, or a DataError naming `path` when it held no episode."""
    if not specs:
        raise DataError(str(path), None, None, "no episodes in the file")
    return specs


def episode_splits(params: RunParams, splits: Sequence[str], limit: int | None = None,
                   key: str = "evaluate.episodes.splits") -> dict[str, list[EpisodeSpec]]:
    """split -> the episodes played: the first `limit` (default `evaluate.episodes.max_examples`; 0: all) of
    <paths.data>/episodes/<split>.jsonl; `dev`: of the episodes thinkact.data.dev holds out of the train episodes
    (`dev.episodes`)."""
    limit = params.evaluate.episodes.max_examples if limit is None else limit
    out = {}
    for split in splits:
        path = episode_path(params.paths.data, source_split(split))
        if not path.is_file():
            raise ThinkactError(f"{path}: missing; {key} names split '{split}' (generate the episodes with "
                                f"`thinkact data generate`, or fix {key})")
        specs = (held_episodes(params.dev, read_episodes(path), key)[:limit or None] if split == DEV
                 else read_episodes(path, limit or 0))
        out[split] = nonempty(path, specs)
    return out


class EvaluationResult(NamedTuple):
    turns: Evaluation | None             # the per-turn evaluation; None without per-turn examples
    episodes: EpisodeEvaluation | None   # the episode evaluation; None without episodes
    info: dict[str, Any]                 # run.json


def _check_labels(models: Mapping[str, str], episodes: Mapping[str, Any] | None, k: int, temperature: float) -> None:
    for label in models:
        if label in (*RESERVED, EPISODES_KEY):
            raise ThinkactError(f"model label '{label}' is reserved (a metrics.json key); name the model "
                                "otherwise (LABEL=SPEC)")
    if episodes:
        try:
            check_labels(list(models), default_pairs(list(models)), k, temperature)
        except ValueError as e:
            raise ThinkactError(f"episode evaluation: {e}") from None


def _generate(label: str, spec: str, params: RunParams, examples: Mapping[str, Sequence[Example]],
              episodes: Mapping[str, Sequence[EpisodeSpec]] | None, k: int, temperature: float
              ) -> tuple[dict[str, list[str]], float, Played | None, float]:
    """One model, loaded once: (completions per split, their seconds, episodes played, their seconds)."""
    completions, seconds, played, episode_s = {}, 0.0, None, 0.0
    loaded = None
    if examples:
        if params.evaluate.use_vllm:  # vLLM runs its own engine; episodes (below) need the model itself
            completions, seconds = predict_model(spec, params, examples)
        else:
            loaded = load_for_eval(spec, params)
            t0 = time.perf_counter()
            completions = predict_splits(*loaded, examples, params.evaluate, label=spec)
            seconds = time.perf_counter() - t0
        print(f"[evaluate] {label} ({spec}): {sum(map(len, examples.values()))} examples in {seconds:.1f} s",
              flush=True)
    if episodes:
        loaded = loaded or load_for_eval(spec, params)
        set_cpu_threads(params.evaluate.cpu_threads)
        t0 = time.perf_counter()
        played = play_model(*loaded, label, episodes, params, k=k, temperature=temperature)
        episode_s = time.perf_counter() - t0
    del loaded
    gc.collect()
    return completions, seconds, played, episode_s


def run_evaluation(params: RunParams, models: Mapping[str, str], examples: Mapping[str, Sequence[Example]],
                   out_dir: str | Path, *, title: str = "Evaluation",
                   reward_history: list[dict[str, float]] | None = None,
                   loss_history: list[dict[str, float]] | None = None,
                   episodes: Mapping[str, Sequence[EpisodeSpec]] | None = None,
                   episode_k: int | None = None, episode_temperature: float | None = None) -> EvaluationResult:
    """Generate with each model on each split of `examples` and play each split of `episodes` (as params'
    `episodes` and `evaluate.episodes` say; `episode_k`/`episode_temperature` override k and the temperature of the
    pass^k samples, k = 0: greedy only), score, and write `out_dir` (report.py's layout, the episode files,
    run.json); the caller logs the result to its MLflow run with `log_evaluation`."""
    out = Path(out_dir)
    episodes = {k: list(v) for k, v in (episodes or {}).items()} or None
    k, temperature = sampling(params, episode_k, episode_temperature)
    if not examples and not episodes:
        raise ThinkactError("nothing to evaluate: no examples and no episodes")
    for name in (METRICS_FILE, REPORT_FILE, RUN_FILE):  # an output path that is a folder: fail before any work
        output_file(out / name, create=False)
    check_models(models, params)
    _check_labels(models, episodes, k, temperature)
    t0 = time.perf_counter()
    completions: dict[str, dict[str, list[str]]] = {}
    seconds: dict[str, float] = {}
    played: dict[str, Played] = {}
    episode_seconds: dict[str, float] = {}
    for label, spec in models.items():
        completions[label], seconds[label], got, episode_seconds[label] = _generate(
            label, spec, params, examples, episodes, k, temperature)
        if got is not None:
            played[label] = got
    ev = eev = None
    info: dict[str, Any] = {"models": dict(models), "splits": {s: len(e) for s, e in examples.items()},
                            "eval_data_md5": {s: examples_md5(e) for s, e in examples.items()},
                            "generation_seconds": {k: round(v, 1) for k, v in seconds.items()} if examples else {}}
    if examples:
        ev = evaluate_completions(examples, completions, reward_options=params.grpo.reward_options,
                                  bootstrap=params.evaluate.bootstrap)
        write_evaluation(ev, out, title)
        if reward_history:
            atomic_write_bytes(out / PLOTS_DIR / REWARD_CURVES_PNG, reward_curves_png(reward_history))
        write_plots_page(out / PLOTS_DIR, loss_history=loss_history, title=title)  # every figure inline, offline
    else:  # episodes only: no per-turn predictions or plots of an earlier run in `out` linger
        with atomic_dir(out / PREDICTIONS_DIR):
            pass
        shutil.rmtree(out / PLOTS_DIR, ignore_errors=True)
    if episodes:
        eev = summarize_episodes(played, episodes, params, k=k, temperature=temperature)
        write_episodes(eev, out, ev, title)
        info[EPISODES_KEY] = {"splits": {s: len(e) for s, e in episodes.items()},
                              "episodes_md5": {s: examples_md5(e) for s, e in episodes.items()},
                              "settings": settings_record(params, k, temperature),
                              "seconds": {k: round(v, 1) for k, v in episode_seconds.items()},
                              "throughput": eev.throughput}
    write_headline(out / HEADLINE_DIR, ev, eev)
    info["seconds"] = round(time.perf_counter() - t0, 1)
    atomic_write_json(out / RUN_FILE, info)
    return EvaluationResult(ev, eev, info)


def write_episodes(eev: EpisodeEvaluation, out: Path, ev: Evaluation | None, title: str) -> None:
    """The episode part of `out`: transcripts, then the `episodes` key of metrics.json and the report section
    (after the per-turn files of `ev`, when there are any: write_evaluation replaces predictions/ whole)."""
    write_transcripts(eev, out)
    metrics = ev.metrics_json() if ev is not None else {}
    metrics[EPISODES_KEY] = episode_metrics_json(eev)
    atomic_write_json(out / METRICS_FILE, metrics)
    report = (out / REPORT_FILE).read_text(encoding="utf-8") if ev is not None else f"# {title}\n\n"
    section = render_episode_markdown(eev, title="Agent episodes", level=2)
    atomic_write_text(out / REPORT_FILE, report.rstrip("\n") + "\n\n" + section)


def episode_metrics_json(eev: EpisodeEvaluation) -> dict[str, Any]:
    """metrics.json's `episodes` value: the library's metrics_json without the timings (those go to run.json), so
    the same models on the same episodes give the same bytes and `dvc metrics diff` shows only real changes."""
    out = eev.metrics_json()
    for m in eev.models:
        for s in eev.splits:
            for key in eev.throughput[m][s]:
                out[m][s].pop(key, None)
    return out


def episode_headline(eev: EpisodeEvaluation) -> str:
    """A row per model: greedy success (and without the tools' faults, when they are on) and pass^k per split
    (mean ± CI), as Markdown."""
    shown = [k for k in ("episode_success", NO_FAULTS, "pass_k") if k in eev.metrics]
    names = {**LABELS, "pass_k": f"pass^{eev.settings['k']}"}
    lines = ["| " + " | ".join(["model", *(f"{s} {names[k]}" for s in eev.splits for k in shown)]) + " |",
             "| " + " | ".join(["---"] * (len(eev.splits) * len(shown) + 1)) + " |"]
    lines += ["| " + " | ".join([m, *(cell(eev.summary[m][s][k], k) for s in eev.splits for k in shown)]) + " |"
              for m in eev.models]
    return "\n".join(lines) + "\n"


def log_evaluation(tracked: Any, result: EvaluationResult, out: str | Path) -> None:
    """Every mean and delta as an MLflow metric (`<model>/<split>/<metric>`, episodes under `episodes/`), the data
    hashes as tags, the files as artifacts (the episode transcripts with predictions/)."""
    out = Path(out)
    ev, eev, info = result
    metrics: dict[str, float] = {}
    tags: dict[str, str] = {}
    if ev is not None:
        metrics.update({f"{m}/{s}/{k}": e.value for m in ev.models for s in ev.splits
                        for k, e in ev.summary[m][s].items() if e.value is not None})
        metrics.update({f"delta/{pair}/{s}/{k}": e.value for pair, d in ev.deltas.items() for s in ev.splits
                        for k, e in d[s].items() if e.value is not None})
        metrics.update({f"generation_seconds/{k}": v for k, v in info["generation_seconds"].items()})
        tags.update({f"thinkact.eval_md5.{s}": v for s, v in info["eval_data_md5"].items()})
    if eev is not None:
        metrics.update(eev.mlflow_metrics(prefix=EPISODE_PREFIX))
        metrics.update({f"{EPISODE_PREFIX}/seconds/{k}": v for k, v in info[EPISODES_KEY]["seconds"].items()})
        tags.update({f"thinkact.episodes_md5.{s}": v for s, v in info[EPISODES_KEY]["episodes_md5"].items()})
    tracked.log_metrics(metrics)
    tracked.set_tags(tags)
    for name in (METRICS_FILE, REPORT_FILE, RUN_FILE):
        tracked.log_artifact(out / name)
    tracked.log_artifacts(out / HEADLINE_DIR, HEADLINE_DIR)
    if ev is not None:
        tracked.log_artifacts(out / PLOTS_DIR, PLOTS_DIR)
    tracked.log_artifacts(out / PREDICTIONS_DIR, PREDICTIONS_DIR)
