"""What SFT and GRPO share: the base model, TRL config from params, checkpoints that survive a crash,
and the final model written atomically with a small model card."""
from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from thinkact.config import Params
from thinkact.contract import Example
from thinkact.errors import ConfigError
from thinkact.io import atomic_dir, atomic_write_json, atomic_write_text

FINGERPRINT = "thinkact-run.json"  # in a checkpoints folder: which run its checkpoints belong to


def tiny_corpus(examples: Sequence[Example]) -> list[str]:
    """The texts builtin:tiny's tokenizer is trained on: every train example rendered with its reasoning.
    Deterministic in the data, so SFT and evaluation build (and share) the same cached base model."""
    from transformers.utils.chat_template_utils import render_jinja_template

    from thinkact.chat_template import CHAT_TEMPLATE, json_arguments, target_message

    convs = [json_arguments([*ex.messages, target_message(ex.target.to_dict(), ex.reasoning)]) for ex in examples]
    texts = []
    for ex, conv in zip(examples, convs):
        rendered, _ = render_jinja_template([conv], tools=ex.tools or None, chat_template=CHAT_TEMPLATE)
        texts.append(rendered[0])
    return texts


def tiny_size(params: Params) -> Any:
    """params.model.tiny as a checked thinkact.tiny.TinySize when the base is builtin:tiny, else None."""
    from thinkact.models import TINY
    from thinkact.tiny import TinySize

    if params.model.base != TINY:
        return None
    try:
        return TinySize.of(params.model.tiny)
    except (TypeError, ValueError) as e:
        raise ConfigError("model.tiny", f"{e}; known: {', '.join(TinySize.__dataclass_fields__)}") from None


def load_base(params: Params, train: Sequence[Example]) -> tuple[Any, Any]:
    """(model, tokenizer) of params.model.base on the auto-detected device."""
    from thinkact.models import load_model

    size = tiny_size(params)
    corpus = tiny_corpus(train) if size is not None else None
    return load_model(params.model.base, params.paths.models_cache, corpus=corpus, seed=params.model.seed,
                      tiny_size=size)


def set_cpu_threads(threads: int) -> None:
    """torch's intra-op threads on a CPU (`<stage>.cpu_threads`; 0 leaves torch's default); no effect with a GPU."""
    import torch

    if threads and not torch.cuda.is_available():
        torch.set_num_threads(threads)


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
    from thinkact.models import resolve_device

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
    from peft import LoraConfig

    try:
        return LoraConfig(task_type="CAUSAL_LM", **lora)
    except TypeError as e:
        raise ConfigError(f"{section}.lora", str(e).splitlines()[0]) from None


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def last_complete_checkpoint(checkpoints: Path) -> str | None:
    """The newest checkpoint-N folder the Trainer finished writing (its trainer_state.json is written last); newer
    ones a kill interrupted mid-save are removed, so a resume never starts from half a checkpoint."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    found = []
    for path in checkpoints.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        step = path.name.rsplit("-", 1)[-1]
        if path.is_dir() and step.isdigit():
            found.append((int(step), path))
    for _, path in sorted(found, reverse=True):
        if (path / "trainer_state.json").is_file():
            return str(path)
        shutil.rmtree(path, ignore_errors=True)
    return None


def resume_point(checkpoints: Path, key: str) -> str | None:
    """The last complete checkpoint of the same run (same data, params and model), or None; stale ones are removed."""
    marker = checkpoints / FINGERPRINT
    if checkpoints.is_dir():
        same = marker.is_file() and json.loads(marker.read_text()).get("key") == key
        if same:
            last = last_complete_checkpoint(checkpoints)
            if last:
                return last
        else:
            shutil.rmtree(checkpoints)
    checkpoints.mkdir(parents=True, exist_ok=True)
    atomic_write_json(marker, {"key": key})
    return None


def save_final(trainer: Any, tokenizer: Any, out: Path, card: Mapping[str, Any]) -> None:
    """Write the trained model (LoRA merged), tokenizer with chat template and a model card to `out`,
    through a temporary folder, so `out` is either the previous model or the complete new one."""
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / "thinkact-card.json", dict(card))
        lines = [f"# {card.get('stage', 'model')} model", ""] + [f"- **{k}**: `{v}`" for k, v in card.items()
                                                                if not isinstance(v, Mapping)]
        atomic_write_text(tmp / "README.md", "\n".join(lines) + "\n")
