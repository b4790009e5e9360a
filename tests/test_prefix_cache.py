"""Shared-prefix KV reuse in generation (issue #24 item 1): rows that begin with the same tokens (the G samples of a
GRPO group, an evaluation batch's system line and tools header) have that prefix computed once, and the output is
token-identical to plain batched generation, greedy and seeded sampling; a cache that cannot be assembled exactly
falls back to plain generation. builtin:tiny (quick size) here; on SmolLM2-135M in tests/test_real_model.py (the model
its stages already loaded and converted, so the check costs its generation only)."""
from __future__ import annotations

import pytest
import torch

from thinkact import generation
from thinkact.generation import generate_rows, prefix_groups
from thinkact.world.catalog import TOOLS_BY_NAME

OFFERED = ("get_order_status", "track_shipment", "cancel_order")
USERS = ("Where is my order ORD-12345?", "Please cancel order ORD-55555, I changed my mind.",
         "Track shipment TRK-0042 for me.", "Hi! Can you check on my order status?")


def prompts(tokenizer, users=USERS, tools=OFFERED) -> list[list[int]]:
    """Chat-template prompts over the same tools: they share the system line and every tool schema."""
    schemas = [TOOLS_BY_NAME[n].schema() for n in tools]
    return [tokenizer.apply_chat_template([{"role": "user", "content": u}], tools=schemas, tokenize=False,
                                          add_generation_prompt=True) for u in users]


def ids(tokenizer, texts) -> list[list[int]]:
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


def both(model, tokenizer, rows, seed=None, **kwargs):
    """(plain, shared) new tokens for the same rows and settings, each from the same seed when sampling."""
    out = []
    for share in (False, True):
        if seed is not None:
            torch.manual_seed(seed)
        out.append(generate_rows(model, rows, eos_token_id=[tokenizer.eos_token_id],
                                 pad_token_id=tokenizer.pad_token_id, share_prefix=share, **kwargs))
    return out



def test_groups_share_copies_whole_and_a_batch_its_common_prefix():
    a, b, c = [1] * 100 + [2, 3], [1] * 100 + [4], [9] * 50
    # copies: the whole prompt but its last token; an unrelated row prefills alone (no padding)
    assert prefix_groups([a, a, a, c]) == [([0, 1, 2], 101), ([3], 49)]
    # rows that share only a header: one group over it
    assert prefix_groups([a, b, a[:90] + [7]]) == [([0, 1, 2], 90)]
    # too little shared: plain generation
    assert prefix_groups([a, c]) is None and prefix_groups([[1] * 40 + [2], [1] * 40 + [3]]) is None


def test_tiny_greedy_and_sampled_are_token_identical(tiny, monkeypatch):
    model, tokenizer = tiny
    texts = prompts(tokenizer)
    group = [t for t in texts[:2] for _ in range(3)] + texts[2:]  # two groups of copies and two singletons
    calls = []
    real = generation._shared_inputs
    monkeypatch.setattr(generation, "_shared_inputs", lambda *a: calls.append(out := real(*a)) or out)
    # greedy, the quick tiny model repeats one token on these prompts; the sampled run below and the SmolLM2 test
    # check real choices
    for rows in (ids(tokenizer, texts), ids(tokenizer, group)):
        plain, shared = both(model, tokenizer, rows, max_new_tokens=24, do_sample=False)
        assert torch.equal(plain, shared)
    plain, shared = both(model, tokenizer, ids(tokenizer, group), seed=7, max_new_tokens=24, do_sample=True,
                         temperature=1.0, top_k=0, top_p=1.0)
    assert torch.equal(plain, shared)
    assert min(len(set(row.tolist())) for row in plain) > 5  # varied tokens, not one over and over
    assert len(calls) == 3 and all(c is not None for c in calls)  # the shared path ran every time


def test_tiny_unsupported_cache_falls_back_to_plain(tiny, monkeypatch):
    model, tokenizer = tiny
    rows = ids(tokenizer, prompts(tokenizer)[:2]) * 2
    plain = both(model, tokenizer, rows, max_new_tokens=8, do_sample=False)[0]
    monkeypatch.setattr(generation, "DynamicLayer", type("OtherLayer", (), {}))  # "not a plain full-attention layer"
    calls = []
    real = generation._shared_inputs
    monkeypatch.setattr(generation, "_shared_inputs", lambda *a: calls.append(out := real(*a)) or out)
    shared = both(model, tokenizer, rows, max_new_tokens=8, do_sample=False)[1]
    assert calls == [None] and torch.equal(plain, shared)


def test_grpo_group_generation_gives_trls_tokens(tiny, tmp_path, monkeypatch):
    """GRPO's turn-mode generation through generate_rows (thinkact.training.shared_prefix) samples exactly the tokens
    TRL's own plain path samples from the same seed: two prompts, four samples each, temperature 1."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from thinkact.training.shared_prefix import SharedPrefixGRPOTrainer

    model, tokenizer = tiny
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4,
                      max_completion_length=12, temperature=1.0, report_to=[], use_cpu=True, save_strategy="no")
    data = Dataset.from_list([{"prompt": "hello"}] * 4)
    rows = [r for r in ids(tokenizer, prompts(tokenizer)[:2]) for _ in range(4)]
    out, calls = [], []
    real = generation._shared_inputs
    monkeypatch.setattr(generation, "_shared_inputs", lambda *a: calls.append(got := real(*a)) or got)
    for kind in (GRPOTrainer, SharedPrefixGRPOTrainer):
        trainer = kind(model=model, reward_funcs=lambda completions, **_: [0.0] * len(completions), args=args,
                       train_dataset=data, processing_class=tokenizer)
        torch.manual_seed(7)
        out.append(trainer._generate_single_turn(rows, None, {}, 4)[0])
    assert out[0] == out[1] and len(out[1]) == 8 and len({tuple(c) for c in out[1]}) > 1, out
    assert generation.prefix_groups(rows) is not None   # the groups did share their prompts
    assert len(calls) == 1 and calls[0] is not None      # ...in the subclass only, through an assembled cache
