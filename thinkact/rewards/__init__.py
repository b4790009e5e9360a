"""Rewards that are also evaluation metrics: one registry, TRL's signature, picklable.

Per-turn rewards read the `target` column (thinkact.rewards.functions); episode rewards (`EPISODE_NAMES`,
thinkact.rewards.episode_rewards) read `episode` and `episode_result` (through thinkact.env.columns) and are None
(not applicable) without them.

    thinkact rewards list
"""
from thinkact.rewards.episode_rewards import EPISODE_NAMES
from thinkact.rewards.registry import (Reward, build, check_selection, describe, get, names, options_of, register,
                                       registered)

__all__ = ["EPISODE_NAMES", "Reward", "build", "check_selection", "describe", "get", "names", "options_of", "register", "registered"]
