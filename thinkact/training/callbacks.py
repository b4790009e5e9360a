"""Trainer callbacks shared by SFT and GRPO: every logged metric to the stage's MLflow run, and one
progress line per logging step with elapsed time and ETA (readable in DVC, Prefect and CI logs); for GRPO,
samples of completions with their rewards every N steps (CompletionSamples)."""
from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from thinkact.chat_format.template import assistant_opening
from thinkact.io import atomic_write_text


class TrackingCallback(TrainerCallback):
    """Send every `logs` dict the Trainer emits (loss, rewards/<name>/mean, kl, ...) to `run.log_metrics`."""

    def __init__(self, run: Any, stage: str, show: Sequence[str] = ()):
        self.run, self.stage = run, stage
        self.show = tuple(show)  # keys the progress line shows first (e.g. GRPO's reward); then the others
        self.history: list[dict[str, float]] = []
        self._start = time.monotonic()

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.monotonic()

    def on_log(self, args, state, control, logs=None, **kwargs):
        numeric = {k: float(v) for k, v in (logs or {}).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}
        if not numeric or not state.is_world_process_zero:  # several processes: the main one logs and prints
            return
        self.history.append({"step": state.global_step, **numeric})
        self.run.log_metrics(numeric, step=state.global_step)
        elapsed = time.monotonic() - self._start
        done = max(state.global_step, 1)
        eta = elapsed / done * max(state.max_steps - state.global_step, 0)
        keys = [k for k in self.show if k in numeric] + [k for k in numeric if k not in self.show]
        shown = " ".join(f"{k}={numeric[k]:.4g}" for k in keys[:6])
        print(f"[{self.stage}] step {state.global_step}/{state.max_steps} {shown} "
              f"elapsed {elapsed:.0f}s eta {eta:.0f}s", flush=True)


class CompletionSamples(TrainerCallback):
    """Every `every` steps (and at the last), the latest generation batch of a GRPOTrainer as JSONL: example id,
    the prompt's tail, the completion, each reward (None = not applicable), the weighted total and the advantage;
    written to `folder/step-NNNNN.jsonl` and logged to the run under `samples/`. Reads the buffer TRL keeps for
    its own completion logging (`trainer._logs`), so the reward functions stay pure. Set `.trainer` after
    building the trainer."""

    TAIL = 600   # at most this many characters of the prompt are kept ...
    TURNS = 2    # ... from the start of its last turns (the last user or tool turn and the generation prompt)

    def __init__(self, run: Any, folder: Path, every: int, weights: Sequence[float],
                 examples: Mapping[str, Mapping[str, Any]] | None = None):
        self.run, self.folder, self.every, self.weights = run, Path(folder), every, list(weights)
        self.examples = examples or {}  # prompt text -> {"id", "target"}, to show what was expected
        self.trainer: Any = None
        self.written: list[Path] = []

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if not state.is_world_process_zero:  # TRL gathers every process's completions to the main one
            return
        if self.every and self.trainer is not None and (step % self.every == 0 or step == state.max_steps):
            self.write(step)

    def rows(self, step: int) -> list[dict[str, Any]]:
        logs = getattr(self.trainer, "_logs", None) or {}
        prompts, completions = list(logs.get("prompt", ())), list(logs.get("completion", ()))
        rewards = {name: list(values) for name, values in (logs.get("rewards") or {}).items()}
        advantages = list(logs.get("advantages", ()))
        weights = self.weights or [1.0] * len(rewards)
        opened = assistant_opening(self.trainer.processing_class)  # the turn from its start, as the rewards saw it
        out = []
        for i, (prompt, completion) in enumerate(zip(prompts, completions)):
            scores = {n: (None if v[i] is None or math.isnan(v[i]) else round(float(v[i]), 4))
                      for n, v in rewards.items() if i < len(v)}
            applied = [(w, s) for w, s in zip(weights, scores.values()) if s is not None]
            text = prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False)
            known = self.examples.get(text, {})
            out.append({"step": step, "id": known.get("id"), "target": known.get("target"),
                        "prompt_tail": self.tail(text),
                        "completion": opened + completion if isinstance(completion, str) else json.dumps(completion),
                        "rewards": scores, "reward": round(sum(w * s for w, s in applied), 4) if applied else None,
                        "advantage": round(float(advantages[i]), 4) if i < len(advantages) else None})
        return out

    @classmethod
    def tail(cls, prompt: str) -> str:
        turns = prompt.split("<|im_start|>")  # ChatML turn marker; other templates just keep the last characters
        text = "<|im_start|>" + "<|im_start|>".join(turns[-cls.TURNS:]) if len(turns) > cls.TURNS else prompt
        return text[-cls.TAIL:]

    def write(self, step: int) -> Path | None:
        rows = self.rows(step)
        if not rows:
            return None
        path = self.folder / f"step-{step:05d}.jsonl"
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        self.run.log_artifact(path, "samples")
        self.written.append(path)
        return path
