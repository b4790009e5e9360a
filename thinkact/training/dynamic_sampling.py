"""DAPO's dynamic sampling inside TRL's loop (`grpo.dynamic_sampling`; trl issue #3708: TRL 1.16 has none).

A group whose rewards are all equal has zero advantage: it adds nothing to the gradient (and, under `loss_type:
dapo`, still counts in the token normaliser, diluting the groups that do). `DynamicSamplingTrainer` overrides
GRPOTrainer's `_generate_and_score_completions`: after TRL has generated and scored a step's generation batch, the
zero-spread groups are dropped and the batch refilled with informative groups from up to `max_rounds` further
rounds — each a call to TRL's own `_generate_and_score_completions` on other train prompts (seeded by step and
round, so a resumed run draws the same ones). Each round's rows are complete (completions, masks, advantages,
log-probabilities), so the batch is their rows concatenated, re-padded (prompts on the left, completions on the
right, as TRL pads) with TRL's token count recomputed. Whatever is still missing after `max_rounds` is filled with
the dropped groups (zero advantage, so no gradient; the batch keeps the size TRL splits into steps).

Zero spread is TRL's test on the weighted total reward (`isclose(nanstd, 0)`), the one behind its
`frac_reward_zero_std` — which, with this on, is the share over every group sampled in the step (all rounds);
`dynamic_sampling/rounds` (extra rounds) and `dynamic_sampling/frac_zero_std_trained` (zero-spread groups left in
the trained batch) are logged beside it. One process only (the stage refuses more): TRL gathers rewards across
processes and a group may straddle two of them. CompletionSamples then shows the last round's completions.

    trainer = DynamicSamplingTrainer(model=..., reward_funcs=..., args=config, ..., max_rounds=2)
"""
from __future__ import annotations

import random
from typing import Any

import torch
from trl.trainer.utils import nanstd

from thinkact.training.shared_prefix import SharedPrefixGRPOTrainer

LEFT = {"prompt_ids", "prompt_mask"}  # TRL pads prompts on the left, everything per completion token on the right


def informative(scores: torch.Tensor, weights: torch.Tensor, group: int) -> torch.Tensor:
    """One bool per group of `group` rows of `scores` (rewards per function, NaN = not applicable): its weighted
    total reward has a spread (TRL's total and zero test)."""
    totals = (scores * weights.to(scores.device).unsqueeze(0)).nansum(dim=1)
    totals[torch.isnan(scores).all(dim=1)] = torch.nan
    std = nanstd(totals.view(-1, group), dim=1)
    return ~torch.isclose(std, torch.zeros_like(std)) & ~torch.isnan(std)


def _pad_cat(tensors: list[torch.Tensor], left: bool, value: float) -> torch.Tensor:
    if tensors[0].dim() < 2:
        return torch.cat(tensors)
    width = max(t.size(1) for t in tensors)
    padded = [torch.cat([t.new_full((t.size(0), width - t.size(1)), value), t] if left else
                        [t, t.new_full((t.size(0), width - t.size(1)), value)], dim=1) for t in tensors]
    return torch.cat(padded)


def merge(parts: list[tuple[dict[str, Any], torch.Tensor]], groups: int, group: int, pad_id: int
          ) -> tuple[dict[str, Any], int]:
    """`groups` groups from `parts` (TRL batches with their `informative` flags): informative ones first, in order,
    then dropped ones; returns the batch and how many zero-spread groups it still holds."""
    picks = [(p, g) for p, (_, keep) in enumerate(parts) for g in range(len(keep)) if keep[g]]
    picks += [(p, g) for p, (_, keep) in enumerate(parts) for g in range(len(keep)) if not keep[g]]
    picks = picks[:groups]
    rows = {p: [g * group + k for q, g in picks if q == p for k in range(group)] for p in range(len(parts))}
    used = [p for p in range(len(parts)) if rows[p]]
    out: dict[str, Any] = {}
    for key, first in parts[0][0].items():
        if key == "num_items_in_batch":
            continue
        if not isinstance(first, torch.Tensor):
            raise NotImplementedError(f"grpo.dynamic_sampling: TRL batch field {key!r} is not supported (images?)")
        value = pad_id if key in ("prompt_ids", "completion_ids") else 1 if key == "tool_mask" else 0
        out[key] = _pad_cat([parts[p][0][key][rows[p]] for p in used], key in LEFT, value)
    mask = out["completion_mask"] * out["tool_mask"] if "tool_mask" in out else out["completion_mask"]
    out["num_items_in_batch"] = mask.sum()  # TRL's normaliser (one process: nothing to gather)
    return out, sum(not parts[p][1][g] for p, g in picks)


class DynamicSamplingTrainer(SharedPrefixGRPOTrainer):
    """GRPOTrainer that drops zero-spread groups and refills the batch (the module docstring); `max_rounds` 0: TRL's
    own behaviour, unchanged."""

    def __init__(self, *args: Any, max_rounds: int = 0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.max_rounds = max_rounds
        self._scores: torch.Tensor | None = None

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        self._scores = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        return self._scores

    def _refill(self, groups: int, round_: int) -> list[dict[str, Any]]:
        """`groups` train prompts for one more round, each repeated num_generations times (TRL's layout)."""
        pick = random.Random(f"{self.args.seed}-{self.state.global_step}-{round_}")
        n = len(self.train_dataset)
        index = pick.sample(range(n), groups) if groups <= n else [pick.randrange(n) for _ in range(groups)]
        return [dict(self.train_dataset[i]) for i in index for _ in range(self.num_generations)]

    def _generate_and_score_completions(self, inputs):
        batch = super()._generate_and_score_completions(inputs)
        if not self.max_rounds or not self.model.training:
            return batch
        group, groups = self.num_generations, len(inputs) // self.num_generations
        parts = [(batch, informative(self._scores, self.reward_weights, group))]
        while len(parts) <= self.max_rounds and sum(int(k.sum()) for _, k in parts) < groups:
            more = super()._generate_and_score_completions(self._refill(groups, len(parts)))
            parts.append((more, informative(self._scores, self.reward_weights, group)))
        merged, zero = merge(parts, groups, group, self._tokenizer.pad_token_id)
        self._metrics["train"]["dynamic_sampling/rounds"].append(len(parts) - 1)
        self._metrics["train"]["dynamic_sampling/frac_zero_std_trained"].append(zero / groups)
        return merged
