"""Stages on several processes (thinkact.distributed, params `launch`): sft, grpo and evaluate on the quick profile
through `accelerate launch` with 2 processes (gloo on this CPU) — one MLflow run per stage with its curves, one model
folder, the same evaluation numbers and completions as one process at temperature 0 — a process killed mid-training
failing the stage with one message and the rerun resuming, and launches that cannot work stopping before any model
loads. The same code paths run NCCL on GPUs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import make_project
from thinkact.project import PROJECT_ROOT
from thinkact.config import load_params
from thinkact.errors import ConfigError

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

SMALL = {"evaluate": {"splits": ["test_id"], "max_examples": 8,
                      "episodes": {"splits": ["test_id"], "max_examples": 4, "k": 1}},
         "register": {"splits": ["test_id"], "thresholds": {}}}


def stage(name: str, params_file: Path, processes: int, **env: str) -> subprocess.CompletedProcess:
    """`python -m tasks.<name>` with launch.num_processes set in its params file (the other keys as they are)."""
    raw = yaml.safe_load(params_file.read_text())
    raw["launch"] = {**raw.get("launch", {}), "num_processes": processes}
    params_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    return subprocess.run([sys.executable, "-m", f"tasks.{name}"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=600)


def _runs(uri: str) -> dict:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("thinkact")
    return {r.info.run_id: r for r in client.search_runs([exp.experiment_id])}, client


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    """sft, grpo and evaluate of one quick project, each on 2 processes; then evaluate again on 1 (in this process)."""
    tmp = tmp_path_factory.mktemp("dist")
    with pytest.MonkeyPatch.context() as mp:
        params = make_project(tmp, mp, SMALL)
        env = {"THINKACT_PARAMS": os.environ["THINKACT_PARAMS"], "MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"]}
    path = Path(env["THINKACT_PARAMS"])
    done = {}
    for name in ("sft", "grpo", "evaluate"):
        done[name] = stage(name, path, 2, **env)
        assert done[name].returncode == 0, done[name].stdout[-3000:] + done[name].stderr[-3000:]
    out = params.paths.stage_dir("evaluate")
    two = {"metrics": json.loads((out / "metrics.json").read_text()),
           "predictions": {p.relative_to(out).as_posix(): p.read_text() for p in sorted((out / "predictions").rglob("*.jsonl"))}}
    raw = yaml.safe_load(path.read_text())
    raw["launch"]["num_processes"] = 1
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.MonkeyPatch.context() as mp:   # one process: the stage in this one (its imports already paid)
        for key, value in env.items():
            mp.setenv(key, value)
        from tasks import evaluate

        evaluate.run(load_params(path))
    return params, env, done, two


def _numbers(metrics):
    """metrics.json without the timings (which differ run to run)."""
    if isinstance(metrics, dict):
        return {k: _numbers(v) for k, v in metrics.items() if "second" not in k}
    return metrics


def test_two_processes_log_one_run_per_stage_and_write_one_model(two_process_run):
    params, env, done, _ = two_process_run
    runs, client = _runs(env["MLFLOW_TRACKING_URI"])
    by_stage = {}
    for run in runs.values():
        by_stage.setdefault(run.data.tags["thinkact.stage"], []).append(run)
    assert {k: len(v) for k, v in by_stage.items()} == {"sft": 1, "grpo": 1, "evaluate": 2}   # evaluate: 2 procs, then 1
    for name in ("sft", "grpo"):
        (run,) = by_stage[name]
        assert run.info.status == "FINISHED"
        assert "2 processes: accelerate launch" in done[name].stdout
        assert done[name].stdout.count(f"[{name}] done:") == 1    # only the main process reports
        model = params.paths.stage_model(name)
        assert (model / "model.safetensors").is_file() and (model / "thinkact-card.json").is_file()
        assert not list(model.parent.glob(".*tmp*")) and not (model.parent / "checkpoints").exists()
    losses = client.get_metric_history(by_stage["sft"][0].info.run_id, "loss")
    assert [m.step for m in losses] == list(range(1, 7))          # the loss curve, once per step, from one process
    assert len(client.get_metric_history(by_stage["grpo"][0].info.run_id, "reward")) == 2
    samples = sorted((params.paths.stage_dir("grpo") / "samples").glob("step-*.jsonl"))
    assert [p.name for p in samples] == ["step-00001.jsonl", "step-00002.jsonl"]
    # TRL gathers every process's completions to the main one: 2 x per_device_train_batch_size per step
    assert len(samples[0].read_text().splitlines()) == 2 * load_params(env["THINKACT_PARAMS"]).grpo.trainer[
        "per_device_train_batch_size"]


def test_one_process_gives_the_same_shapes_and_register_makes_one_version_per_model(two_process_run, tmp_path,
                                                                                       monkeypatch):
    """The 2-process stages leave what 1 process leaves (the same model files, metrics keys, logged metric names),
    and the register stage then makes one registry version per trained model."""
    from tasks import grpo, register, sft

    params, env, _, _ = two_process_run
    runs, client = _runs(env["MLFLOW_TRACKING_URI"])
    two_metrics = {r.data.tags["thinkact.stage"]: set(r.data.metrics) for r in runs.values()
                   if r.data.tags["thinkact.stage"] in ("sft", "grpo")}
    monkeypatch.setenv("THINKACT_PARAMS", env["THINKACT_PARAMS"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    decision = register.run(load_params(env["THINKACT_PARAMS"]))
    versions = client.search_model_versions("name='thinkact-agent'")
    assert sorted(v.tags["thinkact.role"] for v in versions) == ["grpo", "sft"] and decision["challenger"]

    one = make_project(tmp_path, monkeypatch, SMALL)   # the same stages, one process, in-process
    sft.run(one)
    grpo.run(one)
    for stage in ("sft", "grpo"):
        assert sorted(p.name for p in one.paths.stage_model(stage).iterdir()) == \
            sorted(p.name for p in params.paths.stage_model(stage).iterdir())
        assert set(json.loads((one.paths.stage_dir(stage) / "metrics.json").read_text())) == \
            set(json.loads((params.paths.stage_dir(stage) / "metrics.json").read_text()))
    one_runs, _ = _runs(os.environ["MLFLOW_TRACKING_URI"])
    for run in one_runs.values():
        assert set(run.data.metrics) == two_metrics[run.data.tags["thinkact.stage"]]


def test_sharded_evaluation_equals_one_process(two_process_run):
    """Each process generates a slice of each split; gathered, the numbers and completions (temperature 0) are those
    of one process."""
    params, _, _, two = two_process_run
    out = params.paths.stage_dir("evaluate")
    one = json.loads((out / "metrics.json").read_text())
    assert _numbers(one) == _numbers(two["metrics"])
    assert one["grpo"]["test_id"]["tool_call_exact_n"] + one["grpo"]["test_id"]["answer_n"] > 0
    predictions = {p.relative_to(out).as_posix(): p.read_text() for p in sorted((out / "predictions").rglob("*.jsonl"))}
    assert predictions == two["predictions"] and len(predictions) >= 6   # 3 models x (turns + episodes)


def test_a_process_killed_mid_training_fails_the_stage_and_the_rerun_resumes(tmp_path, monkeypatch):
    steps = 50  # the kill lands after the first checkpoint (step 5): 45 steps before the run could end (~5 s here)
    params = make_project(tmp_path, monkeypatch, {"sft": {"trainer": {"max_steps": steps, "save_steps": 5,
                                                                      "logging_steps": 5}}})
    env = {**os.environ, "THINKACT_PARAMS": os.environ["THINKACT_PARAMS"]}
    path = Path(env["THINKACT_PARAMS"])
    raw = yaml.safe_load(path.read_text())
    raw["launch"] = {"num_processes": 2, "timeout_s": 60}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    proc = subprocess.Popen([sys.executable, "-m", "tasks.sft"], cwd=PROJECT_ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    checkpoints = params.paths.stage_dir("sft") / "checkpoints"
    deadline = time.monotonic() + 300
    while not list(checkpoints.glob("checkpoint-*/trainer_state.json")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()[-3000:]
        time.sleep(0.2)
    victim = _process_with_rank(1, proc.pid)
    os.kill(victim, signal.SIGKILL)
    output, _ = proc.communicate(timeout=120)      # no hang: torchrun stops the other process
    assert proc.returncode == 1, output[-3000:]
    assert output.strip().splitlines()[-1].startswith("sft: one of its 2 processes failed (accelerate launch exit")
    assert not (params.paths.stage_dir("sft") / "model").exists()   # nothing half-written
    raw["sft"]["trainer"]["max_steps"] = steps
    rerun = subprocess.run([sys.executable, "-m", "tasks.sft"], cwd=PROJECT_ROOT, env=env, capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    result = json.loads((params.paths.stage_dir("sft") / "metrics.json").read_text())
    assert result["resumed_from"] and "checkpoint-" in result["resumed_from"] and result["steps"] == steps


def _process_with_rank(rank: int, ancestor: int) -> int:
    """The pid of the process below `ancestor` whose environment says RANK=<rank> and THINKACT_LAUNCHED=1 (only
    this test's launch: another test or test run on the machine may have a RANK=1 process of its own)."""
    parents = {}
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:  # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after its last ")"
            parents[pid] = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue

    def below(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == ancestor:
                return True
        return False

    for pid in sorted(p for p in parents if below(p)):
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in env and b"THINKACT_LAUNCHED=1" in env:
            return pid
    raise AssertionError(f"no process with RANK={rank} below {ancestor}")


@pytest.mark.parametrize("launch, key, words", [
    ({"num_processes": 512}, "launch.num_processes", "512 processes but this machine has"),
    ({"num_processes": 2, "config_file": "no/such/accelerate.yaml"}, "launch.config_file", "does not exist"),
    ({"num_processes": 2, "config_file": "FSDP"}, "launch.config_file", "asks for FSDP, which needs CUDA GPUs"),
    ({"num_processes": 2, "config_file": "configs/accelerate/zero2.yaml"}, "launch.config_file", "needs CUDA GPUs"),
])
def test_a_launch_that_cannot_work_stops_before_any_model_loads(tmp_path, monkeypatch, capsys, launch, key, words):
    """The check stage (and sft, which runs the same check first) exits 1 with one line naming the key. The first
    case runs both as `python -m` processes; the others run the check stage's main in this process (the same
    stage_main, ~10 s of imports less each)."""
    from tasks import check

    if launch.get("config_file") == "FSDP":
        fsdp = tmp_path / "fsdp.yaml"
        fsdp.write_text("distributed_type: FSDP\nnum_machines: 1\n")
        launch = {**launch, "config_file": str(fsdp)}
    make_project(tmp_path, monkeypatch)
    path = Path(os.environ["THINKACT_PARAMS"])
    raw = yaml.safe_load(path.read_text())
    raw["launch"] = launch
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.setenv("THINKACT_TRACKING", "0")
    if key == "launch.num_processes":
        for module in ("tasks.check", "tasks.sft"):
            out = subprocess.run([sys.executable, "-m", module], cwd=PROJECT_ROOT, capture_output=True, text=True,
                                 env=dict(os.environ), timeout=120)
            assert out.returncode == 1
            (line,) = out.stderr.strip().splitlines()
            assert f"key '{key}'" in line and words in line
    else:
        capsys.readouterr()
        assert check.main([]) == 1
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert f"key '{key}'" in line and words in line
    assert not (Path(raw["paths"]["outputs"]) / "sft" / "model").exists()   # nothing trained
    with pytest.raises(ConfigError):
        from thinkact.distributed import check_launch

        check_launch(launch["num_processes"], launch.get("config_file"))
