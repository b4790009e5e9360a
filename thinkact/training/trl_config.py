"""params.yaml sections -> TRL configs (SFTConfig / GRPOConfig) and PEFT LoRA configs, checked field by field
before any model loads, with the device's defaults (bf16 on a GPU that supports it, use_cpu on a CPU).

    from thinkact.training.trl_config import trl_config, device_defaults, lora_config
    config = trl_config(SFTConfig, params.sft.trainer, "sft.trainer", output_dir=str(out))
"""
from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping
from typing import Any

from peft import LoraConfig

from thinkact.distributed import world_size
from thinkact.errors import ConfigError
from thinkact.models.loading import resolve_device


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_SCALARS = (bool, int, float, str, type(None))
TRL_MAPS_ITSELF = {"scale_rewards"}  # declared str; TRL maps true / false to "group" / "none" itself


def _accepts(annotation: Any, value: Any) -> bool:
    """Whether `value` fits a TRL field's annotation: scalars by type, a list or dict by container, an enum by its
    class or a string (its values: `_enum_values`); a Literal or anything else is left to TRL's own checks."""
    if annotation is Any:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_accepts(a, value) for a in typing.get_args(annotation))
    if annotation in _SCALARS:
        if annotation is bool or isinstance(value, bool):
            return isinstance(value, bool) and annotation is bool
        if annotation is float:
            return isinstance(value, (int, float))
        return isinstance(value, annotation)
    origin = typing.get_origin(annotation) or annotation
    if origin in (list, dict, tuple):
        return isinstance(value, origin)
    if isinstance(origin, type):  # an enum (TRL takes its value as a string) or another class
        return isinstance(value, origin) or (issubclass(origin, enum.Enum) and isinstance(value, str))
    return True  # a Literal, a forward reference: TRL's own check


def check_fields(cls: type, fields: Mapping[str, Any], section: str) -> None:
    """Every key of `fields` a field of the TRL config `cls`, its value of the type TRL declares and, where TRL
    lists the allowed values (`choices`), one of them; ConfigError naming the key otherwise. Builds nothing."""
    known = cls.__dataclass_fields__
    hints = typing.get_type_hints(cls)
    for key, value in fields.items():
        if key not in known:
            close = sorted(k for k in known if str(key).split("_")[0] in k)[:5]
            hint = f"; similar: {', '.join(close)}" if close else ""
            raise ConfigError(f"{section}.{key}", f"not a {cls.__name__} field{hint}")
        default = known[key].default
        if isinstance(value, str) and isinstance(default, (int, float)) and not isinstance(default, bool):
            # a number written `1e-3` is a string to YAML and would crash mid-training
            hint = f" (YAML reads {value} as text: write it with a dot, e.g. 1.0e-3)" if _is_number(value) else ""
            raise ConfigError(f"{section}.{key}", f"must be a number, not the string {value!r}{hint}")
        if key not in TRL_MAPS_ITSELF and not _accepts(hints.get(key, Any), value):
            raise ConfigError(f"{section}.{key}", f"must be {_type_name(hints[key])} (TRL's type), not {value!r}")
        names = _enum_values(hints.get(key))
        if names and isinstance(value, str) and value not in names:  # e.g. lr_scheduler_type: SchedulerType | str
            raise ConfigError(f"{section}.{key}", f"{value!r} is not one of {', '.join(names)}")
        choices = known[key].metadata.get("choices")
        if choices is not None and value is not None and value not in list(choices):
            raise ConfigError(f"{section}.{key}", f"{value!r} is not one of {', '.join(map(str, choices))}")


def _enum_values(annotation: Any) -> list[str]:
    """The values of the string enums in a field's annotation (TRL converts the string to the enum)."""
    args = typing.get_args(annotation) or (annotation,)
    return [str(m.value) for a in args if isinstance(a, type) and issubclass(a, enum.Enum) for m in a]


def _type_name(annotation: Any) -> str:
    return str(annotation).replace("typing.", "").replace("<class '", "").replace("'>", "")


def trl_config(cls: type, fields: Mapping[str, Any], section: str, **fixed: Any) -> Any:
    """Build a TRL config (SFTConfig / GRPOConfig) from params; a bad field fails now, naming the key."""
    check_fields(cls, fields, section)
    clash = set(fields) & set(fixed)
    if clash:
        raise ConfigError(f"{section}.{sorted(clash)[0]}", "is set by thinkact (paths come from params.yaml `paths`)")
    try:
        return cls(**fields, **fixed)
    except (ValueError, TypeError, ArithmeticError) as e:  # TRL's own checks (a generation batch of whole groups, ...)
        problem = str(e).splitlines()[0] or type(e).__name__
        raise ConfigError(section, problem + _fields_involved(problem, fields)) from None


# What TRL derives the generation batch from when `generation_batch_size` is not set.
_GENERATION_BATCH = ("per_device_train_batch_size", "gradient_accumulation_steps", "steps_per_generation",
                     "generation_batch_size", "num_generations")


def _fields_involved(problem: str, fields: Mapping[str, Any]) -> str:
    """The fields set in params that TRL's message is about (named by it, or the generation batch's inputs)."""
    named = {k for k in fields if k in problem}
    if "generation_batch_size" in problem or "num_generations" in problem:
        named |= {k for k in _GENERATION_BATCH if k in fields}
    return f" (set here: {', '.join(f'{k}: {fields[k]!r}' for k in sorted(named))})" if named else ""


def device_defaults(cls: type, fields: Mapping[str, Any], timeout_s: int | None = None) -> dict[str, Any]:
    """bf16 on a GPU that supports it, fp32 on a CPU, unless params say otherwise; with several processes
    (thinkact.distributed) `ddp_timeout` = `timeout_s` (launch.timeout_s), so a lost process fails the stage."""
    device = resolve_device()
    out: dict[str, Any] = {}
    if timeout_s and world_size() > 1 and "ddp_timeout" not in fields and "ddp_timeout" in cls.__dataclass_fields__:
        out["ddp_timeout"] = int(timeout_s)
    if "bf16" not in fields and "bf16" in cls.__dataclass_fields__:
        out["bf16"] = device.bf16
    if device.device == "cpu" and "use_cpu" in cls.__dataclass_fields__ and "use_cpu" not in fields:
        out["use_cpu"] = True
    return out


def lora_config(lora: Mapping[str, Any] | None, section: str) -> Any:
    if not lora:
        return None
    try:
        return LoraConfig(task_type="CAUSAL_LM", **lora)
    except TypeError as e:
        raise ConfigError(f"{section}.lora", str(e).splitlines()[0]) from None
