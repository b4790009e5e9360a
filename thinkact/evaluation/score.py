"""Score completions produced elsewhere with the evaluation metrics: no model needed.

    thinkact score --data data/test_env.jsonl --predictions preds.jsonl --out scores.jsonl

`predictions` is JSONL of {"id": <example id>, "completion": <text, or TRL's [{"role": "assistant",
"content": ...}]>} (other keys ignored), one line per example of `data` (contract JSONL), in any order.
`out` gets one line per example, in the data's order: {"id", "split", "predicted_action", "gold_action",
<metric>: score or null, ...}; the summary (per split, and "all" when there are several: mean, 95 % bootstrap
CI and n per metric, like metrics.json) goes to `<out stem>.summary.json` beside it, and is returned.
A malformed line, a duplicate id, an id the data lacks or an example without a prediction raises DataError
naming the file, the line and what to do; nothing is written then.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from thinkact.contract import iter_json_lines, read_jsonl
from thinkact.errors import DataError
from thinkact.evaluation.metrics import metric_names, predicted_action, score_examples
from thinkact.evaluation.report import jsonl
from thinkact.evaluation.summary import Bootstrap, flatten, summarize
from thinkact.io import atomic_write_json, atomic_write_text
from thinkact.rewards.functions import text_of

PREDICTION_HINT = 'each line must be {"id": "<example id>", "completion": "<model output>"}'
SHOW_IDS = 5


def summary_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.with_name(f"{out.stem}.summary.json")


def _completion_ok(value: Any) -> bool:
    if isinstance(value, str):
        return True
    return (isinstance(value, list) and bool(value) and isinstance(value[-1], dict)
            and isinstance(value[-1].get("content", ""), (str, type(None))))


def read_predictions(path: str | os.PathLike) -> dict[str, tuple[int, str]]:
    """id -> (line number, completion text) from a predictions JSONL file; every defect raises DataError."""
    p, out = str(path), {}
    for number, obj in iter_json_lines(path, missing_hint="pass the JSONL of model completions", hint=PREDICTION_HINT):
        if not isinstance(obj.get("id"), str) or not obj["id"]:
            raise DataError(p, number, "id", "missing or not a non-empty string", PREDICTION_HINT)
        if "completion" not in obj or not _completion_ok(obj["completion"]):
            raise DataError(p, number, "completion", "missing, or not a string or an assistant message list",
                            PREDICTION_HINT)
        if obj["id"] in out:
            raise DataError(p, number, "id", f"duplicate id {obj['id']!r} (first on line {out[obj['id']][0]})",
                            "keep one completion per example")
        out[obj["id"]] = (number, text_of(obj["completion"]))
    return out


def score_file(data: str | os.PathLike, predictions: str | os.PathLike, out: str | os.PathLike, *,
               reward_options: Mapping[str, Mapping[str, Any]] | None = None,
               bootstrap: Bootstrap = Bootstrap()) -> dict[str, Any]:
    """Score `predictions` against `data`, write per-example scores to `out` and the summary beside it;
    returns the summary ({split: {metric, metric_ci, metric_n}}, plus "all" when there are several splits)."""
    examples = read_jsonl(data)
    preds = read_predictions(predictions)
    seen: dict[str, int] = {}
    for number, ex in enumerate(examples, start=1):
        if ex.id in seen:
            raise DataError(str(data), None, "id", f"duplicate example id {ex.id!r}: predictions cannot be matched",
                            "give every example a unique id")
        seen[ex.id] = number
    unknown = [(line, pid) for pid, (line, _) in preds.items() if pid not in seen]
    if unknown:
        line, pid = min(unknown)
        raise DataError(str(predictions), line, "id", f"id {pid!r} is not in {data}"
                        + (f" (nor {len(unknown) - 1} more)" if len(unknown) > 1 else ""),
                        "score predictions against the data file they were generated from")
    missing = [ex.id for ex in examples if ex.id not in preds]
    if missing:
        shown = ", ".join(repr(i) for i in missing[:SHOW_IDS]) + (", …" if len(missing) > SHOW_IDS else "")
        raise DataError(str(predictions), None, "id", f"no prediction for {len(missing)} of {len(examples)} "
                        f"examples of {data}: {shown}", "add a line for each, or score a data file with only those")
    texts = [preds[ex.id][1] for ex in examples]
    rows = score_examples(examples, texts, reward_options)
    lines = [{"id": ex.id, "split": ex.split, "predicted_action": predicted_action(t), "gold_action": ex.action, **r}
             for ex, t, r in zip(examples, texts, rows)]
    names = metric_names()
    splits = list(dict.fromkeys(ex.split for ex in examples))
    summary = {s: flatten(summarize([r for ex, r in zip(examples, rows) if ex.split == s], names, bootstrap))
               for s in splits}
    if len(splits) > 1 and "all" not in splits:
        summary["all"] = flatten(summarize(rows, names, bootstrap))
    summary["bootstrap"] = bootstrap.kwargs()
    atomic_write_text(out, jsonl(lines))
    atomic_write_json(summary_path(out), summary)
    return summary
