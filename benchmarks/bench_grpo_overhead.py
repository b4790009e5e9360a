"""Overhead of the grpo stage over a plain GRPOTrainer script (target: time per step within 5 %).

After an untimed 2-step warm-up, both train from the SFT model (<paths.outputs>/sft/model) with the same data,
rewards and GRPOConfig fields (params.yaml `grpo`, max_steps overridden) and the same torch thread count, in one
process, interleaved stage, plain, plain, stage, ... so drifting load on a shared machine hits both alike:
  stage  tasks.grpo.run(params): params checks, model load, rows, MLflow run (a temporary sqlite store) with every
         metric per step, progress lines, completion samples, checkpoint bookkeeping, the model saved atomically
  plain  load the model and tokenizer, render the prompts with apply_chat_template, GRPOConfig(**trainer fields,
         use_cpu=True, bf16=False), GRPOTrainer(...).train(): no tracking, no samples, no saving (CPU only)
Time per step is the training loop (`trainer.train()`) divided by the steps; the whole stage call is reported too.
Same seed and same work: the two reward histories must be identical, which the benchmark checks.
With --episodes both train on agent episodes (`grpo.mode: episodes`, episode rewards): the plain script gives
GRPOTrainer the same rollout_func (thinkact.training.episode_rollouts.EpisodeRollouts: episodes played with the tools
running) on the same episode rows, so the ratio is what the stage adds around a multi-turn GRPO step.

    python benchmarks/bench_grpo_overhead.py [--steps 10] [--rounds 2]
    python benchmarks/bench_grpo_overhead.py --episodes --steps 6 --out benchmarks/results/grpo_overhead_episodes.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)


def plain_grpo(params, steps_dir: Path) -> tuple[float, list[float]]:
    """What a user would write without thinkact; returns (seconds per step, reward per step)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from thinkact.contract import read_jsonl
    from thinkact.rewards import build

    sft = params.paths.stage_dir("sft") / "model"
    model = AutoModelForCausalLM.from_pretrained(sft)
    tokenizer = AutoTokenizer.from_pretrained(sft)
    rollout = None
    if params.grpo.mode == "episodes":
        from thinkact.env.spec import episode_path, read_episodes
        from thinkact.training.episode_rollouts import EpisodeRollouts, episode_rows

        specs = read_episodes(episode_path(params.paths.data, "train"), params.grpo.max_examples)
        rows = episode_rows(specs, tokenizer)
        rollout = EpisodeRollouts(specs, rows, params.episodes)
    else:
        train = read_jsonl(Path(params.paths.data) / "train.jsonl")
        train = train[: params.grpo.max_examples] if params.grpo.max_examples else train
        rows = [{"prompt": tokenizer.apply_chat_template(ex.messages, tools=ex.tools or None, tokenize=False,
                                                         add_generation_prompt=True),
                 "target": json.dumps(ex.target.to_dict()), "turn_type": ex.turn_type or ""} for ex in train]
    # bf16=False: TRL's configs default to bf16=True even on a CPU, where autocast to bf16 made a step ~8x slower
    # here (58 s vs 7 s); the stage turns it off on a CPU (training/common.py device_defaults), so must this script.
    config = GRPOConfig(output_dir=str(steps_dir), use_cpu=True, bf16=False, **params.grpo.trainer)
    trainer = GRPOTrainer(model=model, reward_funcs=build(list(params.grpo.rewards), params.grpo.reward_options),
                          args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                          rollout_func=rollout)
    start = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - start
    return seconds / trainer.state.global_step, [e["reward"] for e in trainer.state.log_history if "reward" in e]


def stage_grpo(params) -> tuple[float, float, list[float]]:
    """The grpo stage as `python -m tasks.grpo` runs it; returns (seconds per step, whole call, reward per step)."""
    from tasks.grpo import run

    start = time.monotonic()
    metrics = run(params)
    whole = time.monotonic() - start
    history = json.loads((params.paths.stage_dir("grpo") / "rewards.json").read_text())
    return metrics["seconds_per_step"], whole, [h["reward"] for h in history]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10, help="GRPO steps per run (sample_every of the params applies)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of stage+plain (order alternates each round)")
    ap.add_argument("--episodes", action="store_true", help="GRPO on agent episodes (grpo.mode: episodes)")
    ap.add_argument("--out", type=Path, help="also write the result JSON here")
    args = ap.parse_args()

    import torch

    from thinkact.config import load_params
    from thinkact.models.base import set_cpu_threads

    params = load_params()
    sft = (ROOT / params.paths.stage_dir("sft") / "model").resolve()
    if not (sft / "config.json").is_file():
        sys.exit(f"no SFT model at {sft}: run `python -m tasks.sft` (or `dvc repro sft`) first")
    tmp = Path(tempfile.mkdtemp(prefix="bench-grpo-"))
    (tmp / "outputs" / "sft").mkdir(parents=True)
    (tmp / "outputs" / "sft" / "model").symlink_to(sft)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
    grpo = dataclasses.replace(params.grpo, trainer={**params.grpo.trainer, "max_steps": args.steps})
    if args.episodes:  # the episode settings of docs/pipeline.md (GRPO on agent episodes)
        grpo = dataclasses.replace(grpo, mode="episodes", reward_options={}, rewards=(
            "episode_success", "episode_call_recall", "episode_answer_facts", "episode_valid_calls"), trainer={
            **grpo.trainer, "reward_weights": [1.0, 0.5, 0.5, 0.2], "max_completion_length": 640})
    paths = dataclasses.replace(params.paths, data=str((ROOT / params.paths.data).resolve()),
                                outputs=str(tmp / "outputs"))
    params = dataclasses.replace(params, grpo=grpo, paths=paths)
    set_cpu_threads(params.grpo.cpu_threads)  # the same for both (the stage sets it again, to the same value)

    # Untimed warm-up: the first trainer in a process pays one-time costs (lazy imports, first kernels, allocator)
    # that would otherwise land on whichever kind runs first.
    plain_grpo(dataclasses.replace(params, grpo=dataclasses.replace(
        params.grpo, trainer={**params.grpo.trainer, "max_steps": 2})), tmp / "warmup")
    stage_steps, plain_steps, wholes, same = [], [], [], True
    for r in range(args.rounds):
        order = ("stage", "plain") if r % 2 == 0 else ("plain", "stage")
        for kind in order:
            if kind == "stage":
                per_step, whole, rewards_stage = stage_grpo(params)
                stage_steps.append(per_step)
                wholes.append(whole)
            else:
                per_step, rewards_plain = plain_grpo(params, tmp / f"plain-{r}")
                plain_steps.append(per_step)
            print(f"[bench] round {r + 1}/{args.rounds} {kind}: {per_step:.3f} s/step "
                  f"(torch threads {torch.get_num_threads()})", flush=True)
        same = same and [round(x, 4) for x in rewards_stage] == [round(x, 4) for x in rewards_plain]
    stage, plain = statistics.median(stage_steps), statistics.median(plain_steps)
    result = {
        "mode": params.grpo.mode, "steps": args.steps, "rounds": args.rounds, "cpu_threads": params.grpo.cpu_threads,
        "stage_seconds_per_step": [round(x, 3) for x in stage_steps],
        "plain_seconds_per_step": [round(x, 3) for x in plain_steps],
        "stage_median": round(stage, 3), "plain_median": round(plain, 3), "ratio": round(stage / plain, 4),
        "ratio_per_round": [round(a / b, 4) for a, b in zip(stage_steps, plain_steps)],
        "stage_whole_call_seconds": [round(x, 1) for x in wholes], "same_rewards": same,
        "target_ratio": 1.05, "meets_target": stage / plain <= 1.05}
    print(json.dumps(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
