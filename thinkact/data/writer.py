"""Write a generated data set to a folder atomically: <split>.jsonl per split, episodes/<split>.jsonl per split
with episodes (`data.episode_sizes`), and manifest.json.

The manifest holds counts per split and turn type (per split and episode kind for episodes) and a sha256 per
file, never a timestamp, so the same params give byte-identical folders (and the md5 in data.dvc matches on
every machine).
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

from thinkact.env.spec import EPISODES_DIR
from thinkact.data.params import DataParams
from thinkact.data.episode_gen import generate_episodes
from thinkact.data.generator import generate
from thinkact.io import atomic_dir

MANIFEST = "manifest.json"


def _write(path: Path, lines: list[str]) -> str:
    """Write JSONL lines; returns the file's sha256."""
    text = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(text)
    return hashlib.sha256(text).hexdigest()


def _counts(values: Any) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def write_dataset(out_dir: str | Path, params: DataParams) -> dict[str, Any]:
    """Generate every split into `out_dir` (replaced as a whole, only on success); returns the manifest."""
    manifest: dict[str, Any] = {"generator": "thinkact.builtin", "seed": params.seed, "splits": {}}
    with atomic_dir(out_dir) as tmp:
        for split, examples in generate(params):
            manifest["splits"][split] = {
                "file": f"{split}.jsonl",
                "examples": len(examples),
                "sha256": _write(tmp / f"{split}.jsonl", [ex.to_json() for ex in examples]),
                "turn_types": _counts(ex.turn_type for ex in examples),
                "domains": _counts(ex.domain for ex in examples),
            }
        for split, specs in generate_episodes(params):
            (tmp / EPISODES_DIR).mkdir(exist_ok=True)
            manifest.setdefault("episodes", {})[split] = {
                "file": f"{EPISODES_DIR}/{split}.jsonl",
                "episodes": len(specs),
                "sha256": _write(tmp / EPISODES_DIR / f"{split}.jsonl", [s.to_json() for s in specs]),
                "kinds": _counts(s.kind for s in specs),
                "domains": _counts(s.domain for s in specs),
            }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest
