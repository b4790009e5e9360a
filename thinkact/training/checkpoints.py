"""Checkpoints that survive a crash and the final model written atomically.

A stage's checkpoints folder carries a fingerprint of its run (data, params, model); a rerun with the same
fingerprint resumes from the newest complete checkpoint, any other run starts afresh. The final model (LoRA merged),
its tokenizer with the chat template and a small model card replace the previous model folder in one step.

The model card (thinkact-card.json, and README.md written from it) says how the folder was made: `stage`, `base`,
`train_md5` (the md5 of the train file's bytes; the DVC hash of the whole data/ folder is the runs' and versions'
`thinkact.data_dvc_md5` tag, never a card key), steps, the params, and, added by the training stage once the model
is saved (`update_card`), `mlflow_run_id`: the MLflow run that trained it, which the register stage logs the
registered version to.

Kept steps (`sft.keep_steps`): KeepSteps writes the model of each named step, complete like the final one (save_model),
at the end of that step into a folder beside the checkpoints — before the Trainer's checkpoint of the step, so a run
resumed from any checkpoint has every kept step up to it —, and publish_steps puts them into `<out>/steps/<step>/`
with the final model.

    from thinkact.training.checkpoints import fingerprint, resume_point, save_final, update_card
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from thinkact.chat_format.template import add_response_parsing
from thinkact import distributed
from thinkact.errors import ThinkactError
from thinkact.io import atomic_dir, atomic_write_json, atomic_write_text

FINGERPRINT = "thinkact-run.json"  # in a checkpoints folder: which run its checkpoints belong to
CARD = "thinkact-card.json"         # in a model folder: the model card
# card keys named for what they hold: older cards (and callers) name the train file's md5 `data_md5`
CARD_KEYS = {"data_md5": "train_md5"}
STEPS = "steps"  # <out>/steps/<step>: the models kept at sft.keep_steps (a DVC out, like <out>/model)
KEPT = "kept.json"  # <out>/steps/kept.json: the kept steps ([] when none: the DVC out is never an empty folder)


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def last_complete_checkpoint(checkpoints: Path) -> str | None:
    """The newest checkpoint-N folder the Trainer finished writing (its trainer_state.json is written last); newer
    ones a kill interrupted mid-save are removed, so a resume never starts from half a checkpoint."""
    found = []
    for path in checkpoints.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        step = path.name.rsplit("-", 1)[-1]
        if path.is_dir() and step.isdigit():
            found.append((int(step), path))
    for _, path in sorted(found, reverse=True):
        if (path / "trainer_state.json").is_file():
            return str(path)
        shutil.rmtree(path, ignore_errors=True)
    return None


def resume_point(checkpoints: Path, key: str) -> str | None:
    """The last complete checkpoint of the same run (same data, params and model), or None; stale ones are removed.
    With several processes the main one decides and cleans up first; the others then read the same answer."""
    if distributed.is_main():
        found = _resume_point(checkpoints, key)
    distributed.barrier()
    if not distributed.is_main():
        marker = checkpoints / FINGERPRINT
        same = marker.is_file() and json.loads(marker.read_text()).get("key") == key
        found = last_complete_checkpoint(checkpoints) if same else None
    return found


def _resume_point(checkpoints: Path, key: str) -> str | None:
    marker = checkpoints / FINGERPRINT
    if checkpoints.is_dir():
        same = marker.is_file() and json.loads(marker.read_text()).get("key") == key
        if same:
            last = last_complete_checkpoint(checkpoints)
            if last:
                return last
        else:
            shutil.rmtree(checkpoints)
    checkpoints.mkdir(parents=True, exist_ok=True)
    atomic_write_json(marker, {"key": key})
    return None


def save_final(trainer: Any, tokenizer: Any, out: Path, card: Mapping[str, Any]) -> None:
    """Write the trained model (LoRA merged), tokenizer with chat template and response parser (so plain
    transformers' `tokenizer.parse_response` works on the folder) and a model card to `out`, through a temporary
    folder, so `out` is either the previous model or the complete new one. With several processes (DDP, ZeRO-2:
    every rank holds the whole model) only the main one writes; the others wait until it has."""
    save_model(trainer.model, tokenizer, out, card)


def save_model(model: Any, tokenizer: Any, out: Path, card: Mapping[str, Any], training: bool = False) -> None:
    """save_final's writer for any model; `training`: the model trains on (a kept step), so LoRA adapters are merged
    into a copy and the model itself is left as it is."""
    if distributed.is_main():
        if hasattr(model, "merge_and_unload"):
            model = (copy.deepcopy(model) if training else model).merge_and_unload()
        with atomic_dir(out) as tmp:
            model.save_pretrained(tmp, safe_serialization=True)
            add_response_parsing(tokenizer).save_pretrained(tmp)
            write_card(tmp, {CARD_KEYS.get(k, k): v for k, v in card.items()})
    distributed.barrier()


class KeepSteps(TrainerCallback):
    """At the end of each step in `steps`, the model as it is then, saved whole (save_model) to `staged/<step>` with
    the card `card(state)` (every process calls it, the main one writes)."""

    def __init__(self, steps: Sequence[int], tokenizer: Any, staged: Path, card: Callable[[Any], Mapping[str, Any]]):
        self.steps, self.tokenizer, self.staged, self.card = frozenset(steps), tokenizer, Path(staged), card

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step in self.steps:
            save_model(model, self.tokenizer, self.staged / str(state.global_step), self.card(state), training=True)


def publish_steps(staged: Path, final: Path, steps: Sequence[int]) -> None:
    """Put the kept step models of `staged` into `final` (`<out>/steps`) in one step: it holds the previous run's
    until then, never a mix; `kept.json` lists the steps ([] when none, so the DVC out is never an empty folder). The files are
    hard-linked (copied where links fail), so `staged` stays whole until the checkpoints go: a crash before then
    resumes and publishes again. Main process only."""
    missing = [s for s in steps if not (Path(staged) / str(s) / CARD).is_file()]
    if missing:  # the run ended at another step (refused by the params rules), or the staged folder was removed
        raise ThinkactError(f"sft.keep_steps: no model was kept at step(s) {missing} in {staged}; remove "
                            f"{Path(staged).parent} and rerun the stage (it then trains from the start)")
    with atomic_dir(final) as tmp:
        for step in steps:
            shutil.copytree(Path(staged) / str(step), tmp / str(step), copy_function=_link_or_copy)
        (tmp / KEPT).write_text(json.dumps(sorted(steps)) + "\n", encoding="utf-8")


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def write_card(folder: Path, card: Mapping[str, Any]) -> None:
    """The model card as thinkact-card.json and a README.md listing its plain fields (each file written atomically)."""
    atomic_write_json(Path(folder) / CARD, dict(card))
    lines = [f"# {card.get('stage', 'model')} model", ""] + [f"- **{k}**: `{v}`" for k, v in card.items()
                                                            if not isinstance(v, Mapping)]
    atomic_write_text(Path(folder) / "README.md", "\n".join(lines) + "\n")


def update_card(folder: Path, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Add `fields` to the card of the saved model `folder` (e.g. the training stage's `mlflow_run_id`, known only to
    the stage); returns the card."""
    path = Path(folder) / CARD
    card = {**(json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}), **fields}
    write_card(folder, card)
    return card
