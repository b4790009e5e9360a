"""The arms of the RL study (experiments/rl_study.py) and the params each one runs with.

An arm is a params overlay on the study's base params (the repo's params.yaml + the dev cut + the study's paths and
evaluation settings: `base_raw`) and the stage it trains. `sft` is trained once and evaluated with the base model;
every other arm is compared with it, paired on the same dev rows and episodes. The GRPO arms start from `sft`'s
model (their outputs folder links `<work>/sft/outputs/sft`); `sft_more` and `sft_more_ep` train SFT models of their
own (compute-matched to `grpo` and to `grpo_ep`). `sft_faults` trains nothing: it plays the sft model's dev episodes
in the faulty world (`episodes.faults`: FAULTS), the reference of the arms that train and play in that world.

    from rl_study_arms import ARMS, arm_overlay, base_raw
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

INIT = "sft@<init>"                # grpo.init placeholder: the kept SFT step (--init-step)
BAND = {"band": [0.25, 0.75]}      # the band of docs/experiments.md, "GRPO difficulty pre-pass"
DYNAMIC = {"max_rounds": 2}        # DynamicSamplingParams' default number of refill rounds
# The faulty world (params.yaml `episodes.faults`): a tenth of good calls get a retryable 503, a twentieth a 429, a
# twentieth a validation error naming a field; the same in GRPO's episodes and in evaluation.
FAULTS = {"episodes": {"faults": {"transient": 0.1, "rate_limit": 0.05, "validation": 0.05, "seed": 0}}}
# GRPO on whole episodes (grpo.mode: episodes): the episode rewards (success, with partial credit for the gold calls
# made, the facts stated and valid calls: item 4, docs/rewards.md), whole episodes up to 640 tokens, the learning rate
# of docs/experiments.md "GRPO on agent episodes" (1e-4: 1e-3 collapsed, 3e-4 drifted down over 240 steps), 120
# steps (4 episodes a step: about one pass over the 540 train episodes left after the dev cut).
EP_REWARDS = ["episode_success", "episode_call_recall", "episode_answer_facts", "episode_valid_calls"]
EPISODES = {"grpo": {"mode": "episodes", "rewards": EP_REWARDS, "reward_options": {},
                     "trainer": {"reward_weights": [1.0, 0.5, 0.5, 0.2], "max_completion_length": 640,
                                 "max_steps": 120, "learning_rate": 1.0e-4}}}

# The opened think block of issue #24 item 4: the generation prompt ends with `<think>\nThe user wants`.
THINK = {"open_think": True, "think_start": "The user wants"}

# More exploration for episode GRPO: sampling at temperature 1.0, 8 episodes a group (2 groups a step), lr 3e-4.
HOT = {"grpo": {"trainer": {"temperature": 1.0, "num_generations": 8, "learning_rate": 3.0e-4}}}


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """thinkact.profiles.merge: mappings merged key by key, lists and values replaced."""
    from thinkact.profiles import merge as merge_raw
    return merge_raw(base, over)


@dataclass(frozen=True)
class Arm:
    name: str
    trains: str                    # the stage the arm trains: sft, grpo, or none (it evaluates the sft model)
    why: str
    overlay: dict[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ("sft",)   # arms whose records this one needs first
    ref: str = "sft"               # the arm whose evaluation this one is paired with (its model: `sft`, or base)
    start: str = "sft"             # a GRPO arm: the SFT arm whose outputs/sft it links (the model grpo.init: sft is)
    match: str | None = None       # an SFT control: the GRPO arm whose training seconds its extra steps cost


ARMS = (
    Arm("sft", "sft", "the baseline every arm is paired with; trained once, its step checkpoints kept for sft@step",
        needs=()),
    Arm("grpo_lr0", "grpo", "GRPO with learning_rate 0: the same sampling and steps, no update - the noise control",
        {"grpo": {"trainer": {"learning_rate": 0.0}}}),
    Arm("grpo", "grpo", "the default recipe of params.yaml"),
    Arm("sft_more", "sft", "compute-matched control: SFT retrained with extra steps costing the grpo arm's "
        "training seconds", {"sft": {"keep_steps": []}}, needs=("sft", "grpo"), match="grpo"),
    Arm("grpo_band", "grpo", "grpo.difficulty band [0.25, 0.75]: train only on prompts with reward spread",
        {"grpo": {"difficulty": BAND}}),
    Arm("grpo_dynamic", "grpo", "grpo.dynamic_sampling: refill zero-spread groups from up to 2 more rounds",
        {"grpo": {"dynamic_sampling": DYNAMIC}}),
    Arm("grpo_init_step", "grpo", "GRPO from an earlier kept SFT step (grpo.init: sft@<init>): more left to learn",
        {"grpo": {"init": INIT}}),
    Arm("grpo_all", "grpo", "band + dynamic sampling + the earlier SFT step together",
        {"grpo": {"difficulty": BAND, "dynamic_sampling": DYNAMIC, "init": INIT}}),
    Arm("grpo_ep", "grpo", "GRPO on whole episodes, tools running (grpo.mode: episodes), episode rewards with "
        "partial credit", EPISODES),
    Arm("grpo_ep_success", "grpo", "as grpo_ep with the outcome reward alone (episode_success): what the partial "
        "credit of item 4 adds", merge(EPISODES, {"grpo": {"rewards": ["episode_success"],
                                                                  "trainer": {"reward_weights": [1.0]}}})),
    Arm("grpo_ep_band", "grpo", "grpo_ep on the train episodes whose pass rate is in [0.25, 0.75]",
        merge(EPISODES, {"grpo": {"difficulty": BAND}})),
    Arm("sft_faults", "none", "no training: the sft model plays the dev episodes in the faulty world (FAULTS) - "
        "what faults cost it, and the reference of the faulty-world arms", FAULTS),
    Arm("grpo_ep_faults", "grpo", "grpo_ep trained and evaluated in the faulty world, paired with sft_faults",
        merge(EPISODES, FAULTS), needs=("sft", "sft_faults"), ref="sft_faults"),
    Arm("grpo_ep_more", "grpo", "grpo_ep from sft_more's longer-trained SFT model, paired with it: does RL add to a "
        "stronger start?", EPISODES, needs=("sft", "sft_more"), ref="sft_more", start="sft_more"),
    Arm("grpo_ep_band_more", "grpo", "grpo_ep_band from sft_more's model, paired with it",
        merge(EPISODES, {"grpo": {"difficulty": BAND}}), needs=("sft", "sft_more"), ref="sft_more",
        start="sft_more"),
    Arm("grpo_ep_hot", "grpo", "grpo_ep exploring more: temperature 1.0, groups of 8, lr 3e-4 (the recipe of the "
        "issue's fourth probe) - the SFT policy is so peaked that groups of 4 at 0.7 rarely differ",
        merge(EPISODES, HOT)),
    Arm("grpo_ep_hot_more", "grpo", "grpo_ep_hot from sft_more's model, paired with it",
        merge(EPISODES, HOT), needs=("sft", "sft_more"), ref="sft_more", start="sft_more"),
    Arm("sft_4500", "sft", "SFT's learning curve on dev episodes: 4,500 steps (sft_more, 6,646, beat 3,000)",
        {"sft": {"keep_steps": [], "trainer": {"max_steps": 4500}}}),
    Arm("sft_9000", "sft", "SFT's learning curve on dev episodes: 9,000 steps - still rising past sft_more?",
        {"sft": {"keep_steps": [], "trainer": {"max_steps": 9000}}}),
    # Levers for a pretrained model's LoRA GRPO (issue #24: `--profile smollm2`), each from the sft arm's model.
    Arm("grpo_lr5e-5", "grpo", "GRPO at learning rate 5e-5 (TRL's 'LoRA without regret': LoRA GRPO near 1e-5 to "
        "1e-4; the smollm2 profile's 2e-4 moved the policy towards answering)",
        {"grpo": {"trainer": {"learning_rate": 5.0e-5}}}),
    Arm("grpo_lr2e-5", "grpo", "GRPO at learning rate 2e-5", {"grpo": {"trainer": {"learning_rate": 2.0e-5}}}),
    Arm("grpo_base", "grpo", "RL without SFT (grpo.init: base, the paper's and ToolRL's other arm), the same "
        "rewards and steps, paired with sft", {"grpo": {"init": "base"}}),
    Arm("grpo_think", "grpo", "GRPO with the think block opened (prompt.open_think, think_start 'The user wants'): "
        "every sample writes a thought, so format's think part and reasoning_consistency have something to shape; "
        "evaluated with the same opened prompt (its card), paired with sft's closed one", {"prompt": THINK}),
    Arm("grpo_think_lr0", "grpo", "grpo_think's control: learning rate 0 for one step (the weights stay sft's) with "
        "the opened prompt - what opening the think block does without any RL",
        {"prompt": THINK, "grpo": {"trainer": {"learning_rate": 0.0, "max_steps": 1}}}),
    Arm("sft_reasoning", "sft", "SFT on the gold reasoning (sft.with_reasoning: true): thinking seeded by behaviour "
        "cloning, the comparison for grpo_think", {"sft": {"keep_steps": [], "with_reasoning": True}}),
    Arm("sft_more_ep", "sft", "compute-matched control of grpo_ep: SFT retrained with extra steps costing its "
        "training seconds", {"sft": {"keep_steps": []}}, needs=("sft", "grpo_ep"), match="grpo_ep"),
)
BY_NAME = {arm.name: arm for arm in ARMS}

# --smoke: the quick profile's sizes (profiles/quick.yaml) on a few dev rows; every item and episode of the small
# dev cut evaluated. The band is widened to all pass rates: a barely trained model may leave no prompt in
# [0.25, 0.75] with groups of 2, and the smoke proves the plumbing, not the recipe.
SMOKE = {"dev": {"examples": 16, "episodes": 10}, "evaluate": {"max_examples": 0, "episodes": {"max_examples": 0}}}
SMOKE_BAND = {"band": [0.0, 1.0]}


def base_raw(root: Path, *, smoke: bool, dev_examples: int | None, dev_episodes: int | None, episode_k: int,
             init_step: int | None, profile: str | None = None) -> dict[str, Any]:
    """The study's base params (a raw mapping): params.yaml (+ profiles/<profile>.yaml; + profiles/quick.yaml and
    SMOKE with `smoke`), the dev cut, the repo's data and model cache, SFT keeping the init step, evaluation on the
    whole dev cut only (greedy episodes plus `episode_k` samples; no episodes when the cut holds none; never BFCL,
    a test set). paths.outputs is set per arm (`arm_raw`)."""
    from thinkact.profiles import read_overlay
    raw = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    if profile:
        raw = merge(raw, read_overlay(profile, root))
    if smoke:
        raw = merge(merge(raw, read_overlay("quick", root)), SMOKE)
    dev = {"examples": dev_examples if dev_examples is not None else raw["dev"]["examples"] if smoke else 240,
           "episodes": dev_episodes if dev_episodes is not None else raw["dev"]["episodes"] if smoke else 60}
    steps = int(raw["sft"]["trainer"]["max_steps"])
    init = init_step if init_step is not None else max(1, steps // 2)
    if not 1 <= init < steps:
        raise SystemExit(f"--init-step {init}: must be a step before sft.trainer.max_steps ({steps})")
    episodes = ["dev"] if dev["episodes"] else []
    return merge(raw, {"dev": dev, "paths": {"data": str(root / "data"), "models_cache": str(root / ".cache/models")},
                       "sft": {"keep_steps": [init]},
                       "evaluate": {"splits": ["dev"], "max_examples": 0, "bfcl": {"categories": []},
                                    "episodes": {"splits": episodes, "k": episode_k}}})


def init_step(raw: dict[str, Any]) -> int:
    return int(raw["sft"]["keep_steps"][0])


def matched_steps(sft: dict[str, Any], grpo: dict[str, Any]) -> dict[str, Any]:
    """sft_more's SFT length: the sft arm's steps plus as many steps as the grpo arm's training seconds buy at the
    sft arm's seconds per step (both from the stages' metrics.json `seconds`: training only, model loading and
    saving excluded, as both stages pay those once). Retrained from scratch with the longer schedule, so its extra
    cost over `sft` is the grpo arm's."""
    steps, seconds = sft["train"]["steps"], sft["train"]["seconds"]
    per_step = seconds / max(steps, 1)
    extra = max(1, round(grpo["train"]["seconds"] / per_step)) if per_step > 0 else steps
    return {"sft_steps": steps, "sft_seconds": seconds, "sft_seconds_per_step": round(per_step, 4),
            "grpo_seconds": grpo["train"]["seconds"], "extra_steps": extra, "max_steps": steps + extra}


def arm_overlay(arm: Arm, raw: dict[str, Any], records: dict[str, dict], smoke: bool) -> dict[str, Any]:
    """The arm's overlay, resolved: the init placeholder -> sft@<kept step>, sft_more's matched step count, the
    smoke's wide band and step count."""
    over = copy.deepcopy(arm.overlay)
    grpo = over.get("grpo", {})
    if grpo.get("init") == INIT:
        grpo["init"] = f"sft@{init_step(raw)}"
    if smoke and "difficulty" in grpo:
        grpo["difficulty"] = SMOKE_BAND
    if smoke:  # the quick profile's step counts, whatever the arm's recipe says
        grpo.get("trainer", {}).pop("max_steps", None)
        over.get("sft", {}).get("trainer", {}).pop("max_steps", None)
    if arm.match:
        match = matched_steps(records["sft"], records[arm.match])
        over = merge(over, {"sft": {"trainer": {"max_steps": match["max_steps"]}}})
    return over


def arm_raw(raw: dict[str, Any], over: dict[str, Any], outputs: Path, models: list[str]) -> dict[str, Any]:
    """The params an arm's stages read: base + overlay, its own outputs folder, only `models` evaluated."""
    return merge(merge(raw, over), {"paths": {"outputs": str(outputs)}, "evaluate": {"models": models}})
