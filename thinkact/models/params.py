"""The `model:` section of params.yaml and builtin:tiny's shape, torch-free: params.yaml is checked with them before
anything heavy loads, and thinkact.models.tiny builds the model from the same `TinySize`.

    from thinkact.models.params import ModelParams, TinySize
    TinySize.of({"hidden_size": 128})      # ConfigError naming the field when a rule breaks
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from thinkact.errors import ConfigError
from thinkact.typed_yaml import build, check_rules, number, text, whole

PRETOKEN_RECIPES = ("words", "compact", "copy")  # thinkact.models.tiny.PRETOKENS has one regex for each
CPU_DTYPES = ("float32", "bfloat16")  # model.cpu_dtype: the weights' dtype on a CPU (a GPU takes bf16 where it can)
MIN_VOCAB = 512  # the 256 byte tokens and the 9 template tokens are always in; below this BPE has almost no merges


@dataclass(frozen=True)
class TinySize:
    """Shape of the tiny model; the defaults give ~4.3M parameters (embeddings tied)."""

    vocab_size: int = 4096  # tokenizer size including the 9 template tokens
    hidden_size: int = 256
    intermediate_size: int = 768
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    max_positions: int = 4096
    pretokens: str = "words"  # pre-tokenizer recipe, one of PRETOKEN_RECIPES
    warmup_steps: int = 0  # copy warm-up (`copy_warmup`): at most this many steps; 0: the weights stay random
    warmup_learning_rate: float = 1e-3

    RULES = {"vocab_size": whole(MIN_VOCAB), **{k: whole(1) for k in (
        "hidden_size", "intermediate_size", "num_layers", "num_heads", "num_kv_heads", "max_positions")},
        "pretokens": text(PRETOKEN_RECIPES), "warmup_steps": whole(0), "warmup_learning_rate": number(0, open_low=True)}

    def __post_init__(self):
        check_rules("model.tiny", dataclasses.asdict(self), self.RULES, "builtin:tiny fields")
        hidden, heads, kv = self.hidden_size, self.num_heads, self.num_kv_heads
        if hidden % heads:
            raise ConfigError("model.tiny.num_heads", f"{heads} heads must divide hidden_size ({hidden})")
        if (hidden // heads) % 2:
            raise ConfigError("model.tiny.num_heads", f"hidden_size / num_heads = {hidden // heads} must be even "
                                                      "(rotary position embeddings rotate pairs of dimensions)")
        if heads % kv:
            raise ConfigError("model.tiny.num_kv_heads", f"{kv} key/value heads must divide num_heads ({heads})")

    @classmethod
    def of(cls, value: Any) -> TinySize:
        """TinySize from None (defaults), a TinySize, or a mapping of its fields (e.g. from params.yaml)."""
        if value is None:
            return cls()
        return value if isinstance(value, cls) else build(cls, dict(value), "model.tiny")


@dataclass(frozen=True)
class ModelParams:
    """The base model: a built-in, a Hugging Face id in the local cache, or a local folder."""

    base: str = "builtin:tiny"
    seed: int = 0
    tiny: dict[str, Any] = field(default_factory=dict)  # TinySize fields; the ones left out take its defaults
    cpu_dtype: str = "float32"  # one of CPU_DTYPES; a trained model keeps its own (its card)

    def __post_init__(self):
        if not self.base.strip():
            raise ConfigError("model.base", "name a model: builtin:tiny, builtin:smollm2-135m, a Hugging Face id in "
                                            "the local cache or a folder with a saved model")
        if self.seed < 0:
            raise ConfigError("model.seed", "must be >= 0")
        if self.cpu_dtype not in CPU_DTYPES:
            raise ConfigError("model.cpu_dtype", f"must be one of {', '.join(CPU_DTYPES)}, not {self.cpu_dtype!r}")
        TinySize.of(self.tiny)  # its rules, with the key named from the root
