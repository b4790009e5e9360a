"""The data validation gate: a Great Expectations suite over contract JSONL (docs/design.md, stage `validate`).

    from thinkact.validation import validate, validate_to_dir
    report = validate("data", params.validate)                      # a Report; report.success
    report = validate("data", params.validate, tools=params.episodes.tools)  # gold calls on that tool set
    report = validate_to_dir("data", params.validate, "outputs/validate")   # + report.json, data_docs/

`path` is a folder of <split>.jsonl files (a data set: shape checks on by default) or one JSONL file
(a user's data or an import: contract, tools and hygiene checks only, unless shape=True). A folder's
episodes/<split>.jsonl files, when it has them, are checked too (`episodes.*` checks; their gold calls are
replayed on the tool set of `tools`, params.yaml `episodes.tools`: the simulated world by default).
A line that cannot be read (not strict JSON: NaN / Infinity, nested over 64 levels, a lone surrogate, ...)
is a failing row, not a crash, and so is an empty or blank-only file; a missing path or a folder without
JSONL raises DataError. Modules: rows.py (per-row table), tools.py (jsonschema checks), suite.py (GX),
episodes.py (the episode files), report.py (JSON summary and text); `thinkact validate PATH` is
thinkact/cli/validate.py.
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from thinkact.tools.params import ToolsParams
from thinkact.validation.params import ValidateParams
from thinkact.io import atomic_dir, atomic_write_json
from thinkact.validation.episode_checks import episode_table
from thinkact.validation.report import DOCS_DIR, REPORT_FILE, Report
from thinkact.validation.rows import frame, read_rows_overlapped
from thinkact.validation.suite import import_gx, run_suite

__all__ = ["DOCS_DIR", "REPORT_FILE", "Report", "validate", "validate_to_dir"]


def validate(path: str | Path, params: ValidateParams | None = None, *, shape: bool | None = None,
             docs_dir: str | Path | None = None, tools: ToolsParams | None = None) -> Report:
    """Validate a data folder or JSONL file; build GX data docs into `docs_dir` when given. `tools`: where the
    episode files' gold calls run (None: the built-in world)."""
    start = time.perf_counter()
    params = params if params is not None else ValidateParams()
    path = Path(path)
    rows = read_rows_overlapped(path, then=import_gx)
    read = time.perf_counter()
    shape = path.is_dir() if shape is None else shape

    episodes = episode_table(path, tools)
    checked = time.perf_counter()
    outcomes = run_suite(frame(rows), params, shape, Path(docs_dir) if docs_dir is not None else None,
                         extra=[episodes.table] if episodes else [])
    done = time.perf_counter()
    counts = Counter(r["split"] for r in rows if r["split"] is not None)
    per_split = {s: counts.get(s, 0) for s in params.rows} if shape else {}
    per_split.update(sorted(counts.items()))
    summary = {"total": len(rows), "unreadable": sum(not r["readable"] for r in rows), **per_split}
    timings = {"read_and_import": round(read - start, 3), "episodes": round(checked - read, 3),
               "suite": round(done - checked, 3)}
    return Report(str(path), shape, summary, outcomes, done - start, timings=timings,
                  episodes=episodes.counts if episodes else {})


def validate_to_dir(path: str | Path, params: ValidateParams | None, out_dir: str | Path, *,
                    shape: bool | None = None, tools: ToolsParams | None = None) -> Report:
    """Validate and write `out_dir`/report.json and `out_dir`/data_docs/, each replaced only when complete.

    Only those two entries of `out_dir` are touched; the report is written whether or not the data pass."""
    out = Path(out_dir)
    with atomic_dir(out / DOCS_DIR) as docs_tmp:
        report = validate(path, params, shape=shape, docs_dir=docs_tmp, tools=tools)
    index = out / DOCS_DIR / "index.html"
    report.docs_index = str(index) if index.is_file() else None
    atomic_write_json(out / REPORT_FILE, report.to_dict())
    return report
