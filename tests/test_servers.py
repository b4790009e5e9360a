"""Integration with a real `prefect server start` on 127.0.0.1 (PREFECT_API_URL pointed at it):
`python -m flows.pipeline` records its flow run, task runs and summary artifact there (MLflow in the project's
default sqlite store, parent/child checked). (The whole pipeline against a real `mlflow server`, and prefect.yaml's
work-pool deployment — params.yaml's cron and timezone — run by a process worker through every real stage of the
quick profile, are in test_flows.py: one project serves both.)"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from servers import prefect_call, prefect_server
from test_flows import flow_run_artifact, stage_project
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


@pytest.mark.slow
def test_flow_run_is_recorded_on_a_real_prefect_server(prefect_api, tmp_path):
    validate = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]["validate"]
    project = stage_project(tmp_path / "project", stages={"validate": validate})
    proc = subprocess.run([sys.executable, "-m", "flows.pipeline", "--project", str(project)], cwd=PROJECT_ROOT,
                          env=_env(prefect_api, tmp_path / "home"), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| validate | ran |" in proc.stdout and "Next:" in proc.stdout

    completed = {"state": {"type": {"any_": ["COMPLETED"]}}}
    (run,) = prefect_call(prefect_api, "POST", "/flow_runs/filter", flow_runs=completed)
    assert prefect_call(prefect_api, "GET", f"/flows/{run['flow_id']}")["name"] == "thinkact-pipeline"
    tasks = prefect_call(prefect_api, "POST", "/task_runs/filter", flow_runs={"id": {"any_": [run["id"]]}})
    assert [t["name"] for t in tasks] == ["validate"] and tasks[0]["state_type"] == "COMPLETED"
    assert "| validate | ran |" in flow_run_artifact(run["id"], api_url=prefect_api)

    from mlflow.tracking import MlflowClient  # no MLFLOW_TRACKING_URI: the project's embedded store

    client = MlflowClient(f"sqlite:///{project / 'mlflow' / 'mlflow.db'}")
    runs = {r.info.run_name: r for r in client.search_runs([client.get_experiment_by_name("thinkact").experiment_id])}
    assert set(runs) == {"pipeline", "validate"}
    assert runs["validate"].data.tags["mlflow.parentRunId"] == runs["pipeline"].info.run_id
    assert runs["pipeline"].data.tags["prefect.flow_run_id"] == run["id"]
