"""The headline metrics: a few numbers in %, laid out so that DVC's tables stay legible.

`metrics.json` keeps every metric with its interval as a list (what tools read). DVC drops lists and shows one row
per metrics file with one column per key, so dvc.yaml declares this folder as the evaluate stage's metrics
instead: one small file per figure and model — `exact_<model>.json` (tool_call_exact: the calls match the target
exactly, names and every argument; scored on the rows whose target is a call, answer and clarify rows have none)
and `episodes_<model>.json` (agent-episode success, greedy) — and per compared pair the paired delta in
percentage points (`exact_grpo-sft.json`, ...). Each file holds the splits as keys, each interval as `<split>_lo` /
`<split>_hi` scalars, so a table has a row per model and nine columns (three more per BFCL category of
`evaluate.bfcl`: its split `bfcl_<category>`, an external benchmark outside the promotion gate):

    dvc metrics show outputs/evaluate/headline
    dvc metrics diff HEAD~1 outputs/evaluate/headline
    dvc exp show --drop '.*' --keep 'Experiment|.*_grpo.json:test_id$'
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from thinkact.evaluation.stats import Estimate
from thinkact.io import atomic_dir, atomic_write_json

HEADLINE_DIR = "headline"
# file prefix -> (an episode metric (True) or a per-turn one, the metric)
FIGURES = {"exact": (False, "tool_call_exact"), "episodes": (True, "episode_success")}


def _pct(x: float | None) -> float | None:
    return None if x is None else round(100 * x, 1)


def _row(by_split: dict[str, dict[str, Estimate]], splits: list[str], metric: str) -> dict[str, float]:
    row: dict[str, float] = {}
    for s in splits:
        e = by_split[s].get(metric)
        if e is None or e.value is None:
            continue
        row[s] = _pct(e.value)
        if e.low is not None and e.high is not None:
            row[f"{s}_lo"], row[f"{s}_hi"] = _pct(e.low), _pct(e.high)
    return row


def headline(ev: Any, eev: Any) -> dict[str, dict[str, float]]:
    """{"exact_grpo": {"test_id": 83.1, "test_id_lo": …, "test_id_hi": …, …}, "exact_grpo-sft": …, "episodes_sft":
    …} from a per-turn Evaluation `ev` and an EpisodeEvaluation `eev` (either may be None)."""
    out: dict[str, dict[str, float]] = {}
    for prefix, (episodic, metric) in FIGURES.items():
        source = eev if episodic else ev
        if source is None:
            continue
        for m in source.models:
            out[f"{prefix}_{m}"] = _row(source.summary[m], source.splits, metric)
        for pair, by_split in source.deltas.items():
            out[f"{prefix}_{pair}"] = _row(by_split, source.splits, metric)
    return out


def write_headline(folder: str | Path, ev: Any, eev: Any) -> None:
    """Replace `folder` with one JSON file per entry of `headline(ev, eev)`."""
    with atomic_dir(folder) as tmp:
        for name, row in headline(ev, eev).items():
            atomic_write_json(Path(tmp) / f"{name}.json", row)
