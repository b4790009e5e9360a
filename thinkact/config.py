"""params.yaml: one typed, frozen `Params`, composed of the sections each layer owns, loaded and checked at once.

Each section is a dataclass in the layer that uses it, with that layer's rules (thinkact.typed_yaml reads YAML into
it; an unknown key, a wrong type, a value out of range, an unknown reward, metric, domain or BFCL category raises
ConfigError naming the key and the file):

| key | section | owner |
|---|---|---|
| `paths`, `schedule`, `profile` | PathsParams, ScheduleParams | here (the project's) |
| `data` | DataParams | thinkact.data.params (domains from thinkact.world) |
| `dev` | DevParams | thinkact.data.dev (the dev split cut from train) |
| `validate` | ValidateParams | thinkact.validation.params |
| `model` | ModelParams, TinySize | thinkact.models.params |
| `sft`, `grpo` | SftParams, GrpoParams | thinkact.training.params (rewards: thinkact.rewards) |
| `prompt` | PromptParams | thinkact.chat_format.prompt |
| `launch` | LaunchParams | thinkact.distributed |
| `episodes` | EpisodesParams | thinkact.env.settings |
| `evaluate` | EvaluateParams | thinkact.evaluation.params (BFCL: thinkact.importers.bfcl) |
| `register` | RegisterParams | thinkact.promotion.params (metrics: thinkact.evaluation.metrics) |

This module stands above those layers (it composes them); code below it takes `Params` as a type only. What only
TRL or PEFT knows (a trainer field's name and type, TRL's cross-field rules) is checked by building their config
objects (thinkact.training.trl_config.check_trainers), which the `check` stage runs before any other stage.

    from thinkact.config import load_params
    params = load_params()            # params.yaml in the project root, or $THINKACT_PARAMS / $THINKACT_PROFILE
"""
from __future__ import annotations

import functools
import os
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from cronsim import CronSim, CronSimError

from thinkact.chat_format.prompt import PromptParams
from thinkact.data.dev import DevParams, check_named
from thinkact.data.params import DataParams
from thinkact.distributed import LaunchParams
from thinkact.env.settings import EpisodesParams
from thinkact.errors import ConfigError, ThinkactError
from thinkact.evaluation.params import MODEL_NAMES, EvaluateParams
from thinkact.models.params import ModelParams
from thinkact.project import PARAMS_FILE, PROFILE_NAME, PROFILES_DIR, PROJECT_ROOT, params_path
from thinkact.promotion.params import RegisterParams
from thinkact.training.params import GrpoParams, SftParams, check_start
from thinkact.typed_yaml import build, shown
from thinkact.validation.params import ValidateParams

__all__ = ["MODEL_NAMES", "PARAMS_FILE", "PROFILES_DIR", "PROFILE_NAME", "PROJECT_ROOT", "Params", "PathsParams",
           "ScheduleParams", "load_params", "params_from_raw", "params_path"]


@dataclass(frozen=True)
class PathsParams:
    data: str = "data"
    outputs: str = "outputs"
    models_cache: str = ".cache/models"

    def __post_init__(self):
        for key in ("data", "outputs", "models_cache"):
            value = getattr(self, key)
            if not value.strip() or "\0" in value:
                raise ConfigError(f"paths.{key}", f"must be a folder path, not {value!r}")
            if ".." in Path(value).parts:  # a stage writes and deletes under these: no climbing out of them
                raise ConfigError(f"paths.{key}", f"{value!r} has a '..' part; name the folder without it")

    def stage_dir(self, stage: str) -> Path:
        """outputs/<stage>: where a stage writes everything it produces."""
        return Path(self.outputs) / stage

    def stage_model(self, stage: str) -> Path:
        """outputs/<stage>/model, the model a training stage saved; ThinkactError when that stage has not run."""
        folder = self.stage_dir(stage) / "model"
        if not (folder / "config.json").is_file():
            raise ThinkactError(f"model '{stage}': {folder} has no saved model; run its stage first "
                                f"(dvc repro {stage}, or python -m tasks.{stage})")
        return folder


CRON_NICKNAMES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


@functools.lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())  # what Prefect's scheduler accepts; ~3 ms


@dataclass(frozen=True)
class ScheduleParams:
    """The scheduled Prefect deployment (flows/serve.py): when the pipeline reruns (an unchanged stage is skipped).
    `cron`: 5 fields (minute hour day-of-month month day-of-week) or a nickname such as @daily, read by cronsim."""

    cron: str = "0 3 * * *"
    timezone: str = "UTC"

    def __post_init__(self):
        if self.cron.strip().lower() not in CRON_NICKNAMES:
            try:
                if len(self.cron.split()) != 5:  # cronsim also reads a 6th (seconds) field; Prefect's schedules do not
                    raise CronSimError(f"{len(self.cron.split())} fields, not 5")
                CronSim(self.cron, datetime(2026, 1, 1))
            except CronSimError as e:
                raise ConfigError("schedule.cron", f"{self.cron!r} is not a cron expression ({e}); 5 fields: minute "
                                                   "hour day-of-month month day-of-week, e.g. \"0 3 * * *\"") from None
        if self.timezone not in _timezones():
            raise ConfigError("schedule.timezone", f"{self.timezone!r} is not an IANA time zone; e.g. UTC or "
                                                   "Europe/Berlin")


@dataclass(frozen=True)
class Params:
    # Which profile these are (thinkact.profiles): "default" for params.yaml itself; the merged params of a
    # profile say its name. Not a key to set by hand: choose a profile with THINKACT_PROFILE.
    profile: str = "default"
    paths: PathsParams = PathsParams()
    data: DataParams = DataParams()
    dev: DevParams = DevParams()
    validate: ValidateParams = ValidateParams()
    model: ModelParams = ModelParams()
    sft: SftParams = SftParams()
    prompt: PromptParams = PromptParams()
    launch: LaunchParams = LaunchParams()
    episodes: EpisodesParams = EpisodesParams()
    grpo: GrpoParams = GrpoParams()
    evaluate: EvaluateParams = EvaluateParams()
    register: RegisterParams = RegisterParams()
    schedule: ScheduleParams = ScheduleParams()

    def __post_init__(self):
        if not PROFILE_NAME.fullmatch(self.profile):
            raise ConfigError("profile", f"{self.profile!r}: a profile name is lower-case letters, digits, '_' and "
                                         "'-' (at most 40), as in profiles/<name>.yaml")
        check_start(self.sft, self.grpo)  # grpo.init: sft@<step> names a step of sft.keep_steps (the owner's rule)
        check_named(self.dev, {"evaluate.splits": ("examples", self.evaluate.splits),  # 'dev' needs the cut on
                               "evaluate.episodes.splits": ("episodes", self.evaluate.episodes.splits),
                               "register.splits": ("examples", self.register.splits)})


# LibYAML's safe loader when PyYAML has it: the same YAML 1.1 safe rules as yaml.safe_load, ~10x faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_params(path: str | os.PathLike | None = None) -> Params:
    """Read and check params.yaml (`params_path()` when no path is given); any problem raises ConfigError naming
    the key and the file."""
    p = Path(path) if path else params_path()
    if not p.is_file():
        raise ConfigError("<file>", "not found; run from the project root or set THINKACT_PARAMS", str(p))
    try:
        raw = yaml.load(p.read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {}
    except yaml.YAMLError as e:
        raise ConfigError("<file>", f"not valid YAML: {e}", str(p)) from None
    return params_from_raw(raw, str(p))


def params_from_raw(raw: Any, source: str) -> Params:
    """Check a params mapping (as read from YAML) into Params; a problem raises ConfigError naming the key and
    `source` (the file, or the files a profile was merged from)."""
    if not isinstance(raw, dict):
        raise ConfigError("<root>", f"expected a mapping, got {shown(raw)}", source)
    try:
        return build(Params, raw)
    except ConfigError as e:  # name the file actually read
        raise ConfigError(e.key, e.problem, source) from None
