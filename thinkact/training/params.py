"""The `sft:` and `grpo:` sections of params.yaml, with their rules: thinkact's own keys, the rewards (checked by
thinkact.rewards, which owns their names and options), and the rules thinkact adds to the TRL trainer and PEFT LoRA
mappings — only what TRL and PEFT do not refuse themselves (TRL takes `learning_rate: -1` or `max_steps: -5`).
Torch- and TRL-free, so params.yaml is checked before anything heavy loads; that every trainer key is a real
SFTConfig / GRPOConfig field, of TRL's type and one of its values, and TRL's own cross-field rules (a generation
batch of whole groups, ...), is checked by constructing TRL's config objects (thinkact.training.trl_config), which
the `check` stage does first.

    from thinkact.training.params import GrpoParams
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from thinkact.errors import ConfigError
from thinkact.rewards import check_selection
from thinkact.typed_yaml import Rule, check_rules, flag, is_number, is_whole, no_repeats, number, shown, text, whole


def _steps_or_share(value: Any) -> str | None:
    """transformers' warmup_steps: a whole number of steps, or a float in [0, 1): a share of the training steps."""
    if is_whole(value) and value >= 0 or is_number(value) and 0 <= value < 1:
        return None
    return f"must be a whole number of steps >= 0, or a share of the steps in [0, 1), not {shown(value)}"


def _texts(value: Any) -> str | None:
    """A string or a list of strings (`report_to`)."""
    if isinstance(value, str) and value.strip() or (
            isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)):
        return None
    return f"must be a non-empty string or a list of them, not {shown(value)}"


def _weights(value: Any) -> str | None:
    if isinstance(value, list) and all(is_number(w) for w in value):
        return None
    return f"must be a list of finite numbers, not {shown(value)}"


# Fields of both SFTConfig and GRPOConfig (transformers.TrainingArguments). max_steps >= 1: TRL's -1 ("use
# num_train_epochs") is refused because a negative count read as "train by epochs" is how `max_steps: -5` trained 36
# steps unnoticed (to train by epochs, leave max_steps out and set num_train_epochs). logging/save/eval steps are
# whole steps: thinkact's loss curve, progress lines and checkpoints count in steps.
TRAINER_RULES: dict[str, Rule] = {
    "max_steps": whole(1), "num_train_epochs": number(0, open_low=True),
    "per_device_train_batch_size": whole(1), "per_device_eval_batch_size": whole(1),
    "gradient_accumulation_steps": whole(1),
    "learning_rate": number(0),            # 0 is the no-update control of docs/experiments.md
    "weight_decay": number(0), "max_grad_norm": number(0),
    "adam_beta1": number(0, 1, open_high=True), "adam_beta2": number(0, 1, open_high=True),
    "adam_epsilon": number(0, open_low=True), "warmup_steps": _steps_or_share,
    "logging_steps": whole(1), "save_steps": whole(1), "eval_steps": whole(1, null=True),
    "save_total_limit": whole(1, null=True), "seed": whole(0), "data_seed": whole(0, null=True),
    "dataloader_num_workers": whole(0), "report_to": _texts,
}
SFT_RULES: dict[str, Rule] = {**TRAINER_RULES, "max_length": whole(1, null=True)}  # null: no truncation
# GRPOConfig fields whose values TRL checks only at the first training step, or never (a test holds each value
# against the field's help text in the installed TRL).
GRPO_CHOICES: dict[str, tuple[Any, ...]] = {
    "loss_type": ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo"),
    "scale_rewards": ("group", "batch", "none", True, False),
    "multi_objective_aggregation": ("sum_then_normalize", "normalize_then_sum"),
    "importance_sampling_level": ("token", "sequence"),
}
GRPO_RULES: dict[str, Rule] = {
    **TRAINER_RULES,
    "num_generations": whole(2),           # TRL's own check divides by it first (0, null: a crash, not a message)
    "num_generations_eval": whole(2, null=True), "temperature": number(0, open_low=True),
    "top_p": number(0, 1, open_low=True), "top_k": whole(0), "min_p": number(0, 1, null=True),
    "repetition_penalty": number(0, open_low=True), "max_completion_length": whole(1),
    "beta": number(0), "epsilon": number(0), "epsilon_high": number(0, null=True),
    "delta": number(0, open_low=True, null=True), "num_iterations": whole(1),
    "steps_per_generation": whole(1, null=True), "generation_batch_size": whole(1, null=True),
    "top_entropy_quantile": number(0, 1), "use_vllm": flag(), "reward_weights": _weights,
    **{key: text(choices) for key, choices in GRPO_CHOICES.items()},
}
LORA_RULES: dict[str, Rule] = {  # peft.LoraConfig's numeric fields; its field names: PEFT, when the stage builds it
    "r": whole(1), "lora_alpha": number(0, open_low=True), "lora_dropout": number(0, 1, open_high=True)}
GRPO_MODES = ("turns", "episodes")
_RATE = number(0, 1)  # a pass rate


@dataclass(frozen=True)
class DifficultyParams:
    """`grpo.difficulty`: the pre-pass (thinkact.training.difficulty) samples `trainer.num_generations` completions
    per candidate train prompt from the policy GRPO starts from and keeps the prompts whose pass rate lies in `band`
    (both ends included). A completion passes when every one of `pass_rewards` that applies to it (not None) is >=
    `pass_at`; `pass_rewards` null: the rewards of the largest weight in `grpo.trainer.reward_weights` (the task
    rewards: tool_call and answer by default; all rewards without weights)."""

    band: tuple[float, ...] = ()
    pass_rewards: Optional[tuple[str, ...]] = None
    pass_at: float = 1.0

    def __post_init__(self):
        band = self.band
        if len(band) != 2 or any(_RATE(v) for v in band) or band[0] > band[1]:
            raise ConfigError("grpo.difficulty.band", "must be [lo, hi], pass rates with 0 <= lo <= hi <= 1, not "
                                                      f"{shown(list(band))}")
        if self.pass_rewards is not None and not self.pass_rewards:
            raise ConfigError("grpo.difficulty.pass_rewards", "list at least one reward, or null for the rewards of "
                                                              "the largest weight")


@dataclass(frozen=True)
class DynamicSamplingParams:
    """`grpo.dynamic_sampling` (DAPO's dynamic sampling, thinkact.training.dynamic_sampling): groups whose rewards are
    all equal are dropped from a step's batch and refilled from up to `max_rounds` more generation rounds of other
    train prompts; what is still missing is filled with the dropped groups (no gradient, the batch keeps its size)."""

    max_rounds: int = 2

    def __post_init__(self):
        if self.max_rounds < 1:
            raise ConfigError("grpo.dynamic_sampling.max_rounds", f"must be a whole number >= 1, not "
                                                                  f"{shown(self.max_rounds)}")
GRPO_INITS = ("sft", "base")  # and sft@<step>: the model the sft stage kept at that step (sft.keep_steps)
_INIT_STEP = re.compile(r"sft@([1-9][0-9]*)")


def init_step(init: str) -> int | None:
    """The SFT step `grpo.init` names (`sft@<step>`), or None (`sft`, `base`)."""
    found = _INIT_STEP.fullmatch(init)
    return int(found.group(1)) if found else None


def _check_keep_steps(steps: tuple[int, ...], trainer: dict[str, Any]) -> None:
    """`sft.keep_steps`: steps >= 1, each once, none past sft.trainer.max_steps (which must be set: a run by epochs
    has no step count to check them against)."""
    for i, step in enumerate(steps):
        if step < 1:
            raise ConfigError(f"sft.keep_steps[{i}]", f"must be a whole number >= 1, not {shown(step)}")
    no_repeats("sft.keep_steps", steps)
    max_steps = trainer.get("max_steps")
    if steps and max_steps is None:
        raise ConfigError("sft.keep_steps", "names steps, so set sft.trainer.max_steps (a run by epochs has no step "
                                            "count to check them against)")
    for i, step in enumerate(steps):
        if step > max_steps:
            raise ConfigError(f"sft.keep_steps[{i}]", f"step {step} is past sft.trainer.max_steps ({max_steps}): "
                                                      "the run never reaches it")


def check_start(sft: "SftParams", grpo: "GrpoParams") -> None:
    """`grpo.init: sft@<step>` names a step the sft stage keeps (sft.keep_steps); called by thinkact.config, which
    holds both sections, so the `check` stage refuses any other step before a model loads."""
    step = init_step(grpo.init)
    if step is None or step in sft.keep_steps:
        return
    max_steps = sft.trainer.get("max_steps")
    past = is_whole(max_steps) and step > max_steps
    fix = f"it is past sft.trainer.max_steps ({max_steps}); start" if past else f"add {step} to it, or start"
    kept = "".join(f", sft@{s}" for s in sft.keep_steps)
    raise ConfigError("grpo.init", f"{grpo.init!r} names SFT step {step}, which sft.keep_steps "
                                   f"({list(sft.keep_steps)}) does not keep: {fix} from one of sft, base{kept}")


def _check_common(section: str, cpu_threads: int, max_examples: int, lora: Any, trainer: Any,
                  rules: dict[str, Rule]) -> None:
    if max_examples < 0:
        raise ConfigError(f"{section}.max_examples", "must be >= 0 (0: the whole train split)")
    if cpu_threads < 0:
        raise ConfigError(f"{section}.cpu_threads", "must be >= 0 (0: torch's default)")
    if lora is not None:
        check_rules(f"{section}.lora", lora, LORA_RULES, "peft.LoraConfig fields or null")
    check_rules(f"{section}.trainer", trainer, rules, "TRL config fields")


@dataclass(frozen=True)
class SftParams:
    """The `sft` stage. `trainer` passes straight into trl.SFTConfig, `lora` into peft.LoraConfig. `keep_steps`: the
    steps whose model the stage keeps whole beside the final one (outputs/sft/steps/<step>/), for `grpo.init:
    sft@<step>`."""

    with_reasoning: bool = False
    episode_cuts: bool = True    # also the gold train episodes, one example per assistant turn (tasks/sft.py)
    max_examples: int = 0
    cpu_threads: int = 0         # torch threads when training on a CPU; 0: torch's default (one per core)
    lora: Optional[dict[str, Any]] = None
    trainer: dict[str, Any] = field(default_factory=dict)
    keep_steps: tuple[int, ...] = ()  # steps kept as whole models (thinkact.training.checkpoints.KeepSteps)

    def __post_init__(self):
        _check_common("sft", self.cpu_threads, self.max_examples, self.lora, self.trainer, SFT_RULES)
        _check_keep_steps(self.keep_steps, self.trainer)


@dataclass(frozen=True)
class GrpoParams:
    """The `grpo` stage. `rewards` are registry names (thinkact.rewards; left out: the stage refuses to start),
    `reward_options` their options by name; `trainer` passes straight into trl.GRPOConfig (its `reward_weights`
    follow the order of `rewards`)."""

    mode: str = "turns"          # turns: one assistant turn per prompt; episodes: whole episodes with tools running
    rewards: Optional[tuple[str, ...]] = None
    reward_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    init: str = "sft"            # sft: the sft stage's model; sft@<step>: the one it kept at that step
                                 # (sft.keep_steps); base: model.base (RL without SFT)
    sample_every: int = 10       # steps between completion samples (JSONL artifact); 0: never
    max_examples: int = 0        # 0: the whole train split
    cpu_threads: int = 0         # torch threads when training on a CPU; 0: torch's default (one per core)
    lora: Optional[dict[str, Any]] = None
    trainer: dict[str, Any] = field(default_factory=dict)
    difficulty: Optional[DifficultyParams] = None   # null: train on every prompt (no pre-pass)
    dynamic_sampling: Optional[DynamicSamplingParams] = None  # null: every group of a step is trained on

    def __post_init__(self):
        if self.mode not in GRPO_MODES:
            raise ConfigError("grpo.mode", f"{self.mode!r} is not one of {', '.join(GRPO_MODES)}")
        if self.init not in GRPO_INITS and init_step(self.init) is None:
            raise ConfigError("grpo.init", f"{self.init!r} is not one of {', '.join(GRPO_INITS)} or sft@<step> (a "
                                           "step of sft.keep_steps, e.g. sft@500)")
        if self.sample_every < 0:
            raise ConfigError("grpo.sample_every", "must be >= 0 (0: no samples)")
        _check_common("grpo", self.cpu_threads, self.max_examples, self.lora, self.trainer, GRPO_RULES)
        if self.rewards is not None or self.reward_options:
            self.check_rewards()

    def check_rewards(self) -> None:
        """The rewards, their options and weights (thinkact.rewards.check_selection); the stage runs it too, so a
        params.yaml that leaves `rewards` out stops there."""
        check_selection(self.rewards or (), self.reward_options, episodes=self.mode == "episodes",
                        weights=self.trainer.get("reward_weights"))
        passing = self.difficulty.pass_rewards if self.difficulty else None
        for name in passing or ():
            if name not in self.rewards:
                raise ConfigError("grpo.difficulty.pass_rewards", f"{name!r} is not one of grpo.rewards "
                                                                  f"({', '.join(self.rewards)})")

    def pass_rewards(self) -> tuple[str, ...]:
        """The rewards that decide a pass in the difficulty pre-pass (DifficultyParams)."""
        rewards = tuple(self.rewards or ())
        if not rewards:
            return ()
        if self.difficulty and self.difficulty.pass_rewards:
            return self.difficulty.pass_rewards
        weights = self.trainer.get("reward_weights") or [1.0] * len(rewards)
        return tuple(n for n, w in zip(rewards, weights) if w == max(weights))
