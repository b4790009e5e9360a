"""Score every model's completions on every split, and summarise: means, bootstrap CIs, paired deltas.

The core of the evaluate stage once completions exist (generation is `thinkact.generation`); pure: no files.

    ev = evaluate_completions({"test_id": examples}, {"base": {"test_id": texts_b}, "sft": {...}, "grpo": {...}})
    ev.metrics_json()["grpo"]["test_id"]["tool_call_exact_ci"]      # [low, high]
    ev.metrics_json()["deltas"]["grpo-sft"]["test_id"]["tool_call_exact"]

Deltas are paired: both models scored on the very same examples, resampled together. By default each model is
compared with the one before it in the order given (base, sft, grpo -> sft-base, grpo-sft).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from thinkact.evaluation.params import BootstrapParams as Bootstrap  # how intervals are computed, recorded in metrics.json
from thinkact.contract import Example
from thinkact.evaluation.metrics import metric_names, predicted_action, score_examples
from thinkact.evaluation.stats import Estimate, bootstrap_ci, paired_delta
from thinkact.rewards.functions import text_of

RESERVED = ("deltas", "bootstrap")  # top-level keys of metrics.json that are not models
DIGITS = 6                          # metrics.json rounding: stable bytes across platforms


@dataclass
class Evaluation:
    """Per-example scores and their summaries for models x splits."""

    models: list[str]
    splits: list[str]
    metrics: list[str]
    examples: dict[str, list[Example]]
    completions: dict[str, dict[str, list[str]]]             # model -> split -> text per example
    scores: dict[str, dict[str, list[dict[str, float | None]]]]  # model -> split -> metric row per example
    summary: dict[str, dict[str, dict[str, Estimate]]]       # model -> split -> metric -> estimate
    deltas: dict[str, dict[str, dict[str, Estimate]]]        # "a-b" -> split -> metric -> estimate of a − b
    bootstrap: Bootstrap = field(default_factory=Bootstrap)

    def metrics_json(self) -> dict[str, Any]:
        """{model: {split: {metric, metric_ci, metric_n}}, "deltas": {"a-b": {split: …}}, "bootstrap": {…}}."""
        out: dict[str, Any] = {m: {s: flatten(self.summary[m][s]) for s in self.splits} for m in self.models}
        out["deltas"] = {pair: {s: flatten(d[s]) for s in self.splits} for pair, d in self.deltas.items()}
        out["bootstrap"] = self.bootstrap.kwargs()
        return out

    def records(self) -> list[dict[str, Any]]:
        """One row per model x split x metric (tidy table for CSV and DVC plots)."""
        return [{"model": m, "split": s, "series": f"{m}/{s}", "metric": k, "value": _round(e.value),
                 "ci_low": _round(e.low), "ci_high": _round(e.high), "n": e.n}
                for m in self.models for s in self.splits for k, e in self.summary[m][s].items()]

    def prediction_rows(self, model: str, split: str) -> list[dict[str, Any]]:
        """Per-example predictions with their scores (the predictions JSONL of one model and split)."""
        return [{"id": ex.id, "model": model, "split": split, "completion": text,
                 "predicted_action": predicted_action(text), "gold_action": ex.action,
                 "target": ex.target.to_dict(), "scores": row}
                for ex, text, row in zip(self.examples[split], self.completions[model][split],
                                         self.scores[model][split])]


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, DIGITS)


def flatten(estimates: Mapping[str, Estimate]) -> dict[str, Any]:
    """{metric: value, metric_ci: [low, high] or None, metric_n: n}: the metrics.json form of estimates."""
    out: dict[str, Any] = {}
    for name, e in estimates.items():
        out[name] = _round(e.value)
        out[f"{name}_ci"] = None if e.ci is None else [_round(e.low), _round(e.high)]
        out[f"{name}_n"] = e.n
    return out


def summarize(rows: Sequence[Mapping[str, float | None]], metrics: Sequence[str] | None = None,
              bootstrap: Bootstrap = Bootstrap()) -> dict[str, Estimate]:
    """metric -> mean with its bootstrap CI over the per-example `rows` (None rows skipped per metric)."""
    metrics = list(metrics or metric_names())
    return {k: bootstrap_ci([r.get(k) for r in rows], **bootstrap.kwargs()) for k in metrics}


def default_pairs(models: Sequence[str]) -> list[tuple[str, str]]:
    """Each model against the one before it: (sft, base), (grpo, sft) for models [base, sft, grpo]."""
    return [(models[i], models[i - 1]) for i in range(1, len(models))]


def evaluate_completions(examples: Mapping[str, Sequence[Example]],
                         completions: Mapping[str, Mapping[str, Sequence[Any]]], *,
                         reward_options: Mapping[str, Mapping[str, Any]] | None = None,
                         pairs: Sequence[tuple[str, str]] | None = None,
                         bootstrap: Bootstrap = Bootstrap()) -> Evaluation:
    """Score `completions[model][split]` (one per example of `examples[split]`, same order) and summarise.

    `pairs` lists (a, b) for the paired deltas a − b (default: `default_pairs` of the models' order).
    """
    models, splits = list(completions), list(examples)
    for m in models:
        if m in RESERVED or "-" in m:
            raise ValueError(f"model name {m!r} is reserved or contains '-' (used in delta names)")
        for s in splits:
            got = len(completions[m].get(s, ()))
            if got != len(examples[s]):
                raise ValueError(f"model {m!r}, split {s!r}: {got} completions for {len(examples[s])} examples")
    pairs = list(default_pairs(models) if pairs is None else pairs)
    for a, b in pairs:
        if a not in completions or b not in completions:
            raise ValueError(f"delta {a}-{b}: unknown model; models: {', '.join(models)}")
    names = metric_names()
    texts = {m: {s: [text_of(c) for c in completions[m][s]] for s in splits} for m in models}
    scores = {m: {s: score_examples(examples[s], texts[m][s], reward_options) for s in splits} for m in models}
    summary = {m: {s: summarize(scores[m][s], names, bootstrap) for s in splits} for m in models}
    deltas = {f"{a}-{b}": {s: {k: paired_delta([r[k] for r in scores[a][s]], [r[k] for r in scores[b][s]],
                                                **bootstrap.kwargs()) for k in names} for s in splits}
              for a, b in pairs}
    return Evaluation(models, splits, names, {s: list(examples[s]) for s in splits}, texts, scores, summary,
                      deltas, bootstrap)
