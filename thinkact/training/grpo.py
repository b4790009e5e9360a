"""GRPO core: TRL's GRPOTrainer from the SFT model (or one it kept at a step, or the base model: `grpo.init`), rewards
from the registry, weights from params.

Rows: `prompt` is the conversation up to the target turn rendered as text by the model's chat template with the
example's tools and the generation prompt, i.e. exactly `thinkact.generation.prompt_text` (what SFT trains on and
evaluation generates from). It is rendered here, not by TRL: TRL 1.16 renders a conversational prompt with the
trainer's own `tools=` callables only, never with a dataset's `tools` column, so the tools would vanish from the
prompt. Text prompts also make TRL hand rewards the raw decoded completion (`batch_decode(skip_special_tokens=True)`
keeps `<think>` and `<tool_call>`, which are added but not special tokens), never a `parse_response` message whose
tool calls were moved out of its `content`. `target` (JSON string) and `turn_type` are the reward columns.

Params are checked before anything loads (`check_params`); a killed run resumes from its last checkpoint; the model
is written atomically; every `sample_every` steps the latest completions and their rewards go to a JSONL artifact,
staged beside the checkpoints (a resumed run keeps the earlier ones) and moved into `samples/` with the model, so
`samples/` (a DVC out, like `model/`) always belongs to the model beside it.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import PrinterCallback
from trl import GRPOConfig

from thinkact.env.spec import EpisodeSpec
from thinkact import distributed
from thinkact.chat_format.template import PROMPT_KEY
from thinkact.contract import Example, read_jsonl
from thinkact.data.dev import kept_episodes, kept_rows
from thinkact.errors import ConfigError, ThinkactError
from thinkact.generation import prompt_text
from thinkact.io import atomic_dir, atomic_write_json
from thinkact.models.base import load_base, set_cpu_threads
from thinkact.models.loading import load_model, resolve_device
from thinkact.project import RunParams
from thinkact.rewards import build
from thinkact.training import difficulty
from thinkact.training.callbacks import CompletionSamples, TrackingCallback
from thinkact.training.checkpoints import CARD, STEPS, fingerprint, resume_point, save_final
from thinkact.training.dynamic_sampling import DynamicSamplingTrainer
from thinkact.training.shared_prefix import SharedPrefixGRPOTrainer
from thinkact.training.episode_rollouts import EpisodeRollouts, episode_rows
from thinkact.training.params import init_step
from thinkact.training.trl_config import device_defaults, lora_config, trl_config

STAGE = "grpo"
SECTION = "grpo.trainer"
SAMPLES = "samples"  # <out>/samples: completions with their rewards every grpo.sample_every steps (a DVC out)
EDGE_SHARE = 0.1  # reward_first / reward_last: mean total reward over the first / last 10 % of steps
ZERO_SPREAD = "frac_reward_zero_std"  # TRL's share of a step's groups whose rewards are all equal (no gradient)
ENTROPY = "entropy"  # TRL's mean token entropy of a step's completions (near 0: every sample the same)


def grpo_rows(examples: Sequence[Example], tokenizer: Any) -> list[dict[str, Any]]:
    """GRPO rows: the rendered prompt (see the module docstring) and the reward columns of the contract."""
    return [{"prompt": prompt_text(tokenizer, ex), "target": json.dumps(ex.target.to_dict(), ensure_ascii=False),
             "turn_type": ex.turn_type or "", "id": ex.id} for ex in examples]


def build_rewards(params: RunParams) -> list[Any]:
    """The selected rewards with their options, checked by their owner (thinkact.rewards.check_selection): a
    params.yaml that leaves `grpo.rewards` out stops here, before any model loads."""
    params.grpo.check_rewards()
    return build(list(params.grpo.rewards or ()), params.grpo.reward_options)


def grpo_config(params: RunParams, checkpoints: Path) -> Any:
    """trl.GRPOConfig from params.grpo.trainer plus what thinkact fixes; every field checked before any model loads."""
    fields = dict(params.grpo.trainer)
    if fields.get("use_vllm") and not _cuda():
        raise ConfigError(f"{SECTION}.use_vllm", "vLLM needs a CUDA GPU; set it to false on this machine")
    fields = {**device_defaults(GRPOConfig, fields, params.launch.timeout_s), **fields}
    return trl_config(GRPOConfig, fields, SECTION, output_dir=str(checkpoints), disable_tqdm=True)


def _cuda() -> bool:  # a seam: tests of the GPU recipe on a CPU say "CUDA" here
    return torch.cuda.is_available()


def check_params(params: RunParams, checkpoints: Path) -> tuple[Any, Any, list[Any]]:
    """(GRPOConfig, LoraConfig or None, rewards) from params; any bad value raises ConfigError before work starts."""
    rewards = build_rewards(params)
    if params.grpo.dynamic_sampling and params.launch.num_processes > 1:  # thinkact.training.dynamic_sampling
        raise ConfigError("grpo.dynamic_sampling", f"needs one process (launch.num_processes: 1, not "
                                                   f"{params.launch.num_processes}): a group can straddle two")
    config = grpo_config(params, checkpoints)
    if params.grpo.difficulty:
        difficulty.check_band(params.grpo.difficulty.band, config.num_generations)
    if params.grpo.dynamic_sampling and config.multi_objective_aggregation != "sum_then_normalize":
        raise ConfigError("grpo.dynamic_sampling", "drops groups by their total reward's spread, so it needs "
                                                   "grpo.trainer.multi_objective_aggregation: sum_then_normalize")
    return config, lora_config(params.grpo.lora, STAGE), rewards


@dataclass(frozen=True)
class GrpoResult:
    steps: int
    seconds: float
    seconds_per_step: float
    resumed_from: str | None
    examples: int
    reward_first: float | None   # mean total reward over the first 10 % of steps
    reward_last: float | None    # ... and over the last 10 %
    rewards_last: dict[str, float]
    zero_spread_first: float | None = None  # share of zero-spread groups (TRL's frac_reward_zero_std), first 10 %
    zero_spread_last: float | None = None   # ... and last 10 % of steps: near 1, GRPO has nothing left to learn
    entropy_first: float | None = None      # mean token entropy of the completions (TRL's `entropy`), first 10 %
    entropy_last: float | None = None       # ... and last 10 % of steps: near 0, the policy samples one answer
    difficulty: dict[str, Any] | None = None  # the grpo.difficulty pre-pass (thinkact.training.difficulty); None: off

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reward_history(log_history: Sequence[dict[str, Any]], names: Sequence[str]) -> list[dict[str, float]]:
    """One row per logged step: `step`, `reward` (weighted total) and each reward's mean under its own name."""
    rows = []
    for entry in log_history:
        if "reward" not in entry:
            continue
        row = {"step": entry["step"], "reward": entry["reward"]}
        row.update({n: entry[f"rewards/{n}/mean"] for n in names
                    if isinstance(entry.get(f"rewards/{n}/mean"), (int, float))
                    and math.isfinite(entry[f"rewards/{n}/mean"])})
        rows.append(row)
    return rows


def _diagnostics(log_history: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Why GRPO learns or not, over the first and last 10 % of steps: the share of zero-spread groups and the
    completions' mean token entropy (TRL's `frac_reward_zero_std` and `entropy`)."""
    out: dict[str, float | None] = {}
    for name, key in (("zero_spread", ZERO_SPREAD), ("entropy", ENTROPY)):
        rows = [{key: e[key]} for e in log_history if isinstance(e.get(key), (int, float))]
        out[f"{name}_first"] = _edge_mean(rows, key, last=False)
        out[f"{name}_last"] = _edge_mean(rows, key, last=True)
    return out


def _edge_mean(rows: Sequence[dict[str, float]], key: str, last: bool) -> float | None:
    values = [r[key] for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    if not values:
        return None
    k = max(1, round(len(values) * EDGE_SHARE))
    part = values[-k:] if last else values[:k]
    return round(sum(part) / len(part), 4)


def publish_samples(staged: Path, final: Path) -> None:
    """Move the staged sample files into `final` in one step: it holds the previous run's samples until then, never a
    mix (an empty folder when `sample_every` is 0, so the DVC out always exists)."""
    with atomic_dir(final) as tmp:
        for path in sorted(staged.glob("step-*.jsonl")) if staged.is_dir() else ():
            os.replace(path, tmp / path.name)


def start_folder(params: RunParams) -> Path | None:
    """The model folder GRPO starts from (`grpo.init`): the sft stage's model (`sft`), the one it kept at a step
    (`sft@<step>`: outputs/sft/steps/<step>), or None (`base`); ThinkactError, before anything loads, when the sft
    stage has not written it."""
    step = init_step(params.grpo.init)
    if step is None:
        return None if params.grpo.init == "base" else params.paths.stage_model("sft")
    folder = params.paths.stage_dir("sft") / STEPS / str(step)
    if not (folder / "config.json").is_file():
        raise ThinkactError(f"grpo.init: {params.grpo.init}: {folder} has no saved model; run the sft stage with "
                            f"{step} in sft.keep_steps first (dvc repro sft, or python -m tasks.sft)")
    return folder


def _start_model(params: RunParams, examples: list, episodes: bool) -> tuple[Any, Any, Path | None, str]:
    """(model, tokenizer, its folder, its card's text) GRPO starts from: the SFT model or one kept at a step
    (start_folder), or the base model (`grpo.init: base`: folder None, no card; builtin:tiny's tokenizer trained on
    the train file or the examples)."""
    start_dir = start_folder(params)
    if start_dir is None:
        corpus = read_jsonl(Path(params.paths.data) / "train.jsonl") if episodes else examples  # builtin:tiny's
        model, tokenizer = load_base(params, corpus)
        model.train()
        return model, tokenizer, None, ""
    # trained in params' model.cpu_dtype (what its card records), whatever the start model's card says
    model, tokenizer = load_model(str(start_dir), params.paths.models_cache, prompt=params.prompt,
                                  device=resolve_device(cpu_dtype=params.model.cpu_dtype))
    card = (start_dir / CARD).read_text() if (start_dir / CARD).is_file() else ""
    return model, tokenizer, start_dir, card


def _drop_samples_after(staged: Path, done: int) -> None:
    """Staged samples of steps after the last checkpoint (`done`; 0 for a new run) go: those steps are redone."""
    for path in staged.glob("step-*.jsonl") if staged.is_dir() and distributed.is_main() else ():
        step = path.stem[len("step-"):]
        if not step.isdigit() or int(step) > done:  # after the last checkpoint (or a new run): redone from there
            path.unlink()


def _trainer(params: RunParams, model: Any, tokenizer: Any, rows: list[dict[str, Any]], examples: list,
             config: Any, peft_config: Any, rewards: list[Any], callbacks: list[Any]) -> Any:
    """TRL's GRPOTrainer with shared-prefix generation (thinkact.training.shared_prefix), or with
    `grpo.dynamic_sampling` its subclass that drops zero-spread groups and refills."""
    extra = {"max_rounds": params.grpo.dynamic_sampling.max_rounds} if params.grpo.dynamic_sampling else {}
    kind = DynamicSamplingTrainer if extra else SharedPrefixGRPOTrainer
    rollout = EpisodeRollouts(examples, rows, params.episodes) if params.grpo.mode == "episodes" else None
    trainer = kind(model=model, reward_funcs=rewards, args=config, train_dataset=Dataset.from_list(rows),
                   processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks, rollout_func=rollout,
                   **extra)
    trainer.remove_callback(PrinterCallback)  # TrackingCallback prints one line per logging step instead
    return trainer


def _difficulty(trainer: Any, rows: list[dict[str, Any]], params: RunParams, staged: Path, run: Any
                ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """With `grpo.difficulty`: the pre-pass (thinkact.training.difficulty) and the trainer's data cut to the band;
    returns the records (difficulty.jsonl; none when off) and the summary (metrics.json's `difficulty`)."""
    if params.grpo.difficulty is None:
        return [], None
    kept, records, summary = difficulty.select(trainer, rows, params.grpo, staged)
    trainer.train_dataset = Dataset.from_list(kept)
    print(f"[{STAGE}] difficulty: {summary['kept']} of {summary['candidates']} prompts in the band "
          f"{summary['band']} ({summary['seconds']} s); pass rates (rate: prompts): "
          f"{difficulty.histogram_line(summary['pass_rates'])}", flush=True)
    run.log_metrics({"difficulty/candidates": summary["candidates"], "difficulty/kept": summary["kept"],
                     "difficulty/seconds": summary["seconds"], "difficulty/zero_spread_share":
                     summary["zero_spread_share"], **{f"difficulty/pass_rate_{rate}": n
                                                     for rate, n in summary["pass_rates"].items()}})
    return records, summary


def train_grpo(params: RunParams, train: Sequence[Example] | Sequence[EpisodeSpec], out_dir: Path, run: Any,
               data_md5: str | None = None) -> GrpoResult:
    """GRPO from the SFT model (`grpo.init: sft`), one it kept at a step (`sft@<step>`) or the base model (`base`) on
    `train` (per-turn examples, or episodes with `grpo.mode: episodes`) less the dev split (`dev.examples` /
    `dev.episodes`: thinkact.data.dev; the difficulty pre-pass sees only what is left); writes out_dir/model
    (atomically; its card names where it started), rewards.json, samples/ and difficulty.jsonl (the
    `grpo.difficulty` pre-pass's records; empty when it is off)."""
    checkpoints = out_dir / "checkpoints"
    config, peft_config, rewards = check_params(params, checkpoints)  # bad fields fail here, before the model loads
    episodes = params.grpo.mode == "episodes"
    pool = (kept_episodes if episodes else kept_rows)(params.dev, train)  # the dev split is never trained on
    examples = pool[: params.grpo.max_examples] if params.grpo.max_examples else pool
    set_cpu_threads(params.grpo.cpu_threads)
    model, tokenizer, start_dir, card = _start_model(params, examples, episodes)
    rows = episode_rows(examples, tokenizer) if episodes else grpo_rows(examples, tokenizer)
    key = fingerprint(STAGE, data_md5 or len(examples), card, params.model, params.grpo, params.prompt,
                      *((params.episodes,) if episodes else ()), *((params.dev,) if params.dev.on else ()))
    resume = resume_point(checkpoints, key)
    staged = checkpoints / SAMPLES  # samples are staged beside the checkpoints (so a resumed run keeps them) ...
    done = int(Path(resume).name.rsplit("-", 1)[-1]) if resume else 0
    _drop_samples_after(staged, done)
    names = [r.name for r in rewards]
    tracker = TrackingCallback(run, STAGE, show=("reward", ZERO_SPREAD, *(f"rewards/{n}/mean" for n in names), "kl"))
    samples = CompletionSamples(run, staged, params.grpo.sample_every, list(config.reward_weights or []),
                                {r["prompt"]: {"id": r["id"], "target": r.get("target", r.get("episode"))}
                                 for r in rows})
    trainer = _trainer(params, model, tokenizer, rows, examples, config, peft_config, rewards, [tracker, samples])
    samples.trainer = trainer
    records, chosen = _difficulty(trainer, rows, params, checkpoints / difficulty.FILE, run)
    begin = time.monotonic()
    trainer.train(resume_from_checkpoint=resume)
    seconds = time.monotonic() - begin
    history = reward_history(trainer.state.log_history, names)  # restored from the checkpoint on resume
    steps = trainer.state.global_step
    ran = steps - done  # steps this process trained
    result = GrpoResult(steps=steps, seconds=round(seconds, 1), seconds_per_step=round(seconds / max(ran, 1), 3),
                        resumed_from=resume, examples=len(examples),
                        reward_first=_edge_mean(history, "reward", last=False),
                        reward_last=_edge_mean(history, "reward", last=True),
                        rewards_last={n: v for n in names if (v := _edge_mean(history, n, last=True)) is not None},
                        **_diagnostics(trainer.state.log_history), difficulty=chosen)
    save_final(trainer, tokenizer, out_dir / "model", {
        "stage": STAGE, "mode": params.grpo.mode, "base": params.model.base, "init": params.grpo.init,
        "start": str(start_dir) if start_dir else params.model.base,
        "start_steps": json.loads(card).get("steps") if card else None,  # the SFT steps of the model it started from
        "train_md5": data_md5,
        "rewards": ", ".join(names), "steps": steps, "reward_first": result.reward_first,
        "reward_last": result.reward_last, "lora": bool(params.grpo.lora),
        "params": {"model": asdict(params.model), "grpo": asdict(params.grpo)}, PROMPT_KEY: asdict(params.prompt)})
    if distributed.is_main():  # with several processes: one writer (save_final has waited for it)
        atomic_write_json(out_dir / "rewards.json", history)
        difficulty.write(out_dir / difficulty.FILE, records)
        publish_samples(staged, out_dir / SAMPLES)  # ... and replace out_dir/samples (a DVC out) only with the model
        shutil.rmtree(checkpoints, ignore_errors=True)  # only a crash needs them
    return result
