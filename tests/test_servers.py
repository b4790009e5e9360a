"""Integration with a real `prefect server start` on 127.0.0.1 (PREFECT_API_URL pointed at it):
`python -m flows.pipeline` records its flow run, task runs and summary artifact there (MLflow in the project's
default sqlite store, parent/child checked); prefect.yaml's work-pool deployment gets params.yaml's cron and
timezone, and a process worker runs it from the checkout it was deployed from: a toy one-stage dvc.yaml (fast), and
(slow) every real stage of the quick profile, `--param profile=quick`, each a COMPLETED task run.
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
from flows.pipeline import stage_order
from test_flows import GIT, TOY_STAGES, flow_run_artifact, stage_project
from thinkact.project import PROJECT_ROOT

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


def _deployable(checkout: Path, *folders: str) -> Path:
    """`checkout` made deployable as a user's clone is: prefect.yaml, flows/ (the entrypoint) and `folders` copied
    from the repo where the checkout has none yet."""
    checkout.mkdir(parents=True, exist_ok=True)
    for folder in ("flows", *folders):
        if not (checkout / folder).exists():
            shutil.copytree(PROJECT_ROOT / folder, checkout / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "prefect.yaml", checkout)
    return checkout


def _deploy_and_run_on_a_worker(checkout: Path, env: dict[str, str], *run_args: str, timeout: float = 240
                                ) -> tuple[str, str]:
    """As docs/operations.md says, in `checkout`: create the process work pool, `prefect deploy` prefect.yaml's
    scheduled-gpu, start a run of it by hand (`run_args`: e.g. --param profile=quick) and a worker with --run-once.
    Returns the flow run's id and the worker's output."""
    def run(*cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, f"{' '.join(cmd[:3])}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        return proc

    run("prefect", "work-pool", "create", "thinkact-gpu", "--type", "process", "--overwrite")  # the module's server
    run("prefect", "--no-prompt", "deploy", "--name", "scheduled-gpu")
    started = run("prefect", "deployment", "run", "thinkact-pipeline/scheduled-gpu", *run_args)
    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", started.stdout).group(1)
    worker = subprocess.run(["prefect", "worker", "start", "--pool", "thinkact-gpu", "--run-once"], cwd=checkout,
                            env=env, capture_output=True, text=True, timeout=timeout)
    return flow_run_id, worker.stdout[-3000:] + worker.stderr[-3000:]


def test_work_pool_deployment_takes_the_schedule_from_params_and_runs_on_a_worker(prefect_api, tmp_path):
    """prefect.yaml as a user deploys it from a checkout (here a toy one: one DVC stage, no model)."""
    checkout = _deployable(tmp_path / "checkout", "thinkact")
    write_params(checkout, {"schedule": {"cron": "15 4 * * 1", "timezone": "Europe/Berlin"}})
    (checkout / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"ok": TOY_STAGES["ok"]}}))
    env = _env(prefect_api, tmp_path / "home", THINKACT_TRACKING="0")
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=checkout, env=env, check=True)
    flow_run_id, worker = _deploy_and_run_on_a_worker(checkout, env)

    deployment = _api(prefect_api, "GET", "/deployments/name/thinkact-pipeline/scheduled-gpu")
    (schedule,) = deployment["schedules"]
    assert (schedule["schedule"]["cron"], schedule["schedule"]["timezone"]) == ("15 4 * * 1", "Europe/Berlin")
    assert deployment["work_pool_name"] == "thinkact-gpu"
    assert deployment["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]["directory"] == str(checkout)
    state = _api(prefect_api, "GET", f"/flow_runs/{flow_run_id}")["state"]
    assert state["type"] == "COMPLETED", worker
    assert (checkout / "ok.txt").read_text() == "1"  # the stage ran in the deployed checkout
    assert "| ok | ran |" in flow_run_artifact(flow_run_id, api_url=prefect_api)


@pytest.mark.slow
def test_work_pool_runs_every_real_stage_of_the_quick_profile_on_a_worker(prefect_api, tmp_path):
    """The work pool end to end on the real stages: a git + DVC checkout with the real dvc.yaml, the packages,
    profiles/quick.yaml and a small generated data set (params.yaml: small data, the validate gate lowered for it);
    `prefect deployment run ... --param profile=quick` and a worker; read back through Prefect's REST API. MLflow:
    the checkout's embedded store (the register stage needs a registry)."""
    checkout = _deployable(stage_project(tmp_path / "checkout"))
    (checkout / "profiles").mkdir()
    shutil.copy(PROJECT_ROOT / "profiles" / "quick.yaml", checkout / "profiles")
    subprocess.run([*GIT, "add", "-A"], cwd=checkout, check=True, capture_output=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "deployable"], cwd=checkout, check=True)
    env = _env(prefect_api, tmp_path / "home")
    flow_run_id, worker = _deploy_and_run_on_a_worker(checkout, env, "--param", "profile=quick", timeout=1800)

    flow_run = _api(prefect_api, "GET", f"/flow_runs/{flow_run_id}")
    assert flow_run["state"]["type"] == "COMPLETED", worker
    assert flow_run["parameters"] == {"profile": "quick"}
    order = stage_order(checkout / "profiles" / "quick" / "dvc.yaml")  # the profile's pipeline, written by the flow
    assert order == ["check", "validate", "sft", "grpo", "evaluate", "register"]
    tasks = _api(prefect_api, "POST", "/task_runs/filter", flow_runs={"id": {"any_": [flow_run_id]}},
                 sort="EXPECTED_START_TIME_ASC")
    assert [(t["name"], t["state_type"]) for t in tasks] == [(stage, "COMPLETED") for stage in order], worker
    markdown = flow_run_artifact(flow_run_id, api_url=prefect_api)
    assert "(profile quick)" in markdown and "**Decision:** version " in markdown, markdown
    for stage in order:
        assert f"| {stage} | ran |" in markdown, markdown
    assert (checkout / "outputs" / "profiles" / "quick" / "register" / "decision.json").is_file()  # in the checkout
