"""Integration with a real `prefect server start` on 127.0.0.1 (PREFECT_API_URL pointed at it):
`python -m flows.pipeline` records its flow run, task runs and summary artifact there (MLflow in the project's
default sqlite store, parent/child checked); prefect.yaml's work-pool deployment gets params.yaml's cron and
timezone, and a process worker runs it from the checkout it was deployed from.
(The whole pipeline against a real `mlflow server` is in test_flows.py.)"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from conftest import write_params
from servers import prefect_server
from test_flows import TOY_STAGES, flow_run_artifact, stage_project
from thinkact.config import PROJECT_ROOT

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory):
    with prefect_server(tmp_path_factory.mktemp("prefect-server")) as url:
        yield url


def _env(api: str, home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(home), "THINKACT_TRACKING": "1",
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **extra}
    for key in ("THINKACT_PARAMS", "MLFLOW_TRACKING_URI", "THINKACT_PARENT_RUN_ID"):
        env.pop(key, None)
    return env


def _api(api: str, method: str, path: str, **json) -> dict | list:
    response = httpx.request(method, f"{api}{path}", json=json or None, timeout=30)
    response.raise_for_status()
    return response.json()


@pytest.mark.slow
def test_flow_run_is_recorded_on_a_real_prefect_server(prefect_api, tmp_path):
    validate = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]["validate"]
    project = stage_project(tmp_path / "project", stages={"validate": validate})
    proc = subprocess.run([sys.executable, "-m", "flows.pipeline", "--project", str(project)], cwd=PROJECT_ROOT,
                          env=_env(prefect_api, tmp_path / "home"), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| validate | ran |" in proc.stdout and "Next:" in proc.stdout

    (run,) = _api(prefect_api, "POST", "/flow_runs/filter", flow_runs={"state": {"type": {"any_": ["COMPLETED"]}}})
    assert _api(prefect_api, "GET", f"/flows/{run['flow_id']}")["name"] == "thinkact-pipeline"
    tasks = _api(prefect_api, "POST", "/task_runs/filter", flow_runs={"id": {"any_": [run["id"]]}})
    assert [t["name"] for t in tasks] == ["validate"] and tasks[0]["state_type"] == "COMPLETED"
    assert "| validate | ran |" in flow_run_artifact(run["id"], api_url=prefect_api)

    from mlflow.tracking import MlflowClient  # no MLFLOW_TRACKING_URI: the project's embedded store

    client = MlflowClient(f"sqlite:///{project / 'mlflow' / 'mlflow.db'}")
    runs = {r.info.run_name: r for r in client.search_runs([client.get_experiment_by_name("thinkact").experiment_id])}
    assert set(runs) == {"pipeline", "validate"}
    assert runs["validate"].data.tags["mlflow.parentRunId"] == runs["pipeline"].info.run_id
    assert runs["pipeline"].data.tags["prefect.flow_run_id"] == run["id"]


def test_work_pool_deployment_takes_the_schedule_from_params_and_runs_on_a_worker(prefect_api, tmp_path):
    """prefect.yaml as a user deploys it from a checkout (here a toy one: one DVC stage, no model)."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for package in ("flows", "thinkact"):
        shutil.copytree(PROJECT_ROOT / package, checkout / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "prefect.yaml", checkout)
    write_params(checkout, {"schedule": {"cron": "15 4 * * 1", "timezone": "Europe/Berlin"}})
    (checkout / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"ok": TOY_STAGES["ok"]}}))
    env = _env(prefect_api, tmp_path / "home", THINKACT_TRACKING="0")
    run = lambda *cmd, **kw: subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True,  # noqa: E731
                                            timeout=kw.get("timeout", 120))
    assert run(sys.executable, "-m", "dvc", "init", "--no-scm", "-q").returncode == 0
    created = run("prefect", "work-pool", "create", "thinkact-gpu", "--type", "process")
    assert created.returncode == 0, created.stdout + created.stderr
    deployed = run("prefect", "--no-prompt", "deploy", "--name", "scheduled-gpu")
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]

    deployment = _api(prefect_api, "GET", "/deployments/name/thinkact-pipeline/scheduled-gpu")
    (schedule,) = deployment["schedules"]
    assert (schedule["schedule"]["cron"], schedule["schedule"]["timezone"]) == ("15 4 * * 1", "Europe/Berlin")
    assert deployment["work_pool_name"] == "thinkact-gpu"
    assert deployment["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]["directory"] == str(checkout)

    started = run("prefect", "deployment", "run", "thinkact-pipeline/scheduled-gpu")
    assert started.returncode == 0, started.stdout + started.stderr
    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", started.stdout).group(1)
    worker = run("prefect", "worker", "start", "--pool", "thinkact-gpu", "--run-once", timeout=240)
    state = _api(prefect_api, "GET", f"/flow_runs/{flow_run_id}")["state"]
    assert state["type"] == "COMPLETED", worker.stdout[-3000:] + worker.stderr[-3000:]
    assert (checkout / "ok.txt").read_text() == "1"  # the stage ran in the deployed checkout
    assert "| ok | ran |" in flow_run_artifact(flow_run_id, api_url=prefect_api)
