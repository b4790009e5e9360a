"""The `validate:` section of params.yaml — the data gate's shape bounds and how many offending ids a failure lists.

    from thinkact.validation.params import ValidateParams
"""
from __future__ import annotations

from dataclasses import dataclass, field

from thinkact.contract import SPLITS, TURN_TYPES
from thinkact.errors import ConfigError


@dataclass(frozen=True)
class CountRange:
    """Inclusive bounds on a number of rows."""

    min: int = 0
    max: int = 1_000_000_000


@dataclass(frozen=True)
class ShareRange:
    """Inclusive bounds on a share (0..1)."""

    min: float = 0.0
    max: float = 1.0


@dataclass(frozen=True)
class ValidateParams:
    rows: dict[str, CountRange] = field(default_factory=dict)         # rows per split
    turn_share: dict[str, ShareRange] = field(default_factory=dict)   # share of each turn type, every split
    show_ids: int = 10                                                # offending ids listed per failure

    def __post_init__(self):
        for split, r in self.rows.items():
            if split not in SPLITS:
                raise ConfigError(f"validate.rows.{split}", f"unknown split; use {', '.join(SPLITS)}")
            if not 0 <= r.min <= r.max:
                raise ConfigError(f"validate.rows.{split}", "need 0 <= min <= max")
        for turn, r in self.turn_share.items():
            if turn not in TURN_TYPES:
                raise ConfigError(f"validate.turn_share.{turn}", f"unknown turn type; use {', '.join(TURN_TYPES)}")
            if not 0 <= r.min <= r.max <= 1:
                raise ConfigError(f"validate.turn_share.{turn}", "need 0 <= min <= max <= 1")
        if self.show_ids < 0:
            raise ConfigError("validate.show_ids", "must be >= 0")
