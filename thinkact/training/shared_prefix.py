"""GRPO's own (turn-mode) generation with shared prompt prefixes: the G samples of a group are G copies of one
prompt, so `thinkact.generation.generate_rows` computes the prompt's keys and values once per group instead of G
times (issue #24 item 1; benchmarks/bench_prefix_cache.py, docs/experiments.md "Shared-prefix generation").

`SharedPrefixGRPOTrainer` is TRL's GRPOTrainer with one change: the plain-transformers branch of
`_generate_single_turn` (no vLLM, no continuous batching, no images) calls `generate_rows` under the same
`unwrap_model_for_generation` context, with the trainer's own generation config, and cuts each completion after its
first end-of-sequence token as TRL does. Every other branch (vLLM on a GPU, multimodal prompts) is TRL's. The
tokens are those of TRL's path (`generate_rows` is token-identical to plain left-padded generation, greedy and
seeded sampling: tests/test_prefix_cache.py); `grpo.py` builds this trainer (and the dynamic-sampling one on it).
The rewards judge the whole assistant turn, as evaluation does: what the generation prompt opened of it
(prompt.open_think; `assistant_opening`) + the completion (`_calculate_rewards`, which the dynamic-sampling trainer
and the difficulty pre-pass go through too).

    trainer = SharedPrefixGRPOTrainer(model=..., reward_funcs=..., args=GRPOConfig(...), train_dataset=...)
"""
from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer
from trl.extras.profiling import profiling_context
from trl.models import unwrap_model_for_generation

from thinkact.chat_format.template import assistant_opening
from thinkact.generation import generate_rows


def cut_after_eos(rows: torch.Tensor, eos: list[int]) -> list[list[int]]:
    """Each row's tokens up to and including its first end-of-sequence token (all of them when it has none)."""
    out = []
    for row in rows.tolist():
        end = next((i for i, t in enumerate(row) if t in eos), len(row) - 1)
        out.append(row[: end + 1])
    return out


class SharedPrefixGRPOTrainer(GRPOTrainer):
    """TRL's GRPOTrainer whose plain generation shares each prompt's prefix across its group (module docstring)."""

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        plain = (self.use_vllm or self.use_transformers_continuous_batching or images is not None
                 or bool(multimodal_fields) or getattr(self, "_is_vlm", False))
        if plain:
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 has_tool_images)
        config = self.generation_config
        with (
            profiling_context(self, "transformers.generate"),
            unwrap_model_for_generation(
                self.model_wrapped, self.accelerator, gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                generation_kwargs=self.generation_kwargs,
                gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs) as unwrapped_model,
            torch.no_grad(),
            self._dist.summon_full_params(self.model_wrapped, recurse=False),
        ):
            new = generate_rows(unwrapped_model, [list(p) for p in prompt_ids], max_new_tokens=config.max_new_tokens,
                                eos_token_id=list(self.eos_token_ids), pad_token_id=self._tokenizer.pad_token_id,
                                generation_config=config)
        return cut_after_eos(new.cpu(), list(self.eos_token_ids)), None

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        opened = assistant_opening(self.processing_class)
        if opened:  # the prompt ends inside the think block: the rewards see the turn from its start
            completions = [opened + c if isinstance(c, str) else c for c in completions]
        return super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
