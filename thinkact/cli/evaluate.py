"""`thinkact evaluate`: any models on any contract JSONL files, BFCL categories or agent episodes, outside the pipeline.

    thinkact evaluate --model models:/thinkact-agent@champion --data data/test_env.jsonl
    thinkact evaluate --model grpo --model qwen=Qwen/Qwen3-1.7B --bfcl simple_python --max-examples 100
    thinkact evaluate --episodes --model sft --model grpo --episode-splits test_env --k 5 --temperature 1.0
    thinkact evaluate --episodes --model grpo --data my_episodes.jsonl

Same generation, metrics, intervals and outputs as the evaluate stage (thinkact.evaluation.runner); with several
models, paired deltas compare each with the one before it. With `--episodes` the models play agent episodes
instead of per-turn examples (the episode part of the stage's outputs: metrics.json's `episodes` key, the report
section, predictions/episodes/). Logged to MLflow as a run named `evaluate-cli`.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

from thinkact.config import Params, load_params
from thinkact.contract import SPLITS, Example, read_jsonl
from thinkact.env.spec import EpisodeSpec, read_episodes
from thinkact.errors import ThinkactError
from thinkact.evaluation.episode_eval import settings_record
from thinkact.evaluation.params import MODEL_NAMES
from thinkact.evaluation.report import render_headline
from thinkact.evaluation.runner import (bfcl_split, episode_headline, episode_splits, label_of, log_evaluation,
                                        nonempty, run_evaluation, split_label)
from thinkact.importers.bfcl import import_bfcl
from thinkact.tracking import stage_run

LABEL = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)=(.+)$")


def parse_models(specs: Sequence[str], default: Sequence[str]) -> dict[str, str]:
    """label -> spec from `--model` values (`LABEL=SPEC` or a bare spec, labelled by runner.label_of)."""
    models: dict[str, str] = {}
    for raw in specs or default:
        found = LABEL.match(raw)
        label, spec = (found.group(1), found.group(2)) if found and not raw.startswith("models:") else (None, raw)
        label = label or (spec if spec in MODEL_NAMES else label_of(spec))
        if label in models:
            raise ThinkactError(f"--model: two models are labelled '{label}'; name them with LABEL=SPEC")
        models[label] = spec
    return models


def load_sets(data: Sequence[Path], bfcl: Sequence[str], default_dir: Path, default_splits: Sequence[str],
              limit: int | None) -> dict[str, list[Example]]:
    """split label -> examples: each --data file (label: its stem), each --bfcl category (label: bfcl_<category>,
    as the evaluate stage's evaluate.bfcl), else the params' splits."""
    sets: dict[str, list[Example]] = {}
    paths = list(data) if (data or bfcl) else [default_dir / f"{s}.jsonl" for s in default_splits]
    for path in paths:
        if not Path(path).is_file():
            raise ThinkactError(f"{path}: no such data file (a contract JSONL; `thinkact data import` converts "
                                "BFCL or OpenAI chat data)")
        sets[split_label(Path(path).stem)] = read_jsonl(path)
    if bfcl:
        for category in bfcl:
            sets[bfcl_split(category)] = import_bfcl(category)
    return {k: v[:limit] if limit else v for k, v in sets.items()}


def evaluate_command(models: Sequence[str], data: Sequence[Path], bfcl: Sequence[str], max_examples: int | None,
                     out: Path) -> str:
    """Run the evaluation and return the headline table (Markdown)."""

    params = load_params()
    if max_examples is not None:
        if max_examples < 0:
            raise ThinkactError("--max-examples must be >= 0 (0: all)")
        params = dataclasses.replace(params, evaluate=dataclasses.replace(params.evaluate, max_examples=max_examples))
    chosen = parse_models(models, params.evaluate.models)
    sets = load_sets(data, bfcl, Path(params.paths.data), params.evaluate.splits, params.evaluate.max_examples or None)
    logged = {"models": chosen, "sets": {k: len(v) for k, v in sets.items()}}
    with stage_run("evaluate-cli", params=logged, tags={"thinkact.entry": "cli"}) as tracked:
        result = run_evaluation(params, chosen, sets, out, title="thinkact evaluate")
        log_evaluation(tracked, result, out)
    return f"{render_headline(result.turns)}\nFull report: {out / 'report.md'}"


def split_names(values: Sequence[str]) -> list[str]:
    """`--episode-splits` values, repeated or comma-separated: ["test_id,test_env", "test_task"] -> three names."""
    return [name.strip() for v in values for name in v.split(",") if name.strip()]


def load_episode_sets(params: Params, data: Sequence[Path], splits: Sequence[str], limit: int
                      ) -> dict[str, list[EpisodeSpec]]:
    """split label -> episodes: each --data episode file (label: its stem) and each --episode-splits split
    (<paths.data>/episodes/<split>.jsonl); neither: evaluate.episodes.splits, or every evaluation split."""
    if not data and not splits:
        splits = params.evaluate.episodes.splits or [s for s in SPLITS if s != "train"]
    sets: dict[str, list[EpisodeSpec]] = {}
    for path in data:
        label = split_label(Path(path).stem)
        if label in sets:
            raise ThinkactError(f"--data: two episode files are labelled '{label}' (their file name); rename one")
        sets[label] = nonempty(path, read_episodes(path, limit or 0))
    for split, specs in episode_splits(params, splits, limit, key="--episode-splits").items():
        if split in sets:
            raise ThinkactError(f"--episode-splits: '{split}' is also the label of a --data file; rename the file")
        sets[split] = specs
    return sets


def evaluate_episodes_command(models: Sequence[str], data: Sequence[Path], splits: Sequence[str],
                              max_examples: int | None, k: int | None, temperature: float | None, out: Path) -> str:
    """Play agent episodes with the models (`thinkact evaluate --episodes`); returns the headline table (Markdown)."""
    params = load_params()
    limit = params.evaluate.episodes.max_examples if max_examples is None else max_examples
    if limit < 0:
        raise ThinkactError("--max-examples must be >= 0 (0: all)")
    settings = settings_record(params, k, temperature)
    if settings["k"] < 0:
        raise ThinkactError("--k must be >= 0 (0: greedy only, no pass^k)")
    if settings["k"] > 0 and not 0 < settings["temperature"] <= 5:
        raise ThinkactError(f"--temperature must be in (0, 5] for pass^k (k = {settings['k']}); --k 0 plays greedy "
                            "only")
    chosen = parse_models(models, params.evaluate.models)
    sets = load_episode_sets(params, data, split_names(splits), limit)
    logged = {"models": chosen, "episode_sets": {name: len(v) for name, v in sets.items()},
              "episode_settings": settings}
    with stage_run("evaluate-cli", params=logged, tags={"thinkact.entry": "cli"}) as tracked:
        result = run_evaluation(params, chosen, {}, out, title="thinkact evaluate: agent episodes", episodes=sets,
                                episode_k=k, episode_temperature=temperature)
        log_evaluation(tracked, result, out)
    return f"{episode_headline(result.episodes)}\nFull report: {out / 'report.md'}"
