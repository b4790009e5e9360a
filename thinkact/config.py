"""params.yaml, loaded once into typed, frozen config objects. Stage code never reads a raw dict.

Each section of params.yaml is a dataclass below; an unknown key, a value of the wrong type (a bool is not a
number; `.nan` and `.inf` are not numbers), a value out of range or a broken cross-field rule raises ConfigError
naming the key and the file. A key left out takes the default below. TRL trainer fields (`sft.trainer`,
`grpo.trainer`) stay plain mappings that pass straight into SFTConfig / GRPOConfig; their well-known fields are
checked here by thinkact.param_checks, and every field against TRL itself when a stage builds the config.
Names that belong to the layers above (reward names and options, evaluation metrics, tool domains) are checked
by thinkact.param_names.check_names, which load_params runs last.

    from thinkact.config import load_params
    params = load_params()            # params.yaml in the project root, or $THINKACT_PARAMS
    params.data.sizes["train"]
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import types
import typing
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Optional

import yaml

from thinkact.contract import SPLITS, TURN_TYPES
from thinkact.errors import ConfigError, ThinkactError
from thinkact.param_checks import (check_lora, check_trainer, cron_problem, shown, tiny_problem,
                                   yaml_hint)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PARAMS_FILE = "params.yaml"
PROFILES_DIR = "profiles"  # profiles/<name>.yaml overlays; profiles/<name>/params.yaml merged (thinkact.profiles)
MODEL_NAMES = ("base", "sft", "grpo")  # the models the pipeline trains and compares


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


@dataclass(frozen=True)
class DistractorParams:
    min: int = 1
    max: int = 3


@dataclass(frozen=True)
class DataParams:
    """The built-in data set: per-turn examples (`sizes`, `turn_mix`) and agent episodes (`episode_sizes`,
    `episode_mix`, written to <data>/episodes/; none when `episode_sizes` is empty)."""

    # What an episode exercises (thinkact.agent.episode, docs/data.md): one call then the answer; a call whose
    # result feeds a second call; parallel calls; a clarifying question first; no tool at all.
    EPISODE_KINDS: ClassVar[tuple[str, ...]] = ("single", "chain", "parallel", "clarify", "no_tool")

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
                                      ("episode_mix", self.episode_mix, self.EPISODE_KINDS, "episode kind")):
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
        for i, domain in enumerate(self.held_out_domains):
            if domain in self.held_out_domains[:i]:
                raise ConfigError(f"data.held_out_domains[{i}]", f"{domain!r} is listed twice")
        if (self.sizes.get("test_task") or self.episode_sizes.get("test_task")) and not self.held_out_domains:
            raise ConfigError("data.held_out_domains", "test_task is made of held-out domains only: list at least "
                                                       "one, or make test_task 0 in data.sizes and data.episode_sizes")


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
    """The `validate` stage: shape bounds of the data set, and how many offending ids a failure lists."""

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


@dataclass(frozen=True)
class ModelParams:
    """The base model: a built-in, a Hugging Face id in the local cache, or a local folder."""

    base: str = "builtin:tiny"
    seed: int = 0
    tiny: dict[str, Any] = field(default_factory=dict)  # thinkact.models.tiny.TinySize fields

    def __post_init__(self):
        if not self.base.strip():
            raise ConfigError("model.base", "name a model: builtin:tiny, builtin:smollm2-135m, a Hugging Face id in "
                                            "the local cache or a folder with a saved model")
        if self.seed < 0:
            raise ConfigError("model.seed", "must be >= 0")
        problem = tiny_problem(self.tiny)  # the rules of thinkact.models.tiny.TinySize, without importing torch
        if problem:
            field_name, what = problem
            raise ConfigError(f"model.tiny.{field_name}" if field_name else "model.tiny", what)


@dataclass(frozen=True)
class SftParams:
    """The `sft` stage. `trainer` passes straight into trl.SFTConfig, `lora` into peft.LoraConfig."""

    with_reasoning: bool = False
    max_examples: int = 0
    cpu_threads: int = 0         # torch threads when training on a CPU; 0: torch's default (one per core)
    lora: Optional[dict[str, Any]] = None
    trainer: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.max_examples < 0:
            raise ConfigError("sft.max_examples", "must be >= 0 (0: the whole train split)")
        if self.cpu_threads < 0:
            raise ConfigError("sft.cpu_threads", "must be >= 0 (0: torch's default)")
        check_lora("sft.lora", self.lora)
        check_trainer("sft.trainer", self.trainer)


@dataclass(frozen=True)
class EpisodesParams:
    """How an agent episode is played (thinkact.agent.rollout), the same in GRPO (`grpo.mode: episodes`) and in the
    evaluate stage's episode evaluation: bounds per episode and tokens per assistant turn."""

    max_turns: int = 4           # assistant text turns (questions, the answer); past it the episode ends, failed
    max_tool_calls: int = 6      # tool calls, valid or not; past it the episode ends, failed
    max_new_tokens: int = 144    # generated tokens per assistant turn

    def __post_init__(self):
        for key in ("max_turns", "max_tool_calls", "max_new_tokens"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ConfigError(f"episodes.{key}", "must be an integer >= 1")


@dataclass(frozen=True)
class PromptParams:
    """What every prompt looks like, the same in every stage, in `thinkact chat` and in the served model (the chat
    template is set from it, and the model folders' cards carry it): an optional system line before the
    conversation (e.g. one asking for a short reasoning first), and how offered tool schemas are written."""

    system: str = ""             # a system line before every conversation that has none; "": none
    tool_json: str = "spaced"    # spaced: json.dumps' default separators (", ", ": "); compact: "," and ":"

    def __post_init__(self):
        if self.tool_json not in TOOL_JSON_STYLES:
            raise ConfigError("prompt.tool_json", f"{self.tool_json!r} is not one of {', '.join(TOOL_JSON_STYLES)}")
        if "\0" in self.system or len(self.system) > 2000 or (self.system and not self.system.strip()):
            raise ConfigError("prompt.system", "must be \"\" (none) or plain text of at most 2,000 characters, not "
                                               "only spaces")


@dataclass(frozen=True)
class LaunchParams:
    """How many processes run the sft, grpo and evaluate stages (thinkact.distributed): 1 is a plain python process;
    more re-run the stage under `accelerate launch` (DDP: gloo on CPUs, NCCL on GPUs, or the accelerate config
    `config_file` names: FSDP, DeepSpeed ZeRO); `timeout_s` bounds how long a process waits for the others."""

    num_processes: int = 1
    config_file: Optional[str] = None
    timeout_s: int = 1800

    def __post_init__(self):
        if self.num_processes < 1:
            raise ConfigError("launch.num_processes", "must be >= 1 (1: one plain process)")
        if self.config_file is not None and (not self.config_file.strip() or "\0" in self.config_file):
            raise ConfigError("launch.config_file", f"must be a file path or null, not {self.config_file!r}")
        if self.config_file is not None and not (Path(self.config_file).is_file()
                                                 or (PROJECT_ROOT / self.config_file).is_file()):
            raise ConfigError("launch.config_file", f"{self.config_file} does not exist (an accelerate config file: "
                                                    "e.g. configs/accelerate/zero2.yaml, or null for DDP)")
        if not 10 <= self.timeout_s <= 86400:
            raise ConfigError("launch.timeout_s", "must be in [10, 86400] seconds")


TOOL_JSON_STYLES = ("spaced", "compact")
GRPO_MODES = ("turns", "episodes")
GRPO_INITS = ("sft", "base")
EVAL_SPLITS = tuple(s for s in SPLITS if s != "train")


def _check_splits(key: str, splits: tuple[str, ...], at_least_one: bool = False) -> None:
    for i, split in enumerate(splits):
        if split not in EVAL_SPLITS:
            raise ConfigError(f"{key}[{i}]", f"unknown evaluation split {split!r}; use {', '.join(EVAL_SPLITS)}")
        if split in splits[:i]:
            raise ConfigError(f"{key}[{i}]", f"{split!r} is listed twice")
    if at_least_one and not splits:
        raise ConfigError(key, f"list at least one of {', '.join(EVAL_SPLITS)}")


@functools.lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())  # what Prefect's scheduler accepts; ~3 ms


@dataclass(frozen=True)
class GrpoParams:
    """The `grpo` stage. `rewards` are registry names (thinkact.rewards), `reward_options` their options by name;
    `trainer` passes straight into trl.GRPOConfig (its `reward_weights` follow the order of `rewards`)."""

    mode: str = "turns"          # turns: one assistant turn per prompt; episodes: whole episodes with tools running
    rewards: tuple[str, ...] = ()
    reward_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    init: str = "sft"            # sft: start from the sft stage's model; base: from model.base (RL without SFT)
    sample_every: int = 10       # steps between completion samples (JSONL artifact); 0: never
    max_examples: int = 0        # 0: the whole train split
    cpu_threads: int = 0         # torch threads when training on a CPU; 0: torch's default (one per core)
    lora: Optional[dict[str, Any]] = None
    trainer: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.mode not in GRPO_MODES:
            raise ConfigError("grpo.mode", f"{self.mode!r} is not one of {', '.join(GRPO_MODES)}")
        if self.init not in GRPO_INITS:
            raise ConfigError("grpo.init", f"{self.init!r} is not one of {', '.join(GRPO_INITS)}")
        if self.cpu_threads < 0:
            raise ConfigError("grpo.cpu_threads", "must be >= 0 (0: torch's default)")
        if self.sample_every < 0:
            raise ConfigError("grpo.sample_every", "must be >= 0 (0: no samples)")
        if self.max_examples < 0:
            raise ConfigError("grpo.max_examples", "must be >= 0 (0: the whole train split)")
        for i, name in enumerate(self.rewards):
            if name in self.rewards[:i]:
                raise ConfigError("grpo.rewards", f"{name!r} is listed twice")
        check_lora("grpo.lora", self.lora)
        check_trainer("grpo.trainer", self.trainer)


@dataclass(frozen=True)
class BootstrapParams:
    """Bootstrap confidence intervals (scipy.stats.bootstrap) for every metric and paired delta."""

    n_resamples: int = 2000
    confidence: float = 0.95
    seed: int = 0
    method: str = "BCa"

    def __post_init__(self):
        if self.seed < 0:
            raise ConfigError("evaluate.bootstrap.seed", "must be >= 0")
        if self.n_resamples < 100:
            raise ConfigError("evaluate.bootstrap.n_resamples", "must be >= 100")
        if not 0.5 <= self.confidence < 1:
            raise ConfigError("evaluate.bootstrap.confidence", "must be in [0.5, 1)")
        if self.method not in ("BCa", "percentile", "basic"):
            raise ConfigError("evaluate.bootstrap.method", "use BCa, percentile or basic")

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of thinkact.evaluation.stats (bootstrap_ci, paired_delta)."""
        return {"n_resamples": self.n_resamples, "confidence": self.confidence, "seed": self.seed,
                "method": self.method}


@dataclass(frozen=True)
class EpisodeEvalParams:
    """The evaluate stage's episode evaluation (thinkact.evaluation.episodes): greedy success (pass^1) and pass^k
    (k samples at `temperature`, all must succeed) on <data>/episodes/<split>.jsonl; no splits: none."""

    splits: tuple[str, ...] = ()
    max_examples: int = 0        # episodes per split, the first N in file order; 0: all
    k: int = 3                   # samples per episode for pass^k
    temperature: float = 0.7     # sampling temperature for pass^k

    def __post_init__(self):
        _check_splits("evaluate.episodes.splits", self.splits)
        if self.max_examples < 0:
            raise ConfigError("evaluate.episodes.max_examples", "must be >= 0 (0: all)")
        if self.k < 1:
            raise ConfigError("evaluate.episodes.k", "must be >= 1")
        if not 0 < self.temperature <= 5:
            raise ConfigError("evaluate.episodes.temperature", "must be in (0, 5]")


@dataclass(frozen=True)
class BfclEvalParams:
    """The Berkeley Function Calling Leaderboard in the evaluate stage: each category (thinkact.importers.bfcl,
    read from the installed bfcl-eval package) becomes one more split, `bfcl_<category>`, of the tool-call
    metrics; none: no BFCL."""

    categories: tuple[str, ...] = ()
    max_examples: int = 0        # per category, the first N in file order; 0: all

    def __post_init__(self):
        for i, name in enumerate(self.categories):
            if name in self.categories[:i]:
                raise ConfigError(f"evaluate.bfcl.categories[{i}]", f"{name!r} is listed twice")
        if self.max_examples < 0:
            raise ConfigError("evaluate.bfcl.max_examples", "must be >= 0 (0: all)")


@dataclass(frozen=True)
class EvaluateParams:
    """The `evaluate` stage: which models on which splits, how much, and how generation runs."""

    models: tuple[str, ...] = ("base", "sft", "grpo")
    splits: tuple[str, ...] = ("test_id", "test_env", "test_task")
    max_examples: int = 0        # per split, the first N in file order; 0: all
    max_new_tokens: int = 128
    batch_size: int = 16
    cpu_threads: int = 0         # torch threads on a CPU; 0: torch's default
    use_vllm: bool = False       # generate with vLLM (CUDA machines with vllm installed)
    bootstrap: BootstrapParams = BootstrapParams()
    episodes: EpisodeEvalParams = EpisodeEvalParams()
    bfcl: BfclEvalParams = BfclEvalParams()

    def __post_init__(self):
        for i, model in enumerate(self.models):
            if model not in MODEL_NAMES:
                raise ConfigError(f"evaluate.models[{i}]", f"unknown model {model!r}; use {', '.join(MODEL_NAMES)}")
            if model in self.models[:i]:
                raise ConfigError(f"evaluate.models[{i}]", f"{model!r} is listed twice")
        if not self.models:
            raise ConfigError("evaluate.models", f"list at least one of {', '.join(MODEL_NAMES)}")
        _check_splits("evaluate.splits", self.splits, at_least_one=True)
        for key in ("max_examples", "cpu_threads"):
            if getattr(self, key) < 0:
                raise ConfigError(f"evaluate.{key}", "must be >= 0")
        for key in ("max_new_tokens", "batch_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"evaluate.{key}", "must be >= 1")


MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # a registered model's name: safe in paths and URIs


@dataclass(frozen=True)
class RegisterParams:
    """The `register` stage: registry name and the promotion gate (challenger vs champion, paired bootstrap)."""

    model_name: str = "thinkact-agent"
    primary_metric: str = "tool_call"                  # a metric of `thinkact rewards list` / metrics.json
    splits: tuple[str, ...] = ("test_id", "test_env", "test_task")  # pooled for the gate
    min_improvement: float = 0.0                       # promote when the delta's lower CI bound is above this
    thresholds: dict[str, float] = field(default_factory=dict)  # first champion: pooled mean >= each value

    def __post_init__(self):
        if not MODEL_NAME.fullmatch(self.model_name):
            raise ConfigError("register.model_name", f"{self.model_name!r}: use letters, digits, '.', '_' and '-' "
                                                     "only, starting with a letter or digit (at most 100)")
        _check_splits("register.splits", self.splits, at_least_one=True)


@dataclass(frozen=True)
class ScheduleParams:
    """The scheduled Prefect deployment (flows/): when the pipeline reruns (an unchanged stage is skipped)."""

    cron: str = "0 3 * * *"
    timezone: str = "UTC"

    def __post_init__(self):
        problem = cron_problem(self.cron)
        if problem:
            raise ConfigError("schedule.cron", problem)
        if self.timezone not in _timezones():
            raise ConfigError("schedule.timezone", f"{self.timezone!r} is not an IANA time zone; e.g. UTC or "
                                                   "Europe/Berlin")


PROFILE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")  # profiles/<name>.yaml: safe in paths, tags and dvc.yaml


@dataclass(frozen=True)
class Params:
    # Which profile these are (thinkact.profiles): "default" for params.yaml itself; the merged params of a
    # profile say its name. Not a key to set by hand: choose a profile with THINKACT_PROFILE.
    profile: str = "default"
    paths: PathsParams = PathsParams()
    data: DataParams = DataParams()
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


def _coerce(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if value is None:  # `sft:` with nothing under it: an indentation slip more often than a wish for defaults
            raise ConfigError(key, "is empty: give its keys, or leave it out for the defaults")
        return _build(hint, value, key)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        return _coerce(value, next(a for a in args if a is not type(None)), key)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a mapping, got {shown(value)}")
        _, vt = typing.get_args(hint)
        return {k: _coerce(v, vt, f"{key}.{k}") for k, v in value.items()}
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key, f"expected a list, got {shown(value)}")
        item = typing.get_args(hint)[0]
        return tuple(_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        hint_text = yaml_hint(value) if hint in (int, float) and isinstance(value, str) else ""
        raise ConfigError(key, f"expected {hint.__name__}, got {shown(value)}{hint_text}")
    if hint is float and not math.isfinite(value):
        raise ConfigError(key, f"must be a finite number, not {value!r}")
    return value


def _build(cls: type, raw: Any, prefix: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(prefix or "<root>", f"expected a mapping, got {shown(raw)}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            where = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(where, f"unknown key; known keys here: {', '.join(sorted(names))}")
    kwargs = {k: _coerce(v, hints[k], f"{prefix}.{k}" if prefix else k) for k, v in raw.items()}
    return cls(**kwargs)


# LibYAML's safe loader when PyYAML has it: the same YAML 1.1 safe rules as yaml.safe_load, ~10x faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def params_path() -> Path:
    """$THINKACT_PARAMS; else, when THINKACT_PROFILE names a profile, its merged file profiles/<name>/params.yaml
    (thinkact.profiles writes it) — except inside a stage of the project's own dvc.yaml, which is the default
    profile whatever the shell says; else params.yaml in the project root."""
    if os.environ.get("THINKACT_PARAMS"):
        return Path(os.environ["THINKACT_PARAMS"])
    profile = os.environ.get("THINKACT_PROFILE", "").strip()
    in_root_pipeline = bool(os.environ.get("DVC_STAGE")) and ":" not in os.environ["DVC_STAGE"]
    if profile and profile != "default" and not in_root_pipeline:
        path = PROJECT_ROOT / PROFILES_DIR / profile / PARAMS_FILE
        if not path.is_file():
            raise ConfigError("THINKACT_PROFILE", f"{path} is not written yet: run `thinkact profile sync {profile}` "
                                                  "(the flow does it); `thinkact profile list` shows the profiles",
                              "environment")
        return path
    return PROJECT_ROOT / PARAMS_FILE


def load_params(path: str | os.PathLike | None = None) -> Params:
    """Read and check params.yaml; any problem raises ConfigError naming the key."""
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
    try:
        params = _build(Params, raw, "")
        grpo = raw.get("grpo") if isinstance(raw, dict) else None
        if isinstance(grpo, dict) and "rewards" in grpo and not params.grpo.rewards:  # left out: the stage says so
            raise ConfigError("grpo.rewards", "list at least one reward (`thinkact rewards list` shows them)")
        from thinkact.param_names import check_names  # the names defined above config (see there)

        check_names(params)
    except ConfigError as e:  # name the file actually read
        raise ConfigError(e.key, e.problem, source) from None
    return params
