"""The sft stage on the quick profile: loss goes down, the model is saved whole, bad params fail early,
a killed run resumes from its last checkpoint, and the models of sft.keep_steps are kept whole beside the final one."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_params
from thinkact.project import PROJECT_ROOT
from thinkact.config import load_params
from thinkact.contract import read_jsonl
from thinkact.errors import ConfigError, ThinkactError
from thinkact.training.sft import sft_rows


def test_rows_keep_arguments_and_tools_as_json_strings(builtin_examples):
    examples = builtin_examples["train"][:50]
    rows = sft_rows(examples, with_reasoning=False)
    assert all(isinstance(r["tools"], str) for r in rows)
    for row in rows:
        for m in row["prompt"] + row["completion"]:
            for call in m.get("tool_calls") or ():
                assert isinstance(call["function"]["arguments"], str)
    assert "reasoning_content" not in rows[0]["completion"][0]
    assert sft_rows(examples[:1], with_reasoning=True)[0]["completion"][0]["reasoning_content"] == examples[0].reasoning


@pytest.mark.slow
def test_sft_stage_learns_and_saves(quick_project):
    from mlflow.tracking import MlflowClient
    from tasks.sft import run
    from transformers import AutoModelForCausalLM, AutoTokenizer

    metrics = run(quick_project)
    out = quick_project.paths.stage_dir("sft")
    losses = [h["loss"] for h in json.loads((out / "loss.json").read_text()) if "loss" in h]
    assert metrics["steps"] == 6 and losses[-1] < losses[0]
    model_dir = out / "model"
    assert (model_dir / "model.safetensors").is_file() and (model_dir / "README.md").is_file()
    card = json.loads((model_dir / "thinkact-card.json").read_text())
    assert card["stage"] == "sft" and card["train_md5"] and card["with_reasoning"] is False
    tok = AutoTokenizer.from_pretrained(model_dir)
    assert "<tool_call>" in tok.chat_template and AutoModelForCausalLM.from_pretrained(model_dir)
    prefix = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    reply = tok('<think>\nx\n</think>\n\n<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call><|im_end|>',
                add_special_tokens=False)["input_ids"]
    assert tok.parse_response(reply, prefix=prefix)["tool_calls"] == [  # the saved response parser, plain transformers
        {"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]
    assert not (out / "checkpoints").exists()
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    (run_info,) = client.search_runs([client.get_experiment_by_name("thinkact").experiment_id])
    assert run_info.info.run_name == "sft" and run_info.info.status == "FINISHED"
    assert len(client.get_metric_history(run_info.info.run_id, "loss")) == 6


@pytest.mark.slow
def test_sft_trains_on_the_train_split_and_the_gold_episode_cuts(quick_project):
    """sft.episode_cuts (the default): the train split, then one example per gold assistant turn of every train
    episode — every turn kind, each a contract Example the validate stage's row checks pass (test_episodes_data)."""
    import dataclasses

    from mlflow.tracking import MlflowClient
    from tasks.sft import episode_cuts, run
    from thinkact.env.spec import episode_path
    from thinkact.io import file_md5

    params = dataclasses.replace(quick_project, sft=dataclasses.replace(
        quick_project.sft, max_examples=0, trainer={**quick_project.sft.trainer, "max_steps": 1}))
    cuts, path = episode_cuts(params)
    assert path == episode_path(params.paths.data, "train") and cuts
    assert {c.turn_type for c in cuts} >= {"call", "call_from_history", "parallel", "clarify", "answer"}
    train = read_jsonl(Path(params.paths.data) / "train.jsonl")
    metrics = run(params)
    assert (metrics["examples"], metrics["episode_cuts"]) == (len(train) + len(cuts), len(cuts))
    card = json.loads((params.paths.stage_model("sft") / "thinkact-card.json").read_text())
    assert card["episodes_md5"] == file_md5(path) and card["train_md5"] == file_md5(Path(params.paths.data) / "train.jsonl")
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    (logged,) = client.search_runs([client.get_experiment_by_name("thinkact").experiment_id])
    assert {d.dataset.name for d in logged.inputs.dataset_inputs} == {"train", "episodes/train"}

    off = dataclasses.replace(params, sft=dataclasses.replace(params.sft, episode_cuts=False))
    assert episode_cuts(off) == ([], None)
    path.unlink()   # asked for, not there: one error naming the key, before anything loads
    with pytest.raises(ConfigError) as err:
        run(params)
    assert err.value.key == "sft.episode_cuts" and "episode_cuts: false" in str(err.value)


@pytest.mark.parametrize("overrides, key", [
    ({"sft": {"trainer": {"learning_rat": 0.1}}}, "sft.trainer.learning_rat"),
    ({"sft": {"trainer": {"lr_scheduler_type": "sideways"}}}, "sft.trainer.lr_scheduler_type"),
    ({"sft": {"lora": {"rank": 4}}}, "sft.lora"),
    ({"sft": {"trainer": {"output_dir": "/tmp/x"}}}, "sft.trainer.output_dir"),
    ({"sft": {"trainer": {"learning_rate": "1e-3"}}}, "sft.trainer.learning_rate"),  # what YAML makes of 1e-3
    ({"model": {"tiny": {"warmup_learning_rate": "1e-3"}}}, "model.tiny.warmup_learning_rate"),
    ({"model": {"tiny": {"warmup_steps": -5}}}, "model.tiny.warmup_steps"),
    ({"sft": {"keep_steps": [8]}}, "sft.keep_steps[0]"),                # past the quick profile's max_steps (6)
    ({"sft": {"keep_steps": [2, 0]}}, "sft.keep_steps[1]"),
    ({"sft": {"keep_steps": [2, 2]}}, "sft.keep_steps[1]"),
])
def test_bad_params_fail_before_training(tmp_path, monkeypatch, overrides, key):
    from tasks.sft import run

    with pytest.raises(ConfigError) as err:  # load_params refuses most; the stage's check the TRL / PEFT names
        run(load_params(write_params(tmp_path, overrides)))
    assert err.value.key == key
    if key == "sft.trainer.learning_rate":
        assert "1.0e-3" in str(err.value)  # the hint says how to write it
    assert not (tmp_path / "outputs" / "sft" / "model").exists()


def test_missing_model_is_one_clear_error(quick_project, monkeypatch, tmp_path):
    import dataclasses

    from tasks.sft import run

    params = dataclasses.replace(quick_project, model=dataclasses.replace(quick_project.model, base="no-such/model"))
    monkeypatch.setenv("THINKACT_TRACKING", "0")
    with pytest.raises(ThinkactError, match="not found offline"):
        run(params)


@pytest.mark.slow
def test_killed_run_resumes_from_last_checkpoint(quick_project):
    from pathlib import Path

    root = Path(quick_project.paths.data).parent  # enough steps that the kill lands mid-run on a fast machine
    write_params(root, {"sft": {"trainer": {"max_steps": 40}}})
    env = {**os.environ, "THINKACT_TRACKING": "0"}
    out = quick_project.paths.stage_dir("sft")
    cmd = [sys.executable, "-m", "tasks.sft"]
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (out / "checkpoints" / "checkpoint-4" / "trainer_state.json").is_file():  # complete (written last)
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "model").exists()
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert int(metrics["resumed_from"].rsplit("-", 1)[1]) >= 4 and metrics["steps"] == 40


def test_resume_skips_a_checkpoint_a_kill_left_half_written(tmp_path):
    """A kill during a save leaves checkpoint-N without trainer_state.json (written last): resume from the one before."""
    from thinkact.training.checkpoints import resume_point

    checkpoints = tmp_path / "checkpoints"
    assert resume_point(checkpoints, "k") is None            # first run: marker written, nothing to resume
    for step, complete in ((2, True), (4, True), (6, False)):
        folder = checkpoints / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"x")
        if complete:
            (folder / "trainer_state.json").write_text("{}")
    assert resume_point(checkpoints, "k") == str(checkpoints / "checkpoint-4")
    assert not (checkpoints / "checkpoint-6").exists()
    assert resume_point(checkpoints, "other run") is None    # different data/params: stale checkpoints removed
    assert not (checkpoints / "checkpoint-4").exists()


def test_cpu_lm_head_over_labelled_positions_gives_the_same_loss(quick_project):
    """labelled_positions_only makes TRL score only the target turn's positions on a CPU (as on a GPU): the loss of a
    batch must equal TRL's own all-positions path, and TRL's switch must be restored afterwards."""
    import torch
    from datasets import Dataset
    from trl import SFTTrainer
    from trl.trainer import utils as trl_utils

    from thinkact.contract import read_jsonl
    from thinkact.models.base import load_base
    from thinkact.training.sft import check_params, labelled_positions_only, sft_rows

    from pathlib import Path

    train = read_jsonl(Path(quick_project.paths.data) / "train.jsonl")
    config, _ = check_params(quick_project, quick_project.paths.stage_dir("sft") / "checkpoints")
    model, tokenizer = load_base(quick_project, train)
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(sft_rows(train[:8], False)),
                         processing_class=tokenizer)
    batch = next(iter(trainer.get_train_dataloader()))
    model.eval()
    original = trl_utils._use_triton
    with torch.no_grad():
        full = trainer.compute_loss(model, batch).item()
        calls = []
        with labelled_positions_only():
            patched = trl_utils._use_triton
            assert patched(torch.device("cpu"))
            trl_utils._use_triton = lambda device: calls.append(device) or patched(device)  # the loss goes through it
            compact = trainer.compute_loss(model, batch).item()
            trl_utils._use_triton = patched
    assert calls and trl_utils._use_triton is original
    assert compact == pytest.approx(full, rel=1e-5)


def test_examples_longer_than_max_length_are_counted(builtin_examples):
    """What TRL would silently cut: prompt + target turn over sft.trainer.max_length tokens."""
    from thinkact.models import tiny
    from thinkact.generation import prompt_text
    from thinkact.models.base import tiny_corpus
    from thinkact.training.sft import too_long

    examples = builtin_examples["train"][:40]
    tok = tiny.train_tokenizer(tiny_corpus(examples), 1024, pretokens="copy")
    lengths = sorted(len(tok(prompt_text(tok, e), add_special_tokens=False)["input_ids"]) for e in examples)
    assert too_long(tok, examples, 10_000, False) == 0 and too_long(tok, examples, None, False) == 0
    assert too_long(tok, examples, lengths[0] - 1, False) == len(examples)
    counts = [too_long(tok, examples, n, False) for n in range(lengths[0], lengths[-1] + 60, 5)]
    assert counts == sorted(counts, reverse=True) and counts[-1] == 0
    assert too_long(tok, examples, lengths[-1] - 1, False) >= 1  # the longest prompt alone is over
    middle = lengths[len(lengths) // 2]
    assert too_long(tok, examples, middle, False) >= len(examples) // 2 - 1  # every prompt over it, at least
    assert too_long(tok, examples, middle + 30, True) >= too_long(tok, examples, middle + 30, False)


def step_weights():
    """A Trainer callback that records the model's weights at the end of every step, as the trainer holds them."""
    from transformers import TrainerCallback

    class Recorder(TrainerCallback):
        def __init__(self):
            self.seen = {}

        def on_step_end(self, args, state, control, model=None, **kwargs):
            self.seen[state.global_step] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return Recorder()


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(Path(folder) / "model.safetensors")


@pytest.mark.slow
def test_kept_steps_are_whole_models_of_those_steps(quick_project):
    """sft.keep_steps [2, 4] on the 6-step quick run: steps/2 and steps/4 are complete, loadable models (tokenizer
    with the chat template, card) holding the weights the trainer had at the end of those steps; the final model is
    the one a run without kept steps writes, and that run leaves only steps/kept.json ([])."""
    import dataclasses

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from thinkact.tracking import NullRun
    from thinkact.training.sft import train_sft

    train = read_jsonl(Path(quick_project.paths.data) / "train.jsonl")
    kept_params = dataclasses.replace(quick_project, sft=dataclasses.replace(quick_project.sft, keep_steps=(2, 4)))
    out, plain = Path(quick_project.paths.outputs) / "kept", Path(quick_project.paths.outputs) / "plain"
    recorder = step_weights()
    assert train_sft(kept_params, train, out, NullRun(), data_md5="x", callbacks=[recorder]).steps == 6
    assert sorted(p.name for p in (out / "steps").iterdir()) == ["2", "4", "kept.json"]
    assert json.loads((out / "steps" / "kept.json").read_text()) == [2, 4] and not (out / "checkpoints").exists()
    for step in (2, 4):
        folder = out / "steps" / str(step)
        loaded = AutoModelForCausalLM.from_pretrained(folder).state_dict()
        assert loaded.keys() <= recorder.seen[step].keys()
        assert all(torch.equal(loaded[k], recorder.seen[step][k]) for k in loaded), step
        assert "<tool_call>" in AutoTokenizer.from_pretrained(folder).chat_template
        card = json.loads((folder / "thinkact-card.json").read_text())
        assert (card["stage"], card["steps"], card["max_steps"], card["train_md5"]) == ("sft", step, 6, "x")
        assert card["params"]["sft"]["keep_steps"] == [2, 4] and (folder / "README.md").is_file()
    two, four, final = _weights(out / "steps" / "2"), _weights(out / "steps" / "4"), _weights(out / "model")
    assert any(not torch.equal(two[k], four[k]) for k in two) and any(not torch.equal(four[k], final[k]) for k in four)

    train_sft(quick_project, train, plain, NullRun(), data_md5="x")   # sft.keep_steps: [] (the default)
    assert [p.name for p in (plain / "steps").iterdir()] == ["kept.json"]   # no empty DVC out, no DVC warning
    assert json.loads((plain / "steps" / "kept.json").read_text()) == []
    unchanged = _weights(plain / "model")
    assert unchanged.keys() == final.keys() and all(torch.equal(unchanged[k], final[k]) for k in final)


@pytest.mark.slow
def test_a_resumed_run_still_keeps_every_step(quick_project):
    """A run killed right after checkpoint-4 (steps 2 and 4 already kept) resumes from it and publishes both."""
    import dataclasses

    from transformers import TrainerCallback

    from thinkact.tracking import NullRun
    from thinkact.training.sft import train_sft

    class Killed(Exception):
        pass

    class KillAfterSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 4:
                raise Killed

    params = dataclasses.replace(quick_project, sft=dataclasses.replace(quick_project.sft, keep_steps=(2, 4)))
    train = read_jsonl(Path(params.paths.data) / "train.jsonl")
    out = params.paths.stage_dir("sft")
    with pytest.raises(Killed):
        train_sft(params, train, out, NullRun(), data_md5="x", callbacks=[KillAfterSave()])
    assert not (out / "steps").exists()     # published only with the final model
    result = train_sft(params, train, out, NullRun(), data_md5="x")
    assert result.resumed_from.endswith("checkpoint-4") and result.steps == 6
    for step in (2, 4):
        assert json.loads((out / "steps" / str(step) / "thinkact-card.json").read_text())["steps"] == step


def test_dvc_keeps_the_steps_folder_and_grpo_depends_on_it():
    import yaml

    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    outs = {next(iter(o)): o[next(iter(o))] for o in stages["sft"]["outs"] if isinstance(o, dict)}
    assert outs["${paths.outputs}/sft/steps"].get("persist") is True
    assert "${paths.outputs}/sft/steps" in stages["grpo"]["deps"]
