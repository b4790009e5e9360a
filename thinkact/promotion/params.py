"""The `register:` section of params.yaml — the registry name and the promotion gate — with its rules (metric names
from thinkact.evaluation.metrics).

    from thinkact.promotion.params import RegisterParams
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from thinkact.contract import EVAL_SPLITS
from thinkact.errors import ConfigError
from thinkact.evaluation.metrics import UNBOUNDED, metric_names
from thinkact.evaluation.params import check_splits

MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # a registered model's name: safe in paths and URIs


@dataclass(frozen=True)
class RegisterParams:
    """The `register` stage: registry name and the promotion gate (challenger vs champion, paired bootstrap)."""

    model_name: str = "thinkact-agent"
    primary_metric: str = "tool_call"                  # a metric of `thinkact rewards list` / metrics.json
    splits: tuple[str, ...] = EVAL_SPLITS              # pooled for the gate
    min_improvement: float = 0.0                       # promote when the delta's lower CI bound is above this
    thresholds: dict[str, float] = field(default_factory=dict)  # first champion: pooled mean >= each value

    def __post_init__(self):
        if not MODEL_NAME.fullmatch(self.model_name):
            raise ConfigError("register.model_name", f"{self.model_name!r}: use letters, digits, '.', '_' and '-' "
                                                     "only, starting with a letter or digit (at most 100)")
        check_splits("register.splits", self.splits, at_least_one=True)
        metrics = metric_names()
        if self.primary_metric not in metrics:
            raise ConfigError("register.primary_metric", f"unknown metric {self.primary_metric!r}; use one of "
                                                         f"{', '.join(metrics)}")
        for metric, value in self.thresholds.items():
            key = f"register.thresholds.{metric}"
            if metric not in metrics:
                raise ConfigError(key, f"unknown metric; use one of {', '.join(metrics)}")
            if metric not in UNBOUNDED and not 0 <= value <= 1:
                raise ConfigError(key, f"{value:g} is out of reach: the metric is a score in [0, 1]")
