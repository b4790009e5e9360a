"""Named profiles: `profiles/<name>.yaml` holds only the params.yaml keys that differ; the profile runs as its own
DVC pipeline with its own outputs, so no profile's results overwrite another's.

A profile `<name>` is, on disk:

- `profiles/<name>.yaml`, the overlay you write: any key of params.yaml at any depth (a typo stops naming the key
  and the file); inside the open mappings (`*.trainer`, `*.lora`, `grpo.reward_options`, `register.thresholds`)
  new fields are allowed, as in params.yaml. Not allowed: `profile` (the file's name says it) and
  `paths.outputs` (always `<params.yaml's paths.outputs>/profiles/<name>`);
- `profiles/<name>/params.yaml`, written from params.yaml + the overlay (never edit it): every stage of the
  profile reads it (`THINKACT_PARAMS`), and DVC tracks its values per stage as it tracks params.yaml's;
- `profiles/<name>/dvc.yaml` (+ `dvc.lock`), written from dvc.yaml: the same stages, commands and dependencies,
  with the profile's outputs and params file. Written again whenever dvc.yaml or the overlay changes (the flow,
  `scripts/run-pipeline.sh` and `thinkact profile sync` do it; the profile's `check` stage rewrites its
  params.yaml, so `dvc exp run -S profiles/<name>.yaml:key=value` works).

"default" is params.yaml and dvc.yaml themselves. Choose a profile with THINKACT_PROFILE:

    THINKACT_PROFILE=smollm2 bash scripts/run-pipeline.sh          # README command 1 on the profile
    THINKACT_PROFILE=smollm2 python -m flows.pipeline               # the Prefect flow
    thinkact profile sync smollm2 && dvc repro profiles/smollm2/dvc.yaml
    thinkact profile list                                           # the profiles and what each changes
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from thinkact.project import PARAMS_FILE, PROFILE_NAME, PROFILES_DIR, PROJECT_ROOT
from thinkact.config import Params, params_from_raw
from thinkact.errors import ConfigError
from thinkact.io import atomic_write_text

ENV = "THINKACT_PROFILE"
DEFAULT = "default"
PIPELINE_FILE = "dvc.yaml"
# Keys a profile may not set: `profile` is the file's name, `paths.outputs` is derived from it (results apart).
RESERVED = {"profile": "the profile's name is its file's name",
            "paths.outputs": "a profile's outputs are always <paths.outputs>/profiles/<name>, so no profile "
                             "overwrites another's"}
_HEADER = ("# Written by thinkact (thinkact/profiles.py) from {sources}; do not edit: change those and run\n"
           "# `thinkact profile sync {name}` (the flow and the profile's check stage do it too).\n")
_VAR = re.compile(r"\$\{\s*([a-z_.]+)\s*\}")


def active() -> str:
    """The profile THINKACT_PROFILE names ("default" when unset or empty)."""
    return os.environ.get(ENV, "").strip() or DEFAULT


def overlay_file(name: str, root: Path = PROJECT_ROOT) -> Path:
    return Path(root) / PROFILES_DIR / f"{name}.yaml"


def params_file(name: str, root: Path = PROJECT_ROOT) -> Path:
    """The params file a profile's stages read: params.yaml for "default", else profiles/<name>/params.yaml."""
    return Path(root) / PARAMS_FILE if name == DEFAULT else Path(root) / PROFILES_DIR / name / PARAMS_FILE


def pipeline_file(name: str, root: Path = PROJECT_ROOT) -> Path:
    """The DVC pipeline of a profile: dvc.yaml for "default", else profiles/<name>/dvc.yaml."""
    return Path(root) / PIPELINE_FILE if name == DEFAULT else Path(root) / PROFILES_DIR / name / PIPELINE_FILE


def available(root: Path = PROJECT_ROOT) -> list[str]:
    """Every profile: "default" and the names of profiles/*.yaml."""
    folder = Path(root) / PROFILES_DIR
    return [DEFAULT, *sorted(p.stem for p in folder.glob("*.yaml") if p.is_file())] if folder.is_dir() else [DEFAULT]


def _check_name(name: str, root: Path) -> None:
    if name == DEFAULT:
        return
    if not PROFILE_NAME.fullmatch(name):
        raise ConfigError(ENV, f"{name!r} is not a profile name (lower-case letters, digits, '_', '-'); profiles: "
                               f"{', '.join(available(root))}", "environment")
    if not overlay_file(name, root).is_file():
        raise ConfigError(ENV, f"no profile {name!r}: {PROFILES_DIR}/{name}.yaml does not exist; profiles: "
                               f"{', '.join(available(root))}", "environment")


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError("<file>", f"not valid YAML: {e}", str(path)) from None


def read_overlay(name: str, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The keys profiles/<name>.yaml sets, checked against params.yaml's keys ({} for "default")."""
    _check_name(name, root)
    if name == DEFAULT:
        return {}
    path = overlay_file(name, root)
    raw = _read_yaml(path)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("<root>", "a profile is a mapping of params.yaml keys", str(path))
    _check_reserved(raw, path)
    if "data" in raw and "data" not in (raw.get("paths") or {}):
        raise ConfigError("data", "a profile that changes the data set needs a data folder of its own: set "
                                  "paths.data too (then `THINKACT_PROFILE=NAME thinkact data generate`)", str(path))
    return raw


def _check_reserved(raw: dict[str, Any], path: Path) -> None:
    """A profile may not set RESERVED keys; every other key is checked when the merged params load (an unknown
    key's error names params.yaml + this profile file)."""
    for key in RESERVED:
        head, _, leaf = key.partition(".")
        if head in raw and (not leaf or isinstance(raw[head], dict) and leaf in raw[head]):
            raise ConfigError(key, f"a profile cannot set it: {RESERVED[key]}", str(path))


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`base` with `over`'s keys set in it, mappings merged key by key (lists and values replaced)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = merge(base[key], value)
        else:
            out[key] = value
    return out


def profile_raw(name: str, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """params.yaml with the profile's overlay, its name under `profile` and its own outputs folder."""
    overlay = read_overlay(name, root)
    base_path = Path(root) / PARAMS_FILE
    base = _read_yaml(base_path) or {}
    if not isinstance(base, dict):
        raise ConfigError("<root>", "expected a mapping", str(base_path))
    if name == DEFAULT:
        return base
    raw = merge(base, overlay)
    outputs = str((base.get("paths") or {}).get("outputs", "outputs")).rstrip("/")
    raw = {"profile": name, **{k: v for k, v in raw.items() if k != "profile"}}
    raw["paths"] = {**(raw.get("paths") or {}), "outputs": f"{outputs}/{PROFILES_DIR}/{name}"}
    return raw


def load_profile(name: str | None = None, root: Path = PROJECT_ROOT) -> Params:
    """The profile's params, checked (an error names the key and, for a key the overlay sets, the profile file)."""
    name = name or active()
    raw = profile_raw(name, root)
    return params_from_raw(raw, _sources(name))


def _sources(name: str) -> str:
    return PARAMS_FILE if name == DEFAULT else f"{PARAMS_FILE} + {PROFILES_DIR}/{name}.yaml"


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def params_text(name: str, root: Path = PROJECT_ROOT) -> str:
    """The text of profiles/<name>/params.yaml: params.yaml + the overlay, checked first."""
    load_profile(name, root)  # a bad key fails here, before anything is written
    return _HEADER.format(sources=_sources(name), name=name) + _dump(profile_raw(name, root))


def write_params(name: str, root: Path = PROJECT_ROOT) -> Path:
    """Write profiles/<name>/params.yaml (checked first; rewritten only when its text changes) and return it."""
    path = params_file(name, root)
    if name != DEFAULT:
        _write_if_changed(path, params_text(name, root))
    else:
        load_profile(name, root)
    return path


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)


def _substitute(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _VAR.sub(lambda m: variables[m.group(1)], value)
    if isinstance(value, list):
        return [_substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {_substitute(k, variables): _substitute(v, variables) for k, v in value.items()}
    return value


# The stages that run tool calls (the gate replays gold calls; GRPO's episodes and evaluation's play them).
TOOL_STAGES = ("validate", "grpo", "evaluate")


def tool_files(raw: dict[str, Any]) -> list[str]:
    """The files of a profile's own tool set (`episodes.tools` module and schemas, when they are files): the stages
    that run tools depend on them, so changing a tool reruns them."""
    tools = ((raw.get("episodes") or {}).get("tools") or {})
    if tools.get("source") != "python":
        return []
    return [str(f) for f in (tools.get("module"), tools.get("schemas")) if f and str(f).endswith((".py", ".json"))]


def pipeline_for(name: str, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """dvc.yaml rewritten for the profile: paths interpolated with the profile's, each stage run from the project
    root (wdir) on the profile's params file; the check stage also writes that file from params.yaml + overlay;
    the stages that run tools also depend on the profile's tool files (`tool_files`)."""
    root = Path(root)
    raw = profile_raw(name, root)
    tools = tool_files(raw)
    paths = {**{"data": "data", "outputs": "outputs", "models_cache": ".cache/models"}, **(raw.get("paths") or {})}
    variables = {f"paths.{k}": str(v) for k, v in paths.items()}
    source = _read_yaml(root / PIPELINE_FILE) or {}
    rel = f"{PROFILES_DIR}/{name}/{PARAMS_FILE}"
    stages: dict[str, Any] = {}
    for stage, spec in (source.get("stages") or {}).items():
        spec = _substitute(spec, variables)
        out: dict[str, Any] = {"wdir": "../.."}
        for key, value in spec.items():
            if key == "cmd":
                value = (f"python -m tasks.check --profile {name}" if stage == "check"
                         else f"THINKACT_PARAMS={rel} {value}")
            elif key == "params":
                value = [{rel: [str(v) for v in value]}]
            elif key == "deps" and stage == "check":
                value = [d for d in value if d != PARAMS_FILE] + [PARAMS_FILE, f"{PROFILES_DIR}/{name}.yaml"]
            elif key == "deps" and stage in TOOL_STAGES:
                value = list(value) + [f for f in tools if f not in value]
            out[key] = value
        if stage == "check":  # the merged file is the check stage's output: every later stage's params
            out["outs"] = [{rel: {"cache": False, "persist": True}}]
        stages[stage] = out
    return {"stages": stages}


def pipeline_text(name: str, root: Path = PROJECT_ROOT) -> str:
    """The text of profiles/<name>/dvc.yaml (see pipeline_for)."""
    header = _HEADER.format(sources=f"{PIPELINE_FILE} and {PROFILES_DIR}/{name}.yaml", name=name)
    return header + _dump(pipeline_for(name, root))


def write_pipeline(name: str, root: Path = PROJECT_ROOT) -> Path:
    """Write profiles/<name>/params.yaml and dvc.yaml (only what changed); return the dvc.yaml ("default": the
    project's own, untouched)."""
    write_params(name, root)
    path = pipeline_file(name, root)
    if name != DEFAULT:
        _write_if_changed(path, pipeline_text(name, root))
    return path


def changed_keys(name: str, root: Path = PROJECT_ROOT) -> list[str]:
    """The dotted keys a profile sets, for `thinkact profile list`."""
    def walk(d: dict[str, Any], prefix: str) -> list[str]:
        keys = []
        for k, v in d.items():
            keys += walk(v, f"{prefix}{k}.") if isinstance(v, dict) and v else [f"{prefix}{k}"]
        return keys
    return walk(read_overlay(name, root), "")
