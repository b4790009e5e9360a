"""The one settings object of an agent episode: params.yaml's `episodes:` section.

GRPO's episode mode (thinkact.training.episode_rollouts), the evaluate stage's episode evaluation
(thinkact.evaluation.episode_eval) and the rollout loop itself (thinkact.env.rollout.play_episodes) all read it;
sampling (how many samples, at what temperature, which seed) is the caller's, not an episode's.

    from thinkact.env.settings import EpisodesParams
    play_episodes(model, tokenizer, specs, params.episodes, num_samples=4, temperature=0.8)
"""
from __future__ import annotations

from dataclasses import dataclass

from thinkact.errors import ConfigError


@dataclass(frozen=True)
class EpisodesParams:
    """How an agent episode is played (thinkact.env.rollout), the same in GRPO (`grpo.mode: episodes`) and in the
    evaluate stage's episode evaluation: bounds per episode and tokens per assistant turn."""

    max_turns: int = 4           # assistant text turns (questions, the answer); past it the episode ends, failed
    max_tool_calls: int = 6      # tool calls, valid or not; past it the episode ends, failed
    max_new_tokens: int = 144    # generated tokens per assistant turn

    def __post_init__(self):
        for key in ("max_turns", "max_tool_calls", "max_new_tokens"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ConfigError(f"episodes.{key}", "must be an integer >= 1")
