"""The gpu-qwen3 profile (profiles/gpu-qwen3.yaml: Qwen3-1.7B, LoRA, bf16, GRPO with vLLM colocated), checked on a
CPU with no weights and no network: it loads, every trainer and LoRA field reaches TRL / PEFT as written (the
configs built by the same functions the stages call), its pipeline mirrors dvc.yaml in its own folder, and the
check stage stops with the one-line fetch instruction while Qwen3-1.7B is not on the machine."""
from __future__ import annotations

import enum
import subprocess
import sys

import pytest
import torch
import yaml

from thinkact import profiles
from thinkact.project import PROJECT_ROOT
from thinkact.errors import ConfigError

NAME = "gpu-qwen3"
MODEL = "Qwen/Qwen3-1.7B"
OVERLAY = yaml.safe_load((PROJECT_ROOT / "profiles" / f"{NAME}.yaml").read_text())
REL = f"profiles/{NAME}/params.yaml"
OUTPUTS = f"outputs/profiles/{NAME}"
NORMALISED = {"report_to"}  # transformers turns report_to: none into []


@pytest.fixture(scope="module")
def params():
    return profiles.load_profile(NAME)


def _same(got, want) -> bool:
    """Equal and of the same type (True is not 1, 1 is not 1.0): a field TRL converted would fail. A string that
    transformers turns into its enum (lr_scheduler_type: SchedulerType) counts by the enum's value."""
    got = got.value if isinstance(got, enum.Enum) and isinstance(want, str) else got
    return type(got) is type(want) and got == want


def test_the_profile_is_qwen3_in_bf16_with_lora_and_vllm_colocated(params):
    assert params.profile == NAME and params.paths.outputs == OUTPUTS
    assert params.model.base == MODEL
    for stage in (params.sft, params.grpo):
        assert stage.trainer["bf16"] is True
        assert stage.lora and stage.lora["r"] > 0 and stage.lora["target_modules"] == "all-linear"
    assert params.grpo.trainer["use_vllm"] is True and params.grpo.trainer["vllm_mode"] == "colocate"
    assert params.evaluate.use_vllm is True


def _check_fields(config, trainer, overlay):
    for key, value in overlay.items():  # the overlay's keys are in the merged params as written...
        assert _same(trainer[key], value), key
    for key, value in trainer.items():  # ...and every merged trainer key is in the TRL config as written
        if key not in NORMALISED:
            assert _same(getattr(config, key), value), (key, getattr(config, key), value)
    assert config.report_to in ([], "none", ["none"])


def _check_lora(lora, section):
    assert lora.task_type == "CAUSAL_LM"
    for key, value in section.items():
        assert _same(getattr(lora, key), value), key


def test_sft_trainer_and_lora_reach_sftconfig_and_loraconfig_unchanged(params, tmp_path):
    from thinkact.training import sft

    config, lora = sft.check_params(params, tmp_path / "sft")  # what tasks/sft.py and tasks/check.py call
    _check_fields(config, params.sft.trainer, OVERLAY["sft"]["trainer"])
    _check_lora(lora, OVERLAY["sft"]["lora"])
    assert config.output_dir == str(tmp_path / "sft") and config.completion_only_loss is True
    assert config.use_cpu is not torch.cuda.is_available()  # the only device default the CPU adds (bf16 is set)


def test_grpo_trainer_and_lora_reach_grpoconfig_and_loraconfig_unchanged(params, tmp_path, monkeypatch):
    """thinkact refuses use_vllm without CUDA before TRL sees it (asserted below); with that guard told there is a
    GPU, the real GRPOConfig is built the way tasks/grpo.py builds it."""
    from thinkact.training import grpo

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError) as err:
            grpo.check_params(params, tmp_path / "grpo")
        assert err.value.key == "grpo.trainer.use_vllm"
    monkeypatch.setattr(grpo, "_cuda", lambda: True)
    config, lora, rewards = grpo.check_params(params, tmp_path / "grpo")
    _check_fields(config, params.grpo.trainer, OVERLAY["grpo"]["trainer"])
    _check_lora(lora, OVERLAY["grpo"]["lora"])
    assert config.output_dir == str(tmp_path / "grpo") and len(rewards) == len(params.grpo.rewards)
    # one generation batch per step: per_device_train_batch_size completions, whole groups of num_generations
    assert config.generation_batch_size == OVERLAY["grpo"]["trainer"]["per_device_train_batch_size"]
    assert config.generation_batch_size % config.num_generations == 0


def test_on_a_cuda_device_the_trainer_mappings_are_all_trl_gets(params, monkeypatch):
    """On a bf16 GPU device_defaults adds nothing: SFTConfig / GRPOConfig get the trainer mappings (plus the fixed
    output_dir, disable_tqdm, completion_only_loss) and nothing else, so no CPU-only switch such as use_cpu."""
    from trl import GRPOConfig, SFTConfig

    from thinkact.models.loading import DeviceInfo
    from thinkact.training import trl_config

    monkeypatch.setattr(trl_config, "resolve_device", lambda prefer=None: DeviceInfo("cuda", torch.bfloat16))
    assert trl_config.device_defaults(SFTConfig, params.sft.trainer) == {}
    assert trl_config.device_defaults(GRPOConfig, params.grpo.trainer) == {}
    monkeypatch.setattr(trl_config, "resolve_device", lambda prefer=None: DeviceInfo("cpu", torch.float32))
    assert trl_config.device_defaults(GRPOConfig, params.grpo.trainer) == {"use_cpu": True}  # the check can fail


def test_evaluation_and_episode_settings_are_as_written(params):
    written = OVERLAY["evaluate"]
    assert params.evaluate.use_vllm is written["use_vllm"] is True
    assert _same(params.evaluate.batch_size, written["batch_size"])
    assert _same(params.evaluate.max_new_tokens, written["max_new_tokens"])
    assert _same(params.episodes.max_new_tokens, OVERLAY["episodes"]["max_new_tokens"])
    assert list(params.evaluate.bfcl.categories) == written["bfcl"]["categories"]


def _paths(entries):
    return [e if isinstance(e, str) else next(iter(e)) for e in entries or []]


def test_the_pipeline_has_dvc_yamls_stages_in_its_own_folder():
    source = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    stages = profiles.pipeline_for(NAME)["stages"]
    assert list(stages) == list(source)
    assert stages["check"]["cmd"] == f"python -m tasks.check --profile {NAME}"   # writes REL, then reads it
    assert _paths(stages["check"]["outs"]) == [REL]
    for name, stage in stages.items():
        if name != "check":
            assert stage["cmd"] == f"THINKACT_PARAMS={REL} {source[name]['cmd']}", name
        if "params" in source[name]:
            assert stage["params"] == [{REL: [str(p) for p in source[name]["params"]]}], name
        written = [p for kind in ("outs", "metrics", "plots") for p in _paths(stage.get(kind))]
        assert len(written) == sum(len(source[name].get(k) or []) for k in ("outs", "metrics", "plots")) or \
            name == "check"
        for path in written:
            assert path == REL if name == "check" else path.startswith(f"{OUTPUTS}/"), (name, path)
        assert "${" not in yaml.safe_dump(stage), name


def test_check_stops_on_the_missing_model_with_the_fetch_line(tmp_path, monkeypatch):
    """`python -m tasks.check --profile gpu-qwen3` rewrites profiles/gpu-qwen3/params.yaml in the repo: the committed
    file must come out byte-identical (it is up to date); restored if not, so the repo is left as found."""
    hf = tmp_path / "hf"
    for var in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.setenv(var, str(hf if var == "HF_HOME" else hf / "hub"))
    monkeypatch.setenv("THINKACT_TRACKING", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for var in ("THINKACT_PARAMS", "THINKACT_PROFILE", "TRANSFORMERS_CACHE"):
        monkeypatch.delenv(var, raising=False)
    merged = profiles.params_file(NAME)
    before = merged.read_bytes()
    try:
        out = subprocess.run([sys.executable, "-m", "tasks.check", "--profile", NAME], cwd=PROJECT_ROOT,
                             capture_output=True, text=True, timeout=120)
    finally:
        after = merged.read_bytes()
        if after != before:
            merged.write_bytes(before)
    assert after == before, f"{REL} was out of date: run `thinkact profile sync {NAME}`"
    assert out.returncode == 1, out.stdout + out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert "model.base" in line and f"hf download {MODEL}" in line and REL in line
    assert "done" not in out.stdout
