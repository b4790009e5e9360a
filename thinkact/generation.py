"""Batched generation of assistant turns for contract examples (evaluation, learning curves, chat), and the one
batched `model.generate` call behind it and the episode rollouts (`generate_rows`).

Prompts are rendered with the model's chat template (`add_generation_prompt=True`), sorted by length so each
batch pads little, left-padded, and decoded without the prompt. Greedy by default.

Shared prefixes (`generate_rows`): rows of a batch that begin with the same long run of tokens — the G samples of one
prompt in a GRPO group, the samples of one episode — have that run's keys and values computed once, at batch 1, and
every row of the group reads them from the cache. The batch's cache is laid out per row as
`[pad…][shared prefix][pad…][own suffix]` (attention mask 0 on the pads, position ids from the mask, as `generate`
derives them), so each row sees exactly its own tokens at their own positions, as in plain generation. Any row is
its own group when it shares little: then its whole prompt but the last token is prefilled alone (no padding).
When no group saves `PREFIX_MIN` tokens, or the model's cache is not a plain `DynamicCache` of full-attention layers
(sliding windows, linear attention, quantized or static caches), the batch is generated plainly: never an
approximation. Greedy output is token-identical to plain generation (tests/test_prefix_cache.py).

    texts = generate_completions(model, tokenizer, examples, max_new_tokens=96, batch_size=16)
    new = generate_rows(model, [ids_a, ids_a, ids_b], max_new_tokens=96, eos_token_id=stop, pad_token_id=pad)
"""
from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from thinkact.chat_format.template import assistant_opening
from thinkact.contract import Example
from thinkact.progress import Progress

PREFIX_MIN = 64  # prompt tokens a batch must save by sharing prefixes; below, it is generated plainly


def prompt_text(tokenizer: Any, example: Example) -> str:
    """The prompt exactly as training renders it: the conversation so far, the offered tools, generation prompt."""
    return tokenizer.apply_chat_template(example.messages, tools=example.tools or None, tokenize=False,
                                         add_generation_prompt=True)


def generate_completions(model: Any, tokenizer: Any, examples: Sequence[Example], *, max_new_tokens: int = 128,
                         batch_size: int = 16, temperature: float = 0.0, progress: bool = True,
                         desc: str = "generate", share_prefix: bool = True, streamer: Any = None) -> list[str]:
    """One completion per example, in the examples' order; with `progress`, a line every few seconds (elapsed, ETA)
    and one at the end, labelled `desc` (thinkact.progress). `share_prefix`: see `generate_rows`. `streamer` (one
    example only): passed to `model.generate` as is (a transformers `BaseStreamer`: the prompt's ids, then each new
    token as it is generated); the completion returned is the same with or without it. A completion is the whole
    assistant turn: what the generation prompt opened of it (prompt.open_think: `assistant_opening`) + new text."""
    if streamer is not None and len(examples) != 1:
        raise ValueError("a streamer takes the tokens of one example: generate one at a time")
    texts = [prompt_text(tokenizer, ex) for ex in examples]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[str] = [""] * len(texts)
    was_training = model.training
    model.eval()
    stop = [t for t in {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")} if isinstance(t, int)]
    opened = assistant_opening(tokenizer)
    sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    try:
        bar = Progress(desc, len(texts), unit="ex", enabled=progress)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            rows = tokenizer([texts[i] for i in idx], add_special_tokens=False)["input_ids"]
            new = generate_rows(model, rows, max_new_tokens=max_new_tokens, eos_token_id=stop,
                                pad_token_id=tokenizer.pad_token_id, share_prefix=share_prefix, **sampling,
                                **({"streamer": streamer} if streamer is not None else {}))
            for i, row in zip(idx, new):
                out[i] = opened + _decode(tokenizer, row, stop)
            bar.update(len(idx))
        bar.close()
    finally:
        model.train(was_training)
    return out


def generated_tokens(tokenizer: Any, completion: str) -> int:
    """How many tokens the model generated for a `generate_completions` completion: the text re-encoded (about
    exact), less what the generation prompt opened of the turn (`assistant_opening`), which it did not generate."""
    opened = assistant_opening(tokenizer)
    text = completion[len(opened):] if opened and completion.startswith(opened) else completion
    return len(tokenizer(text, add_special_tokens=False).input_ids)


def generate_rows(model: Any, rows: Sequence[Sequence[int]], *, max_new_tokens: int, eos_token_id: Any,
                  pad_token_id: int, share_prefix: bool = True, **generate_kwargs: Any) -> torch.Tensor:
    """`model.generate` on prompts given as token ids (left-padded together); returns the new tokens only, one row
    per prompt, padded with `pad_token_id` after a row's stop. With `share_prefix`, rows beginning with the same
    tokens share that prefix's keys and values (module docstring); else, or when that cannot be exact, one plain
    left-padded `generate` call. The caller chooses the mode (`model.eval()`); sampling draws from torch's global RNG
    exactly as plain generation does, so a seeded call samples the same tokens either way."""
    if not rows or any(len(r) == 0 for r in rows):
        raise ValueError("generate_rows needs at least one prompt and no empty prompt")
    kwargs = {"max_new_tokens": max_new_tokens, "eos_token_id": eos_token_id, "pad_token_id": pad_token_id,
              **generate_kwargs}
    device = getattr(model, "device", None) or next(model.parameters()).device
    # a model must be a torch module (a stand-in with only `generate`, as tests script one, is called plainly)
    share_prefix = share_prefix and isinstance(model, torch.nn.Module) and kwargs.get("use_cache", True)
    with torch.inference_mode():
        groups = prefix_groups(rows) if share_prefix else None
        if groups is not None:
            shared = _shared_inputs(model, rows, groups, pad_token_id, device)
            if shared is not None:
                ids, mask, cache = shared
                out = model.generate(input_ids=ids, attention_mask=mask, past_key_values=cache,
                                     **{**kwargs, "use_cache": True})
                return out[:, ids.shape[1]:]
        ids, mask = _left_padded(rows, pad_token_id, device)
        out = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        return out[:, ids.shape[1]:]


def prefix_groups(rows: Sequence[Sequence[int]], minimum: int = PREFIX_MIN) -> list[tuple[list[int], int]] | None:
    """Rows grouped by a shared prefix: [(row indices, prefix length)], each prefix at most the group's shortest row
    minus one token (every row keeps a token to feed). A row joins the group it shares most with when that is at least
    `minimum` tokens and half the group's prefix so far (so a group of copies keeps its whole prompt); else it starts
    its own. One group of all rows over their common prefix instead, when that saves more. None when the groups save
    fewer than `minimum` prefill tokens in all: plain generation then."""
    groups: list[list[Any]] = []  # [first row, prefix length, members]
    for i, row in enumerate(rows):
        best, best_len = None, 0
        for g in groups:
            n = _common(rows[g[0]], row, g[1])
            if n > best_len:
                best, best_len = g, n
        if best is not None and best_len >= max(minimum, best[1] // 2):
            best[1] = best_len
            best[2].append(i)
        else:
            groups.append([i, len(row), [i]])
    out = [(members, min(prefix, min(len(rows[m]) for m in members) - 1)) for _, prefix, members in groups]
    # or one group of every row over the prefix they all share (the system line and the tools' header of an
    # evaluation batch): whichever saves more
    common = min(min(_common(rows[0], r, len(rows[0])) for r in rows), min(map(len, rows)) - 1)
    if (len(rows) - 1) * common > sum((len(members) - 1) * prefix for members, prefix in out):
        out = [(list(range(len(rows))), common)]
    saved = sum((len(members) - 1) * prefix for members, prefix in out)
    return out if saved >= minimum else None


def _common(a: Sequence[int], b: Sequence[int], limit: int) -> int:
    n = min(len(a), len(b), limit)
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _left_padded(rows: Sequence[Sequence[int]], pad: int, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, rows))
    ids = torch.tensor([[pad] * (width - len(r)) + list(r) for r in rows], device=device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
    return ids, mask


def _shared_inputs(model: Any, rows: Sequence[Sequence[int]], groups: list[tuple[list[int], int]], pad: int,
                   device: Any) -> tuple[torch.Tensor, torch.Tensor, Any] | None:
    """(input ids, attention mask, cache) for `generate`: each group's prefix prefilled once and placed, right-aligned
    in the cache's prefix span, in every row of the group; None when the model's cache cannot be assembled exactly."""
    span = max(prefix for _, prefix in groups)
    if span == 0:
        return None
    caches = {}
    # the prefix's logits are not needed: only the last position's (as generate's prefill), not all of them
    last = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    for members, prefix in groups:
        if prefix == 0:
            continue
        cache = model(input_ids=torch.tensor([list(rows[members[0]][:prefix])], device=device), use_cache=True,
                      **last).past_key_values
        if type(cache) is not DynamicCache or not cache.layers or any(
                type(layer) is not DynamicLayer or layer.get_seq_length() != prefix for layer in cache.layers):
            return None  # sliding windows, linear attention, quantized/static/offloaded caches: not assembled here
        caches[members[0]] = cache
    first = next(iter(caches.values()))
    data = []
    for layer_idx, ref in enumerate(first.layers):
        keys = ref.keys.new_zeros((len(rows), *ref.keys.shape[1:2], span, ref.keys.shape[-1]))
        values = ref.values.new_zeros((len(rows), *ref.values.shape[1:2], span, ref.values.shape[-1]))
        for members, prefix in groups:
            if prefix == 0:
                continue
            layer = caches[members[0]].layers[layer_idx]
            keys[members, :, span - prefix:] = layer.keys[0]
            values[members, :, span - prefix:] = layer.values[0]
        data.append((keys, values))
    width = max(len(r) - prefix for members, prefix in groups for r in (rows[m] for m in members))
    ids, mask = [], []
    for members, prefix in groups:
        for m in members:
            row = list(rows[m])
            head, tail = row[:prefix], row[prefix:]
            ids.append((m, [pad] * (span - prefix) + head + [pad] * (width - len(tail)) + tail))
            mask.append((m, [0] * (span - prefix) + [1] * prefix + [0] * (width - len(tail)) + [1] * len(tail)))
    ids.sort(key=lambda p: p[0])
    mask.sort(key=lambda p: p[0])
    return (torch.tensor([r for _, r in ids], device=device), torch.tensor([r for _, r in mask], device=device),
            DynamicCache(ddp_cache_data=data, config=model.config))


def _decode(tokenizer: Any, row: Any, stop: list[int]) -> str:
    ids = row.tolist()
    for i, tok in enumerate(ids):
        if tok in stop or tok == tokenizer.pad_token_id:
            ids = ids[:i]
            break
    return tokenizer.decode(ids, skip_special_tokens=False)
