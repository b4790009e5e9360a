"""The grpo stage on the quick profile: prompts render like evaluation, completions reach the rewards as raw text,
two steps log every reward metric to MLflow with completion samples, bad params fail before any model loads, and a
killed run resumes from its last checkpoint."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_project, write_params
from thinkact.project import PROJECT_ROOT
from thinkact.config import load_params
from thinkact.errors import ConfigError, ThinkactError

# Two steps of 2 prompts x 2 completions, short completions; beta > 0 so TRL also computes and logs `kl`.
TWO_STEPS = {"grpo": {"max_examples": 16, "sample_every": 1, "trainer": {
    "max_steps": 2, "per_device_train_batch_size": 4, "num_generations": 2, "max_completion_length": 24,
    "beta": 0.04, "save_steps": 1}}}


@pytest.fixture
def grpo_project(tmp_path, monkeypatch):
    return make_project(tmp_path, monkeypatch, TWO_STEPS, models=("sft",))  # GRPO starts from an untrained model


def test_rows_render_prompts_like_evaluation_and_completions_decode_raw(grpo_project):
    from transformers import AutoTokenizer

    from thinkact.chat_format.template import render_target
    from thinkact.contract import read_jsonl
    from thinkact.generation import prompt_text
    from thinkact.rewards import build
    from thinkact.training.grpo import grpo_rows

    tok = AutoTokenizer.from_pretrained(grpo_project.paths.stage_dir("sft") / "model")
    examples = read_jsonl(Path(grpo_project.paths.data) / "train.jsonl")[:40]
    rows = grpo_rows(examples, tok)
    for ex, row in zip(examples, rows):
        assert row["prompt"] == prompt_text(tok, ex)  # the tools are in it: TRL would drop a `tools` column
        assert all(t["function"]["name"] in row["prompt"] for t in ex.tools)
        assert json.loads(row["target"]) == ex.target.to_dict() and row["turn_type"] == ex.turn_type
    # TRL decodes completions of text prompts with skip_special_tokens=True: <think> and <tool_call> survive.
    call = next(ex for ex in examples if ex.target.is_call)
    text = render_target(call.target.to_dict(), "I call it.")
    ids = tok(text + "<|im_end|>", add_special_tokens=False)["input_ids"]
    decoded = tok.batch_decode([ids], skip_special_tokens=True)[0]
    assert decoded == text
    tool_call, fmt = build(["tool_call", "format"])
    assert tool_call([decoded], target=[json.dumps(call.target.to_dict())]) == [1.0] and fmt([decoded]) == [1.0]


def test_two_steps_log_reward_metrics_and_samples(grpo_project):
    from mlflow.tracking import MlflowClient

    from tasks.grpo import run

    metrics = run(grpo_project)
    out = grpo_project.paths.stage_dir("grpo")
    assert metrics["steps"] == 2 and metrics["reward_first"] is not None
    assert (out / "model" / "model.safetensors").is_file() and not (out / "checkpoints").exists()
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step-00001.jsonl", "step-00002.jsonl"]
    assert json.loads((out / "model" / "thinkact-card.json").read_text())["stage"] == "grpo"
    history = json.loads((out / "rewards.json").read_text())
    assert [h["step"] for h in history] == [1, 2]
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    (found,) = client.search_runs([client.get_experiment_by_name("thinkact").experiment_id])
    assert found.info.run_name == "grpo" and found.info.status == "FINISHED"
    names = grpo_project.grpo.rewards

    def steps(key):
        return [m.step for m in client.get_metric_history(found.info.run_id, key)]

    for key in ["reward", "reward_std", "kl", "entropy", "completions/mean_length", "loss",
                "rewards/format/mean", "rewards/reasoning_consistency/mean"]:
        assert steps(key) == [1, 2], key
    # Every completion gets exactly one of the two task rewards (the other is None: no metric at a step where no
    # prompt had that kind of target).
    assert set(steps("rewards/tool_call/mean") + steps("rewards/answer/mean")) == {1, 2}
    artifacts = [a.path for a in client.list_artifacts(found.info.run_id, "samples")]
    assert artifacts == ["samples/step-00001.jsonl", "samples/step-00002.jsonl"]
    lines = [json.loads(s) for s in (out / "samples" / "step-00002.jsonl").read_text().splitlines()]
    assert len(lines) == 4
    for line in lines:
        assert isinstance(line["completion"], str) and line["id"] and line["target"]
        assert set(line["rewards"]) == set(names) and line["prompt_tail"].endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize("overrides, key", [
    ({"grpo": {"trainer": {"loss_type": "ppo"}}}, "grpo.trainer.loss_type"),
    ({"grpo": {"trainer": {"scale_rewards": "sometimes"}}}, "grpo.trainer.scale_rewards"),
    ({"grpo": {"rewards": ["tool_call", "no_such_reward"]}}, "grpo.rewards"),
    ({"grpo": {"rewards": []}}, "grpo.rewards"),
    ({"grpo": {"reward_options": {"answer": {"style": "f1"}}}}, "grpo.reward_options.answer.style"),
    ({"grpo": {"reward_options": {"answer": {"mode": "fuzzy"}}}}, "grpo.reward_options.answer"),
    ({"grpo": {"trainer": {"reward_weights": [1.0, 1.0]}}}, "grpo.trainer.reward_weights"),
    ({"grpo": {"trainer": {"num_generation": 4}}}, "grpo.trainer.num_generation"),
    ({"grpo": {"trainer": {"output_dir": "/tmp/x"}}}, "grpo.trainer.output_dir"),
    ({"grpo": {"trainer": {"beta": "4e-2"}}}, "grpo.trainer.beta"),  # YAML 1.1 reads 4e-2 as a string
    ({"grpo": {"trainer": {"num_generations": 3}}}, "grpo.trainer"),  # 16 completions per step: not divisible
    ({"grpo": {"lora": {"rank": 4}}}, "grpo.lora"),
    ({"grpo": {"sample_every": -1}}, "grpo.sample_every"),
    ({"grpo": {"cpu_threads": -2}}, "grpo.cpu_threads"),
    ({"grpo": {"difficulty": {"band": [0.5, 1.2]}}}, "grpo.difficulty.band"),   # a pass rate is in [0, 1]
    ({"grpo": {"difficulty": {"band": [0.8, 0.2]}}}, "grpo.difficulty.band"),   # lo > hi
    ({"grpo": {"difficulty": {"band": [0.5]}}}, "grpo.difficulty.band"),
    ({"grpo": {"difficulty": {"pass_at": 1.0}}}, "grpo.difficulty.band"),       # no band
    ({"grpo": {"difficulty": {"band": [0.6, 0.9]}}}, "grpo.difficulty.band"),   # 2 generations: 0, 0.5 or 1
    ({"grpo": {"difficulty": {"band": [0, 1], "pass_rewards": ["answr"]}}}, "grpo.difficulty.pass_rewards"),
    ({"grpo": {"dynamic_sampling": {"max_rounds": 0}}}, "grpo.dynamic_sampling.max_rounds"),
    ({"grpo": {"dynamic_sampling": {"max_rounds": 2}}, "launch": {"num_processes": 2}}, "grpo.dynamic_sampling"),
    ({"grpo": {"init": "sft@2"}}, "grpo.init"),                                  # sft.keep_steps keeps none
    ({"grpo": {"init": "sft@3"}, "sft": {"keep_steps": [2, 4]}}, "grpo.init"),   # not a kept step
    ({"grpo": {"init": "sft@9"}, "sft": {"keep_steps": [2]}}, "grpo.init"),      # past sft.trainer.max_steps (6)
    ({"grpo": {"init": "sft@x"}}, "grpo.init"),
    ({"grpo": {"init": "checkpoint-2"}}, "grpo.init"),
])
def test_bad_params_fail_before_any_model_loads(tmp_path, monkeypatch, overrides, key):
    import thinkact.training.grpo
    from tasks.grpo import run

    def no_loading(*args, **kwargs):
        raise AssertionError("a model was loaded before the params were checked")

    monkeypatch.setattr(thinkact.training.grpo, "load_model", no_loading)
    monkeypatch.setenv("THINKACT_TRACKING", "0")
    with pytest.raises(ConfigError) as err:
        run(load_params(write_params(tmp_path, overrides)))
    assert err.value.key == key
    assert not (tmp_path / "outputs" / "grpo").exists()


# Fields that matter only on a GPU (vLLM generation, bf16, DeepSpeed): thinkact must pass them on untouched.
GPU_FIELDS = {"vllm_mode": "colocate", "vllm_gpu_memory_utilization": 0.35, "vllm_tensor_parallel_size": 1,
              "vllm_enable_sleep_mode": True, "vllm_max_model_length": 1024, "vllm_importance_sampling_correction": False,
              "ds3_gather_for_generation": False, "generation_batch_size": 32, "use_liger_kernel": False}


def _config(tmp_path, trainer):
    from thinkact.training.grpo import grpo_config

    params = load_params(write_params(tmp_path, {"grpo": {"trainer": trainer}}))
    return params, grpo_config(params, tmp_path / "checkpoints")


def test_trainer_fields_reach_grpo_config_unchanged(tmp_path):
    """Every grpo.trainer field, GPU-only ones included, arrives in GRPOConfig as written (CPU side of the GPU test)."""
    params, config = _config(tmp_path, {**GPU_FIELDS, "use_vllm": False, "bf16": False})
    normalised = {"report_to"}  # transformers turns report_to: none into []
    for key, value in params.grpo.trainer.items():
        if key not in normalised:
            assert getattr(config, key) == value, key
    assert config.report_to in ([], "none", ["none"])
    assert config.output_dir == str(tmp_path / "checkpoints")


def test_device_defaults_fill_only_what_params_leave_out(tmp_path):
    import torch

    _, config = _config(tmp_path, {})
    assert config.bf16 is False or torch.cuda.is_available()  # fp32 on a CPU, unless params say otherwise
    assert config.use_cpu is not torch.cuda.is_available()
    _, config = _config(tmp_path, {"use_cpu": False})
    assert config.use_cpu is False


def test_use_vllm_without_cuda_fails_naming_the_key(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: vLLM is allowed")
    with pytest.raises(ConfigError) as err:
        _config(tmp_path, {"use_vllm": True})
    assert err.value.key == "grpo.trainer.use_vllm" and "CUDA" in err.value.problem


@pytest.mark.gpu
def test_on_a_gpu_vllm_and_bf16_fields_reach_grpo_config(tmp_path):
    """On a CUDA machine: use_vllm and the vLLM fields pass straight through, bf16 follows the GPU, no use_cpu."""
    import torch

    params, config = _config(tmp_path, {**GPU_FIELDS, "use_vllm": True})
    assert config.use_vllm is True and config.use_cpu is False
    assert config.bf16 is torch.cuda.is_bf16_supported()
    for key, value in GPU_FIELDS.items():
        assert getattr(config, key) == value, key


def test_dvc_declares_model_and_samples_as_persisted_outs():
    import yaml

    stage = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]["grpo"]
    outs = {next(iter(o)): o[next(iter(o))] for o in stage["outs"] if isinstance(o, dict)}
    for name in ("model", "samples"):
        assert outs["${paths.outputs}/grpo/" + name].get("persist") is True, name


def test_missing_sft_model_is_one_clear_error(tmp_path, monkeypatch):
    from tasks.grpo import run

    monkeypatch.setenv("THINKACT_TRACKING", "0")
    with pytest.raises(ThinkactError, match=r"model 'sft': .* has no saved model; run its stage first"):
        run(load_params(write_params(tmp_path)))


def test_a_step_past_max_steps_is_named_in_the_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_params(write_params(tmp_path, {"grpo": {"init": "sft@9"}, "sft": {"keep_steps": [2, 4]}}))
    assert err.value.key == "grpo.init"
    assert "past sft.trainer.max_steps (6)" in err.value.problem and "sft@2, sft@4" in err.value.problem


def test_missing_kept_step_is_one_clear_error(tmp_path, monkeypatch):
    """`grpo.init: sft@2` with 2 in sft.keep_steps, but the sft stage has not kept it (not run, or run before)."""
    from tasks.grpo import run

    monkeypatch.setenv("THINKACT_TRACKING", "0")
    with pytest.raises(ThinkactError, match=r"grpo.init: sft@2: .*steps/2 has no saved model; run the sft stage"):
        run(load_params(write_params(tmp_path, {"grpo": {"init": "sft@2"}, "sft": {"keep_steps": [2]}})))
    assert not (tmp_path / "outputs" / "grpo").exists()


@pytest.mark.slow
def test_killed_run_resumes_from_last_checkpoint(grpo_project, tmp_path):
    path = write_params(tmp_path, {**TWO_STEPS, "grpo": {**TWO_STEPS["grpo"], "trainer": {
        **TWO_STEPS["grpo"]["trainer"], "max_steps": 4}}})
    env = {**os.environ, "THINKACT_TRACKING": "0", "THINKACT_PARAMS": str(path)}
    out = grpo_project.paths.stage_dir("grpo")
    cmd = [sys.executable, "-m", "tasks.grpo"]
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (out / "checkpoints" / "checkpoint-2" / "trainer_state.json").is_file():  # complete (written last)
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "model").exists() and not (out / "samples").exists()  # both appear only complete
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert int(metrics["resumed_from"].rsplit("-", 1)[1]) >= 2 and metrics["steps"] == 4
    assert [h["step"] for h in json.loads((out / "rewards.json").read_text())] == [1, 2, 3, 4]  # kept across the kill
    assert sorted(p.name for p in (out / "samples").iterdir()) == [f"step-{i:05d}.jsonl" for i in range(1, 5)]


@pytest.mark.slow
def test_grpo_init_base_starts_from_the_base_model_without_an_sft_model(tmp_path, monkeypatch):
    """`grpo.init: base`: the paper's RL-without-SFT arm; no SFT model needed, the card says where it started, and
    the prompt settings (system line) reach the saved tokenizer."""
    from tasks.grpo import run

    params = make_project(tmp_path, monkeypatch, {
        "grpo": {"init": "base", "max_examples": 8, "trainer": {"max_steps": 1, "save_steps": 1}},
        "prompt": {"system": "Think first."}})
    assert not params.paths.stage_dir("sft").exists()
    monkeypatch.setenv("THINKACT_TRACKING", "0")
    result = run(params)
    assert result["steps"] == 1
    card = json.loads((params.paths.stage_model("grpo") / "thinkact-card.json").read_text())
    assert card["init"] == "base" and card["start"] == params.model.base
    assert card["prompt"] == {"system": "Think first.", "tool_json": "spaced", "open_think": False, "think_start": ""}
    template = (params.paths.stage_model("grpo") / "chat_template.jinja").read_text()
    assert '"Think first."' in template


@pytest.mark.slow
def test_grpo_init_sft_step_starts_from_the_model_kept_at_that_step(tmp_path, monkeypatch):
    """`grpo.init: sft@2` after an sft run with keep_steps [2, 4]: GRPO loads steps/2 — with learning_rate 0 (the
    no-update control) its saved weights are exactly the kept ones, not the final SFT model's — and its card and
    MLflow run say where it started."""
    import torch
    from mlflow.tracking import MlflowClient
    from safetensors.torch import load_file

    from tasks.grpo import run
    from tasks.sft import run as run_sft

    params = make_project(tmp_path, monkeypatch, {"sft": {"keep_steps": [2, 4]}, "grpo": {
        "init": "sft@2", "max_examples": 8, "trainer": {"max_steps": 1, "save_steps": 1, "learning_rate": 0.0}}})
    run_sft(params)
    kept = params.paths.stage_dir("sft") / "steps" / "2"
    assert run(params)["steps"] == 1
    folder = params.paths.stage_model("grpo")
    card = json.loads((folder / "thinkact-card.json").read_text())
    assert (card["init"], card["start"], card["start_steps"]) == ("sft@2", str(kept), 2)
    start, trained = load_file(kept / "model.safetensors"), load_file(folder / "model.safetensors")
    final = load_file(params.paths.stage_model("sft") / "model.safetensors")
    assert start.keys() == trained.keys() and all(torch.equal(start[k], trained[k]) for k in start)
    assert any(not torch.equal(start[k], final[k]) for k in start)
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    (grpo_run,) = client.search_runs([client.get_experiment_by_name("thinkact").experiment_id],
                                     "attributes.run_name = 'grpo'")
    assert grpo_run.data.params["grpo.init"] == "sft@2" and grpo_run.data.params["start"] == str(kept)
