"""The `data:` section of params.yaml — the built-in data set: per-turn examples (`sizes`, `turn_mix`) and agent
episodes (`episode_sizes`, `episode_mix`, written to <data>/episodes/; none when `episode_sizes` is empty) — with
its rules, including the tool domains it holds out (names from thinkact.world.catalog).

    from thinkact.data.params import DataParams
"""
from __future__ import annotations

from dataclasses import dataclass, field

from thinkact.contract import SPLITS, TURN_TYPES
from thinkact.env.spec import EPISODE_KINDS
from thinkact.errors import ConfigError
from thinkact.typed_yaml import no_repeats
from thinkact.world.catalog import DOMAINS, TOOLS


@dataclass(frozen=True)
class DistractorParams:
    min: int = 1
    max: int = 3


@dataclass(frozen=True)
class DataParams:
    seed: int = 0
    sizes: dict[str, int] = field(default_factory=dict)
    held_out_domains: tuple[str, ...] = ()
    distractors: DistractorParams = DistractorParams()
    turn_mix: dict[str, float] = field(default_factory=dict)
    episode_sizes: dict[str, int] = field(default_factory=dict)
    episode_mix: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        if self.seed < 0:
            raise ConfigError("data.seed", "must be >= 0")
        for key, sizes in (("sizes", self.sizes), ("episode_sizes", self.episode_sizes)):
            for split, n in sizes.items():
                if split not in SPLITS:
                    raise ConfigError(f"data.{key}.{split}", f"unknown split; use {', '.join(SPLITS)}")
                if n < 0:
                    raise ConfigError(f"data.{key}.{split}", "must be >= 0")
        for key, mix, known, what in (("turn_mix", self.turn_mix, TURN_TYPES, "turn type"),
                                      ("episode_mix", self.episode_mix, EPISODE_KINDS, "episode kind")):
            for name, share in mix.items():
                if name not in known:
                    raise ConfigError(f"data.{key}.{name}", f"unknown {what}; use {', '.join(known)}")
                if share < 0:
                    raise ConfigError(f"data.{key}.{name}", "must be >= 0")
        if any(self.episode_sizes.values()) and not any(self.episode_mix.values()):
            raise ConfigError("data.episode_mix", "needs a share > 0 for at least one kind when episodes are made")
        if any(self.sizes.values()) and not any(self.turn_mix.values()):
            raise ConfigError("data.turn_mix", "needs a share > 0 for at least one turn type when examples are made")
        if not 0 <= self.distractors.min <= self.distractors.max:
            raise ConfigError("data.distractors", "need 0 <= min <= max")
        self._check_domains()

    def _check_domains(self) -> None:
        no_repeats("data.held_out_domains", self.held_out_domains)
        for i, domain in enumerate(self.held_out_domains):
            if domain not in DOMAINS:
                raise ConfigError(f"data.held_out_domains[{i}]", f"unknown domain {domain!r}; use {', '.join(DOMAINS)}")
        if (self.sizes.get("test_task") or self.episode_sizes.get("test_task")) and not self.held_out_domains:
            raise ConfigError("data.held_out_domains", "test_task is made of held-out domains only: list at least "
                                                       "one, or make test_task 0 in data.sizes and data.episode_sizes")
        train_domains = [d for d in DOMAINS if d not in self.held_out_domains]
        if not train_domains:
            raise ConfigError("data.held_out_domains", "holds out every domain: train would have no tools")
        offered = min(sum(t.domain in train_domains and t.domain != d for t in TOOLS) for d in DOMAINS)
        if self.distractors.max > offered:
            raise ConfigError("data.distractors.max", f"{self.distractors.max} distractor tools, but the domains "
                                                      f"left for train offer as few as {offered} beside an example's own")
