"""Progress lines that read well in a plain log (DVC, the Prefect task log, CI): time-based, with elapsed time and
an ETA, one line each — not a terminal bar, whose carriage returns reach a log only as "0%" and "100%".

A line is printed when `every` seconds have passed since the last one (default 10 s, or $THINKACT_PROGRESS_SECONDS)
and once at the end:

    bar = Progress("[evaluate] grpo / test_id", total=240, unit="ex")
    for batch in batches:
        ...
        bar.update(len(batch))            # [evaluate] grpo / test_id: 96/240 ex (40%), elapsed 10s eta 15s
    bar.close()                           # [evaluate] grpo / test_id: 240/240 ex in 25.1 s
"""
from __future__ import annotations

import os
import sys
import time
from typing import TextIO


def _every() -> float:
    try:
        return max(0.0, float(os.environ.get("THINKACT_PROGRESS_SECONDS", "10")))
    except ValueError:
        return 10.0


class Progress:
    """Counts work done out of `total` and prints a line every `every` seconds (see the module docstring).
    `enabled=False` prints nothing; `extra` on update adds a short text (e.g. the loss) to that line."""

    def __init__(self, label: str, total: int, *, unit: str = "", every: float | None = None,
                 enabled: bool = True, stream: TextIO | None = None):
        self.label, self.total, self.unit, self.enabled = label, max(int(total), 0), unit, enabled
        self.every = _every() if every is None else every
        self.stream = stream
        self.done = 0
        self.start = self.last = time.monotonic()

    def update(self, n: int = 1, extra: str = "") -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self.last >= self.every and self.done < self.total:
            self.last = now
            elapsed = now - self.start
            eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
            share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
            self._print(f"{self.label}: {self.done}/{self.total}{self._unit()}{share}, elapsed {elapsed:.0f}s "
                        f"eta {eta:.0f}s" + (f" {extra}" if extra else ""))

    def close(self, extra: str = "") -> float:
        """Print the closing line (when enabled); returns the seconds since the start."""
        seconds = time.monotonic() - self.start
        if self.enabled:
            self._print(f"{self.label}: {self.done}/{self.total}{self._unit()} in {seconds:.1f} s"
                        + (f" {extra}" if extra else ""))
        return seconds

    def _unit(self) -> str:
        return f" {self.unit}" if self.unit else ""

    def _print(self, line: str) -> None:
        print(line, file=self.stream or sys.stdout, flush=True)
