"""The Prefect flow: dvc.yaml's stage order, transient-only retries, skipped stages, and the whole pipeline on the
quick profile under `prefect_test_harness` in a copy of the project (real DVC, real stages) against a real
`mlflow server` on 127.0.0.1: parent/child runs with their tags and the registry checked through MlflowClient,
a second run that skips every stage, the shipped quick profile deployed to prefect.yaml's work pool and run by a
process worker beside the default's outputs, `dvc exp run`, a bad parameter and a failing validate that stop the
flow. One project serves them all, in file order: each real stage process costs seconds of start-up."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import write_params
from servers import deploy_and_run_on_a_worker, deployable, mlflow_server, prefect_call
from flows.pipeline import StageFailed, UnknownStage, is_transient, pipeline, run_stage, select_stages, stage_order
from thinkact.project import PROJECT_ROOT
from thinkact.errors import ConfigError

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
DVC = [sys.executable, "-m", "dvc"]
# The quick profile (conftest.QUICK) plus what the later stages need to stay small; relative paths, like the repo.
FLOW_QUICK = {
    "paths": {"data": "data", "outputs": "outputs", "models_cache": ".cache/models"},
    "sft": {"trainer": {"max_steps": 3, "save_steps": 3}},
    "validate": {"rows": {"train": {"min": 100, "max": 100000}, "test_id": {"min": 20, "max": 100000},
                          "test_env": {"min": 20, "max": 100000}, "test_task": {"min": 20, "max": 100000}}},
    "grpo": {"max_examples": 16, "sample_every": 1, "trainer": {
        "max_steps": 2, "per_device_train_batch_size": 4, "num_generations": 2, "max_completion_length": 24,
        "save_steps": 1}},
    "evaluate": {"max_examples": 8, "max_new_tokens": 24, "batch_size": 8, "bootstrap": {"n_resamples": 200},
                 "splits": ["test_id"], "episodes": {"splits": ["test_id"]}},   # one split: each split is seconds
    "register": {"splits": ["test_id"]},
    "schedule": {"cron": "15 4 * * 1", "timezone": "Europe/Berlin"},   # what the work pool's deployment must get
}


def stage_project(root: Path, overrides: dict | None = None, stages: dict | None = None) -> Path:
    """A git + DVC copy of the project under `root`: package, stages, dvc.yaml (or `stages`), quick params, data."""
    from thinkact.config import load_params
    from thinkact.data.writer import write_dataset

    root.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("thinkact", "tasks"):
        shutil.copytree(PROJECT_ROOT / package, root / package, ignore=ignore)
    if stages is None:
        shutil.copy(PROJECT_ROOT / "dvc.yaml", root / "dvc.yaml")
    else:
        (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
    params = write_params(root, {**FLOW_QUICK, **(overrides or {})})
    write_dataset(root / "data", load_params(params).data)
    env = _env()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, env=env)
    subprocess.run([*DVC, "init", "-q"], cwd=root, check=True, env=env)
    subprocess.run([*DVC, "add", "-q", "data"], cwd=root, check=True, env=env)
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run([*GIT, "commit", "-q", "-m", "init"], cwd=root, check=True, env=env)
    return root


def _env() -> dict[str, str]:
    env = {**os.environ, "THINKACT_TRACKING": "1"}
    for key in ("THINKACT_PARAMS", "MLFLOW_TRACKING_URI", "THINKACT_PARENT_RUN_ID"):
        env.pop(key, None)
    return env


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with pytest.MonkeyPatch.context() as mp:
        for key, value in _env().items():
            mp.setenv(key, value)
        for key in ("THINKACT_PARAMS", "MLFLOW_TRACKING_URI", "THINKACT_PARENT_RUN_ID"):
            mp.delenv(key, raising=False)
        with prefect_test_harness(server_startup_timeout=120):
            yield


# ---- units ---------------------------------------------------------------------------------------------------


def test_stage_order_is_dvc_yaml_order():
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    assert stage_order() == list(stages)
    assert stage_order()[:4] == ["check", "validate", "sft", "grpo"]
    assert select_stages(["validate", "sft", "grpo"], ["grpo", "validate"]) == ["validate", "grpo"]
    with pytest.raises(UnknownStage, match="'train'.*validate, sft, grpo"):
        select_stages(["validate", "sft", "grpo"], ["train"])


@pytest.mark.parametrize("output, transient", [
    ("ERROR: failed to reproduce 'sft': failed to run: python -m tasks.sft, exited with -9", True),
    ("ERROR: failed to reproduce 'sft': failed to run: python -m tasks.sft, exited with 137", True),
    ("ERROR: Unable to acquire lock. Most likely another DVC process is running", True),
    ("mlflow.exceptions.MlflowException: API request to http://x/api/2.0 failed with exception ConnectionError", True),
    ("sqlite3.OperationalError: database is locked", True),
    ("validate: 2 expectations failed\nERROR: failed to reproduce 'validate': failed to run: python -m tasks.validate,"
     " exited with 1", False),
    ("sft: params.yaml: key 'sft.trainer.learning_rat': unknown field\n... exited with 1", False),
    ("Traceback (most recent call last):\nZeroDivisionError: division by zero\n... exited with 1", False),
])
def test_only_transient_failures_are_retried(output, transient):
    assert is_transient(output) is transient


def test_served_deployment_takes_the_schedule_from_params(tmp_path):
    from flows.serve import deployment

    write_params(tmp_path, {"schedule": {"cron": "30 2 * * 1-5", "timezone": "Europe/Berlin"}})
    served = deployment(tmp_path)
    (schedule,) = served.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("30 2 * * 1-5", "Europe/Berlin")
    assert served.entrypoint.endswith("flows/pipeline.py:pipeline") and served.name == "scheduled"


@pytest.mark.parametrize("schedule, key", [({"cron": "every day"}, "schedule.cron"),
                                           ({"timezone": "Mars/Olympus"}, "schedule.timezone")])
def test_a_bad_schedule_names_the_key(tmp_path, schedule, key):
    from flows.serve import schedule_params
    from thinkact.errors import ConfigError

    write_params(tmp_path, {"schedule": schedule})
    with pytest.raises(ConfigError) as err:
        schedule_params(tmp_path)
    assert err.value.key == key


TOY_STAGES = {
    "ok": {"cmd": "python -c \"open('ok.txt', 'w').write('1')\"", "outs": ["ok.txt"]},
    "flaky": {"cmd": "python flaky.py", "outs": ["flaky.txt"]},
    "broken": {"cmd": "python broken.py", "deps": ["ok.txt"]},
}
FLAKY = """import os, signal
with open("attempts-flaky.log", "a") as f:
    f.write("x")
if os.path.getsize("attempts-flaky.log") == 1:
    os.kill(os.getpid(), signal.SIGKILL)  # the first attempt is killed, like the OOM killer would
open("flaky.txt", "w").write("done")
"""
BROKEN = """import sys
open("attempts-broken.log", "a").write("x")
print("broken: params.yaml: key 'x': bad value", file=sys.stderr)
sys.exit(1)
"""


@pytest.fixture(scope="module")
def toy_project(tmp_path_factory):
    """A DVC project with three toy stages (no model, no data): ok, flaky (killed once), broken (exit 1)."""
    root = tmp_path_factory.mktemp("toy")
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": TOY_STAGES}, sort_keys=False))
    (root / "flaky.py").write_text(FLAKY)
    (root / "broken.py").write_text(BROKEN)
    write_params(root)
    subprocess.run([*DVC, "init", "--no-scm", "-q"], cwd=root, check=True, env=_env())
    return root


def test_run_stage_fn_ran_then_skipped_and_failure_kinds(toy_project):
    from prefect.logging import disable_run_logger

    with disable_run_logger():
        assert run_stage.fn("ok", str(toy_project)).status == "ran"
        assert run_stage.fn("ok", str(toy_project)).status == "skipped"
        with pytest.raises(StageFailed) as err:
            run_stage.fn("broken", str(toy_project))
        assert not err.value.transient and "key 'x': bad value" in err.value.tail
        with pytest.raises(StageFailed) as err:
            run_stage.fn("flaky", str(toy_project))
        assert err.value.transient
    (toy_project / "attempts-flaky.log").unlink()
    (toy_project / "attempts-broken.log").unlink()


def test_flow_retries_a_killed_stage_but_not_a_broken_one(harness, toy_project, monkeypatch):
    monkeypatch.setenv("THINKACT_TRACKING", "0")
    result = pipeline(stages=["flaky"], project=str(toy_project), retry_delay_seconds=0)
    assert result["stages"] == {"flaky": "ran"} and result["attempts"] == {"flaky": 2}
    assert (toy_project / "attempts-flaky.log").read_text() == "xx"
    with pytest.raises(StageFailed, match="'broken' failed.*not retried"):
        pipeline(stages=["ok", "broken"], project=str(toy_project), retry_delay_seconds=0)
    assert (toy_project / "attempts-broken.log").read_text() == "x"  # one attempt: a user error is not retried


# ---- the whole pipeline on the quick profile -------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def tracking_server(tmp_path_factory):
    """A real `mlflow server`, started with the module so that it boots (~20 s) while the tests above run."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server"), wait=False) as server:
        yield server


@pytest.fixture(scope="module")
def built_project(tmp_path_factory):
    return stage_project(tmp_path_factory.mktemp("pipeline") / "project")


@pytest.fixture
def project(harness, tracking_server, built_project, monkeypatch):
    """The quick project (one per module: the tests below run in order on it); its runs go to the MLflow server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server.wait())
    return built_project


def _mlflow(project: Path):
    from mlflow.tracking import MlflowClient

    uri = os.environ["MLFLOW_TRACKING_URI"]
    client = MlflowClient(uri, registry_uri=uri)
    exp = client.get_experiment_by_name("thinkact")
    return client, client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])


def flow_run_artifact(flow_run_id: str, key: str = "thinkact-pipeline", api_url: str | None = None) -> str:
    """The Markdown of the artifact `key` that flow run `flow_run_id` created, read from Prefect's REST API
    (the current API URL by default: the harness's server)."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    body = {"artifacts": {"key": {"any_": [key]}, "flow_run_id": {"any_": [flow_run_id]}},
            "sort": "CREATED_DESC", "limit": 5}
    response = httpx.post(f"{api_url or PREFECT_API_URL.value()}/artifacts/filter", json=body, timeout=30)
    response.raise_for_status()
    (artifact,) = response.json()
    return artifact["data"]


@pytest.mark.slow
def test_pipeline_runs_every_stage_with_parent_and_child_runs(project):
    result = pipeline(project=str(project))
    order = stage_order(project / "dvc.yaml")
    assert result["stages"] == dict.fromkeys(order, "ran")
    client, runs = _mlflow(project)
    (parent,) = [r for r in runs if r.info.run_name == "pipeline"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.info.run_name for r in children) == sorted(s for s in order if s != "check")  # check: no run
    assert result["mlflow"]["run_id"] == parent.info.run_id
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    for run in [parent, *children]:
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.source.git.commit"] == commit
        assert run.data.tags["thinkact.data_dvc_md5"].endswith(".dir")
        assert len(run.data.tags["thinkact.params_md5"]) == 32
    assert parent.data.params["grpo.trainer.max_steps"] == "2" and "schedule.cron" in parent.data.params
    assert parent.data.tags["thinkact.result.validate"] == "ran" and parent.data.tags["prefect.flow_run_id"]
    markdown = flow_run_artifact(parent.data.tags["prefect.flow_run_id"])
    assert markdown == result["markdown"] and "| validate | ran |" in markdown
    assert len(markdown.splitlines()) <= 40 and "thinkact chat --model models:/" in markdown
    if "evaluate" in order:
        assert result["evaluation"] and "## Results" in markdown and "| grpo | " in markdown
    if "register" in order:
        assert result["decision"] and "**Decision:** version " in markdown
        decision = result["decision_json"]
        name = yaml.safe_load((project / "params.yaml").read_text())["register"]["model_name"]
        assert client.get_model_version_by_alias(name, "challenger").version == str(decision["challenger"])
        if decision["promoted"]:
            assert client.get_model_version_by_alias(name, "champion").version == str(decision["challenger"])
    print("seconds per stage:", result["seconds"])


@pytest.mark.slow
def test_second_run_skips_every_stage(project):
    result = pipeline(project=str(project))
    assert set(result["stages"].values()) == {"skipped"}
    _, runs = _mlflow(project)
    parents = [r for r in runs if r.info.run_name == "pipeline"]
    assert len(parents) == 2 and not [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[1].info.run_id]
    assert "| validate | skipped |" in flow_run_artifact(parents[1].data.tags["prefect.flow_run_id"])


def _snapshot(folder: Path, skip: str) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and skip not in p.parts}


@pytest.mark.slow
def test_a_profile_runs_on_a_work_pool_worker_and_leaves_the_defaults_outputs_alone(project, tmp_path):
    """prefect.yaml's work-pool deployment, as a user deploys it from this checkout (flows/ and prefect.yaml added):
    params.yaml's cron and timezone, the process pool, the checkout as its working directory; started with `--param
    profile=units` (the shipped worked example, profiles/units.yaml with examples/units/: its own data folder, its
    Python tools answering GRPO's and the evaluation's episodes — issue #26's "the worked example end to end on its
    profile") and run by a process worker against the module's Prefect server: every real stage a COMPLETED task
    run, in the profile's dvc.yaml order; its own dvc.yaml, dvc.lock and outputs; the default's outputs byte for byte as they were; every MLflow run and the
    registry version tagged with the profile, in the project's one store; a second run skips every stage."""
    from prefect.settings import PREFECT_API_URL

    deployable(project)
    (project / "profiles").mkdir(exist_ok=True)
    shutil.copy(PROJECT_ROOT / "profiles" / "units.yaml", project / "profiles")
    shutil.copytree(PROJECT_ROOT / "examples" / "units", project / "examples" / "units",
                    ignore=shutil.ignore_patterns("__pycache__"))   # its data (paths.data) and tools (episodes.tools)
    subprocess.run([*GIT, "add", "flows", "prefect.yaml", "profiles", "examples"], cwd=project, check=True,
                   capture_output=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "deployable"], cwd=project, check=True)
    before = _snapshot(project / "outputs", "profiles")
    api = PREFECT_API_URL.value()   # the harness's server
    env = {**_env(), "PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "home"),
           "MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"]}
    flow_run_id, worker = deploy_and_run_on_a_worker(project, env, "--param", "profile=units", timeout=1800)

    deployment = prefect_call(api, "GET", "/deployments/name/thinkact-pipeline/scheduled-gpu")
    (schedule,) = deployment["schedules"]   # params.yaml's schedule (FLOW_QUICK), not a default
    assert (schedule["schedule"]["cron"], schedule["schedule"]["timezone"]) == ("15 4 * * 1", "Europe/Berlin")
    assert deployment["work_pool_name"] == "thinkact-gpu"
    assert deployment["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]["directory"] == str(project)
    flow_run = prefect_call(api, "GET", f"/flow_runs/{flow_run_id}")
    assert flow_run["state"]["type"] == "COMPLETED", worker
    assert flow_run["parameters"] == {"profile": "units"}
    order = stage_order(project / "profiles" / "units" / "dvc.yaml")  # the profile's pipeline, written by the flow
    assert order == ["check", "validate", "sft", "grpo", "evaluate", "register"]
    tasks = prefect_call(api, "POST", "/task_runs/filter", flow_runs={"id": {"any_": [flow_run_id]}},
                         sort="EXPECTED_START_TIME_ASC")
    assert [(t["name"], t["state_type"]) for t in tasks] == [(stage, "COMPLETED") for stage in order], worker
    markdown = flow_run_artifact(flow_run_id)
    assert "(profile units)" in markdown and "**Decision:** version " in markdown, markdown
    assert "outputs/profiles/units/evaluate/report.md" in markdown
    assert all(f"| {stage} | ran |" in markdown for stage in order), markdown
    assert _snapshot(project / "outputs", "profiles") == before
    units = project / "outputs" / "profiles" / "units"
    assert (units / "grpo" / "model" / "config.json").is_file() and (units / "register" / "decision.json").is_file()
    assert (project / "profiles" / "units" / "dvc.lock").is_file()
    client, runs = _mlflow(project)
    (parent,) = [r for r in runs if r.data.tags.get("prefect.flow_run_id") == flow_run_id]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 5 and {r.data.tags["thinkact.profile"] for r in [parent, *children]} == {"units"}
    assert not (project / "profiles" / "units" / "mlflow").exists()   # the project's one store, not one per profile
    assert client.get_model_version_by_alias("thinkact-agent-units", "challenger").tags["thinkact.profile"] == "units"
    again = pipeline(project=str(project), profile="units")
    assert set(again["stages"].values()) == {"skipped"}


@pytest.mark.slow
def test_dvc_exp_run_with_a_changed_param_reruns_grpo_and_below_only(project):
    cmd = [*DVC, "exp", "run", "-S", "grpo.trainer.learning_rate=1e-4"]
    proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True, env={**os.environ, **_env()})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    for stage in ("validate", "sft"):
        assert f"Stage '{stage}' didn't change, skipping" in out
    for stage in ("grpo", "evaluate", "register"):
        assert f"Running stage '{stage}'" in out
    assert yaml.safe_load((project / "params.yaml").read_text())["grpo"]["trainer"]["learning_rate"] == 1e-4


@pytest.mark.slow
def test_a_bad_parameter_fails_at_check_and_keeps_every_stage_output(project):
    """A bad value stops the flow before any stage (and `dvc repro` at its check stage), before DVC touches any
    output; a stage run on its own with the bad value (DVC persists every output) fails too and leaves its last
    results byte for byte."""
    outputs = project / "outputs"
    before = {p.relative_to(outputs): p.read_bytes() for p in outputs.rglob("*") if p.is_file()
              and "checkpoints" not in p.parts}
    assert (outputs / "evaluate" / "metrics.json") in [outputs / p for p in before]
    good = (project / "params.yaml").read_text()
    params = yaml.safe_load(good)
    params["evaluate"]["max_new_tokens"] = 0
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        with pytest.raises(ConfigError, match="key 'evaluate.max_new_tokens'"):
            pipeline(project=str(project))   # before any stage: the parent MLflow run loads every value
        proc = subprocess.run([*DVC, "repro", "--single-item", "evaluate"], cwd=project, capture_output=True,
                              text=True, env={**os.environ, **_env()})
        assert proc.returncode != 0 and "key 'evaluate.max_new_tokens'" in proc.stdout + proc.stderr
    finally:
        (project / "params.yaml").write_text(good)
    after = {p.relative_to(outputs): p.read_bytes() for p in outputs.rglob("*") if p.is_file()
             and "checkpoints" not in p.parts}
    assert after == before


@pytest.mark.slow
def test_failing_validate_stops_the_flow(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["validate"]["rows"]["train"]["min"] = 100000  # the gate now fails on the quick data
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stages = [s for s in stage_order(project / "dvc.yaml") if s != "check"]   # check's own failures: the test above
    with pytest.raises(StageFailed, match="'validate' failed.*not retried"):
        pipeline(project=str(project), stages=stages)
    client, runs = _mlflow(project)
    parent = [r for r in runs if r.info.run_name == "pipeline"][-1]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "FAILED"
    assert [(r.info.run_name, r.info.status) for r in children] == [("validate", "FAILED")]  # once: no retry
    markdown = flow_run_artifact(parent.data.tags["prefect.flow_run_id"])
    assert "| validate | failed |" in markdown and "| sft | not run |" in markdown
