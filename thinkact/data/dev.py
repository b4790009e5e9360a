"""The `dev:` section of params.yaml — a dev split cut from train — and the one function that cuts it.

Recipes (learning rates, GRPO levers, SFT steps) are chosen on a dev split, never on the test splits (issue #23,
item 6): `dev.examples` per-turn rows of <data>/train.jsonl and `dev.episodes` episodes of
<data>/episodes/train.jsonl are held out. The sft and grpo stages train only on the rest (the train rows, the gold
episode cuts of `sft.episode_cuts`, GRPO's turns or episodes and its difficulty pre-pass); the evaluate and register
stages evaluate them as the split `dev`, like any other (`evaluate.splits`, `evaluate.episodes.splits`,
`register.splits`). 0 (the default) holds nothing out: every stage then does exactly what it did without the section.

The cut is a pure function of the items and `dev.seed`: stratified (rows by `turn_type`, episodes by `kind`: each
stratum gets its proportional share, largest remainders first, and at least one item when the count allows it, so
every kind is in dev), and inside a stratum the items whose sha256 of `<seed>:<id>` is smallest — independent of the
file's order, and adding rows never moves the others. Both halves keep the file's order.

    from thinkact.data.dev import DEV, held_rows, kept_rows
    dev_rows = held_rows(params.dev, train)        # the dev split (ConfigError when the cut is off or too large)
    train_rows = kept_rows(params.dev, train)      # what a trainer may see (all of train when the cut is off)
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from thinkact.contract import TRAIN_SPLIT, Example
from thinkact.env.spec import EpisodeSpec
from thinkact.errors import ConfigError

DEV = "dev"  # the split name evaluate and register read the held-out items by
T = TypeVar("T")


@dataclass(frozen=True)
class DevParams:
    """How much of train is held out as the dev split (0: nothing) and the seed of the cut."""

    examples: int = 0    # per-turn rows of <data>/train.jsonl
    episodes: int = 0    # episodes of <data>/episodes/train.jsonl
    seed: int = 0

    @property
    def on(self) -> bool:
        """Whether anything is held out."""
        return bool(self.examples or self.episodes)

    def __post_init__(self):
        for key in ("examples", "episodes", "seed"):
            if getattr(self, key) < 0:
                raise ConfigError(f"dev.{key}", f"must be a whole number >= 0{' (0: off)' if key != 'seed' else ''}, "
                                                f"not {getattr(self, key)}")


def source_split(split: str) -> str:
    """The split whose file a split is read from: `dev` is cut from train; every other split is its own file."""
    return TRAIN_SPLIT if split == DEV else split


def split_file(data: str | Path, split: str) -> Path:
    """<data>/<split>.jsonl, where a split's per-turn rows are read from (`dev`: train.jsonl)."""
    return Path(data) / f"{source_split(split)}.jsonl"


def check_named(settings: DevParams, lists: Mapping[str, tuple[str, Sequence[str]]]) -> None:
    """ConfigError when a splits list names `dev` while its half of the cut is off. `lists`: key -> (what it reads:
    "examples" or "episodes", the splits it names), e.g. {"evaluate.splits": ("examples", ("test_id", "dev"))}."""
    for key, (what, splits) in lists.items():
        if DEV in splits and not getattr(settings, what):
            raise _off(f"{key}[{list(splits).index(DEV)}]", what)


def _off(key: str, what: str) -> ConfigError:
    return ConfigError(key, f"names the split 'dev' but the dev cut is off (dev.{what}: 0); set dev.{what} to the "
                            f"number of train {what} to hold out, or drop 'dev'")


def _allocate(counts: Mapping[str, int], n: int) -> dict[str, int]:
    """n spread over the strata in proportion to their sizes (largest remainders first, ties by name); every stratum
    at least one when n allows it. Never more than a stratum holds."""
    floor = 1 if n >= len(counts) else 0
    rest, room = n - floor * len(counts), {s: c - floor for s, c in counts.items()}
    total = sum(room.values())
    exact = {s: rest * c / total if total else 0.0 for s, c in room.items()}
    alloc = {s: floor + int(e) for s, e in exact.items()}
    left = n - sum(alloc.values())
    for s in sorted(counts, key=lambda s: (-(exact[s] - int(exact[s])), s))[:left]:
        alloc[s] += 1
    return alloc


def cut(items: Sequence[T], n: int, seed: int, stratum: Callable[[T], Any], ident: Callable[[T], str]
        ) -> tuple[list[T], list[T]]:
    """(kept, held): `n` of `items` held out, stratified by `stratum`, chosen by sha256 of `<seed>:<ident>`; both in
    the items' order. Pure: the same items and seed give the same halves."""
    if not 0 <= n <= len(items):
        raise ValueError(f"cannot hold out {n} of {len(items)} items")
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(str(stratum(item)), []).append(i)
    alloc = _allocate({s: len(g) for s, g in groups.items()}, n)

    def rank(i: int) -> tuple[str, int]:
        return hashlib.sha256(f"{seed}:{ident(items[i])}".encode()).hexdigest(), i
    held = {i for s, g in groups.items() for i in sorted(g, key=rank)[:alloc[s]]}
    return [x for i, x in enumerate(items) if i not in held], [x for i, x in enumerate(items) if i in held]


def _split(settings: DevParams, what: str, items: Sequence[Any], stratum: Callable[[Any], Any]
           ) -> tuple[list[Any], list[Any]]:
    n = getattr(settings, what)
    if n > len(items):
        raise ConfigError(f"dev.{what}", f"is {n} but the train split holds {len(items)} {what}; hold out at most "
                                         f"{len(items)}, and leave the trainers some (0: off)")
    return cut(items, n, settings.seed, stratum, lambda x: x.id)


def row_cut(settings: DevParams, rows: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """(kept, held) train rows: `dev.examples` held out, stratified by turn_type."""
    return _split(settings, "examples", rows, lambda ex: ex.turn_type)


def episode_cut(settings: DevParams, specs: Sequence[EpisodeSpec]) -> tuple[list[EpisodeSpec], list[EpisodeSpec]]:
    """(kept, held) train episodes: `dev.episodes` held out, stratified by kind."""
    return _split(settings, "episodes", specs, lambda spec: spec.kind)


def kept_rows(settings: DevParams, rows: Sequence[Example]) -> list[Example]:
    """The train rows a trainer may see: all of them when the cut is off."""
    return row_cut(settings, rows)[0]


def kept_episodes(settings: DevParams, specs: Sequence[EpisodeSpec]) -> list[EpisodeSpec]:
    """The train episodes a trainer may see (GRPO's episodes, SFT's gold cuts): all of them when the cut is off."""
    return episode_cut(settings, specs)[0]


def held_rows(settings: DevParams, rows: Sequence[Example], key: str = "evaluate.splits") -> list[Example]:
    """The dev split's rows; ConfigError naming `key` (the list that named `dev`) when the cut is off."""
    if not settings.examples:
        raise _off(key, "examples")
    return row_cut(settings, rows)[1]


def held_episodes(settings: DevParams, specs: Sequence[EpisodeSpec],
                  key: str = "evaluate.episodes.splits") -> list[EpisodeSpec]:
    """The dev split's episodes; ConfigError naming `key` when the cut is off."""
    if not settings.episodes:
        raise _off(key, "episodes")
    return episode_cut(settings, specs)[1]
