"""Tokens per example with the chat template and a model's tokenizer: prompt (conversation + tools, as
generation sees it) and completion (the gold target with its reasoning). Prompt length is what sets
training and generation speed on a CPU.

    thinkact data stats --model builtin:tiny --split test_id
"""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from thinkact.chat_format.template import render_target
from thinkact.contract import Example
from thinkact.generation import prompt_text


def _summary(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    return {"mean": round(statistics.fmean(ordered), 1), "median": statistics.median(ordered),
            "p95": ordered[int(0.95 * (len(ordered) - 1))], "max": ordered[-1]}


def token_stats(tokenizer: Any, examples: Sequence[Example], with_reasoning: bool = True) -> dict[str, Any]:

    prompts = [len(tokenizer(prompt_text(tokenizer, ex), add_special_tokens=False).input_ids) for ex in examples]
    completions = [len(tokenizer(render_target(ex.target.to_dict(), ex.reasoning if with_reasoning else None),
                                 add_special_tokens=False).input_ids) for ex in examples]
    return {"examples": len(examples), "prompt_tokens": _summary(prompts), "completion_tokens": _summary(completions),
            "total_tokens_mean": round(statistics.fmean(p + c for p, c in zip(prompts, completions)), 1),
            "tools_per_example": round(statistics.fmean(len(ex.tools) for ex in examples), 2)}
