"""Named profiles (thinkact.profiles): overlays checked key by key, merged params, a pipeline of their own, the
shipped profiles' generated files up to date, the prompt settings every stage shares, grpo.init."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from thinkact import profiles
from thinkact.chat_format.template import chat_template
from thinkact.project import PROJECT_ROOT, params_path
from thinkact.config import load_params
from thinkact.errors import ConfigError

SHIPPED = ["default", "gpu-qwen3", "quick", "smollm2", "units"]


@pytest.fixture
def root(tmp_path):
    """A project folder with the repo's params.yaml and dvc.yaml and a profiles/ folder to write overlays into."""
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    (tmp_path / "profiles").mkdir()
    return tmp_path


def overlay(root: Path, name: str, text: str) -> Path:
    path = root / "profiles" / f"{name}.yaml"
    path.write_text(text)
    return path


def test_the_shipped_profiles_load_and_keep_their_outputs_apart():
    assert profiles.available() == SHIPPED
    outputs = {name: profiles.load_profile(name).paths.outputs for name in SHIPPED}
    assert outputs["default"] == "outputs"
    assert all(outputs[n] == f"outputs/profiles/{n}" for n in SHIPPED[1:])
    assert profiles.load_profile("smollm2").model.base == "builtin:smollm2-135m"
    assert profiles.load_profile("quick").profile == "quick" and load_params().profile == "default"


@pytest.mark.parametrize("name", SHIPPED[1:])
def test_the_committed_generated_files_are_up_to_date(name):
    """profiles/<name>/params.yaml and dvc.yaml are what `thinkact profile sync` writes: a change to params.yaml,
    dvc.yaml or the overlay without a sync fails here."""
    assert profiles.params_file(name).read_text() == profiles.params_text(name), f"run: thinkact profile sync {name}"
    assert profiles.pipeline_file(name).read_text() == profiles.pipeline_text(name), f"run: thinkact profile sync {name}"


def test_an_overlay_changes_only_its_keys(root):
    overlay(root, "mine", "grpo:\n  init: base\n  trainer: {learning_rate: 1.0e-4, vllm_mode: colocate}\n"
                          "prompt: {system: Think first.}\n")
    base, mine = load_params(root / "params.yaml"), profiles.load_profile("mine", root)
    assert mine.grpo.init == "base" and mine.prompt.system == "Think first."
    assert mine.grpo.trainer["learning_rate"] == 1e-4 and mine.grpo.trainer["vllm_mode"] == "colocate"  # a TRL field
    assert mine.grpo.trainer["num_generations"] == base.grpo.trainer["num_generations"]    # kept from params.yaml
    assert mine.sft == base.sft and mine.data == base.data
    assert mine.paths.outputs == "outputs/profiles/mine" and mine.profile == "mine"


@pytest.mark.parametrize("text, key", [
    ("grpo:\n  trainr: {max_steps: 3}\n", "grpo.trainr"),          # a typo
    ("sft:\n  lora_rank: 8\n", "sft.lora_rank"),
    ("nonsense: 1\n", "nonsense"),
    ("profile: other\n", "profile"),                              # the file's name is the profile's
    ("paths:\n  outputs: outputs\n", "paths.outputs"),             # would overwrite the default's results
    ("data:\n  seed: 3\n", "data"),                                # another data set needs its own paths.data
    ("grpo:\n  init: bogus\n", "grpo.init"),                       # a value check, as in params.yaml
    ("model: builtin:tiny\n", "model"),                            # not a mapping where params.yaml has one
    # an arm the model cannot run (issue #24): a start checkpoint sft does not keep, a thought with no think block
    ("grpo:\n  init: sft@7\n", "grpo.init"),
    ("prompt:\n  think_start: The user wants\n", "prompt.think_start"),
    ("model:\n  cpu_dtype: float16\n", "model.cpu_dtype"),
])
def test_a_bad_overlay_key_names_the_key_and_the_profile_file(root, text, key):
    overlay(root, "bad", text)
    with pytest.raises(ConfigError) as err:
        profiles.load_profile("bad", root)
    assert err.value.key == key
    assert "profiles/bad.yaml" in str(err.value)


def test_an_unknown_profile_lists_the_profiles(root):
    overlay(root, "mine", "{}\n")
    for name in ("nope", "Bad Name"):
        with pytest.raises(ConfigError, match="profiles: default, mine"):
            profiles.load_profile(name, root)


def test_the_profile_pipeline_mirrors_dvc_yaml(root):
    overlay(root, "mine", "grpo: {init: base}\n")
    source = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    stages = profiles.pipeline_for("mine", root)["stages"]
    assert list(stages) == list(source)
    rel = "profiles/mine/params.yaml"
    for name, stage in stages.items():
        assert stage["wdir"] == "../.."
        text = yaml.safe_dump(stage)
        assert "${" not in text and "outputs/profiles/mine/" in text or name == "check"
        assert f"THINKACT_PARAMS={rel} " in stage["cmd"] or stage["cmd"] == "python -m tasks.check --profile mine"
        if "params" in source[name]:
            assert stage["params"] == [{rel: [str(p) for p in source[name]["params"]]}]
    assert "profiles/mine.yaml" in stages["check"]["deps"] and rel in stages["check"]["outs"][0]
    for out in stages["sft"]["outs"]:
        assert next(iter(out)).startswith("outputs/profiles/mine/")


def test_sync_writes_only_what_changed(root):
    overlay(root, "mine", "grpo: {init: base}\n")
    path = profiles.write_pipeline("mine", root)
    params = profiles.params_file("mine", root)
    stamps = path.stat().st_mtime_ns, params.stat().st_mtime_ns
    os.utime(path, ns=(1, 1))
    os.utime(params, ns=(1, 1))
    profiles.write_pipeline("mine", root)   # same text: untouched (DVC sees no change)
    assert path.stat().st_mtime_ns == 1 and params.stat().st_mtime_ns == 1 and stamps[0] > 1
    overlay(root, "mine", "grpo: {init: sft}\n")
    profiles.write_pipeline("mine", root)
    assert yaml.safe_load(params.read_text())["grpo"]["init"] == "sft"


def test_thinkact_profile_selects_the_merged_params_except_in_the_default_pipeline(monkeypatch):
    monkeypatch.delenv("THINKACT_PARAMS", raising=False)
    monkeypatch.setenv("THINKACT_PROFILE", "quick")
    monkeypatch.delenv("DVC_STAGE", raising=False)
    assert params_path() == PROJECT_ROOT / "profiles" / "quick" / "params.yaml"
    monkeypatch.setenv("DVC_STAGE", "profiles/quick/dvc.yaml:sft")   # a stage of the profile's pipeline
    assert params_path() == PROJECT_ROOT / "profiles" / "quick" / "params.yaml"
    monkeypatch.setenv("DVC_STAGE", "sft")                            # a stage of dvc.yaml: the default's params
    assert params_path() == PROJECT_ROOT / "params.yaml"
    monkeypatch.setenv("THINKACT_PARAMS", "/elsewhere/params.yaml")   # an explicit file wins
    assert params_path() == Path("/elsewhere/params.yaml")


def test_profile_cli_lists_and_a_bad_name_is_one_line():
    env = {**os.environ, "THINKACT_TRACKING": "0"}
    out = subprocess.run([sys.executable, "-m", "thinkact.cli", "profile", "list"], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert [line.split()[0] for line in out.stdout.splitlines()] == SHIPPED
    bad = subprocess.run([sys.executable, "-m", "thinkact.cli", "profile", "sync", "nope"], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "no profile 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_a_model_not_on_disk_stops_the_check_stage_with_the_fetch_line(root, tmp_path):
    overlay(root, "far", "model: {base: someorg/not-here}\n")
    profiles.write_params("far", root)
    env = {**os.environ, "THINKACT_TRACKING": "0", "THINKACT_PARAMS": str(profiles.params_file("far", root)),
           "HF_HUB_CACHE": str(tmp_path / "empty-hub"), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "tasks.check"], cwd=PROJECT_ROOT, env=env, capture_output=True,
                         text=True)
    assert out.returncode == 1
    (line,) = out.stderr.strip().splitlines()
    assert "model.base" in line and "hf download someorg/not-here" in line


# ---- the prompt section: one template for every stage -------------------------------------------------------------

TOOLS = [{"type": "function", "function": {"name": "f", "description": "d",
                                           "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}}]


def render(prompt, messages):
    """The prompt text as transformers renders it (the same Jinja environment as apply_chat_template)."""
    from transformers.utils.chat_template_utils import _compile_jinja_template

    return _compile_jinja_template(chat_template(prompt)).render(messages=messages, tools=TOOLS,
                                                                 add_generation_prompt=True)


def test_default_prompt_settings_leave_trls_template_as_it_is():
    from thinkact.chat_format.template import CHAT_TEMPLATE

    assert chat_template(None) == CHAT_TEMPLATE == chat_template({"system": "", "tool_json": "spaced"})


def test_the_system_line_and_compact_tool_json():
    user = [{"role": "user", "content": "hi"}]
    text = render({"system": "Think first.", "tool_json": "compact"}, user)
    assert text.startswith("<|im_start|>system\nThink first.\n\n# Tools")
    assert '{"type":"function","function":{"name":"f"' in text
    spaced = render(None, user)
    assert '{"type": "function", "function": {"name": "f"' in spaced and "Think first." not in spaced
    own = render({"system": "Think first."}, [{"role": "system", "content": "Mine."}, *user])
    assert "Mine." in own and "Think first." not in own     # a conversation's own system turn wins


def test_a_saved_models_card_keeps_its_prompt(tmp_path):
    """A folder a stage saved re-applies the prompt it was trained with (chat, serving), unless told otherwise."""
    import json

    from thinkact.models.loading import card_prompt

    (tmp_path / "thinkact-card.json").write_text(json.dumps({"prompt": {"system": "S", "tool_json": "compact"}}))
    assert card_prompt(tmp_path) == {"system": "S", "tool_json": "compact"}
    (tmp_path / "thinkact-card.json").write_text("{broken")
    assert card_prompt(tmp_path) is None


def test_the_stages_that_run_tools_depend_on_the_profiles_tool_files():
    """A profile whose tools are a Python module (and a schemas file): validate, grpo and evaluate rerun when they
    change; builtin and MCP tool sets add nothing (an MCP server's code is not the project's to track)."""
    from thinkact.profiles import tool_files
    python = {"episodes": {"tools": {"source": "python", "module": "examples/units/tools.py",
                                     "schemas": "examples/units/tools.json"}}}
    assert tool_files(python) == ["examples/units/tools.py", "examples/units/tools.json"]
    assert tool_files({"episodes": {"tools": {"source": "python", "module": "my_pkg.tools"}}}) == []  # an installed module
    assert tool_files({"episodes": {"tools": {"source": "mcp", "command": "python server.py"}}}) == []
    assert tool_files({}) == []
