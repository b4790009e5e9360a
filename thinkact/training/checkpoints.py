"""Checkpoints that survive a crash and the final model written atomically.

A stage's checkpoints folder carries a fingerprint of its run (data, params, model); a rerun with the same
fingerprint resumes from the newest complete checkpoint, any other run starts afresh. The final model (LoRA merged),
its tokenizer with the chat template and a small model card replace the previous model folder in one step.

    from thinkact.training.checkpoints import fingerprint, resume_point, save_final
"""
from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from thinkact.chat_template import add_response_parsing
from thinkact.io import atomic_dir, atomic_write_json, atomic_write_text

FINGERPRINT = "thinkact-run.json"  # in a checkpoints folder: which run its checkpoints belong to


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
    """The last complete checkpoint of the same run (same data, params and model), or None; stale ones are removed."""
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
    folder, so `out` is either the previous model or the complete new one."""
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        add_response_parsing(tokenizer).save_pretrained(tmp)
        atomic_write_json(tmp / "thinkact-card.json", dict(card))
        lines = [f"# {card.get('stage', 'model')} model", ""] + [f"- **{k}**: `{v}`" for k, v in card.items()
                                                                if not isinstance(v, Mapping)]
        atomic_write_text(tmp / "README.md", "\n".join(lines) + "\n")
