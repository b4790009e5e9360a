"""Rewards that are also evaluation metrics: one registry, TRL's signature, picklable.

    thinkact rewards list
"""
from thinkact.rewards.registry import Reward, build, describe, get, names, options_of, register

__all__ = ["Reward", "build", "describe", "get", "names", "options_of", "register"]
