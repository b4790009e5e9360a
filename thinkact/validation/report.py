"""The validation report: a JSON summary (DVC metrics, MLflow), flat metrics, and the short text summary
printed on failure (each failed expectation, how many rows, up to `show_ids` offending ids with reasons).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from thinkact.validation.suite import Outcome

REPORT_FILE = "report.json"
DOCS_DIR = "data_docs"


def _plain(value: Any) -> Any:
    """numpy / pandas scalars and NaN as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


@dataclass
class Report:
    """What one validation run found."""

    source: str
    shape: bool                               # shape checks (row counts, turn-type shares) were run
    rows: dict[str, int]                      # total, unreadable, and per split
    outcomes: list[Outcome]
    seconds: float = 0.0
    docs_index: str | None = None             # the data docs' index.html, when built
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase
    episodes: dict[str, int] = field(default_factory=dict)   # episode lines: total and per file; {}: none

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success]

    @property
    def success(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary: a few DVC metrics (success, rows, expectation counts) and, for people, each
        failed expectation with its offending rows. Every expectation's result is in the data docs."""
        return _plain({
            "success": self.success,
            "source": self.source,
            "shape_checks": self.shape,
            "rows": self.rows,
            **({"episodes": self.episodes} if self.episodes else {}),
            "expectations": {"evaluated": len(self.outcomes), "passed": len(self.outcomes) - len(self.failed),
                             "failed": len(self.failed)},
            "seconds": round(self.seconds, 3),
            "data_docs": self.docs_index,
            "failures": [{k: v for k, v in _plain(asdict(o)).items() if v not in (None, [], {}) and k != "success"}
                         for o in self.failed],
        })

    def metrics(self) -> dict[str, float]:
        """Flat numeric metrics for MLflow."""
        out = {"validate_success": float(self.success), "expectations_failed": float(len(self.failed)),
               "expectations_evaluated": float(len(self.outcomes)), "seconds": self.seconds}
        out.update({f"rows_{k}": float(v) for k, v in self.rows.items()})
        out.update({f"episodes_{k}": float(v) for k, v in self.episodes.items()})
        out.update({f"seconds_{k}": float(v) for k, v in self.timings.items()})
        return out

    def summary(self) -> str:
        """A short text: one line overall, then each failed expectation with its offending rows."""
        splits = " · ".join(f"{k} {v:,}" for k, v in self.rows.items() if k not in ("total", "unreadable"))
        head = f"{self.rows.get('total', 0):,} rows in {self.source}" + (f" ({splits})" if splits else "")
        if self.episodes:
            per_file = " · ".join(f"{k} {v:,}" for k, v in self.episodes.items() if k != "total")
            head += f" and {self.episodes['total']:,} episodes ({per_file})"
        if self.success:
            lines = [f"✓ validation passed: all {len(self.outcomes)} expectations hold on {head}"]
        else:
            lines = [f"✗ validation failed: {len(self.failed)} of {len(self.outcomes)} expectations failed on {head}"]
        for o in self.failed:
            lines.append(f"  ✗ {o.check}: {o.text} [{o.expectation}] — {_what(o)}")
            for r in o.rows:
                ident = f"  {r['id']}" if r.get("id") else ""
                lines.append(f"      {r['where']}{ident}: {r['reason']}")
            shown = len(o.rows)
            if o.unexpected_count and o.unexpected_count > shown and shown:
                lines.append(f"      … and {o.unexpected_count - shown:,} more")
        if self.docs_index:
            lines.append(f"Data docs: {self.docs_index}")
        return "\n".join(lines)


def _what(o: Outcome) -> str:
    if o.unexpected_count is not None:
        return f"{o.unexpected_count:,} row{'s' if o.unexpected_count != 1 else ''}"
    bounds = f"expected {o.kwargs.get('min_value')} to {o.kwargs.get('max_value')}"
    if o.exception:
        return f"could not be evaluated: {o.exception}"
    if o.observed is None:
        return f"no rows to measure ({bounds})"
    observed = round(o.observed, 3) if isinstance(o.observed, float) else o.observed
    return f"observed {observed}, {bounds}"
