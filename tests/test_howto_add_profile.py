"""docs/how-to-add-a-profile.md: its worked example (an overlay YAML) written into a throwaway copy of the project
syncs into a params file and a pipeline of its own, loads with the overlay's values and the profile's outputs, and a
misspelt key in it is refused naming the key and the profile file. No training."""
from __future__ import annotations

import re
import shutil
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from thinkact import profiles
from thinkact.config import load_params
from thinkact.errors import ConfigError
from thinkact.project import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "how-to-add-a-profile.md"
MARKER = "<!-- worked-example"


def worked_example() -> tuple[str, str]:
    """(profile name, overlay text): the yaml block after the marker, and the file the marker names for it."""
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, f"{DOC} lost its worked-example marker"
    after = text.split(MARKER, 1)[1]
    name = re.match(r"[^\n]*?profiles/([a-z0-9][a-z0-9_-]*)\.yaml[^\n]*-->", after).group(1)
    block = re.search(r"```yaml\n(.*?)```", after, re.S).group(1)
    return name, block


@pytest.fixture
def root(tmp_path):
    """A throwaway project: the repo's params.yaml, dvc.yaml and profile overlays."""
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    (tmp_path / "profiles").mkdir()
    for overlay in (PROJECT_ROOT / "profiles").glob("*.yaml"):
        shutil.copy(overlay, tmp_path / "profiles" / overlay.name)
    return tmp_path


def write(root: Path, name: str, text: str) -> Path:
    path = profiles.overlay_file(name, root)
    path.write_text(text, encoding="utf-8")
    return path


def leaves(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value of every leaf the overlay sets."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(leaves(v, f"{prefix}{k}.") if isinstance(v, dict) and v else {f"{prefix}{k}": v})
    return out


def lookup(params: Any, dotted: str) -> Any:
    """A dotted key's value in loaded Params (dataclass fields, then the open mappings' dict keys)."""
    value = params
    for part in dotted.split("."):
        value = getattr(value, part) if is_dataclass(value) else value[part]
    return value


def test_the_example_is_a_new_profile_of_a_few_keys():
    name, block = worked_example()
    assert profiles.PROFILE_NAME.fullmatch(name) and name not in profiles.available()
    overlay = yaml.safe_load(block)
    assert isinstance(overlay, dict) and 1 <= len(leaves(overlay)) <= 8
    assert f"THINKACT_PROFILE={name}" in DOC.read_text(encoding="utf-8")


def test_sync_writes_its_params_and_pipeline(root):
    name, block = worked_example()
    write(root, name, block)
    assert name in profiles.available(root)
    dvc_file = profiles.write_pipeline(name, root)          # what `thinkact profile sync NAME` does
    params_file = root / "profiles" / name / "params.yaml"
    assert dvc_file == root / "profiles" / name / "dvc.yaml" and dvc_file.is_file() and params_file.is_file()

    base, params = load_params(root / "params.yaml"), load_params(params_file)
    assert params.profile == name
    assert params.paths.outputs == f"{base.paths.outputs}/profiles/{name}"
    for key, value in leaves(yaml.safe_load(block)).items():
        assert lookup(params, key) == value, key
    assert params.sft == base.sft and params.data == base.data and params.model == base.model  # the rest as before
    assert params == profiles.load_profile(name, root)

    stages = yaml.safe_load(dvc_file.read_text(encoding="utf-8"))["stages"]
    assert list(stages) == list(yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"])
    outs = [next(iter(o)) if isinstance(o, dict) else o for s in stages.values() for o in s.get("outs", ())]
    assert outs and all(o.startswith(f"{base.paths.outputs}/profiles/{name}/") or o == f"profiles/{name}/params.yaml"
                        for o in outs)
    assert all(f"THINKACT_PARAMS=profiles/{name}/params.yaml " in s["cmd"] for n, s in stages.items() if n != "check")


@pytest.mark.parametrize("change, key", [
    (lambda b: b.replace("max_examples:", "max_exampels:", 1), "evaluate.max_exampels"),   # a typo
    (lambda b: b + "paths: {outputs: outputs}\n", "paths.outputs"),                        # reserved
    (lambda b: b + "profile: other\n", "profile"),
    (lambda b: b + "data: {seed: 3}\n", "data"),                                           # data without paths.data
])
def test_a_bad_key_is_refused_naming_it_and_the_profile_file(root, change, key):
    name, block = worked_example()
    bad = change(block)
    assert bad != block
    write(root, name, bad)
    with pytest.raises(ConfigError) as err:
        profiles.write_pipeline(name, root)
    assert err.value.key == key and f"profiles/{name}.yaml" in str(err.value)
    assert not (root / "profiles" / name).exists()   # nothing written
