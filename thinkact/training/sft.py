"""SFT core: the train split as TRL prompt/completion conversations, then TRL's SFTTrainer.

Loss is on the target assistant turn only (TRL's completion-only loss on the prompt/completion format).
By default the target has an empty think block (the paper's baseline); `sft.with_reasoning: true` trains
on the gold reasoning too. Runs resume from their last checkpoint after a crash. The model of each step in
`sft.keep_steps` is kept whole in `steps/<step>/` beside the final `model/` (thinkact.training.checkpoints.KeepSteps),
for GRPO to start from (`grpo.init: sft@<step>`).
"""
from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset
from transformers import PrinterCallback
from trl import SFTConfig, SFTTrainer
from trl.trainer import utils as trl_utils

from thinkact import distributed
from thinkact.chat_format.template import PROMPT_KEY, json_arguments, render_target, target_message
from thinkact.contract import Example
from thinkact.data.dev import kept_rows
from thinkact.generation import prompt_text
from thinkact.io import atomic_write_json
from thinkact.models.base import load_base, set_cpu_threads, tiny_size
from thinkact.project import RunParams
from thinkact.training.callbacks import TrackingCallback
from thinkact.training.checkpoints import (STEPS, KeepSteps, fingerprint, publish_steps, resume_point,
                                           save_final)
from thinkact.training.trl_config import device_defaults, lora_config, trl_config

STAGE = "sft"


def sft_rows(examples: Sequence[Example], with_reasoning: bool) -> list[dict[str, Any]]:
    """TRL conversational prompt/completion rows; `tools` and tool-call arguments as JSON strings, since
    Hugging Face datasets would pad differently-keyed dicts into one struct."""
    return [{"prompt": json_arguments(ex.messages),
             "completion": json_arguments([target_message(ex.target.to_dict(), ex.reasoning if with_reasoning else None)]),
             "tools": json.dumps(ex.tools, ensure_ascii=False)} for ex in examples]


def sft_config(params: RunParams, checkpoints: Path) -> Any:
    """trl.SFTConfig from params.sft.trainer (checked before any model loads) plus what thinkact fixes."""
    fields = {**device_defaults(SFTConfig, params.sft.trainer, params.launch.timeout_s), **params.sft.trainer}
    return trl_config(SFTConfig, fields, "sft.trainer", output_dir=str(checkpoints),
                      completion_only_loss=True, disable_tqdm=True)


def check_params(params: RunParams, checkpoints: Path) -> tuple[Any, Any]:
    """(SFTConfig, LoraConfig or None) from params; any bad field raises ConfigError before work starts."""

    tiny_size(params)  # a bad model.tiny field fails here too, before the data is read
    return sft_config(params, checkpoints), lora_config(params.sft.lora, STAGE)


@contextmanager
def labelled_positions_only() -> Iterator[None]:
    """Score only the positions that carry a label (the target turn) in TRL's fused LM head, on a CPU too.

    TRL's SFTTrainer computes the loss through a fused LM head that, where Triton runs (a GPU), projects only the
    labelled positions and elsewhere projects every position and zeroes the rest: the same loss and gradients, but
    on a CPU a small model then spends most of its step on the LM head over prompt tokens (builtin:tiny's prompts
    are ~70 % of its tokens). This makes TRL take its compact path on a CPU as well; nothing else changes (the
    kernel itself still picks its own CPU code). A TRL without that switch is left as it is."""
    original = getattr(trl_utils, "_use_triton", None)
    if original is None:
        yield
        return
    trl_utils._use_triton = lambda device: device.type == "cpu" or original(device)
    try:
        yield
    finally:
        trl_utils._use_triton = original


def too_long(tokenizer: Any, examples: Sequence[Example], max_length: int | None, with_reasoning: bool) -> int:
    """How many examples (prompt + target turn) exceed `max_length` tokens: TRL cuts them at the end, so their
    target turn is lost in part or whole (a real model's tokenizer makes the same prompts 5-10x longer)."""

    if not max_length:
        return 0
    texts = [prompt_text(tokenizer, ex) + render_target(ex.target.to_dict(), ex.reasoning if with_reasoning else None)
             for ex in examples]
    return sum(len(ids) > max_length for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])


def loss_curve(log_history: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
    """loss.json: one row per logged step (`step`, `loss` and the other finite numbers logged with it), from the
    Trainer's log history, which a resumed run restores from its checkpoint: the whole curve, not only the steps
    after the resume."""
    rows = []
    for entry in log_history:
        if "loss" not in entry:
            continue
        numbers = {k: float(v) for k, v in entry.items() if k != "step" and isinstance(v, (int, float))
                   and not isinstance(v, bool) and math.isfinite(float(v))}
        rows.append({"step": entry["step"], **numbers})
    return rows


def model_card(params: RunParams, data_md5: str | None, cuts_md5: str | None, **fields: Any) -> dict[str, Any]:
    """The card of a model this stage saves (the final one, or a kept step's), with `fields` (steps, ...)."""
    return {"stage": STAGE, "base": params.model.base, "train_md5": data_md5,
            **({"episodes_md5": cuts_md5} if cuts_md5 else {}), "with_reasoning": params.sft.with_reasoning, **fields,
            "lora": bool(params.sft.lora), "params": {"model": asdict(params.model), "sft": asdict(params.sft)},
            PROMPT_KEY: asdict(params.prompt)}


def keep_steps(params: RunParams, tokenizer: Any, staged: Path, data_md5: str | None, cuts_md5: str | None
               ) -> KeepSteps:
    """The callback that keeps the model of each step in sft.keep_steps (staged beside the checkpoints)."""
    def card(state: Any) -> dict[str, Any]:  # the step's loss is logged after it ends: loss.json has it
        return model_card(params, data_md5, cuts_md5, steps=state.global_step, max_steps=state.max_steps)
    return KeepSteps(params.sft.keep_steps, tokenizer, staged, card)


@dataclass(frozen=True)
class SftResult:
    steps: int
    train_loss: float
    seconds: float
    resumed_from: str | None
    examples: int             # examples trained on, of which
    episode_cuts: int = 0     # gold episode cuts (sft.episode_cuts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_sft(params: RunParams, train: Sequence[Example], out_dir: Path, run: Any, data_md5: str | None = None,
              callbacks: Sequence[Any] = (), cuts: Sequence[Example] = (), cuts_md5: str | None = None) -> SftResult:
    """Train the SFT model on the train split `train` less the dev split (`dev.examples`), then the gold episode cuts
    `cuts` (sft.episode_cuts, cut from the episodes the dev split leaves: tasks.sft.episode_cuts; the first
    sft.max_examples of both together), and write it to out_dir/model (atomically) and the models of
    sft.keep_steps to out_dir/steps/<step> (together, with the final model); metrics go to `run`.
    The tiny built-in model is built from the whole of `train` (the same base model the evaluate stage builds). Extra
    `callbacks` (e.g. the learning-curve probe in experiments/) join the trainer's."""
    checkpoints = out_dir / "checkpoints"
    config, peft_config = check_params(params, checkpoints)  # bad fields fail here, before the model loads
    set_cpu_threads(params.sft.cpu_threads)
    rows = kept_rows(params.dev, train)  # the dev split (dev.examples) is never trained on
    everything = [*rows, *cuts]
    examples = everything[: params.sft.max_examples] if params.sft.max_examples else everything
    model, tokenizer = load_base(params, train)
    dataset = Dataset.from_list(sft_rows(examples, params.sft.with_reasoning))
    cut = too_long(tokenizer, examples, config.max_length, params.sft.with_reasoning)
    if cut:
        print(f"[sft] warning: {cut} of {len(examples)} examples are longer than sft.trainer.max_length "
              f"({config.max_length} tokens) and lose the end of their target turn; raise it in params.yaml",
              flush=True)
    key = fingerprint(STAGE, data_md5 or len(examples), cuts_md5, params.model, params.sft, params.prompt,
                      *((params.dev,) if params.dev.on else ()))  # a checkpoint of another cut is not resumed
    resume = resume_point(checkpoints, key)
    tracker = TrackingCallback(run, STAGE)
    kept = keep_steps(params, tokenizer, checkpoints / STEPS, data_md5, cuts_md5)  # staged beside the checkpoints
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=peft_config, callbacks=[tracker, kept, *callbacks])
    trainer.remove_callback(PrinterCallback)  # TrackingCallback prints one line per logging step instead
    start = time.monotonic()
    with labelled_positions_only():
        output = trainer.train(resume_from_checkpoint=resume)
    seconds = time.monotonic() - start
    result = SftResult(steps=trainer.state.global_step, train_loss=float(output.training_loss), seconds=round(seconds, 1),
                       resumed_from=resume, examples=len(examples), episode_cuts=max(0, len(examples) - len(rows)))
    save_final(trainer, tokenizer, out_dir / "model", model_card(params, data_md5, cuts_md5, steps=result.steps,
                                                                 train_loss=result.train_loss))
    if distributed.is_main():  # with several processes: one writer (save_final has waited for it)
        publish_steps(checkpoints / STEPS, out_dir / STEPS, params.sft.keep_steps)  # ... with the model (a DVC out)
        atomic_write_json(out_dir / "loss.json", loss_curve(trainer.state.log_history))  # the DVC plot
        shutil.rmtree(checkpoints, ignore_errors=True)  # only a crash needs them
    return result
