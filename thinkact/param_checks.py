"""Value rules of params.yaml beyond its types, for the keys that are not thinkact dataclass fields: the TRL trainer
mappings (`sft.trainer`, `grpo.trainer`), builtin:tiny's shape (`model.tiny`) and the schedule's cron expression.

Pure Python, no thinkact imports but errors: `thinkact.config.load_params` runs these before anything heavy loads,
and `thinkact.models.tiny.TinySize` runs the same tiny rules. Importing TRL takes seconds, so the trainer rules here
cover the well-known fields by name; that every key is a real SFTConfig / GRPOConfig field, and the type and allowed
values TRL declares for it, is checked by `thinkact.training.trl_config.trl_config` at the start of the `check`,
`sft` and `grpo` stages, before any model loads.

    from thinkact.param_checks import check_trainer
    check_trainer("grpo.trainer", {"num_generations": 4, "per_device_train_batch_size": 16})   # ConfigError or None
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from thinkact.errors import ConfigError

Rule = Callable[[Any], "str | None"]  # a value -> what is wrong with it, or None


def number_text(value: Any) -> bool:
    """A string YAML left as text that Python reads as a number ('1e-3')."""
    try:
        return isinstance(value, str) and math.isfinite(float(value))
    except ValueError:
        return False


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def yaml_hint(value: Any) -> str:
    """Why a number came out of YAML as a string, and how to write it."""
    if not number_text(value):
        return ""
    if re.fullmatch(r"[+-]?[0-9]+[eE][+-]?[0-9]+", value.strip()):  # YAML 1.1 reads 1e-3 (no dot) as a string
        return f" (YAML reads {value} as text: write it with a dot, e.g. 1.0e-3)"
    return " (it is quoted: write the number without quotes)"


def _not_a_number(value: Any, what: str) -> str:
    if isinstance(value, str) and number_text(value):
        return f"must be {what}, not the string {value!r}{yaml_hint(value)}"
    return f"must be {what}, not {shown(value)}"


def _choice(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)  # as YAML writes it


def is_whole(value: Any) -> bool:
    """An int that is not a bool (YAML's `true` is a Python bool, and bool is a subclass of int)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float that is not a bool (`.nan` and `.inf` are floats to YAML)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def whole(low: int, high: int | None = None, *, null: bool = False) -> Rule:
    """A whole number in [low, high]."""
    what = f"a whole number >= {low}" + (f" and <= {high}" if high is not None else "")

    def rule(value: Any) -> str | None:
        if value is None and null:
            return None
        if not is_whole(value) or value < low or (high is not None and value > high):
            return _not_a_number(value, what + (" (or null)" if null else ""))
        return None
    return rule


def number(low: float | None = None, high: float | None = None, *, open_low: bool = False, open_high: bool = False,
           null: bool = False) -> Rule:
    """A finite number in the interval [low, high]; `open_low` / `open_high` exclude the bound."""
    parts = []
    if low is not None:
        parts.append(f"{'>' if open_low else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if open_high else '<='} {high:g}")
    what = "a finite number" + (" " + " and ".join(parts) if parts else "") + (" (or null)" if null else "")

    def rule(value: Any) -> str | None:
        if value is None and null:
            return None
        if not is_number(value):
            return _not_a_number(value, what)
        if low is not None and (value <= low if open_low else value < low):
            return _not_a_number(value, what)
        if high is not None and (value >= high if open_high else value > high):
            return _not_a_number(value, what)
        return None
    return rule


def flag(*, null: bool = False) -> Rule:
    def rule(value: Any) -> str | None:
        if isinstance(value, bool) or (value is None and null):
            return None
        return f"must be true or false{' (or null)' if null else ''}, not {shown(value)}"
    return rule


def text(choices: tuple[Any, ...] = (), *, null: bool = False) -> Rule:
    """A non-empty string, one of `choices` when given (a non-string choice, such as True, is accepted as is)."""
    def rule(value: Any) -> str | None:
        if value is None and null:
            return None
        if choices:
            if value in choices and type(value) in {type(c) for c in choices if c == value}:
                return None
            return f"{shown(value)} is not one of {', '.join(map(_choice, choices))}"
        if not isinstance(value, str) or not value.strip():
            return f"must be a non-empty string, not {shown(value)}"
        return None
    return rule


def texts(value: Any) -> str | None:
    """A string or a list of strings (`report_to`)."""
    if isinstance(value, str) and value.strip() or (
            isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)):
        return None
    return f"must be a non-empty string or a list of them, not {shown(value)}"


def _ratio_or_steps(value: Any) -> str | None:
    """transformers' warmup_steps: a whole number of steps, or a float in [0, 1): a share of the training steps."""
    if is_whole(value) and value >= 0 or is_number(value) and 0 <= value < 1:
        return None
    return _not_a_number(value, "a whole number of steps >= 0, or a share of the steps in [0, 1)")


# -- TRL trainer mappings ----------------------------------------------------------------------------------------

# Fields of both SFTConfig and GRPOConfig (transformers.TrainingArguments). max_steps: >= 1; TRL's -1 ("use
# num_train_epochs") is refused because a negative or zero count read as "train by epochs" is how `max_steps: -5`
# trained 36 steps unnoticed: to train by epochs, leave max_steps out and set num_train_epochs. logging_steps,
# save_steps, eval_steps: whole steps >= 1 (transformers also reads a float < 1 as a share of the steps; thinkact's
# loss curve, progress lines and checkpoints count in steps).
TRAINER_RULES: dict[str, Rule] = {
    "max_steps": whole(1),
    "num_train_epochs": number(0, open_low=True),
    "per_device_train_batch_size": whole(1),
    "per_device_eval_batch_size": whole(1),
    "gradient_accumulation_steps": whole(1),
    "learning_rate": number(0),            # 0 is the no-update control of docs/experiments.md
    "weight_decay": number(0),
    "max_grad_norm": number(0),
    "adam_beta1": number(0, 1, open_high=True),
    "adam_beta2": number(0, 1, open_high=True),
    "adam_epsilon": number(0, open_low=True),
    "warmup_steps": _ratio_or_steps,
    "lr_scheduler_type": text(),           # its names: TRL's enum, checked when a stage builds the config
    "logging_steps": whole(1),
    "save_steps": whole(1),
    "eval_steps": whole(1, null=True),
    "save_total_limit": whole(1, null=True),
    "seed": whole(0),
    "data_seed": whole(0, null=True),
    "dataloader_num_workers": whole(0),
    "gradient_checkpointing": flag(),
    "bf16": flag(null=True),
    "fp16": flag(),
    "use_cpu": flag(),
    "report_to": texts,
    "train_sampling_strategy": text(("random", "sequential", "group_by_length", "batch_rebalance")),
}
SFT_RULES: dict[str, Rule] = {
    "max_length": whole(1, null=True),     # tokens per example; null: no truncation
    "packing": flag(),
    "assistant_only_loss": flag(),
}
# GRPOConfig fields TRL checks only at the first training step, or not at all (trl 1.16).
GRPO_CHOICES: dict[str, tuple[Any, ...]] = {
    "loss_type": ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo"),
    "scale_rewards": ("group", "batch", "none", True, False),
    "multi_objective_aggregation": ("sum_then_normalize", "normalize_then_sum"),
    "importance_sampling_level": ("token", "sequence"),
}
GRPO_RULES: dict[str, Rule] = {
    "num_generations": whole(2),           # GRPO's advantage compares completions of one prompt: at least 2
    "num_generations_eval": whole(2, null=True),
    "temperature": number(0, open_low=True),
    "top_p": number(0, 1, open_low=True),
    "top_k": whole(0),                      # 0: off
    "min_p": number(0, 1, null=True),
    "repetition_penalty": number(0, open_low=True),
    "max_completion_length": whole(1),
    "beta": number(0),                      # 0: no KL term
    "epsilon": number(0),
    "epsilon_high": number(0, null=True),
    "delta": number(0, open_low=True, null=True),
    "num_iterations": whole(1),
    "steps_per_generation": whole(1, null=True),
    "generation_batch_size": whole(1, null=True),
    "top_entropy_quantile": number(0, 1),
    "use_vllm": flag(),
    "mask_truncated_completions": flag(),
    **{key: text(choices) for key, choices in GRPO_CHOICES.items()},
}


def check_trainer(section: str, fields: Any) -> None:
    """ConfigError for the first bad well-known field of a TRL trainer mapping (`sft.trainer` or `grpo.trainer`),
    or a broken cross-field rule within it (see also `check_reward_weights`)."""
    if not isinstance(fields, Mapping):
        raise ConfigError(section, f"expected a mapping of TRL config fields, got {shown(fields)}")
    grpo = section.startswith("grpo")
    rules = {**TRAINER_RULES, **(GRPO_RULES if grpo else SFT_RULES)}
    for key, value in fields.items():
        if not isinstance(key, str):
            raise ConfigError(f"{section}.{key}", "a field name must be a string")
        rule = rules.get(key)
        problem = rule(value) if rule else None
        if problem:
            raise ConfigError(f"{section}.{key}", problem)
    if grpo:
        _check_grpo(section, fields)


def check_reward_weights(section: str, fields: Mapping[str, Any], n_rewards: int) -> None:
    """grpo.trainer.reward_weights: one finite number per reward of grpo.rewards (checked once the rewards are)."""
    weights = fields.get("reward_weights")
    if weights is not None and len(weights) != n_rewards:
        raise ConfigError(f"{section}.reward_weights", f"has {len(weights)} weight(s); needs one per reward in "
                                                       f"grpo.rewards ({n_rewards}), in the same order")


def _check_grpo(section: str, fields: Mapping[str, Any]) -> None:
    weights = fields.get("reward_weights")
    if weights is not None and (not isinstance(weights, list) or not all(is_number(w) for w in weights)):
        raise ConfigError(f"{section}.reward_weights", f"must be a list of finite numbers, not {shown(weights)}")
    if fields.get("generation_batch_size") is not None and fields.get("steps_per_generation") is not None:
        raise ConfigError(section, "set generation_batch_size or steps_per_generation, not both")
    # TRL's defaults (trl 1.16): per_device_train_batch_size 8, gradient_accumulation_steps 1, num_generations 8.
    batch = fields.get("per_device_train_batch_size", 8)
    generations = fields.get("num_generations", 8)
    if fields.get("generation_batch_size") is not None:
        completions, how = fields["generation_batch_size"], "generation_batch_size"
    else:
        steps = fields.get("steps_per_generation") or fields.get("gradient_accumulation_steps", 1)
        completions = batch * steps
        how = (f"per_device_train_batch_size {batch} x "
               + ("steps_per_generation" if fields.get("steps_per_generation") else "gradient_accumulation_steps")
               + f" {steps}")
    if completions % generations:
        raise ConfigError(section, f"a generation batch of {completions} completions ({how}) is not whole groups of "
                                   f"num_generations ({generations}): make it a multiple of num_generations")


LORA_RULES: dict[str, Rule] = {  # peft.LoraConfig's numeric fields; its field names: peft, when the stage builds it
    "r": whole(1),
    "lora_alpha": number(0, open_low=True),
    "lora_dropout": number(0, 1, open_high=True),
}


def check_lora(section: str, lora: Any) -> None:
    """ConfigError for a bad well-known field of a `lora` mapping (null: no LoRA)."""
    if lora is None:
        return
    if not isinstance(lora, Mapping):
        raise ConfigError(section, f"expected a mapping of peft.LoraConfig fields or null, got {shown(lora)}")
    for key, value in lora.items():
        rule = LORA_RULES.get(key)
        problem = rule(value) if rule else None
        if problem:
            raise ConfigError(f"{section}.{key}", problem)


# -- builtin:tiny (thinkact.models.tiny.TinySize) ------------------------------------------------------------------

# TinySize's fields and defaults, and the names of its pre-token recipes (tiny.PRETOKENS): the same as there (a test
# holds them equal); here so params are checked without importing torch.
TINY_DEFAULTS: dict[str, Any] = {
    "vocab_size": 4096, "hidden_size": 256, "intermediate_size": 768, "num_layers": 4, "num_heads": 4,
    "num_kv_heads": 2, "max_positions": 4096, "pretokens": "words", "warmup_steps": 0, "warmup_learning_rate": 1e-3}
TINY_PRETOKENS = ("words", "compact", "copy")
MIN_VOCAB = 512  # the 256 byte tokens and the 9 template tokens are always in; below this BPE has almost no merges
TINY_RULES: dict[str, Rule] = {
    "vocab_size": whole(MIN_VOCAB),
    "hidden_size": whole(1),
    "intermediate_size": whole(1),
    "num_layers": whole(1),
    "num_heads": whole(1),
    "num_kv_heads": whole(1),
    "max_positions": whole(1),
    "pretokens": text(TINY_PRETOKENS),
    "warmup_steps": whole(0),
    "warmup_learning_rate": number(0, open_low=True),
}


def tiny_problem(fields: Any) -> tuple[str, str] | None:
    """(field, what is wrong) for the first bad field of a builtin:tiny size mapping (missing fields take
    TinySize's defaults), or None when it is a valid shape."""
    if not isinstance(fields, Mapping):
        return "", f"expected a mapping of builtin:tiny fields, got {shown(fields)}"
    for key, value in fields.items():
        if key not in TINY_RULES:
            return str(key), f"unknown field; builtin:tiny takes: {', '.join(TINY_RULES)}"
        problem = TINY_RULES[key](value)
        if problem:
            return key, problem
    size = {**TINY_DEFAULTS, **fields}
    hidden, heads, kv = size["hidden_size"], size["num_heads"], size["num_kv_heads"]
    if hidden % heads:
        return "num_heads", f"{heads} heads must divide hidden_size ({hidden})"
    if (hidden // heads) % 2:
        return "num_heads", (f"hidden_size / num_heads = {hidden // heads} must be even (rotary position embeddings "
                             "rotate pairs of dimensions)")
    if heads % kv:
        return "num_kv_heads", f"{kv} key/value heads must divide num_heads ({heads})"
    return None


# -- cron (schedule.cron) ------------------------------------------------------------------------------------------

_CRON_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
                ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
                ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")))
CRON_NICKNAMES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_ITEM = re.compile(r"^(?:(\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?$")


def cron_problem(expr: Any) -> str | None:
    """What is wrong with a standard 5-field cron expression (minute hour day-of-month month day-of-week; `*`,
    numbers, month and weekday names, `a-b` ranges, `/step`, comma lists; or @daily and the other nicknames), or
    None. Prefect's scheduler reads the same; it also takes extensions (L, W, #, seconds) that this refuses."""
    if not isinstance(expr, str):
        return f"must be a cron expression string, not {shown(expr)}"
    if expr.strip().lower() in CRON_NICKNAMES:
        return None
    fields = expr.split()
    if len(fields) != 5:
        return (f"{expr!r} has {len(fields)} field(s); a cron expression has 5: minute hour day-of-month month "
                "day-of-week, e.g. \"0 3 * * *\" for 03:00 every day")
    for value, (name, low, high, names) in zip(fields, _CRON_FIELDS):
        for item in value.lower().split(","):
            m = _CRON_ITEM.match(item)
            if not m:
                return f"{expr!r}: the {name} field has {item!r}, not a number, range, step or *"
            _, first, last, step = m.groups()
            bounds = []
            for part in (first, last):
                if part is None:
                    continue
                n = names.index(part) + (1 if name == "month" else 0) if part in names else (
                    int(part) if part.isdigit() else None)
                if n is None or not low <= n <= high:
                    return f"{expr!r}: the {name} field has {part!r}; use {low}-{high}"
                bounds.append(n)
            if len(bounds) == 2 and bounds[0] > bounds[1]:
                return f"{expr!r}: the {name} field's range {item!r} runs backwards"
            if step is not None and not 1 <= int(step) <= high - low + 1:
                return f"{expr!r}: the {name} field's step /{step} is out of range"
    return None
