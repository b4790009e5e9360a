"""Agent episodes: tools that run inside GRPO rollouts and evaluation (issue #13).

    from thinkact.agent import EpisodeSpec, ToolEnvironment
    env = ToolEnvironment(max_turns=4, max_tool_calls=8)
    env.reset(episode=spec.to_json())
    env.call("get_order_status", '{"order_id": "ORD-12345"}')   # a JSON string, never an exception

`episode` holds the spec, `environment` plays it, `user` is the simulated user.
"""
from thinkact.agent.environment import ERROR_KINDS, CallRecord, ToolEnvironment, TurnRecord
from thinkact.agent.episode import EpisodeSpec

__all__ = ["ERROR_KINDS", "CallRecord", "EpisodeSpec", "ToolEnvironment", "TurnRecord"]
