"""Batched generation of assistant turns for contract examples (evaluation, learning curves, chat).

Prompts are rendered with the model's chat template (`add_generation_prompt=True`), sorted by length so each
batch pads little, left-padded, and decoded without the prompt. Greedy by default.

    texts = generate_completions(model, tokenizer, examples, max_new_tokens=96, batch_size=16)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from thinkact.contract import Example
from thinkact.progress import Progress


def prompt_text(tokenizer: Any, example: Example) -> str:
    """The prompt exactly as training renders it: the conversation so far, the offered tools, generation prompt."""
    return tokenizer.apply_chat_template(example.messages, tools=example.tools or None, tokenize=False,
                                         add_generation_prompt=True)


def generate_completions(model: Any, tokenizer: Any, examples: Sequence[Example], *, max_new_tokens: int = 128,
                         batch_size: int = 16, temperature: float = 0.0, progress: bool = True,
                         desc: str = "generate") -> list[str]:
    """One completion per example, in the examples' order; with `progress`, a line every few seconds (elapsed, ETA)
    and one at the end, labelled `desc` (thinkact.progress)."""
    texts = [prompt_text(tokenizer, ex) for ex in examples]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[str] = [""] * len(texts)
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    stop = [t for t in {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")} if isinstance(t, int)]
    sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    try:
        bar = Progress(desc, len(texts), unit="ex", enabled=progress)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
            batch = {k: v.to(device) for k, v in batch.items()}
            with torch.inference_mode():
                generated = model.generate(**batch, max_new_tokens=max_new_tokens, eos_token_id=stop,
                                           pad_token_id=tokenizer.pad_token_id, **sampling)
            new = generated[:, batch["input_ids"].shape[1]:]
            for i, row in zip(idx, new):
                out[i] = _decode(tokenizer, row, stop)
            bar.update(len(idx))
        bar.close()
    finally:
        tokenizer.padding_side = old_side
        model.train(was_training)
    return out


def _decode(tokenizer: Any, row: Any, stop: list[int]) -> str:
    ids = row.tolist()
    for i, tok in enumerate(ids):
        if tok in stop or tok == tokenizer.pad_token_id:
            ids = ids[:i]
            break
    return tokenizer.decode(ids, skip_special_tokens=False)
