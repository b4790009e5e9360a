"""Write a generated data set to a folder atomically: <split>.jsonl per split plus manifest.json.

The manifest holds counts per split and turn type and a sha256 per file, never a timestamp, so the same
params give byte-identical folders (and the md5 in data.dvc matches on every machine).
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

from thinkact.config import DataParams
from thinkact.data.generator import generate
from thinkact.io import atomic_dir

MANIFEST = "manifest.json"


def write_dataset(out_dir: str | Path, params: DataParams) -> dict[str, Any]:
    """Generate every split into `out_dir` (replaced as a whole, only on success); returns the manifest."""
    manifest: dict[str, Any] = {"generator": "thinkact.builtin", "seed": params.seed, "splits": {}}
    with atomic_dir(out_dir) as tmp:
        for split, examples in generate(params):
            text = "".join(ex.to_json() + "\n" for ex in examples).encode("utf-8")
            (tmp / f"{split}.jsonl").write_bytes(text)
            manifest["splits"][split] = {
                "file": f"{split}.jsonl",
                "examples": len(examples),
                "sha256": hashlib.sha256(text).hexdigest(),
                "turn_types": dict(sorted(Counter(ex.turn_type for ex in examples).items())),
                "domains": dict(sorted(Counter(ex.domain for ex in examples).items())),
            }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest
