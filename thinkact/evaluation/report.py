"""Write an evaluation: metrics.json, per-example predictions, figures, DVC plot data, a Markdown report.

Every file is written atomically (thinkact/io.py); `predictions/` and `plots/` are replaced whole, so no file
of an earlier run (a model since removed) lingers. Layout under `out_dir` (names from this module only):

    metrics.json                     model -> split -> metric, metric_ci, metric_n; "deltas"; "bootstrap"
    report.md                        paper-style tables: value ± CI per split, paired deltas, definitions (a split
                                     imported from BFCL is labelled as the external benchmark it is)
    predictions/<model>/<split>.jsonl  one line per example: completion, actions, target, scores
    plots/metrics.png, deltas.png    bars per model x split with CI error bars
    plots/metrics.csv                tidy table: model, split, series, metric, value, ci_low, ci_high, n
    plots/metrics/<metric>.json      DVC plots (a folder): [{series, model, split, value, ci_low, ci_high, n}]

    from thinkact.evaluation import evaluate_completions, write_evaluation
    write_evaluation(evaluate_completions(examples, completions), "outputs/evaluate")
"""
from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thinkact.contract import Example
from thinkact.evaluation.metrics import UNBOUNDED, describe_metrics
from thinkact.evaluation.plots import deltas_png, metrics_png
from thinkact.evaluation.stats import Estimate
from thinkact.evaluation.summary import Evaluation
from thinkact.io import atomic_dir, atomic_write_bytes, atomic_write_json, atomic_write_text, ensure_dir

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
PREDICTIONS_DIR = "predictions"
PLOTS_DIR = "plots"
METRICS_PNG, DELTAS_PNG, METRICS_CSV, PLOTS_DATA_DIR = "metrics.png", "deltas.png", "metrics.csv", "metrics"
CSV_FIELDS = ("model", "split", "series", "metric", "value", "ci_low", "ci_high", "n")


def jsonl(rows: list[dict[str, Any]]) -> str:
    """JSONL text, keys in the order given."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def csv_text(records: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if r[k] is None else r[k]) for k in CSV_FIELDS} for r in records)
    return buf.getvalue()


# -- Markdown ------------------------------------------------------------------------------------------------
def _scale(metric: str) -> float:
    return 1.0 if metric in UNBOUNDED else 100.0


def cell(e: Estimate, metric: str) -> str:
    """'91.3 ± 2.9' (percent for scores in [0, 1]); ± is the larger side of the interval (BCa may be asymmetric)."""
    if e.value is None:
        return "–"
    k = _scale(metric)
    value = f"{e.value * k:.1f}"
    if e.low is None or e.high is None:
        return value
    half = max(e.value - e.low, e.high - e.value) * k
    return f"{value} ± {half:.1f}"


def delta_cell(e: Estimate, metric: str) -> str:
    """'+2.1 [-0.5, +4.7]', with '*' when the interval excludes 0."""
    if e.value is None:
        return "–"
    k = _scale(metric)
    if e.low is None or e.high is None:
        return f"{e.value * k:+.1f}"
    return f"{e.value * k:+.1f} [{e.low * k:+.1f}, {e.high * k:+.1f}]" + ("\\*" if e.excludes_zero else "")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


HEADLINE = ("tool_call_exact", "tool_call", "answer")  # the paper-style table: task success per split


def render_headline(ev: Evaluation, metrics: tuple[str, ...] = HEADLINE) -> str:
    """The paper-style table: a row per model, for each split the headline metrics (mean ± CI)."""
    shown = [k for k in metrics if k in ev.metrics]
    lines = [_row(["model", *(f"{s} {k}" for s in ev.splits for k in shown)]),
             _row(["---"] * (len(ev.splits) * len(shown) + 1))]
    lines += [_row([m, *(cell(ev.summary[m][s][k], k) for s in ev.splits for k in shown)]) for m in ev.models]
    return "\n".join(lines) + "\n"


def external_benchmark(examples: Sequence[Example]) -> str | None:
    """'BFCL simple_python' when every example of a split was imported from the Berkeley Function Calling
    Leaderboard (thinkact.importers.bfcl; the evaluate stage's `evaluate.bfcl`, `thinkact evaluate --bfcl`),
    else None (the project's own data)."""
    sources = [ex.source or {} for ex in examples]
    if not sources or any(src.get("format") != "bfcl" for src in sources):
        return None
    categories = sorted({str(src["category"]) for src in sources if src.get("category")})
    return f"BFCL {', '.join(categories)}" if categories else "BFCL"


EXTERNAL_NOTE = ("External benchmark: the Berkeley Function Calling Leaderboard (BFCL), read from the installed "
                 "bfcl-eval package and scored with the same metrics. Reported for comparison only: it is not one "
                 "of the project's evaluation splits, and the promotion gate (`register.splits`) never reads it.")


def render_markdown(ev: Evaluation, title: str = "Evaluation") -> str:
    """The report: one table per split (models as rows, metrics as columns), then the paired deltas. A split imported
    from BFCL is labelled as the external benchmark (its heading, the splits line, a note under the summary)."""
    b = ev.bootstrap
    ci = f"{b.confidence:.0%} {b.method} bootstrap CI ({b.n_resamples} resamples, seed {b.seed})"
    external = {s: name for s in ev.splits if (name := external_benchmark(ev.examples[s])) is not None}
    tagged = {s: f"{s} (external benchmark: {external[s]})" if s in external else s for s in ev.splits}
    lines = [f"# {title}", "",
             f"Models: {', '.join(ev.models)}. Splits: "
             + ", ".join(f"{s} ({len(ev.examples[s])} examples"
                         + (f"; external benchmark: {external[s]})" if s in external else ")") for s in ev.splits)
             + ".",
             f"Cells: mean per example ± the larger side of its {ci}; scores in [0, 1] shown as %, "
             "`reasoning_words` in words, `output_length` in characters. Best model per column in bold; n = examples "
             "the metric applies to.",
             "", "## Summary", "", render_headline(ev)]
    if external:
        lines += [f"{EXTERNAL_NOTE} Splits: {', '.join(external)}.", ""]
    for split in ev.splits:
        lines += [f"## {tagged[split]}", ""]
        if split in external:
            lines += [f"{external[split]}: an external benchmark, reported for comparison; not in the promotion gate.",
                      ""]
        lines += [_row(["model", *(f"{k} (n={ev.summary[ev.models[0]][split][k].n})" for k in ev.metrics)]),
                  _row(["---"] * (len(ev.metrics) + 1))]
        best = {k: max((ev.summary[m][split][k].value for m in ev.models
                        if ev.summary[m][split][k].value is not None), default=None) for k in ev.metrics}
        for m in ev.models:
            cells = []
            for k in ev.metrics:
                e = ev.summary[m][split][k]
                text = cell(e, k)
                bold = len(ev.models) > 1 and k not in UNBOUNDED and e.value is not None and e.value == best[k]
                cells.append(f"**{text}**" if bold else text)
            lines.append(_row([m, *cells]))
        lines.append("")
    if ev.deltas:
        lines += ["## Paired differences", "",
                  f"Mean of the per-example difference on the same examples, with its paired {ci}; "
                  "\\* = the interval excludes 0. Points (percentage points for scores in [0, 1]).", ""]
        for pair, by_split in ev.deltas.items():
            lines += [f"### {pair.replace('-', ' − ')}", "", _row(["split", *ev.metrics]),
                      _row(["---"] * (len(ev.metrics) + 1))]
            lines += [_row([tagged[s], *(delta_cell(by_split[s][k], k) for k in ev.metrics)]) for s in ev.splits]
            lines.append("")
    described = describe_metrics()
    lines += ["## Metrics", "", "Rewards are metrics: the metrics named like a reward are computed by that reward "
              "function (thinkact/rewards); the others are defined in thinkact/evaluation/metrics.py.", ""]
    lines += [f"- `{k}`: {described.get(k, '')}" for k in ev.metrics]
    return "\n".join(lines) + "\n"


# -- files ---------------------------------------------------------------------------------------------------
def write_evaluation(ev: Evaluation, out_dir: str | os.PathLike, title: str = "Evaluation") -> dict[str, Path]:
    """Write every output of `ev` under `out_dir` (layout in the module docstring); returns name -> path."""
    out = ensure_dir(out_dir)
    with atomic_dir(out / PREDICTIONS_DIR) as tmp:
        for m in ev.models:
            for s in ev.splits:
                atomic_write_text(tmp / m / f"{s}.jsonl", jsonl(ev.prediction_rows(m, s)))
    records = ev.records()
    with atomic_dir(out / PLOTS_DIR) as tmp:
        atomic_write_bytes(tmp / METRICS_PNG, metrics_png(ev))
        deltas = deltas_png(ev)
        if deltas is not None:
            atomic_write_bytes(tmp / DELTAS_PNG, deltas)
        atomic_write_text(tmp / METRICS_CSV, csv_text(records))
        for k in ev.metrics:
            atomic_write_json(tmp / PLOTS_DATA_DIR / f"{k}.json", [
                {f: r[f] for f in CSV_FIELDS if f != "metric"} for r in records if r["metric"] == k])
    atomic_write_json(out / METRICS_FILE, ev.metrics_json())
    atomic_write_text(out / REPORT_FILE, render_markdown(ev, title))
    return {"metrics": out / METRICS_FILE, "report": out / REPORT_FILE, "predictions": out / PREDICTIONS_DIR,
            "plots": out / PLOTS_DIR}
