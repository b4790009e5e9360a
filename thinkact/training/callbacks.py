"""Trainer callbacks shared by SFT and GRPO: every logged metric to the stage's MLflow run, and one
progress line per logging step with elapsed time and ETA (readable in DVC, Prefect and CI logs)."""
from __future__ import annotations

import math
import time
from typing import Any

from transformers import TrainerCallback


class TrackingCallback(TrainerCallback):
    """Send every `logs` dict the Trainer emits (loss, rewards/<name>/mean, kl, ...) to `run.log_metrics`."""

    def __init__(self, run: Any, stage: str):
        self.run, self.stage = run, stage
        self.history: list[dict[str, float]] = []
        self._start = time.monotonic()

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.monotonic()

    def on_log(self, args, state, control, logs=None, **kwargs):
        numeric = {k: float(v) for k, v in (logs or {}).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}
        if not numeric:
            return
        self.history.append({"step": state.global_step, **numeric})
        self.run.log_metrics(numeric, step=state.global_step)
        elapsed = time.monotonic() - self._start
        done = max(state.global_step, 1)
        eta = elapsed / done * max(state.max_steps - state.global_step, 0)
        shown = " ".join(f"{k}={v:.4g}" for k, v in list(numeric.items())[:6])
        print(f"[{self.stage}] step {state.global_step}/{state.max_steps} {shown} "
              f"elapsed {elapsed:.0f}s eta {eta:.0f}s", flush=True)
