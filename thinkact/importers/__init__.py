"""Importers: turn public function-calling data into contract JSONL (thinkact/contract.py).

- `bfcl`: the Berkeley Function Calling Leaderboard single-turn categories, read from the installed
  bfcl-eval package (`import_bfcl(category)`, `bfcl_categories()`).
- `openai`: OpenAI/Hermes-style chat JSONL, one example per assistant turn (`import_openai(path)`); with
  `openai_episodes`, also one agent episode per conversation that has an episode's shape
  (`import_openai_episodes(path)`, `import_with_episodes`).

    thinkact data import --format bfcl --category parallel --out bfcl_parallel.jsonl
    thinkact data import --format openai conversations.jsonl --out imported.jsonl
    thinkact data import chats.jsonl --out data/train.jsonl --episodes data/episodes/train.jsonl --split train
"""
from __future__ import annotations

import os
from pathlib import Path

from thinkact.contract import write_jsonl
from thinkact.errors import ThinkactError
from thinkact.io import atomic_write_text, output_file
from thinkact.importers.bfcl import bfcl_categories, import_bfcl
from thinkact.importers.openai import import_openai
from thinkact.importers.openai_episodes import Imported, episode_lines, import_openai_episodes

FORMATS = ("bfcl", "openai")


def import_to_file(fmt: str, out: str | os.PathLike, *, category: str | None = None,
                   source: str | os.PathLike | None = None, split: str | None = None,
                   domain: str | None = None) -> int:
    """Import `category` (bfcl) or the file `source` (openai) and write contract JSONL atomically to `out`;
    returns the number of examples written. `split` overrides each importer's default split; `domain` (openai)
    the file stem as each example's domain."""

    output_file(out, create=False)  # a folder at `out` fails now, not after the import
    kwargs = {} if split is None else {"split": split}
    if fmt == "bfcl":
        if not category:
            raise ThinkactError(f"the bfcl format needs a category, one of: {', '.join(bfcl_categories())}")
        examples = import_bfcl(category, **kwargs)
    elif fmt == "openai":
        if source is None:
            raise ThinkactError("the openai format needs an input JSONL file")
        examples = import_openai(source, domain=domain, **kwargs)
    else:
        raise ThinkactError(f"unknown import format {fmt!r}; valid: {', '.join(FORMATS)}")
    return write_jsonl(out, examples)


def import_with_episodes(source: str | os.PathLike, out: str | os.PathLike, episodes: str | os.PathLike, *,
                         split: str | None = None, domain: str | None = None) -> Imported:
    """Import the OpenAI-style chat file `source`: its turns to `out` (contract JSONL) and its episodes to
    `episodes` (EpisodeSpec JSONL), both written atomically once the whole file was read (a malformed line raises
    DataError and writes nothing). Returns what was imported, with the conversations that are not episodes."""
    if Path(out).resolve() == Path(episodes).resolve():
        raise ThinkactError(f"{out}: the turns and the episodes need two different files")
    output_file(out, create=False)
    output_file(episodes, create=False)
    found = import_openai_episodes(source, split or "train", domain)
    write_jsonl(out, found.examples)
    atomic_write_text(episodes, episode_lines(found.episodes))
    return found
