"""The base model of a run, as params.yaml names it: `model.base` loaded on the auto-detected device, and for
builtin:tiny the tokenizer corpus (the train split rendered with the chat template) and its size (`model.tiny`).
Shared by the sft stage (where training starts) and evaluation (the `base` row).

    from thinkact.models.base import load_base
    model, tokenizer = load_base(params, train_examples)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers.utils.chat_template_utils import render_jinja_template

from thinkact.chat_format.template import CHAT_TEMPLATE, json_arguments, target_message
from thinkact.contract import Example
from thinkact.models.loading import TINY, load_model
from thinkact.models.params import TinySize
from thinkact.project import RunParams


def tiny_corpus(examples: Sequence[Example]) -> list[str]:
    """The texts builtin:tiny's tokenizer is trained on: every train example rendered with its reasoning.
    Deterministic in the data, so SFT and evaluation build (and share) the same cached base model."""
    convs = [json_arguments([*ex.messages, target_message(ex.target.to_dict(), ex.reasoning)]) for ex in examples]
    texts = []
    for ex, conv in zip(examples, convs):
        rendered, _ = render_jinja_template([conv], tools=ex.tools or None, chat_template=CHAT_TEMPLATE)
        texts.append(rendered[0])
    return texts


def tiny_size(params: RunParams) -> Any:
    """params.model.tiny as a checked thinkact.models.tiny.TinySize when the base is builtin:tiny, else None."""
    if params.model.base != TINY:
        return None
    return TinySize.of(params.model.tiny)  # checked when params loaded; ConfigError names the field


def load_base(params: RunParams, train: Sequence[Example]) -> tuple[Any, Any]:
    """(model, tokenizer) of params.model.base on the auto-detected device."""
    size = tiny_size(params)
    corpus = tiny_corpus(train) if size is not None else None
    return load_model(params.model.base, params.paths.models_cache, corpus=corpus, seed=params.model.seed,
                      tiny_size=size, prompt=params.prompt, cpu_dtype=params.model.cpu_dtype)


def set_cpu_threads(threads: int) -> None:
    """torch's intra-op threads on a CPU (`<stage>.cpu_threads`; 0 leaves torch's default); no effect with a GPU."""
    if threads and not torch.cuda.is_available():
        torch.set_num_threads(threads)
