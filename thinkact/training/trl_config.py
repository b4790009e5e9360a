"""params.yaml sections -> TRL configs (SFTConfig / GRPOConfig) and PEFT LoRA configs, checked field by field
before any model loads, with the device's defaults (bf16 on a GPU that supports it, use_cpu on a CPU).

    from thinkact.training.trl_config import trl_config, device_defaults, lora_config
    config = trl_config(SFTConfig, params.sft.trainer, "sft.trainer", output_dir=str(out))
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peft import LoraConfig

from thinkact.errors import ConfigError
from thinkact.models import resolve_device


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def trl_config(cls: type, fields: Mapping[str, Any], section: str, **fixed: Any) -> Any:
    """Build a TRL config (SFTConfig / GRPOConfig) from params; a bad field fails now, naming the key."""
    known = set(cls.__dataclass_fields__)
    for key in fields:
        if key not in known:
            close = sorted(k for k in known if key.split("_")[0] in k)[:5]
            hint = f"; similar: {', '.join(close)}" if close else ""
            raise ConfigError(f"{section}.{key}", f"not a {cls.__name__} field{hint}")
    for key, value in fields.items():  # a number written `1e-3` is a string to YAML and would crash mid-training
        default = cls.__dataclass_fields__[key].default
        if isinstance(value, str) and isinstance(default, (int, float)) and not isinstance(default, bool):
            hint = f" (YAML reads {value} as text: write it with a dot, e.g. 1.0e-3)" if _is_number(value) else ""
            raise ConfigError(f"{section}.{key}", f"must be a number, not the string {value!r}{hint}")
    clash = set(fields) & set(fixed)
    if clash:
        raise ConfigError(f"{section}.{sorted(clash)[0]}", "is set by thinkact (paths come from params.yaml `paths`)")
    try:
        return cls(**fields, **fixed)
    except (ValueError, TypeError) as e:
        raise ConfigError(section, str(e).splitlines()[0]) from None


def device_defaults(cls: type, fields: Mapping[str, Any]) -> dict[str, Any]:
    """bf16 on a GPU that supports it, fp32 on a CPU, unless params say otherwise."""
    device = resolve_device()
    out: dict[str, Any] = {}
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
