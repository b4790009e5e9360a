"""GRPO on agent episodes (`grpo.mode: episodes`): TRL's GRPOTrainer with a `rollout_func` that plays whole
episodes, tools running, through the one rollout loop (thinkact.env.rollout.play_episodes).

Why a `rollout_func` and not `environment_factory`: TRL renders an environment's tools from its methods'
signatures (not the data's JSON Schemas with enums, patterns and distractors) and its tool loop cannot answer a
clarifying question with a user turn. The rollout here renders every prompt with the project's chat template and the
episode's own tools — byte-identical to what SFT trains on and evaluation plays (`episode_rows`) — runs every call
through `ToolEnvironment` (schema-checked; a bad call comes back as an error result, never an exception) and lets
the simulated user answer questions. TRL gets the token streams with `env_mask` (tool results and user replies are
0, so they never carry loss: TRL multiplies its loss mask by it) and forwards `episode_result` to the episode
rewards (thinkact.rewards.episode_rewards). `tools/call_frequency` (calls per episode) and `tools/failure_frequency`
(the model's invalid calls per call) are logged under TRL's own names. The tools fail as `episodes.faults` says,
the very faults evaluation meets (thinkact.env.faults: drawn per episode and call); with any fault rate above 0,
`tools/fault_frequency` (injected faults per call) is logged too, and faults are not in failure_frequency.

    rows = episode_rows(specs, tokenizer)                      # the GRPO data set: prompt, episode, id
    rollout = EpisodeRollouts(specs, rows, params.episodes)    # GRPOTrainer(..., rollout_func=rollout)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from thinkact.env.rollout import opening_messages, play_episodes, render, trl_output
from thinkact.env.settings import EpisodesParams
from thinkact.env.spec import EpisodeSpec


def episode_rows(specs: Sequence[EpisodeSpec], tokenizer: Any) -> list[dict[str, Any]]:
    """GRPO rows of episodes: the opening prompt as the template renders it, the spec (the `episode` reward column)
    and its id."""
    return [{"prompt": render(tokenizer, spec, opening_messages(spec), True), "episode": spec.to_json(),
             "id": spec.id} for spec in specs]


class EpisodeRollouts:
    """TRL's `rollout_func`: for the prompts of a generation batch (TRL repeats each prompt `num_generations` times),
    one sampled episode each, at the trainer's temperature / top_p / top_k; `max_completion_length` bounds the whole
    episode (generated and inserted tokens), as in TRL's own tool loop."""

    def __init__(self, specs: Sequence[EpisodeSpec], rows: Sequence[dict[str, Any]], settings: EpisodesParams):
        self.specs: dict[str, EpisodeSpec] = {}
        for spec, row in zip(specs, rows):
            self.specs.setdefault(row["prompt"], spec)  # the same opening prompt plays the same episode
        self.settings = settings
        self.calls = 0  # generation batches played, so each gets its own sampling seed

    def __call__(self, prompts: list[str], trainer: Any) -> dict[str, Any]:
        args, settings = trainer.args, self.settings
        model = trainer.accelerator.unwrap_model(trainer.model)
        seed = args.seed + 1_000_003 * self.calls + trainer.accelerator.process_index
        self.calls += 1
        rollouts = play_episodes(
            model, trainer.processing_class, [self.specs[p] for p in prompts], settings, temperature=args.temperature,
            top_p=args.top_p, top_k=args.top_k or 0, batch_size=len(prompts), seed=seed,
            max_completion_tokens=args.max_completion_length)
        calls = sum(len(r.calls) for r in rollouts)
        failed = sum(c.mistaken for r in rollouts for c in r.calls)
        faulted = sum(c.faulted for r in rollouts for c in r.calls)
        counts = trainer.accelerator.gather(torch.tensor([calls, failed, faulted, len(rollouts)],
                                                         device=trainer.accelerator.device))
        calls, failed, faulted, episodes = counts.view(-1, 4).sum(0).tolist()
        metrics = trainer._metrics["train" if model.training else "eval"]  # TRL's per-step metric buffer
        metrics["tools/call_frequency"].append(calls / max(episodes, 1))
        metrics["tools/failure_frequency"].append(failed / calls if calls else 0.0)
        if settings.faults.on:
            metrics["tools/fault_frequency"].append(faulted / calls if calls else 0.0)
        return trl_output(rollouts)
