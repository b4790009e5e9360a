"""Completions of a model on evaluation splits: the generation half of the evaluate stage.

Which model: `base` (params.model.base, as the sft stage starts from it), `sft` and `grpo` (the stages' saved
folders), or any spec `thinkact.models` loads (a local folder, a Hugging Face id in the local cache, a built-in)
and registry URIs `models:/NAME@ALIAS` / `models:/NAME/VERSION` (downloaded once by thinkact.tracking.model_registry).
Greedy decoding, batched and sorted by prompt length (thinkact.generation), on the auto-detected device (bf16 on
a GPU that has it); with `evaluate.use_vllm` on a CUDA machine vLLM generates instead.

    from thinkact.evaluation.predict import load_for_eval, predict_splits
    model, tokenizer = load_for_eval("sft", params)
    texts = predict_splits(model, tokenizer, {"test_id": examples}, params.evaluate)   # split -> completions
"""
from __future__ import annotations

import gc
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from thinkact import distributed
from thinkact.evaluation.params import EvaluateParams
from thinkact.contract import Example, read_jsonl
from thinkact.errors import ThinkactError
from thinkact.chat_format.template import assistant_opening
from thinkact.generation import generate_completions, prompt_text
from thinkact.models.base import load_base, set_cpu_threads
from thinkact.models.loading import load_model, load_tokenizer
from thinkact.models.loading import card_prompt
from thinkact.project import RunParams
from thinkact.tracking.model_registry import resolve_model

REGISTRY_PREFIX = "models:/"
STAGE_MODELS = ("sft", "grpo")  # pipeline models saved by their stage in <paths.outputs>/<stage>/model


def resolve_spec(spec: str, params: RunParams) -> str:
    """A pipeline name (sft, grpo) or registry URI turned into what thinkact.models loads; others unchanged."""
    if spec in STAGE_MODELS:
        return str(params.paths.stage_model(spec))
    if spec.startswith(REGISTRY_PREFIX):
        return str(resolve_model(spec, Path(params.paths.models_cache) / "registry"))
    return spec


def load_for_eval(spec: str, params: RunParams, train: Sequence[Example] | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) in eval mode. `base` is params.model.base (its tiny tokenizer is built from `train`)."""
    if spec == "base":
        if train is None:
            train = read_jsonl(Path(params.paths.data) / "train.jsonl")
        model, tokenizer = load_base(params, train)
        return model.eval(), tokenizer
    folder = resolve_spec(spec, params)
    # a model a stage trained keeps the prompt it was trained with (its card); any other model gets params' prompt
    prompt = (card_prompt(folder) if Path(folder).is_dir() else None) or params.prompt
    return load_model(folder, params.paths.models_cache, prompt=prompt, cpu_dtype=params.model.cpu_dtype)


def predict_splits(model: Any, tokenizer: Any, examples: Mapping[str, Sequence[Example]], settings: EvaluateParams,
                   *, label: str = "model") -> dict[str, list[str]]:
    """Greedy completions per split, in each split's example order; progress lines per split (thinkact.progress)."""

    set_cpu_threads(settings.cpu_threads)
    out: dict[str, list[str]] = {}
    for split, exs in examples.items():
        out[split] = generate_completions(model, tokenizer, list(exs), max_new_tokens=settings.max_new_tokens,
                                          batch_size=settings.batch_size, desc=f"[evaluate] {label} / {split}")
    return out


def predict_vllm(folder: str, tokenizer: Any, examples: Mapping[str, Sequence[Example]],
                 settings: EvaluateParams) -> dict[str, list[str]]:
    """The same greedy completions with vLLM (CUDA only): all prompts of all splits in one call."""
    try:
        from vllm import LLM, SamplingParams  # optional: installed on CUDA machines only
    except ImportError:
        raise ThinkactError("evaluate.use_vllm is true but vllm is not installed: pip install -c constraints.txt "
                            "vllm on the CUDA machine, or set evaluate.use_vllm: false") from None
    names = list(examples)
    prompts = [prompt_text(tokenizer, ex) for s in names for ex in examples[s]]
    llm = LLM(model=folder, dtype="bfloat16", seed=0)
    outputs = llm.generate(prompts, SamplingParams(temperature=0.0, max_tokens=settings.max_new_tokens,
                                                   stop=["<|im_end|>"], skip_special_tokens=False))
    opened = assistant_opening(tokenizer)  # the turn from its start, as generate_completions returns it
    texts = [opened + o.outputs[0].text for o in outputs]
    del llm, outputs  # vLLM holds most of the GPU's memory; the episode evaluation loads the model next
    gc.collect()
    torch.cuda.empty_cache()
    out, start = {}, 0
    for s in names:
        out[s] = texts[start:start + len(examples[s])]
        start += len(examples[s])
    return out


def predict_model(spec: str, params: RunParams, examples: Mapping[str, Sequence[Example]],
                  train: Sequence[Example] | None = None) -> tuple[dict[str, list[str]], float]:
    """Load `spec`, generate on every split; returns (split -> completions, seconds spent generating)."""
    settings = params.evaluate
    set_cpu_threads(settings.cpu_threads)
    if settings.use_vllm:
        if not torch.cuda.is_available():
            raise ThinkactError("evaluate.use_vllm needs a CUDA GPU; set evaluate.use_vllm: false on this machine")
        if spec == "base" and params.model.base.startswith("builtin:"):
            raise ThinkactError("evaluate.use_vllm: the built-in models are for CPUs; set model.base to a Hugging "
                                "Face id or folder (e.g. Qwen/Qwen3-1.7B) or evaluate.use_vllm: false")
        folder = params.model.base if spec == "base" else resolve_spec(spec, params)
        prompt = (card_prompt(folder) if Path(folder).is_dir() else None) or params.prompt
        tokenizer = load_tokenizer(folder, params.paths.models_cache, prompt=prompt)
        t0 = time.perf_counter()
        return predict_vllm(folder, tokenizer, examples, settings), time.perf_counter() - t0
    model, tokenizer = load_for_eval(spec, params, train)
    t0 = time.perf_counter()
    # with several processes (launch.num_processes) each generates a slice of each split; all get all, in order
    texts = {split: distributed.shard_map(exs, lambda part, split=split: predict_splits(
        model, tokenizer, {split: part}, settings, label=spec)[split]) for split, exs in examples.items()}
    return texts, time.perf_counter() - t0
