"""Bootstrap confidence intervals for a metric's mean, and paired-bootstrap intervals for differences.

Both call `scipy.stats.bootstrap` (BCa by default, vectorized, seeded) on the per-example scores; no
statistic is hand-rolled here. None (metric not applicable) is dropped per metric before resampling; a paired
difference keeps only the examples where both models have a score, and resamples the per-example differences
(resampling examples, not models: the pairs stay together).

Edge cases: no score -> value None; one score -> value without interval (too few to resample); all scores
equal -> the degenerate interval [value, value] (what the bootstrap gives, without scipy's warning);
BCa undefined (NaN) -> the percentile interval; over BCA_MAX_N scores -> the percentile interval (BCa's jackknife
is quadratic in n, and at that size the two agree to the third decimal).

    from thinkact.evaluation.stats import bootstrap_ci, paired_delta
    est = bootstrap_ci([1, 0, 1, None, 1], n_resamples=2000, seed=0)    # Estimate(value=0.75, low=…, high=…, n=4)
    d = paired_delta(grpo_scores, sft_scores)                            # GRPO − SFT on the same examples
"""
from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

METHODS = ("BCa", "percentile", "basic")
MEMORY_BUDGET = 4_000_000  # floats one resampling batch may hold (about 32 MB)
BCA_MAX_N = 20_000         # BCa up to this many scores (about 1.5 s each on one core), percentile beyond


@dataclass(frozen=True)
class Estimate:
    """A mean with its bootstrap interval; `n` = examples the metric applied to."""

    value: float | None
    low: float | None
    high: float | None
    n: int

    @property
    def ci(self) -> list[float] | None:
        return None if self.low is None or self.high is None else [self.low, self.high]

    @property
    def excludes_zero(self) -> bool:
        """The interval lies entirely above or below 0 (for a difference: significant at its level)."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def _present(values: Sequence[float | None]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None], dtype=float)


def bootstrap_ci(values: Sequence[float | None], *, n_resamples: int = 2000, confidence: float = 0.95,
                 seed: int = 0, method: str = "BCa") -> Estimate:
    """The mean of the non-None `values` and its bootstrap `confidence` interval (scipy.stats.bootstrap)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if n_resamples < 1 or not 0 < confidence < 1:
        raise ValueError("need n_resamples >= 1 and 0 < confidence < 1")
    x = _present(values)
    n = int(x.size)
    if n == 0:
        return Estimate(None, None, None, 0)
    value = float(x.mean())
    if n == 1:
        return Estimate(value, None, None, 1)
    if np.all(x == x[0]):
        return Estimate(value, value, value, n)
    if method == "BCa" and n > BCA_MAX_N:
        method = "percentile"
    low, high = _interval(x, n_resamples, confidence, seed, method)
    if not (np.isfinite(low) and np.isfinite(high)) and method == "BCa":
        low, high = _interval(x, n_resamples, confidence, seed, "percentile")
    return Estimate(value, float(low), float(high), n)


def _interval(x: np.ndarray, n_resamples: int, confidence: float, seed: int, method: str) -> tuple[float, float]:
    from scipy.stats import bootstrap  # ~0.5 s: imported when an interval is computed, not with the module

    batch = max(1, MEMORY_BUDGET // x.size)
    rng = np.random.default_rng(seed)
    seeded = {"rng": rng} if "rng" in inspect.signature(bootstrap).parameters else {"random_state": rng}  # scipy < 1.15
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DegenerateDataWarning: handled by the NaN fallback
        res = bootstrap((x,), np.mean, n_resamples=n_resamples, confidence_level=confidence, method=method,
                        vectorized=True, batch=batch, **seeded)
    return res.confidence_interval.low, res.confidence_interval.high


def paired_delta(a: Sequence[float | None], b: Sequence[float | None], *, n_resamples: int = 2000,
                 confidence: float = 0.95, seed: int = 0, method: str = "BCa") -> Estimate:
    """Mean of a − b over the examples where both are scored, with a paired-bootstrap interval.

    `a` and `b` are per-example scores of two models on the very same examples, in the same order.
    """
    if len(a) != len(b):
        raise ValueError(f"paired scores need the same examples: {len(a)} vs {len(b)}")
    diffs = [x - y for x, y in zip(a, b) if x is not None and y is not None]
    return bootstrap_ci(diffs, n_resamples=n_resamples, confidence=confidence, seed=seed, method=method)
