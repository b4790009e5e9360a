"""Evaluation: base vs SFT vs GRPO on every split, with bootstrap confidence intervals.

Rewards are metrics: every registered reward is scored by calling the reward function itself, under its own
name; the metrics no reward covers are defined in `metrics.py`. Modules:

- `metrics`:   per-example scores (`score_examples`, `metric_names`, `describe_metrics`)
- `stats`:     bootstrap CI of a mean and paired-bootstrap CI of a difference (scipy.stats.bootstrap)
- `summary`:   score models x splits and summarise (`evaluate_completions` -> `Evaluation`)
- `report`:    metrics.json, predictions JSONL, figures, DVC plot data, Markdown report (`write_evaluation`)
- `plots`:     the PNG figures (matplotlib, Agg)
- `score`:     score a predictions file without a model (`score_file`, for `thinkact score`)
- `agreement`: thinkact's tool_call_exact against BFCL's own AST checker on BFCL's files

    from thinkact.evaluation import evaluate_completions, write_evaluation
    ev = evaluate_completions({"test_id": examples}, {"base": {"test_id": b}, "sft": {...}, "grpo": {...}})
    write_evaluation(ev, "outputs/evaluate")
"""
from thinkact.evaluation.metrics import describe_metrics, metric_names, score_examples
from thinkact.evaluation.report import render_markdown, write_evaluation
from thinkact.evaluation.score import score_file
from thinkact.evaluation.stats import Estimate, bootstrap_ci, paired_delta
from thinkact.evaluation.summary import Bootstrap, Evaluation, evaluate_completions

__all__ = ["Bootstrap", "Estimate", "Evaluation", "bootstrap_ci", "describe_metrics", "evaluate_completions",
           "metric_names", "paired_delta", "render_markdown", "score_examples", "score_file", "write_evaluation"]
