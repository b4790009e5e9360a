"""The one settings object of an agent episode: params.yaml's `episodes:` section.

GRPO's episode mode (thinkact.training.episode_rollouts), the evaluate stage's episode evaluation
(thinkact.evaluation.episode_eval) and the rollout loop itself (thinkact.env.rollout.play_episodes) all read it;
sampling (how many samples, at what temperature, which seed) is the caller's, not an episode's. Its `faults`
subsection sets how often the simulated tools fail (thinkact.env.faults), so GRPO and evaluation play the same world.

    from thinkact.env.settings import EpisodesParams
    play_episodes(model, tokenizer, specs, params.episodes, num_samples=4, temperature=0.8)
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from thinkact.errors import ConfigError
from thinkact.tools.params import ToolsParams
from thinkact.typed_yaml import number, whole

# The faults a tool call can meet (the keys of `episodes.faults` and the `kind` of the error result the model sees):
# transient: 503, temporarily unavailable; rate_limit: 429, rate limited; validation: 422, a field was rejected.
FAULT_KINDS = ("transient", "rate_limit", "validation")


@dataclass(frozen=True)
class FaultParams:
    """`episodes.faults`: the chance that a tool call which would succeed meets each fault instead (0: never), and
    the seed of the draws. A call's draw is a hash of (seed, episode id, tool, arguments), so the same episode sees
    the same faults in GRPO and in evaluation, whatever the batch or sampling order (thinkact.env.faults)."""

    transient: float = 0.0       # "temporarily unavailable (503)": the same call sent again runs
    rate_limit: float = 0.0      # "rate limited (429)": the same call sent again runs
    validation: float = 0.0      # "validation failed (422)" naming one of the call's arguments and what was wrong
    seed: int = 0

    def __post_init__(self):
        for key in FAULT_KINDS:
            problem = number(0.0, 1.0)(getattr(self, key))
            if problem:
                raise ConfigError(f"episodes.faults.{key}", f"is a probability; it {problem}")
        problem = whole(0)(self.seed)
        if problem:
            raise ConfigError("episodes.faults.seed", problem)
        if self.total > 1:
            raise ConfigError("episodes.faults", f"transient + rate_limit + validation is {self.total:g}; a call meets "
                                                 "at most one fault, so the three add up to at most 1")

    @property
    def total(self) -> float:
        return sum(getattr(self, key) for key in FAULT_KINDS)

    @property
    def on(self) -> bool:
        """Any fault rate above 0."""
        return self.total > 0


@dataclass(frozen=True)
class EpisodesParams:
    """How an agent episode is played (thinkact.env.rollout), the same in GRPO (`grpo.mode: episodes`) and in the
    evaluate stage's episode evaluation: bounds per episode, tokens per assistant turn, the tools' faults, and where
    the tools run (`tools`: thinkact.tools; the simulated world by default)."""

    max_turns: int = 4           # assistant text turns (questions, the answer); past it the episode ends, failed
    max_tool_calls: int = 6      # tool calls, valid or not (faulted ones too); past it the episode ends, failed
    max_new_tokens: int = 144    # generated tokens per assistant turn
    faults: FaultParams = FaultParams()
    tools: ToolsParams = ToolsParams()

    def __post_init__(self):
        for key in ("max_turns", "max_tool_calls", "max_new_tokens"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ConfigError(f"episodes.{key}", "must be an integer >= 1")
        if not isinstance(self.faults, FaultParams):
            raise ConfigError("episodes.faults", f"must be a mapping of {', '.join(FAULT_KINDS)} and seed")
        if not isinstance(self.tools, ToolsParams):
            raise ConfigError("episodes.tools", "must be a mapping: source, module, schemas, command, url, timeout_s")

    def without_faults(self) -> "EpisodesParams":
        """The same settings with every fault rate 0 (evaluation's no-fault pass)."""
        return replace(self, faults=FaultParams())
