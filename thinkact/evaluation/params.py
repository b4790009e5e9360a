"""The `evaluate:` section of params.yaml — which models on which splits, how generation runs, the bootstrap, the
agent episodes and BFCL — with its rules (BFCL category names from thinkact.importers.bfcl).

    from thinkact.evaluation.params import EvaluateParams
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thinkact.contract import EVAL_SPLITS
from thinkact.data.dev import DEV
from thinkact.errors import ConfigError
from thinkact.evaluation.stats import METHODS
from thinkact.importers.bfcl import check_categories
from thinkact.typed_yaml import no_repeats

MODEL_NAMES = ("base", "sft", "grpo")  # the models the pipeline trains and compares


def check_splits(key: str, splits: tuple[str, ...], at_least_one: bool = False) -> None:
    """Each an evaluation split or `dev` (the split cut from train: thinkact.data.dev; whether the cut is on is
    thinkact.config's cross-section rule), each once (and at least one with `at_least_one`)."""
    for i, split in enumerate(splits):
        if split not in (*EVAL_SPLITS, DEV):
            raise ConfigError(f"{key}[{i}]", f"unknown evaluation split {split!r}; use {', '.join(EVAL_SPLITS)} or "
                                             f"{DEV} (with the dev section)")
    no_repeats(key, splits)
    if at_least_one and not splits:
        raise ConfigError(key, f"list at least one of {', '.join(EVAL_SPLITS)}")


@dataclass(frozen=True)
class BootstrapParams:
    """Bootstrap confidence intervals (scipy.stats.bootstrap) for every metric and paired delta."""

    n_resamples: int = 2000
    confidence: float = 0.95
    seed: int = 0
    method: str = "BCa"

    def __post_init__(self):
        if self.seed < 0:
            raise ConfigError("evaluate.bootstrap.seed", "must be >= 0")
        if self.n_resamples < 100:
            raise ConfigError("evaluate.bootstrap.n_resamples", "must be >= 100")
        if not 0.5 <= self.confidence < 1:
            raise ConfigError("evaluate.bootstrap.confidence", "must be in [0.5, 1)")
        if self.method not in METHODS:
            raise ConfigError("evaluate.bootstrap.method", f"use {', '.join(METHODS)}")

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of thinkact.evaluation.stats (bootstrap_ci, paired_delta)."""
        return {"n_resamples": self.n_resamples, "confidence": self.confidence, "seed": self.seed,
                "method": self.method}


@dataclass(frozen=True)
class EpisodeEvalParams:
    """Episode evaluation (thinkact.evaluation.episode_eval): greedy success (pass^1) and pass^k (k samples at
    `temperature`, all must succeed) on <data>/episodes/<split>.jsonl; no splits: none. How an episode is played
    (turn and call bounds, tokens per turn) is params.yaml `episodes:` (thinkact.env.settings)."""

    splits: tuple[str, ...] = ()
    max_examples: int = 0        # episodes per split, the first N in file order; 0: all
    k: int = 3                   # samples per episode for pass^k
    temperature: float = 0.7     # sampling temperature for pass^k

    def __post_init__(self):
        check_splits("evaluate.episodes.splits", self.splits)
        if self.max_examples < 0:
            raise ConfigError("evaluate.episodes.max_examples", "must be >= 0 (0: all)")
        if self.k < 1:
            raise ConfigError("evaluate.episodes.k", "must be >= 1")
        if not 0 < self.temperature <= 5:
            raise ConfigError("evaluate.episodes.temperature", "must be in (0, 5]")


@dataclass(frozen=True)
class BfclEvalParams:
    """The Berkeley Function Calling Leaderboard: each category (read from the installed bfcl-eval package) becomes
    one more split, `bfcl_<category>`, of the tool-call metrics; none: no BFCL."""

    categories: tuple[str, ...] = ()
    max_examples: int = 0        # per category, the first N in file order; 0: all

    def __post_init__(self):
        check_categories(self.categories, "evaluate.bfcl.categories")
        if self.max_examples < 0:
            raise ConfigError("evaluate.bfcl.max_examples", "must be >= 0 (0: all)")


@dataclass(frozen=True)
class EvaluateParams:
    """The `evaluate` stage: which models on which splits, how much, and how generation runs."""

    models: tuple[str, ...] = MODEL_NAMES
    splits: tuple[str, ...] = EVAL_SPLITS
    max_examples: int = 0        # per split, the first N in file order; 0: all
    max_new_tokens: int = 128
    batch_size: int = 16
    cpu_threads: int = 0         # torch threads on a CPU; 0: torch's default
    use_vllm: bool = False       # generate with vLLM (CUDA machines with vllm installed)
    bootstrap: BootstrapParams = BootstrapParams()
    episodes: EpisodeEvalParams = EpisodeEvalParams()
    bfcl: BfclEvalParams = BfclEvalParams()

    def __post_init__(self):
        for i, model in enumerate(self.models):
            if model not in MODEL_NAMES:
                raise ConfigError(f"evaluate.models[{i}]", f"unknown model {model!r}; use {', '.join(MODEL_NAMES)}")
        no_repeats("evaluate.models", self.models)
        if not self.models:
            raise ConfigError("evaluate.models", f"list at least one of {', '.join(MODEL_NAMES)}")
        check_splits("evaluate.splits", self.splits, at_least_one=True)
        for key in ("max_examples", "cpu_threads"):
            if getattr(self, key) < 0:
                raise ConfigError(f"evaluate.{key}", "must be >= 0")
        for key in ("max_new_tokens", "batch_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"evaluate.{key}", "must be >= 1")
