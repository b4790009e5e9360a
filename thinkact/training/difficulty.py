"""Difficulty-aware GRPO (`grpo.difficulty`): before training, sample `grpo.trainer.num_generations` completions (or,
with `grpo.mode: episodes`, episodes) per candidate train prompt from the policy GRPO starts from, record each
prompt's pass rate, mean reward and reward spread, and train only on the prompts whose pass rate lies in
`grpo.difficulty.band`. A prompt every sample passes (or fails) gives a group of equal rewards: zero advantage, no
gradient — on the default recipe that is nearly every group after ~50 steps (issue #23).

Nothing here samples or scores on its own: the pre-pass runs through the GRPOTrainer that then trains — its
`_generate` (the same sampling settings and batch size, the same `rollout_func` for episodes) and its
`_calculate_rewards` (the same reward functions, so the same metrics the evaluation reports, with the same weights).
A completion passes when every reward of `pass_rewards` that applies to it (not None) is >= `pass_at`; its total
reward and the group's spread are TRL's (weighted `nansum`, `nanstd`, zero when `isclose` to 0).

    records, summary = select(trainer, rows, params.grpo, staged)   # rows in the band, the stage's summary
    trainer.train_dataset = Dataset.from_list(records_rows)         # what train_grpo does with them
"""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import set_seed
from trl.trainer.utils import nanstd

from thinkact import distributed
from thinkact.errors import ConfigError
from thinkact.io import atomic_write_text
from thinkact.progress import Progress
from thinkact.training.params import GrpoParams

FILE = "difficulty.jsonl"  # <paths.outputs>/grpo/difficulty.jsonl: one record per candidate prompt (a DVC out)


def group_records(rewards_per_func: torch.Tensor, weights: torch.Tensor, ids: Sequence[Any], group: int,
                  pass_index: Sequence[int], pass_at: float) -> list[dict[str, Any]]:
    """One record per group of `group` consecutive completions (rows of `rewards_per_func`, NaN = not applicable):
    passes, pass rate, mean total reward, its spread (TRL's nanstd) and whether the spread is zero (TRL's test)."""
    totals = (rewards_per_func * weights.unsqueeze(0)).nansum(dim=1)
    totals[torch.isnan(rewards_per_func).all(dim=1)] = torch.nan  # unscorable: out of the mean, as in TRL
    records = []
    for g, prompt_id in enumerate(ids):
        rows = rewards_per_func[g * group:(g + 1) * group]
        passes = 0
        for row in rows[:, list(pass_index)]:
            applied = row[~torch.isnan(row)]
            passes += bool(applied.numel()) and bool((applied >= pass_at).all())
        total = totals[g * group:(g + 1) * group]
        spread = nanstd(total).item() if group > 1 else 0.0
        mean = torch.nanmean(total).item()
        records.append({"id": prompt_id, "pass_rate": round(passes / group, 4), "passes": passes, "samples": group,
                        "mean_reward": None if mean != mean else round(mean, 4),
                        "spread": None if spread != spread else round(spread, 4),
                        "zero_spread": bool(spread != spread or abs(spread) <= 1e-8)})
    return records


def probe(trainer: Any, rows: Sequence[dict[str, Any]], pass_index: Sequence[int], pass_at: float) -> list[dict]:
    """The pre-pass through `trainer` (see the module docstring): one record per row, in order. With several
    processes every one samples the same batches (TRL gathers across them) and the main one's records are used."""
    group = trainer.num_generations
    per_batch = max(1, trainer.args.per_device_train_batch_size * trainer.args.steps_per_generation // group)
    weights = trainer.reward_weights.to(trainer.accelerator.device)
    index = trainer.accelerator.process_index
    trainer.model.train()  # as in a training step: TRL generates with the model in training mode
    bar = Progress("[grpo] difficulty pre-pass", total=len(rows), unit="prompts", enabled=distributed.is_main())
    records: list[dict[str, Any]] = []
    for start in range(0, len(rows), per_batch):
        chunk = [dict(r) for r in rows[start:start + per_batch] for _ in range(group)]
        prompts = [r["prompt"] for r in chunk]
        _, completion_ids, _, completions, _, extra, _, _ = trainer._generate(prompts)
        for i, row in enumerate(chunk):  # a rollout_func's columns (episode_result) reach the rewards, as in TRL
            row.update({k: (v[i] if isinstance(v, list) else v) for k, v in extra.items()})
        scores = trainer._calculate_rewards(chunk, prompts, completions, completion_ids)
        local = scores[index * len(chunk):(index + 1) * len(chunk)]  # TRL gathers every process's rows
        records += group_records(local.float(), weights, [r["id"] for r in rows[start:start + per_batch]], group,
                                 pass_index, pass_at)
        bar.update(len(chunk) // group)
    bar.close()
    trainer._metrics["train"].clear()  # the pre-pass's token counts and lengths are not step 1's
    if distributed.world_size() > 1:
        from accelerate.utils import broadcast_object_list
        records = broadcast_object_list([records])[0]
    return records


def in_band(records: Sequence[dict[str, Any]], band: Sequence[float]) -> list[dict[str, Any]]:
    """The records with `kept` set: pass rate (passes / samples, unrounded) in [lo, hi], both ends included."""
    lo, hi = band
    return [{**r, "kept": lo <= r["passes"] / r["samples"] <= hi} for r in records]


def check_band(band: Sequence[float], group: int) -> None:
    """With `group` samples a pass rate is k/group: a band that holds none of them would keep no prompt whatever the
    policy does, so it fails with the stage's other checks, before any model loads."""
    lo, hi = band
    if not any(lo <= k / group <= hi for k in range(group + 1)):
        rates = ", ".join(f"{k / group:.3g}" for k in range(group + 1))
        raise ConfigError("grpo.difficulty.band", f"{list(band)} holds none of the pass rates a group of "
                                                  f"{group} completions can have ({rates}); widen it")


def histogram(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Prompts per pass rate; with G samples a pass rate is k/G, so every possible value is a bin (0 included)."""
    group = max((r["samples"] for r in records), default=1)
    counts = {f"{k / group:.2f}": 0 for k in range(group + 1)}
    for r in records:
        counts[f"{r['passes'] / r['samples']:.2f}"] = counts.get(f"{r['passes'] / r['samples']:.2f}", 0) + 1
    return counts


def histogram_line(hist: dict[str, int]) -> str:
    return ", ".join(f"{rate}: {n}" for rate, n in hist.items())


def _staged(path: Path | None) -> list[dict[str, Any]] | None:
    if path is None or not path.is_file():
        return None
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def select(trainer: Any, rows: Sequence[dict[str, Any]], grpo: GrpoParams, staged: Path | None
           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """(the rows in the band, every record with `kept`, the summary for metrics.json and MLflow). The records of a
    killed run of the same params are reused from `staged` (its checkpoints folder), else sampled and staged there.
    A band that keeps no prompt is a ConfigError naming `grpo.difficulty.band`, with the histogram."""
    settings = grpo.difficulty
    begin = time.monotonic()
    records = _staged(staged)
    reused = records is not None and [r["id"] for r in records] == [r["id"] for r in rows]
    if not reused:
        names = list(grpo.rewards or ())
        records = probe(trainer, rows, [names.index(n) for n in grpo.pass_rewards()], settings.pass_at)
        if staged is not None and distributed.is_main():
            atomic_write_text(staged, "".join(json.dumps(r) + "\n" for r in records))
    set_seed(trainer.args.seed)  # training samples as it would without the pre-pass before it
    records = in_band(records, settings.band)
    hist = histogram(records)
    kept = [row for row, r in zip(rows, records) if r["kept"]]
    if not kept:
        raise ConfigError("grpo.difficulty.band", f"{list(settings.band)} keeps none of the {len(records)} prompts; "
                                                  f"their pass rates (rate: prompts): {histogram_line(hist)}")
    summary = {"band": list(settings.band), "pass_rewards": list(grpo.pass_rewards()), "candidates": len(records),
               "kept": len(kept), "seconds": round(time.monotonic() - begin, 1), "reused": reused,
               "zero_spread_share": round(sum(r["zero_spread"] for r in records) / len(records), 4),
               "pass_rates": hist}
    return kept, records, summary


def write(path: Path, records: Sequence[dict[str, Any]]) -> None:
    """difficulty.jsonl (empty when the pre-pass is off, so the DVC out always exists)."""
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
