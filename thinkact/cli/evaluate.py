"""`thinkact evaluate`: any models on any contract JSONL files or BFCL categories, outside the pipeline.

    thinkact evaluate --model models:/thinkact-agent@champion --data data/test_env.jsonl
    thinkact evaluate --model grpo --model qwen=Qwen/Qwen3-1.7B --bfcl simple_python --max-examples 100

Same generation, metrics, intervals and outputs as the evaluate stage (thinkact.evaluation.runner); with several
models, paired deltas compare each with the one before it. Logged to MLflow as a run named `evaluate-cli`.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

from thinkact.config import load_params
from thinkact.contract import Example, read_jsonl
from thinkact.errors import ThinkactError
from thinkact.evaluation.report import render_headline
from thinkact.evaluation.runner import label_of, log_evaluation, run_evaluation
from thinkact.importers.bfcl import import_bfcl
from thinkact.tracking import stage_run

LABEL = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)=(.+)$")


def parse_models(specs: Sequence[str], default: Sequence[str]) -> dict[str, str]:
    """label -> spec from `--model` values (`LABEL=SPEC` or a bare spec, labelled by runner.label_of)."""
    models: dict[str, str] = {}
    for raw in specs or default:
        found = LABEL.match(raw)
        label, spec = (found.group(1), found.group(2)) if found and not raw.startswith("models:") else (None, raw)
        label = label or (spec if spec in ("base", "sft", "grpo") else label_of(spec))
        if label in models:
            raise ThinkactError(f"--model: two models are labelled '{label}'; name them with LABEL=SPEC")
        models[label] = spec
    return models


def _label(text: str) -> str:
    return re.sub(r"\W+", "_", text)


def load_sets(data: Sequence[Path], bfcl: Sequence[str], default_dir: Path, default_splits: Sequence[str],
              limit: int | None) -> dict[str, list[Example]]:
    """split label -> examples: each --data file (label: its stem), each --bfcl category, else the params' splits."""
    sets: dict[str, list[Example]] = {}
    paths = list(data) if (data or bfcl) else [default_dir / f"{s}.jsonl" for s in default_splits]
    for path in paths:
        if not Path(path).is_file():
            raise ThinkactError(f"{path}: no such data file (a contract JSONL; `thinkact data import` converts "
                                "BFCL or OpenAI chat data)")
        sets[_label(Path(path).stem)] = read_jsonl(path)
    if bfcl:
        for category in bfcl:
            sets["bfcl_" + _label(category)] = import_bfcl(category)
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
        ev, info = run_evaluation(params, chosen, sets, out, title="thinkact evaluate")
        log_evaluation(tracked, ev, out, info)
    return f"{render_headline(ev)}\nFull report: {out / 'report.md'}"
