"""The agent's environment: everything an agent episode is, plays and leaves behind (issue #13).

- `spec`:     `EpisodeSpec`, one episode as a frozen, JSON-round-trippable record; the episode files
              (`<data>/episodes/<split>.jsonl`: `episode_path`, `read_episodes`)
- `settings`: `EpisodesParams`, params.yaml's `episodes:` section: the bounds of one episode and its tokens per turn
- `tool_env`: `ToolEnvironment`, which plays one spec: tool calls checked, simulated, recorded and bounded
- `faults`:   the injected tool faults of `episodes.faults` (503, 429, 422), drawn per episode and call
- `user`:     the simulated user's replies to the assistant's texts
- `rollout`:  `play_episodes`, the one rollout loop (a model plays specs; evaluation greedy, GRPO sampled)
- `columns`:  what the episode rewards read: a data set's `episode` column (the gold) and the played
              `episode_result` column (`EpisodeRollout.result()`)

    from thinkact.env.spec import EpisodeSpec
    from thinkact.env.tool_env import ToolEnvironment
    env = ToolEnvironment(max_turns=4, max_tool_calls=8)
    env.reset(episode=spec.to_json())
    env.call("get_order_status", '{"order_id": "ORD-12345"}')   # a JSON string, never an exception

Import the modules themselves: this package file imports nothing, so `thinkact.env.settings` loads without the
spec's checks (which read thinkact.config) or the rollout loop (torch).
"""
